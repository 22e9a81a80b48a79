"""The cost `metta-ab plan --pilot` prints, from pilots written by hand with known durations: every number against
a brute-force computation (numpy's median and percentile, rounds of equal runs), per-task medians of a suite, a
sequential design's looks launched one after another, and the pilots refused in one line."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from experiment_dirs import build
from hypothesis import given
from hypothesis import strategies as st
from sweeper_cli import METTA_LIKE, job_dirs, run_command, run_sweep, status, write_experiment

from metta_ab import exit_status
from metta_ab.cli import main
from metta_ab.records.ledger import STATUS_FILE
from metta_ab.records.snapshot import wall_seconds
from metta_ab.text_format import fmt_num, fmt_span

METTA_AB = Path(sys.executable).parent / "metta-ab"
PLAIN = """
experiment = (
    create_experiment("next", "the experiment to cost")
    .add_variant(name="a").add_variant(name="b").add_variant(name="c")
    .set_runs_per_variant(5)
    .build()
)
"""
SUITE = """
experiment = (
    create_experiment("suite", "tasks trained separately")
    .add_variant(name="a").add_variant(name="b")
    .add_task("walk").add_task("run").add_task("swim")
    .set_runs_per_variant(4)
    .build()
)
"""
SEQUENTIAL = """
experiment = (
    create_experiment("seq", "looks")
    .add_variant(name="a").add_variant(name="b")
    .set_sequential(max_runs_per_variant=6, runs_per_look=2)
    .build()
)
"""


def write_pilot(directory: Path, durations: dict[tuple[str, str | None, int], float | None]) -> Path:
    """An experiment directory as a sweep leaves it: plan.json and, per job, its status record (None: failed)."""
    directory.mkdir(parents=True)
    plan = []
    for (variant, task, index), duration in durations.items():
        job_dir = f"{variant}_run_{index}" if task is None else f"{variant}_{task}_run_{index}"
        plan.append({"variant": variant, "task": task, "run_index": index, "run_name": job_dir, "job_dir": job_dir})
        (directory / job_dir).mkdir()
        status = "failed" if duration is None else "completed"
        record = {"status": status, "attempt": 1, "started_at": 1000.0, "duration": duration or 7.0}
        (directory / job_dir / STATUS_FILE).write_text(json.dumps(record))
    (directory / "plan.json").write_text(json.dumps(plan))
    return directory


def plan_cost(tmp_path: Path, capsys, body: str, *args: str) -> tuple[list[str], dict]:
    """`metta-ab plan` with the pilot: the cost lines of its text, and the cost of its --json."""
    write_experiment(tmp_path / "exp.py", body)
    assert main(["plan", str(tmp_path / "exp.py"), *args]) == 0
    text = capsys.readouterr().out
    assert main(["plan", str(tmp_path / "exp.py"), "--json", *args]) == 0
    cost = json.loads(capsys.readouterr().out)["cost"]
    return text[text.index("Cost (") :].splitlines(), cost


def test_plain_plan_costed_from_the_pilots_durations(tmp_path, capsys):
    durations = [250.0, 260.0, 245.0, 310.0, 300.0, 252.0, 262.0, 290.0]  # one failed run besides: not counted
    runs = {("a", None, i): d for i, d in enumerate(durations[:4], start=1)}
    runs |= {("b", None, i): d for i, d in enumerate(durations[4:], start=1)} | {("b", None, 5): None}
    pilot = write_pilot(tmp_path / "pilot", runs)
    lines, cost = plan_cost(tmp_path, capsys, PLAIN, "--pilot", str(pilot), "--parallel", "4", "--gpus-per-job", "2")
    median, p90 = float(np.median(durations)), float(np.percentile(durations, 90))
    jobs = 3 * 5
    wall = math.ceil(jobs / 4) * median  # four rounds of equal runs, the last one of three
    assert cost["pilot_runs"] == 8 and cost["runs"] == jobs and cost["maximum"] is False
    assert cost["median"] == pytest.approx(median) and cost["p90"] == pytest.approx(p90)
    assert cost["run_seconds"] == pytest.approx(jobs * median) and cost["wall_seconds"] == pytest.approx(wall)
    assert cost["gpu_hours"] == pytest.approx(jobs * median * 2 / 3600)
    assert cost["parallelism"] == {"runs": 4, "source": "--parallel"}
    assert lines == [
        f"Cost (from the pilot's 8 completed runs in {pilot}: median {fmt_span(median)}, p90 {fmt_span(p90)} per run):",
        f"  15 runs = {fmt_num(jobs * median / 3600, 2)} h of run time",
        f"  ~ {fmt_span(wall)} wall at 4 in parallel (--parallel)",
        f"  {fmt_num(jobs * median * 2 / 3600, 2)} GPU-hours at 2 GPUs per job",
    ]
    assert (
        lines[0].endswith("median 4m21s, p90 5m03s per run):")
        and lines[2] == "  ~ 17m24s wall at 4 in parallel (--parallel)"
    )


def test_parallelism_from_the_launcher_override_else_one_at_a_time(tmp_path, capsys):
    pilot = write_pilot(tmp_path / "pilot", {("a", None, 1): 60.0, ("b", None, 1): 120.0})
    _, cost = plan_cost(tmp_path, capsys, PLAIN, "--pilot", str(pilot), "--", "hydra.launcher.n_jobs=2")
    assert cost["parallelism"] == {"runs": 2, "source": "hydra.launcher.n_jobs=2"}
    assert cost["wall_seconds"] == pytest.approx(math.ceil(15 / 2) * 90.0)
    lines, cost = plan_cost(tmp_path, capsys, PLAIN, "--pilot", str(pilot))
    assert cost["parallelism"]["runs"] == 1 and cost["wall_seconds"] == pytest.approx(15 * 90.0)
    assert lines[2] == "  ~ 22m30s wall one at a time (assumed: no --parallel, and no launcher setting says how many)"
    assert lines[3] == f"  {fmt_num(15 * 90 / 3600, 2)} GPU-hours at 1 GPU per job"


def test_suite_runs_costed_at_their_tasks_median(tmp_path, capsys):
    walk, run = [100.0, 140.0, 120.0], [400.0, 500.0]  # the pilot never ran "swim"
    runs = {("a", "walk", i): d for i, d in enumerate(walk, start=1)}
    runs |= {("b", "run", i): d for i, d in enumerate(run, start=1)} | {("b", "fly", 1): 900.0}
    pilot = write_pilot(tmp_path / "pilot", runs)
    lines, cost = plan_cost(tmp_path, capsys, SUITE, "--pilot", str(pilot), "--parallel", "3")
    overall = float(np.median([*walk, *run, 900.0]))
    per_task = {"walk": float(np.median(walk)), "run": float(np.median(run)), "swim": overall}
    jobs = [per_task[task] for _ in "ab" for task in ("walk", "run", "swim") for _ in range(4)]  # plan order
    assert cost["runs"] == 2 * 3 * 4 and cost["run_seconds"] == pytest.approx(sum(jobs))
    assert cost["task_medians"] == {"walk": per_task["walk"], "run": per_task["run"]}
    assert cost["tasks_without_pilot"] == ["swim"]
    assert cost["wall_seconds"] == pytest.approx(brute_force_wall(jobs, 3))
    assert "  per task, the pilot's median on it: walk 2m00s, run 7m30s" in lines
    assert "  the pilot has no completed run on task swim: costed at the overall median" in lines


def test_sequential_design_costed_at_its_maximum_look_after_look(tmp_path, capsys):
    pilot = write_pilot(tmp_path / "pilot", {("a", None, 1): 30.0, ("a", None, 2): 50.0})
    lines, cost = plan_cost(tmp_path, capsys, SEQUENTIAL, "--pilot", str(pilot), "--parallel", "8")
    # three looks of 2 runs x 2 variants: each look one round of 4 runs, though 8 could run at once
    assert cost["maximum"] is True and cost["runs"] == 12
    assert cost["wall_seconds"] == pytest.approx(3 * 40.0) and cost["run_seconds"] == pytest.approx(12 * 40.0)
    assert lines[1] == (
        f"  at most 12 runs (the sequential design's maximum; its looks may stop it earlier) = "
        f"{fmt_num(12 * 40 / 3600, 2)} h of run time"
    )
    assert lines[2] == "  ~ 2m00s wall at 8 in parallel, the looks one after another (--parallel)"


def brute_force_wall(jobs: list[float], slots: int) -> float:
    """A launcher pool second by second: a free slot takes the next job; the time the last one ends."""
    time, pending, running = 0.0, list(jobs), []
    while pending or running:
        while pending and len(running) < slots:
            running.append(time + pending.pop(0))
        time = min(running)
        running = [end for end in running if end > time]
    return time


@given(
    st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=30),
    st.integers(min_value=1, max_value=8),
)
def test_wall_seconds_is_a_launcher_pools_end(jobs, slots):
    seconds = [float(j) for j in jobs]
    assert wall_seconds(seconds, slots) == pytest.approx(brute_force_wall(seconds, slots))
    equal = [7.0] * len(jobs)
    assert wall_seconds(equal, slots) == pytest.approx(math.ceil(len(jobs) / slots) * 7.0)


def test_bad_pilots_are_refused_in_one_line(tmp_path, capsys):
    write_experiment(tmp_path / "exp.py", PLAIN)
    (tmp_path / "not_one").mkdir()
    failed_only = write_pilot(tmp_path / "failed", {("a", None, 1): None, ("b", None, 1): None})
    cases = {
        ("--pilot", str(tmp_path / "not_one")): "is not an experiment directory: it has no ledger.json or plan.json",
        ("--pilot", str(tmp_path / "missing")): "is not a directory",
        ("--pilot", str(failed_only)): "no completed run with a recorded duration yet (2 runs planned there)",
        ("--parallel", "4"): "--parallel and --gpus-per-job cost the runs from a pilot's durations: add --pilot DIR",
        ("--pilot", str(failed_only), "--parallel", "0"): "--parallel takes the runs at once, a positive number",
        ("--pilot", str(failed_only), "--gpus-per-job", "-1"): "--gpus-per-job takes the GPUs each run holds",
    }
    for args, message in cases.items():
        assert main(["plan", str(tmp_path / "exp.py"), *args]) == exit_status.USAGE, args
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1 and message in err, (args, err)
        assert re.match(r"metta-ab plan: error: ", err)


PILOT = """
experiment = (
    create_experiment("pilot", "a short pilot whose runs sleep")
    .add_variant(name="a", known_scores=[1.0, 2.0, 3.0])
    .add_variant(name="b", known_scores=[1.5, 2.9, 3.2])
    .set_runs_per_variant(3)
    .set_metric("score")
    .build()
)
"""


def metta_ab(*args: str, cwd: Path):
    return run_command([str(METTA_AB)], *args, cwd=cwd)


@pytest.mark.slow
def test_a_real_pilots_durations_cost_the_plan_and_the_power(tmp_path):
    write_experiment(tmp_path / "pilot.py", PILOT)
    write_experiment(tmp_path / "exp.py", PLAIN)
    pilot = run_sweep(METTA_LIKE, "ab.experiment=pilot.py", "sleep=0.05", cwd=tmp_path)
    assert pilot.returncode == 0, pilot.output
    pilot_dir = pilot.experiment_dir("pilot")
    recorded = [status(pilot_dir / job)["duration"] for job in job_dirs(pilot_dir)]
    median = float(np.median(recorded))
    assert len(recorded) == 6 and min(recorded) >= 0.05

    result = metta_ab("plan", "exp.py", "--json", "--pilot", str(pilot_dir), "--parallel", "2", cwd=tmp_path)
    assert result.returncode == 0, result.output
    cost = json.loads(result.stdout)["cost"]
    assert cost["pilot_runs"] == 6 and cost["median"] == pytest.approx(median)
    assert cost["p90"] == pytest.approx(float(np.percentile(recorded, 90)))
    assert cost["run_seconds"] == pytest.approx(15 * median) and cost["wall_seconds"] == pytest.approx(8 * median)

    # through the app: the launcher the dry run resolved (the basic one) sets the parallelism
    checked = metta_ab("plan", "exp.py", "--app", str(METTA_LIKE), "--pilot", str(pilot_dir), cwd=tmp_path)
    assert checked.returncode == 0, checked.output
    lines = checked.stdout[checked.stdout.index("Cost (") :].splitlines()
    launcher = "the dry run's launcher: the basic launcher runs one at a time"
    assert lines[2] == f"  ~ {fmt_span(15 * median)} wall one at a time ({launcher})"

    power = metta_ab("power", "--pilot", str(pilot_dir), "--parallel", "2", "--gpus-per-job", "0", cwd=tmp_path)
    assert power.returncode == 0, power.output
    needed = int(re.search(r"; (\d+) runs per variant \(one-sample t", power.stdout).group(1))
    text = power.stdout[power.stdout.index(f"At {needed} runs per variant (the most any comparison needs)") :]
    lines = text.splitlines()
    assert lines[2] == f"  {2 * needed} runs = {fmt_num(2 * needed * median / 3600, 2)} h of run time"
    assert lines[3] == f"  ~ {fmt_span(needed * median)} wall at 2 in parallel (--parallel)"
    assert len(lines) == 4  # no GPU-hours at 0 GPUs per job


def test_power_from_a_pilot_without_durations_gives_the_power_alone(tmp_path, capsys):
    pilot = build(tmp_path / "pilot", {"a": [1.0, 2.0, 3.0, 4.0], "b": [1.6, 2.9, 3.3, 4.8]})  # no durations
    jobs = [{"variant": v, "run_index": i, "run_name": f"{v}_run_{i}", "job_dir": f"{v}_run_{i}"} for v in "ab"
            for i in range(1, 5)]  # fmt: skip
    (pilot / "plan.json").write_text(json.dumps(jobs))
    assert main(["power", "--pilot", str(pilot)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"b vs a: .*; \d+ runs per variant", out)
    assert out.splitlines()[-1].startswith(f"(no cost estimate: --pilot {pilot}: no completed run with a recorded")
    assert main(["power", "--pilot", str(pilot), "--parallel", "2"]) == exit_status.USAGE
    assert "no completed run with a recorded duration" in capsys.readouterr().err
