"""Tests of metta_ab.stats: the spec's worked example to the stated digits, properties, and the guards."""

from __future__ import annotations

import itertools
import json
import math
import time

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from metta_ab import stats as S

pytestmark = pytest.mark.hydra_independent

_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz

# ---- the spec's worked example -------------------------------------------------------------------------
A = np.array([0.42, 0.55, 0.31, 0.61, 0.48])  # control, 5 seeds
B = np.array([0.58, 0.66, 0.49, 0.72, 0.53, 0.81, 0.60, 0.44])  # treatment, 8 seeds
PAIRED_C = np.array([0.40, 0.52, 0.33, 0.60, 0.47, 0.55])
PAIRED_T = np.array([0.46, 0.55, 0.41, 0.63, 0.49, 0.62])
STEPS = np.array([0, 250_000, 500_000, 750_000, 1_000_000], dtype=float)
CURVE = np.array([0.0, 0.2, 0.45, 0.6, 0.64])


def digits(value: float, stated: float, places: int) -> None:
    """``value`` agrees with ``stated`` to the number of decimal places the spec states."""
    assert value == pytest.approx(stated, abs=0.5 * 10.0**-places), (value, stated)


@pytest.fixture(scope="module")
def ab() -> S.Comparison:
    return S.compare(B, A)


@pytest.fixture(scope="module")
def paired() -> S.Comparison:
    return S.compare(PAIRED_T, PAIRED_C, S.StatsSettings(paired=True))


def test_welch(ab: S.Comparison) -> None:
    assert ab.test == "welch"
    digits(ab.statistic, 1.91706925227, 11)
    digits(ab.df, 8.9952938329, 10)
    digits(ab.t_p_value, 0.0874831031157, 13)
    assert ab.t_test == "welch" and ab.p_method == "exact permutation"  # C(13, 5) = 1287 relabellings
    assert ab.p_value == pytest.approx(_brute_welch_permutation_p(B, A), abs=1e-12)
    digits(ab.difference, 0.12975, 5)
    # the CI inverts the test that decided (Welch's t CI, [-0.0234, 0.283], is not beside that p)
    assert ab.difference_ci_method == "permutation_inversion" and ab.difference_ci_level == 0.95
    assert ab.difference_ci[0] < 0 < ab.difference_ci[1]
    assert (ab.n_treatment, ab.n_control) == (8, 5)
    digits(ab.difference_pct, 100 * 0.12975 / 0.474, 9)
    assert ab.verdict == S.INCONCLUSIVE  # p = .087 > .05


def _brute_welch_permutation_p(t: np.ndarray, c: np.ndarray) -> float:
    """Welch's t over every split of the pooled runs; two-sided p = twice the smaller tail (scipy's)."""
    pooled, n = np.concatenate([t, c]), t.size

    def welch(x: np.ndarray, y: np.ndarray) -> float:
        return (x.mean() - y.mean()) / math.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)

    observed = welch(t, c)
    null = []
    for idx in itertools.combinations(range(pooled.size), n):
        mask = np.zeros(pooled.size, bool)
        mask[list(idx)] = True
        null.append(welch(pooled[mask], pooled[~mask]))
    null_arr = np.array(null)
    tol = 1e-9
    return min(1.0, 2 * min(np.mean(null_arr >= observed - tol), np.mean(null_arr <= observed + tol)))


def test_mann_whitney_and_probability_of_improvement(ab: S.Comparison) -> None:
    assert ab.rank_test == "mann-whitney" and ab.rank_method == "exact"
    assert ab.rank_statistic == 31  # U_B
    digits(ab.rank_test_p, 0.127428127428, 12)
    assert ab.prob_improvement == pytest.approx(0.775, abs=1e-12)  # U / (n m) = 31 / 40
    lo, hi = ab.prob_improvement_ci
    assert 0.0 <= lo <= 0.775 <= hi <= 1.0


def test_iqm_and_hedges_g(ab: S.Comparison) -> None:
    digits(S.describe(A).iqm, 0.483333, 6)
    digits(S.describe(B).iqm, 0.5925, 4)
    digits(ab.iqm_difference, 0.5925 - 0.483333, 5)
    digits(ab.hedges_g, 1.003575196, 9)


def test_exact_permutation(ab: S.Comparison) -> None:
    assert ab.permutation_exact  # C(13, 5) = 1287 partitions, enumerated
    digits(ab.permutation_p, 0.0916860916861, 13)


def _exact_bootstrap_ci(t: np.ndarray, c: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile CI of the mean difference over ALL n^n * m^m bootstrap resamples, enumerated as
    multisets with multinomial weights (6435 x 126 here instead of 5.2e10 ordered resamples)."""

    def mean_distribution(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = x.size
        means, weights = [], []
        for combo in itertools.combinations_with_replacement(range(n), n):
            counts = np.bincount(combo, minlength=n)
            ways = math.factorial(n) / math.prod(math.factorial(k) for k in counts)
            means.append(x[list(combo)].mean())
            weights.append(ways / n**n)
        return np.array(means), np.array(weights)

    mt, wt = mean_distribution(t)
    mc, wc = mean_distribution(c)
    diff = (mt[:, None] - mc[None, :]).ravel()
    weight = (wt[:, None] * wc[None, :]).ravel()
    assert weight.sum() == pytest.approx(1.0)
    order = np.argsort(diff, kind="stable")
    cdf = np.cumsum(weight[order])
    tail = (1 - level) / 2
    return float(diff[order][np.searchsorted(cdf, tail)]), float(diff[order][np.searchsorted(cdf, 1 - tail)])


def test_exact_enumerated_bootstrap_ci() -> None:
    lo, hi = _exact_bootstrap_ci(B, A, 0.95)
    assert (round(lo, 3), round(hi, 3)) == (0.012, 0.253)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_seeded_bootstrap_lands_near_exact_ci(seed: int) -> None:
    comp = S.compare(B, A, S.StatsSettings(n_resamples=10_000, seed=seed))
    lo, hi = comp.bootstrap_difference_ci
    assert abs(lo - 0.012) <= 0.0075 and abs(hi - 0.253) <= 0.0075, (lo, hi)
    # reproducible: same seed, same interval
    assert S.compare(B, A, S.StatsSettings(n_resamples=10_000, seed=seed)).bootstrap_difference_ci == (lo, hi)


def test_holm_example() -> None:
    np.testing.assert_allclose(S.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02], rtol=0, atol=1e-15)


def test_paired_example(paired: S.Comparison) -> None:
    assert paired.test == "paired_t" and paired.rank_test == "wilcoxon"
    digits(paired.p_value, 0.00502560467, 11)
    assert paired.rank_test_p == pytest.approx(0.03125, abs=1e-12)
    digits(paired.pair_correlation, 0.972, 3)
    assert (paired.n_pairs, paired.pairs_dropped) == (6, 0)
    assert paired.verdict == S.BETTER
    assert paired.permutation_exact and paired.permutation_p == pytest.approx(2 / 64)  # all 6 pairs improve
    assert paired.prob_improvement == 1.0
    res = sps.ttest_rel(PAIRED_T, PAIRED_C)
    assert paired.difference_ci == pytest.approx(tuple(res.confidence_interval()))
    digits(paired.difference, np.mean(PAIRED_T - PAIRED_C), 12)


def test_paired_data_analysed_unpaired() -> None:
    comp = S.compare(PAIRED_T, PAIRED_C)
    digits(comp.t_p_value, 0.397, 3)
    assert comp.verdict == S.INCONCLUSIVE


def test_curve_example() -> None:
    digits(S.final_score(CURVE, last_k=2), 0.62, 12)
    digits(S.normalized_auc(STEPS, CURVE), 0.3925, 12)
    assert S.time_to_threshold(STEPS, CURVE, 0.5) == 750_000
    assert math.isnan(S.time_to_threshold(STEPS, CURVE, 0.9))
    assert S.final_score(CURVE) == 0.64  # last 10% of 5 points -> at least 1


@pytest.mark.parametrize(("d", "n"), [(0.5, 64), (0.8, 26), (1.0, 17), (1.5, 9), (2.0, 6), (3.0, 4)])
def test_power_table(d: float, n: int) -> None:
    assert S.power_runs_needed(d) == n
    assert S.power_at(d, n) >= 0.8 > S.power_at(d, n - 1)


def test_power_at_five_seeds() -> None:
    digits(S.power_at(1.0, 5), 0.29, 2)
    digits(S.minimum_detectable_d(5), 2.0, 1)
    assert S.power_at(S.minimum_detectable_d(5), 5) == pytest.approx(0.8, abs=1e-8)
    # paired design: one-sample t on the differences
    assert S.power_at(1.0, 5, paired=True) > S.power_at(1.0, 5)
    assert S.power_at(S.minimum_detectable_d(8, paired=True), 8, paired=True) == pytest.approx(0.8, abs=1e-8)
    assert S.power_runs_needed(1.0, paired=True) < S.power_runs_needed(1.0)
    with pytest.raises(ValueError):
        S.power_runs_needed(0.0)


def _nct_power(d: float, n: int, paired: bool, alpha: float) -> float:
    """Two-sided power read off scipy's noncentral t: one-sample on n differences, or two-sample n + n."""
    df, nc = (n - 1, d * math.sqrt(n)) if paired else (2 * n - 2, d * math.sqrt(n / 2))
    crit = sps.t.ppf(1 - alpha / 2, df)
    return float(sps.nct.sf(crit, df, nc) + sps.nct.sf(crit, df, -nc))  # lower tail by symmetry: cdf can be NaN


@settings(max_examples=60, deadline=None)
@given(
    d=st.floats(0.3, 4.0),
    alpha=st.floats(0.005, 0.2),
    power=st.floats(0.5, 0.99),
    paired=st.booleans(),
)
def test_runs_needed_is_the_first_n_the_noncentral_t_gives_the_power(d, alpha, power, paired) -> None:
    needed = S.power_runs_needed(d, alpha, power, paired=paired)
    assert _nct_power(d, needed, paired, alpha) >= power
    assert needed == 2 or _nct_power(d, needed - 1, paired, alpha) < power
    assert S.power_at(d, needed, alpha, paired=paired) == pytest.approx(_nct_power(d, needed, paired, alpha), abs=1e-9)


@given(d=st.floats(0.01, 10.0), r=st.floats(-0.99, 0.99))
def test_paired_effect_is_d_over_the_sd_of_differences(d, r) -> None:
    # Var(T - C) = Var T + Var C - 2 r SD_T SD_C with SD 1 each
    assert S.paired_effect(d, r) == pytest.approx(d / math.sqrt(1 + 1 - 2 * r))
    with pytest.raises(ValueError):
        S.paired_effect(d, 1.0)


def test_comparison_power_fields(ab: S.Comparison) -> None:
    assert ab.mde_d == pytest.approx(S.minimum_detectable_d(8, n_other=5))
    assert ab.mde == pytest.approx(ab.mde_d * S._pooled_sd(B, A))
    assert ab.runs_needed == S.power_runs_needed(abs(ab.hedges_g)) == 17
    assert ab.runs_needed_for == "observed effect"
    comp = S.compare(B, A, S.StatsSettings(min_effect=0.05))
    assert comp.runs_needed_for == "min_effect"
    assert comp.runs_needed == S.power_runs_needed(0.05 / S._pooled_sd(B, A))


# ---- curves, vectorized ---------------------------------------------------------------------------------


def test_curves_vectorized_match_rows() -> None:
    rng = np.random.default_rng(0)
    runs, points = 30, 200
    values = np.cumsum(rng.normal(0.01, 0.1, size=(runs, points)), axis=1)
    steps = np.arange(points) * 1000.0
    lengths = rng.integers(1, points + 1, size=runs)
    padded = values.copy()
    for i, length in enumerate(lengths):
        padded[i, length:] = np.nan
    finals = S.final_score(padded)
    aucs = S.normalized_auc(steps, padded)
    times = S.time_to_threshold(steps, padded, 0.5)
    for i, length in enumerate(lengths):
        row, srow = values[i, :length], steps[:length]
        assert finals[i] == pytest.approx(S.final_score(row))
        k = max(1, int(0.1 * length + 1e-9))
        assert finals[i] == pytest.approx(row[-k:].mean())
        if length > 1:
            assert aucs[i] == pytest.approx(_trapezoid(row, srow) / (srow[-1] - srow[0]))
        else:
            assert aucs[i] == pytest.approx(row[0])
        hit = np.nonzero(row >= 0.5)[0]
        if hit.size:
            assert times[i] == srow[hit[0]]
        else:
            assert math.isnan(times[i])


def test_curves_edge_cases() -> None:
    assert math.isnan(S.final_score([np.nan, np.nan]))
    assert math.isnan(S.normalized_auc([0, 1], [np.nan, np.nan]))
    assert S.final_score([1.0, np.nan, 3.0], last_k=2) == 2.0  # NaN evaluations skipped
    assert S.final_score([1.0, 2.0], last_k=10) == 1.5  # K capped at the length
    # unsorted steps are sorted; per-run steps accepted
    assert S.normalized_auc(STEPS[::-1], CURVE[::-1]) == pytest.approx(0.3925)
    assert S.normalized_auc(np.vstack([STEPS, STEPS]), np.vstack([CURVE, CURVE])) == pytest.approx([0.3925] * 2)
    # minimize: first step at or below the threshold
    assert S.time_to_threshold(STEPS, 1 - CURVE, 0.5, direction="min") == 750_000
    with pytest.raises(ValueError):
        S.time_to_threshold(STEPS, CURVE, 0.5, direction="sideways")


def test_curve_summaries_fast_enough() -> None:
    curves = np.random.default_rng(0).normal(size=(20 * 50, 2000))
    steps = np.arange(2000) * 500.0
    start = time.perf_counter()
    S.final_score(curves)
    S.normalized_auc(steps, curves)
    S.time_to_threshold(steps, curves, 1.0)
    assert time.perf_counter() - start < 3.0  # ~0.2 s on an idle core


# ---- describe -------------------------------------------------------------------------------------------


def test_describe_example() -> None:
    v = S.describe(A)
    assert v.n == 5 and v.n_failed == 0
    digits(v.mean, 0.474, 12)
    assert v.sd == pytest.approx(np.std(A, ddof=1))
    assert v.median == 0.48
    for (lo, hi), point in [(v.mean_ci, v.mean), (v.iqm_ci, v.iqm), (v.median_ci, v.median), (v.sd_ci, v.sd)]:
        assert lo <= point <= hi or math.isclose(lo, point) or math.isclose(hi, point)
    assert S.describe(A, S.StatsSettings(seed=3)) == S.describe(A, S.StatsSettings(seed=3))


def test_describe_small_and_failed() -> None:
    empty = S.describe([])
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.mean_ci[0])
    one = S.describe([np.nan, 0.7])
    assert (one.n, one.n_failed) == (1, 1)
    assert one.mean == one.median == one.iqm == 0.7
    assert math.isnan(one.sd) and all(math.isnan(x) for x in one.iqm_ci)
    d = one.to_dict()
    assert d["values"] == [None, 0.7] and d["sd"] is None
    json.dumps(d, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=40))
def test_sorted_row_iqm_equals_trim_mean(values: list[float]) -> None:
    x = np.sort(np.array(values))
    q = S._sorted_row_quantities(x[None, :], median=True)
    assert q["iqm"][0] == pytest.approx(sps.trim_mean(x, 0.25), rel=1e-9, abs=1e-9)
    assert q["median"][0] == pytest.approx(np.median(x), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("direction", ["max", "min"])
def test_resampled_probability_of_improvement(direction: str) -> None:
    """The cumulative-count form of P(T* better than C*) equals the direct count on every resample."""
    rng = np.random.default_rng(1)
    t, c = np.sort(rng.normal(size=7).round(1)), np.sort(rng.normal(size=5).round(1))  # with ties
    it, ic = rng.integers(0, 7, (50, 7)), rng.integers(0, 5, (50, 5))
    fast = S._resampled_prob_improvement(it, ic, t, c, direction)
    for row in range(50):
        bt, bc = t[it[row]], c[ic[row]]
        wins = bt[:, None] > bc[None, :] if direction == "max" else bt[:, None] < bc[None, :]
        direct = (wins + 0.5 * (bt[:, None] == bc[None, :])).mean()
        assert fast[row] == pytest.approx(direct)


# ---- holm -----------------------------------------------------------------------------------------------


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_holm_properties(p: list[float]) -> None:
    raw = np.array(p)
    adj = S.holm(raw)
    assert np.all(adj >= raw - 1e-15) and np.all(adj <= 1.0)
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(adj[order]) >= -1e-15)  # monotone in the raw p
    assert adj.min() == pytest.approx(min(1.0, raw.min() * raw.size))


def test_holm_nan_and_single() -> None:
    out = S.holm([0.01, np.nan, 0.04])
    assert math.isnan(out[1]) and out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04)
    assert S.holm([0.3])[0] == 0.3
    assert S.holm([]).size == 0
    with pytest.raises(ValueError):
        S.holm([1.5])


# ---- verdict, properties --------------------------------------------------------------------------------

finite_scores = st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=8)


def _spread(x: list[float]) -> bool:
    return float(np.std(x)) > 1e-3


@settings(max_examples=40, deadline=None)
@given(finite_scores, finite_scores)
def test_verdict_symmetric_when_swapping(t: list[float], c: list[float]) -> None:
    assume(_spread(t) and _spread(c))
    fwd = S.compare(t, c, S.StatsSettings(n_resamples=200))
    rev = S.compare(c, t, S.StatsSettings(n_resamples=200))
    flip = {S.BETTER: S.WORSE, S.WORSE: S.BETTER}
    assert rev.verdict == flip.get(fwd.verdict, fwd.verdict)
    assert rev.p_value == pytest.approx(fwd.p_value)
    assert rev.permutation_p == pytest.approx(fwd.permutation_p)
    assert rev.rank_test_p == pytest.approx(fwd.rank_test_p)
    assert rev.difference == pytest.approx(-fwd.difference)
    assert rev.prob_improvement == pytest.approx(1 - fwd.prob_improvement)


@settings(max_examples=40, deadline=None)
@given(finite_scores, finite_scores, st.floats(-50, 50), st.booleans())
def test_p_values_shift_invariant(t: list[float], c: list[float], shift: float, paired_design: bool) -> None:
    assume(_spread(t) and _spread(c))
    # round so that the shifted data keep the same ties and order exactly
    t_arr, c_arr = np.round(t, 2), np.round(c, 2)
    shift = round(shift, 2)
    base = S.compare(t_arr, c_arr, S.StatsSettings(paired=paired_design, n_resamples=200))
    moved = S.compare(t_arr + shift, c_arr + shift, S.StatsSettings(paired=paired_design, n_resamples=200))
    assert moved.p_value == pytest.approx(base.p_value, rel=1e-6, abs=1e-9, nan_ok=True)
    assert moved.permutation_p == pytest.approx(base.permutation_p, rel=1e-6, abs=1e-9)
    assert moved.verdict == base.verdict
    assert moved.difference == pytest.approx(base.difference, abs=1e-9)


def test_decide_rules() -> None:
    kw = {"n_treatment": 5, "n_control": 5}
    assert S.decide(0.1, 0.01, **kw) == S.BETTER
    assert S.decide(-0.1, 0.01, **kw) == S.WORSE
    assert S.decide(-0.1, 0.01, direction="min", **kw) == S.BETTER
    assert S.decide(0.1, 0.01, direction="minimize", **kw) == S.WORSE
    assert S.decide(0.1, 0.2, **kw) == S.INCONCLUSIVE
    assert S.decide(0.1, 0.05, **kw) == S.INCONCLUSIVE  # p < alpha, strictly
    assert S.decide(0.01, 0.6, equivalence_p=0.01, **kw) == S.EQUIVALENT
    assert S.decide(0.01, 0.6, equivalence_p=0.2, **kw) == S.INCONCLUSIVE
    assert S.decide(0.1, math.nan, **kw) == S.INCONCLUSIVE
    assert S.decide(0.1, 0.001, n_treatment=1, n_control=5) == S.INSUFFICIENT


# ---- guards ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("t", "c"), [([0.5], [0.4, 0.6]), ([0.5, 0.6], [np.nan, 0.3]), ([], [])])
def test_fewer_than_two_runs(t: list[float], c: list[float]) -> None:
    comp = S.compare(t, c)
    assert comp.verdict == S.INSUFFICIENT
    assert math.isnan(comp.p_value) and comp.runs_needed is None
    assert any("insufficient data" in w for w in comp.warnings)
    json.dumps(comp.to_dict(), allow_nan=False)


def test_paired_drops_failed_pairs_and_counts_them() -> None:
    t = np.array([0.46, np.nan, 0.41, 0.63, 0.49, 0.62, 0.50])
    c = np.array([0.40, 0.52, 0.33, np.nan, 0.47, 0.55, 0.45])
    comp = S.compare(t, c, S.StatsSettings(paired=True))
    keep = np.isfinite(t) & np.isfinite(c)
    assert (comp.n_pairs, comp.pairs_dropped) == (5, 2)
    assert (comp.n_treatment, comp.n_control) == (6, 6)
    assert comp.p_value == pytest.approx(sps.ttest_rel(t[keep], c[keep]).pvalue)
    assert any("2 pair(s) left out because a run of the pair has no score" in w for w in comp.warnings)
    # a missing trailing run counts as a dropped pair
    short = S.compare(PAIRED_T[:5], PAIRED_C, S.StatsSettings(paired=True))
    assert (short.n_pairs, short.pairs_dropped) == (5, 1)
    assert (
        "1 run(s) of control have no partner (treatment has 5, control 6); the paired test uses 5" in short.warnings[0]
    )
    # fewer than 2 complete pairs: no test
    assert S.compare([1.0, np.nan], [np.nan, 2.0], S.StatsSettings(paired=True)).verdict == S.INSUFFICIENT


def test_direction_min() -> None:
    lower = np.array([0.10, 0.12, 0.11, 0.09, 0.10, 0.11])
    higher = lower + 0.05
    comp = S.compare(lower, higher, S.StatsSettings(direction="min"))
    assert comp.difference < 0 and comp.p_value < 0.05
    assert comp.verdict == S.BETTER
    assert comp.prob_improvement == 1.0  # P(treatment better) = P(T < C) when minimizing
    assert S.compare(higher, lower, S.StatsSettings(direction="min")).verdict == S.WORSE
    assert S.compare(lower, higher, S.StatsSettings(direction="max")).verdict == S.WORSE


def test_equivalence_tost() -> None:
    rng = np.random.default_rng(7)
    c = rng.normal(1.0, 0.05, 30)
    t = rng.normal(1.0, 0.05, 30)
    comp = S.compare(t, c, S.StatsSettings(min_effect=0.1))
    assert comp.equivalence_p < 0.05 and comp.verdict == S.EQUIVALENT
    # without a declared minimum effect, no equivalence claim
    assert S.compare(t, c).verdict == S.INCONCLUSIVE
    # TOST at alpha passes iff the (1 - 2 alpha) Welch CI lies inside (-min_effect, min_effect)
    ci = sps.ttest_ind(t, c, equal_var=False).confidence_interval(0.90)
    assert (ci.low > -0.1 and ci.high < 0.1) == (comp.equivalence_p < 0.05)
    # too small a margin for this noise: not equivalent
    assert S.compare(t, c, S.StatsSettings(min_effect=0.005)).verdict == S.INCONCLUSIVE
    # paired TOST
    pc = S.compare(t, c, S.StatsSettings(paired=True, min_effect=0.1))
    assert pc.verdict == S.EQUIVALENT
    with pytest.raises(ValueError):
        S.compare(t, c, S.StatsSettings(min_effect=-1))


def test_exact_tests_that_cannot_reach_alpha_are_no_warning_and_not_in_disagreement() -> None:
    """At 3 vs 3 runs or 5 pairs the exact tests cannot reach 0.05: they cannot disagree with a significant t-test
    in any way that informs, so neither a flag nor a warning says so (the verdict sentence does, once)."""
    comp = S.compare([10.0, 10.1, 10.2], [0.0, 0.1, 0.2])
    assert comp.rank_test_p == pytest.approx(0.10) == pytest.approx(comp.exact_min_p)  # 2 / C(6, 3)
    assert comp.verdict == S.BETTER and comp.permutation_p >= 0.05
    assert comp.flags == () and comp.warnings == ()
    w5 = S.compare([1.1, 2.3, 3.2, 4.6, 5.5], [1.0, 2.0, 3.0, 4.0, 5.0], S.StatsSettings(paired=True))
    assert w5.rank_test_p == pytest.approx(0.0625) == pytest.approx(w5.exact_min_p)  # 2 / 2^5
    assert w5.verdict == S.BETTER and w5.flags == () and w5.warnings == ()
    assert S.compare(B, A).exact_min_p == pytest.approx(2 / math.comb(13, 5))


def test_disagreement_is_flagged_when_the_permutation_test_could_have_reached_alpha() -> None:
    c = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    diff = np.array([1.0, 1.1, 0.9, 1.2, 1.0, -0.3])  # 6 pairs: the sign flips can reach 2 / 64
    comp = S.compare(c + diff, c, S.StatsSettings(paired=True))
    assert comp.t_p_value == pytest.approx(sps.ttest_rel(c + diff, c).pvalue) and comp.t_p_value < 0.05
    assert comp.permutation_p == pytest.approx(4 / 64)  # the observed signs and the -0.3 flipped, both ways
    assert comp.exact_min_p == pytest.approx(2 / 64)
    assert "t_permutation_disagree" in comp.flags
    assert sum("disagree" in w for w in comp.warnings) == 1
    assert comp.verdict == S.BETTER  # the verdict is the t-test's; the flag says to be careful


def test_zero_variance_and_zero_control_mean() -> None:
    same = S.compare([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])  # t undefined: the permutation test decides
    assert same.verdict == S.INCONCLUSIVE and math.isnan(same.t_p_value) and same.p_value == 1.0
    zero = S.compare([0.1, 0.2, 0.3], [-0.1, 0.0, 0.1])
    assert math.isnan(zero.difference_pct)


def test_permutation_resampled_when_too_many_partitions() -> None:
    rng = np.random.default_rng(0)
    t, c = rng.normal(0.3, 1, 20), rng.normal(0, 1, 20)  # C(40, 20) partitions
    comp = S.compare(t, c, S.StatsSettings(n_resamples=500))
    assert not comp.permutation_exact
    assert comp.permutation_p == S.compare(t, c, S.StatsSettings(n_resamples=500)).permutation_p  # seeded
    assert comp.permutation_p == pytest.approx(comp.p_value, abs=0.05)
    pc = S.compare(t, c, S.StatsSettings(paired=True, n_resamples=500))  # 2^20 sign flips
    assert not pc.permutation_exact


@pytest.mark.parametrize("offset", [0.0, 0.1, 0.3, 1000.0])
def test_permutation_ties_do_not_depend_on_rounding(offset: float) -> None:
    """Discrete scores (win rates) make many relabellings tie the observed mean difference exactly; scipy's
    tolerance is relative to the statistic, so raw float sums near 1000 drop ties (p .114 instead of .143)."""
    t = np.array([0.55, 0.6, 0.65, 0.7]) + offset
    c = np.array([0.5, 0.55, 0.6, 0.45]) + offset
    assert S.compare(t, c).permutation_p == pytest.approx(20 / 140)  # 10 of 70 splits reach the observed sum
    assert S.compare(t, c, S.StatsSettings(paired=True)).permutation_p == pytest.approx(
        S.compare(t - offset, c - offset, S.StatsSettings(paired=True)).permutation_p
    )


def test_failure_rate_test() -> None:
    p = S.failure_rate_test(8, 10, 0, 10)
    assert p == pytest.approx(sps.fisher_exact([[8, 2], [0, 10]]).pvalue)
    assert p < 0.01
    assert S.failure_rate_test(1, 10, 1, 10) == 1.0
    with pytest.raises(ValueError):
        S.failure_rate_test(3, 2, 0, 2)
    comp = S.compare([1.0, 2.0, *[np.nan] * 8], [1.0, 2.0, 1.5, 1.2, 1.1, 1.3, 1.4, 1.6, 1.7, 1.8])
    assert comp.failure_p == pytest.approx(p)
    assert any("has no score for 8/10 runs and control for 0/10" in w for w in comp.warnings)


# ---- analyze --------------------------------------------------------------------------------------------


def test_analyze_holm_and_winners_curse() -> None:
    rng = np.random.default_rng(3)
    data = {
        "control": rng.normal(0.0, 1.0, 8),
        "a": rng.normal(2.0, 1.0, 8),
        "b": rng.normal(0.2, 1.0, 8),
        "c": rng.normal(1.2, 1.0, 8),
    }
    res = S.analyze(data, S.StatsSettings(n_resamples=500), control="control")
    assert list(res.variants) == ["control", "a", "b", "c"]
    assert [c.treatment for c in res.comparisons] == ["a", "b", "c"]
    raw = [c.p_value for c in res.comparisons]
    np.testing.assert_allclose([c.p_adjusted for c in res.comparisons], S.holm(raw))
    for comp in res.comparisons:
        expected = S.decide(comp.difference, comp.p_adjusted, n_treatment=8, n_control=8)
        assert comp.verdict == expected
        # each comparison is reproducible on its own, apart from the adjustment
        alone = S.compare(data[comp.treatment], data["control"], S.StatsSettings(n_resamples=500))
        assert alone.p_value == comp.p_value and alone.bootstrap_difference_ci == comp.bootstrap_difference_ci
    assert any("winner's curse" in w and "fresh seeds" in w for w in res.warnings)


def test_analyze_adjusted_p_can_change_the_verdict() -> None:
    base = np.array([0.0, 0.1, -0.1, 0.05, -0.05, 0.02])
    data = {"ctl": base, "t1": base + 0.1, "t2": base + 0.12}
    one = S.compare(data["t1"], data["ctl"])
    res = S.analyze(data, S.StatsSettings(n_resamples=200))  # control defaults to the first variant
    assert res.control == "ctl"
    t1 = res.comparison("t1")
    assert t1.p_value == one.p_value and t1.p_adjusted >= t1.p_value
    if one.p_value < 0.05 <= t1.p_adjusted:
        assert one.verdict == S.BETTER and t1.verdict == S.INCONCLUSIVE


def test_analyze_single_comparison_no_adjustment() -> None:
    res = S.analyze({"A": A, "B": B}, control="A")
    (comp,) = res.comparisons
    assert comp.p_adjusted == comp.p_value
    assert not res.warnings
    with pytest.raises(ValueError):
        S.analyze({"A": A}, control="nope")


def test_analyze_to_dict_is_json() -> None:
    data = {"A": np.append(A, np.nan), "B": B, "C": B + 0.05}
    out = S.analyze(data, S.StatsSettings(paired=False, n_resamples=300, min_effect=0.05), control="A").to_dict()
    text = json.dumps(out, allow_nan=False)
    assert "NaN" not in text
    for name in ("A", "B", "C"):
        v = out["variants"][name]
        for key in ("n", "mean", "sd", "median", "iqm", "mean_ci", "iqm_ci"):
            assert key in v
    assert out["variants"]["A"]["n"] == 5 and out["variants"]["A"]["values"][-1] is None
    required = [
        "treatment",
        "control",
        "difference",
        "difference_ci",
        "test",
        "p_value",
        "p_adjusted",
        "permutation_p",
        "mannwhitney_p",
        "rank_p",
        "hedges_g",
        "prob_improvement",
        "prob_improvement_ci",
        "verdict",
        "mde",
        "runs_needed",
    ]
    for comp in out["comparisons"]:
        for key in required:
            assert key in comp, key
        assert comp["mannwhitney_p"] == comp["rank_p"] and comp["wilcoxon_p"] is None
    paired_out = S.analyze({"C": PAIRED_C, "T": PAIRED_T}, S.StatsSettings(paired=True, n_resamples=300)).to_dict()
    (pc,) = paired_out["comparisons"]
    assert pc["rank_p"] == pc["wilcoxon_p"] == pytest.approx(0.03125) and pc["mannwhitney_p"] is None
    assert pc["n_pairs"] == 6 and pc["pair_correlation"] == pytest.approx(0.972, abs=5e-4)


def test_analyze_twenty_variants_fifty_runs_is_fast() -> None:
    rng = np.random.default_rng(0)
    data = {f"v{i}": rng.normal(0.5 + 0.01 * i, 0.1, 50) for i in range(20)}
    S.analyze({"a": data["v0"], "b": data["v1"]})  # warm-up
    for paired_design in (False, True):
        start = time.process_time()  # CPU time: wall time on a shared machine says nothing about the code
        res = S.analyze(data, S.StatsSettings(paired=paired_design, n_resamples=10_000), control="v0")
        cpu = time.process_time() - start
        assert len(res.comparisons) == 19
        assert cpu < 6.0, cpu  # ~0.9 s
