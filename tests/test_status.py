"""`metta-ab status` from another process while a real sweep runs (its runs wait on a file the test creates, so no
timing decides anything), after it ended, after a failed run, and on a directory that is not an experiment's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweeper_cli import METTA_LIKE, PYTHON, write_experiment

from metta_ab import exit_status

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

METTA_AB = Path(sys.executable).parent / "metta-ab"
EXPERIMENT = """
experiment = (
    create_experiment("live", "status while it runs")
    .add_variant(name="a", trainer__learning_rate=0.001)
    .add_variant(name="b", trainer__learning_rate=0.01)
    .set_runs_per_variant(2)
    .set_metric("score")
    .build()
)
"""
ENV = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}


def status(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(METTA_AB), "status", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def start_sweep(tmp_path: Path, *overrides: str) -> subprocess.Popen[str]:
    write_experiment(tmp_path / "exp.py", EXPERIMENT)
    command = [PYTHON, str(METTA_LIKE), "-m", "hydra/sweeper=ab", "ab.experiment=exp.py", "ab.plots=false"]
    return subprocess.Popen(
        [*command, *overrides], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_until(check, sweep: subprocess.Popen[str], what: str):
    """Poll `check()` until it returns something true; fail (with the sweep's output) if the sweep ends first."""
    deadline = time.monotonic() + 120  # a guard against a hang, not a measurement
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if sweep.poll() is not None:
            pytest.fail(f"the sweep ended before {what}:\n{sweep.stdout.read() if sweep.stdout else ''}")
        time.sleep(0.2)
    sweep.kill()
    pytest.fail(f"no {what} within the guard time")


def test_status_during_and_after_a_running_sweep(tmp_path):
    go = tmp_path / "go"
    sweep = start_sweep(tmp_path, f"wait_for={go}")
    exp_dir = tmp_path / "ab_test_results" / "live"
    try:

        def one_running():
            result = status(str(exp_dir), "--json", cwd=tmp_path)
            data = json.loads(result.stdout) if result.returncode == 0 else None
            return data if data and data["counts"]["running"] == 1 else None

        data = wait_until(one_running, sweep, "a run was running")
        assert data["in_progress"] is True and data["sweeper"]["running"] is True
        counts = {"completed": 0, "running": 1, "failed": 0, "pending": 3, "later_look": 0, "not_run": 0}
        assert data["counts"] == counts
        assert data["running_longest"] == ["a_run_1"]
        assert data["parallelism"]["runs"] == 1 and "basic launcher" in data["parallelism"]["source"]
        text = status(str(exp_dir), cwd=tmp_path)
        assert text.returncode == 0, text.stderr
        lines = text.stdout.splitlines()
        assert lines[0].startswith("Experiment live (") and "sweep running (pid " in lines[0]
        assert "4 runs: 0 completed, 1 running, 0 failed, 3 pending" in lines[1]
        assert "Running longest:" in lines and any(line.startswith("  a_run_1  ") for line in lines)
        assert "ETA: not known until a run completes" in lines
        # a watcher from another shell, ended by the sweep's end (not by time)
        watch = subprocess.Popen(
            [str(METTA_AB), "status", str(exp_dir), "--watch", "0.2"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        go.touch()
        assert sweep.wait(timeout=300) == 0
        out, err = watch.communicate(timeout=120)
    finally:
        sweep.kill()
    assert watch.returncode == 0, err
    assert "sweep running" in out  # it drew the sweep while it ran ...
    last = out[out.rindex("Experiment live") :]  # ... and its last drawing is the ended sweep
    assert "sweep ended" in last and "4 runs: 4 completed, 0 running, 0 failed, 0 pending" in last
    after = json.loads(status(str(exp_dir), "--json", cwd=tmp_path).stdout)
    assert after["in_progress"] is False and after["sweeper"]["running"] is False and after["eta_seconds"] is None
    assert [r["state"] for r in after["runs"]] == ["completed"] * 4
    assert all(r["duration"] is not None for r in after["runs"])


def test_a_failed_run_shows_its_error_and_job_dir(tmp_path):
    sweep = start_sweep(tmp_path, "fail_mode=b_run_2", "fail_kind=always", "ab.max_retries=1")
    assert sweep.wait(timeout=300) == exit_status.RUNS_FAILED
    exp_dir = tmp_path / "ab_test_results" / "live"
    result = status(str(exp_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "sweep ended" in lines[0]
    assert "4 runs: 3 completed, 0 running, 1 failed, 0 pending" in lines[1]
    at = lines.index("Last errors (1 failed now; runs waiting for a retry show their last error too):")
    assert lines[at + 1] == "  b_run_2 (attempt 2): ValueError: deliberate failure of b_run_2"
    assert lines[at + 2] == f"    {exp_dir / 'b_run_2'}"
    assert any(line.startswith("  b ") and line.split()[1:] == ["1", "0", "1", "0"] for line in lines)
    assert lines[-1].startswith("The sweep is not running: run the same command again")
    data = json.loads(status(str(exp_dir), "--json", cwd=tmp_path).stdout)
    assert data["last_errors"] == ["b_run_2"]
    failed = next(r for r in data["runs"] if r["job_dir"] == "b_run_2")
    assert failed["state"] == "failed" and failed["attempt"] == 2


@pytest.mark.parametrize("make", ["empty", "missing", "file"])
def test_a_directory_that_is_no_experiment_is_one_line_and_status_2(tmp_path, make):
    target = tmp_path / "results"
    if make == "empty":
        target.mkdir()
    elif make == "file":
        target.write_text("x")
    result = status(str(target), cwd=tmp_path)
    assert result.returncode == exit_status.USAGE
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    expected = "is not an experiment directory" if make == "empty" else "is not a directory"
    assert first.startswith(f"metta-ab status: error: {target} {expected}")
