"""Sequential experiments through the real command line: one launch per look, the look's decision, stop early
when the answer is known, resume after kill -9 at the right look; and the looks of fixed designs.

The app returns known scores per run (`known_scores`), drawn here from known distributions."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps
from sweeper_cli import METTA_LIKE, PYTHON, job_dirs, run_sweep, status, write_experiment
from test_stats_sequential import stagewise_tail_by_genz

from metta_ab import exit_status
from metta_ab.definition.loading import load_experiment
from metta_ab.runner import run_ab_test
from metta_ab.stats import StatsSettings
from metta_ab.stats.sequential import run_sequential, sequential_design

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

DESIGN = sequential_design(15, 5)  # the default spending, alpha .05: looks at 5, 10, 15 runs per variant

EXPERIMENT = """
experiment = (
    create_experiment("seq", "sequential")
    .add_variant(name="A", known_scores={a})
    .add_variant(name="B", known_scores={b})
    .set_sequential(max_runs_per_variant=15, runs_per_look=5)
    .set_metric("score", direction="max"{extra})
    .build()
)
"""


def scores_where(predicate, make):
    """The first seeded draw (rounded as the experiment file writes it) for which `predicate(a, b)` holds."""
    for seed in range(2000):
        a, b = (np.round(x, 4) for x in make(np.random.default_rng(seed)))
        if predicate(a, b):
            return a, b
    raise AssertionError("no draw found")


def replay(a, b):
    return run_sequential({"A": a, "B": b}, DESIGN, StatsSettings(paired=True))


def write(tmp_path, a, b, extra=""):
    body = EXPERIMENT.format(a=a.tolist(), b=b.tolist(), extra=extra)
    return write_experiment(tmp_path / "seq.py", body)


def summary(exp_dir):
    return json.loads((exp_dir / "summary.json").read_text())


def looks(exp_dir):
    return json.loads((exp_dir / "looks.json").read_text())["looks"]


def large_effect(rng):
    a = rng.normal(0, 1, 15)
    return a, a + 3 + rng.normal(0, 0.5, 15)


def test_a_large_effect_stops_at_the_first_look(tmp_path):
    a, b = scores_where(lambda a, b: len(replay(a, b)) == 1, large_effect)
    write(tmp_path, a, b)
    result = run_sweep(METTA_LIKE, "ab.experiment=seq.py", cwd=tmp_path)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("seq")
    assert job_dirs(exp_dir) == [f"{v}_run_{i}" for v in "AB" for i in range(1, 6)]  # 10 of 30
    assert "look 1 of 3: runs 1-5 of A, B" in result.output
    data = summary(exp_dir)
    assert data["comparisons"][0]["verdict"] == "better"
    seq = data["sequential"]
    assert (seq["stopped"], seq["reason"], seq["looks_done"]) == (True, "decided", 1)
    assert seq["runs_used"] == {"A": 5, "B": 5} and seq["runs_saved"] == 20 and seq["max_runs"] == 30
    assert "overstate" in seq["estimate_note"]
    look = seq["looks"][0]["comparisons"][0]
    assert look["p"] == pytest.approx(sps.ttest_rel(b[:5], a[:5]).pvalue) and look["p"] < DESIGN.nominal_p[0]
    assert look["level"] == pytest.approx(DESIGN.nominal_p[0])
    assert [v["completed"] for v in data["variants"].values()] == [5, 5]
    # the stage-wise ordering keeps a look-1 difference; its CI is the z interval of the standard error the
    # look's p implies (difference / z)
    adjusted = seq["early_stop_estimates"]["B"]
    z = sps.norm.isf(look["p"] / 2)
    assert adjusted["look"] == 1 and adjusted["naive"] == look["difference"]
    assert adjusted["median_unbiased"] == pytest.approx(look["difference"], rel=1e-6)
    assert adjusted["ci"] == pytest.approx(
        [look["difference"] * (1 - 1.96 / z), look["difference"] * (1 + 1.96 / z)], rel=1e-3
    )
    text = (exp_dir / "summary.txt").read_text()
    assert "Stopped at look 1 of 3 (decided)" in text and "20 of 30 runs saved" in text
    assert "B is better than A on score: decided at look 1 of 3 (5 runs per variant)" in text
    assert (
        f"Adjusted for the early stop: {adjusted['median_unbiased']:+.3g} [{adjusted['ci'][0]:.3g}, "
        f"{adjusted['ci'][1]:.3g}] (median-unbiased, 95% CI, stage-wise ordering: a stop at look 1 keeps the "
        "observed difference)." in text
    )

    again = run_sweep(METTA_LIKE, "ab.experiment=seq.py", cwd=tmp_path)  # decided: nothing more to run
    assert again.returncode == 0, again.output
    assert "Launching" not in again.output and len(job_dirs(exp_dir)) == 10
    assert len(looks(exp_dir)) == 1


def test_independent_seeds_decide_on_welchs_t_by_permutation(tmp_path):
    """`ab.paired_seeds=false`: skewed scores, each look's p is the exact permutation p of Welch's t (scipy's),
    and the report says so."""

    def skewed_shift(rng):
        return rng.lognormal(0, 1, 15), rng.lognormal(0, 1, 15) + 2.5

    def stops_at_look_2(a, b):
        return len(run_sequential({"A": a, "B": b}, DESIGN, StatsSettings(paired=False))) == 2

    a, b = scores_where(stops_at_look_2, skewed_shift)
    write(tmp_path, a, b)
    result = run_sweep(METTA_LIKE, "ab.experiment=seq.py", "ab.paired_seeds=false", cwd=tmp_path)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("seq")
    assert len(job_dirs(exp_dir)) == 20
    first, second = (h["comparisons"][0] for h in summary(exp_dir)["sequential"]["looks"])
    exact = sps.permutation_test(
        (b[:5], a[:5]),
        lambda x, y, axis: sps.ttest_ind(x, y, axis=axis, equal_var=False).statistic,
        permutation_type="independent",
        n_resamples=np.inf,
    )
    assert first["p"] == pytest.approx(exact.pvalue) and first["p_method"] == "exact permutation"
    assert second["p_method"] == "permutation" and second["decision"] == "better"
    # stopped at look 2 of 3: the median-unbiased difference against the stage-wise tail of scipy's multivariate
    # normal CDF, with look 1's boundary and look 2's z read off their p as the looks read them
    z = sps.norm.isf(second["p"] / 2)
    bounds, fractions = [sps.norm.isf(first["level"] / 2)], DESIGN.fractions[:2]
    drift = optimize.brentq(lambda d: stagewise_tail_by_genz(d, z, bounds, fractions) - 0.5, -5, 15, xtol=1e-9)
    expected = drift * math.sqrt(fractions[1]) * second["difference"] / z
    adjusted = summary(exp_dir)["sequential"]["early_stop_estimates"]["B"]
    assert adjusted["look"] == 2 and adjusted["median_unbiased"] == pytest.approx(expected, rel=1e-4)
    assert adjusted["median_unbiased"] < adjusted["naive"] == second["difference"]  # pulled back from the stop
    assert adjusted["ci"][0] < adjusted["median_unbiased"] < adjusted["ci"][1]
    text = (exp_dir / "summary.txt").read_text()
    assert (
        f"Adjusted for the early stop: {adjusted['median_unbiased']:+.3g} [{adjusted['ci'][0]:.3g}, "
        f"{adjusted['ci'][1]:.3g}] (median-unbiased, 95% CI, stage-wise ordering)." in text
    )
    assert "p of Welch's t: look 1 from every relabelling of the runs, look 2 from 10,000 random" in text
    assert "Welch t = " in text and "(permutation) < " in text


def test_an_aa_experiment_calls_no_difference_where_testing_each_look_would(tmp_path):
    """Same distribution in both variants, and a look-1 p-value below .05 (a per-look test would have called
    it): the design's boundary holds, and every look runs."""

    def fools_a_naive_test(a, b):
        naive = sps.ttest_rel(b[:5], a[:5]).pvalue
        return 0.01 < naive < 0.05 and replay(a, b)[-1].reason == "max runs"

    a, b = scores_where(fools_a_naive_test, lambda rng: (rng.normal(0, 1, 15), rng.normal(0, 1, 15)))
    write(tmp_path, a, b)
    result = run_sweep(METTA_LIKE, "ab.experiment=seq.py", "hydra/launcher=joblib", cwd=tmp_path)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("seq")
    assert len(job_dirs(exp_dir)) == 30
    seq = summary(exp_dir)["sequential"]
    assert (seq["reason"], seq["looks_done"], seq["runs_saved"]) == ("max runs", 3, 0)
    assert [h["comparisons"][0]["decision"] for h in seq["looks"]] == ["continue", "continue", "inconclusive"]
    assert seq["looks"][0]["comparisons"][0]["p"] < 0.05
    assert summary(exp_dir)["comparisons"][0]["verdict"] == "inconclusive"
    assert "Inconclusive: B vs A on score after all 3 looks" in (exp_dir / "summary.txt").read_text()
    assert (
        seq["early_stop_estimates"] == {} and "Adjusted for the early stop" not in (exp_dir / "summary.txt").read_text()
    )
    assert [e["runs_per_variant"] for e in looks(exp_dir)] == [5, 10, 15]


def test_killed_between_looks_resumes_at_the_next_look(tmp_path):
    def second_look_decides(a, b):
        return [h.reason for h in replay(a, b)] == ["continue", "decided"]

    a, b = scores_where(second_look_decides, lambda rng: (x := rng.normal(0, 1, 15), x + 1 + rng.normal(0, 1, 15)))
    write(tmp_path, a, b)
    exp_dir = tmp_path / "ab_test_results" / "seq"
    command = [PYTHON, str(METTA_LIKE), "-m", "hydra/sweeper=ab", "ab.experiment=seq.py", "sleep=0.3"]
    env = {**os.environ, "WANDB_MODE": "offline"}
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ((exp_dir / "looks.json").is_file() and looks(exp_dir)) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into look 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = looks(exp_dir)
    assert [e["decision"]["reason"] for e in first] == ["continue"]  # look 1 decided, look 2 not
    look_1 = {d: status(exp_dir / d)["started_at"] for d in job_dirs(exp_dir) if int(d.rsplit("_", 1)[1]) <= 5}
    assert len(look_1) == 10

    again = run_sweep(METTA_LIKE, "ab.experiment=seq.py", "sleep=0.3", cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert "look 2 of 3: runs 6-10 of A, B" in again.output and "look 1 of 3" not in again.output
    assert {d: status(exp_dir / d)["started_at"] for d in look_1} == look_1  # look 1's runs were not redone
    entries = looks(exp_dir)
    assert entries[0] == first[0]  # look 1 was not decided again
    assert [e["decision"]["reason"] for e in entries] == ["continue", "decided"]
    assert len(job_dirs(exp_dir)) == 20
    assert summary(exp_dir)["sequential"]["runs_used"] == {"A": 10, "B": 10}


def test_a_look_with_a_failed_run_is_decided_only_once_the_run_completes(tmp_path):
    a, b = scores_where(lambda a, b: len(replay(a, b)) == 1, large_effect)
    write(tmp_path, a, b)
    args = ("ab.experiment=seq.py", "fail_mode=B_run_3", "fail_kind=once", "ab.max_retries=0")
    first = run_sweep(METTA_LIKE, *args, cwd=tmp_path)
    assert first.returncode == exit_status.RUNS_FAILED
    exp_dir = first.experiment_dir("seq")
    assert "look 1 is not decided: 1 run(s) failed" in first.output
    assert looks(exp_dir) == [] and summary(exp_dir)["sequential"]["looks_done"] == 0
    again = run_sweep(METTA_LIKE, *args, cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert summary(exp_dir)["sequential"]["reason"] == "decided"


def test_resuming_with_other_decision_settings_is_refused(tmp_path):
    write(tmp_path, *large_effect(np.random.default_rng(0)))
    first = run_sweep(METTA_LIKE, "ab.experiment=seq.py", "ab.sequential.max_runs_per_variant=5", cwd=tmp_path)
    assert first.returncode == 0, first.output
    again = run_sweep(METTA_LIKE, "ab.experiment=seq.py", "ab.analysis.alpha=0.1", cwd=tmp_path)
    assert again.returncode == 1
    assert "looks.json: the 1 look(s) decided so far used other settings" in again.stderr
    assert "alpha 0.05 -> 0.1" in again.stderr and "max_runs_per_variant 5 -> 15" in again.stderr


def test_a_sequential_experiment_without_a_metric_is_refused_before_launching(tmp_path):
    a = np.zeros(15)
    body = EXPERIMENT.format(a=a.tolist(), b=a.tolist(), extra="")
    body = body.replace('    .set_metric("score", direction="max")\n', "")
    write_experiment(tmp_path / "seq.py", body)
    result = run_sweep(METTA_LIKE, "ab.experiment=seq.py", cwd=tmp_path)
    assert result.returncode == 1 and "its metric must be declared before any run" in result.stderr
    assert "ab.experiment=seq.py" in result.stderr
    assert job_dirs(result.experiment_dir("seq")) == []


FIXED = """
experiment = (
    create_experiment("fixed", "grown")
    .add_variant(name="A", trainer__learning_rate=0.001)
    .add_variant(name="B", trainer__learning_rate=0.002)
    .set_runs_per_variant({runs})
    .set_metric("score")
    .build()
)
"""


def test_a_grown_fixed_design_records_both_looks_and_warns(tmp_path):
    write_experiment(tmp_path / "fixed.py", FIXED.format(runs=3))
    first = run_sweep(METTA_LIKE, "ab.experiment=fixed.py", cwd=tmp_path)
    assert first.returncode == 0, first.output
    exp_dir = first.experiment_dir("fixed")
    assert [e["runs_per_variant"] for e in summary(exp_dir)["looks"]] == [3]
    assert not any("grew" in w for w in summary(exp_dir)["warnings"])
    same = run_sweep(METTA_LIKE, "ab.experiment=fixed.py", cwd=tmp_path)  # nothing new: not another look
    assert same.returncode == 0 and len(summary(exp_dir)["looks"]) == 1

    write_experiment(tmp_path / "fixed.py", FIXED.format(runs=6))
    grown = run_sweep(METTA_LIKE, "ab.experiment=fixed.py", cwd=tmp_path)
    assert grown.returncode == 0, grown.output
    data = summary(exp_dir)
    assert [(e["runs_per_variant"], e["completed"]) for e in data["looks"]] == [
        (3, {"A": 3, "B": 3}),
        (6, {"A": 6, "B": 6}),
    ]
    warning = next(w for w in data["warnings"] if "grew" in w)
    assert "grew to 6 runs per variant after an analysis at 3" in warning and ".set_sequential(" in warning
    assert "do not account for the earlier look(s)" in (exp_dir / "summary.txt").read_text()
    assert data["sequential"] is None


def test_run_ab_test_tells_runs_an_early_stop_left_out_from_failed_ones(tmp_path):
    a, b = scores_where(lambda a, b: len(replay(a, b)) == 1, large_effect)
    experiment = load_experiment(write(tmp_path, a, b))
    results = run_ab_test(experiment, app=METTA_LIKE, output_dir=tmp_path / "out", quiet=True)
    for runs in results.values():
        assert [r["success"] for r in runs] == [True] * 5 + [None] * 10


THREE = """
experiment = (
    create_experiment("seq3", "three variants")
    .add_variant(name="A", known_scores={a})
    .add_variant(name="B", known_scores={b})
    .add_variant(name="C", known_scores={c})
    .set_sequential(max_runs_per_variant=15, runs_per_look=5)
    .set_metric("score")
    .build()
)
"""


def test_a_decided_treatment_gets_no_more_runs_while_the_others_go_on(tmp_path):
    """B is decided at look 1 (Holm over B and C); A and C go on to the last look."""

    def make(rng):
        a = rng.normal(0, 1, 15)
        return a, a + 3 + rng.normal(0, 0.5, 15), rng.normal(0, 1, 15)

    for seed in range(2000):
        a, b, c = (np.round(x, 4) for x in make(np.random.default_rng(seed)))
        history = run_sequential({"A": a, "B": b, "C": c}, DESIGN, StatsSettings(paired=True))
        first = {x.treatment: x.decision for x in history[0].comparisons}
        if first == {"B": "better", "C": "continue"} and len(history) == 3:
            break
    write_experiment(tmp_path / "seq3.py", THREE.format(a=a.tolist(), b=b.tolist(), c=c.tolist()))
    result = run_sweep(METTA_LIKE, "ab.experiment=seq3.py", "hydra/launcher=joblib", cwd=tmp_path)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("seq3")
    runs = {v: len([d for d in job_dirs(exp_dir) if d.startswith(f"{v}_")]) for v in "ABC"}
    assert runs == {"A": 15, "B": 5, "C": 15}
    seq = summary(exp_dir)["sequential"]
    assert seq["runs_used"] == runs and seq["runs_saved"] == 10
    assert seq["looks"][1]["open_variants"] == ["A", "C"]
    decided = {c["treatment"]: c["verdict"] for c in summary(exp_dir)["comparisons"]}
    assert decided["B"] == "better" and decided["C"] == [c.decision for c in history[-1].comparisons][1]
    notes = {c["treatment"]: c["warnings"] for c in summary(exp_dir)["comparisons"]}
    assert any("decided at look 1)" in w for w in notes["B"]), notes["B"]  # not the last look's number
    assert any("decided at look 3)" in w for w in notes["C"]), notes["C"]
    assert "10 run(s) of A have no partner (B has 5, A 15); the paired test uses 5 pairs." in notes["B"]


def test_on_ab_local_each_look_is_one_queue_and_its_failed_run_is_retried_in_it(tmp_path):
    """B_run_3 fails once at look 1: ab_local retries it within the look's queue, the look is decided with it,
    and no run of look 2 starts before every run of look 1 (the retry too) has ended."""

    def second_look_decides(a, b):
        return [h.reason for h in replay(a, b)] == ["continue", "decided"]

    a, b = scores_where(second_look_decides, lambda rng: (x := rng.normal(0, 1, 15), x + 1 + rng.normal(0, 1, 15)))
    write(tmp_path, a, b)
    result = run_sweep(
        METTA_LIKE, "ab.experiment=seq.py", "hydra/launcher=ab_local", "hydra.launcher.n_jobs=2",
        "fail_mode=B_run_3", "fail_kind=once", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("seq")
    assert "[ab] B_run_3 failed (attempt 1); retried in the next free slot" in result.output
    assert "relaunching" not in result.output
    records = {d: status(exp_dir / d) for d in job_dirs(exp_dir)}
    assert len(records) == 20 and records["B_run_3"]["attempt"] == 2
    look_1 = [r for d, r in records.items() if int(d.rsplit("_", 1)[1]) <= 5]
    look_2 = [r for d, r in records.items() if int(d.rsplit("_", 1)[1]) > 5]
    assert max(r["finished_at"] for r in look_1) < min(r["started_at"] for r in look_2)
    history = replay(a, b)
    entries = looks(exp_dir)
    assert [e["decision"]["reason"] for e in entries] == ["continue", "decided"]
    assert [e["decision"]["comparisons"][0]["p"] for e in entries] == pytest.approx(
        [h.comparisons[0].p for h in history]
    )
    assert summary(exp_dir)["sequential"]["runs_used"] == {"A": 10, "B": 10}
