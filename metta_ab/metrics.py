"""Where a run's numbers come from, in this order: the value the task returned, the metrics file the app
wrote in its job directory, the job's offline W&B log.

The metrics file (`metrics.json` in the job directory) is the one format an app can write to give the
analysis a learning curve without W&B:

    {"final": {"reward": 0.81, ...},                                  # final values (optional)
     "curve": {"step": [0, 500, ...], "reward": [0.1, 0.3, ...], ...}} # optional; lists of equal length

The offline W&B log is read only for a metric the first two sources lack (it costs ~50 ms a run).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

METRICS_FILE = "metrics.json"
STEP_KEYS = ("step", "_step", "global_step", "timestep", "agent_step")


@dataclass(frozen=True)
class Curve:
    steps: np.ndarray
    values: np.ndarray


@dataclass
class RunMetrics:
    final: dict[str, float] = field(default_factory=dict)
    curves: dict[str, Curve] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def has(self, metric: str) -> bool:
        return metric in self.final or metric in self.curves

    def absorb(self, final: Mapping[str, Any], curves: Mapping[str, Curve], source: str) -> None:
        """Add what a later (lower-priority) source knows and the earlier ones did not."""
        added = False
        for name, value in final.items():
            number = _number(value)
            if number is not None and name not in self.final:
                self.final[name] = number
                added = True
        for name, curve in curves.items():
            if name not in self.curves and len(curve.values):
                self.curves[name] = curve
                added = True
        if added:
            self.sources.append(source)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def returned_values(return_value: Any) -> dict[str, float]:
    """A task's return value as metrics: a dict's numeric entries, or a single number as `value`."""
    if isinstance(return_value, Mapping):
        return {str(k): v for k, v in return_value.items() if _number(v) is not None}
    return {"value": return_value} if _number(return_value) is not None else {}


def curves_from_columns(columns: Mapping[str, list[Any]], wanted: str | None = None) -> dict[str, Curve]:
    """Columnar history (step column + metric columns, None where not logged) -> one Curve per metric
    (only `wanted`'s when given: converting every column of thousands of runs is the slow part)."""
    step_key = next((k for k in STEP_KEYS if k in columns), None)
    if step_key is None:
        return {}
    steps = np.asarray(columns[step_key], dtype=float)  # None -> NaN
    names = [wanted] if wanted is not None and wanted in columns else list(columns)
    curves = {}
    for name in names:
        raw = columns[name]
        if name == step_key or name.startswith("_") or len(raw) != len(steps):
            continue
        try:
            values = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            continue  # a text or media column
        keep = np.isfinite(values) & np.isfinite(steps)
        if keep.any():
            curves[name] = Curve(steps[keep], values[keep])
    return curves


def read_metrics_file(job_dir: Path, wanted: str | None = None) -> tuple[dict[str, Any], dict[str, Curve]]:
    try:
        data = json.loads((job_dir / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, {}
    if not isinstance(data, dict):
        return {}, {}
    final = data.get("final") if isinstance(data.get("final"), dict) else {}
    curve = data.get("curve") if isinstance(data.get("curve"), dict) else {}
    return final, curves_from_columns(curve, wanted)


def read_wandb_metrics(job_dir: Path, wanted: str | None = None) -> tuple[dict[str, Any], dict[str, Curve]]:
    from metta_ab.wandb_log import WandbLogError, find_wandb_logs, read_wandb_log

    logs = find_wandb_logs(job_dir)
    if not logs:
        return {}, {}
    try:
        run = read_wandb_log(logs[-1])
    except (OSError, WandbLogError):
        return {}, {}
    return run.summary, curves_from_columns(run.history, wanted)


def collect_run_metrics(job_dir: Path, return_value: Any, wanted: str | None = None) -> RunMetrics:
    """Every number known about one run; reads the W&B log only when `wanted` is still missing."""
    metrics = RunMetrics()
    metrics.absorb(returned_values(return_value), {}, "return value")
    metrics.absorb(*read_metrics_file(job_dir, wanted), METRICS_FILE)
    if wanted is None or not metrics.has(wanted):
        metrics.absorb(*read_wandb_metrics(job_dir, wanted), "wandb offline log")
    return metrics
