"""Sequential suites through the real command line: the looks decide on the aggregate verdict's unit (each run's
mean normalized score across tasks), in both kinds of suite; a clear effect stops at look 1, an A/A suite runs
every look and resumes after a kill -9 at the next look. Each look's p is checked against scipy on run means
computed here by hand from the per-task scores summary.json lists."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from scipy import stats as sps
from sweeper_cli import APPS, PYTHON, job_dirs, run_sweep, status, write_experiment

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

SUITE_APP = APPS / "suite" / "app.py"
BOUNDS = {"maze": (0, 2), "memory": (0, 1000), "objects": (0, 80)}

EVERY_TASK = """
experiment = (
    create_experiment("seq_suite", "every run evaluates every task")
    .add_variant(name="base", policy__skill=0.0)
    .add_variant(name="better", policy__skill=0.5)
    .set_sequential(max_runs_per_variant=15, runs_per_look=5)
    .set_metric("eval/{{task}}/reward", normalize={bounds})
    .build()
)
"""

TASK_PER_RUN = """
experiment = (
    create_experiment("seq_tasks", "one task per run, no difference")
    .add_variant(name="base", policy__skill=0.0)
    .add_variant(name="same", policy__skill=0.0)
    .add_task("maze", task="maze")
    .add_task("memory", task="memory")
    .set_sequential(max_runs_per_variant=15, runs_per_look=5)
    .set_metric("eval/{task}/reward")
    .build()
)
"""


def summary(exp_dir):
    return json.loads((exp_dir / "summary.json").read_text())


def looks(exp_dir):
    return json.loads((exp_dir / "looks.json").read_text())["looks"]


def raw_scores(data, variant, runs):
    """(runs, tasks) of a variant's first `runs` runs, from summary.json's per-task values."""
    return np.array([data["tasks"][task]["values"][variant][:runs] for task in data["tasks"]]).T


def test_a_clear_effect_on_the_suite_stops_at_the_first_look(tmp_path):
    """Every run evaluates every task (a metric template), declared scales, paired seeds."""
    write_experiment(tmp_path / "suite.py", EVERY_TASK.format(bounds=BOUNDS))
    result = run_sweep(SUITE_APP, "ab.experiment=suite.py", "noise=0.05", cwd=tmp_path)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("seq_suite")
    assert job_dirs(exp_dir) == [f"{v}_run_{i}" for v in ("base", "better") for i in range(1, 6)]  # 10 of 30
    assert "look 1 of 3: runs 1-5 of base, better" in result.output
    data = summary(exp_dir)
    seq = data["sequential"]
    assert (seq["stopped"], seq["reason"], seq["looks_done"]) == (True, "decided", 1)
    assert seq["runs_used"] == {"base": 5, "better": 5} and seq["runs_saved"] == 20
    assert data["comparisons"][0]["verdict"] == data["aggregate"]["comparisons"][0]["verdict"] == "better"
    # the look's unit: each run's mean over tasks of (x - low) / (high - low), the paired t-test of those
    low, high = (np.array([BOUNDS[t][k] for t in data["tasks"]]) for k in (0, 1))
    means = {v: ((raw_scores(data, v, 5) - low) / (high - low)).mean(axis=1) for v in ("base", "better")}
    look = seq["looks"][0]["comparisons"][0]
    assert look["p"] == pytest.approx(sps.ttest_rel(means["better"], means["base"]).pvalue, rel=1e-9)
    assert look["difference"] == pytest.approx(np.mean(means["better"] - means["base"]), rel=1e-9)
    assert data["variants"]["better"]["values"] == pytest.approx(list(means["better"]), rel=1e-9)
    text = (exp_dir / "summary.txt").read_text()
    verdict = text.split("Verdict (aggregate over tasks):\n")[1].split("\n\n")[0]
    assert (
        "better is better than base on eval/{task}/reward, each run's mean normalized score across tasks: decided "
        "at look 1 of 3 (5 runs per variant), paired t = " in verdict
    )
    assert (
        "Stopped at look 1 of 3 (decided). Runs used per variant: base 5, better 5 of 15; 20 of 30 runs saved." in text
    )
    assert "fixed-sample tests over the runs the looks used: the looks decided the aggregate only" in text


def test_an_aa_suite_of_tasks_trained_separately_runs_every_look_and_resumes_after_a_kill(tmp_path):
    """One task per run (variants x tasks x runs), the default normalization, independent seeds: no look calls
    the identical variants different (base seed 100: a draw where none does, as about 95% do); killed during
    look 2, the rerun starts at look 2 and never redoes or re-decides look 1."""
    write_experiment(tmp_path / "suite.py", TASK_PER_RUN)
    args = ["ab.experiment=suite.py", "ab.paired_seeds=false", "ab.base_seed=100", "sleep=0.2", "ab.plots=false"]
    exp_dir = tmp_path / "ab_test_results" / "seq_tasks"
    env = {**os.environ, "WANDB_MODE": "offline"}
    command = [PYTHON, str(SUITE_APP), "-m", "hydra/sweeper=ab", *args]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ((exp_dir / "looks.json").is_file() and looks(exp_dir)) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # into look 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert [e["decision"]["reason"] for e in looks(exp_dir)] == ["continue"]
    look_1 = {d: status(exp_dir / d)["started_at"] for d in job_dirs(exp_dir) if int(d.rsplit("_", 1)[1]) <= 5}
    assert len(look_1) == 20  # 2 variants x 2 tasks x 5 runs

    again = run_sweep(SUITE_APP, *args, cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert "look 2 of 3: runs 6-10 of base, same" in again.output and "look 1 of 3" not in again.output
    assert {d: status(exp_dir / d)["started_at"] for d in look_1} == look_1
    assert len(job_dirs(exp_dir)) == 60
    data = summary(exp_dir)
    seq = data["sequential"]
    assert (seq["reason"], seq["looks_done"], seq["runs_saved"], seq["jobs_per_run"]) == ("max runs", 3, 0, 2)
    assert [h["comparisons"][0]["decision"] for h in seq["looks"]] == ["continue", "continue", "inconclusive"]
    assert data["comparisons"][0]["verdict"] == data["aggregate"]["comparisons"][0]["verdict"] == "inconclusive"
    # look 1's unit: scores normalized by the per-task mean m of both variants' runs so far, 1 + (x - m) / |m|,
    # averaged over tasks; its p is the exact permutation p of Welch's t (5 vs 5 runs: every relabelling)
    raw = {v: raw_scores(data, v, 5) for v in ("base", "same")}
    m = np.vstack(list(raw.values())).mean(axis=0)
    units = {v: (1 + (x - m) / np.abs(m)).mean(axis=1) for v, x in raw.items()}
    exact = sps.permutation_test(
        (units["same"], units["base"]),
        lambda x, y, axis: sps.ttest_ind(x, y, axis=axis, equal_var=False).statistic,
        permutation_type="independent",
        n_resamples=np.inf,
    )
    first = seq["looks"][0]["comparisons"][0]
    assert first["p_method"] == "exact permutation" and first["p"] == pytest.approx(exact.pvalue)
    assert first["difference"] == pytest.approx(units["same"].mean() - units["base"].mean(), rel=1e-9)
    text = (exp_dir / "summary.txt").read_text()
    assert (
        "Inconclusive: same vs base on eval/{task}/reward, each run's mean across tasks of scores normalized by "
        "both variants' per-task means" in text
    )
    assert "after all 3 looks (15 runs per variant)" in text
    assert "0 of 30 runs saved (0 of 60 jobs: a run is 2 jobs, one per task)." in text
    assert "2 variants x 2 tasks x at most 15 runs = at most 60 jobs" in (exp_dir / "plan.txt").read_text()
