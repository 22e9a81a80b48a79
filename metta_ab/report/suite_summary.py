"""The part of summary.txt a suite adds: the aggregate over tasks as rliable reports it (IQM, mean, median,
optimality gap, probability of improvement, with stratified bootstrap CIs), then a compact per-task table."""

from __future__ import annotations

from metta_ab.analysis.suite import SuiteResults
from metta_ab.report.table import Column, table
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
    columns = [Column("variant", 22, "<")]
    for name in ("IQM", "mean", "median"):
        columns += [Column(name, 7), Column(f"{name} CI", 18, "<")]
    if gap:
        columns += [Column("opt. gap", 8), Column("gap CI", 18, "<")]
    rows = []
    for name, a in agg.variants.items():
        estimates = [(a.iqm, a.iqm_ci), (a.mean, a.mean_ci), (a.median, a.median_ci)]
        estimates += [(a.optimality_gap, a.optimality_gap_ci)] if gap else []
        rows.append([name, *(cell for value, ci in estimates for cell in (fmt_num(value, 3), fmt_ci(ci)))])
    lines = [
        f"Aggregate over tasks x runs (normalized; {level}% stratified bootstrap CIs, runs resampled within tasks):",
        *table(columns, rows),
    ]
    probability = (Column("treatment", 22, "<"), Column("P(T>C) over tasks", 17), Column("CI", 18, "<"))
    rows = [
        [c.treatment, fmt_num(c.prob_improvement.probability, 3), fmt_ci(c.prob_improvement.ci)]
        for c in agg.comparisons
    ]
    lines += ["", *table(probability, rows)]
    return lines


_PER_TASK_COLUMNS = (
    Column("task", 18, "<"),
    Column("treatment", 20, "<"),
    Column("difference", 10),
    Column("CI", 22, "<"),
    Column("test", 8, "<"),
    Column("p", 6),
    Column("p adj", 6),
    Column("verdict", align="<", gap="  "),
)


def per_task_rows(suite: SuiteResults, sequential: bool = False) -> list[str]:
    """The per-task table; of a sequential suite, whose looks decide on the aggregate alone, it says that its
    tests are fixed-sample ones over the runs the looks used."""
    family = sum(len(a.comparisons) for a in suite.per_task.values())
    holm = f"; p adj and CI: Holm over all {family} task x treatment comparisons" if family >= 2 else ""
    looks = "; fixed-sample tests over the runs the looks used: the looks decided the aggregate only" * sequential
    rows = [
        [task, c.treatment, fmt_signed(c.difference), fmt_ci(c.difference_ci), c.test, *p_values, c.verdict]
        for task in suite.tasks
        for c in suite.per_task[task].comparisons
        for p_values in [(fmt_p(c.p_value), fmt_p(c.p_adjusted))]
    ]
    return [f"Per task (raw scores{holm}{looks}):", *table(_PER_TASK_COLUMNS, rows)]
