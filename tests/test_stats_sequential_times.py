"""Sequential time to threshold: the permutation log-rank p of each look (metta_ab.stats.survival), checked
against scipy.stats.logrank's statistic and a brute-force enumeration of the relabellings, and the looks that
decide with it (metta_ab.stats.sequential)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logrank_reference import brute_force_p, scipy_logrank
from scipy import stats as sps

from metta_ab.stats import StatsSettings
from metta_ab.stats.sequential import (
    LOGRANK,
    LookDecision,
    decide_look,
    early_stop_estimate,
    run_sequential,
    sequential_design,
)
from metta_ab.stats.significance import PERMUTATION_RESAMPLES
from metta_ab.stats.survival import kaplan_meier, logrank_permutation_p


@st.composite
def small_times(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """Two small groups of steps on a coarse grid (many ties), some censored, at least one reaching the threshold."""
    n_t, n_c = draw(st.integers(2, 5)), draw(st.integers(2, 5))
    steps = st.sampled_from([100.0, 200.0, 300.0, 400.0, 500.0])
    t = np.array(draw(st.lists(steps, min_size=n_t, max_size=n_t)))
    c = np.array(draw(st.lists(steps, min_size=n_c, max_size=n_c)))
    t_cens = np.array(draw(st.lists(st.booleans(), min_size=n_t, max_size=n_t)))
    c_cens = np.array(draw(st.lists(st.booleans(), min_size=n_c, max_size=n_c)))
    if t_cens.all() and c_cens.all():
        t_cens[0] = False
    return t, t_cens, c, c_cens


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # scipy's 0 / 0 where V = 0
@settings(max_examples=60, deadline=None)
@given(small_times())
def test_the_permutation_logrank_p_is_the_brute_force_enumeration(data):
    """Every relabelling enumerated (scipy's statistic for each) gives the same p; a statistic scipy cannot give
    (no step with runs of both groups at risk: V = 0) counts as the extreme it is."""
    t, t_cens, c, c_cens = data
    statistic, p, exact = logrank_permutation_p(t, t_cens, c, c_cens, np.random.default_rng(0))
    times, censored = np.concatenate([t, c]), np.concatenate([t_cens, c_cens])
    reference = scipy_logrank(times, censored, np.arange(times.size) < t.size)
    assert exact
    assert statistic == pytest.approx(reference, abs=1e-9) or (
        math.isnan(reference) and statistic in (math.inf, -math.inf, 0.0)
    )
    if math.isfinite(reference):
        assert p == pytest.approx(brute_force_p(t, t_cens, c, c_cens), abs=1e-12)


def test_the_statistic_is_scipys_and_its_sign_says_who_is_sooner():
    fast, slow = np.array([200.0, 300, 250, 350, 300, 650]), np.array([600.0, 700, 1000, 800, 1000, 1000])
    fast_cens, slow_cens = np.zeros(6, bool), slow == 1000
    statistic, p, exact = logrank_permutation_p(fast, fast_cens, slow, slow_cens, np.random.default_rng(0))
    reference = sps.logrank(
        sps.CensoredData(uncensored=fast), sps.CensoredData(uncensored=[600, 700, 800], right=[1000] * 3)
    )
    assert statistic == pytest.approx(reference.statistic) and statistic > 0  # the treatment is sooner
    assert exact and p == pytest.approx(brute_force_p(fast, fast_cens, slow, slow_cens))
    assert p > reference.pvalue  # at 6 runs per variant the normal approximation is liberal here
    back = logrank_permutation_p(slow, slow_cens, fast, fast_cens, np.random.default_rng(0))
    assert back[0] == pytest.approx(-statistic) and back[1] == pytest.approx(p)


def test_random_relabellings_estimate_the_permutation_p_when_there_are_too_many_to_enumerate():
    rng = np.random.default_rng(3)
    t, c = np.ceil(rng.exponential(3, 12)), np.ceil(rng.exponential(5, 12))
    t_cens, c_cens = t > 8, c > 8
    t, c = np.minimum(t, 8), np.minimum(c, 8)
    _, p, exact = logrank_permutation_p(t, t_cens, c, c_cens, np.random.default_rng(0))
    assert not exact  # C(24, 12) = 2.7 million splits
    times, censored = np.concatenate([t, c]), np.concatenate([t_cens, c_cens])
    draws = 3000  # an independent Monte-Carlo estimate with scipy's statistic
    observed = scipy_logrank(times, censored, np.arange(24) < 12)
    null = np.array([scipy_logrank(times, censored, rng.permutation(24) < 12) for _ in range(draws)])
    reference = min(1.0, 2 * min(np.mean(null <= observed + 1e-7), np.mean(null >= observed - 1e-7)))
    se = math.sqrt(reference * (1 - reference) / draws + reference * (1 - reference) / PERMUTATION_RESAMPLES)
    assert abs(p - reference) < 4 * se + 1e-3
    assert logrank_permutation_p(t, t_cens, c, c_cens, np.random.default_rng(0))[1] == p  # seeded: the same p


def test_the_permutation_p_keeps_its_level_over_every_relabelling():
    """Exact in level: taking each split of one pooled data set as the observed one, p <= 0.05 in at most 5% of
    them (ties and censoring included)."""
    rng = np.random.default_rng(1)
    times = np.ceil(rng.exponential(4, 10))
    censored = times > 6
    times = np.minimum(times, 6)
    rejected = 0
    splits = list(itertools.combinations(range(10), 5))
    for group in splits:
        first = np.zeros(10, bool)
        first[list(group)] = True
        p = logrank_permutation_p(times[first], censored[first], times[~first], censored[~first], rng)[1]
        rejected += p <= 0.05
    assert rejected / len(splits) <= 0.05


def test_no_run_reaching_the_threshold_gives_no_test():
    t = np.array([5.0, 5.0, 5.0])
    assert all(
        math.isnan(x)
        for x in logrank_permutation_p(t, np.ones(3, bool), t, np.ones(3, bool), np.random.default_rng(0))[:2]
    )


DESIGN = sequential_design(10, 5)


def test_a_look_decides_with_the_logrank_test_whatever_the_metric_direction():
    fast, slow = np.array([200.0, 300, 250, 350, 300]), np.array([600.0, 700, 1000, 800, 1000])
    censored = {"slow": slow == 1000, "fast": np.zeros(5, bool)}
    for direction in ("max", "min"):  # fewer steps are better either way
        look = decide_look(
            {"slow": slow, "fast": fast},
            DESIGN,
            1,
            StatsSettings(direction=direction, min_effect=50.0),
            censored=censored,
        )
        (c,) = look.comparisons
        statistic, p, _ = logrank_permutation_p(
            fast, censored["fast"], slow, censored["slow"], np.random.default_rng(0)
        )
        assert (c.test, c.statistic, c.p, c.p_method) == (LOGRANK, statistic, p, "exact permutation")
        assert p < DESIGN.nominal_p[0] and c.decision == "better" and look.stop and c.decided_at == 1
        medians = kaplan_meier(fast, censored["fast"])["median"], kaplan_meier(slow, censored["slow"])["median"]
        assert c.difference == medians[0] - medians[1] == -500 and math.isnan(c.df) and math.isnan(c.tost_p)
    worse = decide_look({"fast": fast, "slow": slow}, DESIGN, 1, StatsSettings(), censored=censored)
    assert worse.comparisons[0].decision == "worse" and worse.comparisons[0].statistic < 0
    assert LookDecision.from_dict(look.to_dict()) == look  # looks.json keeps the test
    assert early_stop_estimate([look], "fast", DESIGN) is None  # no stage-wise estimate of a hazard ratio


def test_without_a_difference_the_looks_run_to_the_end_and_censored_flags_count():
    rng = np.random.default_rng(5)
    a, b = np.ceil(rng.exponential(4, 10)), np.ceil(rng.exponential(4, 10))
    flags = {"a": a > 9, "b": b > 9}
    history = run_sequential({"a": np.minimum(a, 9), "b": np.minimum(b, 9)}, DESIGN, StatsSettings(), censored=flags)
    assert [h.look for h in history] == [1, 2] and history[-1].comparisons[0].decision == "inconclusive"
    assert history[-1].reason == "max runs"
    # the same times with every run of b censored at its time: b never reached the threshold, a did
    none = {"a": np.zeros(10, bool), "b": np.ones(10, bool)}
    decided = run_sequential({"a": np.full(10, 3.0), "b": np.full(10, 3.0)}, DESIGN, StatsSettings(), censored=none)
    assert decided[0].comparisons[0].decision == "worse"  # b: censored at 3, a reached it at 3


def test_times_are_compared_on_the_variants_own_runs():
    with pytest.raises(ValueError, match="control_scores"):
        decide_look(
            {"a": np.ones(5), "b": np.ones(5)}, DESIGN, 1, censored={"a": np.zeros(5), "b": np.zeros(5)},
            control_scores={"b": np.ones(5)},
        )  # fmt: skip
