"""Cost before launch: the run time, wall time and GPU-hours of planned runs, from a pilot's run durations.

The pilot is any experiment directory, finished or still running, read as `metta-ab status` reads it (its
Snapshot): the completed runs' recorded durations, per task where the runs trained on tasks. Each planned run is
costed at the pilot's median on its task (the overall median where the pilot has no run on that task); the wall
time starts the runs in plan order as a launcher pool does (`wall_seconds`, the status ETA's), one launch after
another for a sequential design's looks, which each wait for the previous look's decision.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import ABExperiment
from metta_ab.records.snapshot import (
    NotAnExperimentError,
    Parallelism,
    Snapshot,
    launcher_parallelism,
    take_snapshot,
    wall_seconds,
)

ONE_AT_A_TIME = "assumed: no --parallel, and no launcher setting says how many"


class PilotError(ExperimentError):
    """The pilot directory cannot give durations: not an experiment directory, or no completed run."""


@dataclass(frozen=True)
class CostEstimate:
    pilot: str  # the pilot's directory
    pilot_runs: int  # its completed runs with a recorded duration
    median: float  # seconds per run, over all of them
    p90: float
    task_medians: dict[str, float]  # the pilot's median on each planned task it ran
    tasks_without_pilot: tuple[str, ...]  # planned tasks the pilot has no completed run on: costed at `median`
    runs: int  # the runs costed
    maximum: bool  # a sequential design's maximum: its looks may stop it earlier
    run_seconds: float  # the runs' summed durations
    parallelism: Parallelism
    wall_seconds: float
    gpus_per_job: float

    @property
    def gpu_hours(self) -> float:
        return self.run_seconds * self.gpus_per_job / 3600


def read_pilot(directory: Path) -> Snapshot:
    """The pilot's records; PilotError (one line) when it has no completed run to take durations from."""
    try:
        snapshot = take_snapshot(directory)
    except NotAnExperimentError as error:
        raise PilotError(f"--pilot: {error}") from None
    if not snapshot.durations():
        raise PilotError(
            f"--pilot {directory}: no completed run with a recorded duration yet ({len(snapshot.runs)} runs "
            "planned there); give a pilot with at least one completed run (metta-ab status DIR shows its runs)"
        )
    return snapshot


def plan_launches(experiment: ABExperiment, runs: Sequence[tuple[int, str | None]]) -> list[list[str | None]]:
    """The tasks of the planned runs (each its run index and task), one list per launch: all runs at once, or a
    sequential design's looks in turn (run i of a variant belongs to look ceil(i / runs_per_look))."""
    sequential = experiment.sequential
    if sequential is None or not sequential.runs_per_look:
        return [[task for _, task in runs]]
    looks: dict[int, list[str | None]] = {}
    for index, task in runs:
        looks.setdefault(math.ceil(index / sequential.runs_per_look), []).append(task)
    return [looks[look] for look in sorted(looks)]


def fixed_launch(experiment: ABExperiment, runs_per_variant: int) -> list[list[str | None]]:
    """The tasks of a fixed design of `runs_per_variant` runs per variant (and task), all launched at once."""
    tasks = [task.name for task in experiment.tasks] or [None]
    return [[task for _ in experiment.variants for task in tasks for _ in range(runs_per_variant)]]


def command_parallelism(
    parallel: int | None, overrides: Sequence[str], launcher: Mapping | None = None, launcher_is: str = ""
) -> Parallelism:
    """How many runs the command runs at once: --parallel, else a `hydra.launcher.n_jobs=` (or
    `array_parallelism=`) override, else `launcher` (a resolved launcher config: the dry run's, the pilot's;
    `launcher_is` says whose), else one at a time."""
    if parallel is not None:
        return Parallelism(parallel, "--parallel")
    given: dict[str, object] = {}
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key.startswith("hydra.launcher.") and value.strip().isdigit():
            given[key.removeprefix("hydra.launcher.")] = int(value)
    found = launcher_parallelism(given, named="hydra.launcher.")
    if found is not None:
        return found
    resolved = launcher_parallelism(launcher or {})
    if resolved is not None:
        return Parallelism(resolved.runs, f"{launcher_is}{resolved.source}")
    return Parallelism(1, ONE_AT_A_TIME)


def estimate_cost(
    pilot: Snapshot,
    launches: Sequence[Sequence[str | None]],
    parallelism: Parallelism,
    gpus_per_job: float,
    *,
    maximum: bool = False,
) -> CostEstimate:
    """The cost of `launches` (each a list of the runs' tasks, None for no task), launched one after another."""
    durations = pilot.durations()
    median = statistics.median(durations)
    p90 = statistics.quantiles(durations, n=10, method="inclusive")[-1] if len(durations) > 1 else durations[0]
    by_task = {task: statistics.median(d) for task, d in pilot.durations_by_task().items() if task is not None}
    planned = list(dict.fromkeys(task for launch in launches for task in launch if task is not None))

    def seconds(task: str | None) -> float:
        return by_task.get(task, median) if task is not None else median

    return CostEstimate(
        pilot=str(pilot.experiment_dir),
        pilot_runs=len(durations),
        median=median,
        p90=p90,
        task_medians={task: by_task[task] for task in planned if task in by_task},
        tasks_without_pilot=tuple(task for task in planned if task not in by_task),
        runs=sum(len(launch) for launch in launches),
        maximum=maximum,
        run_seconds=sum(seconds(task) for launch in launches for task in launch),
        parallelism=parallelism,
        wall_seconds=sum(wall_seconds([seconds(task) for task in launch], parallelism.runs) for launch in launches),
        gpus_per_job=gpus_per_job,
    )
