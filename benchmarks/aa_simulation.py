"""A/A simulation: how often does the verdict code call a difference when there is none?

Runs simulated experiments through ``metta_ab.stats.compare`` (the per-comparison code that ``analyze``
uses), unpaired, alpha = 0.05, with no true difference between the two variants, for normal, skewed
(lognormal) and bimodal (20% of seeds collapse) scores at N = 5 and N = 10 seeds per variant, and prints
the false-positive rate of a "better"/"worse" verdict next to the rates of the robustness checks and of the
"bootstrap CI excludes 0" rule the spec warns against. Then the power to detect d = 1 (normal scores).

    python benchmarks/aa_simulation.py [--experiments N] [--quick] [--workers W]

Exit status 1 when the normal-score false-positive rate of the verdict is outside [0.02, 0.065] (only
checked with at least 1,000 experiments per row; ``--quick`` is a smoke run of 200).
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

from metta_ab.stats import BETTER, WORSE, compare

ALPHA = 0.05
FPR_BAND = (0.02, 0.065)
#: spec table (4000 experiments per row): Welch false-positive rate, and "bootstrap CI excludes 0"
SPEC_WELCH = {("normal", 5): 0.044, ("normal", 10): 0.052, ("lognormal", 5): 0.018, ("bimodal", 5): 0.014,
              ("bimodal", 10): 0.034}  # fmt: skip
SPEC_BOOTSTRAP = {("normal", 5): 0.130, ("normal", 10): 0.084}
SPEC_POWER = {5: 0.29}  # noncentral t, pooled test; Welch is a little lower


DISTRIBUTIONS = ("normal", "lognormal", "bimodal")


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
    dist: str
    n: int
    shift_d: float  # true difference in SDs of the normal distribution (0 = A/A)


def run_block(cell: Cell, start: int, stop: int, n_resamples: int) -> np.ndarray:
    """Counts of [verdict better/worse, permutation p < alpha, rank p < alpha, bootstrap CI excludes 0,
    verdict == better] over experiments start..stop-1 (each seeded by its index)."""
    counts = np.zeros(5, dtype=np.int64)
    for i in range(start, stop):
        rng = np.random.default_rng([DISTRIBUTIONS.index(cell.dist), cell.n, int(cell.shift_d * 1000), i])
        control = draw(cell.dist, cell.n, rng)
        treatment = draw(cell.dist, cell.n, rng) + cell.shift_d
        comp = compare(treatment, control, alpha=ALPHA, n_resamples=n_resamples, seed=i)
        lo, hi = comp.bootstrap_difference_ci
        counts += [
            comp.verdict in (BETTER, WORSE),
            comp.permutation_p < ALPHA,
            comp.rank_test_p < ALPHA,
            lo > 0 or hi < 0,
            comp.verdict == BETTER,
        ]
    return counts


def simulate(cell: Cell, experiments: int, n_resamples: int, pool: ProcessPoolExecutor | None) -> np.ndarray:
    blocks = max(1, min(16, experiments // 50))
    edges = np.linspace(0, experiments, blocks + 1).astype(int)
    args = [(cell, int(a), int(b), n_resamples) for a, b in itertools.pairwise(edges)]
    run = map if pool is None else pool.map
    parts = list(run(run_block, *zip(*args, strict=True)))
    return np.sum(parts, axis=0) / experiments


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

    aa_cells = [Cell(dist, n, 0.0) for dist in DISTRIBUTIONS for n in (5, 10)]
    power_cells = [Cell("normal", n, 1.0) for n in (5, 10)]
    pool = ProcessPoolExecutor(max_workers=args.workers) if args.workers > 1 else None
    try:
        aa = {cell: simulate(cell, experiments, args.n_resamples, pool) for cell in aa_cells}
        power = {cell: simulate(cell, experiments, args.n_resamples, pool) for cell in power_cells}
    finally:
        if pool is not None:
            pool.shutdown()

    se = math.sqrt(ALPHA * (1 - ALPHA) / experiments)
    print(f"A/A simulation: {experiments} experiments per row, alpha = {ALPHA}, unpaired, no true difference.")
    print("Verdict = metta_ab.stats.compare (Welch t-test); 'permutation' = exact/10,000-shuffle permutation")
    print(f"test, 'rank' = Mann-Whitney. Bootstrap CIs use {args.n_resamples} resamples (not 10,000) for speed;")
    print(f"the verdict never uses them. Binomial SE of a rate near .05: {se:.3f}. The exact permutation test")
    print("at N=5 (252 splits) has true level 12/252 = .048; at N=10 it uses 10,000 seeded shuffles.")
    print()
    header = (
        f"{'scores':<10} {'N':>3}  {'verdict FP':>10}  {'permutation':>11}  {'rank':>6}  "
        f"{'boot CI excl 0':>14}  {'spec Welch':>10}  {'spec boot':>9}"
    )
    print(header)
    print("-" * len(header))
    for cell, rates in aa.items():
        spec_w = SPEC_WELCH.get((cell.dist, cell.n))
        spec_b = SPEC_BOOTSTRAP.get((cell.dist, cell.n))
        print(
            f"{cell.dist:<10} {cell.n:>3}  {rates[0]:>10.3f}  {rates[1]:>11.3f}  {rates[2]:>6.3f}  "
            f"{rates[3]:>14.3f}  {'' if spec_w is None else f'{spec_w:.3f}':>10}  "
            f"{'' if spec_b is None else f'{spec_b:.3f}':>9}"
        )
    print()
    print("Power to detect d = 1 (normal scores, treatment shifted by one SD):")
    print(f"{'N':>3}  {'verdict better':>14}  {'permutation':>11}  {'rank':>6}  {'spec (pooled t)':>15}")
    for cell, rates in power.items():
        spec = SPEC_POWER.get(cell.n)
        print(
            f"{cell.n:>3}  {rates[4]:>14.3f}  {rates[1]:>11.3f}  {rates[2]:>6.3f}  "
            f"{'' if spec is None else f'{spec:.2f}':>15}"
        )
    print()
    status = 0
    for cell, rates in aa.items():
        if cell.dist != "normal":
            continue
        inside = FPR_BAND[0] <= rates[0] <= FPR_BAND[1]
        verdict = "ok" if inside else "OUT OF BAND"
        print(f"check: normal N={cell.n} verdict false-positive rate {rates[0]:.3f} in {list(FPR_BAND)}: {verdict}")
        if not inside and experiments >= 1000:
            status = 1
    print(f"elapsed: {time.perf_counter() - started:.1f} s ({args.workers} worker(s))")
    return status


if __name__ == "__main__":
    sys.exit(main())
