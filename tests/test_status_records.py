"""The snapshot `metta-ab status` draws, from files a sweep may leave half there: a ledger cut short, a job
directory made before its record, a record cut short, a `running` record whose process is gone."""

from __future__ import annotations

import json
import socket
import time

import pytest

from metta_ab.records.ledger import LEDGER_FILE, STATUS_FILE
from metta_ab.records.snapshot import GONE, NotAnExperimentError, take_snapshot
from metta_ab.report.status import status_dict, status_text

PLAN = [{"variant": v, "run_index": i, "seed": i, "run_name": f"{v}_run_{i}", "job_dir": f"{v}_run_{i}"}
        for v in "ab" for i in (1, 2, 3)]  # fmt: skip


def write_status(exp_dir, job_dir, text):
    (exp_dir / job_dir).mkdir(parents=True, exist_ok=True)
    (exp_dir / job_dir / STATUS_FILE).write_text(text)


def test_half_written_files_count_as_what_the_others_say(tmp_path):
    exp_dir = tmp_path / "exp"
    exp_dir.mkdir()
    (exp_dir / "plan.json").write_text(json.dumps(PLAN))
    (exp_dir / LEDGER_FILE).write_text('{"runs": [{"varia')  # cut short: the plan lists the runs
    (tmp_path / ".exp.lock").write_text("pid 1234 on another-host")  # the sweeper: not to be checked from here
    now = time.time()
    done = {"status": "completed", "attempt": 1, "started_at": now - 20, "finished_at": now - 10, "duration": 10.0}
    write_status(exp_dir, "a_run_1", json.dumps(done))
    write_status(exp_dir, "a_run_2", '{"status": "runn')  # cut short: counts as not started
    (exp_dir / "a_run_3").mkdir()  # made by the launcher, no record yet
    here = {"status": "running", "attempt": 1, "host": socket.gethostname(), "pid": 2**22 + 7, "started_at": now}
    write_status(exp_dir, "b_run_1", json.dumps(here))  # no such process: gone
    there = {**here, "host": "another-host", "started_at": now - 5}
    write_status(exp_dir, "b_run_2", json.dumps(there))  # cannot be checked from here: running
    failed = {**done, "status": "failed", "error": "ValueError: bad\nTraceback ..."}
    write_status(exp_dir, "b_run_3", json.dumps(failed))
    snapshot = take_snapshot(exp_dir)
    states = {r.job_dir: (r.state, r.error) for r in snapshot.runs}
    assert states == {
        "a_run_1": ("completed", None),
        "a_run_2": ("pending", None),
        "a_run_3": ("pending", None),
        "b_run_1": ("failed", GONE),
        "b_run_2": ("running", None),
        "b_run_3": ("failed", "ValueError: bad"),
    }
    assert snapshot.sweeper.running is None and snapshot.in_progress  # a run is running
    assert "sweep in progress (its sweeper, pid 1234 on another-host, is on another host)" in status_text(snapshot)
    # no launcher setting (no multirun.yaml): the one running now is assumed, and said
    assert snapshot.parallelism is not None and snapshot.parallelism.runs == 1
    assert "assumed" in snapshot.parallelism.source
    # ETA: the median (10 s) for b_run_2 past its 5 s, 10 s for each of the two pending, one at a time
    assert snapshot.eta() == pytest.approx(5.0 + 2 * 10.0, abs=0.5)
    text = status_text(snapshot)
    assert "6 runs: 1 completed, 1 running, 2 failed, 2 pending" in text
    assert "  b_run_3 (attempt 1): ValueError: bad" in text
    assert json.loads(json.dumps(status_dict(snapshot)))["counts"]["failed"] == 2


def test_a_directory_without_records_is_refused(tmp_path):
    (tmp_path / "job").mkdir()
    with pytest.raises(NotAnExperimentError, match=r"is not an experiment directory: it has no ledger\.json"):
        take_snapshot(tmp_path)
