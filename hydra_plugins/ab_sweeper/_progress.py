"""Progress while the launcher runs: the sweeper watches the jobs' status records from a thread.

`launch()` blocks until every job is done, possibly for days; this logs where the sweep is (completed /
running / failed of the total, elapsed, time left) whenever the counts change, and at least once a
minute. It goes through `logging` like Hydra's own status lines (so `hydra/hydra_logging` governs it),
as whole lines only: jobs of the basic and joblib launchers write their log lines to the same terminal,
and a redrawn `\r` line would tear them. On a terminal the line starts with a bar.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from metta_ab.ledger import COMPLETED, FAILED, RUNNING, STATUS_FILE, read_json

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


def format_seconds(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressWatcher:
    """Counts the status records of `job_dirs` (this round's jobs) until stopped."""

    HEARTBEAT = 60.0

    def __init__(self, job_dirs: Iterable[Path], *, total: int, done_before: int, interval: float) -> None:
        self.job_dirs = list(job_dirs)
        self.total = total
        self.done_before = done_before
        self.interval = max(interval, 0.05)
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ab-progress", daemon=True)
        self._mtimes: dict[Path, float] = {}
        self._states: dict[Path, str] = {}
        self._tty = sys.stdout.isatty()
        self._completed = done_before

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

    def _poll(self) -> str:
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
                record = read_json(path) or {}
                self._states[job_dir] = record.get("status", RUNNING)
        return self.summary_line()

    def summary_line(self) -> str:
        states = list(self._states.values())
        completed, failed, running = (states.count(s) for s in (COMPLETED, FAILED, RUNNING))
        finished = completed + failed
        elapsed = time.monotonic() - self.started
        remaining = len(self.job_dirs) - finished
        eta = f", about {format_seconds(elapsed / finished * remaining)} left" if finished and remaining else ""
        self._completed = self.done_before + completed
        return (
            f"[ab] {self._completed}/{self.total} completed, {running} running, {failed} failed, "
            f"{remaining - running} waiting; elapsed {format_seconds(elapsed)}{eta}"
        )

    def _show(self, line: str) -> None:
        if self._tty:
            width = 20
            filled = width * self._completed // max(self.total, 1)
            line = f"[ab] [{'#' * filled}{'.' * (width - filled)}] {line[5:]}"
        log.info("%s", line)
