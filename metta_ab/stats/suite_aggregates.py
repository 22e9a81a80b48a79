"""Aggregates of a suite's normalized scores with stratified bootstrap CIs, as rliable computes them [Agarwal21].

  aggregate_scores           IQM, mean, median, optimality gap
  performance_profile        fraction of runs with a normalized score above tau, with CI bands [Dolan02]
  probability_of_improvement P(X > Y) per task (Mann-Whitney, ties 1/2), averaged over tasks

The stratified bootstrap resamples runs with replacement within each task (each task keeps its number of
runs); CIs are percentile intervals (rliable's default). These describe uncertainty; they never decide.

References:
  [Agarwal21] Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of the Statistical Precipice".
  [Dolan02] Dolan, More 2002, "Benchmarking Optimization Software with Performance Profiles".
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from metta_ab.stats._common import (
    _NAN_CI,
    _as_1d,
    _check_level,
    _direction,
    _f,
    _jsonable,
)
from metta_ab.stats.bootstrap import (
    _BOOTSTRAP_CHUNK_ELEMENTS,
    _counts,
    _improvement_matrix,
    _iqm_cut,
    _percentile_ci,
    _resampled_prob_improvement,
)
from metta_ab.stats.settings import DEFAULTS, StatsSettings

#: Points of the default tau grid of a performance profile (from the lowest to the highest normalized score).
PROFILE_POINTS = 101


# ---- stratified bootstrap ----------------------------------------------------------------------------------


def _by_task(values: ArrayLike | Mapping[str, ArrayLike]) -> list[np.ndarray]:
    """The finite scores of each task: from a (runs, tasks) matrix, or a mapping task -> per-run scores."""
    if isinstance(values, Mapping):
        cols = [_as_1d(v) for v in values.values()]
    else:
        arr = np.asarray(values, dtype=float)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"expected a (runs, tasks) matrix of scores, got shape {arr.shape}")
        cols = list(arr.T)
    return [c[np.isfinite(c)] for c in cols]


def _stratified_indices(rng: np.random.Generator, sizes: Sequence[int], n_resamples: int) -> Iterator[list[np.ndarray]]:
    """Stratified bootstrap draws: per chunk of resamples, per stratum (task) in order, a (rows, n) matrix of
    run indices drawn with replacement, so each task keeps its number of runs [Agarwal21]."""
    total = max(1, sum(sizes))
    size = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // total)
    for start in range(0, n_resamples, size):
        rows = min(size, n_resamples - start)
        yield [rng.integers(0, max(n, 1), size=(rows, n), dtype=np.int16 if n < 2**15 else np.int64) for n in sizes]


def check_resampling(settings: StatsSettings) -> None:
    _check_level("ci_level", settings.ci_level)
    if settings.n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {settings.n_resamples!r}")


def _default_taus(columns: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """From the lowest to the highest normalized score of all variants (the profile goes from 1 to 0)."""
    pooled = np.concatenate([c for cols in columns for c in cols] or [np.zeros(0)])
    if pooled.size == 0:
        return np.linspace(0.0, 1.0, PROFILE_POINTS)
    lo, hi = float(pooled.min()), float(pooled.max())
    return np.linspace(lo, hi if hi > lo else lo + 1.0, PROFILE_POINTS)


@dataclass(frozen=True)
class _Replicates:
    point: dict[str, Any]
    boot: dict[str, np.ndarray]


def _aggregate_replicates(
    cols: list[np.ndarray], taus: np.ndarray, target: float | None, n_resamples: int, seed: int
) -> _Replicates:
    """Point estimates and stratified bootstrap replicates of every aggregate and of the profile, from one draw.

    The task x run scores are sorted once; a resample is a count per sorted score, so the sorted resample
    is implicit in the running counts: the IQM takes each score's copies inside the middle half of positions,
    the profile the copies above each tau's position. No per-resample sort, O(resamples x scores) per chunk.
    """
    present = [c for c in cols if c.size]
    sizes = [c.size for c in present]
    n = int(sum(sizes))
    point: dict[str, Any] = {
        "iqm": math.nan,
        "mean": math.nan,
        "median": math.nan,
        "optimality_gap": math.nan,
        "profile": np.full(taus.size, np.nan),
    }
    if n == 0:
        nan = np.full(1, np.nan)
        return _Replicates(point, {k: nan for k in ("iqm", "mean", "median", "optimality_gap")} | {"profile": None})
    pooled = np.concatenate(present)
    order = np.argsort(pooled, kind="stable")
    sorted_vals = pooled[order]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    offsets = np.cumsum([0, *sizes])
    ranks = [rank[offsets[k] : offsets[k + 1]] for k in range(len(present))]
    cut = _iqm_cut(n)
    above = np.searchsorted(sorted_vals, taus, side="right")  # sorted positions at or below each tau
    gap_terms = np.maximum(float(target) - sorted_vals, 0.0) if target is not None else None
    task_means = np.array([c.mean() for c in present])
    point.update(
        iqm=float(sps.trim_mean(pooled, 0.25)),
        mean=float(task_means.mean()),
        median=float(np.median(task_means)),
        profile=(n - above) / n,
    )
    if gap_terms is not None:
        point["optimality_gap"] = float(gap_terms.mean())

    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("iqm", "mean", "median", "optimality_gap", "profile")}
    rng = np.random.default_rng(seed)
    for idx in _stratified_indices(rng, sizes, n_resamples):
        rows = idx[0].shape[0]
        means = np.stack([c[i].mean(axis=1) for c, i in zip(present, idx, strict=True)], axis=1)
        parts["mean"].append(means.mean(axis=1))
        parts["median"].append(np.median(means, axis=1))
        counts = _counts(np.concatenate([r[i] for r, i in zip(ranks, idx, strict=True)], axis=1), n)
        cum = np.zeros((rows, n + 1))
        np.cumsum(counts, axis=1, out=cum[:, 1:])
        inside = np.clip(np.minimum(cum[:, 1:], n - cut) - np.maximum(cum[:, :-1], cut), 0.0, None)
        parts["iqm"].append(inside @ sorted_vals / (n - 2 * cut))
        parts["profile"].append((n - cum[:, above]) / n)
        if gap_terms is not None:
            parts["optimality_gap"].append(counts @ gap_terms / n)
    boot = {k: np.concatenate(v) if v else np.full(1, np.nan) for k, v in parts.items()}
    return _Replicates(point, boot)


@dataclass(frozen=True)
class SuiteAggregate:
    """One variant's aggregates over tasks x runs of normalized scores, stratified bootstrap CIs [Agarwal21].

    ``iqm`` pools every task x run score (``trim_mean(x, 0.25)``); ``mean`` and ``median`` are of the per-task
    mean scores; ``optimality_gap`` is the mean of max(target - x, 0) (NaN without a ``target``). ``n_tasks``
    counts the tasks with a score, ``n_scores`` the task x run scores, ``n_runs`` the runs with any score.
    """

    n_tasks: int
    n_runs: int
    n_scores: int
    iqm: float
    iqm_ci: tuple[float, float]
    mean: float
    mean_ci: tuple[float, float]
    median: float
    median_ci: tuple[float, float]
    optimality_gap: float
    optimality_gap_ci: tuple[float, float]
    target: float | None
    ci_level: float

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class PerformanceProfile:
    """Run-score distribution: the fraction of task x run scores above each tau, with percentile CI bands
    from the stratified bootstrap [Agarwal21; Dolan02]."""

    taus: tuple[float, ...]
    fraction: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    ci_level: float

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({f.name: getattr(self, f.name) for f in fields(self)})


def _aggregate(cols: list[np.ndarray], n_runs: int, rep: _Replicates, target: float | None, ci_level: float):
    def ci(key: str) -> tuple[float, float]:
        return _percentile_ci(rep.boot[key], ci_level)

    return SuiteAggregate(
        n_tasks=sum(1 for c in cols if c.size),
        n_runs=n_runs,
        n_scores=int(sum(c.size for c in cols)),
        iqm=_f(rep.point["iqm"]),
        iqm_ci=ci("iqm"),
        mean=_f(rep.point["mean"]),
        mean_ci=ci("mean"),
        median=_f(rep.point["median"]),
        median_ci=ci("median"),
        optimality_gap=_f(rep.point["optimality_gap"]),
        optimality_gap_ci=ci("optimality_gap") if target is not None else _NAN_CI,
        target=None if target is None else float(target),
        ci_level=ci_level,
    )


def _profile(taus: np.ndarray, rep: _Replicates, ci_level: float) -> PerformanceProfile:
    boot = rep.boot["profile"]
    if boot is None:
        lo = hi = np.full(taus.size, np.nan)
    else:
        tail = 50.0 * (1.0 - ci_level)
        lo, hi = np.percentile(boot, [tail, 100.0 - tail], axis=0)
    return PerformanceProfile(
        taus=tuple(map(float, taus)),
        fraction=tuple(map(float, rep.point["profile"])),
        ci_low=tuple(map(float, lo)),
        ci_high=tuple(map(float, hi)),
        ci_level=ci_level,
    )


def aggregate_scores(
    normalized: ArrayLike | Mapping[str, ArrayLike],
    settings: StatsSettings = DEFAULTS,
    *,
    target: float | None = None,
) -> SuiteAggregate:
    """IQM, mean, median and optimality gap of one variant's normalized scores with stratified bootstrap CIs.

    ``normalized`` is a (runs, tasks) matrix or a mapping task -> per-run scores; NaN (no score) is left out
    of its task. ``target`` is the optimality gap's gamma in normalized units (1 = the declared ``high``).
    ``settings``: the CI level, resamples and seed of the bootstrap.
    """
    check_resampling(settings)
    cols = _by_task(normalized)
    if isinstance(normalized, Mapping):
        n_runs = max((c.size for c in cols), default=0)
    else:
        arr = np.asarray(normalized, dtype=float)
        n_runs = int(np.isfinite(arr.reshape(arr.shape[0], -1)).any(axis=1).sum()) if arr.size else 0
    rep = _aggregate_replicates(cols, np.zeros(0), target, settings.n_resamples, settings.seed)
    return _aggregate(cols, n_runs, rep, target, settings.ci_level)


def performance_profile(
    normalized: ArrayLike | Mapping[str, ArrayLike],
    taus: ArrayLike | None = None,
    settings: StatsSettings = DEFAULTS,
) -> PerformanceProfile:
    """Fraction of task x run scores strictly above each tau (rliable's score distribution), with stratified
    bootstrap CI bands. ``taus`` default: ``PROFILE_POINTS`` from the lowest to the highest score."""
    check_resampling(settings)
    cols = _by_task(normalized)
    grid = _default_taus([cols]) if taus is None else np.atleast_1d(np.asarray(taus, dtype=float))
    return _profile(
        grid, _aggregate_replicates(cols, grid, None, settings.n_resamples, settings.seed), settings.ci_level
    )


# ---- probability of improvement ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbabilityOfImprovement:
    """P(X > Y): per task the probability that a run of X scores above a run of Y (ties 1/2, = U / (n m)),
    averaged over the tasks where both have a score, with a stratified bootstrap percentile CI [Agarwal21]."""

    probability: float
    ci: tuple[float, float]
    by_task: Mapping[str, float]
    ci_level: float

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({f.name: getattr(self, f.name) for f in fields(self)})


def probability_of_improvement(
    x: ArrayLike | Mapping[str, ArrayLike],
    y: ArrayLike | Mapping[str, ArrayLike],
    settings: StatsSettings = DEFAULTS,
) -> ProbabilityOfImprovement:
    """Average probability of improvement of X over Y across tasks, with its stratified bootstrap CI.

    ``x`` and ``y`` are (runs, tasks) matrices with the same tasks (columns), or mappings task -> per-run
    scores (tasks matched by name; a task of only one side is left out). The bootstrap resamples the runs
    of each task within each variant independently (rliable's StratifiedIndependentBootstrap): per chunk,
    per task in order, X's indices then Y's. Any monotone per-task normalization leaves it unchanged.
    "Above" follows ``settings.direction``; ``settings`` gives the bootstrap's CI level, resamples and seed.
    """
    check_resampling(settings)
    ci_level, d = settings.ci_level, _direction(settings.direction)
    if isinstance(x, Mapping) and isinstance(y, Mapping):
        names = [str(t) for t in x if t in y]
        xs, ys = _by_task({t: x[t] for t in names}), _by_task({t: y[t] for t in names})
    elif isinstance(x, Mapping) or isinstance(y, Mapping):
        raise ValueError("x and y must both be matrices or both be mappings task -> scores")
    else:
        xs, ys = _by_task(x), _by_task(y)
        if len(xs) != len(ys):
            raise ValueError(f"x has {len(xs)} tasks and y {len(ys)}; columns must be the same tasks")
        names = [str(j) for j in range(len(xs))]
    by_task = {
        t: float(_improvement_matrix(a, b, d).mean()) if a.size and b.size else math.nan
        for t, a, b in zip(names, xs, ys, strict=True)
    }
    used = [(np.sort(a), np.sort(b)) for a, b in zip(xs, ys, strict=True) if a.size and b.size]
    if not used:
        return ProbabilityOfImprovement(math.nan, _NAN_CI, by_task, ci_level)
    prob = float(np.mean([by_task[t] for t in names if math.isfinite(by_task[t])]))
    sizes = [n for a, b in used for n in (a.size, b.size)]
    rng = np.random.default_rng(settings.seed)
    parts = []
    for idx in _stratified_indices(rng, sizes, settings.n_resamples):
        per_task = [_resampled_prob_improvement(idx[2 * k], idx[2 * k + 1], a, b, d) for k, (a, b) in enumerate(used)]
        parts.append(np.mean(per_task, axis=0))
    return ProbabilityOfImprovement(prob, _percentile_ci(np.concatenate(parts), ci_level), by_task, ci_level)


def variant_aggregates(
    normalized: Mapping[str, np.ndarray],
    settings: StatsSettings = DEFAULTS,
    *,
    taus: ArrayLike | None = None,
    target: float | None = None,
) -> tuple[dict[str, SuiteAggregate], dict[str, PerformanceProfile]]:
    """Each variant's aggregates and performance profile from its (runs, tasks) matrix of normalized scores,
    all profiles on one tau grid (default: the range of every variant's scores), from one set of bootstrap
    replicates per variant."""
    cols = {v: _by_task(m) for v, m in normalized.items()}
    grid = _default_taus(list(cols.values())) if taus is None else np.atleast_1d(np.asarray(taus, dtype=float))
    variants, profiles = {}, {}
    for v, m in normalized.items():
        rep = _aggregate_replicates(cols[v], grid, target, settings.n_resamples, settings.seed)
        n_runs = int(np.isfinite(m).any(axis=1).sum())
        variants[v] = _aggregate(cols[v], n_runs, rep, target, settings.ci_level)
        profiles[v] = _profile(grid, rep, settings.ci_level)
    return variants, profiles
