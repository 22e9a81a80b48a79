"""Is the declared metric there? Asked of the first run that completes, so that a typo in `.set_metric(...)`
(or logs written outside the job directory: the files are listed, with the fix) is found after one run
instead of after the whole budget, and asked again at the end to say why there is no verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metta_ab.analysis.no_number import metric_not_found, stray_note
from metta_ab.analysis.results import log_dir_fix, strays_since_launch
from metta_ab.analysis.suite import metric_for, template_pattern
from metta_ab.definition.experiment import TASK_FIELD, ABExperiment, AnalysisSettings
from metta_ab.records.ledger import STATUS_FILE, read_status
from metta_ab.sources import RunMetrics, collect_run_metrics
from metta_ab.sources.stray_logs import StrayLogs


def reports_metric(metrics: RunMetrics, metric: str, task: str | None) -> bool:
    """Whether one run's numbers hold what the analysis will score it on: the metric, a task's fill of a
    `{task}` template, or (a template without declared tasks) any name the template matches."""
    if TASK_FIELD not in metric:
        return metrics.has(metric)
    if task is not None:
        return metrics.has(metric_for(metric, task))
    pattern = template_pattern(metric)
    return any(pattern.match(name) for name in metrics.names)


def missing_metric(
    experiment: ABExperiment,
    settings: AnalysisSettings,
    job_dir: Path,
    return_value: Any,
    task: str | None = None,
) -> str | None:
    """None when the completed run in `job_dir` reported the declared metric (or none was declared), else
    what it reported instead, closest first (the report's did-you-mean)."""
    metric = settings.metric
    if metric is None:
        return None
    wanted = None if TASK_FIELD in metric else metric
    metrics = collect_run_metrics(job_dir, return_value, wanted, experiment.metric_reader)
    if reports_metric(metrics, metric, task):
        return None
    expected = metric_for(metric, task) if task is not None and TASK_FIELD in metric else metric
    problem = metric_not_found(expected, {job_dir.name: metrics}, subject=f"{job_dir.name} completed without reporting")
    strays = strays_of_run(job_dir)
    return f"{problem} {stray_note(strays)} {log_dir_fix(job_dir.parent)}" if strays.files else problem


def strays_of_run(job_dir: Path) -> StrayLogs:
    """The log files written outside the job directories while this run ran (other runs may be running: every
    directory of the experiment with a job record is left out)."""
    status = read_status(job_dir) or {}
    started, finished = status.get("started_at"), status.get("finished_at")
    if started is None or finished is None:
        return StrayLogs(job_dir.parent, [], False)
    job_dirs = [path for path in job_dir.parent.iterdir() if (path / STATUS_FILE).is_file()]
    return strays_since_launch(job_dir.parent, job_dirs, started, finished)
