"""How long the verdict takes on a big experiment directory: `analyze_directory` + `write_report`.

    python benchmarks/analysis_scale.py [--smoke | --full] [--keep]

Builds a synthetic experiment directory of 20 variants x 50 runs, each run with 2,000-point learning
curves, as a finished sweep leaves it: experiment_config.yaml (`ABExperiment.to_dict()`), plan.txt /
plan.json, ledger.json (`metta_ab.records.ledger.Ledger`), and per job directory the ab_status.json the task
wrapper writes (`write_status`) and the metrics.json the example app writes (final values + curve
columns step/reward/success_rate/episode_length; compact JSON). Then, in this process, times:

    baseline   reading every file (yaml + json.loads), nothing else
    analyze    metta_ab.analysis.results.analyze_directory(dir)
    report     metta_ab.report.summary.write_report(results, plots=False), then plots=True

plus a breakdown (imports, collecting the metrics, the statistics, matplotlib's import). `--full` adds
20 x 100 runs. A suite case times `metta_ab.stats.suite.analyze_suite` alone on synthetic scores, 10 tasks
(scales 1..1000) x 20 variants x 20 paired runs, 10,000 resamples (CPU seconds; target: a few). The last line
is (analyze + report with plots) / baseline; target: under 5 s.
"""

from __future__ import annotations

import functools
import json
import math
import os
import socket
import time
from pathlib import Path

import numpy as np
import yaml
from _harness import machine, parse_options, ratio_line, scratch_dir, table

from metta_ab.atomic_files import write_text_atomic
from metta_ab.definition.experiment import create_experiment
from metta_ab.plan import PlanSettings, definition_fingerprint, format_plan, plan_experiment
from metta_ab.records.ledger import LEDGER_FILE, STATUS_FILE, Ledger, RunRecord, write_status

TARGET_SECONDS = 5.0
SUITE_TARGET_CPU_SECONDS = 5.0
EXPERIMENT = "analysis_scale"


def build_directory(root: Path, variants: int, runs: int, points: int, seed: int = 0) -> Path:
    """A finished sweep's experiment directory with synthetic learning curves."""
    builder = create_experiment(EXPERIMENT, f"synthetic: {variants} variants x {runs} runs, {points}-point curves")
    for i in range(variants):
        builder.add_variant(name=f"v{i:02d}", description=f"variant {i}", trainer__learning_rate=0.01 * (i + 1))
    builder.set_runs_per_variant(runs).set_metric("reward", "max")
    builder.set_base_config(defaults=["/common", "/agent/tabular"], trainer__total_timesteps=points * 500)
    experiment = builder.build()
    settings = PlanSettings()
    planned = plan_experiment(experiment, settings)
    directory = root / "ab_test_results" / EXPERIMENT
    directory.mkdir(parents=True)
    write_text_atomic(
        directory / "experiment_config.yaml", yaml.safe_dump(experiment.to_dict(), sort_keys=False, allow_unicode=True)
    )
    write_text_atomic(directory / "plan.txt", format_plan(experiment, planned))
    write_text_atomic(directory / "plan.json", json.dumps([r.to_dict() for r in planned], indent=1))

    rng = np.random.default_rng(seed)
    steps = np.arange(points) * 500
    records = []
    for run in planned:
        variant_index = int(run.variant[1:])
        ceiling = 1.0 + 0.02 * variant_index + rng.normal(0, 0.1)
        progress = 1 - np.exp(-steps / (steps[-1] / 4 + 1))
        reward = ceiling * progress + rng.normal(0, 0.05, points)
        success = np.clip(progress * 0.9 + rng.normal(0, 0.03, points), 0, 1)
        length = 40 - 25 * progress + rng.normal(0, 1, points)
        final = {
            "reward": float(reward[-1]),
            "success_rate": float(success[-1]),
            "episode_length": float(length[-1]),
            "reward_auc": float(reward.mean()),
        }
        job_dir = directory / run.job_dir
        job_dir.mkdir()
        curve = {"step": steps.tolist(), "reward": reward.tolist(), "success_rate": success.tolist()}
        curve["episode_length"] = length.tolist()
        (job_dir / "metrics.json").write_text(json.dumps({"final": final, "curve": curve}))
        started = time.time() - 60
        status = {
            "status": "completed",
            "attempt": 1,
            "seed": run.seed,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "slurm_job_id": None,
            "started_at": started,
            "duration": 55.0 + rng.random(),
            "finished_at": started + 56,
            "return_value": final,
        }
        write_status(job_dir, status)
        record = RunRecord(run.variant, run.index, run.seed, run.run_name, run.job_dir)
        record.absorb_status(status)
        records.append(record)
    fingerprint = definition_fingerprint(experiment, settings)
    Ledger.create(directory, records, experiment=EXPERIMENT, fingerprint=fingerprint).save()
    return directory


def read_everything(directory: Path) -> int:
    """The baseline: parse every file the analysis reads, and nothing else. Returns the bytes read."""
    size = 0
    text = (directory / "experiment_config.yaml").read_text(encoding="utf-8")
    yaml.safe_load(text)
    ledger_text = (directory / LEDGER_FILE).read_text(encoding="utf-8")
    size += len(text) + len(ledger_text)
    for run in json.loads(ledger_text)["runs"]:
        for name in (STATUS_FILE, "metrics.json"):
            data = (directory / run["job_dir"] / name).read_bytes()
            json.loads(data)
            size += len(data)
    return size


class Stopwatch:
    """Wall and CPU seconds of named steps (CPU time is less sensitive to a busy machine)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, name: str, function, *args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        result = function(*args, **kwargs)
        self.wall[name] = time.perf_counter() - started
        self.cpu[name] = time.process_time() - cpu
        return result


def measure(root: Path, variants: int, runs: int, points: int) -> tuple[str, float, Stopwatch]:
    clock = Stopwatch()
    directory = clock("build", build_directory, root, variants, runs, points)
    analysis, report, figure_files, stats_module = clock("import", _import_library)
    size = clock("read", read_everything, directory)
    results = clock("analyze", analysis.analyze_directory, directory)
    clock("report", report.write_report, results, plots=False)
    clock("matplotlib", figure_files.pyplot)
    clock("plots", report.write_report, results, plots=True)
    # Breakdown of analyze_directory: the same library calls, one stage at a time.
    records = analysis.records_from_directory(results.experiment, directory)
    metric = results.settings.metric
    metrics = clock("collect", analysis.collect_metrics, results.experiment, records, directory, metric)
    clock("stats", stats_module.analyze, results.scores, results.analysis.settings, control=results.analysis.control)
    scored = sum(1 for v in results.scores.values() for x in v if not math.isnan(x))
    if scored != variants * runs or len(metrics) != variants * runs:
        raise SystemExit(f"only {scored} of {variants * runs} runs were scored in {directory}")
    return f"{variants} x {runs} runs, {points}-point curves", size / 1e6, clock


def measure_suite(tasks: int, variants: int, runs: int, n_resamples: int = 10_000, seed: int = 0):
    """CPU and wall seconds of ``analyze_suite`` on a synthetic suite (scales 1..1000, paired seeds)."""
    from metta_ab.stats import StatsSettings
    from metta_ab.stats.suite import analyze_suite

    rng = np.random.default_rng(seed)
    scales = np.geomspace(1.0, 1000.0, tasks)
    seed_effect = rng.normal(0.0, 1.0, (runs, tasks))
    scores = {
        f"v{i:02d}": {
            f"task{j}": scales[j] * (1.0 + 0.01 * i + 0.2 * seed_effect[:, j] + 0.2 * rng.normal(0.0, 1.0, runs))
            for j in range(tasks)
        }
        for i in range(variants)
    }
    clock = Stopwatch()
    settings = StatsSettings(paired=True, n_resamples=n_resamples, seed=seed)
    result = clock("suite", analyze_suite, scores, settings)
    if len(result.comparisons) != variants - 1 or len(result.variants) != variants:
        raise SystemExit("analyze_suite did not analyze every variant")
    return f"suite: {tasks} tasks x {variants} variants x {runs} runs, {n_resamples} resamples", clock


def _row(clock: Stopwatch, label: str, *keys: str) -> list[str]:
    wall = sum(clock.wall[k] for k in keys)
    return ["", label, f"{wall:.2f}", f"{sum(clock.cpu[k] for k in keys):.2f}", f"{wall / clock.wall['read']:.1f}"]


def _import_library():
    from metta_ab import stats
    from metta_ab.analysis import results as analysis
    from metta_ab.report import figure_files
    from metta_ab.report import files as report

    return analysis, report, figure_files, stats


def main() -> None:
    options = parse_options(__doc__.split("\n\n")[0])
    sizes = [(2, 3, 50)] if options.smoke else [(20, 50, 2000)] + ([(20, 100, 2000)] if options.full else [])
    print(f"analysis_scale: {machine()}")
    results = []
    with scratch_dir(options.keep, "analysis") as work:
        for i, (variants, runs, points) in enumerate(sizes):
            results.append(measure(work / f"size-{i}", variants, runs, points))
    suite_label, suite_clock = measure_suite(*((3, 3, 5) if options.smoke else (10, 20, 20)))
    rows = []
    for size, megabytes, clock in results:
        line = functools.partial(_row, clock)
        rows += [
            [size, f"(building the directory: {clock.wall['build']:.1f} s; {megabytes:.0f} MB to read)", "", "", ""],
            line("baseline: read + parse every file", "read"),
            line("import metta_ab.analysis, report (numpy, scipy)", "import"),
            line("analyze_directory", "analyze"),
            line("  part: collect_run_metrics for every run", "collect"),
            line("  part: stats.analyze", "stats"),
            line("write_report(plots=False)", "report"),
            line("matplotlib import (first plot)", "matplotlib"),
            line("write_report(plots=True)", "plots"),
            line("analyze + report, no plots", "analyze", "report"),
            line("analyze + report with plots", "analyze", "matplotlib", "plots"),
            line("same, with the imports", "import", "analyze", "matplotlib", "plots"),
        ]
    cpu = suite_clock.cpu["suite"]
    met = "met" if cpu < SUITE_TARGET_CPU_SECONDS else "MISSED"
    rows.append([suite_label, "analyze_suite (alone)", f"{suite_clock.wall['suite']:.2f}", f"{cpu:.2f}", ""])
    print()
    print(table(rows, ["experiment", "step", "wall (s)", "CPU (s)", "x baseline"]))
    print(f"{suite_label}: analyze_suite {cpu:.2f} CPU s (target < {SUITE_TARGET_CPU_SECONDS:.0f} s, {met})")
    size, _, clock = results[0]
    wall = clock.wall
    no_plots = wall["analyze"] + wall["report"]
    with_plots = wall["analyze"] + wall["matplotlib"] + wall["plots"]
    for seconds, what in ((no_plots, "without plots"), (with_plots, "with plots")):
        print(
            ratio_line(
                seconds / wall["read"],
                f"analyze + report {what} ({seconds:.2f} s) / reading the files ({wall['read']:.2f} s), {size}",
                f"< {TARGET_SECONDS:.0f} s",
                seconds < TARGET_SECONDS,
            )
        )


if __name__ == "__main__":
    main()
