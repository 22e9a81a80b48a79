"""Progress while the launcher runs: the sweeper watches the jobs' status records from a thread.

`launch()` blocks until every job is done, possibly for days; this prints where the sweep is
(completed / running / failed of the total, elapsed, time left) whenever that changes. On a terminal
it redraws one line every `interval`; in a log it writes a plain line when the counts change, and at
least once a minute.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from metta_ab.ledger import COMPLETED, FAILED, RUNNING, STATUS_FILE, read_json


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
        if self._tty:
            sys.stdout.write("\n")
            sys.stdout.flush()

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
            if self._tty or counts != last_counts or now - last_time >= self.HEARTBEAT:
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
            sys.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {line[5:]}\x1b[K")
        else:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
