"""The sweeper's progress counts (ProgressWatcher) from the jobs' status records, as ab_local streams retries."""

from __future__ import annotations

import time

from hydra_plugins.ab_sweeper._progress import ProgressWatcher
from metta_ab.records.ledger import move_attempt_aside, write_status


def test_a_failed_run_queued_again_counts_as_waiting_then_running_then_completed(tmp_path):
    now = time.time()
    failing, other = tmp_path / "a_run_1", tmp_path / "b_run_1"
    write_status(failing, {"status": "failed", "attempt": 1, "started_at": now - 2, "finished_at": now - 1})
    write_status(other, {"status": "running", "attempt": 1, "started_at": now - 2})
    watcher = ProgressWatcher([failing, other], total=2, done_before=0, interval=1.0)
    assert watcher._poll().startswith("[ab] 0/2 completed, 1 running, 1 failed, 0 waiting")
    move_attempt_aside(failing)
    watcher.requeued(failing)
    assert watcher._poll().startswith("[ab] 0/2 completed, 1 running, 0 failed, 1 waiting")
    write_status(failing, {"status": "running", "attempt": 2, "started_at": now})
    assert watcher._poll().startswith("[ab] 0/2 completed, 2 running, 0 failed, 0 waiting")
    write_status(failing, {"status": "completed", "attempt": 2, "started_at": now, "duration": 1.0})
    assert watcher._poll().startswith("[ab] 1/2 completed, 1 running, 0 failed, 0 waiting")
