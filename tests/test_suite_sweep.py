"""Suites through the real command line: one run evaluating every task (a metric template), one task per run
(.add_task), tasks on very different scales (a reward near 1 beside a return near 500); per-task and aggregate
verdicts as the app's known scores say."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from sweeper_cli import APPS, EXAMPLE_APP, job_dirs, run_sweep, status, write_experiment

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

SUITE_APP = APPS / "suite" / "app.py"

ONE_RUN = """
experiment = (
    create_experiment("suite_one", "every run evaluates every task")
    .add_variant(name="base", policy__skill=0.0)
    .add_variant(name="better", policy__skill=0.5)
    .add_variant(name="maze_only", policy__bonus={{"maze": 0.5}}, policy__silent={silent})
    .set_runs_per_variant(5)
    .set_metric("eval/{{task}}/reward", direction="max"{extra})
    .build()
)
"""


def summary(exp_dir):
    return json.loads((exp_dir / "summary.json").read_text())


def verdicts(data):
    per_task = {
        (task, c["treatment"]): c["verdict"] for task, entry in data["tasks"].items() for c in entry["comparisons"]
    }
    aggregate = {c["treatment"]: c["verdict"] for c in data["aggregate"]["comparisons"]}
    return per_task, aggregate


def test_one_run_evaluating_every_task_is_judged_per_task_and_in_aggregate(tmp_path):
    write_experiment(tmp_path / "suite.py", ONE_RUN.format(silent=[], extra=""))
    result = run_sweep(SUITE_APP, "ab.experiment=suite.py", "noise=0.05", cwd=tmp_path)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("suite_one")
    assert len(job_dirs(exp_dir)) == 15
    data = summary(exp_dir)
    per_task, aggregate = verdicts(data)
    assert set(data["tasks"]) == {"maze", "memory", "objects"}
    assert {t: per_task[t, "better"] for t in data["tasks"]} == dict.fromkeys(data["tasks"], "better")
    assert per_task["maze", "maze_only"] == "better"
    assert per_task["memory", "maze_only"] == per_task["objects", "maze_only"] == "inconclusive"
    assert aggregate["better"] == "better"
    assert data["comparisons"][0]["verdict"] == "better"  # the top-level verdict is the aggregate's
    family = [c["family_size"] for entry in data["tasks"].values() for c in entry["comparisons"]]
    assert family == [6] * 6  # one Holm family over tasks x treatments
    assert data["aggregate"]["normalization"]["method"] == "control_mean"
    # the aggregate mean of the control is 1 on the control-mean scale; "better" is 1.5 times it
    means = {v: entry["mean"] for v, entry in data["aggregate"]["variants"].items()}
    assert abs(means["base"] - 1.0) < 1e-9 and 1.4 < means["better"] < 1.6
    text = (exp_dir / "summary.txt").read_text()
    assert text.index("Verdict (aggregate over tasks):") < text.index("Per task (raw scores")
    assert "3 tasks (maze, memory, objects), from the logged names matching 'eval/{task}/reward'" in text


def test_a_task_missing_from_some_runs_is_reported(tmp_path):
    write_experiment(tmp_path / "suite.py", ONE_RUN.format(silent=["objects"], extra=""))
    result = run_sweep(SUITE_APP, "ab.experiment=suite.py", "noise=0.05", cwd=tmp_path)
    assert result.returncode == 0, result.output
    data = summary(result.experiment_dir("suite_one"))
    missing = data["missing_task_scores"]["objects"]
    assert sorted(missing) == [f"maze_only_run_{i}" for i in range(1, 6)]
    assert any("task 'objects': 5 completed run(s) reported no score for it" in w for w in data["warnings"])
    assert data["aggregate"]["missing"]["objects"] == [["maze_only", i] for i in range(1, 6)]
    with open(result.experiment_dir("suite_one") / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))  # one row per run and task, scores as summary.json's, the missing ones said
    assert len(rows) == 3 * 5 * 3
    for row in rows:
        value = data["tasks"][row["task"]]["values"][row["variant"]][int(row["run_index"]) - 1]
        if (row["variant"], row["task"]) == ("maze_only", "objects"):
            assert (row["status"], row["score"], value) == ("reported no value for 'eval/objects/reward'", "", None)
        else:
            assert row["status"] == "completed" and float(row["score"]) == value
            assert float(row[f"eval/{row['task']}/reward"]) == value  # the metric the run logged for the task


def test_declared_normalization_is_used_and_said(tmp_path):
    bounds = ', normalize={"maze": (0, 2), "memory": (0, 1000), "objects": (0, 80)}'
    write_experiment(tmp_path / "suite.py", ONE_RUN.format(silent=[], extra=bounds))
    result = run_sweep(SUITE_APP, "ab.experiment=suite.py", "noise=0.05", cwd=tmp_path)
    assert result.returncode == 0, result.output
    data = summary(result.experiment_dir("suite_one"))
    norm = data["aggregate"]["normalization"]
    assert norm["method"] == "declared" and norm["per_task"]["memory"] == {"zero": 0.0, "one": 1000.0}
    base = data["aggregate"]["variants"]["base"]["mean"]
    assert abs(base - 0.5) < 0.05  # every task's base score is half its declared high


PER_TASK = """
experiment = (
    create_experiment("suite_tasks", "one task per run")
    .add_variant(name="base", policy__skill=0.0)
    .add_variant(name="better", policy__skill=0.5)
    .add_task("maze", task="maze")
    .add_task("memory", task="memory", arena="big", tags=["long"])  # arena: a config group of the app
    .set_runs_per_variant(4)
    .set_metric("eval/{task}/reward")
    .build()
)
"""


def test_one_task_per_run_runs_variants_x_tasks_x_runs(tmp_path):
    write_experiment(tmp_path / "suite.py", PER_TASK)
    result = run_sweep(SUITE_APP, "ab.experiment=suite.py", "noise=0.05", "hydra/launcher=joblib", cwd=tmp_path)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("suite_tasks")
    expected = sorted(f"{v}_{t}_run_{i}" for v in ("base", "better") for t in ("maze", "memory") for i in range(1, 5))
    assert job_dirs(exp_dir) == expected
    assert status(exp_dir / "base_maze_run_2")["seed"] == status(exp_dir / "better_maze_run_2")["seed"]
    returned = status(exp_dir / "better_memory_run_1")["return_value"]
    assert list(returned) == ["eval/memory/reward"]  # the job ran its own task only
    plan = json.loads((exp_dir / "plan.json").read_text())
    run = next(r for r in plan if r["job_dir"] == "better_memory_run_1")
    assert run["task"] == "memory" and run["run_name"] == "better_memory_run_1"
    assert any("task:memory" in o and "long" in o for o in run["overrides"])  # W&B tags
    assert len({r["run_name"] for r in plan}) == len(plan)
    assert "arena=big" in run["overrides"]  # a task's group choice selects the option, as a variant's does
    assert yaml.safe_load((exp_dir / "better_memory_run_1" / ".hydra" / "config.yaml").read_text())["arena"] == {
        "size": 50
    }
    data = summary(exp_dir)
    per_task, aggregate = verdicts(data)
    assert per_task == {("maze", "better"): "better", ("memory", "better"): "better"}
    assert aggregate == {"better": "better"}
    assert data["tasks_source"] == "tasks trained separately (.add_task)"
    assert "2 variants x 2 tasks x 4 runs = 16 jobs" in (exp_dir / "plan.txt").read_text()


def test_suite_mistakes_are_refused_before_launching(tmp_path):
    bad_task = PER_TASK.replace('.set_metric("eval/{task}/reward")', '.set_metric("r", normalize={"maz": (0, 1)})')
    write_experiment(tmp_path / "suite.py", bad_task)
    result = run_sweep(SUITE_APP, "ab.experiment=suite.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "normalize names task(s) ['maz'] that are not tasks; tasks: maze, memory" in result.stderr
    clash = PER_TASK.replace('.add_task("maze", task="maze")', '.add_task("maze", task="maze", policy__skill=1)')
    write_experiment(tmp_path / "suite.py", clash)
    result = run_sweep(SUITE_APP, "ab.experiment=suite.py", cwd=tmp_path)
    assert result.returncode == 1 and "variant 'base' and task 'maze' both set 'policy__skill'" in result.stderr
    assert job_dirs(result.experiment_dir("suite_tasks")) == []


def test_the_example_map_suite_is_judged_per_map_and_in_aggregate(tmp_path):
    """examples/map_suite.py on the example app: every map is a task, read from what each run returns."""
    experiment = EXAMPLE_APP.parent / "map_suite.py"
    result = run_sweep(
        EXAMPLE_APP,
        f"ab.experiment={experiment}",
        "trainer.total_timesteps=60000",
        "hydra/launcher=joblib",
        cwd=tmp_path,
        plots=True,
    )
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("map_suite")
    data = summary(exp_dir)
    assert list(data["tasks"]) == ["open_5x5", "open_7x7", "wall_7x7", "two_rooms_9x9", "four_rooms_11x11",
                                   "maze_11x11", "rooms_15x15", "maze_15x15"]  # fmt: skip
    assert data["aggregate"]["normalization"]["method"] == "declared"
    gap = data["aggregate"]["variants"]["tabular"]["optimality_gap"]
    assert gap == pytest.approx(1 - data["aggregate"]["variants"]["tabular"]["mean"])  # success <= target 1
    for png in ("performance_profiles.png", "aggregates.png", "task_scores.png"):
        assert (exp_dir / png).stat().st_size > 10_000


def test_the_command_line_declares_the_normalization_and_the_plan_says_so(tmp_path):
    write_experiment(tmp_path / "suite.py", ONE_RUN.format(silent=[], extra=""))
    bounds = "ab.analysis.normalize={maze:[0,2],memory:[0,1000],objects:[0,80]}"
    plan = run_sweep(SUITE_APP, "ab.experiment=suite.py", "ab.dry_run=true", bounds, cwd=tmp_path)
    assert plan.returncode == 0, plan.output
    assert "scores normalized by the declared (low, high) per task" in plan.stdout
    result = run_sweep(SUITE_APP, "ab.experiment=suite.py", bounds, "ab.analysis.target=0.9", cwd=tmp_path)
    assert result.returncode == 0, result.output
    settings = summary(result.experiment_dir("suite_one"))["aggregate"]
    assert settings["normalization"]["per_task"]["objects"] == {"zero": 0.0, "one": 80.0}
    assert settings["settings"]["target"] == 0.9


def test_a_plain_metric_of_one_task_per_run_is_each_runs_own_tasks_score(tmp_path):
    """`reward` is logged under one name by every task (as Jumanji's episode return is): each run's score is
    its own task's, and no learning-curve plot mixes the tasks' scales."""
    write_experiment(
        tmp_path / "suite.py", PER_TASK.replace('.set_metric("eval/{task}/reward")', '.set_metric("reward")')
    )
    result = run_sweep(SUITE_APP, "ab.experiment=suite.py", "noise=0.05", cwd=tmp_path, plots=True)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("suite_tasks")
    data = summary(exp_dir)
    assert verdicts(data) == ({("maze", "better"): "better", ("memory", "better"): "better"}, {"better": "better"})
    memory = data["tasks"]["memory"]["values"]["base"]
    assert all(400 < v < 600 for v in memory)  # the memory runs' own scale, from their metrics.json curves
    assert (exp_dir / "task_scores.png").is_file() and not (exp_dir / "learning_curves.png").exists()
    verdict = (exp_dir / "summary.txt").read_text().split("Verdict (aggregate over tasks):")[1].split("\n\n")[0]
    assert "better than base on reward, each run's mean across tasks of scores normalized by both variants'" in verdict
    assert "the aggregate tables are relative to the control's means" in verdict and "%)" not in verdict


def test_a_suite_whose_runs_have_no_score_says_why(tmp_path):
    """The reader fails on every run: the error names the normalization it could not do and the reader's error."""
    reader = "def read_score(job_dir):\n    raise KeyError('port')\n\n"
    body = PER_TASK.replace('.set_metric("eval/{task}/reward")', '.set_metric("score", reader=read_score)')
    write_experiment(tmp_path / "suite.py", reader + body)
    result = run_sweep(SUITE_APP, "ab.experiment=suite.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "task 'maze': the control 'base' has no score" in result.stderr
    assert "what reading the runs said: the metric reader read_score" in result.stderr
    assert "raised KeyError: 'port'" in result.stderr
    assert len(job_dirs(result.experiment_dir("suite_tasks"))) == 16  # the runs are kept
