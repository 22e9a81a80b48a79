"""report.html: one self-contained page per report (the sweep's, or a re-analysis's) that opens anywhere without a
network: the verdict first, then the figures (inline images), the tables, the settings, the injection notes and
every run with its status, seed, score and relative links to its job directory and log.

Every sentence and number comes from summary.py's functions and the analysis; every name is HTML-escaped (the
experiment's, variants' and runs' names are the user's). No script, no external resource.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from metta_ab.analysis.results import ExperimentResults
from metta_ab.records.ledger import COMPLETED, RunRecord, read_status
from metta_ab.report.palette import variant_colors
from metta_ab.report.sequential_summary import look_rows
from metta_ab.report.suite_summary import aggregate_rows, per_task_rows
from metta_ab.report.summary import (
    reanalysis_line,
    run_counts,
    score_description,
    summary_text,
    verdict_sentences,
)
from metta_ab.text_format import fmt_ci, fmt_num, fmt_p, fmt_signed

REPORT_HTML = "report.html"

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 16px 24px; color: #1a1a1a; }
h1 { font-size: 22px; margin: 4px 0; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
.meta { color: #555; margin: 0 0 8px; }
#verdict { background: #f3f6fa; border-left: 5px solid #0072B2; padding: 8px 16px; margin: 10px 0; }
#verdict.none { border-left-color: #D55E00; background: #fdf3ec; }
#verdict p { margin: 6px 0; }
.exploratory { color: #8a4b00; font-weight: 600; }
figure { margin: 12px 0 24px; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; }
th, td { padding: 3px 9px; border-bottom: 1px solid #e4e4e4; text-align: right; vertical-align: top; }
th { background: #fafafa; } td.name, th.name { text-align: left; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
.failed { color: #b00020; } pre { background: #fafafa; padding: 8px; overflow-x: auto; font-size: 12px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; } dt { color: #555; } dd { margin: 0; }
"""

FIGURE_CAPTIONS = {
    "verdict": "The verdict figure (verdict.png): the panels below in one image, the verdict as its caption.",
    "learning_curves": "Learning curves: mean across runs with a bootstrap CI band.",
    "scores": "Every run's score per variant.",
    "differences": "Each treatment minus the control, with the CI the verdict gives.",
    "time_to_threshold": "Time to threshold: Kaplan-Meier curves.",
    "performance_profiles": "Performance profiles over the suite's tasks.",
    "aggregates": "Aggregates over tasks x runs.",
    "task_scores": "Every run's raw score per task.",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], names: int = 1) -> str:
    """Cells are HTML already (escaped by the caller); the first `names` columns are left-aligned."""

    def row(cells: Sequence[str], tag: str) -> str:
        return (
            "<tr>"
            + "".join(f"<{tag}{' class=name' if i < names else ''}>{cell}</{tag}>" for i, cell in enumerate(cells))
            + "</tr>"
        )

    body = "".join(row(cells, "td") for cells in rows)
    return f"<table><thead>{row([_e(h) for h in head], 'th')}</thead><tbody>{body}</tbody></table>"


def _variant_name(name: str, colors: dict[str, str]) -> str:
    return f'<span class="swatch" style="background:{colors.get(name, "#000")}"></span>{_e(name)}'


def _verdict(results: ExperimentResults) -> str:
    sentences = verdict_sentences(results)
    if not sentences:
        sentences = ["No verdict: the analysis has no comparison."]
    none = " class=none" if results.no_verdict else ""
    paragraphs = "".join(f"<p>{_e(s)}</p>" for s in sentences)
    return f'<section id="verdict"{none}><h2 style="border:0;margin:4px 0">Verdict</h2>{paragraphs}</section>'


def _figures(images: dict[str, str]) -> str:
    if not images:
        return "<p>No figures: they were turned off (ab.plots=false, --no-plots) or there is no analysis.</p>"
    parts = []
    for stem, uri in images.items():
        caption = FIGURE_CAPTIONS.get(stem, stem)
        parts.append(f'<figure><img src="{uri}" alt="{_e(caption)}"><figcaption>{_e(caption)}</figcaption></figure>')
    return "".join(parts)


def _variants_table(results: ExperimentResults, colors: dict[str, str]) -> str:
    analysis = results.analysis
    rows = []
    for variant in results.experiment.variants:
        counts = run_counts(results, variant.name)
        described = analysis.variants.get(variant.name) if analysis else None
        numbers = ["-"] * 6
        if described is not None:
            numbers = [fmt_num(described.mean), fmt_ci(described.mean_ci), fmt_num(described.sd, 3)]
            numbers += [fmt_num(described.median), fmt_num(described.iqm), fmt_ci(described.iqm_ci)]
        seconds = counts["median_duration"]
        rows.append([
            _variant_name(variant.name, colors), _e(variant.description or ""),
            f"{counts['completed']}/{counts['planned']}", str(counts["failed"]), *map(_e, numbers),
            "-" if seconds is None else f"{seconds:.1f}s",
        ])  # fmt: skip
    head = ["variant", "description", "completed", "failed", "mean", "CI", "SD", "median", "IQM", "IQM CI"]
    return _table([*head, "median duration"], rows, names=2)


def _comparisons_table(results: ExperimentResults, colors: dict[str, str]) -> str:
    analysis = results.analysis
    if analysis is None or not analysis.comparisons:
        return "<p>No comparisons.</p>"
    rows = [
        [
            _variant_name(c.treatment, colors), fmt_signed(c.difference), fmt_ci(c.difference_ci), _e(c.test),
            fmt_p(c.p_value), fmt_p(c.p_adjusted), fmt_num(c.hedges_g, 2), fmt_num(c.prob_improvement, 2),
            _e(c.verdict),
        ]
        for c in analysis.comparisons
    ]  # fmt: skip
    ci = "CI (Holm-adjusted)" if any(c.family_size >= 2 for c in analysis.comparisons) else "CI"
    head = ["treatment", "difference", ci, "test", "p", "p adj", "Hedges' g", "P(T>C)", "verdict"]
    return f"<p>Against the control, {_e(analysis.control)}.</p>" + _table(head, rows)


def _settings(results: ExperimentResults) -> str:
    experiment, s, analysis = results.experiment, results.settings, results.analysis
    items = [
        ("experiment", experiment.name),
        ("date", experiment.date),
        ("runs per variant", experiment.runs_per_variant),
        ("metric", f"{s.metric} ({'higher' if s.direction == 'max' else 'lower'} is better)"),
        ("per-run score", score_description(results)),
        ("control", analysis.control if analysis else "-"),
        ("seeds", ("paired" if analysis.paired else "independent") if analysis else "-"),
        ("alpha", f"{s.alpha} (two-sided)"),
        ("CI level", f"{round(s.ci_level * 100)}%"),
        ("bootstrap", f"{s.n_resamples} resamples, seed {s.seed}"),
        ("min_effect", "not declared" if s.min_effect is None else f"{s.min_effect:g}"),
        ("W&B", f"project {experiment.wandb_project}, group {experiment.name}, tags variant:<name>"),
    ]
    if experiment.sequential is not None and results.sequential is not None:
        design = results.sequential.design
        items.append(("sequential", f"a look every {design.runs_per_look} runs, at most {design.max_runs_per_variant}"))
    if results.reanalysis is not None:
        items.insert(0, ("re-analysis", reanalysis_line(results.reanalysis)))
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items) + "</dl>"


def _link(target: Path, out: Path, text: str) -> str:
    return f'<a href="{_e(Path(os.path.relpath(target, out)).as_posix())}">{_e(text)}</a>'


def _log_file(experiment_dir: Path, record: RunRecord) -> Path | None:
    """The job's own log, as its status record names it, where it still exists."""
    status = read_status(experiment_dir / record.job_dir) or {}
    found = [Path(f) for f in status.get("log_files") or [] if Path(f).is_file()]
    return found[0] if found else None


def _score(results: ExperimentResults, record: RunRecord) -> str:
    values = results.scores.get(record.variant)
    if values is None or not 1 <= record.run_index <= len(values) or math.isnan(values[record.run_index - 1]):
        return "-"
    censored = results.censored.get(record.variant)
    mark = "+" if censored is not None and censored[record.run_index - 1] else ""
    return fmt_num(float(values[record.run_index - 1])) + mark


def _runs_table(results: ExperimentResults, out: Path, colors: dict[str, str]) -> str:
    tasks = bool(results.experiment.tasks)  # a column only for a suite whose runs train one task each
    rows = []
    for record in results.records:
        job_dir = results.experiment_dir / record.job_dir
        log = _log_file(results.experiment_dir, record)
        status = _e(record.status) if record.status == COMPLETED else f"<span class=failed>{_e(record.status)}</span>"
        rows.append([
            _variant_name(record.variant, colors), *([_e(record.task or "")] if tasks else []), str(record.run_index),
            "-" if record.seed is None else str(record.seed), status, str(record.attempts),
            "-" if record.duration is None else f"{record.duration:.1f}s", _e(_score(results, record)),
            _link(job_dir, out, record.job_dir) if job_dir.is_dir() else _e(record.job_dir),
            _link(log, out, log.name) if log else "-", _e(record.error or ""),
        ])  # fmt: skip
    head = ["variant", *(["task"] if tasks else []), "run", "seed", "status", "attempts", "duration", "score"]
    return _table([*head, "job directory", "log", "error"], rows, names=1 + tasks)


def _text_block(title: str, lines: list[str]) -> str:
    return f"<h2>{_e(title)}</h2><pre>{_e(chr(10).join(lines))}</pre>" if lines else ""


def report_html(results: ExperimentResults, out: Path, images: dict[str, str]) -> str:
    """The page for a report written into `out`; `images`: figure stem -> data URI, the verdict figure first."""
    experiment = results.experiment
    colors = variant_colors([v.name for v in experiment.variants])
    opening = ""
    if results.reanalysis is not None:
        exploratory = " class=exploratory" if results.reanalysis.exploratory else ""
        opening = f"<p{exploratory}>{_e(reanalysis_line(results.reanalysis))}</p>"
    description = f"<p class=meta>{_e(experiment.description)}</p>" if experiment.description else ""
    parts = [
        f"<h1>A/B experiment: {_e(experiment.name)}</h1>",
        opening,
        description,
        _verdict(results),
        "<h2>Figures</h2>",
        _figures(images),
        "<h2>Variants</h2>",
        _variants_table(results, colors),
        "<h2>Comparisons</h2>",
        _comparisons_table(results, colors),
    ]
    if results.sequential is not None:
        parts.append(_text_block("Sequential looks", look_rows(results.sequential)))
    if results.suite is not None:
        per_task = per_task_rows(results.suite, sequential=results.sequential is not None)
        parts.append(_text_block("Suite: aggregate and every task", [*aggregate_rows(results.suite), "", *per_task]))
    parts += ["<h2>Design and analysis settings</h2>", _settings(results)]
    if results.injection:
        notes = "".join(f"<li>{_e(note)}</li>" for note in results.injection)
        parts.append(f"<h2>Injection notes</h2><ul>{notes}</ul>")
    parts += [f"<h2>Runs ({len(results.records)})</h2>", _runs_table(results, out, colors)]
    parts.append(_text_block("summary.txt", summary_text(results).splitlines()))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(experiment.name)}: A/B verdict</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(part for part in parts if part)
        + "\n</body></html>\n"
    )
