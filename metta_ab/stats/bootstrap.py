"""Resampling machinery shared by the per-variant description and the comparison (percentile bootstrap).

Resamples are index matrices drawn in cache-sized chunks (no loop over resamples); statistics of sorted
resamples come from integer sorts of the indices into the sorted values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from metta_ab.stats._common import _NAN_CI, Direction, _ci

#: Bootstrap resamples are processed in chunks of at most this many drawn indices (cache-sized).
_BOOTSTRAP_CHUNK_ELEMENTS = 250_000


def _iqm_cut(n: int) -> int:
    """Values cut at each end by ``scipy.stats.trim_mean(x, 0.25)`` for n values."""
    return int(0.25 * n)


def _sorted_row_quantities(rows: np.ndarray, median: bool = False) -> dict[str, np.ndarray]:
    """Mean, IQM (and median) of each row of a row-wise sorted matrix.

    IQM equals ``scipy.stats.trim_mean(row, 0.25)``: the mean of the middle slice after cutting
    ``int(0.25 n)`` values at each end.
    """
    n = rows.shape[-1]
    cut = _iqm_cut(n)
    out = {"mean": rows.mean(axis=-1), "iqm": rows[..., cut : n - cut].mean(axis=-1)}
    if median:
        out["median"] = 0.5 * (rows[..., (n - 1) // 2] + rows[..., n // 2])
    return out


def _sorted_resample(sorted_values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Row-wise sorted bootstrap samples: indices into sorted values, sorted (an integer sort is cheap)."""
    return sorted_values[np.sort(idx, axis=-1)]


def _percentile_ci(samples: np.ndarray, ci_level: float) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaN replicates ignored)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return _NAN_CI
    tail = 50.0 * (1.0 - ci_level)
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return _ci(lo, hi)


def _chunks(n_resamples: int, n: int) -> list[int]:
    size = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // max(n, 1))
    return [min(size, n_resamples - start) for start in range(0, n_resamples, size)]


def _bootstrap(
    rng: np.random.Generator,
    sizes: tuple[int, ...],
    n_resamples: int,
    statistic: Callable[..., dict[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """Vectorized nonparametric bootstrap: per chunk, draw one (rows, n) index matrix per sample.

    ``statistic(*index_matrices)`` returns named arrays of one replicate per row; they are concatenated.
    """
    parts: dict[str, list[np.ndarray]] = {}
    for rows in _chunks(n_resamples, max(sizes)):
        idx = [rng.integers(0, n, size=(rows, n), dtype=np.int16 if n < 2**15 else np.int64) for n in sizes]
        for key, value in statistic(*idx).items():
            parts.setdefault(key, []).append(value)
    return {key: np.concatenate(value) for key, value in parts.items()}


def _improvement_matrix(t: np.ndarray, c: np.ndarray, d: Direction) -> np.ndarray:
    """M[i, j] = 1 if treatment run i beats control run j, 1/2 on a tie, else 0."""
    beats = t[:, None] > c[None, :] if d == "max" else t[:, None] < c[None, :]
    return beats + 0.5 * (t[:, None] == c[None, :])


def _improvement_scores(diff: np.ndarray, d: Direction) -> np.ndarray:
    return ((diff > 0) if d == "max" else (diff < 0)) + 0.5 * (diff == 0)


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each of n items occurs in each row of an index matrix."""
    rows = idx.shape[0]
    flat = (idx + (np.arange(rows) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n)


def _resampled_prob_improvement(
    it: np.ndarray, ic: np.ndarray, ts: np.ndarray, cs: np.ndarray, d: Direction
) -> np.ndarray:
    """P(T* better than C*) (ties 1/2) of each bootstrap resample, in O(rows (n + m)) without a matmul.

    ``it``/``ic`` index the sorted treatment/control values ``ts``/``cs``. For each treatment value, the
    resampled control values below it (and tied with it) are read off the row-wise cumulative counts of
    the control resample at the value's searchsorted positions, then summed over the treatment resample.
    """
    n, m = ts.size, cs.size
    below_start = np.searchsorted(cs, ts, side="left")  # control values strictly below ts[i]
    below_end = np.searchsorted(cs, ts, side="right")  # ... at or below ts[i]
    cum = np.zeros((ic.shape[0], m + 1))
    np.cumsum(_counts(ic, m), axis=1, out=cum[:, 1:])
    lower, upper = cum[:, below_start], cum[:, below_end]
    wins = lower if d == "max" else m - upper
    score = wins + 0.5 * (upper - lower)  # per sorted treatment value
    return np.take_along_axis(score, it.astype(np.intp), axis=1).sum(axis=1) / (n * m)
