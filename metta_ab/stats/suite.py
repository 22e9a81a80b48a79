"""Suites: one score per (variant, task, run), judged per variant across tasks as rliable does [Agarwal21].

  normalize_suite            per-task scores on one scale, higher always better: declared (low, high) per task,
                             or relative to the control's per-task mean
  aggregate_scores           IQM, mean, median, optimality gap of normalized scores, stratified bootstrap CIs
  probability_of_improvement P(X > Y) per task (Mann-Whitney, ties 1/2), averaged over tasks, stratified CI
  performance_profile        fraction of runs with a normalized score above tau, stratified bootstrap CI bands
  run_means                  the test's unit: each run's (seed's) mean normalized score across tasks
  analyze_suite              all of it, and the aggregate verdict: ``compare`` on the run means, Holm

Definitions follow rliable's (``rliable/metrics.py``, ``library.py``): IQM is ``trim_mean(x, 0.25)`` of all
task x run scores pooled; mean and median are of the per-task mean scores (every task counts once); the
optimality gap is the mean of max(gamma - x, 0) over all task x run scores; P(X > Y) is U / (n m) per task
averaged over the tasks; the performance profile is the run-score distribution (fraction of all task x run
scores > tau). The stratified bootstrap resamples runs with replacement within each task (each task keeps its
number of runs), and CIs are percentile intervals (rliable's default). A missing run (NaN) is left out of its
task: the bootstrap then resamples the task's remaining runs, and ``analyze_suite`` lists every missing one.

The bootstrap CIs describe uncertainty; as everywhere in this package they never decide. The aggregate
verdict is the package's two-sample comparison (``compare``: paired t-test when seed i is run i of every
variant, else Welch) whose unit is the run: a run's normalized scores averaged over tasks. Seeds, not
task x run scores, are the independent units [Agarwal21, Sec. 4; Colas19], so the test keeps alpha with
few seeds where a pooled-score test would not.

References:
  [Agarwal21] Agarwal, Schwarzer, Castro, Courville, Bellemare 2021, "Deep Reinforcement Learning at the Edge
    of the Statistical Precipice" (NeurIPS; the rliable library).
  [Dolan02] Dolan, More 2002, "Benchmarking Optimization Software with Performance Profiles".
  [Colas19] Colas, Sigaud, Oudeyer 2019, "A Hitchhiker's Guide to Statistical Comparisons of RL Algorithms".
  [Holm79] Holm 1979, "A Simple Sequentially Rejective Multiple Test Procedure".
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
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
    _find_comparison,
    _jsonable,
    _settings_dict,
)
from metta_ab.stats.bootstrap import (
    _BOOTSTRAP_CHUNK_ELEMENTS,
    _counts,
    _improvement_matrix,
    _iqm_cut,
    _percentile_ci,
    _resampled_prob_improvement,
)
from metta_ab.stats.compare import Comparison, compare
from metta_ab.stats.family import _holm_family

#: Points of the default tau grid of a performance profile (from the lowest to the highest normalized score).
PROFILE_POINTS = 101

DECLARED = "declared"
CONTROL_MEAN = "control_mean"


# ---- input -----------------------------------------------------------------------------------------------


def _suite_matrices(
    scores: Mapping[str, Mapping[str, ArrayLike]],
) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """Variants, tasks (first-seen order) and per variant a (runs, tasks) matrix, NaN where a run has no score.

    A variant's run count is the longest of its tasks' arrays; a task absent from a variant is all NaN there.
    """
    if not scores:
        raise ValueError("no variants to analyze")
    variants = [str(v) for v in scores]
    tasks: list[str] = []
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for variant, by_task in scores.items():
        if not isinstance(by_task, Mapping):
            raise ValueError(f"scores[{variant!r}] must map each task to its per-run scores, got {type(by_task)}")
        arrays[str(variant)] = {}
        for task, values in by_task.items():
            arr = _as_1d(values)
            bad = np.flatnonzero(np.isinf(arr))
            if bad.size:
                raise ValueError(
                    f"variant {variant!r}, task {task!r}: run {int(bad[0])} has an infinite score; a suite "
                    "normalizes and averages scores, so give NaN for a run without a usable score"
                )
            arrays[str(variant)][str(task)] = arr
            if str(task) not in tasks:
                tasks.append(str(task))
    if not tasks:
        raise ValueError("no tasks: every variant maps no task to scores")
    matrices = {}
    for variant, by_task in arrays.items():
        runs = max((a.size for a in by_task.values()), default=0)
        matrix = np.full((runs, len(tasks)), np.nan)
        for j, task in enumerate(tasks):
            arr = by_task.get(task)
            if arr is not None:
                matrix[: arr.size, j] = arr
        matrices[variant] = matrix
    return variants, tasks, matrices


def missing_runs(matrices: Mapping[str, np.ndarray], tasks: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
    """Task -> the (variant, run index) without a score on it, run indices 1-based as in run names (`a_run_1`);
    only tasks missing from some run appear."""
    out: dict[str, list[tuple[str, int]]] = {}
    for j, task in enumerate(tasks):
        gaps = [(v, int(i) + 1) for v, m in matrices.items() for i in np.flatnonzero(np.isnan(m[:, j]))]
        if gaps:
            out[task] = gaps
    return out


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


def _check_resampling(ci_level: float, n_resamples: int) -> None:
    _check_level("ci_level", ci_level)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")


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
    *,
    target: float | None = None,
    ci_level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> SuiteAggregate:
    """IQM, mean, median and optimality gap of one variant's normalized scores with stratified bootstrap CIs.

    ``normalized`` is a (runs, tasks) matrix or a mapping task -> per-run scores; NaN (no score) is left out
    of its task. ``target`` is the optimality gap's gamma in normalized units (1 = the declared ``high``).
    """
    _check_resampling(ci_level, n_resamples)
    cols = _by_task(normalized)
    if isinstance(normalized, Mapping):
        n_runs = max((c.size for c in cols), default=0)
    else:
        arr = np.asarray(normalized, dtype=float)
        n_runs = int(np.isfinite(arr.reshape(arr.shape[0], -1)).any(axis=1).sum()) if arr.size else 0
    rep = _aggregate_replicates(cols, np.zeros(0), target, n_resamples, seed)
    return _aggregate(cols, n_runs, rep, target, ci_level)


def performance_profile(
    normalized: ArrayLike | Mapping[str, ArrayLike],
    taus: ArrayLike | None = None,
    *,
    ci_level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> PerformanceProfile:
    """Fraction of task x run scores strictly above each tau (rliable's score distribution), with stratified
    bootstrap CI bands. ``taus`` default: ``PROFILE_POINTS`` from the lowest to the highest score."""
    _check_resampling(ci_level, n_resamples)
    cols = _by_task(normalized)
    grid = _default_taus([cols]) if taus is None else np.atleast_1d(np.asarray(taus, dtype=float))
    return _profile(grid, _aggregate_replicates(cols, grid, None, n_resamples, seed), ci_level)


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
    *,
    direction: str = "max",
    ci_level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> ProbabilityOfImprovement:
    """Average probability of improvement of X over Y across tasks, with its stratified bootstrap CI.

    ``x`` and ``y`` are (runs, tasks) matrices with the same tasks (columns), or mappings task -> per-run
    scores (tasks matched by name; a task of only one side is left out). The bootstrap resamples the runs
    of each task within each variant independently (rliable's StratifiedIndependentBootstrap): per chunk,
    per task in order, X's indices then Y's. Any monotone per-task normalization leaves it unchanged.
    """
    _check_resampling(ci_level, n_resamples)
    d = _direction(direction)
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
    rng = np.random.default_rng(seed)
    parts = []
    for idx in _stratified_indices(rng, sizes, n_resamples):
        per_task = [_resampled_prob_improvement(idx[2 * k], idx[2 * k + 1], a, b, d) for k, (a, b) in enumerate(used)]
        parts.append(np.mean(per_task, axis=0))
    return ProbabilityOfImprovement(prob, _percentile_ci(np.concatenate(parts), ci_level), by_task, ci_level)


# ---- the run as the unit of the test -----------------------------------------------------------------------


def run_means(normalized: ArrayLike, common_with: ArrayLike | None = None) -> np.ndarray:
    """Each run's mean normalized score over the tasks where it has a score (NaN: a run without any).

    With ``common_with`` (the other variant's matrix of a paired comparison, run i = seed i), run i's mean is
    over the tasks where both variants' run i have a score, so that a task missing from one side of a pair
    does not change what the pair's difference averages over. The result then has the longer run count.
    """
    a = np.asarray(normalized, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"expected a (runs, tasks) matrix, got shape {a.shape}")
    mask = np.isfinite(a)
    if common_with is not None:
        b = np.asarray(common_with, dtype=float)
        if b.ndim != 2 or b.shape[1] != a.shape[1]:
            raise ValueError(f"matrices of a paired comparison need the same tasks, got {a.shape} and {b.shape}")
        runs = max(a.shape[0], b.shape[0])
        a = np.vstack([a, np.full((runs - a.shape[0], a.shape[1]), np.nan)])
        b = np.vstack([b, np.full((runs - b.shape[0], b.shape[1]), np.nan)])
        mask = np.isfinite(a) & np.isfinite(b)
    counts = mask.sum(axis=1)
    sums = np.where(mask, a, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


@dataclass(frozen=True)
class SuiteComparison:
    """A treatment against the control across the suite: P(improvement) averaged over tasks (descriptive) and
    the verdict of ``run_comparison``, the package's comparison of the runs' mean normalized scores (paired
    t / Welch, Holm across treatments) on the scale ``test_normalization`` describes. Its ``direction`` is
    "max": normalized scores are higher-better whatever the metric's direction."""

    treatment: str
    control: str
    prob_improvement: ProbabilityOfImprovement
    run_comparison: Comparison
    test_normalization: str = ""  # the scale of the run means the test compares (see ``_test_normalization``)

    @property
    def verdict(self) -> str:
        return self.run_comparison.verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "treatment": self.treatment,
            "control": self.control,
            "verdict": self.verdict,
            "prob_improvement": _jsonable(self.prob_improvement.probability),
            "prob_improvement_ci": _jsonable(self.prob_improvement.ci),
            "prob_improvement_by_task": _jsonable(self.prob_improvement.by_task),
            "test_unit": "run: its mean normalized score across tasks",
            "test_normalization": self.test_normalization,
            "run_comparison": self.run_comparison.to_dict(),
        }


@dataclass(frozen=True)
class SuiteAnalysis:
    """A suite's analysis: normalization, per-variant aggregates and profiles, comparisons with the control."""

    control: str
    paired: bool
    direction: str
    alpha: float
    ci_level: float
    n_resamples: int
    seed: int
    target: float | None
    tasks: tuple[str, ...]
    normalization: SuiteNormalization
    variants: Mapping[str, SuiteAggregate]
    profiles: Mapping[str, PerformanceProfile]
    comparisons: tuple[SuiteComparison, ...]
    normalized: Mapping[str, np.ndarray] = field(compare=False)  # variant -> (runs, tasks), NaN = no score
    run_means: Mapping[str, tuple[float, ...]]  # variant -> each run's mean normalized score across its tasks
    missing: Mapping[str, tuple[tuple[str, int], ...]]  # task -> (variant, 1-based run index) without a score
    warnings: tuple[str, ...] = field(default=())

    def comparison(self, treatment: str) -> SuiteComparison:
        return _find_comparison(self.comparisons, treatment)

    def to_dict(self) -> dict[str, Any]:
        taus = next(iter(self.profiles.values())).taus if self.profiles else ()
        return {
            "settings": _settings_dict(
                self, target=self.target, bootstrap="stratified (runs resampled within each task), percentile CIs"
            ),
            "tasks": list(self.tasks),
            "normalization": self.normalization.to_dict(),
            "aggregate": {
                "variants": {
                    name: {"name": name, **agg.to_dict(), "run_means": _jsonable(self.run_means[name])}
                    for name, agg in self.variants.items()
                },
                "comparisons": [c.to_dict() for c in self.comparisons],
            },
            "profiles": {
                "taus": _jsonable(taus),
                "variants": {
                    name: _jsonable({"fraction": p.fraction, "ci_low": p.ci_low, "ci_high": p.ci_high})
                    for name, p in self.profiles.items()
                },
            },
            "missing": {task: [[v, i] for v, i in gaps] for task, gaps in self.missing.items()},
            "warnings": list(self.warnings),
        }


def _test_normalization(
    norm: SuiteNormalization, raw_t: np.ndarray, raw_c: np.ndarray, tasks: Sequence[str], d: str
) -> SuiteNormalization:
    """The scale of the run-unit test: declared constants as they are; instead of the control's own mean, the
    mean of the treatment's and the control's runs together (1 + (x - m) / |m| as before).

    The control's mean is estimated from the control's runs, so a task where the control happened to score
    low gets a large weight exactly when the treatment looks better there: T / C ratios are biased upwards
    (Jensen). Simulated A/A (800 experiments a cell, 10 tasks, 5 seeds, unpaired), the run-unit test on
    control-normalized scores said "better" .049 and "worse" .011 of the time at a coefficient of variation
    of 0.3, and .138 / .003 at 1. The pooled mean does not change when runs are relabelled between the two
    variants (whole runs swapped, or a pair's two runs), so under no difference the weights are constants
    of every relabelling the permutation test makes: its level is exact, the t-tests' holds, and the same
    cells gave .031 / .019 and .025 / .026.
    """
    if norm.method != CONTROL_MEAN:
        return norm
    s = 1.0 if d == "max" else -1.0
    zero, one = {}, {}
    for j, task in enumerate(tasks):
        col = np.concatenate([raw_t[:, j], raw_c[:, j]])
        m = float(np.mean(col[np.isfinite(col)]))  # the control has a score here (checked), so col has one
        if m == 0.0:
            raise ValueError(
                f"task {task!r}: the runs of the treatment and the control together have mean score 0, which "
                "gives the run-unit test no scale; declare normalize={task: (low, high), ...}"
            )
        zero[task], one[task] = m - s * abs(m), m
    description = "relative to the per-task mean m of the treatment's and the control's runs together: " + (
        "1 + (x - m) / |m|" if d == "max" else "1 - (x - m) / |m|"
    )
    return SuiteNormalization("pair_mean", description, d, None, zero, one)


def analyze_suite(
    scores: Mapping[str, Mapping[str, ArrayLike]],
    *,
    control: str | None = None,
    paired: bool = False,
    direction: str = "max",
    alpha: float = 0.05,
    ci_level: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    normalize: Mapping[str, tuple[float, float]] | None = None,
    target: float | None = None,
    taus: ArrayLike | None = None,
) -> SuiteAnalysis:
    """A suite judged as rliable does, with the verdict from the runs [Agarwal21].

    ``scores`` maps variant -> task -> per-run scores (NaN = no score; paired: index i is seed i in every
    variant and task). ``control`` defaults to the first variant. Scores are normalized per task
    (``normalize_suite``: declared (low, high), else relative to the control's mean), oriented so that higher
    is better whatever ``direction``. Per variant: IQM, mean, median, optimality gap (``target``, normalized
    units) with stratified bootstrap CIs, and the performance profile on ``taus`` (default: the range of all
    normalized scores). Per treatment: P(improvement) over the control averaged over tasks, and the
    verdict from ``compare`` on the runs' mean normalized scores (paired: over the tasks both runs of a pair
    have), Holm-adjusted across treatments. With the default normalization the test's runs are normalized by
    the per-task mean of the treatment's and control's runs together, not by the control's alone, which
    biases an A/A test towards "better" (``_test_normalization``); the aggregates stay relative to the
    control. Every bootstrap uses ``seed``, so each part is reproducible.
    Runs without a score on some task are listed in ``missing`` and warned about, never silently dropped.
    """
    _check_level("alpha", alpha)
    _check_resampling(ci_level, n_resamples)
    d = _direction(direction)
    names, tasks, raw = _suite_matrices(scores)
    control = names[0] if control is None else str(control)
    if control not in raw:
        raise ValueError(f"control {control!r} is not one of the variants {names}")
    norm, notes = normalize_suite(raw, tasks, control=control, direction=d, normalize=normalize)
    normalized = {v: norm.apply(m, tasks) for v, m in raw.items()}
    cols = {v: _by_task(m) for v, m in normalized.items()}
    grid = _default_taus(list(cols.values())) if taus is None else np.atleast_1d(np.asarray(taus, dtype=float))

    variants, profiles = {}, {}
    for v, m in normalized.items():
        rep = _aggregate_replicates(cols[v], grid, target, n_resamples, seed)
        n_runs = int(np.isfinite(m).any(axis=1).sum())
        variants[v] = _aggregate(cols[v], n_runs, rep, target, ci_level)
        profiles[v] = _profile(grid, rep, ci_level)
    means = {v: run_means(m) for v, m in normalized.items()}

    comparisons = []
    for v in names:
        if v == control:
            continue
        test_norm = _test_normalization(norm, raw[v], raw[control], tasks, d)
        t_norm, c_norm = test_norm.apply(raw[v], tasks), test_norm.apply(raw[control], tasks)
        if paired:
            t_units = run_means(t_norm, common_with=c_norm)
            c_units = run_means(c_norm, common_with=t_norm)
        else:
            t_units, c_units = run_means(t_norm), run_means(c_norm)
        comp = compare(
            t_units,
            c_units,
            paired=paired,
            direction="max",
            alpha=alpha,
            ci_level=ci_level,
            n_resamples=n_resamples,
            seed=seed,
            treatment_name=v,
            control_name=control,
            family_size=len(names) - 1,
        )
        prob = probability_of_improvement(
            dict(zip(tasks, normalized[v].T, strict=True)),
            dict(zip(tasks, normalized[control].T, strict=True)),
            ci_level=ci_level,
            n_resamples=n_resamples,
            seed=seed,
        )
        comparisons.append((v, prob, comp, test_norm.description))
    adjusted, family_notes = _holm_family([c for _, _, c, _ in comparisons], control)
    suite_comparisons = tuple(
        SuiteComparison(v, control, prob, comp, scale)
        for (v, prob, _, scale), comp in zip(comparisons, adjusted, strict=True)
    )

    missing = missing_runs(raw, tasks)
    if missing:
        listed = "; ".join(
            f"{task}: " + ", ".join(f"{v} run {i}" for v, i in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
            for task, gaps in missing.items()
        )
        how = "over the tasks both runs of a pair have" if paired else "over the tasks it has"
        notes.append(
            f"{sum(map(len, missing.values()))} task score(s) missing ({listed}): the aggregates use the scores "
            f"there are, and each run's mean is {how}."
        )
    return SuiteAnalysis(
        control=control,
        paired=paired,
        direction=d,
        alpha=alpha,
        ci_level=ci_level,
        n_resamples=n_resamples,
        seed=seed,
        target=None if target is None else float(target),
        tasks=tuple(tasks),
        normalization=norm,
        variants=variants,
        profiles=profiles,
        comparisons=suite_comparisons,
        normalized=normalized,
        run_means={v: tuple(map(float, m)) for v, m in means.items()},
        missing={task: tuple(gaps) for task, gaps in missing.items()},
        warnings=tuple(notes + family_notes),
    )
