"""verdict.png: the one figure to put on a slide or in a thread. Its panels are the report's own (learning curves
with the scoring window, every run's score with paired seeds linked, the difference with its CI against 0 and
±min_effect; a sequential design's looks; a suite's aggregates and performance profiles side by side), and its
caption is the verdict sentences of summary.txt, word for word."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from metta_ab.analysis.results import ExperimentResults
from metta_ab.report.panels import (
    Colors,
    draw_differences,
    draw_learning_curves,
    draw_looks,
    draw_scores,
    draw_time_to_threshold,
)
from metta_ab.report.suite_plots import aggregate_panels, draw_aggregate, draw_profiles
from metta_ab.report.summary import verdict_sentences

VERDICT = "verdict"
PANEL_WIDTH, PANEL_HEIGHT = 5.0, 4.0  # inches
CAPTION_SIZE = 10  # points
Panel = Callable[[Any], Any]  # draws into the axes (or subfigure) it is given; False: nothing to draw


def _panels(results: ExperimentResults, colors: Colors) -> list[tuple[str, Panel]]:
    """(kind, draw) of each panel in reading order; kind "axes" takes an axes, "figure" a subfigure."""
    panels: list[tuple[str, Panel]] = []
    suite = results.suite
    if suite is not None:

        def aggregates(subfigure: Any) -> None:
            chosen = aggregate_panels(suite)
            axes = subfigure.subplots(1, len(chosen))
            for i, (ax, (title, key)) in enumerate(zip(axes, chosen, strict=True)):
                draw_aggregate(ax, suite, title, key, colors, names=i == 0)
            level = round(suite.aggregate.ci_level * 100)
            subfigure.suptitle(f"Aggregates over tasks x runs ({level}% CIs; black: the estimate)", fontsize=10)

        panels += [("figure", aggregates), ("axes", lambda ax: draw_profiles(ax, suite, colors))]
    elif any(results.metric in found.curves for found in results.metrics.values()):
        panels.append(("axes", lambda ax: draw_learning_curves(ax, results, colors)))
    panels.append(("axes", lambda ax: draw_scores(ax, results, colors)))
    assert results.analysis is not None
    if any(v.time_to_threshold for v in results.analysis.variants.values()):
        panels.append(("axes", lambda ax: draw_time_to_threshold(ax, results, colors)))
    elif results.analysis.comparisons:
        panels.append(("axes", lambda ax: draw_differences(ax, results, colors)))
    if results.sequential is not None and results.sequential.history:
        panels.append(("axes", lambda ax: draw_looks(ax, results, colors)))
    return panels


def _title(results: ExperimentResults) -> str:
    analysis = results.analysis
    assert analysis is not None
    measured = f"{results.settings.metric} over {len(results.suite.tasks)} tasks" if results.suite else results.metric
    seeds = "paired seeds" if analysis.paired else "independent seeds"
    title = f"{results.experiment.name}: {measured}, control {analysis.control}, {seeds}"
    if results.reanalysis is not None and results.reanalysis.exploratory:
        title += " (exploratory re-analysis)"
    return title


def _caption(results: ExperimentResults, width_inches: float) -> list[str]:
    """The verdict sentences, each wrapped to the figure's width."""
    characters = int(width_inches * 72 / (CAPTION_SIZE * 0.55))
    lines: list[str] = []
    for sentence in verdict_sentences(results):
        lines += [*textwrap.wrap(sentence, characters, break_on_hyphens=False), ""]
    return lines[:-1]


def verdict_figure(plt: Any, results: ExperimentResults, colors: Colors) -> Any:
    """The verdict figure: panels in a row (two rows of two when there are four), the caption below them."""
    panels = _panels(results, colors)
    wide = [1.6 if kind == "figure" else 1.0 for kind, _ in panels]
    columns = len(panels) if len(panels) <= 3 else 2
    rows = -(-len(panels) // columns)
    width = PANEL_WIDTH * (sum(wide) if rows == 1 else max(wide[i] + wide[i + 1] for i in range(0, len(panels) - 1, 2)))
    caption = _caption(results, width)
    caption_height = 0.15 + 0.17 * len(caption)
    fig = plt.figure(figsize=(width, PANEL_HEIGHT * rows + caption_height + 0.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[PANEL_HEIGHT * rows, caption_height])
    cells = top.subfigures(rows, columns, squeeze=False, width_ratios=wide[:columns] if rows == 1 else None)
    for (kind, draw), cell in zip(panels, cells.flat, strict=False):
        if kind == "figure":
            draw(cell)
        elif draw(cell.subplots()) is False:
            cell.clear()
    for cell in list(cells.flat)[len(panels) :]:
        cell.clear()
    top.suptitle(_title(results), fontsize=12, fontweight="bold")
    bottom.text(0.01, 0.98, "\n".join(caption), ha="left", va="top", fontsize=CAPTION_SIZE, wrap=False)
    return fig
