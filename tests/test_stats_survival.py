"""Censored times to a threshold (metta_ab.stats.survival): Kaplan-Meier medians and the log-rank test,
checked against hand-computed Kaplan-Meier products and an independent log-rank computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logrank_reference import brute_force_p

from metta_ab import stats as S
from metta_ab.report.sentences import time_verdict_sentence
from metta_ab.stats.survival import cox_hazard_ratio

pytestmark = pytest.mark.hydra_independent


def logrank_by_hand(t: np.ndarray, t_cens: np.ndarray, c: np.ndarray, c_cens: np.ndarray) -> tuple[float, float]:
    """Z = (O - E) / sqrt(V) of the first group over the distinct event times (hypergeometric variance)."""
    from scipy import stats as sps

    o_minus_e = variance = 0.0
    times = np.concatenate([t, c])
    events = np.concatenate([~t_cens, ~c_cens])
    group = np.concatenate([np.ones(t.size, bool), np.zeros(c.size, bool)])
    for step in np.unique(times[events]):
        at_risk = times >= step
        n, n1 = at_risk.sum(), (at_risk & group).sum()
        d = (events & (times == step)).sum()
        d1 = (events & (times == step) & group).sum()
        o_minus_e += d1 - d * n1 / n
        if n > 1:
            variance += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    if variance == 0:
        return math.nan, math.nan
    z = o_minus_e / math.sqrt(variance)
    return z, 2 * sps.norm.sf(abs(z))


def test_kaplan_meier_median_and_its_ci() -> None:
    times = np.array([100.0, 150, 200, 250, 300, 1000, 1000])
    censored = np.array([0, 0, 0, 0, 0, 1, 1], bool)  # two runs ended at step 1000 below the threshold
    km = S.kaplan_meier(times, censored)
    # no censoring before 1000: S(t) = 1 - k / 7 after the k-th event
    np.testing.assert_allclose(km["survival"], [6 / 7, 5 / 7, 4 / 7, 3 / 7, 2 / 7, 2 / 7])
    assert km["median"] == 250.0  # first step with S <= 1/2
    lo, hi = km["median_ci"]
    assert lo <= 250.0 <= hi and lo == 100.0 and hi == math.inf  # 2 of 7 never reached: no upper end
    censored_first = S.kaplan_meier(np.array([100.0, 200, 300, 400, 500, 500]), np.array([0, 1, 0, 0, 1, 1], bool))
    # S = 5/6 after 100; the run censored at 200 leaves 4 at risk: S(300) = 5/6 * 3/4, S(400) = 5/6 * 3/4 * 2/3
    np.testing.assert_allclose(censored_first["survival"], [5 / 6, 5 / 6, 5 / 8, 5 / 12, 5 / 12])
    assert censored_first["median"] == 400.0
    nobody = S.kaplan_meier(np.array([900.0, 1000]), np.array([True, True]))
    assert nobody["median"] == math.inf


@pytest.mark.filterwarnings(
    "ignore:invalid value encountered:RuntimeWarning"
)  # scipy's 0 / 0 where V = 0 (brute force)
@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 12), st.booleans()), min_size=2, max_size=9),
    st.lists(st.tuples(st.integers(1, 12), st.booleans()), min_size=2, max_size=9),
)
def test_logrank_matches_the_hand_computation(a: list[tuple[int, bool]], b: list[tuple[int, bool]]) -> None:
    t = np.array([x for x, _ in a], float) * 100
    t_cens = np.array([cens for _, cens in a])
    c = np.array([x for x, _ in b], float) * 100
    c_cens = np.array([cens for _, cens in b])
    comp = S.compare_times(t, t_cens, c, c_cens)
    if t_cens.all() and c_cens.all():
        assert math.isnan(comp.p_value) and comp.verdict == S.INCONCLUSIVE
        return
    z, p = logrank_by_hand(t, t_cens, c, c_cens)
    if not math.isfinite(z):
        return
    assert comp.test == "logrank" and comp.p_method == "exact permutation"  # C(18, 9) splits at most: enumerated
    assert comp.statistic == pytest.approx(z, abs=1e-9) and comp.time_to_threshold["normal_p"] == pytest.approx(p)
    assert comp.effect_sign == pytest.approx(-z, abs=1e-9)  # negative: the treatment reaches it sooner
    assert comp.exact_min_p == pytest.approx(2 / math.comb(t.size + c.size, t.size))
    if math.comb(t.size + c.size, t.size) <= 1000:  # the brute force costs a scipy call per split
        assert comp.p_value == pytest.approx(brute_force_p(t, t_cens, c, c_cens), abs=1e-12)


def test_analyze_censored_times_decides_with_logrank_fewer_steps_better() -> None:
    steps = 1000.0
    fast = np.array([200.0, 250, 300, 350, 400, 450, 500, 550])
    slow = np.array([500.0, 600, 700, 800, steps, steps, steps, steps])  # 4 never reached: censored at 1000
    censored = {"slow": slow == steps, "fast": np.zeros(8, bool)}
    res = S.analyze({"slow": slow, "fast": fast}, S.StatsSettings(paired=True, direction="max"), censored=censored)
    assert res.direction == "min"  # times: fewer steps are better whatever the metric's direction
    (comp,) = res.comparisons
    z, p = logrank_by_hand(fast, censored["fast"], slow, censored["slow"])
    assert comp.test == "logrank" and comp.statistic == pytest.approx(z)
    assert comp.p_value == pytest.approx(brute_force_p(fast, censored["fast"], slow, censored["slow"]), abs=1e-12)
    assert comp.p_method == "exact permutation" and comp.time_to_threshold["normal_p"] == pytest.approx(p)
    assert comp.p_value < 0.05 and comp.verdict == S.BETTER
    assert comp.n_treatment == comp.n_control == 8  # the censored runs count: nothing dropped
    tt = comp.time_to_threshold
    assert tt["control"]["reached"] == 4 and tt["control"]["censored"] == 4
    assert tt["treatment"]["median"] == 350.0 and tt["control"]["median"] == 800.0  # S(800) = 4/8
    assert comp.difference == pytest.approx(350.0 - 800.0)
    assert res.variants["slow"].median == 800.0 and math.isnan(res.variants["slow"].mean)  # no mean of censored
    assert res.variants["fast"].mean == pytest.approx(fast.mean())  # nothing censored: the mean is a mean
    assert any("censored at their last step" in w for w in comp.warnings)
    swapped = S.analyze({"fast": fast, "slow": slow}, censored=censored)
    assert swapped.comparisons[0].verdict == S.WORSE


def test_detectable_hazard_ratio_follows_schoenfeld() -> None:
    from scipy import stats as sps

    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)
    assert S.detectable_hazard_ratio(40, 10, 10) == pytest.approx(math.exp(z / math.sqrt(40 * 0.25)))
    assert math.isnan(S.detectable_hazard_ratio(0, 5, 5))


def efron_log_likelihood_by_hand(beta: float, times: np.ndarray, events: np.ndarray, x: np.ndarray) -> float:
    """Cox's partial log-likelihood with Efron's ties, term by term from its definition (Efron 1977)."""
    total = 0.0
    for step in np.unique(times[events]):
        tied = events & (times == step)
        risk = np.exp(beta * x[times >= step]).sum()
        tied_risk = np.exp(beta * x[tied]).sum()
        d = int(tied.sum())
        total += beta * x[tied].sum() - sum(math.log(risk - k / d * tied_risk) for k in range(d))
    return total


def hazard_ratio_by_brute_force(t, t_cens, c, c_cens, ci_level=0.95) -> tuple[float, float, float]:
    """The maximum of the hand-written likelihood by scipy's bounded scalar search, and the Wald CI from its
    numerical second derivative."""
    from scipy import optimize
    from scipy import stats as sps

    times, events = np.concatenate([t, c]), ~np.concatenate([t_cens, c_cens])
    x = np.concatenate([np.ones(t.size), np.zeros(c.size)])
    res = optimize.minimize_scalar(
        lambda b: -efron_log_likelihood_by_hand(b, times, events, x), bounds=(-15, 15), method="bounded",
        options={"xatol": 1e-10},
    )  # fmt: skip
    if abs(res.x) > 14:  # at the search's bound: no maximum, no CI
        return math.exp(res.x), math.nan, math.nan
    h = 1e-4
    curvature = (
        -(
            efron_log_likelihood_by_hand(res.x + h, times, events, x)
            - 2 * efron_log_likelihood_by_hand(res.x, times, events, x)
            + efron_log_likelihood_by_hand(res.x - h, times, events, x)
        )
        / h**2
    )
    half = sps.norm.ppf(0.5 + ci_level / 2) / math.sqrt(curvature)
    return math.exp(res.x), math.exp(res.x - half), math.exp(res.x + half)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 8), st.booleans()), min_size=2, max_size=10),
    st.lists(st.tuples(st.integers(1, 8), st.booleans()), min_size=2, max_size=10),
    st.sampled_from([0.8, 0.95]),
)
def test_hazard_ratio_is_the_maximum_of_efrons_partial_likelihood(a, b, ci_level) -> None:
    """Tied steps (integers 1-8) and censoring: the estimate and its Wald CI against a brute-force maximization
    of the likelihood written from its definition; where the likelihood rises for ever, 0 or inf and no CI."""
    t, t_cens = np.array([x for x, _ in a], float) * 100, np.array([cens for _, cens in a])
    c, c_cens = np.array([x for x, _ in b], float) * 100, np.array([cens for _, cens in b])
    hr = cox_hazard_ratio(t, t_cens, c, c_cens, ci_level)
    if t_cens.all() and c_cens.all():
        assert math.isnan(hr["estimate"]) and hr["note"] == "no run reached the threshold"
        return
    if math.isnan(hr["estimate"]):  # no step with both variants at risk: the likelihood is flat
        assert hr["note"].startswith("no step had runs of both variants") and all(math.isnan(v) for v in hr["ci"])
        return
    estimate, low, high = hazard_ratio_by_brute_force(t, t_cens, c, c_cens, ci_level)
    if math.isinf(hr["estimate"]) or hr["estimate"] == 0:
        # no maximum: the brute-force search runs to its bound (or the likelihood is flat) and there is no CI
        assert hr["note"] and all(math.isnan(v) for v in hr["ci"])
        if math.isinf(hr["estimate"]):
            assert estimate > math.exp(14)
        elif hr["estimate"] == 0:
            assert estimate < math.exp(-14)
        return
    assert hr["note"] is None
    assert math.log(hr["estimate"]) == pytest.approx(math.log(estimate), abs=1e-6)
    assert math.log(hr["ci"][0]) == pytest.approx(math.log(low), abs=1e-4)
    assert math.log(hr["ci"][1]) == pytest.approx(math.log(high), abs=1e-4)
    swapped = cox_hazard_ratio(c, c_cens, t, t_cens, ci_level)  # the control's ratio is the reciprocal
    assert swapped["estimate"] == pytest.approx(1 / hr["estimate"], rel=1e-8)


def test_hazard_ratio_direction_and_no_maximum() -> None:
    """A treatment that reaches it sooner has a ratio above 1; one that was first every time an infinite one
    (no CI), with the reason in the control's and treatment's names."""
    fast, slow = np.array([200.0, 300, 250, 350, 300, 650]), np.array([600.0, 700, 1000, 800, 1000, 1000])
    slow_cens = slow == 1000
    hr = cox_hazard_ratio(fast, np.zeros(6, bool), slow, slow_cens)
    assert hr["estimate"] > 1 and hr["ci"][0] > 1  # the log-rank p of these is 0.002
    first_every_time = cox_hazard_ratio(
        fast[:5], np.zeros(5, bool), slow, slow_cens, treatment_name="fast", control_name="slow"
    )
    assert first_every_time["estimate"] == math.inf and all(math.isnan(v) for v in first_every_time["ci"])
    assert first_every_time["note"] == "no slow run reached the threshold while a fast run was still short of it"
    never = cox_hazard_ratio(slow, np.ones(6, bool), fast, np.zeros(6, bool), treatment_name="slow")
    assert never["estimate"] == 0.0 and never["note"] == "no slow run reached the threshold"
    comp = S.compare_times(fast, np.zeros(6, bool), slow, slow_cens, S.StatsSettings(ci_level=0.9))
    ratio = comp.time_to_threshold["hazard_ratio"]
    assert ratio["estimate"] == pytest.approx(hr["estimate"]) and ratio["infinite"] is False
    assert ratio["ci"][0] > hr["ci"][0]  # a 90% CI is narrower than the 95% one
    first = S.analyze({"slow": slow, "fast": fast[:5]}, censored={"slow": slow_cens, "fast": np.zeros(5, bool)})
    sentence = time_verdict_sentence(first.comparisons[0], "steps to reward 0.5")
    assert (
        "hazard ratio infinite (no slow run reached the threshold while a fast run was still short of it; no CI)"
        in sentence
    )


@pytest.mark.parametrize(
    ("treatment", "control", "ci_excludes_one", "verdict"),
    [  # 5 vs 5 runs (the last control of the first case ended at 1000 short of the threshold)
        ([500.0, 400, 500, 500, 400], [500.0, 500, 1000, 700, 800], True, S.INCONCLUSIVE),
        ([200.0, 500, 100, 200, 500], [300.0, 500, 700, 800, 700], False, S.BETTER),
    ],
)
def test_the_sentence_says_the_test_decides_where_the_hazard_ratios_ci_disagrees(
    treatment, control, ci_excludes_one, verdict
) -> None:
    """The permutation p decides; Cox's Wald CI can exclude 1 beside an inconclusive verdict (and contain it beside
    a significant one): the sentence says which decided and why they differ, so the CI does not contradict it."""
    t, c = np.array(treatment), np.array(control)
    t_cens, c_cens = t >= 1000, c >= 1000
    comp = S.compare_times(t, t_cens, c, c_cens)
    assert comp.p_value == pytest.approx(brute_force_p(t, t_cens, c, c_cens), abs=1e-12) and comp.verdict == verdict
    low, high = comp.time_to_threshold["hazard_ratio"]["ci"]
    assert (low > 1 or high < 1) == ci_excludes_one
    sentence = time_verdict_sentence(comp, "steps")
    says = "excludes" if ci_excludes_one else "contains"
    assert "log-rank, exact permutation p" in sentence
    assert (
        f"The verdict follows the log-rank test; the hazard ratio's CI {says} 1 because it is Cox's large-sample "
        "(Wald) interval, approximate at 5 and 5 runs, where the permutation p is exact." in sentence
    )
    agreeing = S.compare_times(t, t_cens, c + 2000, c_cens)  # every treatment run first: the CI is far from 1
    assert agreeing.verdict == S.BETTER and "The verdict follows" not in time_verdict_sentence(agreeing, "steps")


def test_three_runs_per_variant_cannot_reach_alpha_and_the_sentence_says_so() -> None:
    """3 vs 3 runs have 20 relabellings: the permutation p is at least 0.1, however far apart the times (the
    normal p of the same runs is 0.0246, the liberal answer the permutation p replaced)."""
    fast, slow = np.array([100.0, 200, 300]), np.array([400.0, 500, 600])
    comp = S.compare_times(fast, np.zeros(3, bool), slow, np.zeros(3, bool))
    assert comp.p_value == pytest.approx(0.1) and comp.exact_min_p == pytest.approx(0.1)
    assert comp.time_to_threshold["normal_p"] == pytest.approx(0.0246, abs=5e-5) and comp.verdict == S.INCONCLUSIVE
    assert (
        "No exact test can reach p < 0.05 with 3 runs each (smallest possible p = 0.1): the log-rank test cannot "
        "call a difference at this N." in time_verdict_sentence(comp, "steps")
    )
