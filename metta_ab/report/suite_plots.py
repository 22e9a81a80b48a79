"""A suite's plots, drawn as rliable draws them [Agarwal21]: performance profiles with bootstrap CI bands,
the aggregate interval estimates per variant, and every task's raw scores."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from metta_ab.analysis.suite import SuiteResults

PROFILES_PNG, AGGREGATES_PNG, TASK_SCORES_PNG = "performance_profiles.png", "aggregates.png", "task_scores.png"


def _performance_profiles(plt, suite: SuiteResults, name: str, path: Path) -> None:
    agg = suite.aggregate
    fig, ax = plt.subplots(figsize=(8, 5))
    for variant, profile in agg.profiles.items():
        (line,) = ax.plot(profile.taus, profile.fraction, label=variant)
        ax.fill_between(profile.taus, profile.ci_low, profile.ci_high, color=line.get_color(), alpha=0.2)
    ax.set_xlabel(r"normalized score $\tau$")
    ax.set_ylabel(r"fraction of runs with score $> \tau$")
    level = round(agg.ci_level * 100)
    ax.set_title(f"{name}: performance profiles over {len(suite.tasks)} tasks ({level}% stratified bootstrap bands)")
    ax.set_ylim(0, 1.02)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _aggregates(plt, suite: SuiteResults, name: str, path: Path) -> None:
    agg = suite.aggregate
    panels = [("IQM", "iqm"), ("Mean", "mean"), ("Median", "median")]
    if agg.target is not None:
        panels.append(("Optimality gap", "optimality_gap"))
    variants = list(agg.variants)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 1.2 + 0.45 * len(variants)), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (title, key) in zip(np.atleast_1d(axes), panels, strict=True):
        for y, variant in enumerate(variants):
            a = agg.variants[variant]
            value, (low, high) = getattr(a, key), getattr(a, f"{key}_ci")
            if not all(math.isfinite(v) for v in (value, low, high)):
                continue
            color = colors[y % len(colors)]
            ax.barh(y, high - low, left=low, height=0.6, color=color, alpha=0.75)
            ax.plot([value, value], [y - 0.3, y + 0.3], color="black", linewidth=1.5)
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("normalized score")
    first = np.atleast_1d(axes)[0]
    first.set_yticks(range(len(variants)), variants)
    fig.suptitle(f"{name}: aggregates over tasks x runs ({round(agg.ci_level * 100)}% stratified bootstrap CIs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _task_scores(plt, suite: SuiteResults, metric: str, path: Path) -> None:
    tasks = suite.tasks
    cols = min(4, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, task in zip(axes.flat, tasks, strict=False):
        by_variant = suite.scores[task]
        names = list(by_variant)
        data = [v[np.isfinite(v)] for v in by_variant.values()]
        ax.boxplot([d if len(d) else [np.nan] for d in data], showfliers=False, widths=0.5)
        for i, values in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=14, alpha=0.8, zorder=3)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30 if len(names) > 2 else 0, fontsize=8)
        verdicts = ", ".join(f"{c.treatment} {c.verdict}" for c in suite.per_task[task].comparisons)
        ax.set_title(f"{task}\n{verdicts}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    fig.suptitle(f"{metric}: every run's raw score per task")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_suite_plots(plt, suite: SuiteResults, name: str, metric: str, out: Path) -> list[Path]:
    """`plt` is matplotlib's pyplot (Agg); the plots go into `out`."""
    _performance_profiles(plt, suite, name, out / PROFILES_PNG)
    _aggregates(plt, suite, name, out / AGGREGATES_PNG)
    _task_scores(plt, suite, metric, out / TASK_SCORES_PNG)
    return [out / PROFILES_PNG, out / AGGREGATES_PNG, out / TASK_SCORES_PNG]
