"""How a run ends and whether it is retried: a run's sys.exit() ends that run, never the sweep; a run that took
the sweeper's process down is counted and not relaunched without end; failures that no retry can fix are not
retried; the sweeper never waits for itself."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweeper_cli import METTA_LIKE, job_dirs, run_sweep, write_experiment

from hydra_plugins.ab_sweeper._inflight import wait_for_runs_to_end
from metta_ab import exit_status
from metta_ab.records.ledger import write_status
from metta_ab.records.process import is_alive, start_time

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

EXPERIMENT = """
experiment = (
    create_experiment("endings", "how runs end")
    .add_variant(name="a", trainer__learning_rate=0.001)
    .add_variant(name="b", trainer__learning_rate=0.01)
    .set_runs_per_variant(3)
    .set_metric("score", "max")
    .build()
)
"""
LAUNCHERS = pytest.mark.parametrize(
    "launcher", [(), ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")], ids=["basic", "joblib"]
)
ENDED_SWEEPER = "its process ended the sweeper: os._exit or a crash under the basic launcher"


@pytest.fixture
def sweep(tmp_path):
    write_experiment(tmp_path / "exp.py", EXPERIMENT)

    def run(*overrides: str):
        return run_sweep(METTA_LIKE, "ab.experiment=exp.py", *overrides, cwd=tmp_path)

    return run


def ledger(exp_dir):
    return {r["job_dir"]: r for r in json.loads((exp_dir / "ledger.json").read_text())["runs"]}


def completed(exp_dir) -> set[str]:
    return {d for d, r in ledger(exp_dir).items() if r["status"] == "completed"}


# --- sys.exit() in a run --------------------------------------------------------------------------------


@LAUNCHERS
def test_sys_exit_0_is_a_completed_run_whose_files_are_read(sweep, launcher):
    result = sweep("fail_mode=a_run_2", "fail_kind=sysexit0", *launcher)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("endings")
    assert completed(exp_dir) == set(job_dirs(exp_dir))
    record = ledger(exp_dir)["a_run_2"]
    assert (record["attempts"], record["return_value"]) == (1, None)
    assert "progress.csv (1 run)" in result.stdout  # its score came from the file it wrote before exiting
    assert "a                          3/3" in (exp_dir / "summary.txt").read_text()


@LAUNCHERS
def test_sys_exit_3_fails_that_run_only_and_is_retried(sweep, launcher):
    result = sweep("fail_mode=a_run_2", "fail_kind=sysexit3", *launcher)
    assert result.returncode == exit_status.RUNS_FAILED, result.output
    lines = result.errors.splitlines()
    assert lines[0].startswith("[ab] 1 of 6 runs failed (up to 3 retries each); fix the cause")
    assert lines[1].startswith("  a_run_2: SystemExit: the run called sys.exit(3) (log: ")
    assert lines[2] == "    not retried: attempt 2 failed with the same error as attempt 1"
    exp_dir = result.experiment_dir("endings")
    assert completed(exp_dir) == set(job_dirs(exp_dir)) - {"a_run_2"}
    assert ledger(exp_dir)["a_run_2"]["attempts"] == 2  # retried once; the same exit again is final
    assert (exp_dir / "summary.txt").is_file()


# --- a run that ended the sweeper's process (basic launcher) ---------------------------------------------


def test_run_ending_the_sweeper_every_time_ends_failed_after_its_retries(sweep):
    args = ("fail_mode=a_run_2", "fail_kind=exit_always", "ab.max_retries=1")
    first = sweep(*args)
    assert first.returncode == 3  # os._exit(3) in the run is the sweeper's own exit under the basic launcher
    exp_dir = first.experiment_dir("endings")

    second = sweep(*args)  # counts the first attempt, runs everything else first, then a_run_2 ends it again
    assert second.returncode == 3
    assert "a_run_2 ended an earlier sweeper's process; launched after the other runs" in second.stdout
    assert completed(exp_dir) == set(job_dirs(exp_dir)) - {"a_run_2"}
    assert ENDED_SWEEPER in ledger(exp_dir)["a_run_2"]["errors"][0]

    for _ in range(2):  # its two attempts are spent: it stays failed, the sweep ends with its summary
        again = sweep(*args)
        assert again.returncode == exit_status.RUNS_FAILED, again.output
        assert "Launching" not in again.output
        assert again.errors.startswith("[ab] 1 of 6 runs failed")
        assert f"a_run_2: {ENDED_SWEEPER}" in again.stderr
        assert "use hydra/launcher=joblib to isolate runs" in again.stderr
        assert "not retried: it ended the sweeper's process in each of its last 2 attempts" in again.stderr
        record = ledger(exp_dir)["a_run_2"]
        assert (record["status"], record["attempts"], len(record["errors"])) == ("failed", 2, 2)
        assert (exp_dir / "summary.txt").is_file()


def test_run_that_ended_the_sweeper_once_completes_on_the_rerun(sweep):
    first = sweep("fail_mode=a_run_2", "fail_kind=exit")  # os._exit(3) on the first attempt only
    assert first.returncode == 3
    again = sweep("fail_mode=a_run_2", "fail_kind=exit")
    assert again.returncode == 0, again.output
    exp_dir = again.experiment_dir("endings")
    assert completed(exp_dir) == set(job_dirs(exp_dir))
    record = ledger(exp_dir)["a_run_2"]
    assert record["attempts"] == 2
    assert len(record["errors"]) == 1 and record["errors"][0].startswith(f"attempt 1: {ENDED_SWEEPER}")


# --- failures no retry can fix -----------------------------------------------------------------------


@LAUNCHERS
def test_import_error_is_not_retried(sweep, launcher):
    result = sweep("fail_mode=b_run_1", "fail_kind=import", *launcher)
    assert result.returncode == exit_status.RUNS_FAILED, result.output
    lines = result.errors.splitlines()
    assert lines[0].startswith("[ab] 1 of 6 runs failed (up to 3 retries each); fix the cause")
    assert lines[1].startswith("  b_run_1: ModuleNotFoundError: No module named 'metta_ab_no_such_module'")
    assert lines[2] == (
        "    not retried: an import error fails the same at every attempt: install the module or fix the import"
    )
    exp_dir = result.experiment_dir("endings")
    record = ledger(exp_dir)["b_run_1"]
    assert record["attempts"] == 1 and record["not_retried"].startswith("an import error")
    assert not (exp_dir / "b_run_1" / "attempts").exists()


def test_the_same_error_twice_is_not_retried_again_but_a_rerun_tries_once_more(sweep):
    result = sweep("fail_mode=b_run_1", "fail_kind=always")  # the same ValueError at every attempt
    assert result.returncode == exit_status.RUNS_FAILED, result.output
    exp_dir = result.experiment_dir("endings")
    record = ledger(exp_dir)["b_run_1"]
    assert record["attempts"] == 2  # not 4 (ab.max_retries=3)
    assert record["not_retried"] == "attempt 2 failed with the same error as attempt 1"
    assert "not retried: attempt 2 failed with the same error as attempt 1" in result.stderr

    again = sweep("fail_mode=b_run_1", "fail_kind=always")  # the user may have fixed something: one more try
    assert again.returncode == exit_status.RUNS_FAILED
    assert ledger(exp_dir)["b_run_1"]["attempts"] == 3
    assert "not retried: attempt 3 failed with the same error as attempt 2" in again.stderr


def test_a_first_attempt_failure_is_still_retried_and_completes(sweep):
    result = sweep("fail_mode=b_run_1", "fail_kind=once")
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("endings")
    assert ledger(exp_dir)["b_run_1"]["attempts"] == 2
    assert completed(exp_dir) == set(job_dirs(exp_dir))


# --- the sweeper never waits for itself ----------------------------------------------------------------


def test_a_running_record_of_this_process_is_not_waited_for(tmp_path, caplog):
    """What a run under the basic launcher leaves when its final record cannot be written (a full disk):
    `running`, with the sweeper's own pid. Waiting for it would wait for the waiting process itself."""
    pid = os.getpid()
    running = {"status": "running", "host": socket.gethostname(), "pid": pid, "pid_started": start_time(pid)}
    write_status(tmp_path / "a_run_1", running)
    with caplog.at_level(logging.INFO):
        wait_for_runs_to_end([tmp_path / "a_run_1"], interval=0.2, limit=5)
    assert "waiting for" not in caplog.text and "gave up waiting" not in caplog.text


def test_a_running_record_of_a_previous_sweepers_process_is_not_waited_for(tmp_path, caplog):
    """A run that ran inside an earlier sweeper's process ended with it, whatever its pid now looks like (this
    sweep holds the lock; a requeued SLURM job keeps its id): only a run's own separate process is waited for."""
    other = subprocess.Popen(["sleep", "120"])
    try:
        alive = {
            "status": "running",
            "host": socket.gethostname(),
            "pid": other.pid,
            "pid_started": start_time(other.pid),
        }
        write_status(
            tmp_path / "a_run_1", {**alive, "sweeper_pid": other.pid, "sweeper_pid_started": start_time(other.pid)}
        )
        write_status(
            tmp_path / "a_run_2", {**alive, "sweeper_pid": os.getpid(), "sweeper_pid_started": start_time(os.getpid())}
        )
        with caplog.at_level(logging.INFO):
            wait_for_runs_to_end([tmp_path / "a_run_1", tmp_path / "a_run_2"], interval=0.2, limit=1)
    finally:
        other.kill()
        other.wait()
    assert f"waiting for 1 run(s) still going from before, so none runs twice: a_run_2 (pid {other.pid})" in caplog.text


# --- no process of ours outlives the sweep -------------------------------------------------------------


def _children(pid: int) -> dict[int, int | None]:
    """The processes whose parent is `pid`, with their start times (so that a reused pid does not count)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children[int(stat.parent.name)] = start_time(int(stat.parent.name))
    return children


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds the sweeper's workers in /proc")
def test_workers_of_a_sigkilled_sweeper_end(tmp_path):
    """joblib's workers, idle or busy with a run, end soon after their sweeper was killed outright."""
    write_experiment(tmp_path / "exp.py", EXPERIMENT)
    sweeper = subprocess.Popen(
        [sys.executable, str(METTA_LIKE), "-m", "hydra/sweeper=ab", "ab.experiment=exp.py", "hydra/launcher=joblib",
         "hydra.launcher.n_jobs=2", "fail_mode=a_run_2", "fail_kind=hang"],
        cwd=tmp_path, env={**os.environ, "WANDB_MODE": "offline"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    job_dir = tmp_path / "ab_test_results" / "endings" / "a_run_2"
    deadline = time.monotonic() + 120
    while not (job_dir / "ab_status.json").is_file() and sweeper.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = _children(sweeper.pid)
    sweeper.kill()
    sweeper.wait()
    assert (job_dir / "ab_status.json").is_file(), "a_run_2 never started"
    assert workers  # the pool and its helpers

    deadline = time.monotonic() + 120  # generous: the promise is about a minute
    while (alive := [p for p, started in workers.items() if is_alive(p, started)]) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in alive:  # leave nothing behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"still running after the sweeper was killed: {alive}"
