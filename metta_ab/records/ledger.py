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
import shutil
import socket
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from metta_ab.atomic_files import write_text_atomic
from metta_ab.definition.errors import ExperimentError

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


def write_json_atomic(path: Path, data: Any, *, durable: bool = True) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, default=repr), durable=durable)


class ExperimentLock:
    """One sweep per experiment directory. An OS file lock: a sweeper that dies releases it at once. It is taken
    beside the resolved directory, so a second sweep reaching it by another path (a symlink, `..`) is refused."""

    def __init__(self, experiment_dir: Path) -> None:
        self.resolved = Path(os.path.realpath(experiment_dir))
        self.path = self.resolved.parent / f".{self.resolved.name}.lock"
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


class RecordError(ExperimentError):
    """A record file cannot be trusted (unreadable, garbled, a field missing, unknown or of the wrong type): the
    message names the file and the field."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; RecordError saying why when it cannot be read as one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RecordError(path, f"not readable: {error.strerror}") from None
    except ValueError as error:  # not JSON, or not UTF-8: cut short or garbled
        raise RecordError(path, f"not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise RecordError(path, f"a JSON {type(data).__name__}, not an object")
    return data


def _accepts(hint: Any, value: Any) -> bool:
    """Whether `value`, read from JSON, fits the type hint `hint` (`int`, `float | None`, `list[str]`, `Any`...)."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(option, value) for option in typing.get_args(hint))
    if origin is not None:  # list[str], dict[str, int]
        args = typing.get_args(hint)
        if not isinstance(value, origin):
            return False
        if isinstance(value, dict):
            return all(_accepts(args[0], k) and _accepts(args[1], v) for k, v in value.items())
        return all(_accepts(args[0], item) for item in value)
    if hint is type(None):
        return value is None
    if isinstance(value, bool):
        return hint is bool
    return isinstance(value, int | float) if hint is float else isinstance(value, hint)


def check_fields(
    path: Path, data: Mapping[str, Any], hints: Mapping[str, Any], *, required: Iterable[str] = (), where: str = ""
) -> None:
    """RecordError naming the first missing or mistyped field of `data` (described by type hints); fields not in
    `hints` are left to the caller."""
    for name in required:
        if name not in data:
            raise RecordError(path, f"{where}field {name!r} is missing")
    for name, hint in hints.items():
        if name in data and not _accepts(hint, data[name]):
            expected = hint.__name__ if isinstance(hint, type) else str(hint)
            raise RecordError(path, f"{where}field {name!r} is {data[name]!r}, not of type {expected}")


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


#: The fields of a job's record the sweeper reads (others, e.g. a newer task wrapper's, are left alone).
STATUS_FIELDS: dict[str, Any] = {
    "status": str,
    "attempt": int,
    "host": str | None,
    "pid": int | None,
    "pid_started": int | None,
    "slurm_job_id": str | int | None,
    "slurm_array_job_id": str | int | None,
    "log_files": list[str] | None,
    "started_at": float | None,
    "finished_at": float | None,
    "duration": float | None,
    "error": str | None,
    "traceback": str | None,
}


def read_status(job_dir: Path) -> dict[str, Any] | None:
    """The job's own record; None when there is none or it is not JSON (a write cut short: the run is run
    again). A record that is JSON but not one the task wrapper writes is a RecordError."""
    path = job_dir / STATUS_FILE
    data = read_json(path)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise RecordError(path, f"a JSON {type(data).__name__}, not a job record; {STATUS_FIX}")
    try:
        check_fields(path, data, STATUS_FIELDS, required=["status"])
        if data["status"] not in (RUNNING, COMPLETED, FAILED):
            raise RecordError(path, f"field 'status' is {data['status']!r}, not one of running, completed, failed")
    except RecordError as error:
        raise RecordError(path, f"{error.problem}; {STATUS_FIX}") from None
    return data


STATUS_FIX = "fix the field, or delete the file to run that run again (its files are kept under attempts/)"


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
    seed: int | None  # None: the sweeper could not seed the run (the app has no key for it)
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

    def absorb_job_records(self, job_dir: Path) -> bool:
        """Rebuild the record from the job's own files (the ledger was lost): each earlier attempt's record, then
        the last one unless it says running (the sweep waits for such runs, then reads them again). Returns
        whether the job left any record."""
        statuses = [read_status(job_dir / ATTEMPTS_DIR / str(k)) for k in range(1, attempts_made(job_dir) + 1)]
        statuses.append(read_status(job_dir))
        for status in statuses[:-1]:
            if status is not None:
                self.absorb_status(status)
        if statuses[-1] is not None and statuses[-1]["status"] != RUNNING:
            self.absorb_status(statuses[-1])
        return any(status is not None for status in statuses)


#: The header fields the sweeper reads (a ledger written elsewhere, e.g. from W&B, may hold others).
LEDGER_HEADER: dict[str, Any] = {"experiment": str, "fingerprint": dict[str, Any], "injection_notes": list[str]}


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
        """The ledger, or None when the directory has none. RecordError when it cannot be trusted (unreadable,
        or a field missing, unknown or of the wrong type): the jobs' own records can rebuild it."""
        path = experiment_dir / LEDGER_FILE
        if not path.exists():
            return None
        data = read_json_object(path)
        check_fields(path, data, {**LEDGER_HEADER, "runs": list[dict[str, Any]]}, required=["runs"])
        hints = typing.get_type_hints(RunRecord)
        required = [f.name for f in fields(RunRecord) if f.default is MISSING and f.default_factory is MISSING]
        for number, run in enumerate(data["runs"], 1):
            where = f"run {number}: "
            unknown = sorted(set(run) - set(hints))
            if unknown:
                raise RecordError(path, f"{where}unknown field {unknown[0]!r}")
            check_fields(path, run, hints, required=required, where=where)
            if run.get("status", PLANNED) not in (PLANNED, RUNNING, COMPLETED, FAILED):
                raise RecordError(path, f"{where}field 'status' is {run['status']!r}, not a run status")
        header = {k: v for k, v in data.items() if k != "runs"}
        return cls.create(experiment_dir, (RunRecord(**r) for r in data["runs"]), **header)

    def save(self) -> None:
        write_json_atomic(self.path, {**self.header, "runs": [asdict(r) for r in self.runs.values()]})

    def by_status(self, status: str) -> list[RunRecord]:
        return [r for r in self.runs.values() if r.status == status]


def recorded_base_seed(experiment_dir: Path) -> int | None:
    """The `ab.base_seed` the sweeps of this directory ran with (the ledger's definition), None when it has no
    readable ledger saying so: a rerun keeps it even after the default changed."""
    try:
        ledger = Ledger.load(experiment_dir)
    except RecordError:
        return None
    seed = ledger.header.get("fingerprint", {}).get("base_seed") if ledger else None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None
