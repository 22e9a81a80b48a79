"""Suites: one score per (variant, task, run), judged per variant across tasks as rliable does [Agarwal21].

  suite_normalization        per-task scores on one scale, higher always better: declared (low, high) per task,
                             or relative to the control's per-task mean
  suite_aggregates           IQM, mean, median, optimality gap, performance profiles and P(X > Y) averaged
                             over tasks, with stratified bootstrap CIs
  run_means (here)           the test's unit: each run's (seed's) mean normalized score across tasks
  analyze_suite (here)       all of it, and the aggregate verdict: ``compare`` on the run means, Holm

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from metta_ab.stats._common import (
    _as_1d,
    _check_level,
    _direction,
    _find_comparison,
    _jsonable,
    _settings_dict,
)
from metta_ab.stats.compare import Comparison, compare
from metta_ab.stats.family import _holm_family
from metta_ab.stats.settings import DEFAULTS, StatsSettings, WithSettings
from metta_ab.stats.suite_aggregates import (
    PerformanceProfile,
    ProbabilityOfImprovement,
    SuiteAggregate,
    check_resampling,
    probability_of_improvement,
    variant_aggregates,
)
from metta_ab.stats.suite_normalization import CONTROL_MEAN, SuiteNormalization, normalize_suite

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
    # the run units the test compared, treatment's and control's (index i = run i + 1, NaN: no score)
    units: tuple[tuple[float, ...], tuple[float, ...]] = field(default=((), ()), compare=False)

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
class SuiteAnalysis(WithSettings):
    """A suite's analysis: normalization, per-variant aggregates and profiles, comparisons with the control,
    computed with ``settings`` (its direction the metric's)."""

    control: str
    settings: StatsSettings
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


def _units_of(
    norm: SuiteNormalization, raw_t: np.ndarray, raw_c: np.ndarray, tasks: Sequence[str], paired: bool
) -> tuple[SuiteNormalization, np.ndarray, np.ndarray]:
    """The scale of a treatment's test against the control, and the units it compares: each run's mean
    normalized score across tasks (paired: over the tasks both runs of a pair have)."""
    test_norm = _test_normalization(norm, raw_t, raw_c, tasks, norm.direction)
    t_norm, c_norm = test_norm.apply(raw_t, tasks), test_norm.apply(raw_c, tasks)
    if paired:
        return test_norm, run_means(t_norm, common_with=c_norm), run_means(c_norm, common_with=t_norm)
    return test_norm, run_means(t_norm), run_means(c_norm)


def comparison_units(
    scores: Mapping[str, Mapping[str, ArrayLike]],
    settings: StatsSettings = DEFAULTS,
    *,
    control: str | None = None,
    normalize: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per treatment, the run units its aggregate test compares (treatment's, control's), as ``analyze_suite``
    computes them, without its bootstraps: what a sequential suite's look decides on (``decide_look`` with
    ``control_scores``). ``scores`` and ``settings`` as for ``analyze_suite``; of ``settings`` only the design
    (paired) and the metric's direction count."""
    names, tasks, raw = _suite_matrices(scores)
    control = names[0] if control is None else str(control)
    d = _direction(settings.direction)
    norm, _ = normalize_suite(raw, tasks, control=control, direction=d, normalize=normalize)
    scaled = {v: _units_of(norm, raw[v], raw[control], tasks, settings.paired) for v in names if v != control}
    return {v: (t, c) for v, (_, t, c) in scaled.items()}


def analyze_suite(
    scores: Mapping[str, Mapping[str, ArrayLike]],
    settings: StatsSettings = DEFAULTS,
    *,
    control: str | None = None,
    normalize: Mapping[str, tuple[float, float]] | None = None,
    target: float | None = None,
    taus: ArrayLike | None = None,
) -> SuiteAnalysis:
    """A suite judged as rliable does, with the verdict from the runs [Agarwal21].

    ``scores`` maps variant -> task -> per-run scores (NaN = no score; paired: index i is seed i in every
    variant and task). ``control`` defaults to the first variant. Scores are normalized per task
    (``normalize_suite``: declared (low, high), else relative to the control's mean), oriented so that higher
    is better whatever ``settings.direction``. Per variant: IQM, mean, median, optimality gap (``target``, normalized
    units) with stratified bootstrap CIs, and the performance profile on ``taus`` (default: the range of all
    normalized scores). Per treatment: P(improvement) over the control averaged over tasks, and the
    verdict from ``compare`` on the runs' mean normalized scores (paired: over the tasks both runs of a pair
    have), Holm-adjusted across treatments. With the default normalization the test's runs are normalized by
    the per-task mean of the treatment's and control's runs together, not by the control's alone, which
    biases an A/A test towards "better" (``_test_normalization``); the aggregates stay relative to the
    control. Every bootstrap uses ``settings.seed``, so each part is reproducible. ``settings.min_effect``, in
    the metric's units, does not apply to normalized scores.
    Runs without a score on some task are listed in ``missing`` and warned about, never silently dropped.
    """
    _check_level("alpha", settings.alpha)
    check_resampling(settings)
    d = _direction(settings.direction)
    normalized_settings = settings.on_normalized_scale()  # of the tests and P(improvement) on normalized scores
    names, tasks, raw = _suite_matrices(scores)
    control = names[0] if control is None else str(control)
    if control not in raw:
        raise ValueError(f"control {control!r} is not one of the variants {names}")
    norm, notes = normalize_suite(raw, tasks, control=control, direction=d, normalize=normalize)
    normalized = {v: norm.apply(m, tasks) for v, m in raw.items()}
    variants, profiles = variant_aggregates(normalized, settings, taus=taus, target=target)
    means = {v: run_means(m) for v, m in normalized.items()}

    comparisons = []
    for v in names:
        if v == control:
            continue
        test_norm, t_units, c_units = _units_of(norm, raw[v], raw[control], tasks, settings.paired)
        comp = compare(
            t_units,
            c_units,
            normalized_settings,
            treatment_name=v,
            control_name=control,
            family_size=len(names) - 1,
        )
        prob = probability_of_improvement(
            dict(zip(tasks, normalized[v].T, strict=True)),
            dict(zip(tasks, normalized[control].T, strict=True)),
            normalized_settings,
        )
        units = (tuple(map(float, t_units)), tuple(map(float, c_units)))
        comparisons.append((v, prob, comp, test_norm.description, units))
    adjusted, family_notes = _holm_family([c for _, _, c, _, _ in comparisons], control)
    suite_comparisons = tuple(
        SuiteComparison(v, control, prob, comp, scale, units)
        for (v, prob, _, scale, units), comp in zip(comparisons, adjusted, strict=True)
    )

    missing = missing_runs(raw, tasks)
    if missing:
        listed = "; ".join(
            f"{task}: " + ", ".join(f"{v} run {i}" for v, i in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
            for task, gaps in missing.items()
        )
        how = "over the tasks both runs of a pair have" if settings.paired else "over the tasks it has"
        notes.append(
            f"{sum(map(len, missing.values()))} task score(s) missing ({listed}): the aggregates use the scores "
            f"there are, and each run's mean is {how}."
        )
    return SuiteAnalysis(
        control=control,
        settings=replace(settings, direction=d),
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
