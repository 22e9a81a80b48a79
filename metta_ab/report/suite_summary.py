"""The part of summary.txt a suite adds: the aggregate over tasks as rliable reports it (IQM, mean, median,
optimality gap, probability of improvement, with stratified bootstrap CIs), then a compact per-task table."""

from __future__ import annotations

from metta_ab.analysis.suite import SuiteResults
from metta_ab.text_format import fmt_ci, fmt_num, fmt_p, fmt_signed


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
            f"{name:<22} {fmt_num(a.iqm, 3):>7} {fmt_ci(a.iqm_ci):<18} {fmt_num(a.mean, 3):>7} {fmt_ci(a.mean_ci):<18} "
            f"{fmt_num(a.median, 3):>7} {fmt_ci(a.median_ci):<18}"
        )
        if gap:
            row += f" {fmt_num(a.optimality_gap, 3):>8} {fmt_ci(a.optimality_gap_ci):<18}"
        lines.append(row)
    lines += ["", f"{'treatment':<22} {'P(T>C) over tasks':>17} {'CI':<18}"]
    for c in agg.comparisons:
        prob = c.prob_improvement
        lines.append(f"{c.treatment:<22} {fmt_num(prob.probability, 3):>17} {fmt_ci(prob.ci):<18}")
    return lines


def per_task_rows(suite: SuiteResults, sequential: bool = False) -> list[str]:
    """The per-task table; of a sequential suite, whose looks decide on the aggregate alone, it says that its
    tests are fixed-sample ones over the runs the looks used."""
    family = sum(len(a.comparisons) for a in suite.per_task.values())
    holm = f"; p adj and CI: Holm over all {family} task x treatment comparisons" if family >= 2 else ""
    looks = "; fixed-sample tests over the runs the looks used: the looks decided the aggregate only" * sequential
    header = f"{'task':<18} {'treatment':<20} {'difference':>10} {'CI':<22} {'test':<8} {'p':>6} {'p adj':>6}  verdict"
    lines = [f"Per task (raw scores{holm}{looks}):", header, "-" * len(header)]
    for task in suite.tasks:
        for c in suite.per_task[task].comparisons:
            lines.append(
                f"{task:<18} {c.treatment:<20} {fmt_signed(c.difference):>10} {fmt_ci(c.difference_ci):<22} "
                f"{c.test:<8} {fmt_p(c.p_value):>6} {fmt_p(c.p_adjusted):>6}  {c.verdict}"
            )
    return lines
