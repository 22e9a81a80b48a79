"""How planning scales: a validated dry run of 20 variants x N runs against the example app.

    python benchmarks/planning_scale.py [--smoke | --full] [--keep]

For N = 50 and 250 runs per variant (1,000 and 5,000 jobs; `--full` adds 500 = 10,000 jobs), runs

    python examples/train.py -m hydra/sweeper=ab ab.experiment=exp.py ab.dry_run=true

in a fresh directory (plan, compose each variant's config once, write experiment_config.yaml, plan.txt,
plan.json, print the plan) and records its wall time and peak RSS (os.wait4). The baseline is Hydra
composing one config of the same app: `python examples/train.py --cfg job run=x`, best of 3. Growth is
linear when the time per extra job stays flat between sizes.

The last line is the dry-run time of the largest size over the baseline. Targets: under 10 s and under
500 MB peak RSS at 10,000 jobs.
"""

from __future__ import annotations

from _harness import (
    EXAMPLE_APP,
    PYTHON,
    fresh_dir,
    machine,
    parse_options,
    ratio_line,
    run_timed,
    scratch_dir,
    table,
    write_experiment,
)

VARIANTS = 20
TARGET_SECONDS = 10.0
TARGET_RSS_MB = 500.0
TARGET_JOBS = 10_000


def dry_run(work, runs: int):
    cwd = fresh_dir(work, f"dry-{runs}")
    variants = {f"lr_{i:02d}": {"trainer__learning_rate": round(0.01 * (i + 1), 4)} for i in range(VARIANTS)}
    write_experiment(
        cwd / "exp.py",
        "planning",
        variants,
        runs,
        [".set_base_config(defaults=['/common', '/agent/tabular'], trainer__total_timesteps=1000)"],
    )
    args = ["-m", "hydra/sweeper=ab", "ab.experiment=exp.py", "ab.dry_run=true"]
    timed = run_timed([PYTHON, str(EXAMPLE_APP), *args], cwd=cwd).check(f"the dry run of {VARIANTS} x {runs}")
    if f"= {VARIANTS * runs} jobs" not in timed.text():
        raise SystemExit(f"the dry run of {VARIANTS} x {runs} did not print its plan; see {timed.output}")
    return timed


def main() -> None:
    options = parse_options(__doc__.split("\n\n")[0])
    runs_per_variant = [2, 10] if options.smoke else ([50, 250, 500] if options.full else [50, 250])
    print(f"planning_scale: dry runs of {VARIANTS} variants x N runs on examples/train.py; {machine()}")
    with scratch_dir(options.keep, "planning") as work:
        baseline = min(
            run_timed([PYTHON, str(EXAMPLE_APP), "--cfg", "job", "run=x"], cwd=work).check("--cfg job").seconds
            for _ in range(3)
        )
        results = [(VARIANTS * runs, dry_run(work, runs)) for runs in runs_per_variant]

    rows = [["baseline: `train.py --cfg job run=x` (compose one config)", "1", f"{baseline:.2f}", "", "", "", "1.0"]]
    previous = None
    for jobs, timed in results:
        marginal = ""
        if previous is not None:
            marginal = f"{(timed.seconds - previous[1].seconds) / (jobs - previous[0]) * 1e6:.0f} us"
        rows.append(
            [
                f"dry run, {VARIANTS} x {jobs // VARIANTS}",
                f"{jobs:,}",
                f"{timed.seconds:.2f}",
                f"{timed.cpu:.2f}",
                marginal,
                f"{timed.max_rss_mb:.0f}",
                f"{timed.seconds / baseline:.1f}",
            ]
        )
        previous = (jobs, timed)
    print()
    print(table(rows, ["command", "jobs", "wall (s)", "CPU (s)", "per extra job", "peak RSS (MB)", "x baseline"]))

    largest_jobs, largest = results[-1]
    # Linear extrapolation from the two largest sizes, for the 10,000-job targets when they were not run.
    (jobs_a, a), (jobs_b, b) = results[-2], results[-1]
    per_job = (b.seconds - a.seconds) / (jobs_b - jobs_a)
    per_job_mb = (b.max_rss_mb - a.max_rss_mb) / (jobs_b - jobs_a)
    at_target = b.seconds + per_job * (TARGET_JOBS - jobs_b)
    rss_at_target = b.max_rss_mb + per_job_mb * (TARGET_JOBS - jobs_b)
    how = "measured" if largest_jobs == TARGET_JOBS else f"extrapolated from {jobs_a:,} and {jobs_b:,} jobs"
    print(
        f"at {TARGET_JOBS:,} jobs ({how}): {at_target:.1f} s (target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if at_target < TARGET_SECONDS else 'MISSED'}), peak RSS {rss_at_target:.0f} MB "
        f"(target < {TARGET_RSS_MB:.0f} MB: {'met' if rss_at_target < TARGET_RSS_MB else 'MISSED'})"
    )
    print(
        f"time per job between the two largest sizes: {per_job * 1e6:.0f} us; fixed cost about "
        f"{b.seconds - per_job * jobs_b:.2f} s"
    )
    print(
        ratio_line(
            largest.seconds / baseline,
            f"dry run of {largest_jobs:,} jobs ({largest.seconds:.2f} s) / composing one config ({baseline:.2f} s)",
            f"{TARGET_JOBS:,} jobs < {TARGET_SECONDS:.0f} s",
            None,
        )
    )


if __name__ == "__main__":
    main()
