"""A/A simulation: how often does the verdict call a difference when there is none?

Every simulated experiment goes through ``metta_ab.stats.analyze``, the function the sweeper and
``metta-ab analyze`` call with the runs' scores, so the rows measure the rule users get (the decision test,
its fallbacks, Holm), not a re-implementation. No true difference between the variants; alpha = 0.05.

Rows:
  unpaired   independent seeds, normal / skewed (lognormal) / bimodal (20% of seeds collapse) scores, N = 5, 10
  paired     the default design (run i of every variant shares seed i): normal scores whose pair
             correlation is 0 or 0.7, N = 3, 5, 10
  3 variants two treatments against the control, paired (r = 0.7), Holm-adjusted: the family-wise rate
             (an experiment counts once when either comparison says "better" or "worse")
  threshold  times to a threshold through ``analyze`` with ``censored`` (the fixed design with
             ``curve_summary="threshold"``): exponential times read off an evaluation grid of 20 steps
             (ties), censored at the last one (13.5% of the runs), unpaired, N = 5, 10, 15; beside the
             verdict (the permutation log-rank p) the rate of scipy's normal log-rank p, and how often the
             hazard ratio's Wald CI disagrees with the verdict (the sentence then says so)
  suite      3 and 10 tasks on scales spread over 1..1000 (normal, skewed and bimodal tasks in turn), through
             ``metta_ab.stats.suite.analyze_suite`` with its default normalization (relative to the
             control's per-task mean): the aggregate verdict, whose unit is the run (its mean normalized
             score across tasks); paired (seed effect shared by the variants, r = 0.5) and unpaired, N = 5, 10

It prints the rate of a "better"/"worse" verdict per row beside the rates of the robustness checks and of
the "bootstrap CI excludes 0" rule the spec warns against, then the power to detect d = 1.

    python benchmarks/aa_simulation.py [--experiments N] [--quick | --smoke] [--rows all|single|suite|threshold]
        [--workers W]

Exit status 1 when the verdict's rate of any row is outside [0.02, 0.065] (checked with at least 1,000
experiments per row; ``--quick`` is a run of 200, ``--smoke`` one of 20 with 100 resamples that only shows
the script still runs). ``--rows suite`` (``threshold``) runs the suite (time-to-threshold) rows alone. The
last line is the worst row's rate / alpha.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from metta_ab.stats import BETTER, WORSE, Comparison, StatsSettings, analyze
from metta_ab.stats.suite import analyze_suite

ALPHA = 0.05
FPR_BAND = (0.02, 0.065)
DISTRIBUTIONS = ("normal", "lognormal", "bimodal")
#: spec table (4000 experiments per row, unpaired): Welch false-positive rate, and "bootstrap CI excludes 0"
SPEC_WELCH = {("normal", 5): 0.044, ("normal", 10): 0.052, ("lognormal", 5): 0.018, ("bimodal", 5): 0.014,
              ("bimodal", 10): 0.034}  # fmt: skip
SPEC_BOOTSTRAP = {("normal", 5): 0.130, ("normal", 10): 0.084}
SPEC_POWER = {5: 0.29}  # noncentral t, pooled test
DESIGNS = ("unpaired", "paired", "3 variants", "suite", "threshold")
THRESHOLD_GRID, THRESHOLD_HORIZON = 20, 2.0  # evaluation steps, and the time of the last one
#: task kinds of a suite, in turn: normal (CV 0.3), skewed (lognormal, sigma 0.5), bimodal (20% collapse)
SUITE_KINDS = ("normal", "lognormal", "bimodal")
SUITE_CORRELATION = 0.5  # pair correlation of a paired suite's runs (the seed effect shared by variants)


def draw(dist: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Per-seed scores of one variant."""
    if dist == "normal":
        return rng.normal(0.0, 1.0, n)
    if dist == "lognormal":
        return rng.lognormal(0.0, 1.0, n)
    if dist == "bimodal":  # a seed collapses (score near 0) with probability 0.2, else learns (near 1)
        learned = rng.normal(1.0, 0.1, n)
        collapsed = rng.normal(0.0, 0.05, n)
        return np.where(rng.random(n) < 0.2, collapsed, learned)
    raise ValueError(dist)


def threshold_times(n: int, hazard_ratio: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n runs' steps to the threshold (exponential times at rate ``hazard_ratio`` on the evaluation grid) and
    whether each was censored at the last step."""
    steps = np.ceil(rng.exponential(1.0 / hazard_ratio, n) / THRESHOLD_HORIZON * THRESHOLD_GRID)
    censored = steps > THRESHOLD_GRID
    return np.minimum(steps, THRESHOLD_GRID), censored


@dataclass(frozen=True)
class Cell:
    design: str  # one of DESIGNS
    dist: str
    n: int
    correlation: float = 0.0  # pair correlation of the paired designs
    shift_d: float = 0.0  # true difference in SDs (0 = A/A)
    tasks: int = 0  # tasks of a suite
    paired: bool = False  # a suite's design

    @property
    def label(self) -> str:
        if self.design == "suite":
            design = f"paired, r = {self.correlation:g}" if self.paired else "unpaired"
            return f"suite, {self.tasks} tasks, {design}"
        if self.design == "unpaired":
            return f"unpaired, {self.dist}"
        if self.design == "threshold":
            return "time to threshold, unpaired"
        holm = ", Holm" if self.design == "3 variants" else ""
        return f"{self.design}, r = {self.correlation:g}{holm}"


def experiment(cell: Cell, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One experiment's per-seed scores by variant (index i = seed i)."""
    variants = 3 if cell.design == "3 variants" else 2
    if cell.design == "unpaired":
        scores = [draw(cell.dist, cell.n, rng) for _ in range(variants)]
    else:  # a seed effect shared by every variant gives pair correlation r
        shared = rng.normal(0.0, 1.0, cell.n)
        r = cell.correlation
        scores = [math.sqrt(r) * shared + math.sqrt(1 - r) * rng.normal(0.0, 1.0, cell.n) for _ in range(variants)]
    scores[1] = scores[1] + cell.shift_d
    return {f"v{i}": s for i, s in enumerate(scores)}


def suite_experiment(cell: Cell, rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    """One suite's scores: variant -> task -> per-seed scores. Task j is on scale 1000 ** (j / (T - 1)) and of
    kind ``SUITE_KINDS[j % 3]``; paired, seed i's effect on a task is shared by every variant."""
    n, tasks, r = cell.n, cell.tasks, cell.correlation if cell.paired else 0.0
    scales = np.geomspace(1.0, 1000.0, tasks)
    shared = rng.normal(0.0, 1.0, (2, n, tasks))  # the seed effects: score, and collapse for bimodal tasks
    out = {}
    for v in range(2):
        z = math.sqrt(r) * shared + math.sqrt(1 - r) * rng.normal(0.0, 1.0, (2, n, tasks))
        scores = np.empty((n, tasks))
        for j in range(tasks):
            kind = SUITE_KINDS[j % len(SUITE_KINDS)]
            if kind == "normal":
                x = 1.0 + 0.3 * z[0, :, j]
            elif kind == "lognormal":
                x = np.exp(0.5 * z[0, :, j])
            else:  # collapsed (near 0) when the seed's collapse draw is in its lowest 20%
                x = np.where(sps.norm.cdf(z[1, :, j]) < 0.2, 0.05 * z[0, :, j], 1.0 + 0.1 * z[0, :, j])
            scores[:, j] = scales[j] * x
        out[f"v{v}"] = {f"task{j}": scores[:, j] for j in range(tasks)}
    return out


def run_block(cell: Cell, start: int, stop: int, n_resamples: int) -> np.ndarray:
    """Counts over experiments start..stop-1 (each seeded by its index) of: any verdict better/worse,
    any permutation p < alpha, any rank p < alpha, any bootstrap CI excluding 0, verdict "better"; threshold
    rows: any normal log-rank p < alpha, any hazard ratio CI disagreeing with the verdict."""
    counts = np.zeros(7, dtype=np.int64)
    key = [DESIGNS.index(cell.design), DISTRIBUTIONS.index(cell.dist), cell.n]
    key += [int(cell.correlation * 1000), int(cell.shift_d * 1000)]
    if cell.design == "suite":
        key += [cell.tasks, int(cell.paired)]
    for i in range(start, stop):
        rng = np.random.default_rng([*key, i])
        if cell.design == "suite":
            suite = analyze_suite(
                suite_experiment(cell, rng),
                StatsSettings(paired=cell.paired, alpha=ALPHA, n_resamples=n_resamples, seed=i),
            )
            comps = [c.run_comparison for c in suite.comparisons]
        elif cell.design == "threshold":
            (c, c_cens), (t, t_cens) = (threshold_times(cell.n, 1.0, rng) for _ in range(2))
            result = analyze(
                {"v0": c, "v1": t},
                StatsSettings(paired=False, alpha=ALPHA, n_resamples=n_resamples, seed=i),
                censored={"v0": c_cens, "v1": t_cens},
            )
            comps = result.comparisons
            counts[5:] += [
                any(x.time_to_threshold["normal_p"] < ALPHA for x in comps),
                any(_ratio_ci_disagrees(x) for x in comps),
            ]
        else:
            result = analyze(
                experiment(cell, rng),
                StatsSettings(paired=cell.design != "unpaired", alpha=ALPHA, n_resamples=n_resamples, seed=i),
            )
            comps = result.comparisons
        counts[:5] += [
            any(c.verdict in (BETTER, WORSE) for c in comps),
            any(c.permutation_p < ALPHA for c in comps),
            any(c.rank_test_p < ALPHA for c in comps),
            any(c.bootstrap_difference_ci[0] > 0 or c.bootstrap_difference_ci[1] < 0 for c in comps),
            comps[0].verdict == BETTER,
        ]
    return counts


def _ratio_ci_disagrees(c: Comparison) -> bool:
    """The hazard ratio's CI excludes 1 where the verdict is not better/worse, or the other way round."""
    low, high = c.time_to_threshold["hazard_ratio"]["ci"]
    if low is None or high is None:
        return False
    return (low > 1 or high < 1) != (c.verdict in (BETTER, WORSE))


def simulate(cell: Cell, experiments: int, n_resamples: int, pool: ProcessPoolExecutor | None) -> np.ndarray:
    blocks = max(1, min(16, experiments // 50))
    edges = np.linspace(0, experiments, blocks + 1).astype(int)
    args = [(cell, int(a), int(b), n_resamples) for a, b in itertools.pairwise(edges)]
    run = map if pool is None else pool.map
    parts = list(run(run_block, *zip(*args, strict=True)))
    return np.sum(parts, axis=0) / experiments


def suite_cells() -> list[Cell]:
    return [
        Cell("suite", "normal", n, SUITE_CORRELATION if paired else 0.0, tasks=tasks, paired=paired)
        for tasks in (3, 10)
        for paired in (True, False)
        for n in (5, 10)
    ]


def threshold_cells() -> list[Cell]:
    return [Cell("threshold", "normal", n) for n in (5, 10, 15)]  # dist is unused: times are exponential


def aa_cells(rows: str = "all") -> list[Cell]:
    cells = [Cell("unpaired", dist, n) for dist in DISTRIBUTIONS for n in (5, 10)]
    cells += [Cell("paired", "normal", n, r) for r in (0.0, 0.7) for n in (3, 5, 10)]
    cells += [Cell("3 variants", "normal", n, 0.7) for n in (3, 5, 10)]
    if rows == "single":
        return cells
    if rows in ("suite", "threshold"):
        return suite_cells() if rows == "suite" else threshold_cells()
    return cells + suite_cells() + threshold_cells()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2000, help="experiments per row (default 2000)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="200 experiments per row")
    size.add_argument("--smoke", action="store_true", help="20 experiments per row, 100 resamples (still runs?)")
    parser.add_argument(
        "--rows",
        choices=("all", "single", "suite", "threshold"),
        default="all",
        help="single-metric rows, suite rows, time-to-threshold rows, or all",
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    parser.add_argument(
        "--n-resamples", type=int, default=1000, help="bootstrap resamples per comparison (default 1000)"
    )
    args = parser.parse_args(argv)
    experiments = 20 if args.smoke else 200 if args.quick else args.experiments
    n_resamples = 100 if args.smoke else args.n_resamples
    started = time.perf_counter()

    power_cells = [Cell("unpaired", "normal", n, shift_d=1.0) for n in (5, 10)]
    power_cells += [Cell("paired", "normal", n, 0.7, shift_d=1.0) for n in (5, 10)]
    if args.rows in ("suite", "threshold"):
        power_cells = []
    pool = ProcessPoolExecutor(max_workers=args.workers) if args.workers > 1 else None
    try:
        aa = {cell: simulate(cell, experiments, n_resamples, pool) for cell in aa_cells(args.rows)}
        power = {cell: simulate(cell, experiments, n_resamples, pool) for cell in power_cells}
    finally:
        if pool is not None:
            pool.shutdown()

    se = math.sqrt(ALPHA * (1 - ALPHA) / experiments)
    print(
        f"A/A simulation: {experiments} experiments per row through metta_ab.stats.analyze (suite rows: "
        f"analyze_suite), alpha = {ALPHA},"
    )
    print("no true difference. 'verdict' = the analysis' own verdict (what summary.txt says); 'permutation' =")
    print("exact/10,000-shuffle permutation test of the mean difference; 'rank' = Mann-Whitney (unpaired) or")
    print(f"Wilcoxon (paired). Bootstrap CIs use {n_resamples} resamples (the verdict never uses them).")
    print(f"Binomial SE of a rate near .05: {se:.3f}. With 3 variants a row counts an experiment once when")
    print("either comparison rejects (family-wise rate). Suite rows: the run-unit comparison of the runs' mean")
    print("normalized scores across tasks (tasks on scales 1..1000), the aggregate verdict.")
    print()
    header = (
        f"{'design, scores':<36} {'N':>3}  {'verdict':>7}  {'permutation':>11}  {'rank':>6}  "
        f"{'boot CI excl 0':>14}  {'spec Welch':>10}  {'spec boot':>9}"
    )
    print(header)
    print("-" * len(header))
    for cell, rates in aa.items():
        spec_w = SPEC_WELCH.get((cell.dist, cell.n)) if cell.design == "unpaired" else None
        spec_b = SPEC_BOOTSTRAP.get((cell.dist, cell.n)) if cell.design == "unpaired" else None
        checks = [f"{r:.3f}" if cell.design != "threshold" else "-" for r in rates[1:4]]  # none on times
        print(
            f"{cell.label:<36} {cell.n:>3}  {rates[0]:>7.3f}  {checks[0]:>11}  {checks[1]:>6}  "
            f"{checks[2]:>14}  {'' if spec_w is None else f'{spec_w:.3f}':>10}  "
            f"{'' if spec_b is None else f'{spec_b:.3f}':>9}"
        )
    timed = {cell: rates for cell, rates in aa.items() if cell.design == "threshold"}
    if timed:
        print()
        print("Time to threshold (fixed design): the verdict decides with the permutation log-rank p; beside it the")
        print("rate scipy's normal-approximation log-rank p would give, and the share of experiments where the")
        print("hazard ratio's Wald CI disagrees with the verdict (the verdict sentence then says which decided).")
        print(f"{'design':<36} {'N':>3}  {'verdict':>7}  {'normal p':>8}  {'HR CI disagrees':>15}")
        for cell, rates in timed.items():
            print(f"{cell.label:<36} {cell.n:>3}  {rates[0]:>7.3f}  {rates[5]:>8.3f}  {rates[6]:>15.3f}")
    if power:
        print()
        print("Power to call a true d = 1 difference 'better' (normal scores, treatment shifted by one SD):")
        print(f"{'design':<36} {'N':>3}  {'verdict better':>14}  {'spec (pooled t)':>15}")
    for cell, rates in power.items():
        spec = SPEC_POWER.get(cell.n) if cell.design == "unpaired" else None
        print(f"{cell.label:<36} {cell.n:>3}  {rates[4]:>14.3f}  {'' if spec is None else f'{spec:.2f}':>15}")
    print()
    status = 0
    outside = [(cell, rates[0]) for cell, rates in aa.items() if not FPR_BAND[0] <= rates[0] <= FPR_BAND[1]]
    for cell, rate in outside:
        print(f"OUT OF BAND: {cell.label}, N = {cell.n}: verdict rate {rate:.3f} not in {list(FPR_BAND)}")
    if outside and experiments >= 1000:
        status = 1
    worst = max(aa.items(), key=lambda item: abs(item[1][0] - ALPHA))
    print(f"elapsed: {time.perf_counter() - started:.1f} s ({args.workers} worker(s))")
    print(
        f"ratio {worst[1][0] / ALPHA:.2f}: worst verdict rate ({worst[0].label}, N = {worst[0].n}: "
        f"{worst[1][0]:.3f}) / alpha, {len(aa)} A/A rows (target {FPR_BAND[0]}-{FPR_BAND[1]} every row, "
        f"{'met' if not outside else 'missed'})"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
