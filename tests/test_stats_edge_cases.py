"""metta_ab.stats on the data that break t-tests: no variance, constant paired differences, zero differences,
infinite scores, a significant difference smaller than the declared minimum effect. Reference numbers come
from brute-force enumeration or scipy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from metta_ab import stats as S
from metta_ab.report.sentences import verdict_sentence

pytestmark = pytest.mark.hydra_independent


def brute_permutation_p(t: list[int], c: list[int]) -> float:
    """Two-sided exact permutation p of the mean difference over every split (scipy's definition:
    twice the smaller tail, capped at 1), in exact integer arithmetic: m sum(T) - n sum(C)."""
    pooled, n, m = [*t, *c], len(t), len(c)
    total = sum(pooled)

    def stat(sum_t: int) -> int:
        return m * sum_t - n * (total - sum_t)

    observed = stat(sum(t))
    null = [stat(sum(pooled[i] for i in idx)) for idx in itertools.combinations(range(n + m), n)]
    greater = sum(s >= observed for s in null) / len(null)
    less = sum(s <= observed for s in null) / len(null)
    return min(1.0, 2 * min(greater, less))


def brute_sign_flip_p(diff: list[int]) -> float:
    """Two-sided exact sign-flip p of the mean paired difference over all 2^n sign vectors."""
    observed = sum(diff)
    null = [
        sum(s * d for s, d in zip(signs, diff, strict=True)) for signs in itertools.product((1, -1), repeat=len(diff))
    ]
    greater = sum(s >= observed for s in null) / len(null)
    less = sum(s <= observed for s in null) / len(null)
    return min(1.0, 2 * min(greater, less))


small_ints = st.lists(st.integers(-3, 3), min_size=2, max_size=5)


@settings(max_examples=60, deadline=None)
@given(small_ints, small_ints)
def test_permutation_p_equals_brute_force(t: list[int], c: list[int]) -> None:
    """Ties everywhere (integers in [-3, 3]): the exact permutation p matches every split enumerated."""
    comp = S.compare(np.array(t, float), np.array(c, float), S.StatsSettings(n_resamples=50))
    assert comp.permutation_exact
    assert comp.permutation_p == pytest.approx(brute_permutation_p(t, c), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), min_size=2, max_size=8))
def test_sign_flip_p_equals_brute_force(pairs: list[tuple[int, int]]) -> None:
    t = np.array([a for a, _ in pairs], float)
    c = np.array([b for _, b in pairs], float)
    comp = S.compare(t, c, S.StatsSettings(paired=True, n_resamples=50))
    assert comp.permutation_p == pytest.approx(brute_sign_flip_p([a - b for a, b in pairs]), abs=1e-12)


def brute_welch_permutation_p(t: list[int], c: list[int]) -> float:
    """Welch's t over every split of the pooled runs (+-inf where both sides are constant), twice the
    smaller tail."""
    pooled, n = np.array([*t, *c], float), len(t)

    def welch(x: np.ndarray, y: np.ndarray) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float((x.mean() - y.mean()) / np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size))

    observed = welch(pooled[:n], pooled[n:])
    null = []
    for idx in itertools.combinations(range(pooled.size), n):
        mask = np.zeros(pooled.size, bool)
        mask[list(idx)] = True
        null.append(welch(pooled[mask], pooled[~mask]))
    arr = np.array(null)
    with np.errstate(invalid="ignore"):
        greater, less = np.mean(arr >= observed - 1e-9), np.mean(arr <= observed + 1e-9)
    return min(1.0, 2 * min(greater, less))


@settings(max_examples=60, deadline=None)
@given(small_ints, small_ints)
def test_the_decision_test_and_its_p(t: list[int], c: list[int]) -> None:
    """No variance: the permutation test of the mean difference. Else Welch's t, its p from all relabellings
    (brute force) when they can reach alpha, from the t distribution when they cannot (3 vs 3 runs)."""
    comp = S.compare(np.array(t, float), np.array(c, float), S.StatsSettings(n_resamples=50))
    assert math.isfinite(comp.p_value)
    if np.var(t) + np.var(c) == 0:
        assert comp.test == "permutation" and comp.p_value == comp.permutation_p
    elif 2 / math.comb(len(t) + len(c), len(t)) <= 0.05:
        assert comp.test == "welch" and comp.p_method == "exact permutation"
        assert comp.p_value == pytest.approx(brute_welch_permutation_p(t, c), abs=1e-12)
    else:
        assert comp.test == "welch" and comp.p_method == "t distribution" and comp.p_value == comp.t_p_value


# ---- zero variance ---------------------------------------------------------------------------------------


def test_zero_variance_in_both_variants_is_decided_by_the_permutation_test() -> None:
    comp = S.compare([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])
    assert sps.ttest_ind([2.0, 2.0, 2.0], [1.0, 1.0, 1.0], equal_var=False).statistic == math.inf  # what scipy says
    assert comp.test == "permutation" and math.isnan(comp.t_p_value) and math.isnan(comp.t_statistic)
    assert comp.p_value == pytest.approx(0.1) == pytest.approx(brute_permutation_p([2, 2, 2], [1, 1, 1]))  # 2 / C(6,3)
    # its CI inverts it: every shift leaves two constant groups apart (p = 0.1 again), none is rejected
    assert comp.difference == 1.0 and comp.difference_ci == (-math.inf, math.inf)
    assert comp.difference_ci_method == "permutation_inversion" and comp.verdict == S.INCONCLUSIVE
    assert any("undefined" in w and "exact permutation test decides (p = 0.1)" in w for w in comp.warnings)
    sentence = verdict_sentence(comp, "reward")
    assert "exact permutation p=0.100" in sentence
    assert "95% CI [-inf, inf] (the shifts the permutation test does not reject)" in sentence
    assert "Welch p<0.001" not in sentence and "nan" not in sentence and "Holm" not in sentence
    assert "the detectable difference cannot be estimated" in sentence
    # with 4 runs each the same data can be significant: 2 / C(8, 4) = 0.0286
    four = S.compare([2.0] * 4, [1.0] * 4)
    assert four.p_value == pytest.approx(2 / 70) and four.verdict == S.BETTER
    assert four.difference_ci == (1.0, 1.0)  # every other shift is rejected at p = 2/70


def test_identical_constant_variants() -> None:
    same = S.compare([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    assert same.test == "permutation" and same.p_value == 1.0 and same.verdict == S.INCONCLUSIVE


def test_constant_paired_difference_is_decided_by_the_sign_flip_test() -> None:
    control = np.array([0.40, 0.52, 0.33, 0.60, 0.47, 0.55])
    comp = S.compare(control + 0.25, control, S.StatsSettings(paired=True))
    assert comp.test == "permutation" and math.isnan(comp.t_p_value)
    assert comp.p_value == pytest.approx(2 / 64) == pytest.approx(brute_sign_flip_p([1] * 6))
    assert comp.difference == pytest.approx(0.25) and comp.verdict == S.BETTER
    assert any("paired differences are all equal" in w for w in comp.warnings)
    five = S.compare(control[:5] + 0.25, control[:5], S.StatsSettings(paired=True))
    assert five.p_value == pytest.approx(2 / 32) and five.verdict == S.INCONCLUSIVE


def test_zero_paired_differences_count_for_the_cannot_reach_alpha_remark() -> None:
    c = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    t = c + np.array([0.11, 0.32, 0.23, 0.54, 0.45, 0.0])  # six pairs, one zero difference
    comp = S.compare(t, c, S.StatsSettings(paired=True))
    # scipy drops the zero (zero_method="wilcox"): five ranks, smallest two-sided p = 2 / 32
    assert sps.wilcoxon(t, c, method="exact").pvalue == pytest.approx(0.0625)
    assert comp.rank_test_p == pytest.approx(0.0625) == pytest.approx(comp.exact_min_p)
    assert comp.zero_differences == 1 and comp.verdict == S.BETTER
    sentence = verdict_sentence(comp, "reward")
    assert "No exact test can reach p < 0.05 with 6 pairs (1 with a zero difference; smallest possible p = 0.0625)" in (
        sentence
    )
    assert sentence.count("exact test") == 1 and not any("smallest possible" in w for w in comp.warnings)
    no_zero = S.compare(t + 0.01, c, S.StatsSettings(paired=True))
    assert no_zero.exact_min_p == pytest.approx(2 / 64) and "exact test" not in verdict_sentence(no_zero, "reward")


def test_the_small_n_remark_is_said_once_and_only_where_it_matters() -> None:
    c = np.array([1.0, 2.0, 3.0, 4.0])
    t = c + np.array([0.30, 0.35, 0.32, 0.31])
    significant = S.compare(t, c, S.StatsSettings(paired=True))  # 4 pairs: smallest sign-flip p 2 / 16 = 0.125
    assert significant.t_p_value == pytest.approx(sps.ttest_rel(t, c).pvalue)
    assert significant.verdict == S.BETTER
    assert significant.permutation_p == pytest.approx(0.125) == pytest.approx(significant.exact_min_p)
    sentence = verdict_sentence(significant, "reward")
    assert (
        "No exact test can reach p < 0.05 with 4 pairs (smallest possible p = 0.125): the verdict rests on the "
        "paired t-test." in sentence
    )
    assert significant.warnings == () and significant.flags == ()
    inconclusive = S.compare(c + np.array([0.3, -0.2, 0.1, 0.0]), c, S.StatsSettings(paired=True))
    assert inconclusive.verdict == S.INCONCLUSIVE and "exact test" not in verdict_sentence(inconclusive, "reward")
    constant = S.compare(
        c + 0.25, c, S.StatsSettings(paired=True)
    )  # the exact test decides: it cannot call a difference
    assert "the exact permutation test cannot call a difference at this N" in verdict_sentence(constant, "reward")
    unpaired = S.compare([10.0, 10.1, 10.2], [0.0, 0.1, 0.2])
    assert "with 3 runs each (smallest possible p = 0.1): the verdict rests on the Welch t-test" in (
        verdict_sentence(unpaired, "reward")
    )


def test_a_significant_difference_below_the_declared_min_effect_says_so() -> None:
    c = np.array([1.00, 1.10, 0.90, 1.05, 0.95, 1.02, 0.98, 1.01])
    t = c + np.array([0.050, 0.052, 0.048, 0.051, 0.049, 0.050, 0.053, 0.047])
    comp = S.compare(t, c, S.StatsSettings(paired=True, min_effect=0.2))
    ci = sps.ttest_rel(t, c).confidence_interval(0.95)
    assert comp.verdict == S.BETTER and comp.below_min_effect
    assert comp.difference_ci == pytest.approx((ci.low, ci.high)) and ci.high < 0.2
    sentence = verdict_sentence(comp, "reward")
    assert sentence.startswith(
        "treatment is better than control on reward by 0.05 (5%), a negligible difference (the whole 95% CI lies "
        "within ±0.2, the smallest difference declared to matter): difference +0.05, 95% CI [0.0483, 0.0517]"
    )
    big = S.compare(t, c, S.StatsSettings(paired=True, min_effect=0.03))  # the CI reaches past 0.03: it may matter
    assert big.verdict == S.BETTER and not big.below_min_effect
    assert "negligible" not in verdict_sentence(big, "reward")


def test_one_comparison_never_prints_a_holm_adjusted_p() -> None:
    res = S.analyze({"A": [1.0, 1.0, 1.0], "B": [1.0, 1.0, 1.0]})
    (comp,) = res.comparisons
    assert comp.family_size == 1 and "Holm" not in verdict_sentence(comp, "x")
    three = S.analyze({"A": [1.0, 2.0, 3.0], "B": [2.0, 3.0, 4.5], "C": [1.5, 2.0, 3.5]})
    assert all(c.family_size == 2 for c in three.comparisons)
    assert all("Holm-adjusted p=" in verdict_sentence(c, "x") for c in three.comparisons)


# ---- infinite scores -------------------------------------------------------------------------------------


def test_infinite_scores_are_ranked_as_extremes_and_left_out_of_mean_tests() -> None:
    control = np.array([0.50, 0.55, 0.45, 0.52, 0.48, 0.51])
    treatment = np.array([0.60, 0.58, -np.inf, 0.62, -np.inf, 0.59])  # two diverged runs
    comp = S.compare(treatment, control)
    assert comp.n_infinite == 2 and comp.test == "mann-whitney"
    # scipy ranks -inf lowest; the two tie, so the exact null is the permutation distribution of U
    ranked = sps.mannwhitneyu(treatment, control, method=sps.PermutationMethod(n_resamples=np.inf))
    assert comp.p_value == pytest.approx(ranked.pvalue) and comp.rank_statistic == ranked.statistic
    finite = treatment[np.isfinite(treatment)]
    welch = sps.ttest_ind(finite, control, equal_var=False)
    assert comp.t_p_value == pytest.approx(welch.pvalue) and comp.n_treatment == 6
    assert comp.difference == pytest.approx(finite.mean() - control.mean())
    expected_prob = np.mean([(x > y) + 0.5 * (x == y) for x in treatment for y in control])
    assert comp.prob_improvement == pytest.approx(expected_prob)
    assert any("2 run(s) with an infinite score" in w and "(4 vs 6 finite)" in w for w in comp.warnings)
    assert comp.verdict == S.INCONCLUSIVE  # the finite runs are higher, the diverged ones lowest


def test_infinite_paired_scores() -> None:
    control = np.array([0.50, 0.55, 0.45, 0.52, 0.48, 0.51, 0.47])
    treatment = control + 0.1
    treatment[2] = np.inf  # diverged upwards: still an improvement of that pair
    comp = S.compare(treatment, control, S.StatsSettings(paired=True))
    assert comp.test == "wilcoxon" and comp.n_infinite == 1 and comp.n_pairs == 7
    diff = treatment - control
    assert comp.p_value == pytest.approx(sps.wilcoxon(diff, method="exact").pvalue)  # 2 / 128
    assert comp.verdict == S.BETTER and comp.effect_sign > 0


# ---- scale-free numerics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("paired", [False, True])
def test_scores_near_1e12_have_the_variance_they_have(paired: bool) -> None:
    """1e12 + [0..4] vs 1e12 + [-1..3] (SD 1.58 each) is not "no variance": the t-test, its CI and p are scipy's,
    the same as at 0 + [0..4] vs 0 + [-1..3]."""
    t = np.arange(5.0)
    c = np.array([-1.0, 1.0, 0.0, 2.0, 3.0]) if paired else np.arange(-1.0, 4.0)  # paired: differences vary
    ref = sps.ttest_rel(t, c) if paired else sps.ttest_ind(t, c, equal_var=False)
    ci = ref.confidence_interval(0.95)
    near = S.compare(1e12 + t, 1e12 + c, S.StatsSettings(paired=paired))
    assert near.test == ("paired_t" if paired else "welch") and near.t_test == near.test
    assert near.t_p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert near.t_statistic == pytest.approx(ref.statistic, rel=1e-12) and near.t_df == pytest.approx(ref.df)
    if paired:  # the paired t decides: its CI
        assert near.difference_ci == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert near.difference == pytest.approx(float(np.mean(t) - np.mean(c)), abs=0)
    at_zero = S.compare(t, c, S.StatsSettings(paired=paired))
    assert (near.p_value, near.permutation_p, near.rank_test_p) == (
        at_zero.p_value,
        at_zero.permutation_p,
        at_zero.rank_test_p,
    )
    if not paired:  # 5 vs 5 runs: p from all 252 relabellings of Welch's t
        assert near.p_value == pytest.approx(brute_welch_permutation_p(list(t), list(c)))
        assert near.difference_ci_method == "permutation_inversion" and near.difference_ci == at_zero.difference_ci
        assert near.permutation_p == pytest.approx(brute_permutation_p([0, 1, 2, 3, 4], [-1, 0, 1, 2, 3]))
    assert not any("undefined" in w for w in near.warnings)


def test_rounding_noise_is_still_no_variance() -> None:
    """x + 0.25 - x varies in the last bits: the paired differences are constant, and the exact test decides."""
    control = np.array([0.1, 0.2, 0.3, 0.7, 0.9, 1.3])
    comp = S.compare(control + 0.25, control, S.StatsSettings(paired=True))
    assert np.ptp((control + 0.25) - control) > 0  # the noise is there
    assert comp.test == "permutation" and comp.p_value == pytest.approx(2 / 64)


grid_scores = st.lists(st.integers(-640, 640), min_size=2, max_size=6)


@settings(max_examples=60, deadline=None)
@given(
    grid_scores,
    grid_scores,
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.integers(-40, 40),
)
def test_offset_and_power_of_two_scale_leave_the_analysis_unchanged(
    t: list[int], c: list[int], paired: bool, offset: int, power: int
) -> None:
    """Scores k / 64 moved by up to 1e12 and scaled by 2^power (exactly representable): the same tests, p-values
    and verdict; the CIs scale (a difference does not move with the offset)."""
    if paired:
        t, c = t[: len(c)], c[: len(t)]
    x, y = np.array(t) / 64, np.array(c) / 64
    scale = 2.0**power
    base = S.compare(x, y, S.StatsSettings(paired=paired, n_resamples=200))
    moved = S.compare((x + offset) * scale, (y + offset) * scale, S.StatsSettings(paired=paired, n_resamples=200))
    assert (moved.test, moved.p_method, moved.verdict, moved.flags) == (
        base.test,
        base.p_method,
        base.verdict,
        base.flags,
    )
    for name in ("p_value", "t_p_value", "permutation_p", "rank_test_p", "t_statistic", "hedges_g", "exact_min_p"):
        assert getattr(moved, name) == pytest.approx(getattr(base, name), rel=1e-12, nan_ok=True), name
    for name in ("difference_ci", "bootstrap_difference_ci", "iqm_difference_ci"):
        assert np.asarray(getattr(moved, name)) == pytest.approx(
            np.asarray(getattr(base, name)) * scale, rel=1e-12, nan_ok=True
        ), name
    assert moved.difference == pytest.approx(base.difference * scale, rel=1e-12, abs=0)
    assert moved.mean_control == pytest.approx((base.mean_control + offset) * scale, rel=1e-15)
    assert len(moved.warnings) == len(base.warnings)


@pytest.mark.parametrize(
    "control, shown",
    [
        ([-0.30, -0.20, -0.25, -0.28, -0.22], False),  # a negative mean: +1.08 is not "432%" better
        ([0.40, -0.35, 0.05, -0.02, -0.03], False),  # a mean of 0.01 for an SD of 0.28: "11800%"
        ([0.40, 0.52, 0.33, 0.60, 0.47], True),  # positive, well above its spread
    ],
)
def test_a_percentage_only_of_a_mean_well_above_zero(control, shown) -> None:
    c = np.array(control)
    comp = S.compare(
        c + 1.08 + np.array([0.01, -0.01, 0.02, -0.02, 0.0]), c, S.StatsSettings(paired=True)
    )  # mean +1.08
    sentence = verdict_sentence(comp, "reward")
    if shown:
        assert comp.difference_pct == pytest.approx(100 * 1.08 / np.mean(c))
        assert f"by 1.08 ({100 * 1.08 / np.mean(c):.0f}%): " in sentence
    else:
        assert math.isnan(comp.difference_pct) and "by 1.08: difference +1.08" in sentence
