"""What the user reads at the end: `summary.txt` (for people), `summary.json` (for programs), and plots.

Every comparison ends in a sentence that states the effect, its CI, the test, and whether this many
seeds could have told: "B is better than A by 0.13 (27%) ...; about 17 seeds per variant would detect
the observed effect".
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from metta_ab.analysis.results import ExperimentResults, Reanalysis
from metta_ab.definition.experiment import AnalysisSettings
from metta_ab.records.ledger import COMPLETED, FAILED, RunRecord
from metta_ab.report.secondary_summary import secondary_rows
from metta_ab.report.sentences import median_text, verdict_sentence
from metta_ab.report.sequential_summary import look_rows, sequential_verdict_sentence
from metta_ab.report.suite_summary import aggregate_rows, per_task_rows, suite_header
from metta_ab.report.table import Column, header, line, table
from metta_ab.sources import RunMetrics, returned_values
from metta_ab.stats import INSUFFICIENT
from metta_ab.text_format import fmt_ci, fmt_num, fmt_p, fmt_setting, fmt_signed

SUMMARY_TXT, SUMMARY_JSON = "summary.txt", "summary.json"
ANALYSES_DIR = "analyses"  # EXPERIMENT_DIR/analyses/<name>: re-analyses, beside the sweep's own report


def score_description(results: ExperimentResults) -> str:
    s = results.settings
    if s.curve_summary == "auc":
        return "area under the learning curve divided by its step span"
    if s.curve_summary == "threshold":
        reach = ">=" if s.direction == "max" else "<="
        return (
            f"steps until the curve is {reach} {s.threshold:g} (time to threshold: fewer steps is better; a run "
            "that never gets there is censored at its last step; Kaplan-Meier medians, log-rank test)"
        )
    if s.curve_summary == "returned":
        return "the final value each run reported"
    last = f"last {s.last_k}" if s.last_k else "last 10%"
    return f"mean of the {last} of evaluations when a run logged a curve, else the final value it reported"


def run_counts(results: ExperimentResults, variant: str) -> dict[str, Any]:
    """A variant's runs planned / completed / failed and their median duration (seconds or None)."""
    records = [r for r in results.records if r.variant == variant]
    durations = [r.duration for r in records if r.status == COMPLETED and r.duration is not None]
    return {
        "planned": len(records),
        "completed": sum(r.status == COMPLETED for r in records),
        "failed": sum(r.status == FAILED and not r.interrupted for r in records),
        "interrupted": sum(r.interrupted for r in records),
        "median_duration": statistics.median(durations) if durations else None,
    }


_VARIANT_COLUMNS = (
    Column("variant", 22, "<"),
    Column("completed", 9),
    Column("failed", 6),
    Column("mean", 9, gap="  "),
    Column("CI", 20, "<"),
    Column("SD", 8),
    Column("median", 9),
    Column("IQM", 9),
    Column("IQM CI", 20, "<"),
    Column("duration", 8),
)


def _variant_rows(results: ExperimentResults) -> list[str]:
    analysis = results.analysis
    lines = header(_VARIANT_COLUMNS)
    for variant in results.experiment.variants:
        counts = run_counts(results, variant.name)
        seconds = counts["median_duration"]
        duration = "-" if seconds is None else f"{seconds:.1f}s"
        stats_ = analysis.variants[variant.name] if analysis else None
        if stats_ is None:
            numbers = ["-", "[-]", "-", "-", "-", "[-]"]
        else:
            numbers = [fmt_num(stats_.mean), fmt_ci(stats_.mean_ci), fmt_num(stats_.sd, 3), fmt_num(stats_.median)]
            numbers += [fmt_num(stats_.iqm), fmt_ci(stats_.iqm_ci)]
        completed = f"{counts['completed']:>5}/{counts['planned']:<3}"
        lines.append(line(_VARIANT_COLUMNS, [variant.name, completed, str(counts["failed"]), *numbers, duration]))
        scores = results.scores.get(variant.name)
        censored = results.censored.get(variant.name)
        if scores is not None and len(scores):
            marks = ["+" if censored is not None and censored[i] else "" for i in range(len(scores))]
            seeded = any(r.seed is not None for r in results.records if r.variant == variant.name)
            values = " ".join(fmt_num(v, 4) + m for v, m in zip(scores, marks, strict=True))
            lines.append(f"{'':<22} {'per seed' if seeded else 'per run (unseeded)'}: {values}")
        summary = stats_.time_to_threshold if stats_ is not None else None
        if summary:
            lines.append(f"{'':<22} time to threshold: {median_text(summary)} steps (Kaplan-Meier; + = censored)")
    return lines


def _comparison_rows(results: ExperimentResults) -> list[str]:
    analysis = results.analysis
    assert analysis is not None
    ci_head = "CI (Holm-adj.)" if any(c.family_size >= 2 for c in analysis.comparisons) else "CI"
    columns = (
        Column("treatment", 22, "<"),
        Column("difference", 10),
        Column(ci_head, 22, "<"),
        Column("test", 8, "<"),
        *(Column(title, 6) for title in ("p", "p adj", "perm p", "rank p", "g", "P(T>C)")),
        Column("verdict", 12, "<", gap="  "),
    )
    rows = [
        [
            c.treatment,
            fmt_signed(c.difference),
            fmt_ci(c.difference_ci),
            c.test,
            *(fmt_p(p) for p in (c.p_value, c.p_adjusted, c.permutation_p, c.rank_test_p)),
            fmt_num(c.hedges_g, 2),
            fmt_num(c.prob_improvement, 2),
            c.verdict,
        ]
        for c in analysis.comparisons
    ]
    return table(columns, rows)


def _source_counts(results: ExperimentResults) -> dict[str, int]:
    """How many runs each kind of source gave numbers for ("tensorboard events": 6), in source order."""
    counts: dict[str, int] = {}
    for found in results.metrics.values():
        for kind in dict.fromkeys(label.split(" (", 1)[0] for label in found.sources):
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def _returned_rows(results: ExperimentResults) -> list[str]:
    """Mean ± SD of every numeric value the runs returned (not only the primary metric)."""
    returned = [(r.variant, returned_values(r.return_value)) for r in results.records if r.status == COMPLETED]
    names = list(dict.fromkeys(k for _, values in returned for k in values))
    if not names:
        return []
    lines = ["", "Values the runs returned (mean ± SD over completed runs):"]
    for variant in results.experiment.variants:
        cells = []
        for name in names:
            values = [float(found[name]) for owner, found in returned if owner == variant.name and name in found]
            if len(values) > 1:
                cells.append(f"{name}={fmt_num(statistics.fmean(values))} ± {fmt_num(statistics.stdev(values), 2)}")
            elif values:
                cells.append(f"{name}={fmt_num(values[0])}")
        lines.append(f"  {variant.name:<22} " + ", ".join(cells))
    return lines


def _metric_and_direction(settings: AnalysisSettings) -> str:
    return f"{settings.metric} ({settings.direction})" if settings.metric else "no metric"


def reanalysis_line(reanalysis: Reanalysis) -> str:
    """How a `metta-ab analyze` report differs from the analysis the experiment declared: "exploratory: the
    experiment declared loss (min); this analysis uses acc (max)", then any other setting changed."""
    declared = _metric_and_direction(reanalysis.declared)
    if not reanalysis.exploratory:
        return f"re-analysis with the declared settings: {declared}"
    others = [
        f"{key} {fmt_setting(used)} (declared {fmt_setting(was)})"
        for key, (was, used) in reanalysis.changed.items()
        if key not in ("metric", "direction")
    ]
    uses = ", ".join([_metric_and_direction(reanalysis.used), *others])
    return f"exploratory: the experiment declared {declared}; this analysis uses {uses}"


def summary_text(results: ExperimentResults) -> str:
    experiment, s = results.experiment, results.settings
    analysis = results.analysis
    lines = [f"A/B experiment: {experiment.name}"]
    if results.reanalysis is not None:
        lines.append(reanalysis_line(results.reanalysis))
    if results.no_verdict:
        lines.append(f"NO VERDICT:     {results.no_verdict}")
    if experiment.description:
        lines.append(f"Description:    {experiment.description}")
    lines += [
        f"Date:           {experiment.date}",
        f"Directory:      {results.experiment_dir}",
        f"W&B:            project {experiment.wandb_project}, group {experiment.name}, tags variant:<name>",
        *(f"Injection:      {note}" for note in results.injection if not note.startswith("WARNING: ")),
    ]
    if analysis is not None:
        design = "paired seeds (run i uses the same seed in every variant)" if analysis.paired else "independent seeds"
        lines += [
            (
                f"Metric:         {s.metric}; per-run score: {score_description(results)}"
                if s.curve_summary == "threshold"
                else f"Metric:         {s.metric} ({'higher' if s.direction == 'max' else 'lower'} is better); "
                f"per-run score: {score_description(results)}"
            ),
            f"Analysis:       control {analysis.control}; alpha {s.alpha} two-sided; {round(s.ci_level * 100)}% CIs "
            f"(bootstrap: {s.n_resamples} resamples, seed {s.seed}); {design}",
        ]
    sources = _source_counts(results)
    if sources:
        lines.append("Numbers from:   " + ", ".join(f"{name} ({n} run{'s' * (n != 1)})" for name, n in sources.items()))
    suite = results.suite
    if suite is not None:  # the aggregate verdict first, then the aggregate and every task
        lines += suite_header(suite)
        per_task = per_task_rows(suite, sequential=results.sequential is not None)
        lines += ["", *_verdict_lines(results), "", *aggregate_rows(suite), "", *per_task]
    per_run = " (each run's mean normalized score across tasks)" if suite is not None else ""
    tested = per_run
    if suite is not None and suite.aggregate.normalization.method == "control_mean":  # see stats.suite
        tested = " (run means across tasks, normalized by both variants' per-task means: the test's scale)"
    lines += ["", f"Per variant{per_run}:", *_variant_rows(results)]
    if analysis is None:
        lines += ["", *_verdict_lines(results)]
    if analysis is not None and analysis.comparisons:
        lines += ["", f"Comparisons with the control ({analysis.control}){tested}:", *_comparison_rows(results), ""]
        if results.sequential is not None:
            lines += [*look_rows(results.sequential), ""]
        if suite is None:
            lines += _verdict_lines(results)
    if results.secondary:
        lines += ["", *secondary_rows(results.secondary)]
    lines += _returned_rows(results)
    failures = [r for r in results.records if r.status == FAILED and not r.interrupted]
    if failures:
        lines += ["", f"Failed runs ({len(failures)}):"]
        lines += [f"  {r.job_dir} (after {r.attempts} attempt(s)): {r.error}" for r in failures]
    stopped = [r.job_dir for r in results.records if r.interrupted]
    if stopped:
        lines += ["", f"Interrupted runs ({len(stopped)}; the same command resumes them): {', '.join(stopped)}"]
    notes = list(results.warnings)
    if analysis is not None:
        notes += analysis.warnings
        for c in analysis.comparisons:
            notes += [f"{c.treatment}: {w}" for w in c.warnings]
    if notes:
        lines += ["", "Warnings:", *[f"  - {note}" for note in dict.fromkeys(notes)]]
    return "\n".join(lines) + "\n"


def _verdict_lines(results: ExperimentResults) -> list[str]:
    sentences = verdict_sentences(results)
    if not sentences:
        return []
    if _without_verdict(results):
        return ["Verdict:", f"  {sentences[0]}"]
    return ["Verdict:" if results.suite is None else "Verdict (aggregate over tasks):", *(f"  {s}" for s in sentences)]


def _without_verdict(results: ExperimentResults) -> bool:
    """No comparison has a verdict (and the reason is known)."""
    analysis = results.analysis
    untested = analysis is None or not any(c.verdict != INSUFFICIENT for c in analysis.comparisons)
    return bool(results.no_verdict) and untested


def verdict_sentences(results: ExperimentResults) -> list[str]:
    """The verdict: why some comparison has none, then one sentence per comparison. summary.txt, the verdict
    figure's caption and report.html all state it in these words."""
    analysis, s = results.analysis, results.settings
    if _without_verdict(results):
        return [f"No verdict: {results.no_verdict}"]
    if analysis is None or not analysis.comparisons:
        return []
    if results.suite is not None and results.suite.aggregate.normalization.method == "control_mean":
        judged = (  # the test's scale is not the tables' (stats.suite._test_normalization): say which
            f"{s.metric}, each run's mean across tasks of scores normalized by both variants' per-task means (the "
            "test's scale; the aggregate tables are relative to the control's means)"
        )
    elif results.suite is not None:
        judged = f"{s.metric}, each run's mean normalized score across tasks"
    elif s.curve_summary == "threshold":
        judged = f"steps to {s.metric} {s.threshold:g}"
    else:
        judged = s.metric or ""
    sentences = [f"Not every comparison has one: {results.no_verdict}"] if results.no_verdict else []
    for c in analysis.comparisons:
        if results.sequential is not None:
            sentences.append(sequential_verdict_sentence(c, results.sequential, judged))
        else:
            sentences.append(verdict_sentence(c, judged))
    return sentences


def summary_dict(results: ExperimentResults) -> dict[str, Any]:
    """The machine-readable summary (documented key by key in docs/results.md)."""
    analysis = results.analysis
    stats_dict = analysis.to_dict() if analysis else {"variants": {}, "comparisons": [], "warnings": []}
    variants = {}
    for variant in results.experiment.variants:
        scores = results.scores[variant.name]
        variants[variant.name] = {
            **stats_dict["variants"].get(variant.name, {}),
            **run_counts(results, variant.name),
            "values": [float(v) if math.isfinite(v) else None for v in scores],  # non-finite: non_finite_scores
            **(
                {"censored": [bool(x) for x in results.censored[variant.name]]}
                if variant.name in results.censored
                else {}
            ),
        }
    return {
        "experiment": results.experiment.name,
        "description": results.experiment.description,
        "metric": results.settings.metric,
        "direction": analysis.direction if analysis else results.settings.direction,  # times: "min"
        "metric_direction": results.settings.direction,
        "curve_summary": results.settings.curve_summary,
        "alpha": results.settings.alpha,
        "ci_level": results.settings.ci_level,
        "paired": bool(analysis.paired) if analysis else None,
        "control": analysis.control if analysis else None,
        "no_verdict": results.no_verdict,  # why some comparison has no verdict (and the fix); null: all have one
        "reanalysis": _reanalysis_dict(results.reanalysis),  # null in the sweep's own summary
        "variants": variants,
        "comparisons": stats_dict["comparisons"],
        "warnings": list(results.warnings) + list(stats_dict["warnings"]),
        "non_finite_scores": list(results.non_finite),  # runs scored inf / NaN: value and how it was treated
        "injection": list(results.injection),
        "sequential": (
            results.sequential.to_dict(results.settings.ci_level) if results.sequential is not None else None
        ),
        **(results.suite.to_dict() if results.suite is not None else {}),  # tasks.<task>, aggregate
        "secondary_metrics": [r.to_dict() for r in results.secondary],  # .add_metric: one Holm family, not deciding
        "looks": list(results.looks),  # every analysis the sweeper wrote: runs per variant at each
        "runs": [_run_dict(r, results.metrics.get(r.job_dir)) for r in results.records],
    }


def _reanalysis_dict(reanalysis: Reanalysis | None) -> dict[str, Any] | None:
    if reanalysis is None:
        return None
    return {
        "exploratory": reanalysis.exploratory,  # some setting differs from the declared analysis
        "opening": reanalysis_line(reanalysis),  # summary.txt's line
        "declared": {"metric": reanalysis.declared.metric, "direction": reanalysis.declared.direction},
        "changed": {key: {"declared": was, "used": used} for key, (was, used) in reanalysis.changed.items()},
    }


def _json_safe(value: Any) -> Any:
    """A returned value for strict JSON: inf / -inf / NaN as the strings "inf", "-inf", "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _run_dict(record: RunRecord, metrics: RunMetrics | None) -> dict[str, Any]:
    return {
        "metric_sources": metrics.sources if metrics else [],  # where this run's numbers came from
        "variant": record.variant,
        "run_index": record.run_index,
        "seed": record.seed,
        "run_name": record.run_name,
        "job_dir": record.job_dir,
        "status": record.status,
        "attempts": record.attempts,
        "duration": record.duration,
        "error": record.error,
        "return_value": _json_safe(record.return_value),
    }
