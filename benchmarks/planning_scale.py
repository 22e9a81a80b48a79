"""How planning scales: a validated dry run of 20 variants x N runs against the example app.

    python benchmarks/planning_scale.py [--smoke | --full] [--keep]

For N = 50 and 250 runs per variant (1,000 and 5,000 jobs; `--full` adds 500 = 10,000 jobs), runs

    python examples/train.py -m hydra/sweeper=ab ab.experiment=exp.py ab.dry_run=true

in a fresh directory (plan, compose each variant's config once, write experiment_config.yaml, plan.txt,
plan.json, print the plan), best of 2, and records its wall time, CPU time and peak RSS (os.wait4); the
runs go through `_phase_timer.py`, which shows where the time of the largest one goes. The baseline is Hydra
composing one config of the same app: `python examples/train.py --cfg job run=x`, best of 3. Growth is
linear when the time per extra job stays flat between sizes.

The last line is the dry-run time of the largest size over the baseline. Targets: under 10 s and under
500 MB peak RSS at 10,000 jobs.
"""

from __future__ import annotations

import json
from pathlib import Path

from _harness import (
    BENCHMARKS,
    EXAMPLE_APP,
    PYTHON,
    Timed,
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
PHASE_TIMER = BENCHMARKS / "_phase_timer.py"


def dry_run(work: Path, runs: int) -> tuple[Timed, dict]:
    """One dry run in a fresh directory, under the stage timers; returns its timing and the stages."""
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
    phases = cwd / "phases.json"
    timed = run_timed([PYTHON, str(PHASE_TIMER), str(phases), str(EXAMPLE_APP), *args], cwd=cwd)
    timed.check(f"the dry run of {VARIANTS} x {runs}")
    if f"= {VARIANTS * runs} jobs" not in timed.text():
        raise SystemExit(f"the dry run of {VARIANTS} x {runs} did not print its plan; see {timed.output}")
    return timed, json.loads(phases.read_text())


STAGES = [
    ("start-up until the sweep (imports, plugin scan, master config)", None),
    ("import _core (metta_ab.analysis.results -> numpy, scipy)", "ab: import _core (metta_ab, numpy, scipy)"),
    ("resolve the app layout", "ab: resolve the app layout"),
    ("plan", "ab: plan"),
    ("validate: compose each variant's config once", "ab: validate (compose each variant once)"),
    ("write experiment_config.yaml, plan.txt, plan.json", "ab: write experiment_config/plan.txt/plan.json"),
]


def stage_rows(timed: Timed, phases: dict) -> list[list[str]]:
    rows = [["whole command (wall)", f"{timed.seconds:.2f}"]]
    accounted = phases["before_multirun"]
    rows.append([STAGES[0][0], f"{accounted:.2f}"])
    for label, key in STAGES[1:]:
        seconds = phases["phases"].get(key, (0.0, 0))[0]
        accounted += seconds
        rows.append([label, f"{seconds:.2f}"])
    rest = phases["in_process"] - accounted
    rows.append(["the rest (fingerprint, lock, printing the plan, exit)", f"{rest:.2f}"])
    rows.append(["python start-up before the timer", f"{timed.seconds - phases['in_process']:.2f}"])
    return rows


def main() -> None:
    options = parse_options(__doc__.split("\n\n")[0])
    runs_per_variant = [2, 10] if options.smoke else ([50, 250, 500] if options.full else [50, 250])
    repeat = 1 if options.smoke else 2
    print(f"planning_scale: dry runs of {VARIANTS} variants x N runs on examples/train.py; {machine()}")
    with scratch_dir(options.keep, "planning") as work:
        baseline = min(
            run_timed([PYTHON, str(EXAMPLE_APP), "--cfg", "job", "run=x"], cwd=work).check("--cfg job").seconds
            for _ in range(3)
        )
        runs_by_size: dict[int, list[tuple[Timed, dict]]] = {runs: [] for runs in runs_per_variant}
        for _ in range(repeat):
            for runs in runs_per_variant:
                runs_by_size[runs].append(dry_run(work, runs))
    # best of `repeat` per size (wall time); CPU time and peak RSS of that same run
    results = [(VARIANTS * runs, min(found, key=lambda r: r[0].seconds)) for runs, found in runs_by_size.items()]

    rows = [["baseline: `train.py --cfg job run=x` (compose one config)", "1", f"{baseline:.2f}", "", "", "", "1.0"]]
    for i, (jobs, (timed, _)) in enumerate(results):
        marginal = ""
        if i:
            previous_jobs, (previous, _) = results[i - 1]
            extra = jobs - previous_jobs
            marginal = (
                f"{(timed.seconds - previous.seconds) / extra * 1e6:.0f} us wall, "
                f"{(timed.cpu - previous.cpu) / extra * 1e6:.0f} us CPU"
            )
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
    print()
    print(table(rows, ["command", "jobs", "wall (s)", "CPU (s)", "per extra job", "peak RSS (MB)", "x baseline"]))

    largest_jobs, (largest, largest_phases) = results[-1]
    print()
    print(f"Where the time goes, {largest_jobs:,} jobs (stage timers in the sweeper process):")
    print(table(stage_rows(largest, largest_phases), ["stage", "seconds"]))

    # Linear extrapolation from the two largest sizes, for the 10,000-job targets when they were not run.
    (jobs_a, (a, _)), (jobs_b, (b, _)) = results[-2], results[-1]
    per_job = max((b.seconds - a.seconds) / (jobs_b - jobs_a), (b.cpu - a.cpu) / (jobs_b - jobs_a), 0.0)
    per_job_mb = max((b.max_rss_mb - a.max_rss_mb) / (jobs_b - jobs_a), 0.0)
    at_target = b.seconds + per_job * (TARGET_JOBS - jobs_b)
    rss_at_target = b.max_rss_mb + per_job_mb * (TARGET_JOBS - jobs_b)
    how = "measured" if largest_jobs == TARGET_JOBS else f"extrapolated from {jobs_a:,} and {jobs_b:,} jobs"
    print()
    print(
        f"per job (the larger of the wall and CPU slopes between the two largest sizes): {per_job * 1e6:.0f} us; "
        f"fixed cost about {b.seconds - per_job * jobs_b:.2f} s"
    )
    met_time, met_rss = at_target < TARGET_SECONDS, rss_at_target < TARGET_RSS_MB
    verdict = (lambda met: "") if options.smoke else (lambda met: ": met" if met else ": MISSED")
    print(
        f"at {TARGET_JOBS:,} jobs ({how}): {at_target:.1f} s (target < {TARGET_SECONDS:.0f} s{verdict(met_time)}), "
        f"peak RSS {rss_at_target:.0f} MB (target < {TARGET_RSS_MB:.0f} MB{verdict(met_rss)})"
    )
    print(
        ratio_line(
            largest.seconds / baseline,
            f"dry run of {largest_jobs:,} jobs ({largest.seconds:.2f} s) / composing one config ({baseline:.2f} s)",
            f"{TARGET_JOBS:,} jobs < {TARGET_SECONDS:.0f} s, < {TARGET_RSS_MB:.0f} MB",
            None if options.smoke else met_time and met_rss,  # a smoke run's extrapolation judges nothing
        )
    )


if __name__ == "__main__":
    main()
