"""Does the CI printed beside a verdict agree with it? Skewed A/A experiments with independent seeds.

Every simulated experiment goes through ``metta_ab.stats.analyze`` (what the sweeper and ``metta-ab analyze``
call), with no true difference between the variants, alpha = 0.05 and 95% CIs. A comparison's CI contradicts
its verdict when a "better"/"worse" sits beside a CI containing 0, or an "inconclusive" beside one excluding
it. Per row: the rate of false calls (an experiment counts once when any comparison calls), the calls, and
how many comparisons the printed CI contradicts: now (``difference_ci``) and before this interval existed
(Welch's t interval at 95%, scipy's, which was printed beside the permutation p of Welch's t and beside
Holm-adjusted p-values).

    python benchmarks/ci_agreement.py [--experiments N] [--smoke] [--workers W]

Exit status 1 when a printed CI contradicts its verdict, or (with at least 500 experiments per row) when a
row's false-call rate is outside [0.02, 0.06]. The last line is the share of comparisons whose CI agrees.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from _harness import PROJECT_ROOT  # noqa: F401  (puts this tree first on the import path)
from aa_simulation import draw
from scipy import stats as sps

from metta_ab.stats import BETTER, WORSE, StatsSettings, analyze

ALPHA = 0.05
FPR_BAND = (0.02, 0.06)
#: (distribution, runs per variant, variants): two variants, or three (two treatments, Holm-adjusted)
ROWS = (("lognormal", 5, 2), ("lognormal", 10, 2), ("bimodal", 5, 2), ("lognormal", 5, 3))


def excludes_zero(ci: tuple[float, float]) -> bool:
    return bool(ci[0] > 0 or ci[1] < 0)


def run_block(row: tuple[str, int, int], start: int, stop: int, n_resamples: int) -> np.ndarray:
    """Counts over experiments start..stop-1 of: experiments with a call, calls, comparisons, comparisons whose
    printed CI contradicts the verdict, and those Welch's t CI would contradict: calls beside it containing 0,
    and other verdicts beside it excluding 0."""
    dist, n, variants = row
    counts = np.zeros(6, dtype=np.int64)
    for i in range(start, stop):
        rng = np.random.default_rng([ROWS.index(row), i])
        scores = {f"v{k}": draw(dist, n, rng) for k in range(variants)}
        comparisons = analyze(scores, StatsSettings(alpha=ALPHA, n_resamples=n_resamples, seed=i)).comparisons
        calls = [c.verdict in (BETTER, WORSE) for c in comparisons]
        welch = [
            sps.ttest_ind(scores[c.treatment], scores[c.control], equal_var=False).confidence_interval(0.95)
            for c in comparisons
        ]
        counts += [
            any(calls),
            sum(calls),
            len(comparisons),
            sum(call != excludes_zero(c.difference_ci) for call, c in zip(calls, comparisons, strict=True)),
            sum(call and not excludes_zero((w.low, w.high)) for call, w in zip(calls, welch, strict=True)),
            sum(not call and excludes_zero((w.low, w.high)) for call, w in zip(calls, welch, strict=True)),
        ]
    return counts


def simulate(row: tuple[str, int, int], experiments: int, n_resamples: int, pool: ProcessPoolExecutor | None):
    edges = np.linspace(0, experiments, max(2, min(17, experiments // 50 + 1))).astype(int)
    args = [(row, int(a), int(b), n_resamples) for a, b in itertools.pairwise(edges)]
    run = map if pool is None else pool.map
    return np.sum(list(run(run_block, *zip(*args, strict=True))), axis=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=1000, help="experiments per row (default 1000)")
    parser.add_argument("--smoke", action="store_true", help="20 experiments per row (still runs?)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    args = parser.parse_args(argv)
    experiments = 20 if args.smoke else args.experiments
    n_resamples = 100  # the bootstrap CIs are descriptive: the verdict and its CI never use them
    started = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=args.workers) if args.workers > 1 else None
    try:
        results = {row: simulate(row, experiments, n_resamples, pool) for row in ROWS}
    finally:
        if pool is not None:
            pool.shutdown()

    print(f"Skewed A/A experiments, independent seeds: {experiments} per row through metta_ab.stats.analyze,")
    print(f"alpha = {ALPHA}, 95% CIs. 'contradicting' = comparisons whose CI contains 0 beside better/worse or")
    print("excludes it beside inconclusive: the printed CI now, and Welch's t CI (printed before).")
    print()
    header = (
        f"{'scores':<10} {'N':>3} {'variants':>8}  {'false-call rate':>15}  {'calls':>5}  {'comparisons':>11}  "
        f"{'contradicting now':>17}  {'before: calls, CI has 0':>23}  {'others, CI excludes 0':>21}"
    )
    print(header)
    print("-" * len(header))
    status, outside = 0, []
    for (dist, n, variants), (experiments_called, calls, comparisons, now, before, others) in results.items():
        rate = experiments_called / experiments
        holm = " (Holm)" if variants > 2 else ""
        print(
            f"{dist:<10} {n:>3} {str(variants) + holm:>8}  {rate:>15.3f}  {calls:>5}  {comparisons:>11}  "
            f"{now:>17}  {before:>23}  {others:>21}"
        )
        if not FPR_BAND[0] <= rate <= FPR_BAND[1]:
            outside.append(f"{dist}, N = {n}, {variants} variants: false-call rate {rate:.3f} not in {FPR_BAND}")
    totals = np.sum(list(results.values()), axis=0)
    print()
    for line in outside:
        print("OUT OF BAND:", line)
    if outside and experiments >= 500:
        status = 1
    if totals[3]:
        print(f"CONTRADICTION: {totals[3]} printed CI(s) disagree with their verdict")
        status = 1
    print(f"elapsed: {time.perf_counter() - started:.1f} s ({args.workers} worker(s))")
    agree = 1 - totals[3] / totals[2]
    print(
        f"ratio {agree:.2f}: comparisons whose printed CI agrees with the verdict / comparisons ({totals[2]}; "
        f"Welch's t CI would contradict {totals[4] + totals[5]}, {totals[1]} false calls) (target 1.00, "
        f"{'met' if not totals[3] else 'missed'})"
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
