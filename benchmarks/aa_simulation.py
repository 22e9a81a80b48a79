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

It prints the rate of a "better"/"worse" verdict per row beside the rates of the robustness checks and of
the "bootstrap CI excludes 0" rule the spec warns against, then the power to detect d = 1.

    python benchmarks/aa_simulation.py [--experiments N] [--quick] [--workers W]

Exit status 1 when the verdict's rate of any row is outside [0.02, 0.065] (checked with at least 1,000
experiments per row; ``--quick`` is a smoke run of 200). The last line is the worst row's rate / alpha.
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

from metta_ab.stats import BETTER, WORSE, analyze

ALPHA = 0.05
FPR_BAND = (0.02, 0.065)
DISTRIBUTIONS = ("normal", "lognormal", "bimodal")
#: spec table (4000 experiments per row, unpaired): Welch false-positive rate, and "bootstrap CI excludes 0"
SPEC_WELCH = {("normal", 5): 0.044, ("normal", 10): 0.052, ("lognormal", 5): 0.018, ("bimodal", 5): 0.014,
              ("bimodal", 10): 0.034}  # fmt: skip
SPEC_BOOTSTRAP = {("normal", 5): 0.130, ("normal", 10): 0.084}
SPEC_POWER = {5: 0.29}  # noncentral t, pooled test


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


@dataclass(frozen=True)
class Cell:
    design: str  # "unpaired", "paired", "3 variants"
    dist: str
    n: int
    correlation: float = 0.0  # pair correlation of the paired designs
    shift_d: float = 0.0  # true difference in SDs (0 = A/A)

    @property
    def label(self) -> str:
        if self.design == "unpaired":
            return f"unpaired, {self.dist}"
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


def run_block(cell: Cell, start: int, stop: int, n_resamples: int) -> np.ndarray:
    """Counts over experiments start..stop-1 (each seeded by its index) of: any verdict better/worse,
    any permutation p < alpha, any rank p < alpha, any bootstrap CI excluding 0, verdict "better"."""
    counts = np.zeros(5, dtype=np.int64)
    key = [("unpaired", "paired", "3 variants").index(cell.design), DISTRIBUTIONS.index(cell.dist), cell.n]
    key += [int(cell.correlation * 1000), int(cell.shift_d * 1000)]
    for i in range(start, stop):
        rng = np.random.default_rng([*key, i])
        result = analyze(
            experiment(cell, rng), paired=cell.design != "unpaired", alpha=ALPHA, n_resamples=n_resamples, seed=i
        )
        comps = result.comparisons
        counts += [
            any(c.verdict in (BETTER, WORSE) for c in comps),
            any(c.permutation_p < ALPHA for c in comps),
            any(c.rank_test_p < ALPHA for c in comps),
            any(c.bootstrap_difference_ci[0] > 0 or c.bootstrap_difference_ci[1] < 0 for c in comps),
            comps[0].verdict == BETTER,
        ]
    return counts


def simulate(cell: Cell, experiments: int, n_resamples: int, pool: ProcessPoolExecutor | None) -> np.ndarray:
    blocks = max(1, min(16, experiments // 50))
    edges = np.linspace(0, experiments, blocks + 1).astype(int)
    args = [(cell, int(a), int(b), n_resamples) for a, b in itertools.pairwise(edges)]
    run = map if pool is None else pool.map
    parts = list(run(run_block, *zip(*args, strict=True)))
    return np.sum(parts, axis=0) / experiments


def aa_cells() -> list[Cell]:
    cells = [Cell("unpaired", dist, n) for dist in DISTRIBUTIONS for n in (5, 10)]
    cells += [Cell("paired", "normal", n, r) for r in (0.0, 0.7) for n in (3, 5, 10)]
    cells += [Cell("3 variants", "normal", n, 0.7) for n in (3, 5, 10)]
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2000, help="experiments per row (default 2000)")
    parser.add_argument("--quick", action="store_true", help="200 experiments per row (CI smoke run)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    parser.add_argument(
        "--n-resamples", type=int, default=1000, help="bootstrap resamples per comparison (default 1000)"
    )
    args = parser.parse_args(argv)
    experiments = 200 if args.quick else args.experiments
    started = time.perf_counter()

    power_cells = [Cell("unpaired", "normal", n, shift_d=1.0) for n in (5, 10)]
    power_cells += [Cell("paired", "normal", n, 0.7, shift_d=1.0) for n in (5, 10)]
    pool = ProcessPoolExecutor(max_workers=args.workers) if args.workers > 1 else None
    try:
        aa = {cell: simulate(cell, experiments, args.n_resamples, pool) for cell in aa_cells()}
        power = {cell: simulate(cell, experiments, args.n_resamples, pool) for cell in power_cells}
    finally:
        if pool is not None:
            pool.shutdown()

    se = math.sqrt(ALPHA * (1 - ALPHA) / experiments)
    print(f"A/A simulation: {experiments} experiments per row through metta_ab.stats.analyze, alpha = {ALPHA},")
    print("no true difference. 'verdict' = the analysis' own verdict (what summary.txt says); 'permutation' =")
    print("exact/10,000-shuffle permutation test of the mean difference; 'rank' = Mann-Whitney (unpaired) or")
    print(f"Wilcoxon (paired). Bootstrap CIs use {args.n_resamples} resamples (the verdict never uses them).")
    print(f"Binomial SE of a rate near .05: {se:.3f}. With 3 variants a row counts an experiment once when")
    print("either comparison rejects (family-wise rate).")
    print()
    header = (
        f"{'design, scores':<28} {'N':>3}  {'verdict':>7}  {'permutation':>11}  {'rank':>6}  "
        f"{'boot CI excl 0':>14}  {'spec Welch':>10}  {'spec boot':>9}"
    )
    print(header)
    print("-" * len(header))
    for cell, rates in aa.items():
        spec_w = SPEC_WELCH.get((cell.dist, cell.n)) if cell.design == "unpaired" else None
        spec_b = SPEC_BOOTSTRAP.get((cell.dist, cell.n)) if cell.design == "unpaired" else None
        print(
            f"{cell.label:<28} {cell.n:>3}  {rates[0]:>7.3f}  {rates[1]:>11.3f}  {rates[2]:>6.3f}  "
            f"{rates[3]:>14.3f}  {'' if spec_w is None else f'{spec_w:.3f}':>10}  "
            f"{'' if spec_b is None else f'{spec_b:.3f}':>9}"
        )
    print()
    print("Power to call a true d = 1 difference 'better' (normal scores, treatment shifted by one SD):")
    print(f"{'design':<28} {'N':>3}  {'verdict better':>14}  {'spec (pooled t)':>15}")
    for cell, rates in power.items():
        spec = SPEC_POWER.get(cell.n) if cell.design == "unpaired" else None
        print(f"{cell.label:<28} {cell.n:>3}  {rates[4]:>14.3f}  {'' if spec is None else f'{spec:.2f}':>15}")
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
