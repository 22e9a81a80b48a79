"""From recorded runs to the verdict: one score per run, then the statistics of `stats.py`.

The sweeper calls `analyze_runs` at the end of a sweep; `metta-ab analyze` calls `analyze_directory`,
which recomputes everything from the experiment directory without rerunning anything.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from metta_ab import stats
from metta_ab.experiment import ABExperiment, AnalysisSettings, ExperimentError
from metta_ab.ledger import COMPLETED, EXPERIMENT_CONFIG, LEDGER_FILE, Ledger, RunRecord, read_json, read_status
from metta_ab.loading import load_experiment
from metta_ab.sources import SOURCES, RunMetrics, collect_run_metrics


@dataclass
class ExperimentResults:
    """Everything the report needs: the runs, their metrics and scores, and the statistical analysis."""

    experiment: ABExperiment
    experiment_dir: Path
    records: list[RunRecord]
    settings: AnalysisSettings  # resolved: no None left but metric/threshold/last_k/min_effect/control
    metrics: dict[str, RunMetrics]  # by job_dir
    scores: dict[str, np.ndarray]  # by variant, index i = run i + 1, NaN where failed or missing
    analysis: stats.Analysis | None
    warnings: list[str] = field(default_factory=list)
    injection: list[str] = field(default_factory=list)  # where the sweeper could not inject (ledger header)

    @property
    def metric(self) -> str | None:
        return self.settings.metric


def score_run(metrics: RunMetrics, settings: AnalysisSettings) -> float:
    """One number per run: a summary of its learning curve when there is one, else its reported value."""
    metric = settings.metric
    assert metric is not None
    curve = metrics.curves.get(metric)
    if curve is None or settings.curve_summary == "returned":
        if settings.curve_summary in ("auc", "threshold"):
            return math.nan
        return metrics.final.get(metric, math.nan)
    if settings.curve_summary == "auc":
        return float(stats.normalized_auc(curve.steps, curve.values))
    if settings.curve_summary == "threshold":
        value = stats.time_to_threshold(curve.steps, curve.values, settings.threshold, settings.direction)
        return math.nan if value is None else float(value)
    if settings.last_k is not None:
        return float(stats.final_score(curve.values, last_k=settings.last_k))
    return float(stats.final_score(curve.values))


def collect_metrics(
    experiment: ABExperiment, records: Sequence[RunRecord], experiment_dir: Path, wanted: str | None
) -> dict[str, RunMetrics]:
    """Every completed run's numbers (`metta_ab.sources`), by job directory."""
    return {
        r.job_dir: collect_run_metrics(experiment_dir / r.job_dir, r.return_value, wanted, experiment.metric_reader)
        for r in records
        if r.status == COMPLETED
    }


def source_warnings(metrics: dict[str, RunMetrics], shown: int = 5) -> list[str]:
    """What could not be read, once per problem, with the runs it happened on."""
    runs_by_problem: dict[str, list[str]] = {}
    for job_dir, found in metrics.items():
        for problem in dict.fromkeys(found.warnings):
            runs_by_problem.setdefault(problem, []).append(job_dir)
    warnings = []
    for problem, runs in runs_by_problem.items():
        listed = ", ".join(runs[:shown]) + (f" and {len(runs) - shown} more" if len(runs) > shown else "")
        warnings.append(f"{problem} [{len(runs)} run(s): {listed}]")
    return warnings


def metric_not_found(metric: str, metrics: dict[str, RunMetrics], shown: int = 12) -> str:
    """The warning for a declared metric no run reported: the names the runs did report, closest first."""
    names = list(dict.fromkeys(name for found in metrics.values() for name in found.names))
    if not names:
        return (
            f"No run reported {metric!r}, nor any other number. Looked at "
            + ", ".join(source.name for source in SOURCES)
            + "; for anything else, declare a reader: .set_metric(name, reader=fn)."
        )
    closeness = {name: difflib.SequenceMatcher(None, metric.lower(), name.lower()).ratio() for name in names}
    names.sort(key=lambda name: -closeness[name])
    listed = ", ".join(repr(n) for n in names[:shown])
    listed += f" and {len(names) - shown} more" if len(names) > shown else ""
    return (
        f"No run reported {metric!r}; the runs reported {listed} (closest first). Fix the name in "
        f".set_metric({names[0]!r}, ...), or analyze another one with metta-ab analyze --metric NAME."
    )


def _pick_metric(metrics: dict[str, RunMetrics], records: Sequence[RunRecord]) -> str | None:
    for record in records:
        if record.status == COMPLETED and record.job_dir in metrics:
            found = metrics[record.job_dir]
            names = list(found.final) or list(found.curves)
            if names:
                return names[0]
    return None


def _is_paired(records: Sequence[RunRecord]) -> bool:
    """Paired when run i got the same seed in every variant (the plan's default); never when the sweeper
    could not seed the runs (seed None: the app has no key for it)."""
    seeds: dict[int, set[int | None]] = {}
    for record in records:
        seeds.setdefault(record.run_index, set()).add(record.seed)
    return bool(seeds) and all(len(s) == 1 and None not in s for s in seeds.values())


def _injection_notes(experiment_dir: Path) -> list[str]:
    """What the sweep recorded about injection targets the app lacks (see the plan's "Injection:" lines)."""
    ledger = read_json(experiment_dir / LEDGER_FILE)
    notes = ledger.get("injection_notes") if isinstance(ledger, dict) else None
    return [str(n) for n in notes] if isinstance(notes, list) else []


def analyze_runs(
    experiment: ABExperiment,
    records: Sequence[RunRecord],
    experiment_dir: Path,
    overrides: AnalysisSettings | None = None,
) -> ExperimentResults:
    """Score every completed run and compare every variant with the control."""
    settings = experiment.analysis.over(overrides)
    settings.validate("analysis settings", [v.name for v in experiment.variants])
    settings = settings.resolved()
    warnings: list[str] = []
    metrics = collect_metrics(experiment, records, experiment_dir, settings.metric)
    warnings += source_warnings(metrics)
    if settings.metric is None:
        picked = _pick_metric(metrics, records)
        settings = settings.over(AnalysisSettings(metric=picked))
        if picked:
            warnings.append(
                f"No metric was declared; analyzing {picked!r}. Declare it before running with "
                ".set_metric(name, direction) so the analysis cannot be chosen after seeing the results."
            )
    scores = {v.name: np.full(experiment.runs_per_variant, np.nan) for v in experiment.variants}
    if settings.metric is not None:
        missing = []
        for record in records:
            if (
                record.job_dir in metrics
                and record.variant in scores
                and record.run_index <= experiment.runs_per_variant
            ):
                value = score_run(metrics[record.job_dir], settings)
                scores[record.variant][record.run_index - 1] = value
                if math.isnan(value):
                    missing.append(record.job_dir)
        if missing and not any(found.has(settings.metric) for found in metrics.values()):
            warnings.append(metric_not_found(settings.metric, metrics))
        if missing:
            what = "did not reach the threshold" if settings.curve_summary == "threshold" else "reported no value"
            warnings.append(
                f"{len(missing)} completed run(s) {what} for {settings.metric!r} and are left out: "
                + ", ".join(missing[:10])
                + (" ..." if len(missing) > 10 else "")
            )
    analysis = None
    if settings.metric is not None:
        analysis = stats.analyze(
            scores,
            control=settings.control or experiment.variants[0].name,
            paired=_is_paired(records),
            direction=settings.direction,
            alpha=settings.alpha,
            ci_level=settings.ci_level,
            n_resamples=settings.n_resamples,
            seed=settings.seed,
            min_effect=settings.min_effect,
        )
    else:
        warnings.append(
            "No run reported a numeric metric: there is nothing to compare. Looked at "
            + ", ".join(source.name for source in SOURCES)
            + " (a .set_metric(name, reader=fn) reader function can read anything else)."
        )
    injection = _injection_notes(experiment_dir)
    warnings += [note.removeprefix("WARNING: ") for note in injection if note.startswith("WARNING: ")]
    return ExperimentResults(
        experiment, experiment_dir, list(records), settings, metrics, scores, analysis, warnings, injection
    )


def records_from_directory(experiment: ABExperiment, experiment_dir: Path) -> list[RunRecord]:
    """The ledger's records; for a directory without a ledger, the job directories' status records."""
    ledger = Ledger.load(experiment_dir)
    if ledger is not None:
        return list(ledger.runs.values())
    records = []
    for variant in experiment.variants:
        for index in range(1, experiment.runs_per_variant + 1):
            job_dir = f"{variant.name}_run_{index}"
            record = RunRecord(variant.name, index, -1, job_dir, job_dir)
            status = read_status(experiment_dir / job_dir)
            if status is not None:
                record.absorb_status(status, launch_error=None)
                record.seed = status.get("seed", -1)
            records.append(record)
    return records


def analyze_directory(experiment_dir: Path, overrides: AnalysisSettings | None = None) -> ExperimentResults:
    """Recompute the verdict of a finished (or partly finished) experiment from its files."""
    experiment_dir = Path(experiment_dir)
    config = experiment_dir / EXPERIMENT_CONFIG
    if not config.is_file():
        raise ExperimentError(
            f"{experiment_dir} is not an experiment directory (no {EXPERIMENT_CONFIG}); pass the directory the "
            "sweep wrote, e.g. ab_test_results/<experiment name>"
        )
    experiment = load_experiment(config)
    return analyze_runs(experiment, records_from_directory(experiment, experiment_dir), experiment_dir, overrides)
