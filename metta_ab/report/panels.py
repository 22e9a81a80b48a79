"""The panels every figure is made of, each drawn into a matplotlib axes it is given: learning curves with the
scoring window, every run's score (paired seeds linked), the differences with their CIs, time to threshold,
and a sequential design's looks. The standalone figures (plots.py) and verdict.png (verdict_figure.py) compose
the same panels, so that a variant has the same colour and a number the same look in both.

Nothing here computes a statistic: the numbers are the analysis' (and the looks' decisions, looks.json's).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metta_ab import stats
from metta_ab.analysis.results import ExperimentResults
from metta_ab.report.palette import GUIDE, NEUTRAL
from metta_ab.stats.sequential import crossing

CURVE_POINTS = 200
BAND_RESAMPLES = 1000
Colors = dict[str, str]


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


def _variant_curves(results: ExperimentResults, variant: str) -> list[Any]:
    """The variant's runs' curves of the metric (at least two points each), as their sources gave them."""
    metric = results.settings.metric
    curves = []
    for record in results.records:
        found = results.metrics.get(record.job_dir)
        curve = found.curves.get(metric) if found and metric else None
        if record.variant == variant and curve is not None and len(curve.steps) > 1:
            curves.append(curve)
    return curves


def _scoring_window(results: ExperimentResults, curves: list[Any]) -> tuple[float, float] | None:
    """The steps the score summarizes (the first to the last scored step over all runs), for a "final" score the
    points `stats.final_points` picks, for "auc" the whole curve; None where the score is no window."""
    s = results.settings
    if s.curve_summary not in ("final", "auc") or not curves:
        return None
    starts, ends = [], []
    for curve in curves:
        steps, values = np.asarray(curve.steps, float), np.asarray(curve.values, float)
        used = stats.final_points(values, last_k=s.last_k) if s.curve_summary == "final" else np.isfinite(values)
        if used.any():
            starts.append(steps[used].min())
            ends.append(steps[used].max())
    return (min(starts), max(ends)) if starts else None


def _window_label(results: ExperimentResults) -> str:
    s = results.settings
    if s.curve_summary == "auc":
        return "scored: area under the whole curve"
    return f"scored: mean of the last {s.last_k if s.last_k else '10% of'} evaluations"


def draw_learning_curves(ax: Any, results: ExperimentResults, colors: Colors) -> bool:
    """Mean curve per variant with its bootstrap band, the scoring window shaded (a threshold: its line).
    False (nothing drawn) when no run logged a curve of the metric."""
    s = results.settings
    every_curve = []
    for variant in results.experiment.variants:
        curves = _variant_curves(results, variant.name)
        if not curves:
            continue
        every_curve += curves
        pairs = []
        for curve in curves:
            order = np.argsort(curve.steps, kind="stable")
            pairs.append((np.asarray(curve.steps)[order], np.asarray(curve.values)[order]))
        grid, mean, low, high = curve_band(pairs, s.ci_level, s.seed)
        color = colors[variant.name]
        ax.plot(grid, mean, color=color, label=f"{variant.name} (mean of {len(curves)} runs)")
        ax.fill_between(grid, low, high, color=color, alpha=0.2, linewidth=0)
    if not every_curve:
        return False
    window = _scoring_window(results, every_curve)
    if window is not None and window[0] < window[1]:
        ax.axvspan(*window, color=GUIDE, alpha=0.15, linewidth=0, label=_window_label(results))
    elif window is not None:  # one evaluation scored: a band of no width would not show
        ax.axvline(window[0], color=GUIDE, alpha=0.3, linewidth=8, label=_window_label(results))
    if s.curve_summary == "threshold" and s.threshold is not None:
        ax.axhline(s.threshold, color=NEUTRAL, linestyle="--", linewidth=1, label=f"threshold {s.threshold:g}")
    ax.set_xlabel("step")
    ax.set_ylabel(str(s.metric))
    ax.set_title(f"Learning curves ({round(s.ci_level * 100)}% bootstrap CI bands)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return True


def score_label(results: ExperimentResults) -> str:
    """What one point of the scores panel is."""
    if results.suite is not None:
        return "mean normalized score across tasks, per run"
    if results.settings.curve_summary == "threshold":
        return f"steps to {results.settings.metric} {results.settings.threshold:g}, per run"
    return f"{results.settings.metric} (each run's score)"


def _spread_ties(values: np.ndarray, center: float, spread: float, width: float = 0.2) -> np.ndarray:
    """x positions at `center`, with runs whose scores coincide (within 1/200 of the axis' span) set side by side
    across `width`, so that four equal scores show as four points."""
    xs = np.full(len(values), center)
    tolerance = spread / 200 if spread > 0 else 0.0
    keys = np.where(np.isfinite(values), np.round(values / tolerance) if tolerance else values, np.nan)
    for key in np.unique(keys[np.isfinite(keys)]):
        tied = np.flatnonzero(keys == key)
        if len(tied) > 1:
            xs[tied] = center + np.linspace(-width / 2, width / 2, len(tied))
    return xs


def draw_scores(ax: Any, results: ExperimentResults, colors: Colors) -> None:
    """Every run's score per variant over a box plot (black median); with paired seeds, a line joins the runs
    of one seed across variants; a censored time (never reached the threshold) is an open marker."""
    names = [v.name for v in results.experiment.variants]
    paired = results.analysis is not None and results.analysis.paired
    data = [np.asarray(results.scores[name], float) for name in names]
    shown = [d[np.isfinite(d)] for d in data]
    ax.boxplot(
        [d if len(d) else [np.nan] for d in shown],
        showfliers=False,
        widths=0.5,
        medianprops={"color": NEUTRAL, "linewidth": 1.5},
        boxprops={"color": GUIDE},
        whiskerprops={"color": GUIDE},
        capprops={"color": GUIDE},
    )
    finite_all = np.concatenate(shown) if shown else np.array([])
    spread = float(np.ptp(finite_all)) if finite_all.size else 0.0
    rng = np.random.default_rng(0)
    positions = [
        _spread_ties(values, float(i), spread) if paired else i + rng.uniform(-0.12, 0.12, len(values))
        for i, values in enumerate(data, start=1)
    ]
    runs = max((len(d) for d in data), default=0)
    if paired and len(names) > 1:
        for run in range(runs):  # run i has the same seed in every variant
            xs = [x[run] if run < len(x) else np.nan for x in positions]
            ys = [d[run] if run < len(d) and np.isfinite(d[run]) else np.nan for d in data]
            ax.plot(xs, ys, color=GUIDE, alpha=0.45, linewidth=0.8, zorder=2)
    for i, (name, values, xs) in enumerate(zip(names, data, positions, strict=True), start=1):
        finite = np.isfinite(values)
        censored = np.asarray(results.censored.get(name, np.zeros(len(values), bool)), bool)
        ax.scatter(xs[finite & ~censored], values[finite & ~censored], s=26, color=colors[name], zorder=3)
        if (finite & censored).any():
            ax.scatter(
                xs[finite & censored], values[finite & censored], s=30, facecolors="none",
                edgecolors=colors[name], zorder=3, label="never reached it (censored)" if i == 1 else None,
            )  # fmt: skip
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20 if len(names) > 4 else 0)
    ax.set_xlabel("variant")
    ax.set_ylabel(score_label(results))
    linked = " (lines join runs with the same seed)" if paired and len(names) > 1 else ""
    ax.set_title(f"Every run's score{linked}", fontsize=10)
    if any(np.asarray(c, bool).any() for c in results.censored.values()):
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def draw_differences(ax: Any, results: ExperimentResults, colors: Colors) -> None:
    """Each treatment minus the control with its CI (the one the verdict sentence gives), the zero line and
    the ±min_effect lines, each labelled; the verdict beside each interval."""
    analysis = results.analysis
    assert analysis is not None
    comparisons = list(analysis.comparisons)
    for y, c in enumerate(comparisons):
        low, high = c.difference_ci
        if not np.isfinite([low, high]).all():  # no CI (the t-test is undefined): the point alone
            low = high = c.difference
        color = colors.get(c.treatment, NEUTRAL)
        ax.errorbar(
            c.difference, y, xerr=[[c.difference - low], [high - c.difference]], fmt="o", color=color, capsize=4
        )
        ax.annotate(c.verdict, (high, y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=9)
    ax.axvline(0, color=NEUTRAL, linewidth=0.9, label="no difference")
    if analysis.min_effect:
        for sign in (-1, 1):
            ax.axvline(
                sign * analysis.min_effect, color=GUIDE, linestyle="--", linewidth=0.9,
                label=f"±min_effect ({analysis.min_effect:g}): smallest difference that matters" if sign > 0 else None,
            )  # fmt: skip
    ax.set_yticks(range(len(comparisons)), [c.treatment for c in comparisons])
    ax.set_ylim(-0.7, len(comparisons) - 0.3)
    ax.margins(x=0.25)  # room for the verdict beside the interval
    measured = "mean normalized score" if results.suite is not None else results.settings.metric
    family = max(c.family_size for c in comparisons)
    adjusted = f", Holm-adjusted for {family}" if family >= 2 else ""
    better = "higher" if analysis.direction == "max" else "lower"
    ax.set_xlabel(f"difference in {measured}\n({round(analysis.ci_level * 100)}% CI{adjusted}; {better} is better)")
    ax.set_ylabel("treatment")
    ax.set_title(f"Difference from the control, {analysis.control}", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(axis="x", alpha=0.3)


def draw_time_to_threshold(ax: Any, results: ExperimentResults, colors: Colors) -> bool:
    """Kaplan-Meier curves: the fraction of each variant's runs that had reached the threshold by each step
    (runs that never did are censored at their last step, marked +), the median as a dotted line. False when
    the analysis has no times."""
    analysis = results.analysis
    assert analysis is not None
    summaries = {name: v.time_to_threshold for name, v in analysis.variants.items() if v.time_to_threshold}
    if not summaries:
        return False
    for name, summary in summaries.items():
        color = colors[name]
        steps = [0.0, *summary["km_steps"]]
        reached = [0.0, *summary["km_fraction_reached"]]
        label = f"{name} ({summary['reached']} reached, {summary['censored']} censored"
        label += f"; median {summary['median']:.4g})" if summary["median"] is not None else "; median not reached)"
        ax.step(steps, reached, where="post", color=color, label=label)
        censored_at = [v for v, c in zip(results.scores[name], results.censored.get(name, ()), strict=False) if c]
        if censored_at:
            heights = [reached[max(i for i, s in enumerate(steps) if s <= x)] for x in censored_at]
            ax.plot(censored_at, heights, "+", color=color, markersize=10)
        if summary["median"] is not None:
            ax.axvline(summary["median"], color=color, linestyle=":", linewidth=1)
    ax.axhline(0.5, color=GUIDE, linewidth=0.6, label="half the runs (the median)")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel(f"fraction of runs at {results.settings.metric} {results.settings.threshold:g}")
    ax.set_title("Time to threshold (Kaplan-Meier, + censored)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return True


def draw_looks(ax: Any, results: ExperimentResults, colors: Colors) -> bool:
    """A sequential design's looks: per treatment the p of each look it was open at, against the level that look
    held it to (its boundary), on a log scale; the look that decided it marked with its decision. False before
    any look was decided."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    outcome = results.sequential
    if outcome is None or not outcome.history:
        return False
    design = outcome.design
    treatments = [c.treatment for c in outcome.history[-1].comparisons]
    several = len(treatments) > 1
    for treatment in treatments:
        color = colors.get(treatment, NEUTRAL)
        rows = [
            (h.look, c)
            for h in outcome.history
            for c in h.comparisons
            if c.treatment == treatment and (c.decided_at is None or c.decided_at >= h.look)
        ]
        looks = [look for look, _ in rows]
        ax.plot(looks, [c.p for _, c in rows], "o-", color=color, label=f"{treatment}: p at each look")
        boundary = NEUTRAL if not several else color
        ax.plot(
            looks, [c.level for _, c in rows], "_--", color=boundary, markersize=14, linewidth=1,
            label=f"{treatment}: boundary (reject if p below)" if several else "boundary (reject if p below)",
        )  # fmt: skip
        last = rows[-1][1]
        if last.decided_at is not None:
            crossed, evidence = last.decided_at, next(c for look, c in rows if look == last.decided_at)
            if last.decision in (stats.BETTER, stats.WORSE):  # maybe by an earlier look's p (Holm's freed alpha)
                crossed, evidence, _ = crossing(outcome.history, treatment, last.decided_at, design)
            p = evidence.tost_p if last.decision == stats.EQUIVALENT else evidence.p
            ax.scatter([crossed], [p], s=160, facecolors="none", edgecolors=color, linewidths=2, zorder=4)
            note = last.decision if crossed == last.decided_at else f"{last.decision} at look {last.decided_at}"
            ax.annotate(note, (crossed, p), xytext=(8, 8), textcoords="offset points", fontsize=9, color=NEUTRAL)
        elif outcome.stopped:  # open when the design ran out of looks (or stopped for futility)
            ax.annotate(last.decision, (looks[-1], last.p), xytext=(8, 8), textcoords="offset points", fontsize=9)
    planned = range(1, design.looks + 1)
    ax.plot(
        list(planned), design.nominal_p, ":", color=GUIDE, linewidth=1,
        label="planned boundary, every look (one comparison)",
    )  # fmt: skip
    shown = [v for line in ax.get_lines() for v in line.get_ydata() if v > 0]
    ax.set_yscale("log")
    ax.set_ylim(min(shown) / 2, min(1.0, max(shown) * 2))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ticks = planned
    ax.set_xticks(list(ticks), [f"{j}\n({design.runs_at_look[j - 1]})" for j in ticks])
    ax.set_xlim(0.5, design.looks + 0.5)
    ax.set_xlabel("look (runs per variant)")
    ax.set_ylabel("two-sided p of the look's test")
    ax.set_title(
        f"Sequential looks: {outcome.reason if outcome.stopped else 'not finished'} "
        f"(alpha {design.alpha:g} over all looks)",
        fontsize=10,
    )
    ax.legend(fontsize=8, handlelength=3)
    ax.grid(alpha=0.3)
    return True
