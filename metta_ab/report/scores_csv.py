"""`scores.csv`: one row per run (and task, for a suite) with its score or the analysis's reason it has none, and
every metric collected for the run, for a spreadsheet or pandas (summary.json nests the same runs)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from typing import Any

from metta_ab.analysis.results import ExperimentResults, why_unscored
from metta_ab.analysis.suite import metric_for
from metta_ab.definition.experiment import TASK_FIELD
from metta_ab.records.ledger import RunRecord
from metta_ab.sources import RunMetrics

SCORES_CSV = "scores.csv"
RUN_COLUMNS = ("variant", "task", "run_index", "seed", "status", "score")
PLACE_COLUMNS = ("run_name", "job_dir")
SCORED = "completed"  # the status of a run (and task) with a score, finite or not


def _metric_value(metrics: RunMetrics, name: str) -> float:
    """The run's final value of `name`, else the last point of its learning curve."""
    if name in metrics.final:
        return metrics.final[name]
    return float(metrics.curves[name].values[-1]) if len(metrics.curves[name].values) else math.nan


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _scored(values: Any, record: RunRecord) -> float:
    """The run's score in the analysis's array of its variant (NaN: none)."""
    if values is None or not 1 <= record.run_index <= len(values):
        return math.nan
    return float(values[record.run_index - 1])


def _task_rows(results: ExperimentResults, record: RunRecord) -> Iterator[tuple[str | None, float, str, bool | None]]:
    """(task, score, status, censored) of the run: one per task of a suite, else one with no task."""
    suite = results.suite
    metric = results.metric
    if suite is None:
        score = _scored(results.scores.get(record.variant), record)
        censored = results.censored.get(record.variant)
        was_censored = bool(censored[record.run_index - 1]) if censored is not None and not math.isnan(score) else None
        status = SCORED if not math.isnan(score) or _reported_nan(results, record) else why_unscored(record, metric)
        yield None, score, status, was_censored
        return
    for task in [record.task] if results.experiment.tasks else suite.tasks:
        score = _scored(suite.scores.get(task or "", {}).get(record.variant), record)
        name = metric_for(metric, task) if metric and task and TASK_FIELD in metric else metric
        yield task, score, SCORED if not math.isnan(score) else why_unscored(record, name), None


def _reported_nan(results: ExperimentResults, record: RunRecord) -> bool:
    return any(entry["job_dir"] == record.job_dir for entry in results.non_finite)


def score_table(results: ExperimentResults) -> tuple[list[str], list[list[Any]]]:
    """The header and rows: the run columns, `censored` for times to a threshold, where the run is, then one
    column per metric any run reported (named `metric:<name>` where the name is one of the other columns).
    An empty cell is "" (no value)."""
    names = sorted({name for m in results.metrics.values() for name in m.names})
    threshold = results.settings.curve_summary == "threshold" and results.suite is None
    fixed = [*RUN_COLUMNS, *(["censored"] if threshold else []), *PLACE_COLUMNS]
    header = fixed + [f"metric:{n}" if n in fixed else n for n in names]
    rows = []
    for record in results.records:
        metrics = results.metrics.get(record.job_dir)
        values = [_cell(_metric_value(metrics, n)) if metrics and metrics.has(n) else "" for n in names]
        for task, score, status, censored in _task_rows(results, record):
            score_cell = score if status == SCORED else ""  # a reported NaN or infinity reads nan / inf
            row = [record.variant, _cell(task), record.run_index, _cell(record.seed), status, score_cell]
            row += [_cell(censored)] if threshold else []
            rows.append([*row, record.run_name, record.job_dir, *values])
    return header, rows


def scores_csv(results: ExperimentResults) -> str:
    """`score_table` as CSV text."""
    header, rows = score_table(results)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
