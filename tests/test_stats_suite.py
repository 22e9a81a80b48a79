"""Tests of metta_ab.stats.suite, suite_normalization and suite_aggregates: every number against a brute-force
reference computed here, on small arrays.

The references follow rliable's definitions (``rliable/metrics.py``, ``library.py``) written out the slow way:
IQM by sorting and cutting a quarter at each end, P(X > Y) by a double loop over run pairs, the profile by
counting, the stratified bootstrap as a loop over resamples on the same index draws; plus properties of
the normalization (affine and scale invariance, direction), checked with hypothesis.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metta_ab.stats import StatsSettings, compare, holm
from metta_ab.stats import suite as S
from metta_ab.stats import suite_aggregates as A
from metta_ab.stats import suite_normalization as N

pytestmark = pytest.mark.hydra_independent

RNG = np.random.default_rng(20210)
TASKS = ("maze", "memory", "objects")
# variant -> task -> runs; very different scales per task, one missing run
SCORES = {
    "control": {"maze": [0.2, 0.5, 0.4, 0.9, 0.3], "memory": [120, 80, 95, 130, 60], "objects": [-3, -1, -2, -5, -4]},
    "fast": {"maze": [0.6, 0.7, 0.5, 0.9, 0.4], "memory": [140, 90, np.nan, 150, 70], "objects": [-2, -1, -1, -3, -2]},
    "slow": {"maze": [0.1, 0.4, 0.2, 0.5, 0.3], "memory": [110, 85, 90, 100, 40], "objects": [-4, -2, -3, -6, -5]},
}
BOUNDS = {"maze": (0.0, 1.0), "memory": (0.0, 200.0), "objects": (-10.0, 0.0)}


def matrix(by_task: dict, tasks=TASKS) -> np.ndarray:
    return np.column_stack([np.asarray(by_task[t], dtype=float) for t in tasks])


# ---- brute-force references ---------------------------------------------------------------------------


def ref_iqm(values) -> float:
    """Sort, cut floor(n / 4) values at each end, average the rest (scipy's trim_mean(x, 0.25))."""
    x = sorted(v for v in np.ravel(values) if math.isfinite(v))
    cut = len(x) // 4
    middle = x[cut : len(x) - cut]
    return sum(middle) / len(middle)


def ref_task_means(m: np.ndarray) -> list[float]:
    out = []
    for j in range(m.shape[1]):
        col = [v for v in m[:, j] if math.isfinite(v)]
        if col:
            out.append(sum(col) / len(col))
    return out


def ref_median(values: list[float]) -> float:
    x = sorted(values)
    k = len(x)
    return x[k // 2] if k % 2 else 0.5 * (x[k // 2 - 1] + x[k // 2])


def ref_gap(m: np.ndarray, gamma: float) -> float:
    x = [v for v in np.ravel(m) if math.isfinite(v)]
    return sum(max(gamma - v, 0.0) for v in x) / len(x)


def ref_prob(x, y) -> float:
    """P(X > Y) on one task by a double loop; a tie counts 1/2."""
    x = [v for v in x if math.isfinite(v)]
    y = [v for v in y if math.isfinite(v)]
    total = 0.0
    for a in x:
        for b in y:
            total += 1.0 if a > b else 0.5 if a == b else 0.0
    return total / (len(x) * len(y))


def ref_profile(m: np.ndarray, taus) -> list[float]:
    x = [v for v in np.ravel(m) if math.isfinite(v)]
    return [sum(1 for v in x if v > tau) / len(x) for tau in taus]


def ref_percentile_ci(samples, level) -> tuple[float, float]:
    tail = 50.0 * (1 - level)
    lo, hi = np.percentile(np.asarray(samples), [tail, 100 - tail])
    return float(lo), float(hi)


def slow_bootstrap(cols: list[np.ndarray], n_resamples: int, seed: int, statistic) -> list[float]:
    """The stratified bootstrap as a loop: the same index draws as the module (``_stratified_indices`` on
    ``default_rng(seed)``), then per resample each task's runs picked one by one and the statistic applied."""
    rng = np.random.default_rng(seed)
    out = []
    for idx in A._stratified_indices(rng, [c.size for c in cols], n_resamples):
        for row in range(idx[0].shape[0]):
            resample = [[float(c[i]) for i in ind[row]] for c, ind in zip(cols, idx, strict=True)]
            out.append(statistic(resample))
    return out


def finite_cols(m: np.ndarray) -> list[np.ndarray]:
    return [m[:, j][np.isfinite(m[:, j])] for j in range(m.shape[1]) if np.isfinite(m[:, j]).any()]


# ---- normalization --------------------------------------------------------------------------------------


def test_declared_normalization_by_hand() -> None:
    _, tasks, raw = S._suite_matrices(SCORES)
    norm, warnings = N.normalize_suite(raw, tasks, control="control", normalize=BOUNDS)
    z = norm.apply(raw["fast"], tasks)
    for j, task in enumerate(tasks):
        low, high = BOUNDS[task]
        for i, x in enumerate(SCORES["fast"][task]):
            expected = (x - low) / (high - low)
            assert (math.isnan(x) and math.isnan(z[i, j])) or z[i, j] == pytest.approx(expected, abs=1e-12)
    assert norm.method == "declared" and "(x - low) / (high - low)" in norm.description and not warnings


def test_declared_normalization_lower_is_better() -> None:
    _, tasks, raw = S._suite_matrices(SCORES)
    norm, _ = N.normalize_suite(raw, tasks, direction="min", normalize=BOUNDS)
    z = norm.apply(raw["control"], tasks)
    low, high = BOUNDS["memory"]
    assert z[0, 1] == pytest.approx((high - 120.0) / (high - low))  # 1 at low (the best), 0 at high
    assert norm.apply(np.array([[0.0, low, -10.0]]), tasks)[0, 1] == pytest.approx(1.0)
    assert "(high - x) / (high - low)" in norm.description


def test_control_mean_normalization_by_hand() -> None:
    _, tasks, raw = S._suite_matrices(SCORES)
    norm, _ = N.normalize_suite(raw, tasks, control="control")
    z = norm.apply(raw["slow"], tasks)
    for j, task in enumerate(tasks):
        m = sum(SCORES["control"][task]) / 5
        for i, x in enumerate(SCORES["slow"][task]):
            assert z[i, j] == pytest.approx(1 + (x - m) / abs(m), abs=1e-12)
            if m > 0:
                assert z[i, j] == pytest.approx(x / m, abs=1e-12)  # rliable's x / m
    # negative control mean (task "objects", mean -3): order kept, a higher raw score is a higher z
    assert z[1, 2] > z[0, 2]  # -2 > -4
    control_z = norm.apply(raw["control"], tasks)
    assert np.nanmean(control_z, axis=0) == pytest.approx([1.0, 1.0, 1.0])
    assert norm.method == "control_mean" and "'control'" in norm.description


def test_control_mean_normalization_lower_is_better() -> None:
    _, tasks, raw = S._suite_matrices(SCORES)
    norm, _ = N.normalize_suite(raw, tasks, control="control", direction="min")
    z = norm.apply(raw["fast"], tasks)
    m = sum(SCORES["control"]["maze"]) / 5
    assert z[0, 0] == pytest.approx(1 - (0.6 - m) / abs(m))


def test_normalization_refusals_name_the_task() -> None:
    zero_mean = {"a": {"t1": [1.0, 2.0], "flat": [1.0, -1.0]}, "b": {"t1": [1.0, 2.0], "flat": [0.0, 1.0]}}
    with pytest.raises(ValueError, match=r"'flat'.*mean score 0"):
        S.analyze_suite(zero_mean, control="a")
    no_control = {"a": {"t1": [1.0, 2.0], "t2": [np.nan, np.nan]}, "b": {"t1": [1.0, 2.0], "t2": [3.0, 1.0]}}
    with pytest.raises(ValueError, match=r"'t2'.*no score"):
        S.analyze_suite(no_control)
    with pytest.raises(ValueError, match=r"no \(low, high\) for task\(s\) \['objects'\]"):
        S.analyze_suite(SCORES, normalize={"maze": (0, 1), "memory": (0, 200)})
    with pytest.raises(ValueError, match=r"\['mazee'\]"):
        S.analyze_suite(SCORES, normalize={**BOUNDS, "mazee": (0, 1)})
    with pytest.raises(ValueError, match="low < high"):
        S.analyze_suite(SCORES, normalize={**BOUNDS, "maze": (1, 0)})
    with pytest.raises(ValueError, match="infinite"):
        S.analyze_suite({"a": {"t": [1.0, np.inf]}, "b": {"t": [1.0, 2.0]}})
    with pytest.raises(ValueError, match="control 'nope'"):
        S.analyze_suite(SCORES, control="nope")
    # declared bounds need no control score at all
    assert S.analyze_suite(no_control, StatsSettings(n_resamples=10), normalize={"t1": (0, 1), "t2": (0, 1)}).tasks == (
        "t1",
        "t2",
    )


def test_noisy_control_mean_is_warned_about() -> None:
    scores = {"a": {"t": [1.0, -0.8, 0.1]}, "b": {"t": [0.5, 0.2, 0.1]}}
    result = S.analyze_suite(scores, StatsSettings(n_resamples=10))
    assert any("'t'" in w and "small beside" in w for w in result.warnings)


# ---- aggregates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["control", "fast"])
def test_aggregates_by_hand(variant: str) -> None:
    result = S.analyze_suite(SCORES, StatsSettings(n_resamples=50), normalize=BOUNDS, target=0.8)
    m = N.normalize_suite(S._suite_matrices(SCORES)[2], TASKS, normalize=BOUNDS)[0].apply(
        matrix(SCORES[variant]), TASKS
    )
    agg = result.variants[variant]
    assert agg.iqm == pytest.approx(ref_iqm(m), abs=1e-12)
    assert agg.mean == pytest.approx(sum(ref_task_means(m)) / 3, abs=1e-12)
    assert agg.median == pytest.approx(ref_median(ref_task_means(m)), abs=1e-12)
    assert agg.optimality_gap == pytest.approx(ref_gap(m, 0.8), abs=1e-12)
    assert (agg.n_tasks, agg.n_runs, agg.n_scores) == (3, 5, int(np.isfinite(m).sum()))


def test_iqm_cuts_a_quarter_at_each_end() -> None:
    m = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 1000.0], [4.0, -1000.0]])  # 10 scores: cut 2 + 2
    assert A.aggregate_scores(m, StatsSettings(n_resamples=5)).iqm == pytest.approx((1 + 2 + 3 + 4 + 10 + 20) / 6)


def _iqm(resample: list[list[float]]) -> float:
    return ref_iqm([v for task in resample for v in task])


def _mean(resample: list[list[float]]) -> float:
    return sum(sum(t) / len(t) for t in resample) / len(resample)


def _median(resample: list[list[float]]) -> float:
    return ref_median([sum(t) / len(t) for t in resample])


@pytest.mark.parametrize("seed", [0, 7])
def test_stratified_bootstrap_cis_against_a_loop(seed: int) -> None:
    m = np.column_stack([RNG.normal(1, 0.3, 6), RNG.lognormal(0, 1, 6), RNG.normal(0.2, 0.1, 6)])
    m[2, 1] = np.nan  # a missing run: its task resamples the 5 others
    agg = A.aggregate_scores(m, StatsSettings(ci_level=0.9, n_resamples=400, seed=seed), target=1.0)
    cols = finite_cols(m)
    assert [c.size for c in cols] == [6, 5, 6]
    for name, statistic in [
        ("iqm", _iqm),
        ("mean", _mean),
        ("median", _median),
        ("optimality_gap", lambda r: ref_gap(np.array([v for t in r for v in t]), 1.0)),
    ]:
        expected = ref_percentile_ci(slow_bootstrap(cols, 400, seed, statistic), 0.9)
        assert getattr(agg, f"{name}_ci") == pytest.approx(expected, abs=1e-12), name


def test_bootstrap_is_stratified_by_task() -> None:
    """Two tasks each constant (0 and 1): resampling within tasks never mixes them, so every resample has the
    same mean and IQM (an unstratified bootstrap over the pooled 8 scores would not)."""
    m = np.column_stack([np.zeros(4), np.ones(4)])
    agg = A.aggregate_scores(m, StatsSettings(n_resamples=500))
    assert agg.mean_ci == pytest.approx((0.5, 0.5)) and agg.iqm_ci == pytest.approx((0.5, 0.5))
    # the draws: each task's own number of runs, indices within the task
    draws = next(A._stratified_indices(np.random.default_rng(0), [3, 5], 1000))
    assert [d.shape for d in draws] == [(1000, 3), (1000, 5)]
    assert draws[0].max() == 2 and draws[1].max() == 4 and draws[0].min() == draws[1].min() == 0
    counts = np.bincount(draws[1].ravel(), minlength=5) / draws[1].size
    assert counts == pytest.approx(np.full(5, 0.2), abs=0.01)  # uniform with replacement


def test_bootstrap_ci_covers_like_the_normal_theory_one() -> None:
    """Distributional check: one task of 400 normal runs; the percentile CI of the mean is close to
    mean +- 1.96 SD / sqrt(n)."""
    x = np.random.default_rng(3).normal(5.0, 2.0, 400)
    agg = A.aggregate_scores(x[:, None], StatsSettings(n_resamples=4000, seed=1))
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert agg.mean_ci == pytest.approx((x.mean() - half, x.mean() + half), abs=0.03)


def test_bootstrap_is_seeded() -> None:
    m = RNG.normal(size=(5, 3))
    a, b = (A.aggregate_scores(m, StatsSettings(n_resamples=300, seed=4)) for _ in range(2))
    assert a == b
    assert A.aggregate_scores(m, StatsSettings(n_resamples=300, seed=5)).iqm_ci != a.iqm_ci


def test_bootstrap_over_several_chunks_matches_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(A, "_BOOTSTRAP_CHUNK_ELEMENTS", 60)  # 4 resamples of 15 scores per chunk
    m = RNG.normal(size=(5, 3))
    agg = A.aggregate_scores(m, StatsSettings(n_resamples=50, seed=2))
    expected = ref_percentile_ci(slow_bootstrap(finite_cols(m), 50, 2, _iqm), 0.95)
    assert agg.iqm_ci == pytest.approx(expected, abs=1e-12)


# ---- probability of improvement --------------------------------------------------------------------------


def test_probability_of_improvement_by_double_loop() -> None:
    x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, np.nan], [3.0, 7.0]])
    y = np.array([[3.0, 5.0], [0.0, 6.0], [2.0, 4.0]])
    pi = A.probability_of_improvement(x, y, StatsSettings(n_resamples=20))
    per_task = [ref_prob(x[:, j], y[:, j]) for j in range(2)]
    assert pi.probability == pytest.approx(sum(per_task) / 2, abs=1e-12)
    assert list(pi.by_task.values()) == pytest.approx(per_task)
    lower = A.probability_of_improvement(x, y, StatsSettings(direction="min", n_resamples=20))
    assert lower.probability == pytest.approx(1 - pi.probability)


def test_probability_of_improvement_ci_against_a_loop() -> None:
    x = RNG.normal(0.3, 1, (5, 3))
    y = RNG.normal(0, 1, (4, 3))
    pi = A.probability_of_improvement(x, y, StatsSettings(ci_level=0.9, n_resamples=300, seed=11))
    rng = np.random.default_rng(11)
    sorted_cols = [c for j in range(3) for c in (np.sort(x[:, j]), np.sort(y[:, j]))]  # X then Y per task
    replicates = []
    for idx in A._stratified_indices(rng, [5, 4] * 3, 300):
        for row in range(idx[0].shape[0]):
            probs = [
                ref_prob(sorted_cols[2 * k][idx[2 * k][row]], sorted_cols[2 * k + 1][idx[2 * k + 1][row]])
                for k in range(3)
            ]
            replicates.append(sum(probs) / 3)
    assert pi.ci == pytest.approx(ref_percentile_ci(replicates, 0.9), abs=1e-12)


def test_probability_of_improvement_by_task_name_skips_one_sided_tasks() -> None:
    pi = A.probability_of_improvement({"a": [1, 2], "b": [3.0], "only_x": [9]}, {"b": [1, 5], "a": [2, 2]})
    assert pi.by_task == pytest.approx({"a": ref_prob([1, 2], [2, 2]), "b": ref_prob([3], [1, 5])})
    assert pi.probability == pytest.approx((0.25 + 0.5) / 2)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(st.integers(-3, 3), min_size=2, max_size=24),
    st.lists(st.integers(-3, 3), min_size=2, max_size=24),
)
def test_probability_of_improvement_is_complementary(tasks: int, xs: list[int], ys: list[int]) -> None:
    """P(X > Y) = 1 - P(Y > X) (ties 1/2), on integer scores with many ties."""
    x = np.resize(np.array(xs, float), (max(1, len(xs) // tasks), tasks))
    y = np.resize(np.array(ys, float), (max(1, len(ys) // tasks), tasks))
    forward = A.probability_of_improvement(x, y, StatsSettings(n_resamples=2)).probability
    backward = A.probability_of_improvement(y, x, StatsSettings(n_resamples=2)).probability
    assert forward == pytest.approx(1 - backward, abs=1e-12)
    assert forward == pytest.approx(np.mean([ref_prob(x[:, j], y[:, j]) for j in range(tasks)]), abs=1e-12)


# ---- performance profiles ---------------------------------------------------------------------------------


def test_performance_profile_by_counting() -> None:
    m = np.array([[0.1, 0.5], [0.5, 0.9], [np.nan, 1.2], [0.7, 0.5]])
    taus = [0.0, 0.1, 0.5, 0.6, 1.2, 2.0]
    profile = A.performance_profile(m, taus, StatsSettings(n_resamples=20))
    assert profile.fraction == pytest.approx(ref_profile(m, taus))  # strictly above tau
    assert profile.taus == tuple(taus)


def test_performance_profile_bands_against_a_loop() -> None:
    m = RNG.normal(1, 0.5, (6, 4))
    taus = np.linspace(0, 2, 9)
    profile = A.performance_profile(m, taus, StatsSettings(ci_level=0.8, n_resamples=200, seed=3))
    replicates = np.array(
        slow_bootstrap(finite_cols(m), 200, 3, lambda r: ref_profile(np.array([v for t in r for v in t]), taus))
    )
    for k in range(taus.size):
        lo, hi = ref_percentile_ci(replicates[:, k], 0.8)
        assert (profile.ci_low[k], profile.ci_high[k]) == pytest.approx((lo, hi), abs=1e-12)


def test_default_tau_grid_spans_every_variant() -> None:
    result = S.analyze_suite(SCORES, StatsSettings(n_resamples=20), normalize=BOUNDS)
    pooled = np.concatenate([m[np.isfinite(m)] for m in result.normalized.values()])
    taus = next(iter(result.profiles.values())).taus
    assert (taus[0], taus[-1], len(taus)) == pytest.approx((pooled.min(), pooled.max(), A.PROFILE_POINTS))
    for name, profile in result.profiles.items():
        assert profile.fraction == pytest.approx(ref_profile(result.normalized[name], taus))


# ---- the run-unit verdict ------------------------------------------------------------------------------


def test_run_means_by_hand() -> None:
    a = np.array([[1.0, 2.0, 3.0], [np.nan, 4.0, 6.0], [np.nan, np.nan, np.nan]])
    b = np.array([[1.0, np.nan, 1.0], [2.0, 2.0, 2.0]])
    assert S.run_means(a) == pytest.approx([2.0, 5.0, np.nan], nan_ok=True)
    # paired: each pair's mean over the tasks both of its runs have; the longer run count
    assert S.run_means(a, common_with=b) == pytest.approx([2.0, 5.0, np.nan], nan_ok=True)
    assert S.run_means(b, common_with=a) == pytest.approx([1.0, 2.0, np.nan], nan_ok=True)


@pytest.mark.parametrize("paired", [False, True])
def test_verdict_is_compare_on_the_run_means_with_holm(paired: bool) -> None:
    """Declared bounds: the run means are of the normalized scores; the comparison is the package's
    ``compare`` of them, and with two treatments Holm adjusts as ``analyze`` does."""
    result = S.analyze_suite(SCORES, StatsSettings(paired=paired, n_resamples=200, seed=5), normalize=BOUNDS)
    norm = {
        v: np.column_stack([(np.array(SCORES[v][t], float) - lo) / (hi - lo) for t, (lo, hi) in BOUNDS.items()])
        for v in SCORES
    }
    raw_p = []
    for name in ("fast", "slow"):
        t, c = norm[name], norm["control"]
        if paired:
            both = np.isfinite(t) & np.isfinite(c)
            t_units = [t[i][both[i]].mean() for i in range(5)]
            c_units = [c[i][both[i]].mean() for i in range(5)]
        else:
            t_units = [t[i][np.isfinite(t[i])].mean() for i in range(5)]
            c_units = [c[i][np.isfinite(c[i])].mean() for i in range(5)]
        expected = compare(t_units, c_units, StatsSettings(paired=paired, n_resamples=200, seed=5), family_size=2)
        got = result.comparison(name).run_comparison
        assert got.p_value == pytest.approx(expected.p_value, abs=1e-12)
        assert got.difference == pytest.approx(expected.difference, abs=1e-12)
        assert (got.test, got.paired, got.direction) == (expected.test, paired, "max")
        raw_p.append(expected.p_value)
    adjusted = holm(raw_p)
    for name, p in zip(("fast", "slow"), adjusted, strict=True):
        comp = result.comparison(name)
        assert comp.run_comparison.p_adjusted == pytest.approx(p) and comp.run_comparison.family_size == 2
        assert comp.verdict == comp.run_comparison.verdict
    assert result.run_means["fast"][2] == pytest.approx(np.mean([norm["fast"][2][0], norm["fast"][2][2]]))


@pytest.mark.parametrize("normalize", [BOUNDS, None], ids=["declared", "default"])
@pytest.mark.parametrize("paired", [True, False], ids=["paired", "unpaired"])
def test_the_units_a_sequential_look_decides_on_are_the_tests(paired: bool, normalize) -> None:
    """``comparison_units`` (what a sequential suite's look and the simulation decide on) gives the units
    ``analyze_suite``'s test compared, on both scales, with a missing task score; ``compare`` of them gives the
    test's p."""
    result = S.analyze_suite(SCORES, StatsSettings(paired=paired, n_resamples=200, seed=5), normalize=normalize)
    units = S.comparison_units(SCORES, StatsSettings(paired=paired), normalize=normalize)
    assert list(units) == ["fast", "slow"]
    for name, (t, c) in units.items():
        comp = result.comparison(name)
        assert t == pytest.approx(comp.units[0], nan_ok=True) and c == pytest.approx(comp.units[1], nan_ok=True)
        p = compare(t, c, StatsSettings(paired=paired, n_resamples=200, seed=5)).p_value
        assert comp.run_comparison.p_value == pytest.approx(p, abs=1e-12)


def test_control_mean_verdict_uses_the_pooled_mean() -> None:
    """With the default normalization the test's scale is the per-task mean of treatment and control runs
    together (the control's own mean biases the A/A rate upwards; see ``_test_normalization``)."""
    two = {v: SCORES[v] for v in ("control", "slow")}
    result = S.analyze_suite(two, StatsSettings(paired=True, n_resamples=100, seed=1))
    units = {}
    for v in two:
        cols = []
        for task in TASKS:
            m = np.mean(SCORES["control"][task] + SCORES["slow"][task])
            cols.append(1 + (np.array(SCORES[v][task], float) - m) / abs(m))
        units[v] = np.column_stack(cols).mean(axis=1)
    expected = compare(units["slow"], units["control"], StatsSettings(paired=True, n_resamples=100, seed=1))
    got = result.comparison("slow").run_comparison
    assert got.p_value == pytest.approx(expected.p_value, abs=1e-12)
    assert got.difference == pytest.approx(expected.difference, abs=1e-12)
    assert result.comparison("slow").verdict == expected.verdict == "worse"  # slow is lower on every task
    # the reported aggregates stay relative to the control's mean: the control's mean is 1
    assert result.variants["control"].mean == pytest.approx(1.0)


def test_probability_of_improvement_in_the_analysis_by_double_loop() -> None:
    result = S.analyze_suite(SCORES, StatsSettings(n_resamples=50))
    comp = result.comparison("fast")
    per_task = [ref_prob(SCORES["fast"][t], SCORES["control"][t]) for t in TASKS]
    assert comp.prob_improvement.probability == pytest.approx(np.mean(per_task), abs=1e-12)
    assert comp.prob_improvement.by_task == pytest.approx(dict(zip(TASKS, per_task, strict=True)))


def test_missing_runs_are_listed_not_dropped() -> None:
    scores = {
        "a": {"t1": [1.0, 2.0, 3.0], "t2": [1.0, np.nan, 2.0]},
        "b": {"t1": [1.0, 2.0], "t2": [2.0, 2.0, 2.0], "t3": [1.0, 2.0, 3.0]},
    }
    result = S.analyze_suite(
        scores, StatsSettings(n_resamples=20), normalize={"t1": (0, 4), "t2": (0, 4), "t3": (0, 4)}
    )
    assert result.missing == {"t1": (("b", 3),), "t2": (("a", 2),), "t3": (("a", 1), ("a", 2), ("a", 3))}
    assert result.to_dict()["missing"]["t3"] == [["a", 1], ["a", 2], ["a", 3]]
    assert any("task score(s) missing" in w and "b run 3" in w for w in result.warnings)
    assert result.variants["a"].n_tasks == 2 and result.variants["b"].n_scores == 8


def test_to_dict_shape_and_json() -> None:
    result = S.analyze_suite(SCORES, StatsSettings(n_resamples=50), target=1.0)
    d = result.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert set(d) == {"settings", "tasks", "normalization", "aggregate", "profiles", "missing", "warnings"}
    assert d["tasks"] == list(TASKS) and d["normalization"]["method"] == "control_mean"
    assert set(d["aggregate"]["variants"]["fast"]) >= {"iqm", "iqm_ci", "mean_ci", "median_ci", "optimality_gap_ci"}
    comp = d["aggregate"]["comparisons"][0]
    assert comp["treatment"] == "fast" and comp["verdict"] == comp["run_comparison"]["verdict"]
    assert set(comp) >= {"prob_improvement", "prob_improvement_ci", "prob_improvement_by_task", "run_comparison"}
    assert set(comp["run_comparison"]) >= {"p_value", "p_adjusted", "difference_ci", "test", "verdict"}
    assert len(d["profiles"]["taus"]) == len(d["profiles"]["variants"]["slow"]["ci_low"]) == A.PROFILE_POINTS
    assert d["settings"]["multiple_comparisons"] == "holm"


def test_single_variant_has_aggregates_and_no_comparison() -> None:
    result = S.analyze_suite({"only": {"a": [1.0, 2.0], "b": [10.0, 30.0]}}, StatsSettings(n_resamples=20))
    assert result.comparisons == () and result.variants["only"].mean == pytest.approx(1.0)


# ---- properties of the normalization -------------------------------------------------------------------


def _aggregates(result: S.SuiteAnalysis) -> list[float]:
    out = []
    for name in sorted(result.variants):
        a = result.variants[name]
        out += [a.iqm, *a.iqm_ci, a.mean, *a.mean_ci, a.median, a.optimality_gap, *result.profiles[name].fraction]
    out += [c.prob_improvement.probability for c in result.comparisons]
    out += [c.run_comparison.p_value for c in result.comparisons]
    return out


# Scores on a grid of 1/64 and transforms by powers of two and integers are exact in floating point, so
# the invariances hold to the last bit: a score exactly on a profile threshold stays on it.
suite_values = st.lists(st.integers(-800, 800).map(lambda k: k / 8), min_size=12, max_size=12)
power_of_two = st.integers(-4, 10).map(lambda k: 2.0**k)


def _suite(values: list[float]) -> dict:
    v = np.array(values).reshape(2, 2, 3)  # variant, task, run
    return {f"v{i}": {f"t{j}": v[i, j] + np.arange(3) / 64 for j in range(2)} for i in range(2)}


@settings(max_examples=40, deadline=None)
@given(suite_values, power_of_two, st.integers(-1000, 1000))
def test_declared_normalization_is_affine_invariant(values: list[float], a: float, b: int) -> None:
    """x -> a x + b on one task for every variant, with its (low, high) moved alike: nothing changes."""
    scores = _suite(values)
    bounds = {"t0": (-100.0, 100.0), "t1": (-150.0, 120.0)}
    moved = {v: {**tasks, "t1": a * np.asarray(tasks["t1"]) + b} for v, tasks in scores.items()}
    moved_bounds = {**bounds, "t1": (a * -150.0 + b, a * 120.0 + b)}
    taus = np.linspace(-0.5, 1.5, 11)
    kw = {"target": 0.9, "taus": taus}
    paired = StatsSettings(paired=True, n_resamples=50)
    before = _aggregates(S.analyze_suite(scores, paired, normalize=bounds, **kw))
    after = _aggregates(S.analyze_suite(moved, paired, normalize=moved_bounds, **kw))
    assert after == pytest.approx(before, rel=1e-6, abs=1e-9, nan_ok=True)


@settings(max_examples=40, deadline=None)
@given(suite_values, power_of_two)
def test_control_mean_normalization_is_scale_invariant(values: list[float], a: float) -> None:
    scores = _suite(values)
    means = [np.mean(scores["v0"][t]) for t in ("t0", "t1")]
    if min(abs(m) for m in means) < 1e-3:
        return  # a control mean of 0 is refused
    scaled = {v: {**tasks, "t0": a * np.asarray(tasks["t0"])} for v, tasks in scores.items()}
    few_resamples, taus = StatsSettings(n_resamples=50), np.linspace(-2, 3, 11)
    before = _aggregates(S.analyze_suite(scores, few_resamples, taus=taus))
    after = _aggregates(S.analyze_suite(scaled, few_resamples, taus=taus))
    assert after == pytest.approx(before, rel=1e-6, abs=1e-9, nan_ok=True)


@settings(max_examples=40, deadline=None)
@given(suite_values, st.booleans())
def test_lower_is_better_is_higher_is_better_of_the_negated_scores(values: list[float], declared: bool) -> None:
    scores = _suite(values)
    if min(abs(np.mean(scores["v0"][t])) for t in ("t0", "t1")) < 1e-3:
        return
    negated = {v: {t: -np.asarray(x) for t, x in tasks.items()} for v, tasks in scores.items()}
    bounds = {"t0": (-100.0, 100.0), "t1": (-150.0, 120.0)} if declared else None
    neg_bounds = {t: (-hi, -lo) for t, (lo, hi) in bounds.items()} if declared else None
    kw = {"taus": np.linspace(-2, 3, 11), "target": 1.0}
    low = S.analyze_suite(scores, StatsSettings(direction="min", n_resamples=50), normalize=bounds, **kw)
    high = S.analyze_suite(negated, StatsSettings(direction="max", n_resamples=50), normalize=neg_bounds, **kw)
    assert _aggregates(low) == pytest.approx(_aggregates(high), rel=1e-9, abs=1e-12, nan_ok=True)
    assert [c.verdict for c in low.comparisons] == [c.verdict for c in high.comparisons]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40), st.integers(1, 4))
def test_iqm_lies_between_min_and_max(values: list[float], tasks: int) -> None:
    m = np.resize(np.array(values), (max(1, len(values) // tasks), tasks))
    agg = A.aggregate_scores(m, StatsSettings(n_resamples=20))
    assert m.min() - 1e-6 <= agg.iqm <= m.max() + 1e-6
    assert agg.iqm == pytest.approx(ref_iqm(m), rel=1e-9, abs=1e-6)
    assert m.min() - 1e-6 <= agg.iqm_ci[0] <= agg.iqm_ci[1] <= m.max() + 1e-6


def test_the_test_scale_is_reported_and_a_zero_pooled_mean_refused() -> None:
    result = S.analyze_suite(SCORES, StatsSettings(n_resamples=20))
    assert "treatment's and the control's runs together" in result.comparison("fast").test_normalization
    assert result.to_dict()["aggregate"]["comparisons"][0]["test_normalization"].startswith("relative to")
    declared = S.analyze_suite(SCORES, StatsSettings(n_resamples=20), normalize=BOUNDS)
    assert declared.comparison("fast").test_normalization == declared.normalization.description
    with pytest.raises(ValueError, match=r"'t'.*together have mean score 0"):
        S.analyze_suite({"a": {"t": [1.0, 1.0]}, "b": {"t": [-1.0, -1.0]}}, StatsSettings(n_resamples=20))


def test_aggregate_counts_runs_tasks_and_scores() -> None:
    m = np.array([[1.0, np.nan], [np.nan, np.nan], [2.0, 3.0]])
    agg = A.aggregate_scores(m, StatsSettings(n_resamples=20))
    assert (agg.n_runs, agg.n_tasks, agg.n_scores) == (2, 2, 3)
    empty = A.aggregate_scores(np.full((2, 2), np.nan), StatsSettings(n_resamples=20))
    assert math.isnan(empty.iqm) and empty.iqm_ci == (pytest.approx(np.nan, nan_ok=True),) * 2
