"""Per-variant description: mean, SD, median, IQM of the per-run scores, each with a percentile bootstrap CI."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from metta_ab.stats._common import _NAN_CI, _as_1d, _check_level, _jsonable
from metta_ab.stats.bootstrap import _bootstrap, _percentile_ci, _sorted_resample, _sorted_row_quantities
from metta_ab.stats.settings import DEFAULTS, StatsSettings


@dataclass(frozen=True)
class VariantStats:
    """Description of one variant's per-run scores with percentile bootstrap CIs [Agarwal21].

    ``values`` are the per-run scores in run order, NaN for a failed run; statistics use the finite ones
    (``n``), ``n_failed`` counts the NaN, ``n_infinite`` the infinite scores.
    """

    n: int
    n_failed: int
    mean: float
    sd: float
    median: float
    iqm: float
    mean_ci: tuple[float, float]
    sd_ci: tuple[float, float]
    median_ci: tuple[float, float]
    iqm_ci: tuple[float, float]
    ci_level: float
    values: tuple[float, ...] = ()
    n_infinite: int = 0  # runs whose score is +-inf: not in these statistics (the rank tests count them)
    time_to_threshold: Mapping[str, Any] | None = None  # censored times: see metta_ab.stats.survival

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({f.name: getattr(self, f.name) for f in fields(self)})


def describe(values: ArrayLike, settings: StatsSettings = DEFAULTS) -> VariantStats:
    """Per-variant summary: n, mean, SD, median, IQM, each with a percentile bootstrap CI [Agarwal21] at
    ``settings.ci_level`` from ``settings.n_resamples`` resamples drawn with ``settings.seed``.

    IQM = interquartile mean, ``scipy.stats.trim_mean(x, 0.25)`` (rliable's robust aggregate). The
    bootstrap draws an (n_resamples, n) index matrix (no loop over resamples); CIs are approximate at
    small N. NaN values (failed runs) are dropped; n = 0 gives NaN everywhere, n = 1 NaN SD and CIs.
    """
    ci_level, n_resamples = settings.ci_level, settings.n_resamples
    _check_level("ci_level", ci_level)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    raw = _as_1d(values)
    x = raw[np.isfinite(raw)]
    n = int(x.size)
    common = {
        "n": n,
        "n_failed": int(np.isnan(raw).sum()),
        "n_infinite": int(np.isinf(raw).sum()),
        "ci_level": ci_level,
        "values": tuple(map(float, raw)),
    }
    if n == 0:
        return VariantStats(
            mean=math.nan,
            sd=math.nan,
            median=math.nan,
            iqm=math.nan,
            mean_ci=_NAN_CI,
            sd_ci=_NAN_CI,
            median_ci=_NAN_CI,
            iqm_ci=_NAN_CI,
            **common,
        )
    mean = float(np.mean(x))
    median = float(np.median(x))
    iqm = float(sps.trim_mean(x, 0.25))
    if n == 1:
        return VariantStats(
            mean=mean,
            sd=math.nan,
            median=median,
            iqm=iqm,
            mean_ci=_NAN_CI,
            sd_ci=_NAN_CI,
            median_ci=_NAN_CI,
            iqm_ci=_NAN_CI,
            **common,
        )

    xs = np.sort(x)

    def statistic(idx: np.ndarray) -> dict[str, np.ndarray]:
        sample = _sorted_resample(xs, idx)
        return {"sd": sample.std(axis=1, ddof=1), **_sorted_row_quantities(sample, median=True)}

    boot = _bootstrap(np.random.default_rng(settings.seed), (n,), n_resamples, statistic)
    return VariantStats(
        mean=mean,
        sd=float(np.std(x, ddof=1)),
        median=median,
        iqm=iqm,
        mean_ci=_percentile_ci(boot["mean"], ci_level),
        sd_ci=_percentile_ci(boot["sd"], ci_level),
        median_ci=_percentile_ci(boot["median"], ci_level),
        iqm_ci=_percentile_ci(boot["iqm"], ci_level),
        **common,
    )
