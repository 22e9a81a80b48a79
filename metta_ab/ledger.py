"""The record of every run: the status file each job writes itself, and the experiment's ledger.

A job writes `ab_status.json` in its own directory (running, then completed or failed), so the sweeper
learns what happened even when a launcher loses the job's return value or the process dies hard. The
sweeper folds those into `ledger.json`, one record per planned run: the source for retries, resume and
the report. Every file is written atomically (temp file + rename): a crash leaves the old or the new one.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import socket
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATUS_FILE = "ab_status.json"
EXPERIMENT_CONFIG = "experiment_config.yaml"
LEDGER_FILE = "ledger.json"
ATTEMPTS_DIR = "attempts"

PLANNED, RUNNING, COMPLETED, FAILED = "planned", "running", "completed", "failed"
INTERRUPTED_PREFIX = "interrupted"  # the error of a run the sweep's Ctrl-C / SIGTERM stopped (status FAILED)
ENDED_SWEEPER = (
    "its process ended the sweeper: os._exit or a crash under the basic launcher, where runs share the sweeper's "
    "process (or the sweeper was killed while it ran); use hydra/launcher=joblib to isolate runs"
)


def write_text_atomic(path: Path, text: str, *, durable: bool = False) -> None:
    """Write-then-rename: readers see the old file or the new one, never half of one. `durable` also
    fsyncs, so the new content survives a power loss. The file gets the usual permissions (umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any, *, durable: bool = True) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, default=repr), durable=durable)


class ExperimentLock:
    """One sweep per experiment directory. An OS file lock: a sweeper that dies releases it at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def __enter__(self) -> ExperimentLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ExperimentLockedError(
                f"another sweep ({holder}) is running on this experiment; wait for it to finish, or use a "
                "different ab.output_dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


class ExperimentLockedError(RuntimeError):
    pass


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def json_safe(value: Any) -> Any:
    """A task's return value as plain JSON data: numbers, strings, bools, None, lists, dicts."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item):
        try:
            return json_safe(item())
        except (TypeError, ValueError):
            pass
    return repr(value)


# --- the job's own status record -------------------------------------------------------------------


def read_status(job_dir: Path) -> dict[str, Any] | None:
    return read_json(job_dir / STATUS_FILE)


def write_status(job_dir: Path, record: Mapping[str, Any]) -> None:
    """Not fsynced (it costs milliseconds per job): after a power loss an unreadable record only means
    the run is run again."""
    write_json_atomic(job_dir / STATUS_FILE, dict(record), durable=False)


def ran_in_sweeper_process(status: Mapping[str, Any]) -> bool:
    """Whether the run ran inside the process of the sweeper that launched it (the basic launcher): the same pid
    with the same start time, both recorded by the run itself, so a reused pid cannot match."""
    pid = status.get("pid")
    return pid is not None and (pid, status.get("pid_started")) == (
        status.get("sweeper_pid"),
        status.get("sweeper_pid_started"),
    )


def attempts_made(job_dir: Path) -> int:
    """The number of the last attempt moved aside into `attempts/<k>/` (0 when none was)."""
    folder = job_dir / ATTEMPTS_DIR
    numbers = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()] if folder.is_dir() else []
    return max(numbers, default=0)


def move_attempt_aside(job_dir: Path) -> Path | None:
    """Keep a failed attempt's files under `attempts/<k>/` so the retry starts clean and nothing is lost."""
    entries = [p for p in job_dir.iterdir() if p.name != ATTEMPTS_DIR] if job_dir.is_dir() else []
    if not entries:
        return None
    target = job_dir / ATTEMPTS_DIR / str(attempts_made(job_dir) + 1)
    target.mkdir(parents=True)
    for entry in entries:
        shutil.move(str(entry), target / entry.name)
    return target


# --- the experiment's ledger ------------------------------------------------------------------------


@dataclass
class RunRecord:
    """One planned run and what became of it."""

    variant: str
    run_index: int
    seed: int
    run_name: str
    job_dir: str
    status: str = PLANNED
    attempts: int = 0
    duration: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    traceback: str | None = None
    return_value: Any = None
    errors: list[str] = field(default_factory=list)  # one line per failed attempt
    task: str | None = None  # the suite task the run trains on (.add_task)
    not_retried: str | None = None  # why the failed run is not retried (again), e.g. "the same error as attempt 1"
    ended_sweeper: int = 0  # consecutive attempts that ended the sweeper's own process (one budget across reruns)

    @property
    def interrupted(self) -> bool:
        """Stopped by the sweep's own Ctrl-C or SIGTERM: not a failure of the run (a rerun resumes it)."""
        return self.status == FAILED and (self.error or "").startswith(INTERRUPTED_PREFIX)

    def absorb_status(
        self,
        status: Mapping[str, Any] | None,
        *,
        launch_error: str | None = None,
        interrupted: bool = False,
        sweep_ended: bool = False,
    ) -> None:
        """Fold in what the job wrote (or did not write) after a launch; `sweep_ended`: the record is left from
        an earlier sweep that ended while the run ran."""
        if status is None:
            self.status = FAILED
            if interrupted:
                self.error = f"{INTERRUPTED_PREFIX} before it started"
            else:
                self.error = "the job never started" + (
                    f" (the launcher raised {launch_error})" if launch_error else ""
                )
            self.traceback = None  # not an attempt, so nothing goes into `errors`
            return
        self.attempts = max(self.attempts, int(status.get("attempt", 1)))
        self.started_at = status.get("started_at")
        self.finished_at = status.get("finished_at")
        self.duration = status.get("duration")
        self.not_retried = status.get("not_retried")
        ended_sweeper = status.get("status") == RUNNING and sweep_ended and ran_in_sweeper_process(status)
        self.ended_sweeper = self.ended_sweeper + 1 if ended_sweeper else 0
        if status.get("status") == COMPLETED:
            self.status, self.error, self.traceback = COMPLETED, None, None
            self.return_value = status.get("return_value")
            return
        self.status = FAILED
        stopped_by_ctrl_c = str(status.get("error") or "").startswith("KeyboardInterrupt")  # the run caught it
        if interrupted and (status.get("status") == RUNNING or stopped_by_ctrl_c):
            self.error, self.traceback = f"{INTERRUPTED_PREFIX} (the sweep was stopped while it ran)", None
        elif status.get("status") == RUNNING:
            if ended_sweeper:
                reason = ENDED_SWEEPER
            elif ran_in_sweeper_process(status):
                reason = "the run ended without writing how it ended (see its log: a full disk?)"
            else:
                reason = "the job's process died without finishing (killed, out of memory, or os._exit)"
            self.error = f"{reason}; launcher said: {launch_error}" if launch_error else reason
            self.traceback = None
        else:
            self.error = status.get("error") or "failed"
            self.traceback = status.get("traceback")
        self.errors.append(f"attempt {self.attempts}: {self.error}")


@dataclass
class Ledger:
    path: Path
    runs: dict[str, RunRecord]  # by job_dir
    header: dict[str, Any] = field(default_factory=dict)  # experiment name, definition fingerprint

    @classmethod
    def create(cls, experiment_dir: Path, records: Iterable[RunRecord], **header: Any) -> Ledger:
        return cls(experiment_dir / LEDGER_FILE, {r.job_dir: r for r in records}, header)

    @classmethod
    def load(cls, experiment_dir: Path) -> Ledger | None:
        data = read_json(experiment_dir / LEDGER_FILE)
        if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
            return None
        header = {k: v for k, v in data.items() if k != "runs"}
        return cls.create(experiment_dir, (RunRecord(**r) for r in data["runs"]), **header)

    def save(self) -> None:
        write_json_atomic(self.path, {**self.header, "runs": [asdict(r) for r in self.runs.values()]})

    def by_status(self, status: str) -> list[RunRecord]:
        return [r for r in self.runs.values() if r.status == status]
