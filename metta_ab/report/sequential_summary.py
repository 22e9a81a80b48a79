"""The part of summary.txt a sequential experiment adds: each look's decision, why it stopped, the runs saved,
and a verdict sentence that quotes the look's boundary instead of a fixed-sample p-value."""

from __future__ import annotations

from metta_ab.records.looks import SequentialOutcome
from metta_ab.report.sentences import hazard_ratio_text, medians_text, reaches_it
from metta_ab.report.table import Column, table
from metta_ab.stats import BETTER, EQUIVALENT, WORSE, Comparison
from metta_ab.stats.sequential import LOGRANK, T_DISTRIBUTION, LookComparison, crossing, early_stop_estimate
from metta_ab.stats.significance import PERMUTATION_RESAMPLES
from metta_ab.text_format import fmt_ci, fmt_num, fmt_ordered, fmt_signed

_P_SOURCES = {
    T_DISTRIBUTION: "from the t distribution",
    "exact permutation": "from every relabelling of the runs",
    "permutation": f"from {PERMUTATION_RESAMPLES:,} random relabellings",
}


def look_rows(outcome: SequentialOutcome) -> list[str]:
    design = outcome.design
    lines = [
        f"Sequential design: a look after every {design.runs_per_look} runs per variant, at most "
        f"{design.max_runs_per_variant} ({design.looks} looks); alpha {design.alpha:g} over all looks, spending "
        f"{design.spending}",
    ]
    times = outcome.times_to_threshold  # the log-rank statistic of the times, the difference of their medians
    columns = (
        Column("look", 4),
        Column("runs/variant", 12),
        Column("treatment", 22, "<", gap="  "),
        Column("median diff" if times else "difference", 11 if times else 10),
        Column("log-rank z" if times else "t", 10 if times else 7),
        Column("p", 8),
        Column("reject if p <", 13),
        Column("decision", align="<", gap="  "),
    )
    rows = []
    for h in outcome.history:
        for c in h.comparisons:
            if c.decided_at is not None and c.decided_at < h.look:
                continue  # decided at an earlier look: no more runs, nothing new to show
            numbers = [fmt_signed(c.difference), fmt_num(c.statistic, 3), *fmt_ordered(c.p, c.level, 3)]
            decided_here = c.decided_at == h.look
            crossed = crossing(outcome.history, c.treatment, h.look, design)[0] if decided_here else h.look
            decision = c.decision if crossed == h.look else f"{c.decision} (look {crossed}'s p)"
            rows.append([str(h.look), str(h.runs_per_variant), c.treatment, *numbers, decision])
    lines += table(columns, rows)
    methods = {h.look: c.p_method for h in outcome.history for c in h.comparisons if c.decided_at in (None, h.look)}
    by_look = ", ".join(f"look {look} {_P_SOURCES[m]}" for look, m in methods.items())
    if times:
        lines.append(
            f"p of the log-rank statistic from its permutation distribution: {by_look} (the normal approximation "
            "is liberal at a few runs per variant); median diff: of the Kaplan-Meier medians, '-' where one is "
            "not reached."
        )
    elif set(methods.values()) - {T_DISTRIBUTION}:
        lines.append(f"p of Welch's t: {by_look} (the studentized permutation test, as in a fixed design).")
    used = ", ".join(f"{v} {n}" for v, n in outcome.runs_used.items())
    if outcome.stopped:
        total = design.max_runs_per_variant * len(outcome.runs_used)
        jobs = outcome.jobs_per_run
        saved_jobs = f"{outcome.runs_saved * jobs} of {total * jobs} jobs"
        per_task = f" ({saved_jobs}: a run is {jobs} jobs, one per task)" if jobs > 1 else ""
        lines.append(
            f"Stopped at look {len(outcome.history)} of {design.looks} ({outcome.reason}). Runs used per variant: "
            f"{used} of {design.max_runs_per_variant}; {outcome.runs_saved} of {total} runs saved{per_task}."
        )
        if outcome.estimate_note:
            lines.append(f"Note: {outcome.estimate_note}.")
    else:
        lines.append(
            f"Not finished: {len(outcome.history)} of {design.looks} looks decided (runs so far: {used}). Run the "
            "same command again to continue."
        )
    return lines


def _decided_at(outcome: SequentialOutcome, treatment: str) -> LookComparison:
    last = next(c for c in outcome.history[-1].comparisons if c.treatment == treatment)
    if last.decided_at is None:
        return last
    return next(c for c in outcome.history[last.decided_at - 1].comparisons if c.treatment == treatment)


def _adjusted_text(outcome: SequentialOutcome, c: Comparison) -> str:
    """For a comparison decided before the last look: its median-unbiased difference and CI (else nothing)."""
    adjusted = early_stop_estimate(outcome.history, c.treatment, outcome.design, c.ci_level)
    not_adjusted = outcome.not_adjusted().get(c.treatment)
    if not_adjusted:
        return f" After the early stop, {not_adjusted}."
    if adjusted is None:
        return ""
    kept = ": a stop at look 1 keeps the observed difference" if adjusted.look == 1 else ""
    return (
        f" Adjusted for the early stop: {adjusted.median_unbiased:+.3g} [{fmt_num(adjusted.ci[0], 3)}, "
        f"{fmt_num(adjusted.ci[1], 3)}] (median-unbiased, {round(adjusted.ci_level * 100)}% CI, stage-wise "
        f"ordering{kept})."
    )


def sequential_verdict_sentence(c: Comparison, outcome: SequentialOutcome, metric: str) -> str:
    """The verdict of one comparison from the looks: the look that decided it, its statistic and boundary."""
    design = outcome.design
    if not outcome.history:
        return f"{c.treatment} vs {c.control}: not decided yet (no look has been decided)."
    look = _decided_at(outcome, c.treatment)
    at = look.decided_at or len(outcome.history)
    n = design.runs_at_look[at - 1]
    times = look.test == LOGRANK
    test = "log-rank z" if times else "paired t" if c.paired else "Welch t"
    where = f"at look {at} of {design.looks} ({n} runs per variant)"
    method = "" if look.p_method == T_DISTRIBUTION else f" ({look.p_method})"
    p, boundary = fmt_ordered(look.p, look.level)
    evidence = f"{test} = {fmt_num(look.statistic, 3)}, p = {p}{method}"
    # the comparisons table's CI, Holm-adjusted beside several treatments: its own level, not ci_level
    holm = f", Holm-adjusted for {c.family_size} comparisons" if c.difference_ci_level != c.ci_level else ""
    early = f"; the early stop overstates {'them' if times else 'it'}" if at < design.looks else ""
    if times:  # the fixed-sample Kaplan-Meier medians and Cox hazard ratio of the runs used
        estimate = f" Over the runs used (fixed-sample{early}): {medians_text(c)}, {hazard_ratio_text(c)}."
    else:
        estimate = (
            f" Difference {fmt_signed(c.difference)} {fmt_ci(c.difference_ci)} over the runs used"
            f" ({100 * c.difference_ci_level:.3g}% fixed-sample CI{holm}{early})."
        )
    estimate += _adjusted_text(outcome, c)
    if look.decision in (BETTER, WORSE):
        on = f"{metric} ({reaches_it(look.decision)})" if times else metric
        crossed, evidence_look, bound = crossing(outcome.history, c.treatment, at, design)
        if crossed == at:
            return (
                f"{c.treatment} is {look.decision} than {c.control} on {on}: decided {where}, {evidence} < "
                f"{boundary} (the look's boundary).{estimate}"
            )
        p, boundary = fmt_ordered(evidence_look.p, bound)
        method = "" if evidence_look.p_method == T_DISTRIBUTION else f" ({evidence_look.p_method})"
        return (
            f"{c.treatment} is {look.decision} than {c.control} on {on}: decided {where} by the Holm procedure, "
            f"once the comparisons decided before it freed their share of alpha: at look {crossed} "
            f"({design.runs_at_look[crossed - 1]} runs per variant) {test} = {fmt_num(evidence_look.statistic, 3)}, "
            f"p = {p}{method} < {boundary} (look {crossed}'s boundary at the freed level).{estimate}"
        )
    if look.decision == EQUIVALENT:
        tost_p, boundary = fmt_ordered(look.tost_p, look.level)
        return (
            f"{c.treatment} is equivalent to {c.control} on {metric} (within ±{c.min_effect:g}): shown {where}, "
            f"TOST p = {tost_p} < {boundary}.{estimate}"
        )
    if not outcome.stopped:
        return f"{c.treatment} vs {c.control} on {metric}: not decided yet after look {at} ({evidence})."
    return (
        f"Inconclusive: {c.treatment} vs {c.control} on {metric} after all {design.looks} looks ({n} runs per "
        f"variant): {evidence}, not below the last boundary {boundary}.{estimate}"
    )
