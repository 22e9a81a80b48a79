"""What every metric source shares: the run-metrics value they all produce, and the job directory they read.

A source turns one job directory into `Found` values (final numbers, learning curves, and a label saying
where they came from); `RunMetrics` merges them in the order of `metta_ab.sources.SOURCES`.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from metta_ab.sources.scan import limit_warning, list_tree

STEP_KEYS = ("step", "_step", "global_step", "timestep", "agent_step")

# The walk of a job directory for log files (TensorBoard events, progress tables, CSV logs, W&B runs):
SKIPPED_AT_TOP = frozenset({"attempts"})  # attempts/<k>/ holds earlier failed attempts: never their numbers
SKIPPED_ANYWHERE = frozenset({"__pycache__", "node_modules"})  # and every hidden directory (.hydra, .git, ...)
WANDB_DIR = "wandb"  # not descended into (wandb copies synced TensorBoard files there); the W&B source reads it
TFEVENTS_PREFIX = "events.out.tfevents."
PROGRESS_TABLES = ("progress.csv", "progress.txt")
CSV_SCALARS_DIR = "scalars"  # TorchRL's CSVLogger: <log dir>/<experiment>/scalars/<name>.csv
CSV_SUFFIX = ".csv"


@dataclass(frozen=True)
class Curve:
    steps: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class Found:
    """What one source knows about one run; `label` says where it came from (e.g. "logs/progress.csv")."""

    final: Mapping[str, Any]
    curves: Mapping[str, Curve]
    label: str


@dataclass
class RunMetrics:
    """Every number known about one run: final values and learning curves, by metric name."""

    final: dict[str, float] = field(default_factory=dict)
    curves: dict[str, Curve] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)  # labels of the sources that added something, in order
    warnings: list[str] = field(default_factory=list)  # what could not be read (naming no run: the caller does)
    claimed: set[str] = field(default_factory=set)  # names an authoritative source (a reader) settled
    reader_returned_none: bool = False  # the declared reader returned None: it knew nothing of this run

    def has(self, metric: str) -> bool:
        return metric in self.final or metric in self.curves

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.final, *self.curves]))

    def absorb(
        self, final: Mapping[str, Any], curves: Mapping[str, Curve], source: str, *, claim: bool = False
    ) -> None:
        """Add what a later (lower-priority) source knows and the earlier ones did not. With `claim`, the
        names this source reports are settled: no later source adds a value or a curve to them."""
        added = False
        for name, value in final.items():
            number = as_number(value)
            if number is not None and name not in self.final and name not in self.claimed:
                self.final[name] = number
                added = True
        for name, curve in curves.items():
            if name not in self.curves and name not in self.claimed and len(curve.values):
                self.curves[name] = curve
                added = True
        if claim:
            self.claimed.update(final)
            self.claimed.update(curves)
        if added:
            self.sources.append(source)


#: The metric names the analysis needs (the primary and any secondary metrics): the sources keep the curves of
#: these only, and the costly sources are read only while one of them is missing. None: every metric.
Wanted = frozenset[str] | None


def wanted_names(wanted: str | Iterable[str] | None) -> Wanted:
    """One name, several, or None (every metric) as a `Wanted`."""
    if wanted is None:
        return None
    return frozenset([wanted]) if isinstance(wanted, str) else frozenset(wanted)


def as_number(value: Any) -> float | None:
    """A real number as a float (numpy scalars too), inf and NaN included: a diverged run's score is a
    result, recorded and judged (`metta_ab.analysis.results`), not dropped; None for anything else, bools included."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def curves_from_columns(
    columns: Mapping[str, list[Any]], wanted: Wanted = None, step_key: str | None = None
) -> dict[str, Curve]:
    """Columnar history (step column + metric columns, None where not logged) -> one Curve per metric
    (only the `wanted` ones' when the columns have any: converting every column of thousands of runs is the slow
    part). The step column is `step_key`, else the first of STEP_KEYS present; without one there are no curves."""
    if step_key is None:
        step_key = next((k for k in STEP_KEYS if k in columns), None)
    if step_key is None:
        return {}
    steps = np.asarray(columns[step_key], dtype=float)  # None -> NaN
    present = [name for name in columns if name in wanted] if wanted is not None else []
    names = present or list(columns)
    curves = {}
    for name in names:
        raw = columns[name]
        if name == step_key or name.startswith("_") or len(raw) != len(steps):
            continue
        try:
            values = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            continue  # a text or media column
        keep = np.isfinite(values) & np.isfinite(steps)
        if keep.any():
            curves[name] = Curve(steps[keep], values[keep])
    return curves


def points_curve(steps: list[float], values: list[float]) -> Curve:
    """Logged points (in the order written) as a curve: ordered by step; of two points at one step the
    later-written one (a resumed run rewrites the steps since its checkpoint); NaN/inf points dropped."""
    step_array = np.asarray(steps, dtype=float)
    value_array = np.asarray(values, dtype=float)
    order = np.lexsort((np.arange(len(step_array)), step_array))  # by step, then by write order
    step_array, value_array = step_array[order], value_array[order]
    last_of_step = np.append(step_array[1:] != step_array[:-1], True)
    keep = last_of_step & np.isfinite(value_array) & np.isfinite(step_array)
    return Curve(step_array[keep], value_array[keep])


def named_by_directory(job: Job, series: Mapping[Path, Mapping[str, Any]]) -> dict[str, Any]:
    """Per-directory series (directory -> name -> series) under one name each: a name found in only one
    directory is itself (`eval/return`); one in several is `<directory>/<name>`, the directory relative to
    the job directory (TensorBoard shows those as separate runs, e.g. `loss_train/loss`)."""
    seen_in: dict[str, int] = {}
    for names in series.values():
        for name in names:
            seen_in[name] = seen_in.get(name, 0) + 1
    named: dict[str, Any] = {}
    for directory, names in series.items():
        prefix = job.relative(directory)
        for name, value in names.items():
            named[name if seen_in[name] == 1 or prefix == "." else f"{prefix}/{name}"] = value
    return named


def found_in_series(
    job: Job, series: Mapping[Path, Mapping[str, tuple[list[float], list[float]]]], wanted: Wanted, label: str
) -> Found | None:
    """Logged points per directory and name -> what a source found: each series' last point is the final
    value, its curve is kept when it is a wanted metric (or when none is named)."""
    final: dict[str, float] = {}
    curves: dict[str, Curve] = {}
    for name, (steps, values) in named_by_directory(job, series).items():
        curve = points_curve(steps, values)
        if len(curve.values):
            final[name] = float(curve.values[-1])
            if wanted is None or name in wanted:
                curves[name] = curve
    return Found(final, curves, label) if final else None


@dataclass
class JobFiles:
    """The log files found under a job directory by one bounded walk (see `Job.files`)."""

    tfevents: list[Path] = field(default_factory=list)
    progress_tables: list[Path] = field(default_factory=list)
    wandb_dirs: list[Path] = field(default_factory=list)
    csv_scalar_dirs: list[Path] = field(default_factory=list)  # directories named `scalars` (TorchRL)
    csv_logs: list[Path] = field(default_factory=list)  # other `*.csv` files (wide CSV logs, if they are)


def is_hidden_or_skipped(directory: os.DirEntry[str]) -> bool:
    """Directories no log search enters: hidden ones (.hydra, .git, .venv), __pycache__, node_modules."""
    return directory.name.startswith(".") or directory.name in SKIPPED_ANYWHERE


class Job:
    """One run as the sources see it: its directory, the value its task returned, the declared reader.

    The directory is walked at most once, and only when a source that needs the walk is consulted."""

    def __init__(self, path: Path, return_value: Any = None, reader: Any = None) -> None:
        self.path = Path(path)
        self.return_value = return_value
        self.reader = reader  # a metta_ab.definition.metric_reader.MetricReader, or None
        self.warnings: list[str] = []
        self.reader_returned_none = False  # set by the reader source

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.path).as_posix()
        except ValueError:
            return str(path)

    @cached_property
    def files(self) -> JobFiles:
        """The log files under the job directory, each kind for the one source that reads it: hidden
        directories, `__pycache__`, `wandb/` (its contents) and the top-level `attempts/` are not entered,
        symbolic links to directories not followed, and at most MAX_SCANNED_ENTRIES entries are looked at
        (a warning says when that cap cut the search short). A `.csv` below a `scalars/` directory is
        TorchRL's; `progress.csv` is a progress table; any other `.csv` may be a wide CSV log."""

        def enter(directory: os.DirEntry[str], depth: int) -> bool:
            name = directory.name
            return not (is_hidden_or_skipped(directory) or name == WANDB_DIR or (depth == 1 and name in SKIPPED_AT_TOP))

        listing = list_tree(self.path, enter)
        if listing.truncated:
            self.warnings.append(limit_warning("the job directory"))
        found = JobFiles()
        for directory in listing.directories:
            if directory.name == WANDB_DIR:
                found.wandb_dirs.append(Path(directory.path))
            elif directory.name == CSV_SCALARS_DIR:
                found.csv_scalar_dirs.append(Path(directory.path))
        below_scalars = f"{os.sep}{CSV_SCALARS_DIR}{os.sep}"
        for file in listing.files:
            name = file.name
            if name.startswith(TFEVENTS_PREFIX):
                found.tfevents.append(Path(file.path))
            elif name in PROGRESS_TABLES:
                found.progress_tables.append(Path(file.path))
            elif name.endswith(CSV_SUFFIX) and below_scalars not in file.path[len(str(self.path)) :]:
                found.csv_logs.append(Path(file.path))
        # Shallowest first (the job's own table before one a library left deeper down), then by path.
        found.progress_tables.sort(key=lambda p: (len(p.relative_to(self.path).parts), str(p)))
        return found
