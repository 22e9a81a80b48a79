"""Where a sweep stands, read from its experiment directory without the experiment lock: `metta-ab status`.

The sweeper holds the lock for the whole sweep, so a reader that took it would wait days or fail; everything here
is only read. The ledger lists the planned runs and what became of them at the end of each launch round; during a
round the jobs' own status records (`ab_status.json`) are newer, so they win. Any file may be missing or half
there (a job directory made before its record, a retry whose last attempt was just moved aside): it then counts
as what the other files say, never as an error.
"""

from __future__ import annotations

import heapq
import socket
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metta_ab.definition.errors import ExperimentError
from metta_ab.records.ledger import (
    COMPLETED,
    FAILED,
    LEDGER_FILE,
    RUNNING,
    ExperimentLock,
    Ledger,
    RecordError,
    RunRecord,
    attempts_made,
    read_json,
    read_status,
)
from metta_ab.records.looks import Looks
from metta_ab.records.process import is_alive, started_by

PLAN_JSON = "plan.json"
MULTIRUN_YAML = "multirun.yaml"
PENDING, LATER_LOOK, NOT_RUN = "pending", "later_look", "not_run"
#: The states a run is counted in, in the order they are shown.
STATES = (COMPLETED, RUNNING, FAILED, PENDING, LATER_LOOK, NOT_RUN)
GONE = "its process is gone without recording how it ended (killed, out of memory, or os._exit)"


class NotAnExperimentError(ExperimentError):
    """The directory holds no sweep's records (no ledger.json, no plan.json)."""


@dataclass(frozen=True)
class RunState:
    """One planned run as the files say now."""

    variant: str
    task: str | None
    run_index: int
    job_dir: str
    state: str  # one of STATES
    attempt: int  # the attempt running or last made (0: none yet)
    started_at: float | None = None
    duration: float | None = None  # of a finished attempt
    finished_at: float | None = None
    error: str | None = None  # first line of the last failed attempt's error (also for a run waiting for a retry)


@dataclass(frozen=True)
class Sweeper:
    """The process that holds (or last held) the experiment lock, as its lock file says."""

    holder: str | None  # "pid 123 on host", None: no sweep has taken the lock here
    running: bool | None  # None: it runs on another host, which cannot be checked from here


@dataclass(frozen=True)
class Parallelism:
    """How many runs the launcher runs at once, and where that number comes from."""

    runs: int
    source: str


@dataclass(frozen=True)
class Look:
    """A sequential design's look in progress (or the one it stopped at)."""

    number: int
    of: int
    runs_per_variant: dict[str, int]  # runs the look needs per variant
    stopped: str | None  # why the design stopped (then `number` is the last look decided), else None


@dataclass(frozen=True)
class Snapshot:
    experiment: str
    experiment_dir: Path
    runs: list[RunState]
    sweeper: Sweeper
    in_progress: bool  # the sweep still has work going (see `sweep_in_progress`)
    parallelism: Parallelism | None
    look: Look | None = None
    taken_at: float = field(default_factory=time.time)

    def durations(self) -> list[float]:
        return [d for durations in self.durations_by_task().values() for d in durations]

    def durations_by_task(self) -> dict[str | None, list[float]]:
        """The completed runs' durations per task (None: runs without a task), in plan order."""
        found: dict[str | None, list[float]] = {}
        for run in self.runs:
            if run.state == COMPLETED and run.duration is not None:
                found.setdefault(run.task, []).append(run.duration)
        return found

    def eta(self) -> float | None:
        """Seconds until the runs pending (up to the look in progress) and running are done: each running run needs
        the median duration minus what it has run, each pending one the median, `parallelism` at a time as a
        launcher pool runs them (`wall_seconds`). None before a run has completed or while nothing is left."""
        durations = self.durations()
        left = [r for r in self.runs if r.state in (RUNNING, PENDING)]
        if not durations or not left or self.parallelism is None:
            return None
        median = statistics.median(durations)
        running = [r for r in left if r.state == RUNNING]
        remaining = [max(median - (self.taken_at - (r.started_at or self.taken_at)), 0.0) for r in running]
        return wall_seconds([*remaining, *[median] * (len(left) - len(running))], self.parallelism.runs)


def wall_seconds(job_seconds: Sequence[float], slots: int) -> float:
    """How long jobs of these lengths take, started in order `slots` at a time, each as soon as a slot is free (a
    launcher's pool): the end of the last one."""
    free_at = [0.0] * max(slots, 1)
    for seconds in job_seconds:
        heapq.heapreplace(free_at, free_at[0] + seconds)
    return max(free_at)


def is_experiment_dir(directory: Path) -> bool:
    return (directory / LEDGER_FILE).is_file() or (directory / PLAN_JSON).is_file()


def take_snapshot(experiment_dir: Path) -> Snapshot:
    """What the files of `experiment_dir` say now; NotAnExperimentError naming what is missing."""
    if not experiment_dir.is_dir():
        raise NotAnExperimentError(f"{experiment_dir} is not a directory: give the experiment directory a sweep "
                                   "wrote (ab_test_results/<experiment name>)")  # fmt: skip
    if not is_experiment_dir(experiment_dir):
        raise NotAnExperimentError(
            f"{experiment_dir} is not an experiment directory: it has no {LEDGER_FILE} or {PLAN_JSON} (a sweep "
            "writes them there before its first run); give ab_test_results/<experiment name>"
        )
    records, name = _planned_records(experiment_dir)
    sweeper = _sweeper(experiment_dir)
    look = _look(experiment_dir, records)
    runs = [_state(experiment_dir, record, sweeper, look) for record in records]
    return Snapshot(
        experiment=name,
        experiment_dir=experiment_dir,
        runs=runs,
        sweeper=sweeper,
        in_progress=sweep_in_progress(experiment_dir, sweeper, runs),
        parallelism=_parallelism(experiment_dir, runs),
        look=look,
    )


def _planned_records(experiment_dir: Path) -> tuple[list[RunRecord], str]:
    """The runs the ledger lists; the plan's when the ledger is not there yet (or cannot be read), all planned."""
    try:
        ledger = Ledger.load(experiment_dir)
    except RecordError:
        ledger = None
    if ledger is not None:
        return list(ledger.runs.values()), str(ledger.header.get("experiment") or experiment_dir.name)
    plan = read_json(experiment_dir / PLAN_JSON)
    runs = [r for r in plan if isinstance(r, dict)] if isinstance(plan, list) else []
    records = [
        RunRecord(r["variant"], r["run_index"], r.get("seed"), r["run_name"], r["job_dir"], task=r.get("task"))
        for r in runs
        if {"variant", "run_index", "run_name", "job_dir"} <= set(r)
    ]
    return records, experiment_dir.name


def _sweeper(experiment_dir: Path) -> Sweeper:
    """The lock file's last holder (the file keeps its text after the sweep), and whether it still runs."""
    lock = ExperimentLock(experiment_dir).path  # only its path: the lock is not taken
    try:
        holder = lock.read_text(encoding="utf-8").strip()
        written = lock.stat().st_mtime
    except OSError:
        return Sweeper(None, False)
    parts = holder.split()  # "pid 123 on host"
    if len(parts) != 4 or parts[0] != "pid" or not parts[1].isdigit():
        return Sweeper(holder or None, None)
    if parts[3] != socket.gethostname():
        return Sweeper(holder, None)
    return Sweeper(holder, bool(started_by(int(parts[1]), written)))


def sweep_in_progress(experiment_dir: Path, sweeper: Sweeper, runs: list[RunState]) -> bool:
    """Whether the sweep still has work going: its sweeper runs (on this host: its process; on another: a run is
    running, or the ledger was saved after the report, which a sweep writes last)."""
    if sweeper.running is not None:
        return sweeper.running
    if any(r.state == RUNNING for r in runs):
        return True
    try:
        ledger = (experiment_dir / LEDGER_FILE).stat().st_mtime_ns
    except OSError:
        return False
    try:
        report = (experiment_dir / "summary.json").stat().st_mtime_ns
    except OSError:
        return True
    return ledger > report


def _state(experiment_dir: Path, record: RunRecord, sweeper: Sweeper, look: Look | None) -> RunState:
    job_dir = experiment_dir / record.job_dir
    try:
        status = read_status(job_dir)
    except RecordError:
        status = None
    base = {"variant": record.variant, "task": record.task, "run_index": record.run_index, "job_dir": record.job_dir}
    if status is not None:
        state, error = status["status"], _first_line(status.get("error"))
        if state == RUNNING and _gone(status):
            state, error = FAILED, GONE
        return RunState(
            **base,
            state=state,
            attempt=int(status.get("attempt") or 1),
            started_at=status.get("started_at"),
            duration=status.get("duration"),
            finished_at=status.get("finished_at"),
            error=error if state == FAILED else None,
        )
    attempt, error = record.attempts, _first_line(record.error)
    if record.status == COMPLETED:
        state = COMPLETED
    elif record.status == FAILED:  # its last attempt moved aside while the sweep runs: a retry is on its way
        retrying = sweeper.running is not False and attempts_made(job_dir) >= record.attempts > 0
        state = PENDING if retrying else FAILED
    elif look is not None and record.run_index > look.runs_per_variant.get(record.variant, 0):
        state = NOT_RUN if look.stopped else LATER_LOOK
    else:
        state = PENDING
    return RunState(
        **base,
        state=state,
        attempt=attempt,
        duration=record.duration,
        finished_at=record.finished_at,
        error=error if record.status == FAILED else None,
    )


def _gone(status: dict[str, Any]) -> bool:
    """A `running` record of a process on this host that no longer runs."""
    pid = status.get("pid")
    return (
        status.get("host") == socket.gethostname() and pid is not None and not is_alive(pid, status.get("pid_started"))
    )


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0] if text and text.strip() else None


def _look(experiment_dir: Path, records: list[RunRecord]) -> Look | None:
    """The look in progress of a sequential design (looks.json's rule), or the one it stopped at."""
    try:
        looks = Looks.load(experiment_dir)
    except ExperimentError:
        return None
    rule = looks.rule
    if not rule:
        return None
    from metta_ab.records.looks import runs_needed
    from metta_ab.stats.sequential import sequential_design

    design = sequential_design(rule["max_runs_per_variant"], rule["runs_per_look"], rule["alpha"], rule["spending"])
    history = looks.history()
    variants = list(dict.fromkeys(r.variant for r in records))
    needed = runs_needed(design, history, variants)
    if history and history[-1].stop:
        return Look(len(history), design.looks, needed, history[-1].reason)
    return Look(len(history) + 1, design.looks, needed, None)


def _parallelism(experiment_dir: Path, runs: list[RunState]) -> Parallelism | None:
    """The launcher's own setting where multirun.yaml names one, else the runs running now; None when neither
    says."""
    launcher = read_launcher(experiment_dir)
    setting = launcher_parallelism(launcher)
    if setting is not None:
        return setting
    running = sum(r.state == RUNNING for r in runs)
    if running:
        name = _launcher_name(launcher)
        said = f"{name} names no number of parallel runs" if name else f"no launcher in {MULTIRUN_YAML}"
        return Parallelism(running, f"assumed: the {running} running now ({said})")
    return None


def read_launcher(experiment_dir: Path) -> Mapping[str, Any]:
    """multirun.yaml's `hydra.launcher` (the sweep's, or the dry run's), {} where there is none."""
    import yaml

    try:
        config = yaml.safe_load((experiment_dir / MULTIRUN_YAML).read_text(encoding="utf-8"))
        launcher = config["hydra"]["launcher"]
    except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError):
        return {}
    return launcher if isinstance(launcher, Mapping) else {}


def launcher_parallelism(launcher: Mapping[str, Any], named: str | None = None) -> Parallelism | None:
    """The runs a launcher config runs at once where it says (basic: 1, joblib: n_jobs, submitit:
    array_parallelism), its source read `<named><key>=<value>` (default: the launcher's class and a space); None
    when it does not say."""
    name = _launcher_name(launcher)
    if name == "BasicLauncher":
        return Parallelism(1, "the basic launcher runs one at a time")
    for key in ("n_jobs", "array_parallelism"):
        value = launcher.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return Parallelism(value, f"{f'{name} ' if named is None else named}{key}={value}")
    return None


def _launcher_name(launcher: Mapping[str, Any]) -> str:
    return str(launcher.get("_target_", "")).rsplit(".", 1)[-1]
