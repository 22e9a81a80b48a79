"""Per-task normalization of a suite's scores: every task on one scale, higher always better [Agarwal21].

Declared (low, high) per task (e.g. random and expert scores), or relative to the control's per-task mean.
A lower-is-better metric is mapped so that a higher normalized score is better on every task.

References:
  [Agarwal21] Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of the Statistical Precipice".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from metta_ab.stats._common import (
    _direction,
    _jsonable,
)

DECLARED = "declared"
CONTROL_MEAN = "control_mean"


# ---- normalization ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteNormalization:
    """How raw scores became normalized ones: per task z = (x - zero) / (one - zero).

    ``zero`` and ``one`` are the raw scores normalized to 0 and 1 on each task; for a lower-is-better metric
    ``one < zero``, so that a higher normalized score is better on every task. ``method`` is "declared" or
    "control_mean"; ``description`` is the sentence for the report.
    """

    method: str
    description: str
    direction: str
    control: str | None
    zero: Mapping[str, float]
    one: Mapping[str, float]

    def apply(self, raw: np.ndarray, tasks: Sequence[str]) -> np.ndarray:
        """Normalize a (runs, tasks) matrix whose columns are ``tasks``."""
        zero = np.array([self.zero[t] for t in tasks])
        one = np.array([self.one[t] for t in tasks])
        return (raw - zero) / (one - zero)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["per_task"] = {t: {"zero": self.zero[t], "one": self.one[t]} for t in self.zero}
        del out["zero"], out["one"]
        return _jsonable(out)


def normalize_suite(
    matrices: Mapping[str, np.ndarray],
    tasks: Sequence[str],
    *,
    control: str | None = None,
    direction: str = "max",
    normalize: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[SuiteNormalization, list[str]]:
    """The per-task normalization of a suite, and warnings about it.

    Declared (``normalize`` = task -> (low, high), low < high, e.g. a random and an expert score): z = (x -
    low) / (high - low) for "max", z = (high - x) / (high - low) for "min" (1 at the best end). Otherwise
    relative to the control's per-task mean m: z = 1 + (x - m) / |m| for "max", 1 - (x - m) / |m| for
    "min"; for "max" and m > 0 this is rliable's x / m. The |m| keeps the order of scores when m < 0 (negative
    returns), where x / m would flip it; m = 0 (or a control without a score on a task) has no scale, and is
    refused with the task named, since any substitute would weigh that task arbitrarily against the others.
    Either way z is increasing in "better" with the same constants for every variant, so per task it keeps
    every comparison's sign and P(X > Y).
    """
    d = _direction(direction)
    warnings: list[str] = []
    zero: dict[str, float] = {}
    one: dict[str, float] = {}
    if normalize is not None:
        unknown = [str(t) for t in normalize if str(t) not in tasks]
        absent = [t for t in tasks if t not in {str(k) for k in normalize}]
        if unknown:
            raise ValueError(f"normalize names task(s) {unknown} that have no scores; the tasks are {list(tasks)}")
        if absent:
            raise ValueError(f"normalize gives no (low, high) for task(s) {absent}; declare every task or none")
        for task, bounds in normalize.items():
            try:
                low, high = (float(b) for b in bounds)
            except (TypeError, ValueError):
                raise ValueError(f"normalize[{task!r}] must be a pair (low, high), got {bounds!r}") from None
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"normalize[{task!r}] = ({low!r}, {high!r}): need finite low < high")
            zero[str(task)], one[str(task)] = (low, high) if d == "max" else (high, low)
        best = "high" if d == "max" else "low"
        formula = "(x - low) / (high - low)" if d == "max" else "(high - x) / (high - low)"
        description = (
            f"declared (low, high) per task: {formula}, 0 at {'low' if d == 'max' else 'high'} and 1 at {best} "
            f"({'higher' if d == 'max' else 'lower'} scores are better)"
        )
        return SuiteNormalization(DECLARED, description, d, control, zero, one), warnings
    if control is None or control not in matrices:
        raise ValueError(f"normalization relative to the control needs a control among {list(matrices)}")
    raw = matrices[control]
    for j, task in enumerate(tasks):
        col = raw[:, j][np.isfinite(raw[:, j])]
        if col.size == 0:
            raise ValueError(
                f"task {task!r}: the control {control!r} has no score, so scores cannot be normalized relative to "
                "its mean; declare normalize={task: (low, high), ...}"
            )
        m = float(np.mean(col))
        if m == 0.0:
            raise ValueError(
                f"task {task!r}: the control {control!r} has mean score 0, which gives no scale to normalize by; "
                "declare normalize={task: (low, high), ...} (e.g. random and expert scores)"
            )
        sd = float(np.std(col, ddof=1)) if col.size > 1 else 0.0
        if sd > abs(m):
            warnings.append(
                f"task {task!r}: the control's mean {m:.4g} is small beside its runs' SD {sd:.4g}, so normalized "
                "scores on this task are large and noisy and weigh heavily in the aggregate; declare normalize= "
                "(low, high) per task to fix the scale"
            )
        # z = 1 + s (x - m) / |m| is (x - zero) / (one - zero) with zero = m - s |m| and one = m
        zero[task] = m - (1.0 if d == "max" else -1.0) * abs(m)
        one[task] = m
    formula = "1 + (x - m) / |m| (= x / m when m > 0)" if d == "max" else "1 - (x - m) / |m| (lower is better)"
    description = (
        f"relative to the control {control!r}'s mean m on each task: {formula}; the control's mean is 1 on every task"
    )
    return SuiteNormalization(CONTROL_MEAN, description, d, control, zero, one), warnings
