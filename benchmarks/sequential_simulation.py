"""Sequential A/B simulation: error rate, power and runs used of the sequential design, the fixed design at N and
AdaStop, on the same simulated data sets.

Every simulated experiment is decided by ``metta_ab.stats.sequential.run_sequential`` (the decision code the
sweep uses: ``decide_look`` at every look); the fixed design at N is the same code with one look (N runs per
variant, level alpha). AdaStop (Mathieu et al. 2023; ``pip install adastop``, the ``bench`` extra) gets the
cumulative data of the same data set at each interim: ``MultipleAgentsComparator(n=k, K=N/k, alpha=...)``.

Rows: (N, k) = (15, 5), (20, 5), (30, 10); scores normal or skewed (lognormal, standardized); design paired
(run i of both variants shares seed i; pair correlation r = 0 or 0.7) or unpaired (Welch); true difference
d = 0 (A/A), 0.5, 1, 1.5, 2 standard deviations of a variant's scores. Columns: the rate of a "better"/"worse"
verdict (d = 0: the false-positive rate; d > 0: power, a correct "better"), and the mean runs per variant.

AdaStop's nominal alpha is not its measured error (issue 13: alpha .05 gave .10 on A/A), so it runs at
``--adastop-alpha`` (default .02) and its measured A/A rate is printed beside ours: compare at equal measured
error. It runs on the unpaired rows (it is a two-sample test) unless ``--adastop all``.

    python benchmarks/sequential_simulation.py [--experiments 2000] [--smoke] [--workers 2] [--spending hsd:-2]
        [--rows all|plain|suite|threshold]

Suite rows (``--rows suite``; ``all`` runs both): a sequential suite of 3 or 10 tasks (``aa_simulation``'s suite
generator: scales from 1 to 1000, normal, skewed and bimodal tasks in turn; paired with a shared seed effect
r = 0.5, or unpaired), N / k = 15 / 5, each look decided as the sweep decides it: the aggregate test's run
units (``metta_ab.stats.suite.comparison_units``: each run's mean normalized score across tasks, computed as
``analyze_suite`` computes them) into ``decide_look``. Both normalizations: declared (0, the task's population
mean) and the default one, whose per-task means are re-estimated from the runs at every look. d is in SDs of
a variant's run means on the declared scale, added to every task.

Threshold rows (``--rows threshold``): time to a threshold, each look decided by the log-rank statistic of the
times so far with its permutation p (``decide_look`` with ``censored``), N / k = 5 / 5 (one look: the permutation
p alone), 6 / 3, 10 / 5 and 15 / 5. A run's time is exponential (rate 1 for the control, the hazard ratio for
the treatment), read off an evaluation grid of 20 steps over 2 time units (tied times, as logged curves give)
and censored at the last one (13.5% of the control's runs never reach the threshold). Hazard ratio 1 (A/A) and
3. Beside the fixed design at N (the same permutation log-rank, one look) it gives the fixed design's rate with
the normal approximation of the log-rank p (``compare_times``' ``normal_p``, which the fixed design decided
with before it used the permutation p too; ``aa_simulation.py --rows threshold`` measures the fixed design
through ``stats.analyze``).

At d = 0.5 and 1 it also measures the bias of the estimate after an early stop: the observed difference at the
deciding look (naive) against the median-unbiased one the report prints beside it
(``metta_ab.stats.sequential.early_stop_estimate``), in SDs, over the experiments that stopped early, and
over all experiments with the difference as reported (adjusted after an early stop, else observed).

Exit status 1 when, with at least 1,000 experiments per row, an A/A rate is outside [0.02, 0.06]. The last
line is the worst A/A rate / alpha.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from _harness import PROJECT_ROOT  # noqa: F401  (puts this tree first on the import path)
from aa_simulation import Cell, suite_experiment, threshold_times

from metta_ab.stats import StatsSettings, compare_times
from metta_ab.stats.sequential import (
    DEFAULT_SPENDING,
    decide_look,
    early_stop_estimate,
    run_sequential,
    runs_used,
    sequential_design,
)
from metta_ab.stats.suite import comparison_units

ALPHA = 0.05
FPR_BAND = (0.02, 0.06)
SCHEDULES = ((15, 5), (20, 5), (30, 10))
EFFECTS = (0.0, 0.5, 1.0, 1.5, 2.0)
BIAS_EFFECTS = (0.5, 1.0)  # where the bias of the estimate after an early stop is measured
DESIGNS = (("paired", 0.0), ("paired", 0.7), ("unpaired", 0.0))
DISTS = ("normal", "skewed")
_LOGNORMAL_MEAN, _LOGNORMAL_SD = math.exp(0.5), math.sqrt((math.e - 1.0) * math.e)


@dataclass(frozen=True)
class Row:
    n_max: int
    k: int
    design: str
    r: float
    dist: str
    d: float

    @property
    def label(self) -> str:
        design = f"paired r={self.r:g}" if self.design == "paired" else "unpaired"
        return f"N={self.n_max:<2} k={self.k:<2} {design:<13} {self.dist:<6} d={self.d:g}"


SUITE_SCHEDULE = (15, 5)
SUITE_TASKS = (3, 10)
SUITE_EFFECTS = (0.0, 1.0)
SUITE_CORRELATION = 0.5
NORMALIZATIONS = ("declared", "default")


@dataclass(frozen=True)
class SuiteRow:
    n_max: int
    k: int
    tasks: int
    paired: bool
    normalization: str  # "declared" (0, the task's population mean) or "default" (re-estimated every look)
    d: float

    @property
    def label(self) -> str:
        design = f"paired r={SUITE_CORRELATION:g}" if self.paired else "unpaired"
        tasks = f"suite {self.tasks:>2} tasks"
        return f"N={self.n_max:<2} k={self.k:<2} {tasks} {design:<13} {self.normalization:<8} d={self.d:g}"

    def cell(self, runs: int) -> Cell:
        r = SUITE_CORRELATION if self.paired else 0.0
        return Cell("suite", "normal", runs, r, tasks=self.tasks, paired=self.paired)


@functools.cache
def suite_population(tasks: int, paired: bool) -> tuple[np.ndarray, float]:
    """Per task the population mean of a variant's scores, and the SD of a variant's run means on the scale
    those means declare (x / mean per task), from 100,000 simulated runs."""
    row = SuiteRow(1, 1, tasks, paired, "declared", 0.0)
    scores = suite_experiment(row.cell(100_000), np.random.default_rng(0))["v0"]
    raw = np.column_stack(list(scores.values()))
    means = raw.mean(axis=0)
    return means, float((raw / means).mean(axis=1).std())


def run_suite_block(row: SuiteRow, start: int, stop: int, spending: str, ada: None = None) -> np.ndarray:
    """Sums over experiments start..stop-1 of: sequential rejects, runs; fixed-at-N rejects (the layout of
    ``run_block``'s first three)."""
    design = sequential_design(row.n_max, row.k, ALPHA, spending)
    fixed = sequential_design(row.n_max, row.n_max, ALPHA, spending)
    means, sd = suite_population(row.tasks, row.paired)
    normalize = {f"task{j}": (0.0, float(m)) for j, m in enumerate(means)} if row.normalization == "declared" else None
    key = [row.n_max, row.k, row.tasks, int(row.paired), NORMALIZATIONS.index(row.normalization), int(row.d * 1000)]
    good = ("better",) if row.d > 0 else ("better", "worse")
    out = np.zeros(10)
    for i in range(start, stop):
        data = suite_experiment(row.cell(row.n_max), np.random.default_rng([*key, i]))
        data["v1"] = {task: x + row.d * sd * means[j] for j, (task, x) in enumerate(data["v1"].items())}
        history = decide_suite_looks(data, design, row.paired, normalize)
        out[0] += history[-1].comparisons[0].decision in good
        out[1] += history[-1].runs_per_variant
        out[2] += decide_suite_looks(data, fixed, row.paired, normalize)[-1].comparisons[0].decision in good
    return out


def decide_suite_looks(
    data: dict[str, dict[str, np.ndarray]], design, paired: bool, normalize: dict[str, tuple[float, float]] | None
) -> list:
    """The looks of one two-variant suite as the sweep decides them: at each look the aggregate test's units of
    the runs so far, then ``decide_look``, until it stops."""
    history: list = []
    for look in range(1, design.looks + 1):
        n = design.runs_at_look[look - 1]
        visible = {v: {task: x[:n] for task, x in tasks.items()} for v, tasks in data.items()}
        t, c = comparison_units(visible, StatsSettings(paired=paired), control="v0", normalize=normalize)["v1"]
        decision = decide_look(
            {"v0": c, "v1": t},
            design,
            look,
            StatsSettings(paired=paired),
            control="v0",
            history=history,
            control_scores={"v1": c},
        )
        history.append(decision)
        if decision.stop:
            break
    return history


THRESHOLD_SCHEDULES = ((5, 5), (6, 3), (10, 5), (15, 5))
HAZARD_RATIOS = (1.0, 3.0)


@dataclass(frozen=True)
class ThresholdRow:
    n_max: int
    k: int
    hazard_ratio: float

    @property
    def d(self) -> float:
        """The effect on the log scale: 0 for the A/A rows (what the A/A checks look for)."""
        return math.log(self.hazard_ratio)

    @property
    def label(self) -> str:
        return f"N={self.n_max:<2} k={self.k:<2} time to threshold      HR={self.hazard_ratio:g}"


def run_threshold_block(row: ThresholdRow, start: int, stop: int, spending: str, ada: None = None) -> np.ndarray:
    """Sums over experiments start..stop-1 of: sequential rejects, runs; fixed-at-N rejects (permutation p);
    fixed-at-N rejects with the normal log-rank p (``compare_times``)."""
    design = sequential_design(row.n_max, row.k, ALPHA, spending)
    fixed = sequential_design(row.n_max, row.n_max, ALPHA, spending)
    key = [row.n_max, row.k, int(row.hazard_ratio * 1000)]
    good = ("better",) if row.hazard_ratio > 1 else ("better", "worse")
    out = np.zeros(10)
    for i in range(start, stop):
        rng = np.random.default_rng([*key, i])
        (c, c_cens), (t, t_cens) = (
            threshold_times(row.n_max, 1.0, rng),
            threshold_times(row.n_max, row.hazard_ratio, rng),
        )
        scores, censored = {"control": c, "treatment": t}, {"control": c_cens, "treatment": t_cens}
        history = run_sequential(scores, design, StatsSettings(paired=False), censored=censored)
        out[0] += history[-1].comparisons[0].decision in good
        out[1] += np.mean(list(runs_used(history, list(scores)).values()))
        one_look = run_sequential(scores, fixed, StatsSettings(paired=False), censored=censored)
        out[2] += one_look[-1].comparisons[0].decision in good
        fixed_times = compare_times(t, t_cens, c, c_cens)  # its normal p, as it decided before the permutation p
        normal_p, sooner = fixed_times.time_to_threshold["normal_p"], fixed_times.statistic > 0
        out[3] += normal_p < ALPHA and (sooner or row.hazard_ratio == 1.0)
    return out


def _noise(dist: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Mean 0, SD 1 scores: normal, or a standardized lognormal (skewness 6.2)."""
    if dist == "normal":
        return rng.normal(0.0, 1.0, shape)
    return (rng.lognormal(0.0, 1.0, shape) - _LOGNORMAL_MEAN) / _LOGNORMAL_SD


def simulate_data(row: Row, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Control and treatment scores of one experiment (N each; SD 1 per variant, pair correlation r)."""
    if row.design == "paired":
        shared = _noise(row.dist, (row.n_max,), rng)
        c = math.sqrt(row.r) * shared + math.sqrt(1 - row.r) * _noise(row.dist, (row.n_max,), rng)
        t = math.sqrt(row.r) * shared + math.sqrt(1 - row.r) * _noise(row.dist, (row.n_max,), rng)
    else:
        c, t = _noise(row.dist, (row.n_max,), rng), _noise(row.dist, (row.n_max,), rng)
    return c, t + row.d


def _adastop(c: np.ndarray, t: np.ndarray, row: Row, alpha: float, b: int, seed: int) -> tuple[int, float]:
    from adastop import MultipleAgentsComparator

    comparator = MultipleAgentsComparator(n=row.k, K=row.n_max // row.k, alpha=alpha, B=b, seed=seed)
    for look in range(1, row.n_max // row.k + 1):
        n = look * row.k
        comparator.partial_compare({"control": c[:n], "treatment": t[:n]}, verbose=False)
        if comparator.is_finished:
            break
    decision = next(iter(comparator.decisions.values()))
    # comparison (control, treatment): "smaller" = control smaller = treatment better
    called = decision in ("smaller", "larger")
    correct = decision == "smaller" if row.d > 0 else called
    return int(correct), float(np.mean(list(comparator.n_iters.values())))


def _estimate_errors(history: list, design, d: float) -> np.ndarray:
    """Early stop (0/1); its naive and adjusted errors (0 unless early); the errors of the naive and the
    reported estimate (adjusted after an early stop, else naive) whatever the stop."""
    final = history[-1].comparisons[0]
    look = final.decided_at or len(history)
    naive = history[look - 1].comparisons[0].difference - d
    adjusted = early_stop_estimate(history, "treatment", design)
    if adjusted is None:
        return np.array([0.0, 0.0, 0.0, naive, naive])
    return np.array([1.0, naive, adjusted.median_unbiased - d, naive, adjusted.median_unbiased - d])


def run_block(row: Row, start: int, stop: int, spending: str, ada: tuple[float, int] | None) -> np.ndarray:
    """Sums over experiments start..stop-1 (each seeded by its index): sequential rejects, runs; fixed rejects;
    AdaStop rejects, runs; at d in BIAS_EFFECTS the sums of ``_estimate_errors``."""
    design = sequential_design(row.n_max, row.k, ALPHA, spending)
    fixed = sequential_design(row.n_max, row.n_max, ALPHA, spending)
    paired = row.design == "paired"
    key = [row.n_max, row.k, DESIGNS.index((row.design, row.r)), DISTS.index(row.dist), int(row.d * 1000)]
    out = np.zeros(10)
    for i in range(start, stop):
        c, t = simulate_data(row, np.random.default_rng([*key, i]))
        scores = {"control": c, "treatment": t}
        history = run_sequential(scores, design, StatsSettings(paired=paired))
        verdict = history[-1].comparisons[0].decision
        fixed_verdict = run_sequential(scores, fixed, StatsSettings(paired=paired))[-1].comparisons[0].decision
        good = ("better",) if row.d > 0 else ("better", "worse")
        out[0] += verdict in good
        out[1] += np.mean(list(runs_used(history, list(scores)).values()))
        out[2] += fixed_verdict in good
        if row.d in BIAS_EFFECTS:
            out[5:] += _estimate_errors(history, design, row.d)
        if ada is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                correct, runs = _adastop(c, t, row, ada[0], ada[1], i)
            out[3] += correct
            out[4] += runs
    return out


def simulate(row: Row | SuiteRow | ThresholdRow, experiments: int, spending: str, ada, pool) -> np.ndarray:
    blocks = max(1, min(8, experiments // 100))
    edges = np.linspace(0, experiments, blocks + 1).astype(int)
    args = [(row, int(a), int(b), spending, ada) for a, b in itertools.pairwise(edges)]
    run = map if pool is None else pool.map
    block = {SuiteRow: run_suite_block, ThresholdRow: run_threshold_block}.get(type(row), run_block)
    return np.sum(list(run(block, *zip(*args, strict=True))), axis=0) / experiments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2000, help="simulated experiments per row (2000)")
    parser.add_argument("--smoke", action="store_true", help="40 experiments, a few rows, no AdaStop (CI)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--spending", default=DEFAULT_SPENDING, help=f"spending function ({DEFAULT_SPENDING})")
    parser.add_argument("--adastop", choices=("unpaired", "all", "none"), default="unpaired")
    parser.add_argument("--adastop-alpha", type=float, default=0.02, help="AdaStop's nominal alpha (0.02)")
    parser.add_argument("--adastop-b", type=int, default=2000, help="AdaStop's permutations B (2000)")
    parser.add_argument("--schedules", default=",".join(f"{n}/{k}" for n, k in SCHEDULES), help="N/k,...")
    parser.add_argument("--effects", default=",".join(f"{d:g}" for d in EFFECTS), help="true differences d,...")
    parser.add_argument(
        "--rows", choices=("all", "plain", "suite", "threshold"), default="all", help="plain, suite, threshold or all"
    )
    args = parser.parse_args(argv)
    experiments = 40 if args.smoke else args.experiments
    schedules = [tuple(int(x) for x in s.split("/")) for s in args.schedules.split(",")]
    if args.smoke:
        schedules, args.adastop = schedules[:1], "none"
    if args.adastop != "none":
        try:
            import adastop  # noqa: F401
        except ImportError:
            print("adastop is not installed (pip install -e '.[bench]'): AdaStop columns skipped")
            args.adastop = "none"
    rows: list[Row | SuiteRow | ThresholdRow] = [
        Row(n, k, design, r, dist, d)
        for n, k in schedules
        for design, r in DESIGNS
        for dist in DISTS
        for d in (float(x) for x in args.effects.split(","))
        if not args.smoke or (dist == "normal" and d in (0.0, 1.5))
    ] * (args.rows in ("all", "plain"))
    rows += [
        SuiteRow(*SUITE_SCHEDULE, tasks, paired, normalization, d)
        for tasks in SUITE_TASKS
        for paired in (True, False)
        for normalization in NORMALIZATIONS
        for d in SUITE_EFFECTS
        if not args.smoke or (tasks == 3 and paired and normalization == "declared")
    ] * (args.rows in ("all", "suite"))
    rows += [
        ThresholdRow(n, k, ratio)
        for n, k in THRESHOLD_SCHEDULES
        for ratio in HAZARD_RATIOS
        if not args.smoke or (n, k) == (10, 5)
    ] * (args.rows in ("all", "threshold"))
    rows_order = list(rows)
    rows.sort(key=lambda row: (row.d not in (0.0, 1.5), row.d not in (0.0,)))  # the goals' rows first
    started = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=args.workers) if args.workers > 1 else None
    results = {}
    try:
        for row in rows:
            with_ada = isinstance(row, Row) and (
                args.adastop == "all" or (args.adastop == "unpaired" and row.design == "unpaired")
            )
            ada = (args.adastop_alpha, args.adastop_b) if with_ada else None
            results[row] = (res := simulate(row, experiments, args.spending, ada, pool), with_ada)
            ada_cols = f"{res[3]:.3f} {res[4]:.1f}" if with_ada else "-"
            print(f"{row.label}: {res[0]:.3f} {res[1]:.1f} {res[2]:.3f} {ada_cols}", flush=True, file=sys.stderr)
    finally:
        if pool is not None:
            pool.shutdown()
    results = dict(sorted(results.items(), key=lambda item: rows_order.index(item[0])))
    print(f"Sequential simulation: {experiments} experiments per row, alpha = {ALPHA}, spending {args.spending};")
    print("rate = 'better'/'worse' verdicts (d = 0: false positives) or correct 'better' (d > 0); runs = mean runs")
    print(f"per variant. AdaStop at nominal alpha {args.adastop_alpha}, B = {args.adastop_b}, cumulative data.")
    print()
    header = "| row | sequential rate | runs | fixed at N rate | runs | AdaStop rate | runs |"
    print(header)
    print("|---|---|---|---|---|---|---|")
    for row, (res, with_ada) in results.items():
        ada = f"{res[3]:.3f} | {res[4]:.1f}" if with_ada else "- | -"
        print(f"| {row.label} | {res[0]:.3f} | {res[1]:.1f} | {res[2]:.3f} | {row.n_max} | {ada} |")
    timed = {row: res for row, (res, _) in results.items() if isinstance(row, ThresholdRow)}
    if timed:
        print()
        print(
            "Time to threshold: the fixed design at N with the normal approximation of the log-rank p (the p it"
            " decided with before the permutation p)"
        )
        print("beside the same fixed design with the permutation p:")
        print()
        print("| row | fixed, permutation p | fixed, normal p |")
        print("|---|---|---|")
        for row, res in timed.items():
            print(f"| {row.label} | {res[2]:.3f} | {res[3]:.3f} |")
    biased = {row: res for row, (res, _) in results.items() if isinstance(row, Row) and row.d in BIAS_EFFECTS}
    if biased:
        print()
        print("Bias of the estimated difference (mean error in SDs): after an early stop, naive / median-unbiased;")
        print("over all experiments, naive / as reported (median-unbiased after an early stop, else naive).")
        print()
        print("| row | early stops | naive (early) | adjusted (early) | naive (all) | reported (all) |")
        print("|---|---|---|---|---|---|")
        for row, res in biased.items():
            early = (
                f"{res[6] / res[5]:+.3f} | {res[7] / res[5]:+.3f}" if res[5] > 0 else "- | -"
            )  # sums / experiments, so the ratio is the mean over early stops
            print(f"| {row.label} | {res[5]:.3f} | {early} | {res[8]:+.3f} | {res[9]:+.3f} |")
    print()
    aa = {row: res for row, (res, _) in results.items() if row.d == 0}
    outside = [(row, res[0]) for row, res in aa.items() if not FPR_BAND[0] <= res[0] <= FPR_BAND[1]]
    for row, rate in outside:
        print(f"OUT OF BAND: {row.label}: A/A rate {rate:.3f} not in {list(FPR_BAND)}")
    goals = []
    for row, (res, with_ada) in results.items():
        if row.d != 1.5 or not isinstance(row, Row):
            continue
        notes = []
        if res[1] > 0.7 * row.n_max:
            notes.append(f"runs {res[1]:.1f} > 0.7 N")
        if res[0] < res[2] - 0.05:
            notes.append(f"power {res[0]:.3f} < fixed {res[2]:.3f} - 0.05")
        if with_ada and res[1] >= res[4]:
            notes.append(f"runs {res[1]:.1f} >= AdaStop {res[4]:.1f}")
        goals.append((row, notes))
    missed = [(row, notes) for row, notes in goals if notes]
    for row, notes in missed:
        print(f"GOAL MISSED at {row.label}: {'; '.join(notes)}")
    print(f"d = 1.5 goals met in {len(goals) - len(missed)} of {len(goals)} rows")
    print(f"elapsed: {time.perf_counter() - started:.1f} s ({args.workers} worker(s))")
    if not aa:  # --effects without 0: no error rate to report
        print("ratio 0.00: no A/A rows were run (add 0 to --effects)")
        return 0
    worst = max(aa.items(), key=lambda item: abs(item[1][0] - ALPHA))
    met = not outside
    print(
        f"ratio {worst[1][0] / ALPHA:.2f}: worst A/A rate ({worst[0].label}: {worst[1][0]:.3f}) / alpha over "
        f"{len(aa)} A/A rows (target {FPR_BAND[0]}-{FPR_BAND[1]}, {'met' if met else 'missed'})"
    )
    return 1 if outside and experiments >= 1000 else 0


if __name__ == "__main__":
    sys.exit(main())
