"""Runs that logged only to the W&B server: fetch an experiment's group through the W&B public API and
write it as an experiment directory, so `metta-ab analyze` works on it like on a local sweep.

The interface to W&B is narrow on purpose (`api.runs(path, filters)` and, per run, `name`, `tags`,
`config`, `summary`, `scan_history()`): that is all this module touches, and what the tests record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import ABExperiment, ABVariant
from metta_ab.definition.loading import save_experiment
from metta_ab.plan import job_dir_name
from metta_ab.records.ledger import (
    COMPLETED,
    EXPERIMENT_CONFIG,
    FAILED,
    Ledger,
    RunRecord,
    json_safe,
    write_json_atomic,
)
from metta_ab.sources import METRICS_FILE

VARIANT_TAG, TASK_TAG = "variant:", "task:"
_RUN_INDEX = re.compile(r"_run_(\d+)\Z")


class ApiRun(Protocol):
    name: str
    tags: list[str]
    config: Mapping[str, Any]
    summary: Mapping[str, Any]
    state: str

    def scan_history(self) -> Iterable[Mapping[str, Any]]: ...


class Api(Protocol):
    def runs(self, path: str, filters: Mapping[str, Any]) -> Iterable[ApiRun]: ...


def fetch_group(path: str, group: str, api: Api | None = None) -> list[ApiRun]:
    """The runs of `group` in `entity/project` (wandb.Api() unless an `api` is given)."""
    if api is None:
        import wandb

        api = wandb.Api()
    return list(api.runs(path, filters={"group": group}))


def _tagged(run: ApiRun, prefix: str) -> str | None:
    """The `<prefix><name>` tag's name (variant:<name>, task:<name>), which the ab sweeper adds."""
    return next((t[len(prefix) :] for t in run.tags if t.startswith(prefix)), None)


def _columns(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """History rows (dicts) -> columns padded with None, the layout of metrics.json's curve."""
    rows = list(rows)
    names = list(dict.fromkeys(k for row in rows for k in row))
    columns = {name: [row.get(name) for row in rows] for name in names}
    if "_step" in columns and "step" not in columns:
        columns["step"] = columns.pop("_step")
    return columns


def write_experiment_dir(runs: list[ApiRun], group: str, experiment_dir: Path) -> ABExperiment:
    """Lay the runs out as a sweep would: experiment_config.yaml, ledger.json, one job dir per run. Runs tagged
    `task:<name>` (a suite trained one task per run) keep their task."""
    by_variant: dict[str, list[ApiRun]] = {}
    for run in runs:
        variant = _tagged(run, VARIANT_TAG)
        if variant is not None:
            by_variant.setdefault(variant, []).append(run)
    tasks = list(dict.fromkeys(t for r in runs if _tagged(r, VARIANT_TAG) and (t := _tagged(r, TASK_TAG)) is not None))
    by_arm: dict[tuple[str, str | None], list[ApiRun]] = {}
    for variant, variant_runs in by_variant.items():
        for run in variant_runs:
            by_arm.setdefault((variant, _tagged(run, TASK_TAG) if len(tasks) >= 2 else None), []).append(run)
    if len(by_variant) < 2:
        raise ExperimentError(
            f"W&B group {group!r}: found {len(by_variant)} variant(s) among {len(runs)} run(s); runs are matched "
            f"to variants by their '{VARIANT_TAG}<name>' tag, which the ab sweeper adds"
        )
    experiment = ABExperiment(
        name=group,
        description=f"imported from W&B group {group}",
        variants=[ABVariant(name) for name in by_variant],
        tasks=[ABVariant(name) for name in tasks] if len(tasks) >= 2 else [],
        runs_per_variant=max(len(v) for v in by_arm.values()),
    ).validate()
    records = []
    for (variant, task), arm_runs in by_arm.items():
        ordered = sorted(arm_runs, key=lambda r: _index(r.name, 10**9))
        for position, run in enumerate(ordered, start=1):
            index = _index(run.name, position)
            job_dir = job_dir_name(variant, index, task)
            finished = run.state == "finished"
            values = {k: v for k, v in dict(run.summary).items() if not k.startswith("_")}
            record = RunRecord(
                variant=variant,
                run_index=index,
                seed=dict(run.config).get("seed", -1),
                run_name=run.name,
                job_dir=job_dir,
                status=COMPLETED if finished else FAILED,
                attempts=1,
                error=None if finished else f"W&B run state: {run.state}",
                return_value=json_safe(values),
                task=task,
            )
            records.append(record)
            write_json_atomic(
                experiment_dir / job_dir / METRICS_FILE,
                {"final": json_safe(values), "curve": json_safe(_columns(run.scan_history()))},
            )
    save_experiment(experiment, experiment_dir / EXPERIMENT_CONFIG)
    Ledger.create(experiment_dir, records, experiment=group, source=f"wandb group {group}").save()
    return experiment


def _index(name: str, default: int) -> int:
    match = _RUN_INDEX.search(name or "")
    return int(match.group(1)) if match else default
