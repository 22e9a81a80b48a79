"""Statistics of the A/B verdict: curve summaries, per-variant description, pairwise comparison, power.

Everything follows ``shared/reference/stats-spec.md``. All functions are pure: they take numpy arrays (NaN
marks a failed run; index ``i`` is run/seed ``i``), draw random numbers only from a generator seeded by their
``seed`` argument, and return frozen dataclasses whose ``to_dict()`` gives JSON-serializable Python.

Decisions use the Welch t-test (paired t-test for a paired design), never "the bootstrap CI excludes 0":
at 3-10 seeds the percentile bootstrap is anti-conservative (false-positive rate .13 at N=5), whereas Welch
keeps alpha. Bootstrap CIs are reported as the (approximate) description of uncertainty, as in rliable.

References:
  [Agarwal21] Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice" (rliable).
  [Colas18] Colas, Sigaud, Oudeyer 2018, "How Many Random Seeds?"; [Colas19] "A Hitchhiker's Guide to
    Statistical Comparisons of RL Algorithms".
  [Henderson18] Henderson et al. 2018, "Deep Reinforcement Learning that Matters".
  [Patterson24] Patterson et al. 2024, "Empirical Design in Reinforcement Learning".
  [Holm79] Holm 1979, "A Simple Sequentially Rejective Multiple Test Procedure".
  [Schuirmann87] Schuirmann 1987, two one-sided tests (TOST) for equivalence.
  [Hedges81] Hedges 1981, "Distribution Theory for Glass's Estimator of Effect Size".
"""

from __future__ import annotations

import functools
import math
import warnings as _warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np
import scipy
from numpy.typing import ArrayLike
from scipy import optimize
from scipy import stats as sps

__all__ = [
    "BETTER",
    "EQUIVALENT",
    "INCONCLUSIVE",
    "INSUFFICIENT",
    "WORSE",
    "Analysis",
    "Comparison",
    "VariantStats",
    "analyze",
    "compare",
    "decide",
    "describe",
    "failure_rate_test",
    "final_score",
    "holm",
    "minimum_detectable_d",
    "normalized_auc",
    "power_at",
    "power_runs_needed",
    "time_to_threshold",
    "tost",
]

Direction = Literal["max", "min"]

BETTER = "better"
WORSE = "worse"
EQUIVALENT = "equivalent"
INCONCLUSIVE = "inconclusive"
INSUFFICIENT = "insufficient data"

#: Permutation tests enumerate every partition / sign flip when there are at most this many.
EXACT_PERMUTATION_LIMIT = 100_000
#: Otherwise they use this many seeded random permutations.
PERMUTATION_RESAMPLES = 10_000
#: Permuted values evaluated per vectorized batch (cache-sized; results do not depend on it).
_PERMUTATION_BATCH_ELEMENTS = 100_000
#: Mann-Whitney uses scipy's exact distribution (no ties) while n * m is at most this; else asymptotic.
_MW_EXACT_MAX_NM = 10_000
#: Bootstrap resamples are processed in chunks of at most this many drawn indices (cache-sized).
_BOOTSTRAP_CHUNK_ELEMENTS = 250_000
#: Power used for the minimum detectable effect and the seeds-needed figures.
DEFAULT_POWER = 0.8

_DIRECTION_ALIASES = {
    "max": "max",
    "maximize": "max",
    "maximise": "max",
    "higher": "max",
    "min": "min",
    "minimize": "min",
    "minimise": "min",
    "lower": "min",
}


def _direction(direction: str) -> Direction:
    try:
        return _DIRECTION_ALIASES[str(direction).lower()]  # type: ignore[return-value]
    except KeyError:
        raise ValueError(f"direction must be 'max' or 'min', got {direction!r}") from None


def _check_level(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")


def _as_1d(values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D array of per-run values, got shape {arr.shape}")
    return arr


def _f(x: Any) -> float:
    """Plain Python float (NaN stays NaN)."""
    return float(x) if x is not None else math.nan


def _ci(lo: Any, hi: Any) -> tuple[float, float]:
    return (_f(lo), _f(hi))


_NAN_CI: tuple[float, float] = (math.nan, math.nan)


def _jsonable(x: Any) -> Any:
    """Plain JSON-serializable Python: NaN/inf -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


# --------------------------------------------------------------------------------------------------------
# Curve summaries of one run (or of many runs at once: 2-D arrays, runs x points, NaN-padded).
# --------------------------------------------------------------------------------------------------------


def _as_curves(values: ArrayLike) -> tuple[np.ndarray, bool]:
    v = np.asarray(values, dtype=float)
    if v.ndim not in (1, 2):
        raise ValueError(f"expected a curve (points,) or curves (runs, points), got shape {v.shape}")
    return np.atleast_2d(v), v.ndim == 1


def _sorted_curves(steps: ArrayLike, values: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Per run, the finite (step, value) points sorted by step and packed to the left (NaN after)."""
    v, one = _as_curves(values)
    s = np.asarray(steps, dtype=float)
    if s.ndim == 1 and s.shape[0] == v.shape[1]:
        s = np.broadcast_to(s, v.shape)
    elif s.shape != v.shape:
        raise ValueError(f"steps of shape {s.shape} do not match values of shape {v.shape}")
    valid = np.isfinite(s) & np.isfinite(v)
    key = np.where(valid, s, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    s = np.take_along_axis(s, order, axis=1)
    v = np.take_along_axis(v, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    return np.where(valid, s, np.nan), np.where(valid, v, np.nan), valid, one


def _out(result: np.ndarray, one: bool) -> float | np.ndarray:
    return float(result[0]) if one else result


def final_score(values: ArrayLike, last_fraction: float = 0.1, last_k: int | None = None) -> float | np.ndarray:
    """Final performance: mean of the last K evaluations of a run [Colas18; Henderson18].

    K = ``last_k`` when given, else the last ``last_fraction`` of the run's finite evaluations (floor, at
    least 1). ``values`` is one curve (points,) -> float, or runs x points (NaN-padded) -> array of floats.
    NaN points are skipped; a run with no finite point gives NaN.
    """
    v, one = _as_curves(values)
    if last_k is None and not 0.0 < last_fraction <= 1.0:
        raise ValueError(f"last_fraction must be in (0, 1], got {last_fraction!r}")
    if last_k is not None and last_k < 1:
        raise ValueError(f"last_k must be >= 1, got {last_k!r}")
    valid = np.isfinite(v)
    length = valid.sum(axis=1)
    if last_k is not None:
        k = np.full(length.shape, int(last_k))
    else:
        k = np.maximum(1, np.floor(last_fraction * length + 1e-9).astype(int))
    k = np.minimum(k, length)
    # number of finite points at or after each position; keep the last k finite points of each run
    from_right = np.cumsum(valid[:, ::-1], axis=1)[:, ::-1]
    keep = valid & (from_right <= k[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(keep, v, 0.0).sum(axis=1) / k
    result = np.where(length > 0, result, np.nan)
    return _out(result, one)


def normalized_auc(steps: ArrayLike, values: ArrayLike) -> float | np.ndarray:
    """Normalized area under the learning curve: trapezoid area over the step span / the span.

    A whole-run summary that rewards learning speed as well as the final level [Colas19; Patterson24].
    Points are sorted by step and NaN points skipped. One point -> its value; no point -> NaN.
    ``steps`` is (points,) shared by all runs or the same shape as ``values``.
    """
    s, v, valid, one = _sorted_curves(steps, values)
    length = valid.sum(axis=1)
    seg = valid[:, 1:] & valid[:, :-1]
    with np.errstate(invalid="ignore"):
        area = np.where(seg, 0.5 * (v[:, 1:] + v[:, :-1]) * np.diff(s, axis=1), 0.0).sum(axis=1)
    rows = np.arange(v.shape[0])
    last = np.maximum(length - 1, 0)
    span = s[rows, last] - s[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_value = np.nansum(v, axis=1) / length
        result = np.where(span > 0, area / np.where(span > 0, span, 1.0), mean_value)
    result = np.where(length > 0, result, np.nan)
    return _out(result, one)


def time_to_threshold(
    steps: ArrayLike, values: ArrayLike, threshold: float, direction: str = "max"
) -> float | np.ndarray:
    """Sample efficiency: the first step at which the curve is at or past ``threshold`` [Colas19].

    "At or past" is ``>=`` for direction="max" and ``<=`` for "min". NaN when never reached: these times are
    censored, so never average them; compare them with ranks (e.g. with not-reached as +inf).
    """
    d = _direction(direction)
    s, v, valid, one = _sorted_curves(steps, values)
    with np.errstate(invalid="ignore"):
        hit = valid & ((v >= threshold) if d == "max" else (v <= threshold))
    first = np.argmax(hit, axis=1)
    result = np.where(hit.any(axis=1), s[np.arange(s.shape[0]), first], np.nan)
    return _out(result, one)


# --------------------------------------------------------------------------------------------------------
# Multiple comparisons, power, failure rates.
# --------------------------------------------------------------------------------------------------------


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control) [Holm79; Patterson24].

    The i-th smallest of m p-values becomes max_{j<=i} (m - j + 1) p_(j), capped at 1 (monotone in the
    raw p). NaN entries (comparisons without a test) are left NaN and not counted in m.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    mask = np.isfinite(p)
    q = p[mask]
    m = q.size
    if m == 0:
        return out
    if np.any((q < 0) | (q > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    order = np.argsort(q, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    result = np.empty(m)
    result[order] = adjusted
    out[mask] = result
    return out


def _power(d: float, n: np.ndarray, n_other: np.ndarray | None, alpha: float, paired: bool) -> np.ndarray:
    """Vectorized two-sided power of the t-test (noncentral t) for arrays of sample sizes."""
    n = np.asarray(n, dtype=float)
    if paired:
        df, root_n = n - 1.0, np.sqrt(n)
    else:
        m = n if n_other is None else np.asarray(n_other, dtype=float)
        df, root_n = n + m - 2.0, np.sqrt(n * m / (n + m))
    df = np.where(df >= 1, df, np.nan)
    nc = abs(d) * root_n
    crit = sps.t.ppf(1.0 - alpha / 2.0, df)
    with np.errstate(all="ignore"), _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        upper = sps.nct.sf(crit, df, nc)
        upper = np.where(np.isfinite(upper), upper, 1.0 - sps.nct.cdf(crit, df, nc))
        # far tails: scipy's nct can return NaN there; the lower tail is then negligible
        lower = np.nan_to_num(sps.nct.cdf(-crit, df, nc), nan=0.0)
    upper = np.where(np.isfinite(upper), upper, np.where(nc > crit, 1.0, 0.0))
    return np.where(np.isfinite(df), np.minimum(1.0, upper + lower), np.nan)


def power_at(d: float, n: int, alpha: float = 0.05, *, n_other: int | None = None, paired: bool = False) -> float:
    """Power of the two-sided t-test to detect a standardized effect ``d`` (noncentral t) [Colas18].

    Two-sample (pooled-df) design with ``n`` and ``n_other`` (default ``n``) runs per variant and
    d = difference / SD; paired (one-sample on the differences, d = mean / SD of differences) with ``n``
    pairs. Example from the spec: d = 1 with 5 seeds per variant -> 0.29.
    """
    _check_level("alpha", alpha)
    if not math.isfinite(d):
        return math.nan
    return float(_power(d, np.asarray(n), None if n_other is None else np.asarray(n_other), alpha, paired))


def power_runs_needed(d: float, alpha: float = 0.05, power: float = DEFAULT_POWER, *, paired: bool = False) -> int:
    """Runs (seeds) per variant for the two-sided t-test to detect effect ``d`` with ``power`` [Colas18].

    Noncentral t, two-sample equal-n design (paired: number of pairs). Spec table at alpha .05, power .8:
    d = 0.5 / 0.8 / 1 / 1.5 / 2 / 3 -> 64 / 26 / 17 / 9 / 6 / 4. Raises ValueError for d == 0 (never).
    """
    _check_level("alpha", alpha)
    _check_level("power", power)
    d = abs(float(d))
    if not math.isfinite(d) or d == 0.0:
        raise ValueError(f"a nonzero finite effect is needed, got d={d!r}")
    z = sps.norm.ppf(1.0 - alpha / 2.0) + sps.norm.ppf(power)
    guess = max(2, math.ceil((1.0 if paired else 2.0) * z * z / (d * d)))  # normal approximation
    if guess > 1_000_000:  # the t correction is negligible there
        return guess
    # the t-test needs a little more than the normal approximation: scan a window of N in one call
    low = max(2, guess - 4)
    while True:
        ns = np.arange(low, low + 16)
        enough = _power(d, ns, None, alpha, paired) >= power
        if enough[0] and low > 2:
            low = max(2, low - 16)
        elif enough.any():
            return int(ns[np.argmax(enough)])
        else:
            low += 16


@functools.lru_cache(maxsize=4096)
def minimum_detectable_d(
    n: int,
    alpha: float = 0.05,
    power: float = DEFAULT_POWER,
    *,
    n_other: int | None = None,
    paired: bool = False,
) -> float:
    """Smallest standardized effect the two-sided t-test detects with ``power`` at this N [Colas18].

    Solves ``power_at(d, n) == power`` on the noncentral t (two-sample with ``n``/``n_other`` runs, or
    ``n`` pairs). Spec: 5 seeds per variant reliably detect only d ~ 2.0. NaN when N is too small.
    Memoized (pure function of its arguments; analyses repeat the same N).
    """
    _check_level("alpha", alpha)
    _check_level("power", power)
    df = n - 1 if paired else n + (n if n_other is None else n_other) - 2
    if df < 1:
        return math.nan

    def gap(d: float) -> float:
        return power_at(d, n, alpha, n_other=n_other, paired=paired) - power

    hi = 4.0
    while gap(hi) < 0:
        hi *= 4.0
        if hi > 1e8:
            return math.inf
    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-10))


def failure_rate_test(failed_t: int, planned_t: int, failed_c: int, planned_c: int) -> float:
    """Two-sided Fisher exact p-value that treatment and control runs fail at the same rate.

    A variant that crashes more often is a result in itself, and failures bias the completed-run scores.
    """
    for failed, planned in ((failed_t, planned_t), (failed_c, planned_c)):
        if not 0 <= failed <= planned:
            raise ValueError(f"need 0 <= failed <= planned, got {failed} of {planned}")
    table = [[failed_t, planned_t - failed_t], [failed_c, planned_c - failed_c]]
    return float(sps.fisher_exact(table).pvalue)


# --------------------------------------------------------------------------------------------------------
# Per-variant description.
# --------------------------------------------------------------------------------------------------------


def _iqm_cut(n: int) -> int:
    """Values cut at each end by ``scipy.stats.trim_mean(x, 0.25)`` for n values."""
    return int(0.25 * n)


def _sorted_row_quantities(rows: np.ndarray, median: bool = False) -> dict[str, np.ndarray]:
    """Mean, IQM (and median) of each row of a row-wise sorted matrix.

    IQM equals ``scipy.stats.trim_mean(row, 0.25)``: the mean of the middle slice after cutting
    ``int(0.25 n)`` values at each end.
    """
    n = rows.shape[-1]
    cut = _iqm_cut(n)
    out = {"mean": rows.mean(axis=-1), "iqm": rows[..., cut : n - cut].mean(axis=-1)}
    if median:
        out["median"] = 0.5 * (rows[..., (n - 1) // 2] + rows[..., n // 2])
    return out


def _sorted_resample(sorted_values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Row-wise sorted bootstrap samples: indices into sorted values, sorted (an integer sort is cheap)."""
    return sorted_values[np.sort(idx, axis=-1)]


def _percentile_ci(samples: np.ndarray, ci_level: float) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaN replicates ignored)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return _NAN_CI
    tail = 50.0 * (1.0 - ci_level)
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return _ci(lo, hi)


def _chunks(n_resamples: int, n: int) -> list[int]:
    size = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // max(n, 1))
    return [min(size, n_resamples - start) for start in range(0, n_resamples, size)]


def _bootstrap(
    rng: np.random.Generator,
    sizes: tuple[int, ...],
    n_resamples: int,
    statistic: Callable[..., dict[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """Vectorized nonparametric bootstrap: per chunk, draw one (rows, n) index matrix per sample.

    ``statistic(*index_matrices)`` returns named arrays of one replicate per row; they are concatenated.
    """
    parts: dict[str, list[np.ndarray]] = {}
    for rows in _chunks(n_resamples, max(sizes)):
        idx = [rng.integers(0, n, size=(rows, n), dtype=np.int16 if n < 2**15 else np.int64) for n in sizes]
        for key, value in statistic(*idx).items():
            parts.setdefault(key, []).append(value)
    return {key: np.concatenate(value) for key, value in parts.items()}


@dataclass(frozen=True)
class VariantStats:
    """Description of one variant's per-run scores with percentile bootstrap CIs [Agarwal21].

    ``values`` are the per-run scores in run order, NaN for a failed run; statistics use the finite ones.
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

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({f.name: getattr(self, f.name) for f in fields(self)})


def describe(values: ArrayLike, *, ci_level: float = 0.95, n_resamples: int = 10_000, seed: int = 0) -> VariantStats:
    """Per-variant summary: n, mean, SD, median, IQM, each with a percentile bootstrap CI [Agarwal21].

    IQM = interquartile mean, ``scipy.stats.trim_mean(x, 0.25)`` (rliable's robust aggregate). The
    bootstrap draws an (n_resamples, n) index matrix (no loop over resamples); CIs are approximate at
    small N. NaN values (failed runs) are dropped; n = 0 gives NaN everywhere, n = 1 NaN SD and CIs.
    """
    _check_level("ci_level", ci_level)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    raw = _as_1d(values)
    x = raw[np.isfinite(raw)]
    n = int(x.size)
    common = {"n": n, "n_failed": int(raw.size - n), "ci_level": ci_level, "values": tuple(map(float, raw))}
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

    boot = _bootstrap(np.random.default_rng(seed), (n,), n_resamples, statistic)
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


# --------------------------------------------------------------------------------------------------------
# Verdict.
# --------------------------------------------------------------------------------------------------------


def decide(
    difference: float,
    p_value: float,
    *,
    n_treatment: int,
    n_control: int,
    direction: str = "max",
    alpha: float = 0.05,
    equivalence_p: float | None = None,
) -> str:
    """Verdict of one comparison from its (possibly Holm-adjusted) two-sided p-value [Colas19].

    "insufficient data" when either side has fewer than 2 runs (pairs, for a paired design); "better" or
    "worse" only when p < alpha, by the sign of ``difference`` (treatment - control) and the metric's
    direction (for "min" a negative difference is better); "equivalent" only when the TOST p-value against
    the declared minimum effect (``equivalence_p``, see ``tost``) is < alpha; otherwise "inconclusive".
    """
    d = _direction(direction)
    if n_treatment < 2 or n_control < 2:
        return INSUFFICIENT
    if math.isfinite(p_value) and p_value < alpha and math.isfinite(difference) and difference != 0.0:
        improved = difference > 0.0 if d == "max" else difference < 0.0
        return BETTER if improved else WORSE
    if equivalence_p is not None and math.isfinite(equivalence_p) and equivalence_p < alpha:
        return EQUIVALENT
    return INCONCLUSIVE


def tost(treatment: ArrayLike, control: ArrayLike, min_effect: float, *, paired: bool = False) -> float:
    """Two one-sided tests (TOST) p-value for |treatment - control| < min_effect [Schuirmann87].

    The larger of the one-sided p-values of H0: diff <= -min_effect and H0: diff >= +min_effect (Welch,
    or the one-sample t-test of the paired differences). Equivalence at alpha when p < alpha. NaN values
    are dropped (pairwise when paired).
    """
    if not math.isfinite(min_effect) or min_effect <= 0:
        raise ValueError(f"min_effect must be a positive number, got {min_effect!r}")
    t, c = _as_1d(treatment), _as_1d(control)
    with _warnings.catch_warnings(), np.errstate(all="ignore"):
        _warnings.simplefilter("ignore", RuntimeWarning)
        if paired:
            t, c = _pad(t, c)
            both = np.isfinite(t) & np.isfinite(c)
            diff = t[both] - c[both]
            if diff.size < 2:
                return math.nan
            p_low = sps.ttest_1samp(diff, -min_effect, alternative="greater").pvalue
            p_high = sps.ttest_1samp(diff, min_effect, alternative="less").pvalue
        else:
            t, c = t[np.isfinite(t)], c[np.isfinite(c)]
            if t.size < 2 or c.size < 2:
                return math.nan
            p_low = sps.ttest_ind(t + min_effect, c, equal_var=False, alternative="greater").pvalue
            p_high = sps.ttest_ind(t - min_effect, c, equal_var=False, alternative="less").pvalue
    return float(max(p_low, p_high))


# --------------------------------------------------------------------------------------------------------
# Comparison of a treatment against the control.
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Treatment against control: difference, test, robustness checks, effect sizes, power, verdict.

    Decision statistic: Welch t (unpaired) or paired t [Colas19]; ``p_adjusted`` is the Holm-adjusted p
    when the analysis has several comparisons (else the raw p) and ``verdict`` is decided from it.

    Fields that need a word: ``n_treatment``/``n_control`` count completed runs, ``n_pairs`` the complete
    pairs a paired test uses (``pairs_dropped`` the others). ``difference`` is treatment - control (paired:
    mean of differences), ``difference_pct`` relative to |control mean|. ``rank_statistic`` is U of the
    treatment (Mann-Whitney) or Wilcoxon's W; ``rank_method`` "exact", "exact permutation" (ties) or
    "asymptotic". ``prob_improvement`` is P(treatment run better than control run), "better" following the
    direction (ties 1/2). ``mde`` (metric units) and ``mde_d`` (standardized: by the pooled SD, paired: by
    the SD of differences) are the smallest differences the test detects with 80% power at this N;
    ``effect_d`` is the standardized effect ``runs_needed`` is computed for (``runs_needed_for``: the
    observed |Hedges' g| or paired d_z, or ``min_effect``); None when that effect is 0 or undefined.
    ``equivalence_p`` is the TOST p against +-``min_effect`` (NaN without one); ``failure_p`` the Fisher p
    of the failure rates; ``flags`` machine-readable robustness flags, ``warnings`` sentences for people.
    """

    treatment: str
    control: str
    paired: bool
    direction: str
    alpha: float
    ci_level: float
    min_effect: float | None
    n_treatment: int
    n_control: int
    n_pairs: int | None
    pairs_dropped: int | None
    pair_correlation: float
    mean_treatment: float
    mean_control: float
    difference: float
    difference_pct: float
    difference_ci: tuple[float, float]
    test: str
    statistic: float
    df: float
    p_value: float
    p_adjusted: float
    permutation_p: float
    permutation_exact: bool
    rank_test: str
    rank_method: str
    rank_statistic: float
    rank_test_p: float
    hedges_g: float
    prob_improvement: float
    prob_improvement_ci: tuple[float, float]
    iqm_difference: float
    iqm_difference_ci: tuple[float, float]
    bootstrap_difference_ci: tuple[float, float]
    mde: float
    mde_d: float
    effect_d: float
    runs_needed: int | None
    runs_needed_for: str
    equivalence_p: float
    equivalence_p_adjusted: float
    failure_p: float
    verdict: str
    flags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def redecide(self, p_adjusted: float, equivalence_p_adjusted: float | None = None) -> Comparison:
        """A copy with the adjusted p-values stored and the verdict decided from them."""
        eq = self.equivalence_p if equivalence_p_adjusted is None else equivalence_p_adjusted
        n_t, n_c = (self.n_pairs or 0, self.n_pairs or 0) if self.paired else (self.n_treatment, self.n_control)
        verdict = decide(
            self.difference,
            p_adjusted,
            n_treatment=n_t,
            n_control=n_c,
            direction=self.direction,
            alpha=self.alpha,
            equivalence_p=eq if self.min_effect is not None else None,
        )
        return replace(self, p_adjusted=float(p_adjusted), equivalence_p_adjusted=float(eq), verdict=verdict)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["rank_p"] = self.rank_test_p
        out["mannwhitney_p"] = self.rank_test_p if not self.paired else None
        out["wilcoxon_p"] = self.rank_test_p if self.paired else None
        out["bootstrap_note"] = "percentile bootstrap; approximate at small N and never used for the verdict"
        return _jsonable(out)


def _pad(t: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pad the shorter array with NaN (a run that is not there did not complete)."""
    n = max(t.size, c.size)
    return (
        np.concatenate([t, np.full(n - t.size, np.nan)]),
        np.concatenate([c, np.full(n - c.size, np.nan)]),
    )


def _pooled_sd(t: np.ndarray, c: np.ndarray) -> float:
    n, m = t.size, c.size
    return math.sqrt(((n - 1) * np.var(t, ddof=1) + (m - 1) * np.var(c, ddof=1)) / (n + m - 2))


def _hedges_g(t: np.ndarray, c: np.ndarray) -> float:
    """Hedges' g: difference of means / pooled SD, times 1 - 3 / (4 (n + m) - 9) [Hedges81]."""
    n, m = t.size, c.size
    sp = _pooled_sd(t, c)
    if not sp > 0:
        return math.nan
    return float((np.mean(t) - np.mean(c)) / sp * (1.0 - 3.0 / (4.0 * (n + m) - 9.0)))


def _improvement_matrix(t: np.ndarray, c: np.ndarray, d: Direction) -> np.ndarray:
    """M[i, j] = 1 if treatment run i beats control run j, 1/2 on a tie, else 0."""
    beats = t[:, None] > c[None, :] if d == "max" else t[:, None] < c[None, :]
    return beats + 0.5 * (t[:, None] == c[None, :])


def _improvement_scores(diff: np.ndarray, d: Direction) -> np.ndarray:
    return ((diff > 0) if d == "max" else (diff < 0)) + 0.5 * (diff == 0)


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each of n items occurs in each row of an index matrix."""
    rows = idx.shape[0]
    flat = (idx + (np.arange(rows) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n)


def _resampled_prob_improvement(
    it: np.ndarray, ic: np.ndarray, ts: np.ndarray, cs: np.ndarray, d: Direction
) -> np.ndarray:
    """P(T* better than C*) (ties 1/2) of each bootstrap resample, in O(rows (n + m)) without a matmul.

    ``it``/``ic`` index the sorted treatment/control values ``ts``/``cs``. For each treatment value, the
    resampled control values below it (and tied with it) are read off the row-wise cumulative counts of
    the control resample at the value's searchsorted positions, then summed over the treatment resample.
    """
    n, m = ts.size, cs.size
    below_start = np.searchsorted(cs, ts, side="left")  # control values strictly below ts[i]
    below_end = np.searchsorted(cs, ts, side="right")  # ... at or below ts[i]
    cum = np.zeros((ic.shape[0], m + 1))
    np.cumsum(_counts(ic, m), axis=1, out=cum[:, 1:])
    lower, upper = cum[:, below_start], cum[:, below_end]
    wins = lower if d == "max" else m - upper
    score = wins + 0.5 * (upper - lower)  # per sorted treatment value
    return np.take_along_axis(score, it.astype(np.intp), axis=1).sum(axis=1) / (n * m)


def _quantized(value: np.ndarray, unit: float) -> np.ndarray:
    """A statistic in integer multiples of ``unit``: differences below it are ties, not rounding noise."""
    return np.round(value / unit)


_SCIPY_TAKES_RNG = tuple(int(part) for part in scipy.__version__.split(".")[:2]) >= (1, 15)


def _seeded(rng: np.random.Generator) -> dict[str, np.random.Generator]:
    """The keyword that hands scipy's resampling functions a Generator: ``rng`` since SciPy 1.15 (SPEC 7),
    ``random_state`` before (a plugin runs in the user's environment, whatever SciPy it has)."""
    return {"rng": rng} if _SCIPY_TAKES_RNG else {"random_state": rng}


def _permutation_p(samples: tuple[np.ndarray, ...], paired: bool, rng: np.random.Generator) -> tuple[float, bool]:
    """Two-sided permutation p of the mean difference (paired: sign flips of the differences).

    Exact (every partition / sign flip enumerated) when there are at most ``EXACT_PERMUTATION_LIMIT``;
    otherwise ``PERMUTATION_RESAMPLES`` seeded random permutations. For the random two-sample case the
    pooled sample is shuffled as one sample (scipy's "pairings" type, vectorized) and split at n, which is
    the same random relabelling as the "independent" type without its per-permutation Python loop.

    The statistic is counted in units of 1e-9 of the data's spread: with discrete scores (win rates,
    integer returns) many relabellings tie the observed mean difference exactly, and scipy's tie tolerance
    is relative to the observed statistic, so float rounding (e.g. of scores near 1000 with a difference of
    1) would otherwise decide whether they count; the unit makes ties ties, and the p-value shift invariant.
    """
    pooled = np.concatenate(samples)
    spread = float(np.max(np.abs(pooled - np.mean(pooled)))) if not paired else float(np.max(np.abs(pooled)))
    if not spread > 0:
        return 1.0, True
    unit = 1e-9 * spread
    batch = max(1, _PERMUTATION_BATCH_ELEMENTS // pooled.size)
    if paired:
        (diff,) = samples
        exact = 2.0**diff.size <= EXACT_PERMUTATION_LIMIT

        def mean_difference(d: np.ndarray, axis: int = -1) -> np.ndarray:
            return _quantized(np.mean(d, axis=axis), unit)

        res = sps.permutation_test(
            (diff,),
            mean_difference,
            permutation_type="samples",
            vectorized=True,
            n_resamples=np.inf if exact else PERMUTATION_RESAMPLES,
            batch=batch,
            **_seeded(rng),
        )
        return float(res.pvalue), exact
    t, c = samples
    n = t.size
    if math.comb(t.size + c.size, t.size) <= EXACT_PERMUTATION_LIMIT:

        def difference_of_means(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
            return _quantized(np.mean(x, axis=axis) - np.mean(y, axis=axis), unit)

        res = sps.permutation_test(
            (t, c),
            difference_of_means,
            permutation_type="independent",
            vectorized=True,
            n_resamples=np.inf,
            batch=batch,
        )
        return float(res.pvalue), True

    def split_difference(shuffled: np.ndarray, axis: int = -1) -> np.ndarray:
        shuffled = np.moveaxis(shuffled, axis, -1)
        return _quantized(shuffled[..., :n].mean(axis=-1) - shuffled[..., n:].mean(axis=-1), unit)

    res = sps.permutation_test(
        (pooled,),
        split_difference,
        permutation_type="pairings",
        vectorized=True,
        n_resamples=PERMUTATION_RESAMPLES,
        batch=batch,
        **_seeded(rng),
    )
    return float(res.pvalue), False


def _rank_test(t: np.ndarray, c: np.ndarray, paired: bool, rng: np.random.Generator) -> tuple[str, str, float, float]:
    """(name, method, statistic, two-sided p) of Mann-Whitney U (unpaired) or Wilcoxon signed-rank (paired).

    Exact when possible: scipy's exact null without ties, exact permutation of the ranks when there are
    ties and few enough partitions, else the tie-corrected normal approximation.
    """
    if paired:
        diff = t - c
        nonzero = diff[diff != 0]
        ties = nonzero.size < diff.size or np.unique(np.abs(nonzero)).size < nonzero.size
        if nonzero.size == 0:
            return "wilcoxon", "exact", 0.0, 1.0
        if not ties:
            method: Any = "exact"
        elif 2.0**diff.size <= EXACT_PERMUTATION_LIMIT:
            method = sps.PermutationMethod(n_resamples=np.inf, **_seeded(rng))
        else:
            method = "asymptotic"
        res = sps.wilcoxon(t, c, method=method)
        name = "wilcoxon"
    else:
        ties = np.unique(np.concatenate([t, c])).size < t.size + c.size
        if not ties and t.size * c.size <= _MW_EXACT_MAX_NM:
            method = "exact"
        elif ties and math.comb(t.size + c.size, t.size) <= EXACT_PERMUTATION_LIMIT:
            method = sps.PermutationMethod(n_resamples=np.inf, **_seeded(rng))
        else:
            method = "asymptotic"
        res = sps.mannwhitneyu(t, c, method=method)
        name = "mann-whitney"
    label = method if isinstance(method, str) else "exact permutation"
    return name, label, float(res.statistic), float(res.pvalue)


def _min_exact_p(n: int, m: int | None) -> float:
    """Smallest two-sided p an exact rank/permutation test can give (no ties): 2 / number of arrangements."""
    count = 2.0**n if m is None else float(math.comb(n + m, n))
    return min(1.0, 2.0 / count)


def _empty_comparison(**kw: Any) -> Comparison:
    defaults: dict[str, Any] = {
        "n_pairs": None,
        "pairs_dropped": None,
        "pair_correlation": math.nan,
        "mean_treatment": math.nan,
        "mean_control": math.nan,
        "difference": math.nan,
        "difference_pct": math.nan,
        "difference_ci": _NAN_CI,
        "statistic": math.nan,
        "df": math.nan,
        "p_value": math.nan,
        "p_adjusted": math.nan,
        "permutation_p": math.nan,
        "permutation_exact": False,
        "rank_method": "none",
        "rank_statistic": math.nan,
        "rank_test_p": math.nan,
        "hedges_g": math.nan,
        "prob_improvement": math.nan,
        "prob_improvement_ci": _NAN_CI,
        "iqm_difference": math.nan,
        "iqm_difference_ci": _NAN_CI,
        "bootstrap_difference_ci": _NAN_CI,
        "mde": math.nan,
        "mde_d": math.nan,
        "effect_d": math.nan,
        "runs_needed": None,
        "runs_needed_for": "",
        "equivalence_p": math.nan,
        "equivalence_p_adjusted": math.nan,
        "verdict": INSUFFICIENT,
    }
    defaults.update(kw)
    return Comparison(**defaults)


def _pct(difference: float, control_mean: float) -> float:
    if not math.isfinite(control_mean) or control_mean == 0.0:
        return math.nan
    return 100.0 * difference / abs(control_mean)


def compare(
    treatment: ArrayLike,
    control: ArrayLike,
    *,
    paired: bool = False,
    direction: str = "max",
    alpha: float = 0.05,
    ci_level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    min_effect: float | None = None,
    treatment_name: str = "treatment",
    control_name: str = "control",
) -> Comparison:
    """Compare a treatment's per-run scores with the control's [Colas19; Agarwal21; Henderson18].

    Unpaired: difference of means with the Welch CI and test (``ttest_ind(equal_var=False)``); robustness:
    permutation test of the mean difference and exact Mann-Whitney. Paired (index i = seed i; pairs with a
    failed side dropped and counted): mean of differences, ``ttest_rel`` with its CI, sign-flip permutation
    and exact Wilcoxon, pair correlation r. Effect sizes: Hedges' g, P(treatment better than control)
    (= U / (n m) with ties 1/2; paired: share of improving pairs), IQM difference, with percentile
    bootstrap CIs (approximate, descriptive only). Power: minimum detectable effect at 80% power for the
    completed N, and the runs per variant needed for the observed effect (or ``min_effect``, in metric
    units). ``verdict`` uses the unadjusted p; ``analyze`` re-decides after Holm.
    ``difference_pct`` is relative to |control mean| (NaN when that is 0).
    """
    d = _direction(direction)
    _check_level("alpha", alpha)
    _check_level("ci_level", ci_level)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    if min_effect is not None and (not math.isfinite(min_effect) or min_effect <= 0):
        raise ValueError(f"min_effect must be a positive number in metric units, got {min_effect!r}")
    t_all, c_all = _as_1d(treatment), _as_1d(control)
    t_ok, c_ok = np.isfinite(t_all), np.isfinite(c_all)
    n_t, n_c = int(t_ok.sum()), int(c_ok.sum())
    notes: list[str] = []
    flags: list[str] = []

    failure_p = failure_rate_test(int(t_all.size - n_t), int(t_all.size), int(c_all.size - n_c), int(c_all.size))
    if failure_p < alpha:
        notes.append(
            f"{treatment_name} failed {t_all.size - n_t}/{t_all.size} runs and {control_name} "
            f"{c_all.size - n_c}/{c_all.size} (Fisher p = {failure_p:.3g}): the failure rates differ, and "
            "the completed runs may not be comparable."
        )

    n_pairs: int | None = None
    pairs_dropped: int | None = None
    if paired:
        t_pad, c_pad = _pad(t_all, c_all)
        both = np.isfinite(t_pad) & np.isfinite(c_pad)
        t, c = t_pad[both], c_pad[both]
        n_pairs, pairs_dropped = int(both.sum()), int(both.size - both.sum())
        if pairs_dropped:
            notes.append(
                f"{pairs_dropped} pair(s) dropped because a run of the pair failed; "
                f"the paired test uses {n_pairs} pairs."
            )
        n_eff_t = n_eff_c = n_pairs
    else:
        t, c = t_all[t_ok], c_all[c_ok]
        n_eff_t, n_eff_c = n_t, n_c

    base: dict[str, Any] = {
        "treatment": treatment_name,
        "control": control_name,
        "paired": paired,
        "direction": d,
        "alpha": alpha,
        "ci_level": ci_level,
        "min_effect": min_effect,
        "n_treatment": n_t,
        "n_control": n_c,
        "n_pairs": n_pairs,
        "pairs_dropped": pairs_dropped,
        "test": "paired_t" if paired else "welch",
        "rank_test": "wilcoxon" if paired else "mann-whitney",
        "failure_p": failure_p,
    }

    if n_eff_t < 2 or n_eff_c < 2:
        unit = "pairs" if paired else "completed runs"
        notes.append(f"insufficient data: {n_eff_t} vs {n_eff_c} {unit}; at least 2 per variant are needed for a test.")
        mean_t = float(np.mean(t)) if t.size else math.nan
        mean_c = float(np.mean(c)) if c.size else math.nan
        diff = mean_t - mean_c
        return _empty_comparison(
            mean_treatment=mean_t,
            mean_control=mean_c,
            difference=diff,
            difference_pct=_pct(diff, mean_c),
            flags=tuple(flags),
            warnings=tuple(notes),
            **base,
        )

    ss = np.random.SeedSequence(seed)
    boot_rng, perm_rng, rank_rng = (np.random.default_rng(s) for s in ss.spawn(3))
    mean_t, mean_c = float(np.mean(t)), float(np.mean(c))

    # 1-2. difference, CI and the decision test
    with _warnings.catch_warnings(), np.errstate(all="ignore"):
        _warnings.simplefilter("ignore", RuntimeWarning)
        if paired:
            res = sps.ttest_rel(t, c)
            diff_arr = t - c
            difference = float(np.mean(diff_arr))
            sd_t, sd_c = np.std(t, ddof=1), np.std(c, ddof=1)
            r = float(np.corrcoef(t, c)[0, 1]) if sd_t > 0 and sd_c > 0 else math.nan
        else:
            res = sps.ttest_ind(t, c, equal_var=False)
            difference = mean_t - mean_c
            r = math.nan
        ci = res.confidence_interval(ci_level)
    statistic, df, p_value = float(res.statistic), float(res.df), float(res.pvalue)
    difference_ci = _ci(ci.low, ci.high)
    if not math.isfinite(p_value):
        notes.append("no variance within either variant: the t-test is undefined.")
    if paired and math.isfinite(r) and r <= 0:
        notes.append(f"pair correlation r = {r:.2f}: shared seeds did not produce correlated runs.")

    # 3. robustness checks
    perm_samples = (t - c,) if paired else (t, c)
    with _warnings.catch_warnings(), np.errstate(all="ignore"):
        _warnings.simplefilter("ignore", RuntimeWarning)
        permutation_p, permutation_exact = _permutation_p(perm_samples, paired, perm_rng)
        rank_name, rank_method, rank_stat, rank_p = _rank_test(t, c, paired, rank_rng)
    if math.isfinite(p_value) and (p_value < alpha) != (permutation_p < alpha):
        flags.append("welch_permutation_disagree" if not paired else "t_permutation_disagree")
        notes.append(
            f"the {'paired t' if paired else 'Welch'} test (p = {p_value:.3g}) and the permutation test "
            f"(p = {permutation_p:.3g}) disagree at alpha = {alpha:g}; treat the verdict with caution."
        )
    if math.isfinite(p_value) and (p_value < alpha) != (rank_p < alpha):
        flags.append("t_rank_disagree")
    min_p = _min_exact_p(n_eff_t, None if paired else n_eff_c)
    if min_p >= alpha:
        design = f"{n_eff_t} pairs" if paired else f"n = {n_eff_t} and m = {n_eff_c}"
        notes.append(
            f"with {design} the {rank_name} and exact permutation tests cannot reach p < {alpha:g} "
            f"(smallest possible p = {min_p:.4g}); they cannot confirm a significant result."
        )

    # 4. effect sizes with bootstrap CIs (descriptive)
    hedges_g = _hedges_g(t, c)
    iqm_difference = float(sps.trim_mean(t, 0.25) - sps.trim_mean(c, 0.25))
    if paired:
        prob_improvement = float(np.mean(_improvement_scores(t - c, d)))
        # resample pairs jointly; rank positions give sorted resamples of each side with integer sorts
        order_t, order_c = np.argsort(t, kind="stable"), np.argsort(c, kind="stable")
        rank_t, rank_c = np.argsort(order_t), np.argsort(order_c)
        ts, cs, diffs = t[order_t], c[order_c], t - c

        def paired_stat(idx: np.ndarray) -> dict[str, np.ndarray]:
            bd = diffs[idx]
            qt = _sorted_row_quantities(_sorted_resample(ts, rank_t[idx]))
            qc = _sorted_row_quantities(_sorted_resample(cs, rank_c[idx]))
            return {
                "diff": bd.mean(axis=1),
                "prob": _improvement_scores(bd, d).mean(axis=1),
                "iqm": qt["iqm"] - qc["iqm"],
            }

        boot = _bootstrap(boot_rng, (t.size,), n_resamples, paired_stat)
    else:
        ts, cs = np.sort(t), np.sort(c)
        prob_improvement = float(_improvement_matrix(t, c, d).mean())  # = U / (n m), ties 1/2

        def unpaired_stat(it: np.ndarray, ic: np.ndarray) -> dict[str, np.ndarray]:
            qt = _sorted_row_quantities(_sorted_resample(ts, it))
            qc = _sorted_row_quantities(_sorted_resample(cs, ic))
            return {
                "diff": qt["mean"] - qc["mean"],
                "prob": _resampled_prob_improvement(it, ic, ts, cs, d),
                "iqm": qt["iqm"] - qc["iqm"],
            }

        boot = _bootstrap(boot_rng, (t.size, c.size), n_resamples, unpaired_stat)

    # 5. power: minimum detectable effect for this N, runs needed for the observed / declared effect
    unit_sd = float(np.std(t - c, ddof=1)) if paired else _pooled_sd(t, c)
    if paired:
        mde_d = minimum_detectable_d(n_pairs or 0, alpha, DEFAULT_POWER, paired=True)
    else:
        mde_d = minimum_detectable_d(n_eff_t, alpha, DEFAULT_POWER, n_other=n_eff_c)
    mde = mde_d * unit_sd if unit_sd > 0 else math.nan
    if min_effect is not None:
        effect_d = min_effect / unit_sd if unit_sd > 0 else math.nan
        runs_needed_for = "min_effect"
    elif paired:
        effect_d = abs(difference) / unit_sd if unit_sd > 0 else math.nan
        runs_needed_for = "observed effect"
    else:
        effect_d = abs(hedges_g)
        runs_needed_for = "observed effect"
    runs_needed = (
        power_runs_needed(effect_d, alpha, DEFAULT_POWER, paired=paired)
        if math.isfinite(effect_d) and effect_d > 0
        else None
    )

    equivalence_p = tost(t, c, min_effect, paired=paired) if min_effect is not None else math.nan
    verdict = decide(
        difference,
        p_value,
        n_treatment=n_eff_t,
        n_control=n_eff_c,
        direction=d,
        alpha=alpha,
        equivalence_p=equivalence_p if min_effect is not None else None,
    )
    return Comparison(
        pair_correlation=r,
        mean_treatment=mean_t,
        mean_control=mean_c,
        difference=difference,
        difference_pct=_pct(difference, mean_c),
        difference_ci=difference_ci,
        statistic=statistic,
        df=df,
        p_value=p_value,
        p_adjusted=p_value,
        permutation_p=permutation_p,
        permutation_exact=permutation_exact,
        rank_method=rank_method,
        rank_statistic=rank_stat,
        rank_test_p=rank_p,
        hedges_g=hedges_g,
        prob_improvement=prob_improvement,
        prob_improvement_ci=_percentile_ci(boot["prob"], ci_level),
        iqm_difference=iqm_difference,
        iqm_difference_ci=_percentile_ci(boot["iqm"], ci_level),
        bootstrap_difference_ci=_percentile_ci(boot["diff"], ci_level),
        mde=float(mde),
        mde_d=float(mde_d),
        effect_d=float(effect_d),
        runs_needed=runs_needed,
        runs_needed_for=runs_needed_for,
        equivalence_p=equivalence_p,
        equivalence_p_adjusted=equivalence_p,
        verdict=verdict,
        flags=tuple(flags),
        warnings=tuple(notes),
        **base,
    )


# --------------------------------------------------------------------------------------------------------
# The whole analysis: every variant described, every treatment against the control, Holm across them.
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """Descriptions of all variants and comparisons of each treatment with the control [Patterson24]."""

    control: str
    paired: bool
    direction: str
    alpha: float
    ci_level: float
    n_resamples: int
    seed: int
    min_effect: float | None
    variants: Mapping[str, VariantStats]
    comparisons: tuple[Comparison, ...]
    warnings: tuple[str, ...] = field(default=())

    def comparison(self, treatment: str) -> Comparison:
        for comp in self.comparisons:
            if comp.treatment == treatment:
                return comp
        raise KeyError(treatment)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": _jsonable(
                {
                    "control": self.control,
                    "paired": self.paired,
                    "direction": self.direction,
                    "alpha": self.alpha,
                    "ci_level": self.ci_level,
                    "n_resamples": self.n_resamples,
                    "seed": self.seed,
                    "min_effect": self.min_effect,
                    "multiple_comparisons": "holm" if len(self.comparisons) >= 2 else "none",
                }
            ),
            "variants": {name: {"name": name, **v.to_dict()} for name, v in self.variants.items()},
            "comparisons": [c.to_dict() for c in self.comparisons],
            "warnings": list(self.warnings),
        }


def analyze(
    values_by_variant: Mapping[str, ArrayLike],
    *,
    control: str | None = None,
    paired: bool = False,
    direction: str = "max",
    alpha: float = 0.05,
    ci_level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    min_effect: float | None = None,
) -> Analysis:
    """Full A/B analysis: ``describe`` every variant, ``compare`` each one with the control [Patterson24].

    ``values_by_variant`` maps a variant name to its per-run scores in run order (NaN = failed run; for a
    paired design index i must be seed i in every variant). ``control`` defaults to the first variant.
    With 2+ comparisons the p-values (and TOST p-values) are Holm-adjusted and verdicts use the adjusted
    p; with 2+ treatments a winner's-curse warning recommends a confirmation run with fresh seeds.
    Every description and comparison uses ``seed``, so each is reproducible on its own.
    """
    if not values_by_variant:
        raise ValueError("no variants to analyze")
    names = list(values_by_variant)
    control = names[0] if control is None else control
    if control not in values_by_variant:
        raise ValueError(f"control {control!r} is not one of the variants {names}")
    d = _direction(direction)
    variants = {
        name: describe(values, ci_level=ci_level, n_resamples=n_resamples, seed=seed)
        for name, values in values_by_variant.items()
    }
    comparisons = [
        compare(
            values_by_variant[name],
            values_by_variant[control],
            paired=paired,
            direction=d,
            alpha=alpha,
            ci_level=ci_level,
            n_resamples=n_resamples,
            seed=seed,
            min_effect=min_effect,
            treatment_name=name,
            control_name=control,
        )
        for name in names
        if name != control
    ]
    notes: list[str] = []
    if len(comparisons) >= 2:
        p_adj = holm([c.p_value for c in comparisons])
        eq_adj = holm([c.equivalence_p for c in comparisons])
        comparisons = [c.redecide(float(p), float(e)) for c, p, e in zip(comparisons, p_adj, eq_adj, strict=True)]
        notes.append(
            f"{len(comparisons)} treatments were compared with {control}: p-values are Holm-adjusted, and the "
            "best-looking variant's gain is overstated (winner's curse). Confirm it with a new run with fresh "
            "seeds before adopting it."
        )
    return Analysis(
        control=control,
        paired=paired,
        direction=d,
        alpha=alpha,
        ci_level=ci_level,
        n_resamples=n_resamples,
        seed=seed,
        min_effect=min_effect,
        variants=variants,
        comparisons=tuple(comparisons),
        warnings=tuple(notes),
    )
