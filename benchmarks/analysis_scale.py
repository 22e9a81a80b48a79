"""How long the verdict takes on a big experiment directory: `analyze_directory` + `write_report`.

    python benchmarks/analysis_scale.py [--smoke | --full] [--keep]

Builds a synthetic experiment directory of 20 variants x 50 runs, each run with 2,000-point learning
curves, as a finished sweep leaves it: experiment_config.yaml (`ABExperiment.to_dict()`), plan.txt /
plan.json, ledger.json (`metta_ab.ledger.Ledger`), and per job directory the ab_status.json the task
wrapper writes (`write_status`) and the metrics.json the example app writes (final values + curve
columns step/reward/success_rate/episode_length; compact JSON). Then, in this process, times:

    baseline   reading every file (yaml + json.loads), nothing else
    analyze    metta_ab.analysis.analyze_directory(dir)
    report     metta_ab.report.write_report(results, plots=False), then plots=True

plus a breakdown (imports, collecting the metrics, the statistics, matplotlib's import). `--full` adds
20 x 100 runs. The last line is (analyze + report with plots) / baseline; target: under 5 s.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from pathlib import Path

import numpy as np
import yaml
from _harness import machine, parse_options, ratio_line, scratch_dir, table

from metta_ab.experiment import create_experiment
from metta_ab.ledger import LEDGER_FILE, STATUS_FILE, Ledger, RunRecord, write_status, write_text_atomic
from metta_ab.plan import PlanSettings, definition_fingerprint, format_plan, plan_experiment

TARGET_SECONDS = 5.0
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


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def measure(root: Path, variants: int, runs: int, points: int) -> dict:
    build_seconds, directory = timed(build_directory, root, variants, runs, points)
    import_seconds, (analysis, report, plots, stats_module) = timed(_import_library)
    read_seconds, size = timed(read_everything, directory)
    analyze_seconds, results = timed(analysis.analyze_directory, directory)
    report_seconds, _ = timed(report.write_report, results, plots=False)
    matplotlib_seconds, _ = timed(plots._pyplot)
    plots_seconds, _ = timed(report.write_report, results, plots=True)
    # Breakdown of analyze_directory: the same library calls, one stage at a time.
    records = analysis.records_from_directory(results.experiment, directory)
    collect_seconds, metrics = timed(
        lambda: [
            analysis.collect_run_metrics(directory / r.job_dir, r.return_value, results.settings.metric)
            for r in records
        ]
    )
    s = results.settings
    stats_seconds, _ = timed(
        stats_module.analyze,
        results.scores,
        control=s.control,
        paired=results.analysis.paired,
        direction=s.direction,
        alpha=s.alpha,
        ci_level=s.ci_level,
        n_resamples=s.n_resamples,
        seed=s.seed,
        min_effect=s.min_effect,
    )
    scored = sum(1 for v in results.scores.values() for x in v if not math.isnan(x))
    if scored != variants * runs or len(metrics) != variants * runs:
        raise SystemExit(f"only {scored} of {variants * runs} runs were scored in {directory}")
    return {
        "size": f"{variants} x {runs} runs, {points}-point curves",
        "megabytes": size / 1e6,
        "build": build_seconds,
        "import": import_seconds,
        "read": read_seconds,
        "analyze": analyze_seconds,
        "collect": collect_seconds,
        "stats": stats_seconds,
        "report": report_seconds,
        "matplotlib": matplotlib_seconds,
        "plots": plots_seconds,
    }


def _import_library():
    from metta_ab import analysis, plots, report, stats

    return analysis, report, plots, stats


def main() -> None:
    options = parse_options(__doc__.split("\n\n")[0])
    sizes = [(2, 3, 50)] if options.smoke else [(20, 50, 2000)] + ([(20, 100, 2000)] if options.full else [])
    print(f"analysis_scale: {machine()}")
    results = []
    with scratch_dir(options.keep, "analysis") as work:
        for i, (variants, runs, points) in enumerate(sizes):
            results.append(measure(work / f"size-{i}", variants, runs, points))
    rows = []
    for r in results:
        no_plots = r["analyze"] + r["report"]
        with_plots = r["analyze"] + r["matplotlib"] + r["plots"]
        rows += [
            [r["size"], f"(building the directory: {r['build']:.1f} s, {r['megabytes']:.0f} MB read)", ""],
            ["", "baseline: read + parse every file", f"{r['read']:.2f}"],
            ["", "import metta_ab.analysis/report (numpy, scipy)", f"{r['import']:.2f}"],
            ["", "analyze_directory", f"{r['analyze']:.2f}"],
            ["", "  of which: collect_run_metrics, every run", f"{r['collect']:.2f}"],
            ["", "  of which: stats.analyze", f"{r['stats']:.2f}"],
            ["", "write_report(plots=False)", f"{r['report']:.2f}"],
            ["", "matplotlib import (first plot)", f"{r['matplotlib']:.2f}"],
            ["", "write_report(plots=True)", f"{r['plots']:.2f}"],
            ["", "analyze + report, no plots", f"{no_plots:.2f} ({no_plots / r['read']:.1f}x baseline)"],
            ["", "analyze + report with plots", f"{with_plots:.2f} ({with_plots / r['read']:.1f}x baseline)"],
        ]
    print()
    print(table(rows, ["experiment", "step", "seconds"]))
    r = results[0]
    no_plots = r["analyze"] + r["report"]
    with_plots = r["analyze"] + r["matplotlib"] + r["plots"]
    print(
        ratio_line(
            no_plots / r["read"],
            f"analyze + report without plots ({no_plots:.2f} s) / reading the files ({r['read']:.2f} s), {r['size']}",
            f"< {TARGET_SECONDS:.0f} s",
            no_plots < TARGET_SECONDS,
        )
    )
    print(
        ratio_line(
            with_plots / r["read"],
            f"analyze + report with plots ({with_plots:.2f} s) / reading the files ({r['read']:.2f} s), {r['size']}",
            f"< {TARGET_SECONDS:.0f} s",
            with_plots < TARGET_SECONDS,
        )
    )


if __name__ == "__main__":
    main()
