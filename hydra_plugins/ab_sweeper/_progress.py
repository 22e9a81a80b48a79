"""Progress while the launcher runs: the sweeper watches the jobs' status records from a thread.

`launch()` blocks until every job is done, possibly for days; this logs where the sweep is (completed /
running / failed of the total, elapsed, time left) whenever the counts change, and at least every
30 seconds, naming runs that have run far longer than the finished ones (a hung run is otherwise only a growing
ETA). It goes through `logging` like Hydra's own status lines (so `hydra/hydra_logging` governs it),
as whole lines only: jobs of the basic and joblib launchers write their log lines to the same terminal,
and a redrawn `\r` line would tear them. On a terminal the line starts with a bar.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from metta_ab.records.ledger import COMPLETED, FAILED, RUNNING, STATUS_FILE, read_json
from metta_ab.text_format import fmt_duration

SLOW_FACTOR = 3.0  # a run is named in the progress line once it has run this many times the median duration

STATUS_LOGGER = "metta_ab.sweep"  # the sweeper's status lines (progress, resume, retries, waits)
log = logging.getLogger(STATUS_LOGGER)


def pin_status_logging() -> None:
    """Send the sweeper's status lines where Hydra's logging sends them now (`hydra/hydra_logging`), and
    keep them there: jobs that run in this process (basic launcher) reconfigure logging for the job, and
    the sweeper's lines must not land in a job's log file."""
    root = logging.getLogger()
    log.handlers = list(root.handlers)
    log.setLevel(root.level)
    log.propagate = False


class ProgressWatcher:
    """Counts the status records of `job_dirs` (this round's jobs) until stopped; `on_completed(job_dir,
    record)` is called from the watcher's thread for each job it sees complete. A failed run put back in the
    launcher's queue (`requeued`) counts as waiting again, then running."""

    HEARTBEAT = 30.0  # a line at least this often: a sweep is never silent for longer

    def __init__(
        self,
        job_dirs: Iterable[Path],
        *,
        total: int,
        done_before: int,
        interval: float,
        on_completed: Callable[[Path, dict], None] | None = None,
    ) -> None:
        self.job_dirs = list(job_dirs)
        self.total = total
        self.done_before = done_before
        self.interval = max(interval, 0.05)
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ab-progress", daemon=True)
        self._mtimes: dict[Path, float] = {}
        self._states: dict[Path, str] = {}
        self._started_at: dict[Path, float] = {}  # running jobs: wall-clock start, from their records
        self._durations: list[float] = []  # of the jobs seen completed
        self.on_completed = on_completed
        self._tty = sys.stdout.isatty()
        self._completed = done_before
        self._lock = threading.Lock()  # `requeued` comes from the sweeper's thread

    def __enter__(self) -> ProgressWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()

    @contextmanager
    def restarted(self) -> Iterator[None]:
        """Report progress again (e.g. while waiting for a round's remaining jobs after the launcher raised)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ab-progress", daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()

    def _loop(self) -> None:
        last_counts, last_time = None, 0.0
        while not self._stop.wait(self.interval):
            line = self._poll()
            counts = sorted(self._states.values())
            now = time.monotonic()
            if counts != last_counts or now - last_time >= self.HEARTBEAT:
                self._show(line)
                last_counts, last_time = counts, now

    def requeued(self, job_dir: Path) -> None:
        """The run's failed attempt was moved aside and the run queued again: it waits for a slot."""
        with self._lock:
            self._states.pop(job_dir, None)
            self._mtimes.pop(job_dir, None)

    def _poll(self) -> str:
        with self._lock:
            return self._poll_records()

    def _poll_records(self) -> str:
        for job_dir in self.job_dirs:
            if self._states.get(job_dir) in (COMPLETED, FAILED):
                continue
            path = job_dir / STATUS_FILE
            try:
                mtime = os.stat(path).st_mtime_ns
            except OSError:
                continue
            if self._mtimes.get(job_dir) != mtime:
                self._mtimes[job_dir] = mtime
                self._absorb(job_dir, read_json(path) or {})
        return self.summary_line()

    def _absorb(self, job_dir: Path, record: dict) -> None:
        state = self._states[job_dir] = record.get("status", RUNNING)
        started = record.get("started_at")
        if state == RUNNING and isinstance(started, (int, float)):
            self._started_at[job_dir] = float(started)
            return
        self._started_at.pop(job_dir, None)
        if state != COMPLETED:
            return
        if isinstance(record.get("duration"), (int, float)):
            self._durations.append(float(record["duration"]))
        if self.on_completed is not None:
            try:
                self.on_completed(job_dir, record)
            except Exception as error:  # a check must never stop the watcher, nor the sweep
                log.warning("[ab] could not check %s: %s: %s", job_dir.name, type(error).__name__, error)

    def _slow_runs(self) -> str:
        """The runs past SLOW_FACTOR x the median duration, as a tail for the progress line ("; a_run_3
        running for 0:41:00 (median run 0:09:30)"), or "" when there are none."""
        if not self._durations or not self._started_at:
            return ""
        median = statistics.median(self._durations)
        now = time.time()
        slow = sorted(
            ((now - started, job_dir.name) for job_dir, started in self._started_at.items()),
            reverse=True,
        )
        slow = [(seconds, name) for seconds, name in slow if seconds > max(SLOW_FACTOR * median, 1.0)]
        if not slow:
            return ""
        named = ", ".join(f"{name} running for {fmt_duration(seconds)}" for seconds, name in slow[:3])
        more = f" and {len(slow) - 3} more" if len(slow) > 3 else ""
        return f"; {named}{more} (median run {fmt_duration(median)})"

    def summary_line(self) -> str:
        states = list(self._states.values())
        completed, failed, running = (states.count(s) for s in (COMPLETED, FAILED, RUNNING))
        finished = completed + failed
        elapsed = time.monotonic() - self.started
        remaining = len(self.job_dirs) - finished
        eta = f", about {fmt_duration(elapsed / finished * remaining)} left" if finished and remaining else ""
        self._completed = self.done_before + completed
        return (
            f"[ab] {self._completed}/{self.total} completed, {running} running, {failed} failed, "
            f"{remaining - running} waiting; elapsed {fmt_duration(elapsed)}{eta}{self._slow_runs()}"
        )

    def _show(self, line: str) -> None:
        if self._tty:
            width = 20
            filled = width * self._completed // max(self.total, 1)
            line = f"[ab] [{'#' * filled}{'.' * (width - filled)}] {line[5:]}"
        log.info("%s", line)
