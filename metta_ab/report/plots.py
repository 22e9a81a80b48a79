"""PNG plots readable at a glance: learning curves with CI bands, every seed's score, differences with CIs.

matplotlib is imported here only, with the non-interactive Agg backend, so nothing else pays for it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from metta_ab.analysis.results import ExperimentResults

CURVES_PNG, SCORES_PNG, DIFFERENCES_PNG = "learning_curves.png", "scores.png", "differences.png"
TIME_TO_THRESHOLD_PNG = "time_to_threshold.png"
CURVE_POINTS = 200
BAND_RESAMPLES = 1000


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curve_band(
    curves: list[tuple[np.ndarray, np.ndarray]], ci_level: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean across runs on a common step grid, with a percentile bootstrap band over runs [Agarwal21]."""
    start = max(s[0] for s, _ in curves)
    stop = min(s[-1] for s, _ in curves)
    if stop <= start:
        stop = max(s[-1] for s, _ in curves)
    grid = np.linspace(start, stop, CURVE_POINTS)
    matrix = np.vstack([np.interp(grid, s, v) for s, v in curves])  # runs x points
    mean = matrix.mean(axis=0)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(curves), size=(BAND_RESAMPLES, len(curves)))
    weights = np.zeros((BAND_RESAMPLES, len(curves)))
    np.add.at(weights, (np.arange(BAND_RESAMPLES)[:, None], picks), 1.0 / len(curves))
    means = weights @ matrix  # resamples x points, one matrix product instead of a Python loop
    tail = (1 - ci_level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail], axis=0)
    return grid, mean, low, high


def _learning_curves(results: ExperimentResults, path: Path) -> bool:
    metric = results.settings.metric
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    drawn = False
    for variant in results.experiment.variants:
        curves = []
        for record in results.records:
            found = results.metrics.get(record.job_dir)
            curve = found.curves.get(metric) if found and metric else None
            if record.variant == variant.name and curve is not None and len(curve.steps) > 1:
                order = np.argsort(curve.steps, kind="stable")
                curves.append((curve.steps[order], curve.values[order]))
        if not curves:
            continue
        grid, mean, low, high = curve_band(curves, results.settings.ci_level, results.settings.seed)
        (line,) = ax.plot(grid, mean, label=f"{variant.name} (n={len(curves)})")
        ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2)
        drawn = True
    if drawn:
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        ax.set_title(
            f"{results.experiment.name}: {metric}, mean across seeds, {round(results.settings.ci_level * 100)}% CI"
        )
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


def _scores(results: ExperimentResults, path: Path) -> None:
    plt = _pyplot()
    names = [v.name for v in results.experiment.variants]
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(names) + 2), 5))
    data = [results.scores[name][np.isfinite(results.scores[name])] for name in names]
    ax.boxplot([d if len(d) else [np.nan] for d in data], showfliers=False, widths=0.5)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20 if len(names) > 4 else 0)
    rng = np.random.default_rng(0)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=22, alpha=0.8, zorder=3)
    per_run = "mean normalized score across tasks" if results.suite is not None else results.settings.metric
    ax.set_ylabel(f"{per_run} per run")
    ax.set_title(f"{results.experiment.name}: every seed's score")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _differences(results: ExperimentResults, path: Path) -> None:
    analysis = results.analysis
    assert analysis is not None
    plt = _pyplot()
    comparisons = list(analysis.comparisons)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.6 * len(comparisons)))
    for y, c in enumerate(comparisons):
        low, high = c.difference_ci
        color = {"better": "tab:green", "worse": "tab:red"}.get(c.verdict, "tab:gray")
        if not np.isfinite([low, high]).all():  # no CI (the t-test is undefined): the point alone
            low = high = c.difference
        ax.errorbar(
            c.difference, y, xerr=[[c.difference - low], [high - c.difference]], fmt="o", color=color, capsize=4
        )
        ax.annotate(c.verdict, (high, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    if analysis.min_effect:
        for x in (-analysis.min_effect, analysis.min_effect):
            ax.axvline(x, color="gray", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(len(comparisons)), [c.treatment for c in comparisons])
    ax.set_ylim(-0.7, len(comparisons) - 0.3)
    measured = "the mean normalized score" if results.suite is not None else results.settings.metric
    family = max(c.family_size for c in comparisons)
    adjusted = f", adjusted for {family} comparisons (Holm)" if family >= 2 else ""
    ax.set_xlabel(f"difference in {measured} vs {analysis.control} ({round(analysis.ci_level * 100)}% CI{adjusted})")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _time_to_threshold(results: ExperimentResults, path: Path) -> bool:
    """Kaplan-Meier curves: the fraction of each variant's runs that had reached the threshold by each step
    (runs that never did are censored at their last step, marked +), the median as a dotted line."""
    analysis = results.analysis
    assert analysis is not None
    summaries = {name: v.time_to_threshold for name, v in analysis.variants.items() if v.time_to_threshold}
    if not summaries:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, summary in summaries.items():
        steps = [0.0, *summary["km_steps"]]
        reached = [0.0, *summary["km_fraction_reached"]]
        label = f"{name} ({summary['reached']} reached, {summary['censored']} censored"
        label += f"; median {summary['median']:.4g})" if summary["median"] is not None else "; median not reached)"
        (line,) = ax.step(steps, reached, where="post", label=label)
        censored_at = [v for v, c in zip(results.scores[name], results.censored.get(name, ()), strict=False) if c]
        if censored_at:
            heights = [reached[max(i for i, s in enumerate(steps) if s <= x)] for x in censored_at]
            ax.plot(censored_at, heights, "+", color=line.get_color(), markersize=10)
        if summary["median"] is not None:
            ax.axvline(summary["median"], color=line.get_color(), linestyle=":", linewidth=1)
    ax.axhline(0.5, color="gray", linewidth=0.6)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel(f"fraction of runs with {results.settings.metric} at the threshold")
    ax.set_title(
        f"{results.experiment.name}: time to {results.settings.metric} {results.settings.threshold:g} "
        "(Kaplan-Meier; fewer steps is better)"
    )
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_plots(results: ExperimentResults, out: Path) -> list[Path]:
    """The figures, into `out`: the experiment directory, or a re-analysis's own directory."""
    written = []
    # a suite's runs learn different tasks on different scales: one curve per variant would mix them
    if results.suite is None and _learning_curves(results, out / CURVES_PNG):
        written.append(out / CURVES_PNG)
    _scores(results, out / SCORES_PNG)
    written.append(out / SCORES_PNG)
    analysis = results.analysis
    if analysis is not None and _time_to_threshold(results, out / TIME_TO_THRESHOLD_PNG):
        written.append(out / TIME_TO_THRESHOLD_PNG)
    elif analysis is not None and analysis.comparisons:  # times have no CI of a difference: the KM plot instead
        _differences(results, out / DIFFERENCES_PNG)
        written.append(out / DIFFERENCES_PNG)
    if results.suite is not None:
        from metta_ab.report.suite_plots import write_suite_plots

        written += write_suite_plots(_pyplot(), results.suite, results.experiment.name, results.metric or "", out)
    return written
