"""From recorded runs to the verdict: one score per run, then the statistics of `metta_ab.stats`.

The sweeper calls `analyze_runs` at the end of a sweep; `metta-ab analyze` calls `analyze_directory`,
which recomputes everything from the experiment directory without rerunning anything: a re-analysis, which
records the settings the sweep declared and what it changed (`Reanalysis`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metta_ab import stats
from metta_ab.analysis.no_number import ANALYZE_METRIC_FIX, LOG_DIR_FIX, metric_not_found, nothing_found, stray_note
from metta_ab.analysis.scores import score_run, threshold_time
from metta_ab.analysis.secondary import SecondaryResult, analyze_secondary
from metta_ab.analysis.stats_settings import stats_settings
from metta_ab.analysis.suite import (
    SuiteResults,
    aggregate_analysis,
    analyze_suite_scores,
    no_tasks_message,
    suite_scores,
    with_verdicts,
)
from metta_ab.definition.design_checks import check_suite
from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import TASK_FIELD, ABExperiment, AnalysisSettings
from metta_ab.definition.loading import load_experiment
from metta_ab.definition.metric_reader import MetricReader
from metta_ab.plan import seeds_are_paired
from metta_ab.records.ledger import (
    COMPLETED,
    EXPERIMENT_CONFIG,
    FAILED,
    LEDGER_FILE,
    PLANNED,
    Ledger,
    RunRecord,
    read_json,
    read_status,
)
from metta_ab.records.looks import Looks, SequentialOutcome, design_for, runs_needed
from metta_ab.sources import RunMetrics, collect_run_metrics
from metta_ab.sources.stray_logs import StrayLogs, stray_log_files
from metta_ab.text_format import fmt_list, fmt_setting

MULTIRUN_YAML = "multirun.yaml"  # the sweep's config as Hydra composed it, `ab.analysis.*` included


@dataclass(frozen=True)
class Reanalysis:
    """A re-analysis of a sweep's runs: the analysis settings the sweep declared and the ones used (both
    resolved). With any change it is exploratory: chosen after the results were seen, so it never replaces the
    sweep's own report."""

    declared: AnalysisSettings
    used: AnalysisSettings

    @property
    def changed(self) -> dict[str, tuple[Any, Any]]:
        """{setting: (declared, used)} for every setting this analysis changed."""
        declared, used = vars(self.declared), vars(self.used)
        return {key: (declared[key], used[key]) for key in used if used[key] != declared[key]}

    @property
    def exploratory(self) -> bool:
        return bool(self.changed)

    def directory_name(self, limit: int = 100) -> str:
        """`metric=acc,direction=max` (what differs, safe as a file name), or `declared` when nothing does."""
        if not self.changed:
            return "declared"
        text = ",".join(f"{key}={fmt_setting(used)}" for key, (_, used) in self.changed.items())
        name = re.sub(r"[^A-Za-z0-9._,=+-]", "_", text)
        if len(name) > limit:  # long metric names: a prefix and a hash keep it unique and within NAME_MAX
            name = name[: limit - 9] + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]
        return name


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

    # curve_summary "threshold": by variant, True where the run ended without reaching the threshold (its
    # score is then its last step, a censored time)
    censored: dict[str, np.ndarray] = field(default_factory=dict)
    non_finite: list[dict[str, Any]] = field(default_factory=list)  # runs scored inf / NaN, and how each counts
    looks: list[dict[str, Any]] = field(default_factory=list)  # every analysis the sweeper wrote (looks.json)
    sequential: SequentialOutcome | None = None  # a .set_sequential(...) experiment's looks and decisions
    # a suite of tasks: per task and aggregated; `scores` and `analysis` are then the aggregate's (each run's
    # mean normalized score across tasks, and the comparisons of those)
    suite: SuiteResults | None = None
    # why some comparison has no verdict (no run reported the metric, too few scored runs), with the fix;
    # None when every comparison was tested. The report opens with it and the sweep exits non-zero.
    no_verdict: str | None = None
    reanalysis: Reanalysis | None = None  # a `metta-ab analyze` of the runs: declared vs used settings
    secondary: tuple[SecondaryResult, ...] = ()  # .add_metric(...): beside the verdict, never deciding it

    @property
    def metric(self) -> str | None:
        return self.settings.metric

    def look_scores(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        """What a sequential look decides on (`decide_look`'s scores and control_scores): the run scores; for a
        suite, per treatment the units its aggregate test compares (each run's mean normalized score across
        tasks) and the control's units beside them, so that the look tests what the fixed design would."""
        if self.suite is None:
            return self.scores, None
        aggregate = self.suite.aggregate
        scores = {aggregate.control: self.scores[aggregate.control]}
        scores |= {c.treatment: np.asarray(c.units[0], float) for c in aggregate.comparisons}
        return scores, {c.treatment: np.asarray(c.units[1], float) for c in aggregate.comparisons}


def _non_finite_note(non_finite: list[dict[str, Any]], metric: str, shown: int = 10) -> str:
    listed = fmt_list([f"{r['job_dir']} ({r['value']})" for r in non_finite], shown)
    return (
        f"{len(non_finite)} run(s) scored a non-finite {metric!r}: {listed}. The rank tests (Mann-Whitney, "
        "Wilcoxon) and P(T>C) count +-inf as the extreme score it is, and a comparison with one is decided "
        "by the rank test; the tests on means (t-test, permutation test, bootstrap CIs) leave it out, with the "
        "count in the comparison's warnings. NaN has no order: it is left out of every test, like a run "
        "without a value."
    )


def _treatment(value: float) -> str:
    if math.isnan(value):
        return "left out of every test (NaN has no order)"
    return "ranked as the extreme score by the rank tests and P(T>C); left out of the tests on means"


def collect_metrics(
    experiment: ABExperiment, records: Sequence[RunRecord], experiment_dir: Path, wanted: str | Sequence[str] | None
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
        listed = fmt_list(runs, shown)
        warnings.append(f"{problem} [{len(runs)} run(s): {listed}]")
    return warnings


def why_unscored(record: RunRecord, metric: str | None) -> str:
    """Why a run of the analysis has no score, in the words the report uses."""
    if record.status == COMPLETED:
        return f"reported no value for {metric!r}" if metric else "reported no number"
    if record.status == FAILED:
        return "interrupted" if record.interrupted else "failed"
    return "not run yet" if record.status == PLANNED else "still running"


def identical_runs_note(records: Sequence[RunRecord], scores: dict[str, np.ndarray]) -> str | None:
    """Variants whose runs were given different seeds and all scored exactly the same: a saturated metric, or a
    seed that never reached what the app randomizes (then its runs are copies of one run, not samples)."""
    seeds: dict[str, set[int]] = {}
    for record in records:
        if record.seed is not None:
            seeds.setdefault(record.variant, set()).add(record.seed)
    identical = []
    for variant, values in scores.items():
        scored = values[~np.isnan(values)]
        if scored.size >= 2 and len(seeds.get(variant, ())) >= 2 and np.all(scored == scored[0]):
            identical.append(f"{variant!r} ({scored.size} runs, each {scored[0]:g})")
    if not identical:
        return None
    return (
        f"the runs of {', '.join(identical)} scored exactly the same although their seeds differ: either the "
        "metric saturates, or the app does not use the seed it is given (then point ab.inject.seed at the key it "
        "seeds with, or pass the seed on in the experiment, e.g. data__random_state='${seed}'): copies of one run "
        "are not independent samples"
    )


def unscored_note(
    records: Sequence[RunRecord], scores: dict[str, np.ndarray], metric: str | None, explained: set[str]
) -> str | None:
    """The reason of every run whose score is missing ("runs without a score: 2 failed (a_run_1, b_run_3); 1
    interrupted (b_run_2)"), but those in `explained` (noted elsewhere): no sentence about dropped runs or pairs
    has to guess it."""
    by_reason: dict[str, list[str]] = {}
    for record in records:
        values = scores.get(record.variant)
        if (
            record.job_dir in explained
            or values is None
            or record.run_index > len(values)
            or not math.isnan(values[record.run_index - 1])
        ):
            continue
        by_reason.setdefault(why_unscored(record, metric), []).append(record.job_dir)
    if not by_reason:
        return None
    parts = []
    for reason, job_dirs in by_reason.items():
        shown = fmt_list(job_dirs, 5)
        parts.append(f"{len(job_dirs)} {reason} ({shown})")
    return "runs without a score: " + "; ".join(parts)


def _no_verdict(
    analysis: stats.Analysis | None,
    records: Sequence[RunRecord],
    metrics: dict[str, RunMetrics],
    metric: str | None,
    reasons: Sequence[str],
    experiment_dir: Path,
    reader: MetricReader | None,
) -> str | None:
    """Why no verdict (None when every comparison was tested): `reasons` are what the analysis already knows
    (no metric at all, no task found); else the untested comparisons and why their runs have no score."""
    if analysis is not None:
        untested = [c for c in analysis.comparisons if c.verdict == stats.INSUFFICIENT]
        if not untested:
            return None
    if reasons:
        return " ".join(reasons)
    unfinished = sum(r.status != COMPLETED for r in records)
    if unfinished == len(records):
        return "no run completed: see why in the failed runs and their logs, fix it and run the same command again."
    if metric is not None and not any(found.has(metric) for found in metrics.values()):
        return unreported(metric, records, metrics, experiment_dir, reader)
    assert analysis is not None
    pairs = ", ".join(f"{c.treatment} vs {c.control}" for c in untested)
    fewer = f"{pairs}: fewer than 2 scored runs per variant{' (pairs, with paired seeds)' if analysis.paired else ''}"
    retry = f"run the same command again to retry the {unfinished} run(s) that did not complete"
    silent = [job_dir for job_dir, found in metrics.items() if metric is not None and not found.has(metric)]
    if silent:  # completed without the number: more runs would not help, where the numbers went would
        shown = fmt_list(silent, 5)
        strays = stray_logs(experiment_dir, records)
        where = f" {stray_note(strays)} {log_dir_fix(experiment_dir)}" if strays.files else ""
        return f"{fewer}: {len(silent)} run(s) completed without a value for {metric!r} ({shown}).{where}" + (
            f" Then {retry}." if unfinished else ""
        )
    again = f"{retry}, or " * bool(unfinished)
    return f"{fewer}; {again}raise runs_per_variant (a rerun adds only the new runs)."


def unreported(
    metric: str | None,
    records: Sequence[RunRecord],
    metrics: dict[str, RunMetrics],
    experiment_dir: Path,
    reader: MetricReader | None,
) -> str:
    """Why no completed run has `metric` (None: no number at all): the names they did report (a typo), or that
    they reported nothing, with the reader that returned None for all of them; and in both cases the log files
    the runs wrote outside their job directories, which is where the numbers usually went."""
    completed = [metrics[r.job_dir] for r in records if r.status == COMPLETED and r.job_dir in metrics]
    strays = stray_logs(experiment_dir, records)
    if metric is not None and any(found.names for found in completed):
        named = metric_not_found(metric, metrics)
        if strays.files:
            went = f"If {metric!r} is in them, that is where the numbers went."
            return f"{named} {stray_note(strays)} {went} {log_dir_fix(experiment_dir)}"
        return named
    none_everywhere = reader is not None and all(found.reader_returned_none for found in completed)
    fix = log_dir_fix(experiment_dir)
    return nothing_found(metric, len(completed), reader if none_everywhere else None, strays, fix)


def stray_logs(experiment_dir: Path, records: Sequence[RunRecord]) -> StrayLogs:
    """Log files written while the completed runs ran, outside the job directories, under the directory the
    sweep was launched from; none when the runs' times are not known."""
    completed = [r for r in records if r.status == COMPLETED]
    starts = [r.started_at for r in completed if r.started_at is not None]
    ends = [r.finished_at for r in completed if r.finished_at is not None]
    if not (starts and ends):
        return StrayLogs(experiment_dir, [], False)
    return strays_since_launch(experiment_dir, [experiment_dir / r.job_dir for r in records], min(starts), max(ends))


def strays_since_launch(
    experiment_dir: Path, job_dirs: Sequence[Path], written_from: float, written_until: float
) -> StrayLogs:
    """`metta_ab.sources.stray_logs` under the directory the sweep was launched from (none when it is not
    known: no multirun.yaml)."""
    launch_dir = launch_directory(experiment_dir)
    if launch_dir is None or not launch_dir.is_dir():
        return StrayLogs(experiment_dir, [], False)
    return stray_log_files(launch_dir, job_dirs, written_from, written_until)


def _pick_metric(metrics: dict[str, RunMetrics], records: Sequence[RunRecord]) -> str | None:
    for record in records:
        if record.status == COMPLETED and record.job_dir in metrics:
            found = metrics[record.job_dir]
            names = list(found.final) or list(found.curves)
            if names:
                return names[0]
    return None


def _injection_notes(experiment_dir: Path) -> tuple[list[str], list[str]]:
    """What the sweep recorded about injection targets the app lacks (see the plan's "Injection:" lines), and
    the ones among them that are warnings, as the report lists them."""
    ledger = read_json(experiment_dir / LEDGER_FILE)
    notes = ledger.get("injection_notes") if isinstance(ledger, dict) else None
    notes = [str(n) for n in notes] if isinstance(notes, list) else []
    return notes, [note.removeprefix("WARNING: ") for note in notes if note.startswith("WARNING: ")]


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
    template = TASK_FIELD in (settings.metric or "")  # a suite's metric: every match is a task
    wanted = None if template else [settings.metric, *(m.name for m in experiment.secondary_metrics)]
    metrics = collect_metrics(experiment, records, experiment_dir, None if settings.metric is None else wanted)
    warnings += source_warnings(metrics)
    if template or experiment.tasks:
        return _suite_results(experiment, list(records), experiment_dir, settings, metrics, warnings)
    if settings.metric is None:
        picked = _pick_metric(metrics, records)
        settings = settings.over(AnalysisSettings(metric=picked))
        if picked:
            warnings.append(
                f"No metric was declared; analyzing {picked!r}. Declare it before running with "
                ".set_metric(name, direction) so the analysis cannot be chosen after seeing the results."
            )
    looks = Looks.load(experiment_dir)
    planned, sequential = _planned_runs(experiment, looks, settings)
    if sequential is not None:  # runs the looks never reached are not part of the experiment
        records = [r for r in records if r.run_index <= planned[r.variant]]
    else:
        warnings += looks.growth_warnings(experiment.runs_per_variant)
    scores = {v.name: np.full(planned[v.name], np.nan) for v in experiment.variants}
    threshold = settings.curve_summary == "threshold"
    censored = {v.name: np.zeros(planned[v.name], bool) for v in experiment.variants} if threshold else {}
    non_finite: list[dict[str, Any]] = []
    if settings.metric is not None:
        never = []
        for record in records:
            if record.job_dir in metrics and record.variant in scores and record.run_index <= planned[record.variant]:
                found = metrics[record.job_dir]
                if threshold:
                    value, was_censored = threshold_time(found, settings)
                    censored[record.variant][record.run_index - 1] = was_censored
                    if was_censored:
                        never.append(record.job_dir)
                else:
                    value = score_run(found, settings)
                scores[record.variant][record.run_index - 1] = value
                reported_nan = math.isnan(value) and math.isnan(found.final.get(settings.metric, 0.0))
                if math.isinf(value) or (reported_nan and settings.metric not in found.curves):
                    non_finite.append(
                        {
                            "job_dir": record.job_dir,
                            "variant": record.variant,
                            "run_index": record.run_index,
                            "value": str(value),
                            "treated_as": _treatment(value),
                        }
                    )
        if never:
            warnings.append(
                f"{len(never)} completed run(s) never reached {settings.metric} {settings.threshold:g}: each counts "
                "as censored at its last step (it needed at least that long), not as failed: "
                + ", ".join(never[:10])
                + (" ..." if len(never) > 10 else "")
            )
        if non_finite:
            warnings.append(_non_finite_note(non_finite, settings.metric))
    analysis, reasons, secondary = None, [], ()
    paired = seeds_are_paired((r.run_index, r.seed) for r in records)
    if settings.metric is not None:
        analysis = stats.analyze(
            scores,
            stats_settings(settings, paired=paired),
            control=settings.control or experiment.variants[0].name,
            censored=censored if threshold else None,  # min_effect does not apply to times: analyze leaves it out
        )
        if sequential is not None:
            analysis = _sequential_verdicts(analysis, sequential)
        secondary = analyze_secondary(experiment, records, metrics, settings, planned, paired)
    elif any(r.status == COMPLETED for r in records):
        reasons.append(unreported(None, records, metrics, experiment_dir, experiment.metric_reader))
    unscored = unscored_note(records, scores, settings.metric, explained={r["job_dir"] for r in non_finite})
    warnings += [note for note in (unscored, identical_runs_note(records, scores)) if note]
    injection, injection_warnings = _injection_notes(experiment_dir)
    warnings += injection_warnings
    return ExperimentResults(
        experiment,
        experiment_dir,
        list(records),
        settings,
        metrics,
        scores,
        analysis,
        warnings,
        injection,
        censored=censored,
        non_finite=non_finite,
        looks=looks.entries,
        sequential=sequential,
        secondary=secondary,
        no_verdict=_no_verdict(
            analysis, records, metrics, settings.metric, reasons, experiment_dir, experiment.metric_reader
        ),
    )


def _suite_results(
    experiment: ABExperiment,
    records: list[RunRecord],
    experiment_dir: Path,
    settings: AnalysisSettings,
    metrics: dict[str, RunMetrics],
    warnings: list[str],
) -> ExperimentResults:
    """A suite of tasks: scores per (variant, task, run), per-task analyses and the aggregate verdict."""
    check_suite(experiment, settings, f"experiment {experiment.name!r}")
    assert settings.metric is not None
    read_problems = list(warnings)  # so far only what reading the runs' metric sources said
    looks = Looks.load(experiment_dir)
    planned, sequential = _planned_runs(experiment, looks, settings)
    if sequential is not None:  # runs the looks never reached are not part of the experiment
        records = [r for r in records if r.run_index <= planned[r.variant]]
    else:
        warnings += looks.growth_warnings(experiment.runs_per_variant)
    tasks, source, scores, missing = suite_scores(experiment, records, metrics, settings, planned)
    injection, injection_warnings = _injection_notes(experiment_dir)
    warnings += injection_warnings
    common = {"injection": injection, "looks": looks.entries, "sequential": sequential}
    if not tasks:
        names = list(dict.fromkeys(n for found in metrics.values() for n in found.names))
        reason = no_tasks_message(settings.metric, experiment_dir, names)
        empty = {v.name: np.full(0, np.nan) for v in experiment.variants}
        return ExperimentResults(
            experiment, experiment_dir, records, settings, metrics, empty, None, warnings, **common, no_verdict=reason
        )
    for task, job_dirs in missing.items():
        shown = ", ".join(job_dirs[:5]) + (" ..." if len(job_dirs) > 5 else "")
        warnings.append(f"task {task!r}: {len(job_dirs)} completed run(s) reported no score for it: {shown}")
    control = settings.control or experiment.variants[0].name
    paired = seeds_are_paired((r.run_index, r.seed) for r in records)
    try:
        suite = analyze_suite_scores(tasks, source, scores, missing, settings, control, paired)
    except ExperimentError as error:  # e.g. no control score on a task: say why the runs have none
        said = "; ".join(read_problems)
        raise ExperimentError(f"{error}; what reading the runs said: {said}" if said else str(error)) from None
    run_means = {v: np.asarray(m, float) for v, m in suite.aggregate.run_means.items()}
    analysis = aggregate_analysis(suite)
    if sequential is not None:
        analysis = _sequential_verdicts(analysis, sequential)
        suite = with_verdicts(suite, analysis)
    no_verdict = _no_verdict(analysis, records, metrics, None, [], experiment_dir, experiment.metric_reader)
    return ExperimentResults(
        experiment, experiment_dir, records, settings, metrics, run_means, analysis, warnings, **common, suite=suite,
        no_verdict=no_verdict,
    )  # fmt: skip


def _planned_runs(
    experiment: ABExperiment, looks: Looks, settings: AnalysisSettings
) -> tuple[dict[str, int], SequentialOutcome | None]:
    """Runs per variant the experiment is made of: runs_per_variant, or for a sequential experiment the runs
    its looks reached (the current look's included while it runs)."""
    names = [v.name for v in experiment.variants]
    if experiment.sequential is None:
        return dict.fromkeys(names, experiment.runs_per_variant), None
    design = design_for(experiment, looks.rule["alpha"] if looks.rule else settings.alpha)
    history = looks.history()
    planned = runs_needed(design, history, names)
    return planned, SequentialOutcome(design, tuple(history), planned, jobs_per_run=len(experiment.tasks) or 1)


def _sequential_verdicts(analysis: stats.Analysis, outcome: SequentialOutcome) -> stats.Analysis:
    """A sequential experiment's verdicts are its looks' decisions; the p-values beside them are the
    fixed-sample ones of the runs used, which do not account for the looks."""
    comparisons = []
    for c in analysis.comparisons:
        decision = outcome.decision_of(c.treatment)
        if decision in (stats.BETTER, stats.WORSE, stats.EQUIVALENT, stats.INCONCLUSIVE):
            look = outcome.decided_at(c.treatment) or len(outcome.history)
            note = f"the verdict is the sequential design's (decided at look {look}); {_P_NOTE}"
        else:
            decision = stats.INCONCLUSIVE
            note = f"not decided yet: the sequential experiment stopped before its looks ended; {_P_NOTE}"
        comparisons.append(dataclasses.replace(c, verdict=decision, warnings=(*c.warnings, note)))
    return dataclasses.replace(analysis, comparisons=tuple(comparisons))


_P_NOTE = "its p-value and CI are those of a fixed design over the runs used and do not account for the looks"


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


def _multirun_config(experiment_dir: Path, needed_for: str) -> Any:
    """The sweep's config as its multirun.yaml recorded it; None without that file (a directory fetched from
    W&B). ExperimentError, saying what it was `needed_for`, when it cannot be read."""
    import yaml

    path = experiment_dir / MULTIRUN_YAML
    if not path.is_file():
        return None
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ExperimentError(
            f"{path} cannot be read ({type(error).__name__}), so {needed_for} not known; restore it, or rerun the "
            "sweep (completed runs are not run again), which writes it"
        ) from None


def launch_directory(experiment_dir: Path) -> Path | None:
    """The directory the sweep was started from (Hydra's `hydra.runtime.cwd` in multirun.yaml), or None."""
    try:
        config = _multirun_config(experiment_dir, "the directory the sweep was started from is")
    except ExperimentError:
        return None  # only a hint is lost; the analysis settings say so when they are read
    hydra = config.get("hydra") if isinstance(config, dict) else None
    runtime = hydra.get("runtime") if isinstance(hydra, dict) else None
    cwd = runtime.get("cwd") if isinstance(runtime, dict) else None
    return Path(cwd) if isinstance(cwd, str) and cwd else None


def log_dir_fix(experiment_dir: Path) -> str:
    """How to get the numbers that went to log files outside the job directories: LOG_DIR_FIX, and where the
    sweep turned the moving of the app's log directories off (ab.inject.paths=null), to turn it back on."""
    try:
        config = _multirun_config(experiment_dir, "ab.inject.paths is")
    except ExperimentError:
        config = None
    inject = (config.get("ab") or {}).get("inject") if isinstance(config, dict) else None
    if isinstance(inject, dict) and "paths" in inject and inject["paths"] is None:
        return f"{LOG_DIR_FIX} Or drop ab.inject.paths=null: by default the sweeper moves such keys into each job dir."
    return LOG_DIR_FIX


def sweep_analysis_settings(experiment_dir: Path) -> AnalysisSettings:
    """The `ab.analysis.*` settings the sweep ran with (over the experiment's), as its multirun.yaml recorded
    them; none without that file (a directory fetched from W&B)."""
    config = _multirun_config(experiment_dir, "the analysis settings the sweep declared are")
    ab = config.get("ab") if isinstance(config, dict) else None
    analysis = ab.get("analysis") if isinstance(ab, dict) else None
    names = {f.name for f in dataclasses.fields(AnalysisSettings)}
    return AnalysisSettings(**{k: v for k, v in (analysis or {}).items() if k in names})


def _check_direction_given(declared: AnalysisSettings, overrides: AnalysisSettings) -> None:
    """A metric other than the declared one must say which way is better: inheriting the declared metric's
    direction judges accuracy as lower-is-better on an experiment declared on a loss."""
    metric = overrides.metric
    if metric is None or metric == declared.metric or overrides.direction is not None:
        return
    if declared.metric is None:
        said = "the experiment declared no metric, so which way is better is not known"
    else:
        direction = declared.resolved().direction
        said = f"it is not the declared metric {declared.metric!r} and must not inherit its direction ({direction})"
    raise ExperimentError(
        f"metric {metric!r}: {said}; add --direction max (higher is better) or --direction min (lower is better)"
    )


def analyze_directory(experiment_dir: Path, overrides: AnalysisSettings | None = None) -> ExperimentResults:
    """Recompute the verdict of a finished (or partly finished) experiment from its files: the declared analysis
    (the experiment's settings with the sweep's `ab.analysis.*`), with `overrides` on top."""
    experiment_dir = Path(experiment_dir)
    config = experiment_dir / EXPERIMENT_CONFIG
    if not config.is_file():
        raise ExperimentError(
            f"{experiment_dir} is not an experiment directory (no {EXPERIMENT_CONFIG}); pass the directory the "
            "sweep wrote, e.g. ab_test_results/<experiment name>"
        )
    experiment = load_experiment(config)
    sweep_settings = sweep_analysis_settings(experiment_dir)
    declared = experiment.analysis.over(sweep_settings)
    overrides = overrides or AnalysisSettings()
    _check_direction_given(declared, overrides)
    records = records_from_directory(experiment, experiment_dir)
    results = analyze_runs(experiment, records, experiment_dir, sweep_settings.over(overrides))
    results.reanalysis = Reanalysis(declared.resolved(), declared.over(overrides).resolved())
    metric, found = overrides.metric, results.metrics.values()
    if (
        results.no_verdict
        and metric
        and TASK_FIELD not in metric
        and any(f.names for f in found)
        and not any(f.has(metric) for f in found)
    ):
        results.no_verdict = metric_not_found(metric, results.metrics, fix=ANALYZE_METRIC_FIX)
    return results
