"""The CI printed beside a verdict agrees with the test that decided it: alone and after Holm."""

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
from metta_ab.stats.intervals import PermutationInversion, ci_significance

#: Skewed scores on a grid (ties happen): exp(k / 4), k in -8..8, as lognormal returns are.
skewed_runs = st.lists(st.integers(-8, 8), min_size=4, max_size=8).map(lambda ks: np.exp(np.array(ks) / 4.0))
#: A review's example: Welch's t CI [-1.51, 10.7] contains 0, the permutation p of Welch's t is 0.039.
SKEWED_T = [16.93, 2.03, 6.16, 0.4, 4.34, 4.9]
SKEWED_C = [4.73, 0.98, 0.3, 0.84, 0.11, 0.18]


def excludes_zero(ci: tuple[float, float]) -> bool:
    return ci[0] > 0 or ci[1] < 0


def test_the_permutation_decision_gets_the_interval_that_inverts_it() -> None:
    welch_ci = sps.ttest_ind(SKEWED_T, SKEWED_C, equal_var=False).confidence_interval(0.95)
    assert welch_ci.low < 0 < welch_ci.high  # what was printed beside "better" before
    comp = S.compare(SKEWED_T, SKEWED_C)
    assert comp.p_method == "exact permutation" and comp.p_value == pytest.approx(6 / 154) and comp.verdict == S.BETTER
    assert comp.difference_ci_method == "permutation_inversion" and 0 < comp.difference_ci[0] < comp.difference
    sentence = verdict_sentence(comp, "reward")
    assert "95% CI [0.22, 10.4] (the shifts the permutation test does not reject)" in sentence
    assert comp.to_dict()["difference_ci_method"] == "permutation_inversion" and "interval" not in comp.to_dict()


@settings(max_examples=80, deadline=None)
@given(skewed_runs, skewed_runs, st.integers(0, 12))
def test_a_single_comparison_never_contradicts_its_ci(t: np.ndarray, c: np.ndarray, shift: int) -> None:
    comp = S.compare(t * math.exp(shift / 4.0), c, S.StatsSettings(n_resamples=20))
    if not math.isfinite(comp.p_value):
        return
    assert excludes_zero(comp.difference_ci) == (comp.p_value < 0.05), comp
    assert (comp.verdict in (S.BETTER, S.WORSE)) == excludes_zero(comp.difference_ci)
    expected = "permutation_inversion" if comp.p_method.endswith("permutation") else "welch_t"
    assert comp.difference_ci_method == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(skewed_runs, min_size=3, max_size=4), st.lists(st.integers(0, 12), min_size=4, max_size=4))
def test_holm_adjusted_decisions_never_contradict_their_cis(runs: list[np.ndarray], shifts: list[int]) -> None:
    values = {f"v{i}": x * math.exp(shift / 4.0) for i, (x, shift) in enumerate(zip(runs, shifts, strict=False))}
    analysis = S.analyze(values, S.StatsSettings(n_resamples=20))
    for comp in analysis.comparisons:
        assert comp.family_size == len(runs) - 1
        significance = ci_significance(0.95, 0.05, comp.p_value, comp.p_adjusted, comp.family_size)
        assert comp.difference_ci_level == 1 - significance
        assert excludes_zero(comp.difference_ci) == (comp.p_adjusted < 0.05), comp
        assert (comp.verdict in (S.BETTER, S.WORSE)) == excludes_zero(comp.difference_ci)


def test_the_holm_level_lies_between_the_unadjusted_and_bonferroni() -> None:
    p = np.array([0.004, 0.02, 0.3])
    adjusted = S.holm(p)  # 0.012, 0.04, 0.3
    significances = [ci_significance(0.95, 0.05, raw, adj, 3) for raw, adj in zip(p, adjusted, strict=True)]
    assert significances == pytest.approx([0.05 / 3, 0.05 / 2, 0.05])
    assert ci_significance(0.95, 0.05, 0.0, 0.0, 3) == pytest.approx(0.05 / 3)  # p underflowed: Bonferroni's
    assert ci_significance(0.95, 0.05, 0.01, 0.03, 1) == 0.05  # alone: alpha itself, not 1 - 0.95
    assert ci_significance(0.9, 0.05, 0.01, 0.03, 1) == pytest.approx(0.1)  # a CI level that is not 1 - alpha


def test_a_p_of_exactly_alpha_is_kept_by_the_verdict_and_by_the_ci() -> None:
    """3 vs 7 runs, all 120 relabellings: the smallest tail is 3 of them, p = 0.05 exactly (not < alpha).
    The CI's threshold is alpha, not 1 - 0.95 = 0.050000000000000044, under which the CI excluded 0."""
    comp = S.compare([17.0, 12.0, 10.0], [5.0, 6.0, 0.0, 1.0, 0.0, 3.0, 16.0], S.StatsSettings(n_resamples=20))
    assert comp.p_method == "exact permutation" and comp.p_value == 0.05 and comp.verdict == S.INCONCLUSIVE
    assert comp.difference_ci[0] <= 0 <= comp.difference_ci[1]
    assert comp.interval is not None and excludes_zero(comp.interval.at(1 - 0.95))


def test_paired_holm_ci_is_the_paired_t_interval_at_the_adjusted_level() -> None:
    rng = np.random.default_rng(4)
    base = rng.normal(0, 1, 8)
    values = {"A": base, "B": base + rng.normal(0.9, 0.5, 8), "C": base + rng.normal(0.2, 0.5, 8)}
    analysis = S.analyze(values, S.StatsSettings(paired=True, n_resamples=20))
    for comp in analysis.comparisons:
        ref = sps.ttest_rel(values[comp.treatment], values["A"]).confidence_interval(comp.difference_ci_level)
        assert comp.difference_ci_method == "paired_t" and comp.difference_ci == pytest.approx((ref.low, ref.high))
        assert comp.difference_ci_level >= 0.95  # Holm's last step multiplies the largest p by 1
        assert "95% CI adjusted for 2 comparisons [" in verdict_sentence(comp, "reward")
        assert "(Holm: at the " in verdict_sentence(comp, "reward")
    assert max(comp.difference_ci_level for comp in analysis.comparisons) > 0.95


# ---- the inversion against a brute-force reference --------------------------------------------------------


def brute_welch_p_by_shift(t: np.ndarray, c: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Two-sided p (twice the smaller tail) of Welch's t over every split of the pooled runs, computed
    directly on (t - delta, c) for each delta."""
    n, size = t.size, t.size + c.size
    splits = np.array([[i in chosen for i in range(size)] for chosen in itertools.combinations(range(size), n)])
    out = []
    for delta in deltas:
        pooled = np.concatenate([t - delta, c])
        x = np.where(splits, pooled, np.nan)
        y = np.where(~splits, pooled, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            null = (np.nanmean(x, 1) - np.nanmean(y, 1)) / np.sqrt(
                np.nanvar(x, 1, ddof=1) / n + np.nanvar(y, 1, ddof=1) / c.size
            )
            observed = null[0]  # the first split is the observed one
            tail = min(np.mean(null >= observed - 1e-9), np.mean(null <= observed + 1e-9))
        out.append(min(1.0, 2 * tail))
    return np.array(out)


@pytest.mark.parametrize(
    ("t", "c"),
    [
        (SKEWED_T, SKEWED_C),
        ([0.58, 0.66, 0.49, 0.72, 0.53, 0.81, 0.60, 0.44], [0.42, 0.55, 0.31, 0.61, 0.48]),  # stats-spec's
        ([1.2, 3.9, 0.7, 2.2, 8.5], [0.9, 1.1, 0.4, 1.6, 0.8, 0.5, 1.3]),
    ],
)
def test_the_inversion_is_the_set_of_shifts_the_test_accepts(t: list[float], c: list[float]) -> None:
    t_arr, c_arr = np.array(t), np.array(c)
    comp = S.compare(t_arr, c_arr, S.StatsSettings(n_resamples=20))
    assert comp.p_method == "exact permutation" and comp.difference_ci_method == "permutation_inversion"
    low, high = comp.difference_ci
    spread = high - low
    step = spread / 400
    deltas = np.arange(low - 0.25 * spread, high + 0.25 * spread, step)
    accepted = deltas[brute_welch_p_by_shift(t_arr, c_arr, deltas) >= 0.05]
    assert accepted.min() - step <= low <= accepted.min() + 1e-9
    assert accepted.max() - 1e-9 <= high <= accepted.max() + step
    assert accepted.size == pytest.approx((accepted.max() - accepted.min()) / step + 1, abs=0.5)  # an interval


def test_the_random_relabelling_case_inverts_the_same_relabellings() -> None:
    """10 vs 10 runs (184,756 splits): 10,000 seeded relabellings, the same for every shift. Each end is where
    that test's p crosses 1 - level, and p(0) is the decision's."""
    rng = np.random.default_rng(11)
    t, c = rng.lognormal(0.6, 1, 10), rng.lognormal(0, 1, 10)
    comp = S.compare(t, c, S.StatsSettings(n_resamples=20))
    assert comp.p_method == "permutation" and comp.difference_ci_method == "permutation_inversion"
    assert isinstance(comp.interval, PermutationInversion)
    test = comp.interval.test
    assert test.p_value(0.0) == comp.p_value and not test.exact
    low, high = comp.difference_ci
    eps = 1e-5 * test.standard_error
    assert test.p_value(low) >= 0.05 > test.p_value(low - eps)
    assert test.p_value(high) >= 0.05 > test.p_value(high + eps)
    assert excludes_zero((low, high)) == (test.p_value(0.0) < 0.05)
