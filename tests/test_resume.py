"""Nothing lost: resume, changed definitions, interruption, a killed sweeper, one sweep per directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sweeper_cli import METTA_LIKE, job_dirs, run_sweep, status, write_experiment

from metta_ab import exit_status
from metta_ab.records.process import start_time

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

EXPERIMENT = """
experiment = (
    create_experiment("resume", "{description}")
    .add_variant(name="a", trainer__learning_rate=0.001, tags={tags})
    .add_variant(name="b", trainer__learning_rate={lr_b})
    .set_runs_per_variant({runs})
    .build()
)
"""


def write(tmp_path, runs=3, lr_b=0.01, description="first", tags=None):
    body = EXPERIMENT.format(runs=runs, lr_b=lr_b, description=description, tags=tags or [])
    return write_experiment(tmp_path / "exp.py", body)


def ledger(exp_dir):
    return {r["job_dir"]: r for r in json.loads((exp_dir / "ledger.json").read_text())["runs"]}


def test_rerun_runs_only_what_did_not_complete(tmp_path):
    write(tmp_path)
    first = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "fail_mode=b_run_2", "ab.max_retries=0", cwd=tmp_path)
    assert first.returncode == exit_status.RUNS_FAILED
    exp_dir = first.experiment_dir("resume")
    before = {d: status(exp_dir / d)["started_at"] for d in job_dirs(exp_dir)}

    again = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "fail_mode=b_run_2", "ab.max_retries=0", cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert "5 of 6 runs already completed" in again.stdout
    assert "Launching 1 jobs" in again.output
    after = {d: status(exp_dir / d)["started_at"] for d in job_dirs(exp_dir)}
    assert {d for d in before if before[d] != after[d]} == {"b_run_2"}
    assert ledger(exp_dir)["b_run_2"]["attempts"] == 2


def test_more_runs_per_variant_adds_only_the_new_runs(tmp_path):
    write(tmp_path, runs=2)
    first = run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    assert first.returncode == 0, first.output
    exp_dir = first.experiment_dir("resume")
    seeds = {d: status(exp_dir / d)["seed"] for d in job_dirs(exp_dir)}

    write(tmp_path, runs=4, description="more seeds", tags=["extended"])  # description and tags may change
    again = run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert "Launching 4 jobs" in again.output
    assert len(job_dirs(exp_dir)) == 8
    assert all(status(exp_dir / d)["seed"] == seed for d, seed in seeds.items())
    assert json.loads((exp_dir / "summary.json").read_text())["variants"]["a"]["completed"] == 4


def test_changed_definition_is_refused_with_what_changed(tmp_path):
    write(tmp_path)
    assert run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path).returncode == 0
    write(tmp_path, lr_b=0.5)
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "holds runs of a different definition of 'resume'" in result.stderr
    assert "variant 'b': -trainer.learning_rate=0.01, +trainer.learning_rate=0.5" in result.stderr
    assert "ab.resume=false" in result.stderr
    assert "Launching" not in result.output


def test_resume_false_moves_the_old_directory_aside(tmp_path):
    write(tmp_path)
    assert run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path).returncode == 0
    write(tmp_path, lr_b=0.5)
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.resume=false", cwd=tmp_path)
    assert result.returncode == 0, result.output
    old = [p for p in (tmp_path / "ab_test_results").iterdir() if p.name.startswith("resume.old-")]
    assert len(old) == 1 and len(job_dirs(old[0])) == 6
    assert "moved to" in result.stdout


def _sigint_as_in_a_terminal() -> None:
    """A shell script's background job (as CI may run this suite) inherits SIGINT ignored, and Python then
    installs no KeyboardInterrupt handler: give the sweep the Ctrl-C a terminal user has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(tmp_path, *overrides):
    env = {**os.environ, "WANDB_MODE": "offline"}
    return subprocess.Popen(
        [sys.executable, str(METTA_LIKE), "-m", "hydra/sweeper=ab", "ab.experiment=exp.py", *overrides],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_as_in_a_terminal,
    )


def _completed(exp_dir) -> dict[str, float]:
    """Start time of each completed run; a job directory may not have its status file yet."""
    records = {d: status(exp_dir / d) for d in job_dirs(exp_dir) if (exp_dir / d / "ab_status.json").exists()}
    return {d: r["started_at"] for d, r in records.items() if r.get("status") == "completed"}


def _wait_for_completed(exp_dir, count, timeout=600.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_completed(exp_dir)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} runs completed in {timeout}s")


JOBLIB = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")


@pytest.mark.parametrize("launcher", [(), JOBLIB], ids=["basic", "joblib"])
def test_sweeper_killed_with_sigkill_resumes_to_the_same_results(tmp_path, launcher):
    write(tmp_path)
    reference = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.output_dir=reference", cwd=tmp_path)
    assert reference.returncode == 0
    proc = _start(tmp_path, "sleep=0.4", *launcher)
    exp_dir = tmp_path / "ab_test_results" / "resume"
    _wait_for_completed(exp_dir, 2)
    proc.kill()
    proc.wait()
    started_before = _completed(exp_dir)  # joblib's workers may outlive their sweeper for a moment

    again = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "sleep=0.4", *launcher, cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert all(status(exp_dir / d)["started_at"] == t for d, t in started_before.items())  # not run again
    assert not [p for p in exp_dir.glob("*/attempts/*/ab_status.json") if status(p.parent)["status"] == "completed"]
    results = {d: status(exp_dir / d)["return_value"] for d in job_dirs(exp_dir)}
    ref_dir = tmp_path / "reference" / "resume"
    assert results == {d: status(ref_dir / d)["return_value"] for d in job_dirs(ref_dir)}


HANGS = ("fail_mode=a_run_2", "fail_kind=hang")  # a_run_2's first attempt runs until it is stopped


def _start_hanging(tmp_path):
    """A sweep that is certainly still running: it waits in a_run_2 (the rerun's a_run_2 does not hang)."""
    proc = _start(tmp_path, *HANGS)
    exp_dir = tmp_path / "ab_test_results" / "resume"
    deadline = time.monotonic() + 120
    # The app marks the attempt that hangs just before it hangs: stopped earlier (a loaded machine can take long
    # from a_run_2's status record to there), the rerun's a_run_2 would hang instead.
    while not (exp_dir / ".failed_once_a_run_2").exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"a_run_2 never started hanging: {proc.communicate()}")
        time.sleep(0.05)
    return proc, exp_dir


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_ctrl_c_leaves_a_resumable_directory(tmp_path, stop):
    write(tmp_path)
    proc, exp_dir = _start_hanging(tmp_path)
    proc.send_signal(stop)
    try:
        _, stderr = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted:" in stderr and "Run the same command again to resume" in stderr
    records = ledger(exp_dir)
    assert "interrupted" in records["a_run_2"]["error"]
    text = (exp_dir / "summary.txt").read_text()
    assert "Interrupted runs (" in text and "a_run_2" in text.split("Interrupted runs (")[1]
    assert "Failed runs" not in text  # a run the sweep stopped did not fail
    counts = json.loads((exp_dir / "summary.json").read_text())["variants"]["a"]
    assert counts["failed"] == 0 and counts["interrupted"] == 2  # a_run_2 stopped, a_run_3 never started

    again = run_sweep(METTA_LIKE, "ab.experiment=exp.py", *HANGS, cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert all(r["status"] == "completed" for r in ledger(exp_dir).values())


def test_second_sweep_on_the_same_directory_is_refused(tmp_path):
    write(tmp_path)
    proc, _ = _start_hanging(tmp_path)
    try:
        second = run_sweep(METTA_LIKE, "ab.experiment=exp.py", *HANGS, cwd=tmp_path)
        assert proc.poll() is None  # the first sweep still holds the directory
    finally:
        proc.kill()
        proc.communicate()
    assert second.returncode == 1
    assert "another sweep (pid" in second.stderr and "is running on this experiment" in second.stderr


def test_worker_killed_by_sigkill_is_retried(tmp_path):
    write(tmp_path)
    result = run_sweep(
        METTA_LIKE, "ab.experiment=exp.py", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        "fail_mode=a_run_2", "fail_kind=sigkill", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    records = ledger(result.experiment_dir("resume"))
    assert records["a_run_2"]["attempts"] == 2
    assert "died without finishing" in records["a_run_2"]["errors"][0]
    assert all(r["status"] == "completed" for r in records.values())


def test_run_that_exits_the_sweep_process_is_recorded_and_rerun(tmp_path):
    """Under the basic launcher a run shares the sweeper's process: os._exit ends both. The rerun knows."""
    write(tmp_path)
    first = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "fail_mode=b_run_1", "fail_kind=exit", cwd=tmp_path)
    assert first.returncode == 3
    exp_dir = first.experiment_dir("resume")
    assert status(exp_dir / "b_run_1")["status"] == "running"  # it never finished
    again = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "fail_mode=b_run_1", "fail_kind=exit", cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert status(exp_dir / "b_run_1")["attempt"] == 2
    assert (exp_dir / "b_run_1" / "attempts" / "1" / "ab_status.json").is_file()


def test_unpicklable_return_value_is_recorded(tmp_path):
    write(tmp_path)
    result = run_sweep(
        METTA_LIKE, "ab.experiment=exp.py", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        "fail_mode=a_run_1", "fail_kind=unpicklable", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    value = status(result.experiment_dir("resume") / "a_run_1")["return_value"]
    assert value["score"] == 1.0 and value["handle"].startswith("<unlocked _thread.lock")


def test_hanging_run_times_out_and_is_retried(tmp_path):
    write(tmp_path)
    result = run_sweep(
        METTA_LIKE, "ab.experiment=exp.py", "ab.run_timeout=2", "fail_mode=b_run_3", "fail_kind=hang", cwd=tmp_path
    )
    assert result.returncode == 0, result.output
    records = ledger(result.experiment_dir("resume"))
    assert records["b_run_3"]["errors"] == ["attempt 1: RunTimeout: the run exceeded ab.run_timeout=2s"]


def test_second_sweep_reaching_the_directory_by_another_path_is_refused(tmp_path):
    """The lock is on the resolved directory: a symlink to it, or to its parent, reaches the same lock."""
    write(tmp_path)
    proc, exp_dir = _start_hanging(tmp_path)
    (tmp_path / "to_experiment").symlink_to(exp_dir)
    (tmp_path / "to_results").symlink_to(exp_dir.parent)
    try:
        seconds = [
            run_sweep(METTA_LIKE, "ab.experiment=exp.py", *HANGS, path, cwd=tmp_path)
            for path in (f"hydra.sweep.dir={tmp_path / 'to_experiment'}", "ab.output_dir=to_results")
        ]
        assert proc.poll() is None  # the first sweep still holds the directory
    finally:
        proc.kill()
        proc.communicate()
    for second in seconds:
        assert second.returncode == 1, second.output
        assert "Launching" not in second.output
        assert f"(that is {exp_dir}): another sweep (pid" in second.stderr
        assert len([line for line in second.stderr.splitlines() if "another sweep" in line]) == 1
    assert status(exp_dir / "a_run_1")["attempt"] == 1 and not (exp_dir / "a_run_1" / "attempts").exists()


FAILS_ONCE = ("fail_mode=a_run_2", "fail_kind=once")  # a_run_2 needs two attempts


@pytest.fixture(scope="module")
def completed(tmp_path_factory):
    """A completed sweep, copied into each test that spoils one of its files."""
    cwd = tmp_path_factory.mktemp("completed")
    write(cwd)
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", *FAILS_ONCE, cwd=cwd)
    assert result.returncode == 0, result.output
    return cwd


def _copy_of(completed, tmp_path):
    shutil.copytree(completed, tmp_path, dirs_exist_ok=True)
    exp_dir = tmp_path / "ab_test_results" / "resume"
    return exp_dir, {d: status(exp_dir / d)["started_at"] for d in job_dirs(exp_dir)}


SPOILED_LEDGERS = {
    "missing": (None, "was missing"),
    "garbled": ("\x00\x13garbage", "was unreadable (not valid JSON"),
    "truncated": (lambda text: text[: len(text) // 2], "was unreadable (not valid JSON"),
    "wrong shape": ('{"runs": {"a_run_1": "completed"}}', "was unreadable (field 'runs' is"),
    "mistyped field": (
        lambda text: text.replace('"attempts": 2', '"attempts": "two"'),
        "was unreadable (run 2: field 'attempts' is 'two', not of type int)",
    ),
}


@pytest.mark.parametrize("spoil", SPOILED_LEDGERS, ids=list(SPOILED_LEDGERS))
def test_lost_or_unreadable_ledger_is_rebuilt_from_the_job_records(completed, tmp_path, spoil):
    exp_dir, started = _copy_of(completed, tmp_path)
    content, said = SPOILED_LEDGERS[spoil]
    path = exp_dir / "ledger.json"
    if content is None:
        path.unlink()
    else:
        path.write_text(content(path.read_text()) if callable(content) else content)

    again = run_sweep(METTA_LIKE, "ab.experiment=exp.py", *FAILS_ONCE, cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert f"[ab] ledger.json {said}" in again.stdout and "rebuilt from the 6 job records" in again.stdout
    assert "Launching" not in again.output
    assert {d: status(exp_dir / d)["started_at"] for d in job_dirs(exp_dir)} == started  # nothing ran again
    records = ledger(exp_dir)
    assert all(r["status"] == "completed" for r in records.values())
    assert records["a_run_2"]["attempts"] == 2
    assert records["a_run_2"]["errors"] == ["attempt 1: RuntimeError: deliberate first-attempt failure of a_run_2"]
    assert "Verdict:" in again.stdout


def test_unreadable_looks_json_is_refused(completed, tmp_path):
    exp_dir, started = _copy_of(completed, tmp_path)
    looks = exp_dir / "looks.json"
    looks.write_text(looks.read_text()[:20])
    again = run_sweep(METTA_LIKE, "ab.experiment=exp.py", *FAILS_ONCE, cwd=tmp_path)
    assert again.returncode == 1
    assert again.errors.startswith(f"{looks}: not valid JSON")
    assert "restore it, or start over with ab.resume=false" in again.stderr
    assert "Traceback" not in again.stderr and "Launching" not in again.output
    assert {d: status(exp_dir / d)["started_at"] for d in job_dirs(exp_dir)} == started


def test_status_record_with_a_mistyped_field_is_refused(completed, tmp_path):
    exp_dir, started = _copy_of(completed, tmp_path)
    record = exp_dir / "b_run_1" / "ab_status.json"
    record.write_text(record.read_text().replace('"attempt": 1', '"attempt": "two"'))
    again = run_sweep(METTA_LIKE, "ab.experiment=exp.py", *FAILS_ONCE, cwd=tmp_path)
    assert again.returncode == 1
    assert again.errors.startswith(f"{record}: field 'attempt' is 'two', not of type int; fix the field, or delete")
    assert "Traceback" not in again.stderr and "Launching" not in again.output
    assert {d: status(exp_dir / d)["started_at"] for d in job_dirs(exp_dir)} == started


def _pretend_still_running(exp_dir, job, pid):
    """What a killed sweeper leaves while its worker (pid) still runs `job`: the ledger and the job say running."""
    data = json.loads((exp_dir / "ledger.json").read_text())
    next(r for r in data["runs"] if r["job_dir"] == job).update(status="running", return_value=None)
    (exp_dir / "ledger.json").write_text(json.dumps(data))
    record = {**status(exp_dir / job), "status": "running", "pid": pid, "pid_started": start_time(pid)}
    (exp_dir / job / "ab_status.json").write_text(json.dumps(record))


def _read_lines(stream, lines):
    for line in stream:
        lines.append(line)


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="process start times come from /proc")
def test_sigterm_while_waiting_for_a_previous_sweeps_run_exits_130(completed, tmp_path):
    """SIGTERM outside the launch (here: waiting for a previous sweeper's run to end) stops the sweep as Ctrl-C
    does: status 130 and one line, and the rerun resumes."""
    exp_dir, _ = _copy_of(completed, tmp_path)
    worker = subprocess.Popen(["sleep", "300"])
    try:
        _pretend_still_running(exp_dir, "b_run_1", worker.pid)
        proc = _start(tmp_path, *FAILS_ONCE, "ab.settle_timeout=600")
        lines: list[str] = []
        threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
        deadline = time.monotonic() + 120
        while not any("[ab] waiting for 1 run(s) still going from before" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        try:
            _, stderr = proc.communicate(timeout=60)
        finally:
            proc.kill()
    finally:
        worker.kill()
        worker.wait()
    assert proc.returncode == 130, stderr
    assert stderr.splitlines()[-1].startswith("[ab] interrupted before any run was launched. Run the same command")
    assert "Traceback" not in stderr

    again = run_sweep(METTA_LIKE, "ab.experiment=exp.py", *FAILS_ONCE, cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert "Launching 1 jobs" in again.output  # the run the dead worker held


SEQUENTIAL = """
experiment = (
    create_experiment("seq", "sequential")
    .add_variant(name="A", known_scores=[1.0, 1.1, 0.9, 1.0])
    .add_variant(name="B", known_scores=[1.2, 0.8, 1.1, 1.0])
    .set_sequential(max_runs_per_variant=4, runs_per_look=2)
    .set_metric("score", direction="max")
    .build()
)
"""


@pytest.mark.parametrize("spoil", ["truncated", "mistyped"])
def test_unreadable_looks_of_a_sequential_experiment_are_not_decided_again(tmp_path, spoil):
    """Read as empty, a spoiled looks.json would let a rerun decide every look again, under other settings."""
    write_experiment(tmp_path / "seq.py", SEQUENTIAL)
    first = run_sweep(METTA_LIKE, "ab.experiment=seq.py", cwd=tmp_path)
    assert first.returncode == 0, first.output
    looks = first.experiment_dir("seq") / "looks.json"
    text = looks.read_text()
    assert '"decision"' in text
    looks.write_text(text[: len(text) // 2] if spoil == "truncated" else text.replace('"look": 1', '"look": "one"'))

    again = run_sweep(METTA_LIKE, "ab.experiment=seq.py", "ab.analysis.alpha=0.2", cwd=tmp_path)
    assert again.returncode == 1
    first_line = again.errors.splitlines()[0]
    assert first_line.startswith(f"{looks}: ") and "restore it, or start over with ab.resume=false" in first_line
    assert "Traceback" not in again.stderr and "Launching" not in again.output


def test_sigterm_while_the_experiment_file_loads_exits_130(tmp_path):
    """The first phase of all: an experiment file that takes long to import (torch, say)."""
    write(tmp_path)
    slow = "import pathlib, time\npathlib.Path('importing').touch()\ntime.sleep(120)\n"
    (tmp_path / "exp.py").write_text(slow + (tmp_path / "exp.py").read_text())
    proc = _start(tmp_path)
    deadline = time.monotonic() + 60
    while not (tmp_path / "importing").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert stderr.splitlines()[-1].startswith("[ab] interrupted before any run was launched.")
    assert "Traceback" not in stderr
