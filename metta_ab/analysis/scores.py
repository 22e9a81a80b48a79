"""One number per run from what its sources reported: the summary of its learning curve the experiment
declared (final value, last-k mean, normalized AUC, time to a threshold), else its reported value."""

from __future__ import annotations

import math

import numpy as np

from metta_ab import stats
from metta_ab.definition.experiment import AnalysisSettings
from metta_ab.sources import RunMetrics


def score_run(metrics: RunMetrics, settings: AnalysisSettings) -> float:
    """One number per run: a summary of its learning curve when there is one, else its reported value.
    For curve_summary "threshold" see `threshold_time` (this gives its time, NaN when never reached)."""
    metric = settings.metric
    assert metric is not None
    if settings.curve_summary == "threshold":
        time, censored = threshold_time(metrics, settings)
        return math.nan if censored else time
    curve = metrics.curves.get(metric)
    if curve is None or settings.curve_summary == "returned":
        if settings.curve_summary == "auc":
            return math.nan
        return metrics.final.get(metric, math.nan)
    if settings.curve_summary == "auc":
        return float(stats.normalized_auc(curve.steps, curve.values))
    if settings.last_k is not None:
        return float(stats.final_score(curve.values, last_k=settings.last_k))
    return float(stats.final_score(curve.values))


def threshold_time(metrics: RunMetrics, settings: AnalysisSettings) -> tuple[float, bool]:
    """(first step at which the curve is at or past the threshold, False); for a run that never got there,
    (its last logged step, True): a censored time, it needed at least that long. (NaN, False) without a
    curve. "At or past" follows the metric's direction (>= for max, <= for min)."""
    assert settings.metric is not None and settings.threshold is not None
    curve = metrics.curves.get(settings.metric)
    if curve is None or not len(curve.steps):
        return math.nan, False
    time = float(stats.time_to_threshold(curve.steps, curve.values, settings.threshold, settings.direction))
    if math.isnan(time):
        return float(np.nanmax(curve.steps)), True
    return time, False
