"""The secondary metrics declared with `.add_metric`: each scored and compared as the primary metric is, over
the same runs, and all their comparisons adjusted as one Holm family of their own. They are reported beside
the verdict and never change it: the primary metric's family is untouched."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metta_ab import stats
from metta_ab.analysis.no_number import metric_not_found
from metta_ab.analysis.scores import score_run
from metta_ab.analysis.stats_settings import stats_settings
from metta_ab.definition.experiment import ABExperiment, AnalysisSettings, SecondaryMetric
from metta_ab.records.ledger import COMPLETED, RunRecord
from metta_ab.sources import RunMetrics
from metta_ab.stats.family import holm_across

SECONDARY_METRIC_FIX = (
    "Fix the name in .add_metric({name!r}, ...) and run the same command again: completed runs are analyzed, not "
    "run again."
)


@dataclass(frozen=True)
class SecondaryResult:
    """One secondary metric: its settings as analyzed, the scores, and the comparisons with the control (None
    with `missing`: why it could not be compared)."""

    metric: SecondaryMetric
    settings: AnalysisSettings
    scores: Mapping[str, np.ndarray]
    analysis: stats.Analysis | None
    missing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        analysis = self.analysis.to_dict() if self.analysis is not None else None
        return {
            "metric": self.metric.name,
            "direction": self.metric.direction,
            "curve_summary": self.settings.curve_summary,
            "missing": self.missing,
            "variants": analysis["variants"] if analysis else {},
            "comparisons": analysis["comparisons"] if analysis else [],
        }


def analyze_secondary(
    experiment: ABExperiment,
    records: Sequence[RunRecord],
    metrics: Mapping[str, RunMetrics],
    primary: AnalysisSettings,
    planned: Mapping[str, int],
    paired: bool,
) -> tuple[SecondaryResult, ...]:
    """Every secondary metric over the runs the primary analysis used (`planned` runs per variant), with the
    primary's control; then one Holm family over all their comparisons."""
    control = primary.control or experiment.variants[0].name
    results = []
    for metric in experiment.secondary_metrics:
        settings = metric.settings(primary).resolved()
        scores = {v.name: np.full(planned[v.name], np.nan) for v in experiment.variants}
        for record in records:
            found = metrics.get(record.job_dir)
            used = record.status == COMPLETED and record.run_index <= planned.get(record.variant, 0)
            if used and found is not None and found.has(metric.name):
                scores[record.variant][record.run_index - 1] = score_run(found, settings)
        if not any(np.isfinite(s).any() for s in scores.values()):
            missing = metric_not_found(metric.name, dict(metrics), fix=SECONDARY_METRIC_FIX)
            results.append(SecondaryResult(metric, settings, scores, None, missing))
            continue
        analysis = stats.analyze(scores, stats_settings(settings, paired=paired), control=control)
        results.append(SecondaryResult(metric, settings, scores, analysis))
    return _one_family(results)


def _one_family(results: list[SecondaryResult]) -> tuple[SecondaryResult, ...]:
    """Holm over every secondary comparison together (each metric's own analysis adjusted only within it)."""
    adjusted = iter(holm_across([r.analysis for r in results if r.analysis is not None]))
    return tuple(r if r.analysis is None else dataclasses.replace(r, analysis=next(adjusted)) for r in results)
