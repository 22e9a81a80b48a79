"""Do parallel launchers stay busy under the ab sweeper, also when a failed run is retried?

    python benchmarks/launcher_utilization.py [--smoke | --full] [--keep]

Sweeps of CPU-bound jobs (benchmarks/apps/trivial, a pure-Python loop calibrated to ~2 s on one core)
under `hydra/launcher=joblib hydra.launcher.n_jobs=2`, and the same under `hydra/launcher=ab_local` (a fresh
process per job), 2 variants x 4 runs = 8 jobs:

    utilization = (sum of the jobs' own durations, from their ab_status.json) / 2 / wall time

where the wall time is that of the whole command (start-up, validation, worker start, analysis, plots and
exit included: what a user waits for); the utilization inside the launch window (first job start to last
job end) is printed beside it. The second scenario makes run a_run_1 fail at the start of its first
attempt: the durations then include every attempt (from `attempts/<k>/ab_status.json` too), and the
retry must not serialize the other runs. The ideal (every core busy from the first job to the last)
is 1.0. `--full` adds 2 x 16 = 32 jobs.

The last line is the utilization of the no-failure sweep; target >= 0.85.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _harness import (
    BENCHMARKS,
    PYTHON,
    TRIVIAL_APP,
    fresh_dir,
    machine,
    parse_options,
    ratio_line,
    run_timed,
    scratch_dir,
    table,
    write_experiment,
)

N_JOBS = 2
PHASE_TIMER = BENCHMARKS / "_phase_timer.py"
TARGET = 0.85


def calibrate(seconds: float) -> int:
    """Iterations of the app's busy loop that take `seconds` on one core of this machine (best of 3)."""
    sys.path.insert(0, str(TRIVIAL_APP.parent))
    from app import burn  # the very loop the jobs run

    iterations = 500_000
    burn(iterations)  # warm up
    best = min(_time(burn, iterations) for _ in range(3))
    return int(iterations * seconds / best)


def _time(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


@dataclass
class Sweep:
    label: str
    jobs: int
    wall: float
    attempts: int
    busy: float  # sum of every attempt's own duration
    first_start: float  # seconds after the command started
    last_end: float
    launch_start: float  # first launch() call
    launch_end: float  # end of the last launch() call
    retry_window: float  # wall time of the rounds after the first (0 without retries)

    @property
    def utilization(self) -> float:
        return self.busy / N_JOBS / self.wall

    @property
    def window_utilization(self) -> float:
        return self.busy / N_JOBS / (self.last_end - self.first_start)


def job_records(sweep_dir: Path, name: str) -> list[dict]:
    """Every attempt's record `name` in the job dirs (and, for ab_status.json, under attempts/<k>/)."""
    records = []
    for job_dir in sorted(p for p in sweep_dir.iterdir() if p.is_dir()):
        for path in [job_dir / name, *sorted(job_dir.glob(f"attempts/*/{name}"))]:
            if path.is_file():
                records.append(json.loads(path.read_text()))
    return records


def sweep(work: Path, label: str, runs: int, iterations: int, kind: str, launcher_name: str = "joblib") -> Sweep:
    """kind: "basic" (BasicSweeper grid), "ab", or "ab_retry" (a_run_1 fails on its first attempt)."""
    cwd = fresh_dir(work, f"{kind}_{launcher_name}")
    launcher = [f"hydra/launcher={launcher_name}", f"hydra.launcher.n_jobs={N_JOBS}", f"work={iterations}"]
    if kind == "basic":
        args = ["-m", f"seed=range(0,{runs})", "lr=0.01,0.02", "hydra.sweep.dir=basic_sweep", *launcher]
        sweep_dir, record_file = cwd / "basic_sweep", "work.json"
    else:
        variants = {"a": {"lr": 0.01}, "b": {"lr": 0.02}}
        write_experiment(cwd / "exp.py", "utilization", variants, runs, [".set_metric('score')"])
        args = ["-m", "hydra/sweeper=ab", "ab.experiment=exp.py", *launcher]
        args += ["fail_run=a_run_1"] if kind == "ab_retry" else []
        sweep_dir, record_file = cwd / "ab_test_results" / "utilization", "ab_status.json"
    phases_file = cwd / "phases.json"
    started = time.time()
    timed = run_timed([PYTHON, str(PHASE_TIMER), str(phases_file), str(TRIVIAL_APP), *args], cwd=cwd)
    timed.check(f"the {label} sweep")
    launches = json.loads(phases_file.read_text())["launches"]
    records = job_records(sweep_dir, record_file)
    done = [r for r in records if r.get("status", "completed") == "completed"]
    if len(done) != 2 * runs:
        raise SystemExit(f"{label}: {len(done)} of {2 * runs} runs completed; see {timed.output}")
    retried = [r for r in records if r.get("attempt", 1) > 1]
    return Sweep(
        label=label,
        jobs=2 * runs,
        wall=timed.seconds,
        attempts=len(records),
        busy=sum(r["duration"] for r in records),
        first_start=min(r["started_at"] for r in records) - started,
        last_end=max(r["finished_at"] for r in records) - started,
        launch_start=launches[0][0] - started,
        launch_end=launches[-1][1] - started,
        retry_window=(max(r["finished_at"] for r in retried) - min(r["started_at"] for r in retried))
        if retried
        else 0.0,
    )


def main() -> None:
    options = parse_options(__doc__.split("\n\n")[0])
    seconds = 0.1 if options.smoke else 2.0
    sizes = [2] if options.smoke else ([4, 16] if options.full else [4])
    iterations = calibrate(seconds)
    print(
        f"launcher_utilization: joblib and ab_local, n_jobs={N_JOBS}, jobs of ~{seconds:g} s ({iterations} "
        f"iterations); {machine()}"
    )
    results: list[Sweep] = []
    with scratch_dir(options.keep, "utilization") as work:
        for runs in sizes:
            jobs = f"{2 * runs} jobs"
            results.append(sweep(work, f"ab: {jobs}", runs, iterations, "ab"))
            results.append(sweep(work, f"ab: {jobs}, a_run_1 fails once", runs, iterations, "ab_retry"))
            results.append(sweep(work, f"BasicSweeper: {jobs} (baseline)", runs, iterations, "basic"))
            results.append(sweep(work, f"ab on ab_local: {jobs}", runs, iterations, "ab", "ab_local"))
            label = f"ab on ab_local: {jobs}, a_run_1 fails once"
            results.append(sweep(work, label, runs, iterations, "ab_retry", "ab_local"))
    rows = [
        [
            r.label,
            str(r.attempts),
            f"{r.busy:.1f}",
            f"{r.wall:.1f}",
            f"{r.launch_start:.1f}",
            f"{r.first_start - r.launch_start:.1f}",
            f"{r.last_end - r.first_start:.1f}",
            f"{r.retry_window:.1f}" if r.retry_window else "-",
            f"{r.wall - r.launch_end:.1f}",
            f"{r.utilization:.2f}",
            f"{r.window_utilization:.2f}",
        ]
        for r in results
    ]
    print()
    print("Seconds since the command started; utilization = sum of durations / 2 / wall:")
    print(
        table(
            rows,
            [
                "sweep",
                "attempts",
                "sum of durations",
                "wall",
                "until launch()",
                "worker start",
                "1st job start to last job end",
                "retry round",
                "after launch()",
                "utilization",
                "in launch window",
            ],
        )
    )
    for r in results:
        if r.retry_window:
            print(
                f"{r.label}: the retry ran in a round of its own after the first round ({r.retry_window:.1f} s with "
                f"{N_JOBS - 1} of {N_JOBS} workers idle); utilization {r.utilization:.2f} end to end, "
                f"{r.window_utilization:.2f} from the first job's start to the last job's end"
            )
    ours, baseline = results[0], results[2]
    print(
        f"{ours.label}: utilization {ours.utilization:.2f} end to end (BasicSweeper on the same jobs: "
        f"{baseline.utilization:.2f}), {ours.window_utilization:.2f} from the first job's start to the last job's end"
    )
    print(
        ratio_line(
            ours.utilization,
            f"utilization, {ours.label}: sum of job durations / {N_JOBS} / wall time of the command",
            f">= {TARGET}",
            ours.utilization >= TARGET,
        )
    )


if __name__ == "__main__":
    main()
