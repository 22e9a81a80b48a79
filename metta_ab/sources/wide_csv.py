"""Wide CSV logs: a header of metric names with a step column, one sparse row per logged step.

Lightning's `CSVLogger` writes `<save_dir>/<name>/version_<n>/metrics.csv` (`csv/version_0/metrics.csv`
in the Lightning + Hydra template, `lightning_logs/version_0/metrics.csv` by default) this way: the columns
are `epoch`, `step` and every metric logged so far (sorted; the file is rewritten when a new name appears),
and each `log_metrics` call is one row holding only what that call logged, so a training row has the
training metrics, a validation row the validation metrics, and the test metrics are on one row at the end.
Any other `*.csv` below the job directory whose header names a step column is read the same way; one
without (a dataset, a predictions table) is not a log and is not read past its header. `progress.csv` is a
progress table and a `.csv` below `scalars/` TorchRL's: each is read by its own source only.

The step column is the first of the progress tables' STEP_COLUMNS present whose cells are numbers (`step`
before `epoch`). A metric's curve is its non-empty cells on rows that have a step, ordered by step; of
several cells at one step (two calls at the same step, or a run that went back to a checkpoint and logged
those steps again) the later row's counts. Its final value is the curve's last point: the value at the
largest step logged. NaN and inf cells are left out of the curve, as in the other sources. A name found in
CSV logs of several directories is `<directory>/<name>`; of two logs in one directory, the first in name
order has it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from pathlib import Path

from metta_ab.sources.base import Found, Job, Wanted, found_in_series
from metta_ab.sources.progress_table import is_step_column, parse_table, step_column
from metta_ab.text_format import fmt_list

LABEL = "csv log"

Points = tuple[list[float], list[float]]  # (steps, values) in the order written


def header_names(header: str) -> list[str]:
    delimiter = "\t" if "\t" in header else ","
    return [name.strip() for name in next(csv.reader(io.StringIO(header), delimiter=delimiter), [])]


def parse_wide_csv(text: str, wanted: Wanted = None) -> dict[str, Points]:
    """Every metric's logged points, by name, in row order (see the module docstring); {} for a CSV
    without a step column. When the file has `wanted` metrics, only their points (and nothing else
    converted: a 5,000-row log is read in a fraction of the time)."""
    names = header_names(next((line for line in text.splitlines() if line.strip()), ""))
    present = {name for name in names if name in wanted} if wanted is not None else set()
    only = {*present, *filter(is_step_column, names)} if present else None
    table = parse_table(text, only)
    step_name = step_column(table)
    if step_name is None:
        return {}
    steps = table[step_name]
    series: dict[str, Points] = {}
    for name, cells in table.items():
        if name == step_name:
            continue
        logged = [(s, v) for s, v in zip(steps, cells, strict=True) if not (math.isnan(s) or math.isnan(v))]
        if logged:
            series[name] = ([step for step, _ in logged], [value for _, value in logged])
    return series


def read_csv_log(path: Path, wanted: Wanted = None) -> dict[str, Points]:
    """The points of a wide CSV log (see `parse_wide_csv`), or {} when the file's header names no step column
    (then it is not read further)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as file:
        header = next((line for line in file if line.strip()), "")
        if not any(is_step_column(name) for name in header_names(header)):
            return {}
        return parse_wide_csv(header + file.read(), wanted)


def read(job: Job, wanted: Wanted) -> Iterator[Found]:
    series: dict[Path, dict[str, Points]] = {}
    read_from: list[str] = []
    for path in job.files.csv_logs:
        try:
            points = read_csv_log(path, wanted)
        except (OSError, csv.Error) as error:
            job.warnings.append(f"the CSV log {job.relative(path)} is not readable ({error})")
            continue
        if points:
            in_directory = series.setdefault(path.parent, {})
            for name, logged in points.items():
                in_directory.setdefault(name, logged)
            read_from.append(job.relative(path))
    if read_from:
        found = found_in_series(job, series, wanted, f"{LABEL} ({fmt_list(read_from, 1)})")
        if found is not None:
            yield found
