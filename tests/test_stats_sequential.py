"""Group-sequential decisions (metta_ab.stats.sequential): the boundaries against an independent multivariate
normal integration, the overall false-positive rate of the t-scale rule by a seeded simulation, Holm across
comparisons, futility, resuming from saved decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from metta_ab.stats import StatsSettings
from metta_ab.stats import sequential as SQ

pytestmark = pytest.mark.hydra_independent


def joint_continue_probability(bounds, fractions) -> float:
    """P(|Z_j| < c_j for every look) by scipy's multivariate normal CDF (Genz), corr = sqrt(t_i / t_j)."""
    t = np.asarray(fractions)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    c = np.asarray(bounds)
    mvn = sps.multivariate_normal(mean=np.zeros(t.size), cov=cov, seed=1, maxpts=2_000_000, abseps=1e-6, releps=1e-6)
    return float(mvn.cdf(c, lower_limit=-c))


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock", "hsd:-2", "hsd:1"])
@pytest.mark.parametrize(("n_max", "k"), [(15, 5), (20, 5), (30, 10), (12, 4)])
def test_boundaries_spend_exactly_alpha(spending: str, n_max: int, k: int) -> None:
    design = SQ.sequential_design(n_max, k, 0.05, spending)
    assert design.runs_at_look == tuple(range(k, n_max + 1, k))
    # the numerical integration and an independent multivariate normal integration agree on the total
    assert SQ.crossing_probabilities(design.z_bounds, design.fractions).sum() == pytest.approx(0.05, abs=1e-6)
    assert 1.0 - joint_continue_probability(design.z_bounds, design.fractions) == pytest.approx(0.05, abs=5e-4)
    # per look: the increments of the spending function
    per_look = SQ.crossing_probabilities(design.z_bounds, design.fractions)
    assert np.allclose(np.cumsum(per_look), design.cumulative_alpha, atol=1e-6)
    assert all(0 < p < 0.05 for p in design.nominal_p[:-1])


def test_known_boundaries() -> None:
    """Lan-DeMets O'Brien-Fleming type, 3 equally spaced looks, two-sided .05: first look at
    2 - 2 Phi(1.96 sqrt 3) (z = 3.3948); the last critical value is a little above 1.96 (2.015)."""
    design = SQ.sequential_design(15, 5, 0.05, "obrien-fleming")
    assert design.z_bounds[0] == pytest.approx(sps.norm.isf(sps.norm.sf(1.959964 * math.sqrt(3))), abs=1e-4)
    assert design.z_bounds[2] == pytest.approx(2.015, abs=2e-3)
    # Pocock type: nearly constant nominal levels, each above alpha / K
    pocock = SQ.sequential_design(15, 5, 0.05, "pocock")
    assert max(pocock.nominal_p) - min(pocock.nominal_p) < 0.002
    assert min(pocock.nominal_p) > 0.05 / 3
    # one look is the fixed design
    assert SQ.sequential_design(10, 10, 0.05).nominal_p == pytest.approx((0.05,))


def test_drift_gives_power() -> None:
    design = SQ.sequential_design(20, 5, 0.05, "pocock")
    assert SQ.crossing_probabilities(design.z_bounds, design.fractions, drift=3.0).sum() > 0.7
    assert SQ.crossing_probabilities(design.z_bounds, design.fractions, drift=0.0).sum() < 0.0500001


@pytest.mark.parametrize(("paired", "n_max", "k"), [(True, 15, 5), (False, 15, 5), (True, 30, 10)])
def test_t_scale_rule_keeps_alpha_over_all_looks(paired: bool, n_max: int, k: int) -> None:
    """20,000 seeded A/A experiments of normal scores, the t-test's p at every look against the nominal levels
    (vectorized): the overall rate is within 0.0045 (3 binomial SE) of alpha. Peeking at level alpha would not."""
    design = SQ.sequential_design(n_max, k, 0.05)
    rng = np.random.default_rng(13)
    a, b = rng.normal(size=(2, 20_000, n_max))
    rejected = np.zeros(20_000, bool)
    naive = np.zeros(20_000, bool)
    for n, level in zip(design.runs_at_look, design.nominal_p, strict=True):
        if paired:
            p = sps.ttest_rel(a[:, :n], b[:, :n], axis=1).pvalue
        else:
            p = sps.ttest_ind(a[:, :n], b[:, :n], axis=1, equal_var=False).pvalue
        rejected |= p < level
        naive |= p < 0.05
    assert abs(rejected.mean() - 0.05) < 0.0045, rejected.mean()
    assert naive.mean() > 0.075


def test_decide_look_matches_the_vectorized_rule() -> None:
    design = SQ.sequential_design(15, 5, 0.05)
    rng = np.random.default_rng(5)
    for _ in range(60):
        c, t = rng.normal(size=15), rng.normal(0.8, 1.0, 15)
        history = SQ.run_sequential({"c": c, "t": t}, design, StatsSettings(paired=True))
        expected = None
        for look, (n, level) in enumerate(zip(design.runs_at_look, design.nominal_p, strict=True), start=1):
            if sps.ttest_rel(t[:n], c[:n]).pvalue < level:
                expected = look
                break
        final = history[-1].comparisons[0]
        if expected is None:
            assert final.decision == "inconclusive" and len(history) == 3 and history[-1].reason == "max runs"
        else:
            assert final.decided_at == expected == len(history)
            assert final.decision == ("better" if np.mean(t[:n] - c[:n]) > 0 else "worse")
            assert history[-1].reason == "decided"
        assert SQ.runs_used(history, ["c", "t"]) == {"c": 5 * len(history), "t": 5 * len(history)}


def _welch(x, y, axis=-1):
    return sps.ttest_ind(x, y, axis=axis, equal_var=False).statistic


def test_unpaired_look_p_is_welchs_t_by_permutation_where_it_can_reach_the_level() -> None:
    """Independent seeds: at 5 vs 5 runs the p of every look is scipy's exact permutation p of Welch's t (252
    relabellings), also on skewed scores; at 2 vs 2 (6 relabellings, none below the level) it is Welch's t
    distribution p; resumed decisions keep the method."""
    design = SQ.sequential_design(10, 5, 0.05)
    rng = np.random.default_rng(8)
    for _ in range(20):
        c, t = rng.lognormal(size=10), rng.lognormal(size=10) + rng.uniform(0, 3)
        history = SQ.run_sequential({"c": c, "t": t}, design, StatsSettings(paired=False))
        first = history[0].comparisons[0]
        exact = sps.permutation_test((t[:5], c[:5]), _welch, permutation_type="independent", n_resamples=np.inf)
        assert first.p == pytest.approx(exact.pvalue, rel=1e-9)
        assert first.p_method == "exact permutation"
        assert first.statistic == pytest.approx(_welch(t[:5], c[:5]))
    small = SQ.sequential_design(4, 2, 0.05)
    c, t = np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0, 7.0, 8.0, 9.0])
    history = SQ.run_sequential({"c": c, "t": t}, small, StatsSettings(paired=False))
    assert history[0].comparisons[0].p_method == "t distribution"
    assert history[0].comparisons[0].p == pytest.approx(sps.ttest_ind(t[:2], c[:2], equal_var=False).pvalue)
    saved = SQ.LookDecision.from_dict(history[0].to_dict())
    assert saved.to_dict() == history[0].to_dict()
    old_file = history[0].to_dict()  # looks.json written before the method was recorded
    del old_file["comparisons"][0]["p_method"]
    assert SQ.LookDecision.from_dict(old_file).comparisons[0].p_method == "t distribution"


def test_direction_min_and_worse() -> None:
    design = SQ.sequential_design(10, 5, 0.05)
    c, t = np.arange(10.0), np.arange(10.0) + 5 + np.linspace(0, 0.1, 10)
    assert (
        SQ.run_sequential({"c": c, "t": t}, design, StatsSettings(paired=True))[-1].comparisons[0].decision == "better"
    )
    assert (
        SQ.run_sequential({"c": c, "t": t}, design, StatsSettings(paired=True, direction="min"))[-1]
        .comparisons[0]
        .decision
        == "worse"
    )


def test_holm_frees_alpha_for_the_other_comparisons() -> None:
    """Two treatments: one clearly better, one whose p lies between the alpha/2 and the alpha boundaries of the
    last look. Holm rejects the first, then tests the second at the full level and rejects it too."""
    design = SQ.sequential_design(10, 5, 0.05)
    full, half = design.nominal_p[-1], SQ.sequential_design(10, 5, 0.025).nominal_p[-1]
    rng = np.random.default_rng(0)
    c = rng.normal(size=10)
    big = c + 10 + rng.normal(0, 0.1, 10)
    for shift in np.linspace(0.2, 2, 400):  # find a treatment with half < p < full at 10 pairs, not before
        noise = np.random.default_rng(int(shift * 1000)).normal(size=10)
        mid = c + shift + noise
        p5, p10 = sps.ttest_rel(mid[:5], c[:5]).pvalue, sps.ttest_rel(mid, c).pvalue
        if half < p10 < full and p5 > 0.05:
            break
    else:
        pytest.fail("no example found")
    alone = SQ.run_sequential({"c": c, "mid": mid, "other": c + noise[::-1]}, design, StatsSettings(paired=True))
    together = SQ.run_sequential({"c": c, "mid": mid, "big": big}, design, StatsSettings(paired=True))
    assert alone[-1].comparisons[0].decision == "inconclusive"
    decisions = {x.treatment: x.decision for x in together[-1].comparisons}
    assert decisions == {"mid": "better", "big": "better"}
    assert together[-1].comparisons[0].level == pytest.approx(full)
    # the decided comparison's treatment gets no more runs; the control continues for the open one
    assert together[0].open_variants == ("c", "mid")
    assert SQ.runs_used(together, ["c", "mid", "big"]) == {"c": 10, "mid": 10, "big": 5}


def test_each_treatment_is_tested_against_its_own_control_scores() -> None:
    """``control_scores`` (a suite's paired run means, over the tasks both runs of a pair have): each treatment's
    test is the one against its own control scores, as if that control had been ``scores[control]``."""
    design = SQ.sequential_design(10, 5)
    rng = np.random.default_rng(3)
    c, t1, t2 = rng.normal(size=(3, 5))
    c1, c2 = c + 0.1 * rng.normal(size=5), c - 0.1 * rng.normal(size=5)
    look = SQ.decide_look(
        {"c": c, "t1": t1, "t2": t2}, design, 1, StatsSettings(paired=True), control_scores={"t1": c1, "t2": c2}
    )
    for comparison, alone in zip(look.comparisons, ({"c": c1, "t1": t1}, {"c": c2, "t2": t2}), strict=True):
        single = SQ.decide_look(alone, design, 1, StatsSettings(paired=True)).comparisons[0]
        assert (comparison.p, comparison.difference) == (single.p, single.difference)


def test_family_wise_rate_three_variants() -> None:
    design = SQ.sequential_design(15, 5, 0.05)
    rng = np.random.default_rng(3)
    calls = 0
    for _ in range(500):
        scores = {v: rng.normal(size=15) for v in ("c", "a", "b")}
        history = SQ.run_sequential(scores, design, StatsSettings(paired=True))
        calls += any(x.decision in ("better", "worse") for x in history[-1].comparisons)
    assert 0.015 <= calls / 500 <= 0.08, calls / 500


def test_futility_by_equivalence() -> None:
    design = SQ.sequential_design(20, 5, 0.05)
    rng = np.random.default_rng(1)
    c = rng.normal(10, 1, 20)
    t = c + rng.normal(0, 0.01, 20)
    history = SQ.run_sequential({"c": c, "t": t}, design, StatsSettings(paired=True, min_effect=0.5))
    assert history[-1].stop and history[-1].reason == "futility" and len(history) == 1
    assert history[-1].comparisons[0].decision == "equivalent"
    # without a declared minimum effect there is no futility stop
    assert len(SQ.run_sequential({"c": c, "t": t}, design, StatsSettings(paired=True))) == 4


def test_resume_from_saved_decisions_is_the_same_decision() -> None:
    design = SQ.sequential_design(20, 5, 0.05)
    rng = np.random.default_rng(2)
    scores = {"c": rng.normal(size=20), "t": rng.normal(0.7, 1, 20)}
    history = SQ.run_sequential(scores, design, StatsSettings(paired=True))
    saved = [SQ.LookDecision.from_dict(h.to_dict()) for h in history]
    for look in range(1, len(history) + 1):
        again = SQ.decide_look(scores, design, look, StatsSettings(paired=True), history=saved[: look - 1])
        assert again.to_dict() == history[look - 1].to_dict()
    with pytest.raises(ValueError, match="earlier look"):
        SQ.decide_look(scores, design, 2, StatsSettings(paired=True))


@pytest.mark.parametrize(
    ("n_max", "k", "message"),
    [(15, 1, "at least 2"), (16, 5, "multiple of runs_per_look"), (3, 5, "multiple"), (10.0, 5, "integer")],
)
def test_schedule_validation(n_max, k, message) -> None:
    with pytest.raises(ValueError, match=message):
        SQ.sequential_design(n_max, k)


def test_bad_spending() -> None:
    with pytest.raises(ValueError, match="hsd:<gamma>"):
        SQ.sequential_design(10, 5, 0.05, "linear")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=10, max_size=10),
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=10, max_size=10),
    st.booleans(),
)
def test_decisions_never_change_and_failed_runs_are_tolerated(c, t, paired) -> None:
    c, t = np.array(c), np.array(t)
    t[3] = np.nan  # a failed run
    design = SQ.sequential_design(10, 5, 0.05)
    history = SQ.run_sequential({"c": c, "t": t}, design, StatsSettings(paired=paired))
    first = next((h.look for h in history if h.comparisons[0].decision != "continue"), None)
    if first is not None:
        assert all(h.comparisons[0].decision == history[-1].comparisons[0].decision for h in history[first - 1 :])
    assert history[-1].stop
    assert history[-1].comparisons[0].decision in ("better", "worse", "inconclusive")


def stagewise_tail_by_genz(drift, z, bounds, fractions) -> float:
    """The stage-wise tail from scipy's multivariate normal CDF: an exit above c_j at a look j < k after
    |Z_i| < c_i before it, or |Z_i| < c_i before look k and Z_k >= z; E Z_j = drift sqrt(t_j)."""
    t = np.asarray(fractions)
    total = 0.0
    for j in range(t.size):
        upper = np.array([*bounds[:j], math.inf])
        lower = np.array([-c for c in bounds[:j]] + [bounds[j] if j < t.size - 1 else z])
        tj = t[: j + 1]
        cov = np.sqrt(np.minimum.outer(tj, tj) / np.maximum.outer(tj, tj))
        mvn = sps.multivariate_normal(mean=drift * np.sqrt(tj), cov=cov, seed=1, abseps=1e-8, releps=1e-8)
        total += (
            float(mvn.cdf(upper, lower_limit=lower)) if j else float(sps.norm.sf(lower[0] - drift * np.sqrt(tj[0])))
        )
    return total


@pytest.mark.parametrize(("drift", "z", "look"), [(0.0, 2.5, 2), (2.0, 2.1, 2), (3.0, -1.0, 3), (1.0, 2.3, 3)])
def test_stagewise_tail_matches_the_multivariate_normal_cdf(drift, z, look) -> None:
    design = SQ.sequential_design(20, 5)  # 4 looks
    bounds, fractions = design.z_bounds[: look - 1], design.fractions[:look]
    expected = stagewise_tail_by_genz(drift, z, bounds, fractions)
    assert SQ.stagewise_tail(drift, z, bounds, fractions) == pytest.approx(expected, abs=2e-6)


def test_one_look_median_unbiased_estimate_is_the_observed_one() -> None:
    """A fixed design (one look): the stage-wise ordering is the ordering of z, so the estimate is the observed
    drift and the CI the usual z interval."""
    fixed = SQ.sequential_design(10, 10)
    for z in (-2.7, 0.4, 3.1):
        median, low, high = SQ.stagewise_estimate(z, (), fixed.fractions, 0.9)
        half = sps.norm.ppf(0.95)
        assert (median, low, high) == pytest.approx((z, z - half, z + half), abs=1e-7)


@pytest.mark.parametrize(("drift", "ci_level"), [(2.5, 0.95), (1.0, 0.8)])
def test_median_unbiased_estimate_by_monte_carlo(drift, ci_level) -> None:
    """Brute force over the design's own z paths (independent normal increments, 3 looks at the default
    spending): the estimate lies above the true drift in half of the experiments and its CI covers it at
    ci_level, where the observed drift of an early stop is too large. The estimate lies above the drift exactly
    when the stage-wise tail at the drift is below 1/2 (monotone), so every path is checked through the tail and
    a subset also through the estimate itself."""
    design = SQ.sequential_design(15, 5)
    t = np.asarray(design.fractions)
    rng = np.random.default_rng(7)
    increments = rng.normal(0.0, 1.0, (2000, t.size)) * np.sqrt(np.diff(t, prepend=0.0)) + drift * np.diff(
        t, prepend=0.0
    )
    z_paths = np.cumsum(increments, axis=1) / np.sqrt(t)
    crossed = np.abs(z_paths) >= np.asarray(design.z_bounds)
    stop = np.where(crossed.any(axis=1), crossed.argmax(axis=1), t.size - 1)  # 0-based look of the stop
    z_stop = z_paths[np.arange(len(stop)), stop]
    tails = np.array(
        [
            SQ.stagewise_tail(drift, z, design.z_bounds[:k], design.fractions[: k + 1])
            for k, z in zip(stop, z_stop, strict=True)
        ]
    )
    alpha = 1 - ci_level
    assert np.mean(tails < 0.5) == pytest.approx(0.5, abs=0.035)  # P(estimate > drift): SE 0.011
    assert np.mean((tails > alpha / 2) & (tails < 1 - alpha / 2)) == pytest.approx(ci_level, abs=0.03)
    early = stop < t.size - 1
    naive = z_stop / np.sqrt(t[stop])
    assert np.median(naive[early]) > drift  # the observed drift of an early stop overstates it
    for k, z, tail in list(zip(stop, z_stop, tails, strict=True))[:12]:
        median, low, high = SQ.stagewise_estimate(z, design.z_bounds[:k], design.fractions[: k + 1], ci_level)
        assert (median > drift) == (tail < 0.5) and (low < drift < high) == (alpha / 2 < tail < 1 - alpha / 2)
        assert SQ.stagewise_tail(median, z, design.z_bounds[:k], design.fractions[: k + 1]) == pytest.approx(0.5)


def test_early_stop_estimate_from_the_looks() -> None:
    """A comparison decided at look 2 of 3: the estimate on the difference scale is the drift estimate times
    the standard error the look's p implies; none for a comparison that ran to the last look."""
    design = SQ.sequential_design(15, 5)
    for seed in range(500):
        rng = np.random.default_rng(seed)
        a = rng.normal(0, 1, 15)
        history = SQ.run_sequential({"A": a, "B": a + 1.0 + rng.normal(0, 1, 15)}, design, StatsSettings(paired=True))
        if len(history) == 2 and history[-1].comparisons[0].decision == SQ.BETTER:
            break
    estimate = SQ.early_stop_estimate(history, "B", design, 0.95)
    look1, look2 = (h.comparisons[0] for h in history)
    z = sps.norm.isf(look2.p / 2)
    median, low, high = SQ.stagewise_estimate(z, [sps.norm.isf(look1.level / 2)], design.fractions[:2])
    scale = math.sqrt(design.fractions[1]) * look2.difference / z
    assert estimate.look == 2 and estimate.naive == look2.difference
    assert estimate.median_unbiased == pytest.approx(median * scale) and estimate.median_unbiased < look2.difference
    assert estimate.ci == pytest.approx((low * scale, high * scale))
    assert SQ.early_stop_estimate(history[:1], "B", design) is None  # still open after look 1
    to_the_end = SQ.run_sequential(
        {"A": a, "B": a + rng.normal(0, 1, 15)}, SQ.sequential_design(10, 5), StatsSettings(paired=True)
    )
    assert to_the_end[-1].comparisons[0].decided_at in (None, 2)
    assert SQ.early_stop_estimate(to_the_end, "B", SQ.sequential_design(10, 5)) is None


def test_two_sided_spending_against_the_per_side_form_of_gsdesign_and_rpact() -> None:
    """The README's numbers: O'Brien-Fleming-type spending at 5 looks, two-sided here, and the same integration
    fed gsDesign's and rpact's per-side form (the function at alpha/2 on each side) gives their boundaries; a
    spending function linear in alpha is the same design in both forms."""
    ours = SQ.sequential_design(10, 2, 0.05, "obrien-fleming")
    assert ours.z_bounds == pytest.approx([4.383, 3.100, 2.553, 2.254, 2.064], abs=6e-4)
    t = np.asarray(ours.fractions)
    per_side = 2 * (2 - 2 * sps.norm.cdf(sps.norm.isf(0.025 / 2) / np.sqrt(t)))  # both sides together
    theirs = SQ._z_boundaries(tuple(t), tuple(np.diff(per_side, prepend=0.0)))
    assert theirs == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=6e-4)
    for spending in ("hsd:0", "pocock"):
        per_side = 2 * SQ.spent_alpha(t, 0.025, spending)
        assert SQ.sequential_design(10, 2, 0.05, spending).z_bounds == pytest.approx(
            SQ._z_boundaries(tuple(t), tuple(np.diff(per_side, prepend=0.0))), abs=1e-9
        )
