"""Experiment directories as a sweep leaves them, written directly: the analysis and the report are tested on
them without running an app."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from metta_ab.definition.experiment import ABExperiment, AnalysisSettings, create_experiment
from metta_ab.definition.loading import save_experiment
from metta_ab.plan import PlannedRun, PlanSettings, plan_experiment
from metta_ab.records.ledger import (
    EXPERIMENT_CONFIG,
    INTERRUPTED_PREFIX,
    Ledger,
    read_status,
    write_status,
)
from metta_ab.records.looks import Looks, completed_per_variant

INTERRUPTED = "interrupted"  # a run value: the sweep was stopped while it ran
NO_METRIC = "no metric"  # a run value: it completed and logged something else


def build(
    root: Path,
    runs: dict[str, list[object]],
    *,
    paired: bool = True,
    metric: str = "score",
    direction: str = "max",
    **analysis: object,
) -> Path:
    """An experiment directory as a sweep leaves it: experiment_config.yaml and, per job, ab_status.json
    (completed, the seed: shared by run i of every variant when `paired`) and metrics.json. A run is a
    number (its final value), a (steps, values) curve, None (a failed run), INTERRUPTED (a run the sweep's Ctrl-C
    stopped) or NO_METRIC (a completed run whose metrics.json lacks the metric)."""
    builder = create_experiment("built", "built by the test")
    for name in runs:
        builder.add_variant(name=name)
    experiment = builder.set_runs_per_variant(max(map(len, runs.values()))).set_metric(metric, direction).build()
    for key, value in analysis.items():
        setattr(experiment.analysis, key, value)
    root.mkdir(parents=True)
    save_experiment(experiment, root / EXPERIMENT_CONFIG)
    for v, (name, values) in enumerate(runs.items()):
        for i, value in enumerate(values, start=1):
            job = root / f"{name}_run_{i}"
            job.mkdir()
            seed = i - 1 if paired else 1000 * v + i
            if value is None or value is INTERRUPTED:
                error = f"{INTERRUPTED_PREFIX} by SIGINT" if value is INTERRUPTED else "RuntimeError: boom"
                write_status(job, {"status": "failed", "attempt": 1, "seed": seed, "error": error})
                continue
            write_status(job, {"status": "completed", "attempt": 1, "seed": seed, "return_value": None})
            if isinstance(value, tuple):
                layout = {"curve": {"step": list(value[0]), metric: list(value[1])}}
            else:
                layout = {"final": {"other": 1.0} if value is NO_METRIC else {metric: value}}
            (job / "metrics.json").write_text(json.dumps(layout))  # json writes inf / nan as Infinity / NaN
    return root


#: What one job of `sweep` does: a number (its final value), a (steps, values) curve, a {metric name: value} dict
#: (a run evaluating a suite's tasks), None (fails after its retries), INTERRUPTED (running when the sweep is
#: stopped) or NO_METRIC.
Outcome = Callable[[str, "str | None", int], object]  # (variant, task or None, run index) -> what the job does


def sweep(root: Path, experiment: ABExperiment, outcome: Outcome, *, paired: bool = True) -> Path:
    """The experiment directory the sweeper leaves, made by the sweeper's own bookkeeping with the launcher
    replaced: the plan (`plan_experiment`), the ledger of every planned run, a job directory per launched run
    as the job writes it (ab_status.json, metrics.json), and looks.json. A sequential design goes through the
    sweeper's own look loop (`_launch_by_looks`: `analyze_runs`, `decide_look`, `Looks.record_decision`), so it
    stops where a real sweep stops: after a decided look with nothing open, or at a look whose runs failed (not
    decided) or were interrupted; runs of looks never reached stay planned, without a job directory."""
    from hydra_plugins.ab_sweeper._core import ABSweep, _record_of

    root.mkdir(parents=True)
    save_experiment(experiment, root / EXPERIMENT_CONFIG)
    runs = plan_experiment(experiment, PlanSettings(paired_seeds=paired))
    ledger = Ledger.create(root, [_record_of(run) for run in runs])
    ledger.save()
    looks = Looks.load(root)
    launcher = _Launcher(root, experiment, outcome)
    try:
        if experiment.sequential is None:
            launcher._launch_with_retries(runs, ledger)
        else:
            ABSweep._check_looks_rule(launcher, runs, looks)  # type: ignore[arg-type]
            ABSweep._launch_by_looks(launcher, runs, ledger, looks)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pass  # the sweep writes its report and exits 130: the directory is as it was left
    if experiment.sequential is None:
        looks.record_analysis(experiment.runs_per_variant, completed_per_variant(ledger.runs.values()))
        looks.save()
    return root


@dataclass
class _Launcher:
    """The sweeper's state `_launch_by_looks` reads, with a launch that writes each job's records itself."""

    experiment_dir: Path
    experiment: ABExperiment
    outcome: Outcome
    settings: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(analysis=AnalysisSettings()))

    def _launch_with_retries(self, runs: Sequence[PlannedRun], ledger: Ledger, progress_total: int = 0) -> list:
        """One launch of `runs` (a failed run has failed its retries too); Ctrl-C once the round's records are
        saved, as `_launch_round` does, when a run was still running."""
        interrupted = False
        for run in runs:
            job = self.experiment_dir / run.job_dir
            job.mkdir(exist_ok=True)
            value = self.outcome(run.variant, run.task, run.index)
            interrupted |= value is INTERRUPTED
            _write_job(job, value, run.seed, self.experiment.analysis.metric or "score")
        for run in runs:
            status = read_status(self.experiment_dir / run.job_dir)
            ledger.runs[run.job_dir].absorb_status(status, interrupted=interrupted)
        ledger.save()
        if interrupted:
            raise KeyboardInterrupt
        return []


def _write_job(job: Path, value: object, seed: int | None, metric: str) -> None:
    if value is INTERRUPTED:
        write_status(job, {"status": "running", "attempt": 1, "seed": seed})
        return
    if value is None:
        write_status(job, {"status": "failed", "attempt": 1, "seed": seed, "error": "RuntimeError: boom"})
        return
    write_status(job, {"status": "completed", "attempt": 1, "seed": seed, "return_value": None})
    if isinstance(value, tuple):
        (job / "metrics.json").write_text(json.dumps({"curve": {"step": list(value[0]), metric: list(value[1])}}))
        return
    if value is NO_METRIC:
        final: dict = {"other": 1.0}
    else:
        final = dict(value) if isinstance(value, dict) else {metric: value}
    (job / "metrics.json").write_text(json.dumps({"final": final}))
