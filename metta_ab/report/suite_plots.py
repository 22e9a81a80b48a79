"""A suite's panels and figures, drawn as rliable draws them [Agarwal21]: performance profiles with bootstrap CI
bands, the aggregate interval estimates per variant, and every task's raw scores."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from metta_ab.analysis.suite import SuiteResults
from metta_ab.report.palette import GUIDE, NEUTRAL
from metta_ab.report.panels import Colors

PROFILES, AGGREGATES, TASK_SCORES = "performance_profiles", "aggregates", "task_scores"


def aggregate_panels(suite: SuiteResults) -> list[tuple[str, str]]:
    """(title, field) of each aggregate drawn: IQM, mean, median, and the optimality gap when a target is set."""
    panels = [("IQM", "iqm"), ("Mean", "mean"), ("Median", "median")]
    return [*panels, ("Optimality gap", "optimality_gap")] if suite.aggregate.target is not None else panels


def draw_profiles(ax: Any, suite: SuiteResults, colors: Colors) -> None:
    agg = suite.aggregate
    for variant, profile in agg.profiles.items():
        color = colors[variant]
        ax.plot(profile.taus, profile.fraction, color=color, label=variant)
        ax.fill_between(profile.taus, profile.ci_low, profile.ci_high, color=color, alpha=0.2, linewidth=0)
    ax.set_xlabel(r"normalized score $\tau$")
    ax.set_ylabel(r"fraction of runs with score $> \tau$")
    level = round(agg.ci_level * 100)
    ax.set_title(f"Performance profiles, {len(suite.tasks)} tasks ({level}% bootstrap bands)", fontsize=10)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def draw_aggregate(ax: Any, suite: SuiteResults, title: str, key: str, colors: Colors, names: bool) -> None:
    """One aggregate per variant: its CI as a bar, the estimate as a black tick. The axis spans every CI, the
    control's included (a CI of zero width, as the control's own normalization can give, is drawn as a tick)."""
    agg = suite.aggregate
    variants = list(agg.variants)
    spans: list[float] = []
    for y, variant in enumerate(variants):
        a = agg.variants[variant]
        value, (low, high) = getattr(a, key), getattr(a, f"{key}_ci")
        if not all(math.isfinite(v) for v in (value, low, high)):
            continue
        ax.barh(y, high - low, left=low, height=0.6, color=colors[variant], alpha=0.75)
        if high - low <= 1e-9 * max(1.0, abs(high)):  # a CI of zero width: a tick, not an invisible bar
            ax.plot([low, low], [y - 0.3, y + 0.3], color=colors[variant], linewidth=4, alpha=0.75)
        ax.plot([value, value], [y - 0.3, y + 0.3], color=NEUTRAL, linewidth=1.5)
        spans += [low, high, value]
    if spans:
        pad = 0.08 * (max(spans) - min(spans)) or 0.05 * max(1.0, abs(max(spans)))
        ax.set_xlim(min(spans) - pad, max(spans) + pad)
    ax.set_yticks(range(len(variants)), variants if names else [""] * len(variants))
    ax.set_ylim(-0.6, len(variants) - 0.4)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel("normalized score")


def aggregates_figure(plt: Any, suite: SuiteResults, name: str, colors: Colors) -> Any:
    agg = suite.aggregate
    panels = aggregate_panels(suite)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.2 * len(panels), 1.6 + 0.45 * len(agg.variants)), layout="constrained"
    )
    for i, (ax, (title, key)) in enumerate(zip(np.atleast_1d(axes), panels, strict=True)):
        draw_aggregate(ax, suite, title, key, colors, names=i == 0)
    level = round(agg.ci_level * 100)
    fig.suptitle(f"{name}: aggregates over tasks x runs ({level}% stratified bootstrap CIs; black: the estimate)")
    return fig


def profiles_figure(plt: Any, suite: SuiteResults, name: str, colors: Colors) -> Any:
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    draw_profiles(ax, suite, colors)
    fig.suptitle(name)
    return fig


def task_scores_figure(plt: Any, suite: SuiteResults, metric: str, colors: Colors) -> Any:
    tasks = suite.tasks
    cols = min(4, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False, layout="constrained")
    rng = np.random.default_rng(0)
    for ax, task in zip(axes.flat, tasks, strict=False):
        by_variant = suite.scores[task]
        names = list(by_variant)
        data = [v[np.isfinite(v)] for v in by_variant.values()]
        ax.boxplot(
            [d if len(d) else [np.nan] for d in data], showfliers=False, widths=0.5,
            medianprops={"color": NEUTRAL}, boxprops={"color": GUIDE}, whiskerprops={"color": GUIDE},
            capprops={"color": GUIDE},
        )  # fmt: skip
        for i, (variant, values) in enumerate(zip(names, data, strict=True), start=1):
            ax.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=14, color=colors[variant], zorder=3)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30 if len(names) > 2 else 0, fontsize=8)
        verdicts = ", ".join(f"{c.treatment} {c.verdict}" for c in suite.per_task[task].comparisons)
        ax.set_title(f"{task}\n{verdicts}", fontsize=9)
        ax.set_ylabel("raw score", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    fig.suptitle(f"{metric}: every run's raw score per task (black: median)")
    return fig


def suite_figures(plt: Any, suite: SuiteResults, name: str, metric: str, colors: Colors) -> dict[str, Any]:
    """The suite's standalone figures by file stem (`plt`: matplotlib's pyplot, Agg)."""
    return {
        PROFILES: profiles_figure(plt, suite, name, colors),
        AGGREGATES: aggregates_figure(plt, suite, name, colors),
        TASK_SCORES: task_scores_figure(plt, suite, metric, colors),
    }
