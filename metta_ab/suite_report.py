"""The part of summary.txt a suite adds: the aggregate over tasks as rliable reports it (IQM, mean, median,
optimality gap, probability of improvement, with stratified bootstrap CIs), then a compact per-task table."""

from __future__ import annotations

import math
from collections.abc import Sequence

from metta_ab.suite_analysis import SuiteResults


def _g(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def _ci(ci: Sequence[float]) -> str:
    return "[-]" if any(not math.isfinite(v) for v in ci) else f"[{ci[0]:.3g}, {ci[1]:.3g}]"


def _p(p: float) -> str:
    return "-" if not math.isfinite(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def suite_header(suite: SuiteResults) -> list[str]:
    agg = suite.aggregate
    return [
        f"Suite:          {len(suite.tasks)} tasks ({', '.join(suite.tasks)}), from {suite.source}",
        f"Normalized:     {agg.normalization.description}",
        "Verdict unit:   the run (seed): its mean normalized score across tasks, "
        + ("paired across variants" if agg.paired else "independent runs"),
    ]


def aggregate_rows(suite: SuiteResults) -> list[str]:
    agg = suite.aggregate
    level = round(agg.ci_level * 100)
    gap = agg.target is not None
    header = (
        f"{'variant':<22} {'IQM':>7} {'IQM CI':<18} {'mean':>7} {'mean CI':<18} {'median':>7} {'median CI':<18}"
        + (f" {'opt. gap':>8} {'gap CI':<18}" if gap else "")
    )
    lines = [
        f"Aggregate over tasks x runs (normalized; {level}% stratified bootstrap CIs, runs resampled within tasks):",
        header,
        "-" * len(header),
    ]
    for name, a in agg.variants.items():
        row = (
            f"{name:<22} {_g(a.iqm):>7} {_ci(a.iqm_ci):<18} {_g(a.mean):>7} {_ci(a.mean_ci):<18} "
            f"{_g(a.median):>7} {_ci(a.median_ci):<18}"
        )
        if gap:
            row += f" {_g(a.optimality_gap):>8} {_ci(a.optimality_gap_ci):<18}"
        lines.append(row)
    lines += ["", f"{'treatment':<22} {'P(T>C) over tasks':>17} {'CI':<18}"]
    for c in agg.comparisons:
        prob = c.prob_improvement
        lines.append(f"{c.treatment:<22} {_g(prob.probability):>17} {_ci(prob.ci):<18}")
    return lines


def per_task_rows(suite: SuiteResults) -> list[str]:
    family = sum(len(a.comparisons) for a in suite.per_task.values())
    holm = f"; p adj: Holm over all {family} task x treatment comparisons" if family >= 2 else ""
    header = f"{'task':<18} {'treatment':<20} {'difference':>10} {'CI':<22} {'test':<8} {'p':>6} {'p adj':>6}  verdict"
    lines = [f"Per task (raw scores{holm}):", header, "-" * len(header)]
    for task in suite.tasks:
        for c in suite.per_task[task].comparisons:
            lines.append(
                f"{task:<18} {c.treatment:<20} {c.difference:>+10.3g} {_ci(c.difference_ci):<22} {c.test:<8} "
                f"{_p(c.p_value):>6} {_p(c.p_adjusted):>6}  {c.verdict}"
            )
    return lines
