"""Experiment directories as a sweep leaves them, written directly: the analysis and the report are tested on
them without running an app."""

from __future__ import annotations

import json
from pathlib import Path

from metta_ab.definition.experiment import create_experiment
from metta_ab.definition.loading import save_experiment
from metta_ab.records.ledger import EXPERIMENT_CONFIG, INTERRUPTED_PREFIX, write_status

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
