"""The figures of a report, by file stem: verdict (the one to share), and the standalone figures users already
have (learning curves, every run's score, differences or time to threshold, a suite's profiles, aggregates and
task scores), all composed from the same panels (panels.py, suite_plots.py) in the same colours (palette.py)."""

from __future__ import annotations

from typing import Any

from metta_ab.analysis.results import ExperimentResults
from metta_ab.report.figure_files import pyplot
from metta_ab.report.palette import variant_colors
from metta_ab.report.panels import (
    Colors,
    draw_differences,
    draw_learning_curves,
    draw_scores,
    draw_time_to_threshold,
)
from metta_ab.report.suite_plots import suite_figures
from metta_ab.report.verdict_figure import VERDICT, verdict_figure

CURVES, SCORES, DIFFERENCES, TIME_TO_THRESHOLD = "learning_curves", "scores", "differences", "time_to_threshold"


def _single(plt: Any, draw: Any, results: ExperimentResults, colors: Colors, size: tuple[float, float]) -> Any:
    """A figure of one panel titled with the experiment's name; None when the panel had nothing to draw."""
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    if draw(ax, results, colors) is False:
        plt.close(fig)
        return None
    fig.suptitle(results.experiment.name)
    return fig


def draw_figures(results: ExperimentResults) -> dict[str, Any]:
    """Every figure of the report, verdict first (matplotlib figures: the caller saves and closes them)."""
    assert results.analysis is not None
    plt = pyplot()
    colors = variant_colors([v.name for v in results.experiment.variants])
    figures = {VERDICT: verdict_figure(plt, results, colors)}
    if results.suite is None:  # a suite's runs learn tasks on different scales: one curve would mix them
        figures[CURVES] = _single(plt, draw_learning_curves, results, colors, (8, 5))
    names = len(results.experiment.variants)
    figures[SCORES] = _single(plt, draw_scores, results, colors, (max(5, 1.3 * names + 2), 5))
    if any(v.time_to_threshold for v in results.analysis.variants.values()):
        figures[TIME_TO_THRESHOLD] = _single(plt, draw_time_to_threshold, results, colors, (8, 5))
    elif results.analysis.comparisons:  # times have no CI of a difference: the Kaplan-Meier plot instead
        rows = len(results.analysis.comparisons)
        figures[DIFFERENCES] = _single(plt, draw_differences, results, colors, (8, 1.8 + 0.6 * rows))
    if results.suite is not None:
        figures |= suite_figures(plt, results.suite, results.experiment.name, results.metric or "", colors)
    return {stem: figure for stem, figure in figures.items() if figure is not None}
