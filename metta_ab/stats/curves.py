"""Curve summaries: one number per run from its learning curve (or many runs at once: runs x points, NaN-padded).

final = mean of the last K evaluations; AUC = trapezoid area over the step span / the span; time to threshold =
the first step at or past a threshold (censored when never reached: see ``metta_ab.stats.survival``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from metta_ab.stats._common import _direction


def _as_curves(values: ArrayLike) -> tuple[np.ndarray, bool]:
    v = np.asarray(values, dtype=float)
    if v.ndim not in (1, 2):
        raise ValueError(f"expected a curve (points,) or curves (runs, points), got shape {v.shape}")
    return np.atleast_2d(v), v.ndim == 1


def _sorted_curves(steps: ArrayLike, values: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Per run, the finite (step, value) points sorted by step and packed to the left (NaN after)."""
    v, one = _as_curves(values)
    s = np.asarray(steps, dtype=float)
    if s.ndim == 1 and s.shape[0] == v.shape[1]:
        s = np.broadcast_to(s, v.shape)
    elif s.shape != v.shape:
        raise ValueError(f"steps of shape {s.shape} do not match values of shape {v.shape}")
    valid = np.isfinite(s) & np.isfinite(v)
    key = np.where(valid, s, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    s = np.take_along_axis(s, order, axis=1)
    v = np.take_along_axis(v, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    return np.where(valid, s, np.nan), np.where(valid, v, np.nan), valid, one


def _out(result: np.ndarray, one: bool) -> float | np.ndarray:
    return float(result[0]) if one else result


def _last_k_points(v: np.ndarray, last_fraction: float, last_k: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Per run (rows of `v`), which points the final score averages (its last K finite ones) and K."""
    if last_k is None and not 0.0 < last_fraction <= 1.0:
        raise ValueError(f"last_fraction must be in (0, 1], got {last_fraction!r}")
    if last_k is not None and last_k < 1:
        raise ValueError(f"last_k must be >= 1, got {last_k!r}")
    valid = np.isfinite(v)
    length = valid.sum(axis=1)
    if last_k is not None:
        k = np.full(length.shape, int(last_k))
    else:
        k = np.maximum(1, np.floor(last_fraction * length + 1e-9).astype(int))
    k = np.minimum(k, length)
    # number of finite points at or after each position; keep the last k finite points of each run
    from_right = np.cumsum(valid[:, ::-1], axis=1)[:, ::-1]
    return valid & (from_right <= k[:, None]), k


def final_score(values: ArrayLike, last_fraction: float = 0.1, last_k: int | None = None) -> float | np.ndarray:
    """Final performance: mean of the last K evaluations of a run [Colas18; Henderson18].

    K = ``last_k`` when given, else the last ``last_fraction`` of the run's finite evaluations (floor, at
    least 1). ``values`` is one curve (points,) -> float, or runs x points (NaN-padded) -> array of floats.
    NaN points are skipped; a run with no finite point gives NaN.
    """
    v, one = _as_curves(values)
    keep, k = _last_k_points(v, last_fraction, last_k)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(keep, v, 0.0).sum(axis=1) / k
    result = np.where(k > 0, result, np.nan)
    return _out(result, one)


def final_points(values: ArrayLike, last_fraction: float = 0.1, last_k: int | None = None) -> np.ndarray:
    """Which points of one curve ``final_score`` averages (a boolean mask): the scoring window a plot shades."""
    v, _ = _as_curves(values)
    return _last_k_points(v, last_fraction, last_k)[0][0]


def normalized_auc(steps: ArrayLike, values: ArrayLike) -> float | np.ndarray:
    """Normalized area under the learning curve: trapezoid area over the step span / the span.

    A whole-run summary that rewards learning speed as well as the final level [Colas19; Patterson24].
    Points are sorted by step and NaN points skipped. One point -> its value; no point -> NaN.
    ``steps`` is (points,) shared by all runs or the same shape as ``values``.
    """
    s, v, valid, one = _sorted_curves(steps, values)
    length = valid.sum(axis=1)
    seg = valid[:, 1:] & valid[:, :-1]
    with np.errstate(invalid="ignore"):
        area = np.where(seg, 0.5 * (v[:, 1:] + v[:, :-1]) * np.diff(s, axis=1), 0.0).sum(axis=1)
    rows = np.arange(v.shape[0])
    last = np.maximum(length - 1, 0)
    span = s[rows, last] - s[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_value = np.nansum(v, axis=1) / length
        result = np.where(span > 0, area / np.where(span > 0, span, 1.0), mean_value)
    result = np.where(length > 0, result, np.nan)
    return _out(result, one)


def time_to_threshold(
    steps: ArrayLike, values: ArrayLike, threshold: float, direction: str = "max"
) -> float | np.ndarray:
    """Sample efficiency: the first step at which the curve is at or past ``threshold`` [Colas19].

    "At or past" is ``>=`` for direction="max" and ``<=`` for "min". NaN when never reached: these times are
    censored, so never average them; compare them with ranks (e.g. with not-reached as +inf).
    """
    d = _direction(direction)
    s, v, valid, one = _sorted_curves(steps, values)
    with np.errstate(invalid="ignore"):
        hit = valid & ((v >= threshold) if d == "max" else (v <= threshold))
    first = np.argmax(hit, axis=1)
    result = np.where(hit.any(axis=1), s[np.arange(s.shape[0]), first], np.nan)
    return _out(result, one)
