"""Censored times to a threshold (metta_ab.stats.survival): Kaplan-Meier medians and the log-rank test,
checked against hand-computed Kaplan-Meier products and an independent log-rank computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metta_ab import stats as S

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
    assert comp.test == "logrank"
    assert comp.statistic == pytest.approx(z, abs=1e-9) and comp.p_value == pytest.approx(p, abs=1e-9)
    assert comp.effect_sign == pytest.approx(-z, abs=1e-9)  # negative: the treatment reaches it sooner


def test_analyze_censored_times_decides_with_logrank_fewer_steps_better() -> None:
    steps = 1000.0
    fast = np.array([200.0, 250, 300, 350, 400, 450, 500, 550])
    slow = np.array([500.0, 600, 700, 800, steps, steps, steps, steps])  # 4 never reached: censored at 1000
    censored = {"slow": slow == steps, "fast": np.zeros(8, bool)}
    res = S.analyze({"slow": slow, "fast": fast}, censored=censored, direction="max", paired=True)
    assert res.direction == "min"  # times: fewer steps are better whatever the metric's direction
    (comp,) = res.comparisons
    z, p = logrank_by_hand(fast, censored["fast"], slow, censored["slow"])
    assert comp.test == "logrank" and comp.p_value == pytest.approx(p) and comp.statistic == pytest.approx(z)
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
