"""The tests of a comparison: exact permutation and rank tests, TOST equivalence, Holm, Fisher's failure rates.

Permutation tests are exact (every partition / sign flip enumerated) when there are at most
``EXACT_PERMUTATION_LIMIT`` arrangements, else ``PERMUTATION_RESAMPLES`` seeded random ones.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings as _warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from metta_ab.stats._common import _as_1d, _centered, _pad, _seeded

#: Permutation tests enumerate every partition / sign flip when there are at most this many.
EXACT_PERMUTATION_LIMIT = 100_000
#: Otherwise they use this many seeded random permutations.
PERMUTATION_RESAMPLES = 10_000
#: Permuted values evaluated per vectorized batch (cache-sized; results do not depend on it).
_PERMUTATION_BATCH_ELEMENTS = 100_000
#: Mann-Whitney uses scipy's exact distribution (no ties) while n * m is at most this; else asymptotic.
_MW_EXACT_MAX_NM = 10_000


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


def failure_rate_test(failed_t: int, planned_t: int, failed_c: int, planned_c: int) -> float:
    """Two-sided Fisher exact p-value that treatment and control runs fail at the same rate.

    A variant that crashes more often is a result in itself, and failures bias the completed-run scores.
    """
    for failed, planned in ((failed_t, planned_t), (failed_c, planned_c)):
        if not 0 <= failed <= planned:
            raise ValueError(f"need 0 <= failed <= planned, got {failed} of {planned}")
    table = [[failed_t, planned_t - failed_t], [failed_c, planned_c - failed_c]]
    return float(sps.fisher_exact(table).pvalue)


def unscored_rate_note(
    treatment_name: str, unscored_t: int, planned_t: int, control_name: str, unscored_c: int, planned_c: int, p: float
) -> str:
    """The warning when `failure_rate_test` finds the variants' rates of runs without a score different. The
    reason a score is missing (failed, interrupted, no value) is the caller's to say: it is not in the arrays."""
    return (
        f"{treatment_name} has no score for {unscored_t}/{planned_t} runs and {control_name} for "
        f"{unscored_c}/{planned_c} (Fisher p = {p:.3g}): the rates differ, and the scored runs may not be comparable."
    )


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


def _quantized(value: np.ndarray, unit: float) -> np.ndarray:
    """A statistic in integer multiples of ``unit``: differences below it are ties, not rounding noise."""
    return np.round(value / unit)


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
    return _two_sample_permutation_p(t, c, lambda x, y, axis: _quantized(x.mean(axis) - y.mean(axis), unit), rng)


def welch_permutation_p(t: np.ndarray, c: np.ndarray, rng: np.random.Generator) -> tuple[float, bool]:
    """Two-sided p of Welch's t from its permutation distribution (the studentized permutation test), and
    whether every relabelling was enumerated: ``WelchPermutationTest`` at no shift."""
    test = WelchPermutationTest(t, c, rng)
    return test.p_value(0.0), test.exact


#: Welch's t is counted in units of this: relabellings with mathematically equal t tie.
_T_UNIT = 1e-9
#: A group variance below this share of the squared scale of the scores is float rounding of none.
_VARIANCE_FLOOR = 1e-12


class WelchPermutationTest:
    """The studentized permutation test of Welch's t for (treatment - delta) vs control, at any shift delta.

    Exact in level when the variants do not differ (the relabellings are equally likely), whatever the
    scores' distribution, and asymptotically valid when their variances differ, where the permutation
    test of the raw mean difference is not [Janssen97; ChungRomano13]. The relabellings are fixed once
    (every split of the pooled runs up to ``EXACT_PERMUTATION_LIMIT``, else ``PERMUTATION_RESAMPLES``
    seeded random ones), so that p(delta) is one deterministic function of delta and the set of shifts it
    does not reject is a clean confidence interval (``metta_ab.stats.intervals.PermutationInversion``).
    Each relabelling is kept as the sums Welch's t needs (runs, sum and sum of squares of the treatment's
    and the control's runs in the first group), so that t at any delta costs a few operations per
    relabelling. The two-sided p is scipy's ``permutation_test``'s: twice the smaller tail, the random
    case counting the observed labelling once more (p = (count + 1) / (resamples + 1)).

    References: [Janssen97] Janssen 1997, "Studentized permutation tests for non-i.i.d. hypotheses and the
    generalized Behrens-Fisher problem"; [ChungRomano13] Chung, Romano 2013, "Exact and asymptotically
    robust permutation tests".
    """

    def __init__(self, t: np.ndarray, c: np.ndarray, rng: np.random.Generator) -> None:
        t, c = _centered(np.asarray(t, float), np.asarray(c, float))  # ties the same at 1e12 + x as at x
        self.n, self.m = t.size, c.size
        self.difference = float(t.mean() - c.mean())
        self.standard_error = float(np.sqrt(t.var(ddof=1) / self.n + c.var(ddof=1) / self.m))
        self.scale = float(max(np.max(np.abs(t)), np.max(np.abs(c))))
        self.min_p = min_permutation_p(self.n, self.m)
        pooled = np.concatenate([t, c])
        members, self.exact = relabellings(pooled.size, self.n, rng)
        from_t = members < self.n
        values = pooled[members]
        self._k = from_t.sum(axis=1)
        self._sum_t = np.where(from_t, values, 0.0).sum(axis=1)
        self._sq_t = np.where(from_t, values**2, 0.0).sum(axis=1)
        self._sum_c = np.where(from_t, 0.0, values).sum(axis=1)
        self._sq_c = np.where(from_t, 0.0, values**2).sum(axis=1)
        self._totals = (float(t.sum()), float((t**2).sum()), float(c.sum()), float((c**2).sum()))

    def _welch_t(self, delta: float, k: Any, sum_t: Any, sq_t: Any, sum_c: Any, sq_c: Any) -> Any:
        """Quantized Welch's t of the first group against the rest, the treatment's runs shifted by -delta."""
        n, m = self.n, self.m
        total_t, total_sq_t, total_c, total_sq_c = self._totals
        sum_x = sum_t - k * delta + sum_c
        sq_x = sq_t - 2.0 * delta * sum_t + k * delta**2 + sq_c
        sum_y = total_t - n * delta + total_c - sum_x
        sq_y = total_sq_t - 2.0 * delta * total_t + n * delta**2 + total_sq_c - sq_x
        floor = _VARIANCE_FLOOR * (self.scale + abs(delta)) ** 2
        var_x = (sq_x - sum_x**2 / n) / (n - 1)
        var_y = (sq_y - sum_y**2 / m) / (m - 1)
        var_x, var_y = np.where(var_x > floor, var_x, 0.0), np.where(var_y > floor, var_y, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _quantized((sum_x / n - sum_y / m) / np.sqrt(var_x / n + var_y / m), _T_UNIT)

    def p_value(self, delta: float) -> float:
        """Two-sided permutation p of Welch's t for the treatment's runs shifted by -delta against the control."""
        total_t, total_sq_t, _, _ = self._totals
        observed = self._welch_t(delta, self.n, total_t, total_sq_t, 0.0, 0.0)
        null = self._welch_t(delta, self._k, self._sum_t, self._sq_t, self._sum_c, self._sq_c)
        extra = 0 if self.exact else 1
        with np.errstate(invalid="ignore"):
            less, greater = np.count_nonzero(null <= observed), np.count_nonzero(null >= observed)
        tail = (min(less, greater) + extra) / (null.size + extra)
        return float(min(1.0, 2.0 * tail))


def relabellings(size: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """The first group (n indices into ``size`` pooled runs) of each relabelling a two-sample permutation test
    uses, and whether they are all of them: every choice up to ``EXACT_PERMUTATION_LIMIT`` (the identity
    first), else ``PERMUTATION_RESAMPLES`` seeded random ones, drawn in batches of bounded memory."""
    if math.comb(size, n) <= EXACT_PERMUTATION_LIMIT:
        return _all_first_groups(size, n), True
    rows = max(1, _PERMUTATION_BATCH_ELEMENTS // size)
    batches = []
    for start in range(0, PERMUTATION_RESAMPLES, rows):
        count = min(rows, PERMUTATION_RESAMPLES - start)
        batches.append(rng.permuted(np.tile(np.arange(size), (count, 1)), axis=1)[:, :n])
    return np.concatenate(batches), False


@functools.lru_cache(maxsize=8)
def _all_first_groups(size: int, n: int) -> np.ndarray:
    """Every choice of n of ``size`` pooled runs (the first group of each relabelling), the identity first."""
    count = math.comb(size, n)
    flat = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(size), n)), np.intp, count * n)
    groups = flat.reshape(count, n)
    groups.flags.writeable = False
    return groups


def _two_sample_permutation_p(
    t: np.ndarray, c: np.ndarray, statistic: Any, rng: np.random.Generator
) -> tuple[float, bool]:
    """Two-sided permutation p of a two-sample statistic: exact, or seeded random relabellings.

    For the random case the pooled sample is shuffled as one sample (scipy's "pairings" type, vectorized)
    and split at n, which is the same random relabelling as the "independent" type without its
    per-permutation Python loop. The statistic sees centered scores, so that its ties are the same at 1e12 + x
    as at x.
    """
    t, c = _centered(t, c)
    n = t.size
    pooled = np.concatenate([t, c])
    batch = max(1, _PERMUTATION_BATCH_ELEMENTS // pooled.size)
    if math.comb(t.size + c.size, t.size) <= EXACT_PERMUTATION_LIMIT:
        res = sps.permutation_test(
            (t, c),
            lambda x, y, axis=-1: statistic(x, y, axis),
            permutation_type="independent",
            vectorized=True,
            n_resamples=np.inf,
            batch=batch,
        )
        return float(res.pvalue), True

    def split(shuffled: np.ndarray, axis: int = -1) -> np.ndarray:
        shuffled = np.moveaxis(shuffled, axis, -1)
        return statistic(shuffled[..., :n], shuffled[..., n:], -1)

    res = sps.permutation_test(
        (pooled,),
        split,
        permutation_type="pairings",
        vectorized=True,
        n_resamples=PERMUTATION_RESAMPLES,
        batch=batch,
        **_seeded(rng),
    )
    return float(res.pvalue), False


def min_permutation_p(n: int, m: int) -> float:
    """Smallest two-sided p a two-sample permutation test can give: 2 / C(n + m, n) when enumerated,
    about 2 / (PERMUTATION_RESAMPLES + 1) when resampled."""
    count = math.comb(n + m, n)
    return min(1.0, 2.0 / count if count <= EXACT_PERMUTATION_LIMIT else 2.0 / (PERMUTATION_RESAMPLES + 1))


def min_sign_flip_p(n: int) -> float:
    """Smallest two-sided p the sign-flip test of n paired differences can give: 2 / 2^n when enumerated,
    about 2 / (PERMUTATION_RESAMPLES + 1) when resampled."""
    exact = 2.0**n <= EXACT_PERMUTATION_LIMIT
    return min(1.0, 2.0 / 2.0**n if exact else 2.0 / (PERMUTATION_RESAMPLES + 1))


def _rank_test(t: np.ndarray, c: np.ndarray, paired: bool, rng: np.random.Generator) -> tuple[str, str, float, float]:
    """(name, method, statistic, two-sided p) of Mann-Whitney U (unpaired) or Wilcoxon signed-rank (paired).

    Exact when possible: scipy's exact null without ties, exact permutation of the ranks when there are
    ties and few enough partitions, else the tie-corrected normal approximation.
    """
    if paired:
        with np.errstate(invalid="ignore"):
            diff = t - c
        diff = np.where(np.isnan(diff), 0.0, diff)  # both runs at the same infinity: a tie
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
        res = sps.wilcoxon(diff, method=method)
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
