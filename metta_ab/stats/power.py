"""Power of the t-tests (noncentral t) [Colas18]: power at N, seeds needed, the minimum detectable effect."""

from __future__ import annotations

import functools
import math
import warnings as _warnings

import numpy as np
from scipy import optimize
from scipy import stats as sps

from metta_ab.stats._common import _check_level
from metta_ab.stats.settings import DEFAULTS

#: Power used for the minimum detectable effect and the seeds-needed figures.
DEFAULT_POWER = 0.8


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


def power_at(
    d: float, n: int, alpha: float = DEFAULTS.alpha, *, n_other: int | None = None, paired: bool = False
) -> float:
    """Power of the two-sided t-test to detect a standardized effect ``d`` (noncentral t) [Colas18].

    Two-sample (pooled-df) design with ``n`` and ``n_other`` (default ``n``) runs per variant and
    d = difference / SD; paired (one-sample on the differences, d = mean / SD of differences) with ``n``
    pairs. Example from the spec: d = 1 with 5 seeds per variant -> 0.29.
    """
    _check_level("alpha", alpha)
    if not math.isfinite(d):
        return math.nan
    return float(_power(d, np.asarray(n), None if n_other is None else np.asarray(n_other), alpha, paired))


def power_runs_needed(
    d: float, alpha: float = DEFAULTS.alpha, power: float = DEFAULT_POWER, *, paired: bool = False
) -> int:
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


def paired_effect(d: float, correlation: float) -> float:
    """d_z of the pair differences for an effect ``d`` (difference / SD of one run's score) when a pair's two
    scores correlate ``correlation``: Var(T - C) = 2 SD^2 (1 - r), so d_z = d / sqrt(2 (1 - r))."""
    if not -1.0 < correlation < 1.0:
        raise ValueError(f"correlation must be in (-1, 1), got {correlation!r}")
    return d / math.sqrt(2.0 * (1.0 - correlation))


@functools.lru_cache(maxsize=4096)
def minimum_detectable_d(
    n: int,
    alpha: float = DEFAULTS.alpha,
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
