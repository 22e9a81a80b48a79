"""Where a run's numbers come from: one module per source, one ordered list (`SOURCES`) deciding precedence.

Each source turns a job directory into the same value (final numbers and learning curves by metric
name, `RunMetrics`); for every metric the first source that knows it wins, and later sources only add
what the earlier ones lack (a curve for a metric whose final value came first, other metrics). In order:

1. the reader function declared with `.set_metric(name, reader=fn)` (`reader.py`). First, although it
   is the newest: the user said explicitly where the number is, and a reader is written for an app whose
   other outputs are incomplete or misleading. What it reports is settled (no other source adds to it).
2. the value the task function returned (`returned.py`): free, and what the app itself calls its result.
3. `metrics.json` in the job directory (`metrics_file.py`): the format an app writes on purpose for this
   tool, cheap to read; it adds the curves to final values the task returned.
4. the job's W&B run log, read directly (`wandb_offline.py`).
5. TensorBoard event files anywhere under the job directory (`tensorboard_events.py`).
6. `progress.csv` / `progress.txt` tables anywhere under the job directory (`progress_table.py`): after
   TensorBoard, because their step column is a guess and the libraries that write them often write
   TensorBoard too.
7. TorchRL's CSV scalars, `scalars/<name>.csv` files anywhere under the job directory (`torchrl_csv.py`,
   BenchMARL's `csv` logger): a directory named `scalars` is the only sign of them.
8. Wide CSV logs, any other `*.csv` under the job directory whose header names a step column (`wide_csv.py`,
   Lightning's `CSVLogger` `metrics.csv`): last, because a step column is the only sign of them.

Each file is read by one source only: `progress.csv` is a progress table, a `.csv` below `scalars/` is
TorchRL's, any other `.csv` a candidate wide CSV log.

Cost: sources 1-3 are always consulted; 4-8 only while the wanted metric is still missing (every source
when no metric is declared), so an app that returns or writes its metric never pays for the others. The
job directory is walked at most once, for 4-8 together, never into `attempts/` (earlier failed
attempts), `wandb/` contents or hidden directories (`.hydra/`), and at most `scan.MAX_SCANNED_ENTRIES`
files and directories (level by level, at any depth; a warning says when the cap was reached).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metta_ab.sources import (
    metrics_file,
    progress_table,
    reader,
    returned,
    tensorboard_events,
    torchrl_csv,
    wandb_offline,
    wide_csv,
)
from metta_ab.sources.base import STEP_KEYS, Curve, Found, Job, RunMetrics, Wanted, curves_from_columns, wanted_names
from metta_ab.sources.metrics_file import METRICS_FILE
from metta_ab.sources.returned import returned_values

__all__ = [
    "METRICS_FILE",
    "SOURCES",
    "STEP_KEYS",
    "Curve",
    "Found",
    "Job",
    "RunMetrics",
    "Source",
    "collect_run_metrics",
    "curves_from_columns",
    "returned_values",
]


@dataclass(frozen=True)
class Source:
    name: str  # what the user is told was looked at
    read: Callable[[Job, Wanted], Iterable[Found]]
    always: bool = False  # consulted even when the wanted metrics are already known (free or cheap)
    settles: bool = False  # what it reports, no later source adds to


SOURCES: tuple[Source, ...] = (
    Source("the declared reader", reader.read, always=True, settles=True),
    Source("the task's return value", returned.read, always=True),
    Source(METRICS_FILE, metrics_file.read, always=True),
    Source("the W&B run log", wandb_offline.read),
    Source("TensorBoard event files", tensorboard_events.read),
    Source("progress.csv / progress.txt tables", progress_table.read),
    Source("TorchRL CSV scalars (scalars/*.csv)", torchrl_csv.read),
    Source("wide CSV logs with a step column (Lightning's metrics.csv)", wide_csv.read),
)


def collect_run_metrics(
    job_dir: Path,
    return_value: Any,
    wanted: str | Iterable[str] | None = None,
    reader: Any = None,
    sources: Sequence[Source] = SOURCES,
) -> RunMetrics:
    """Every number known about one run. `reader` is the experiment's `MetricReader` (or None); later
    sources are read only while a `wanted` metric (a name or several) is missing. Problems reading a source are
    in `.warnings`."""
    job = Job(job_dir, return_value, reader)
    names = wanted_names(wanted)
    metrics = RunMetrics()
    for source in sources:
        if not source.always and names is not None and all(metrics.has(n) or n in metrics.claimed for n in names):
            continue
        for found in source.read(job, names):
            metrics.absorb(found.final, found.curves, found.label, claim=source.settles)
    metrics.warnings.extend(job.warnings)
    metrics.reader_returned_none = job.reader_returned_none
    return metrics
