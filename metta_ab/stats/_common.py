"""What every part of the statistics shares: verdict labels, argument checks, JSON conversion, SciPy's keyword."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import numpy as np
import scipy
from numpy.typing import ArrayLike

Direction = Literal["max", "min"]

BETTER = "better"
WORSE = "worse"
EQUIVALENT = "equivalent"
INCONCLUSIVE = "inconclusive"
INSUFFICIENT = "insufficient data"

_DIRECTION_ALIASES = {
    "max": "max",
    "maximize": "max",
    "maximise": "max",
    "higher": "max",
    "min": "min",
    "minimize": "min",
    "minimise": "min",
    "lower": "min",
}


def _direction(direction: str) -> Direction:
    try:
        return _DIRECTION_ALIASES[str(direction).lower()]  # type: ignore[return-value]
    except KeyError:
        raise ValueError(f"direction must be 'max' or 'min', got {direction!r}") from None


def _check_level(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")


def _as_1d(values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D array of per-run values, got shape {arr.shape}")
    return arr


def _f(x: Any) -> float:
    """Plain Python float (NaN stays NaN)."""
    return float(x) if x is not None else math.nan


def _ci(lo: Any, hi: Any) -> tuple[float, float]:
    return (_f(lo), _f(hi))


_NAN_CI: tuple[float, float] = (math.nan, math.nan)


def _jsonable(x: Any) -> Any:
    """Plain JSON-serializable Python: NaN/inf -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


_SCIPY_TAKES_RNG = tuple(int(part) for part in scipy.__version__.split(".")[:2]) >= (1, 15)


def _seeded(rng: np.random.Generator) -> dict[str, np.random.Generator]:
    """The keyword that hands scipy's resampling functions a Generator: ``rng`` since SciPy 1.15 (SPEC 7),
    ``random_state`` before (a plugin runs in the user's environment, whatever SciPy it has)."""
    return {"rng": rng} if _SCIPY_TAKES_RNG else {"random_state": rng}


def _centered(t: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """t and c minus their middle score: a shift every test here is invariant to, exact for scores on a common
    grid (1e12 + k/64), so that what the tests compute (means, variances, ties) carries the rounding of the
    data's spread, not of its magnitude."""
    pooled = np.sort(np.concatenate([t, c]))
    origin = pooled[pooled.size // 2] if pooled.size else 0.0
    return t - origin, c - origin


def _pad(t: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pad the shorter array with NaN (a run that is not there did not complete)."""
    n = max(t.size, c.size)
    return (
        np.concatenate([t, np.full(n - t.size, np.nan)]),
        np.concatenate([c, np.full(n - c.size, np.nan)]),
    )


_SETTING_FIELDS = ("control", "paired", "direction", "alpha", "ci_level", "n_resamples", "seed")


_C = TypeVar("_C")


def _find_comparison(comparisons: tuple[_C, ...], treatment: str) -> _C:
    """The comparison of ``treatment`` with the control (KeyError if there is none)."""
    found = next((c for c in comparisons if c.treatment == treatment), None)
    if found is None:
        raise KeyError(treatment)
    return found


def _settings_dict(analysis: Any, **extra: Any) -> dict[str, Any]:
    """The settings block of an analysis' to_dict (single-metric or suite): what it was computed with."""
    family = "holm" if len(analysis.comparisons) >= 2 else "none"
    return _jsonable({**{k: getattr(analysis, k) for k in _SETTING_FIELDS}, **extra, "multiple_comparisons": family})
