"""From recorded runs to a suite's verdict: a score per (variant, task, run), the single-task analysis of every
task (one Holm family over tasks x treatments), and the aggregate over tasks (`metta_ab.stats.suite`).

Tasks come from `.add_task(...)` (each run trains on one; its metric is the template with its task filled
in, or the plain metric) or, without tasks, from a metric template: every logged name matching
`eval/{task}/reward` is a task, in every run.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from metta_ab import stats
from metta_ab.analysis.scores import score_run
from metta_ab.analysis.stats_settings import stats_settings
from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import TASK_FIELD, ABExperiment, AnalysisSettings
from metta_ab.records.ledger import COMPLETED, RunRecord
from metta_ab.sources import RunMetrics
from metta_ab.stats.family import holm_across
from metta_ab.stats.suite import SuiteAnalysis, analyze_suite


def template_pattern(template: str) -> re.Pattern[str]:
    """`eval/{task}/reward` -> a regex whose group `task` is the task's name."""
    before, _, after = template.partition(TASK_FIELD)
    return re.compile(re.escape(before) + r"(?P<task>.+?)" + re.escape(after) + r"\Z")


def metric_for(template: str, task: str) -> str:
    return template.replace(TASK_FIELD, task)


def discover_tasks(template: str, metrics: Mapping[str, RunMetrics]) -> list[str]:
    """Every task the template matches in any run's numbers, in the order first seen."""
    pattern = template_pattern(template)
    tasks: dict[str, None] = {}
    for found in metrics.values():
        for name in found.names:
            match = pattern.match(name)
            if match:
                tasks.setdefault(match["task"])
    return list(tasks)


@dataclass
class SuiteResults:
    """A suite's analysis: per task the single-task analysis, and the aggregate over tasks."""

    tasks: list[str]
    source: str  # where the tasks came from, for the report
    scores: dict[str, dict[str, np.ndarray]]  # task -> variant -> per-run scores (NaN: missing)
    per_task: dict[str, stats.Analysis]
    aggregate: SuiteAnalysis
    missing: dict[str, list[str]]  # task -> job dirs of completed runs that reported no score for it

    def to_dict(self) -> dict[str, Any]:
        aggregate = self.aggregate.to_dict()
        return {
            "tasks_source": self.source,
            "tasks": {
                task: {
                    **self.per_task[task].to_dict(),
                    "values": {
                        v: [float(x) if np.isfinite(x) else None for x in s] for v, s in self.scores[task].items()
                    },
                }
                for task in self.tasks
            },
            "aggregate": {
                **aggregate["aggregate"],
                "settings": aggregate["settings"],
                "normalization": aggregate["normalization"],
                "profiles": aggregate["profiles"],
                "missing": aggregate["missing"],
                "warnings": aggregate["warnings"],
            },
            "missing_task_scores": self.missing,
        }


def suite_scores(
    experiment: ABExperiment,
    records: Sequence[RunRecord],
    metrics: Mapping[str, RunMetrics],
    settings: AnalysisSettings,
    planned: Mapping[str, int],
) -> tuple[list[str], str, dict[str, dict[str, np.ndarray]], dict[str, list[str]]]:
    """The tasks, where they came from, the scores task -> variant -> runs (`planned[variant]` runs: a sequential
    suite's the looks reached), and the completed runs missing a task."""
    metric = settings.metric
    assert metric is not None
    if experiment.tasks:
        tasks = [t.name for t in experiment.tasks]
        source = "tasks trained separately (.add_task)"
    else:
        tasks = discover_tasks(metric, metrics)
        source = f"the logged names matching {metric!r}"
    scores = {task: {v.name: np.full(planned[v.name], np.nan) for v in experiment.variants} for task in tasks}
    missing: dict[str, list[str]] = {}
    for record in records:
        found = metrics.get(record.job_dir)
        if record.status != COMPLETED or found is None or not 1 <= record.run_index <= planned.get(record.variant, 0):
            continue
        for task in [record.task] if experiment.tasks else tasks:
            if task not in scores:
                continue
            name = metric_for(metric, task) if TASK_FIELD in metric else metric
            if not found.has(name):
                missing.setdefault(task, []).append(record.job_dir)
                continue
            scores[task][record.variant][record.run_index - 1] = score_run(
                found, settings.over(AnalysisSettings(metric=name))
            )
    return tasks, source, scores, missing


def analyze_suite_scores(
    tasks: list[str],
    source: str,
    scores: dict[str, dict[str, np.ndarray]],
    missing: dict[str, list[str]],
    settings: AnalysisSettings,
    control: str,
    paired: bool,
) -> SuiteResults:
    """Per task the single-task analysis (Holm over tasks x treatments), and the aggregate over tasks."""
    statistics = stats_settings(settings, paired=paired)
    analyses = holm_across([stats.analyze(scores[task], statistics, control=control) for task in tasks])
    per_task = dict(zip(tasks, analyses, strict=True))
    by_variant = {v: {task: scores[task][v] for task in tasks} for v in next(iter(scores.values()))}
    normalize = {k: tuple(v) for k, v in settings.normalize.items()} if settings.normalize else None
    try:
        aggregate = analyze_suite(by_variant, statistics, control=control, normalize=normalize, target=settings.target)
    except ValueError as error:
        raise ExperimentError(f"the suite cannot be aggregated: {error}") from None
    return SuiteResults(tasks, source, scores, per_task, aggregate, missing)


def aggregate_analysis(suite: SuiteResults) -> stats.Analysis:
    """The aggregate verdict in the single-metric shape the report and plots know: per variant the runs'
    mean normalized scores, per treatment the comparison of those run means."""
    agg = suite.aggregate
    variants = {v: stats.describe(np.asarray(means, float), agg.settings) for v, means in agg.run_means.items()}
    return stats.Analysis(
        control=agg.control,
        settings=agg.settings.on_normalized_scale(),
        variants=variants,
        # in normalized units, a percentage of the control's normalized mean tells a reader nothing: none is printed
        comparisons=tuple(dataclasses.replace(c.run_comparison, difference_pct=math.nan) for c in agg.comparisons),
        warnings=tuple(agg.warnings),
    )


def with_verdicts(suite: SuiteResults, analysis: stats.Analysis) -> SuiteResults:
    """The suite with the aggregate comparisons' verdicts (and notes) of `analysis`: a sequential suite's are
    its looks', so that summary.json's `aggregate` says what the verdict says."""
    decided = {c.treatment: c for c in analysis.comparisons}
    comparisons = tuple(
        dataclasses.replace(
            c,
            run_comparison=dataclasses.replace(
                c.run_comparison, verdict=decided[c.treatment].verdict, warnings=decided[c.treatment].warnings
            ),
        )
        for c in suite.aggregate.comparisons
    )
    return dataclasses.replace(suite, aggregate=dataclasses.replace(suite.aggregate, comparisons=comparisons))


def no_tasks_message(metric: str, experiment_dir: Path, names: Sequence[str]) -> str:
    shown = ", ".join(names[:12]) or "none"
    return (
        f"No logged name in {experiment_dir} matches the metric template {metric!r} (names seen: {shown}); "
        "write the template so that {task} stands for the part that names the task"
    )
