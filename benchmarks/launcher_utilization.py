"""Do parallel launchers stay busy under the ab sweeper, also when a failed run is retried?

    python benchmarks/launcher_utilization.py [--smoke | --full] [--keep] [--job-seconds S]

Sweeps of CPU-bound jobs (benchmarks/apps/trivial, a pure-Python loop calibrated to ~2 s on one core)
under `hydra/launcher=joblib hydra.launcher.n_jobs=2`, and the same under `hydra/launcher=ab_local` (a fresh
process per job, a failed run retried in the next free slot), 2 variants x 4 runs = 8 jobs and 3 x 3 = 9 jobs:

    utilization = (sum of the jobs' own durations, from their ab_status.json) / 2 / wall time

where the wall time is that of the whole command (start-up, validation, worker start, analysis, plots and
exit included: what a user waits for); the utilization inside the launch window (first job start to last
job end) is printed beside it. The second scenario makes run a_run_1 fail at the start of its first
attempt: the durations then include every attempt (from `attempts/<k>/ab_status.json` too); joblib
runs the retry in a round of its own once the first round ended, ab_local queues it at once. The ideal (every
core busy from the first job to the last) is 1.0. `--full` adds 2 x 16 = 32 jobs.

Per-job overhead: the mean time a slot stands idle between a job's end and the start of the next job's task in
it (the i-th job started after the first two is started by the i-th job to end): joblib reuses its workers,
ab_local starts a fresh process that imports the app. The app's imports alone are timed too (`python -c
"import hydra, omegaconf, ..."` with the job's worker modules, best of 3).

The last line is the utilization of the no-failure sweep; target >= 0.85.
"""

from __future__ import annotations

import argparse
import json
import subprocess
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
    retry_window: float  # from the first retry's start to the last retry's end (0 without retries)
    slot_gap: float  # mean idle time of a slot between a job's end and the next job's task start

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


def slot_gap(records: list[dict]) -> float:
    """The mean time from a job's end to the start of the task that took its slot (see the module docstring)."""
    starts = sorted(r["started_at"] for r in records)[N_JOBS:]
    ends = sorted(r["finished_at"] for r in records)
    gaps = [start - end for start, end in zip(starts, ends, strict=False)]
    return sum(gaps) / len(gaps) if gaps else 0.0


def import_seconds() -> float:
    """Best of 3: a fresh Python that imports what an ab_local job's process imports before the task starts."""
    modules = "hydra, omegaconf, hydra_plugins.ab_launcher._worker, hydra_plugins.ab_sweeper._task"
    code = f"import sys; sys.path.insert(0, {str(TRIVIAL_APP.parent)!r}); import {modules}, app"
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def sweep(
    work: Path, label: str, shape: tuple[int, int], iterations: int, kind: str, launcher_name: str = "joblib"
) -> Sweep:
    """kind: "basic" (BasicSweeper grid), "ab", or "ab_retry" (a_run_1 fails on its first attempt); shape:
    (variants, runs per variant)."""
    variant_count, runs = shape
    cwd = fresh_dir(work, f"{kind}_{launcher_name}_{variant_count}x{runs}")
    launcher = [f"hydra/launcher={launcher_name}", f"hydra.launcher.n_jobs={N_JOBS}", f"work={iterations}"]
    if kind == "basic":
        args = ["-m", f"seed=range(0,{runs})", "lr=0.01,0.02", "hydra.sweep.dir=basic_sweep", *launcher]
        sweep_dir, record_file = cwd / "basic_sweep", "work.json"
    else:
        variants = {name: {"lr": 0.01 * (i + 1)} for i, name in enumerate("abc"[:variant_count])}
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
    if len(done) != variant_count * runs:
        raise SystemExit(f"{label}: {len(done)} of {variant_count * runs} runs completed; see {timed.output}")
    retried = [r for r in records if r.get("attempt", 1) > 1]
    return Sweep(
        label=label,
        jobs=variant_count * runs,
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
        slot_gap=slot_gap(records),
    )


def main() -> None:
    def job_seconds(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--job-seconds", type=float, default=2.0, help="each job's CPU-bound work (default %(default)s s)"
        )

    options = parse_options(__doc__.split("\n\n")[0], add_arguments=job_seconds)
    seconds = 0.1 if options.smoke else options.job_seconds
    sizes = [(2, 2)] if options.smoke else ([(2, 4), (3, 3), (2, 16)] if options.full else [(2, 4), (3, 3)])
    iterations = calibrate(seconds)
    print(
        f"launcher_utilization: joblib and ab_local, n_jobs={N_JOBS}, jobs of ~{seconds:g} s ({iterations} "
        f"iterations); {machine()}"
    )
    results: list[Sweep] = []
    with scratch_dir(options.keep, "utilization") as work:
        for shape in sizes:
            jobs = f"{shape[0] * shape[1]} jobs"
            results.append(sweep(work, f"ab: {jobs}", shape, iterations, "ab"))
            results.append(sweep(work, f"ab: {jobs}, a_run_1 fails once", shape, iterations, "ab_retry"))
            if shape == sizes[0]:
                results.append(sweep(work, f"BasicSweeper: {jobs} (baseline)", shape, iterations, "basic"))
            results.append(sweep(work, f"ab on ab_local: {jobs}", shape, iterations, "ab", "ab_local"))
            label = f"ab on ab_local: {jobs}, a_run_1 fails once"
            results.append(sweep(work, label, shape, iterations, "ab_retry", "ab_local"))
        imports = import_seconds()
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
            f"{r.slot_gap:.2f}",
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
                "retry start to end",
                "per-job overhead",
                "after launch()",
                "utilization",
                "in launch window",
            ],
        )
    )
    for r in results:
        if r.retry_window:
            print(
                f"{r.label}: utilization {r.utilization:.2f} end to end, {r.window_utilization:.2f} from the first "
                "job's start to the last job's end"
            )
    print(
        f"The app's imports in a fresh process (python -c 'import hydra, omegaconf, the worker, the app'): "
        f"{imports:.2f} s; per-job overhead, ab_local against joblib: "
        + "; ".join(f"{r.label} {r.slot_gap:.2f} s" for r in results if not r.retry_window)
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
