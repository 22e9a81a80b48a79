"""Progress tables: `progress.csv` / `progress.txt` anywhere under the job directory.

The layout RL libraries write: a header row of metric names, then one row per logged step, separated by
commas (Stable-Baselines3's CSV logger, OpenAI Baselines, garage, RLlib) or tabs (Spinning Up's and
rllab's `progress.txt`). The separator is a tab when the header row holds one, else a comma. An empty
cell is a missing value; a column with any other non-numeric cell is text and is not a metric; a short
last row (a writer killed mid-line) counts as far as it goes.

The step column is the first of STEP_COLUMNS present (compared case-insensitively) whose cells are
numbers: environment steps before iterations, because that is what the curves of different variants
share (`time/total_timesteps` of SB3, `TotalEnvInteracts` of Spinning Up, ...). Without one the step
is the row number (0, 1, ...). Every other numeric column is a metric: its curve is its non-missing
cells, its final value the last of them. Several tables in one job directory are read shallowest first;
a metric the first one has is taken from it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np

from metta_ab.sources.base import Curve, Found, Job, Wanted

STEP_COLUMNS = (
    "time/total_timesteps",  # Stable-Baselines3
    "total_timesteps",  # OpenAI Baselines (a2c, acer, deepq)
    "misc/total_timesteps",  # OpenAI Baselines (ppo2)
    "TotalEnvInteracts",  # Spinning Up
    "TotalEnvSteps",  # garage
    "TimestepsSoFar",  # OpenAI Baselines (ppo1, trpo)
    "timesteps_total",  # RLlib / Ray Tune
    "env_steps",
    "global_step",
    "step",
    "_step",
    "timestep",
    "timesteps",
    "agent_step",
    "steps",
    "frames",
    "time/iterations",  # Stable-Baselines3 (on-policy)
    "training_iteration",  # RLlib / Ray Tune
    "Epoch",  # Spinning Up
    "Iteration",  # rllab
    "Itr",  # garage
    "iteration",
    "epoch",
)
_STEP_RANK = {name.lower(): rank for rank, name in reversed(list(enumerate(STEP_COLUMNS)))}

Table = dict[str, list[float]]  # column -> one value per row, NaN where missing


def parse_table(text: str, only: Collection[str] | None = None) -> Table:
    """The numeric columns of a progress table (see the module docstring), in header order; with `only`, just
    those of them (converting cells to numbers is most of the cost)."""
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return {}
    delimiter = "\t" if "\t" in lines[0] else ","
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    rows = [row for row in reader if "".join(row).strip()]
    if not rows:
        return {}
    header = [name.strip() for name in rows[0]]
    width = len(header)
    body = [row if len(row) >= width else row + [""] * (width - len(row)) for row in rows[1:]]
    columns = list(zip(*body, strict=False)) if body else [()] * width
    table: Table = {}
    for index, name in enumerate(header):
        if name and name not in header[:index] and (only is None or name in only):
            numbers = _numbers(columns[index])
            if numbers is not None:
                table[name] = numbers
    return table


def _numbers(cells: tuple[str, ...]) -> list[float] | None:
    """A column's cells as numbers, NaN where empty; None for a text column."""
    try:
        return [float(cell) if cell else math.nan for cell in cells]
    except ValueError:  # a cell of spaces (float() strips them around a number), or text
        stripped = [cell.strip() for cell in cells]
    try:
        return [float(cell) if cell else math.nan for cell in stripped]
    except ValueError:
        return None


def is_step_column(name: str) -> bool:
    """Whether a column of this name counts the steps (one of STEP_COLUMNS, compared case-insensitively)."""
    return name.lower() in _STEP_RANK


def step_column(table: Table) -> str | None:
    """The column the rows are steps of (STEP_COLUMNS, first match), or None for the row number."""
    ranked = [(_STEP_RANK[name.lower()], name) for name in table if is_step_column(name)]
    for _, name in sorted(ranked):
        if any(math.isfinite(v) for v in table[name]):
            return name
    return None


def metrics_from_table(table: Table, wanted: Wanted) -> tuple[dict[str, float], dict[str, Curve]]:
    step_name = step_column(table)
    rows = len(next(iter(table.values()), []))
    steps = np.asarray(table[step_name], dtype=float) if step_name else np.arange(rows, dtype=float)
    final: dict[str, float] = {}
    curves: dict[str, Curve] = {}
    for name, cells in table.items():
        if name == step_name:
            continue
        values = np.asarray(cells, dtype=float)
        present = np.isfinite(values)
        if not present.any():
            continue
        final[name] = float(values[present][-1])
        if wanted is None or name in wanted:
            keep = present & np.isfinite(steps)
            if keep.any():
                curves[name] = Curve(steps[keep], values[keep])
    return final, curves


def read_table(path: Path) -> Table:
    return parse_table(path.read_text(encoding="utf-8", errors="replace"))


def read(job: Job, wanted: Wanted) -> Iterator[Found]:
    for path in job.files.progress_tables:
        try:
            table = read_table(path)
        except (OSError, csv.Error) as error:
            job.warnings.append(f"the progress table {job.relative(path)} is not readable ({error})")
            continue
        final, curves = metrics_from_table(table, wanted)
        if final:
            yield Found(final, curves, job.relative(path))
