"""What the ab sweeper costs over Hydra's BasicSweeper, and what it costs every Hydra app start.

    python benchmarks/sweeper_overhead.py [--smoke | --full] [--keep]

1. Wall time of a 40-job sweep of a trivial app (benchmarks/apps/trivial) on the basic launcher:
   `hydra/sweeper=ab` with 2 variants x 20 runs (plots on, the default, and `ab.plots=false`) against
   BasicSweeper on the same 40 jobs (`-m seed=range(0,20) lr=0.01,0.02`), each command started fresh
   in its own directory, interleaved, best of 2 (`--full`: 5). Every sweep runs under `_phase_timer.py`
   (timers around the sweep's stages, microseconds each), which shows where the time goes.
2. Plugin discovery: `python -S app.py --help` (and `--cfg job`) with PYTHONPATH = the venv's
   site-packages, with and without the project root (the only place `hydra_plugins/ab_sweeper` comes
   from), interleaved, best of 4 (`--full`: 15); plus the per-module import times of Hydra's own plugin
   scan (`Plugins.get_stats()`).

The last line is the ratio ab (plots off) / BasicSweeper; the line before it, the ratio with plots.
Targets: ratio <= 1.10; `--help` start-up difference < 50 ms.
"""

from __future__ import annotations

import json
import os
import statistics
import sysconfig
from pathlib import Path

from _harness import (
    BENCHMARKS,
    PROJECT_ROOT,
    PYTHON,
    TRIVIAL_APP,
    Timed,
    child_env,
    fresh_dir,
    machine,
    parse_options,
    ratio_line,
    run_timed,
    scratch_dir,
    summarize,
    table,
    write_experiment,
)

PHASE_TIMER = BENCHMARKS / "_phase_timer.py"
TARGET_RATIO = 1.10
TARGET_DISCOVERY_MS = 50.0
START_COMMANDS = ("--help", "--cfg job")


def sweep(kind: str, work: Path, runs: int) -> tuple[Timed, dict]:
    """One sweep of 2 x `runs` jobs, started in a fresh directory; returns its timing and stage timers."""
    cwd = fresh_dir(work, kind)
    phases = cwd / "phases.json"
    if kind == "basic":
        args = ["-m", f"seed=range(0,{runs})", "lr=0.01,0.02"]
    else:
        write_experiment(
            cwd / "exp.py", "overhead", {"a": {"lr": 0.01}, "b": {"lr": 0.02}}, runs, [".set_metric('score')"]
        )
        args = ["-m", "hydra/sweeper=ab", "ab.experiment=exp.py", f"ab.plots={kind == 'ab_plots'}"]
    timed = run_timed([PYTHON, str(PHASE_TIMER), str(phases), str(TRIVIAL_APP), *args], cwd=cwd)
    timed.check(f"the {kind} sweep")
    return timed, json.loads(phases.read_text())


def start_up(work: Path, args: list[str], with_plugin: bool) -> float:
    """`python -S app.py ARGS`: packages come from PYTHONPATH only; the project root (after site-packages,
    where the editable install's .pth puts it) is what makes `hydra_plugins/ab_sweeper` visible."""
    site = sysconfig.get_paths()["purelib"]
    path = [site, str(PROJECT_ROOT)] if with_plugin else [site]
    env = child_env(PYTHONPATH=os.pathsep.join(path))
    return run_timed([PYTHON, "-S", str(TRIVIAL_APP), *args], cwd=work, env=env).check(f"app {args}").seconds


SCAN_STATS = """
import json
from hydra.core.plugins import Plugins
stats = Plugins.instance().get_stats()
print(json.dumps({"total": stats.total_time, "modules": stats.modules_import_time}))
"""


def scan_stats(work: Path) -> dict:
    """Hydra's own record of the plugin scan: seconds per module imported."""
    out = run_timed([PYTHON, "-c", SCAN_STATS], cwd=work).check("the plugin scan")
    return json.loads(out.text().strip().splitlines()[-1])


PHASE_ORDER = [
    "plugin scan (imports every hydra_plugins module)",
    "compose the master config",
    "sweeper setup",
    "ab: import _core (metta_ab, numpy, scipy)",
    "ab: ABSweep.__init__ (load experiment, launcher)",
    "ab: resolve the app layout",
    "ab: plan",
    "ab: validate (compose each variant once)",
    "BasicSweeper: compose every job to validate",
    "ab: write experiment_config/plan.txt/plan.json",
    "ab: create the ledger",
    "launcher.launch (all jobs)",
    "ab: move_attempt_aside (per job)",
    "Hydra run_job (per job: dirs, logging, .hydra/*.yaml, task)",
    "task function given to the launcher",
    "ab: write ab_status.json (2 per job, fsync)",
    "ab: save config.yaml (per job)",
    "ab: stop the progress watcher",
    "ab: read ab_status.json (per job)",
    "ab: ledger.save",
    "ab: analyze_runs (scores + statistics)",
    "ab: write_report (summary + plots)",
    "ab: write_plots (matplotlib)",
    "compose one job's config (load_sweep_config)",
]


def phase_table(columns: dict[str, tuple[Timed, dict]]) -> str:
    names = list(columns)
    rows = [["whole command (wall)", *(f"{t.seconds:.3f}" for t, _ in columns.values())]]
    rows.append(
        ["python start-up before the timer", *(f"{t.seconds - p['in_process']:.3f}" for t, p in columns.values())]
    )
    rows.append(
        [
            "start-up until the sweep (imports, scan, compose)",
            *(f"{p['before_multirun']:.3f}" for _, p in columns.values()),
        ]
    )
    for label in PHASE_ORDER:
        cells = []
        for _, phases in columns.values():
            seconds, count = phases["phases"].get(label, (None, 0))
            cells.append("" if seconds is None else f"{seconds:.3f}" + (f" ({count}x)" if count > 1 else ""))
        if any(cells):
            rows.append([label, *cells])
    return table(rows, ["stage (seconds; nested stages are included in their parents)", *names])


def per_job_summary(basic: dict, ab: dict, jobs: int) -> str:
    """The difference split into what every job pays and what the sweep pays once."""

    def get(phases: dict, label: str) -> tuple[float, int]:
        seconds, count = phases["phases"].get(label, (0.0, 0))
        return seconds, count

    compose = "compose one job's config (load_sweep_config)"
    run_job = "Hydra run_job (per job: dirs, logging, .hydra/*.yaml, task)"
    b_compose, b_n = get(basic, compose)
    a_compose, a_n = get(ab, compose)
    b_launch = get(basic, "launcher.launch (all jobs)")[0] / jobs * 1000
    a_launch = get(ab, "launcher.launch (all jobs)")[0] / jobs * 1000
    wrapper = sum(
        get(ab, k)[0] for k in ("ab: write ab_status.json (2 per job, fsync)", "ab: save config.yaml (per job)")
    )
    once = {
        "import of _core (scipy)": get(ab, "ab: import _core (metta_ab, numpy, scipy)")[0],
        "layout + validation": get(ab, "ab: resolve the app layout")[0]
        + get(ab, "ab: validate (compose each variant once)")[0],
        "analysis": get(ab, "ab: analyze_runs (scores + statistics)")[0],
        "plots": get(ab, "ab: write_plots (matplotlib)")[0],
    }
    validation = get(basic, "BasicSweeper: compose every job to validate")[0]
    return (
        f"per job: launch {a_launch:.1f} ms (ab) vs {b_launch:.1f} ms (basic), of which Hydra's run_job "
        f"{get(ab, run_job)[0] / jobs * 1000:.1f} vs {get(basic, run_job)[0] / jobs * 1000:.1f} ms and the task "
        f"wrapper's status + config.yaml writes {wrapper / jobs * 1000:.1f} ms; one composition "
        f"{a_compose / max(a_n, 1) * 1000:.1f} ms (ab: {a_n} of them) vs {b_compose / max(b_n, 1) * 1000:.1f} ms "
        f"(basic: {b_n}, every job twice).\nonce per sweep (ab): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in once.items())
        + f"; BasicSweeper's validation of every job: {validation:.2f} s"
    )


def main() -> None:
    options = parse_options(__doc__.split("\n\n")[0])
    runs = 2 if options.smoke else 20
    repeat = 1 if options.smoke else (5 if options.full else 2)
    help_repeat = 2 if options.smoke else (15 if options.full else 4)
    print(f"sweeper_overhead: 2 variants x {runs} runs = {2 * runs} jobs, basic launcher; {machine()}")
    kinds = ["basic", "ab_no_plots", "ab_plots"]
    results: dict[str, list[tuple[Timed, dict]]] = {k: [] for k in kinds}
    with scratch_dir(options.keep, "overhead") as work:
        for i in range(repeat):
            for kind in kinds if i % 2 == 0 else reversed(kinds):  # interleaved: drifting load hits all alike
                results[kind].append(sweep(kind, work, runs))
        starts: dict[tuple[str, bool], list[float]] = {}
        for _ in range(help_repeat):
            for args in START_COMMANDS:
                for with_plugin in (False, True):
                    starts.setdefault((args, with_plugin), []).append(start_up(work, args.split(), with_plugin))
        scan = scan_stats(work)

    best = {k: min(v, key=lambda r: r[0].seconds) for k, v in results.items()}
    wall = {k: [t.seconds for t, _ in v] for k, v in results.items()}
    cpu = {k: min(t.cpu for t, _ in v) for k, v in results.items()}
    basic = min(wall["basic"])
    ratio_plots = min(wall["ab_plots"]) / basic
    ratio_no_plots = min(wall["ab_no_plots"]) / basic
    print()
    print(f"Sweep of {2 * runs} jobs, the whole command:")
    rows = [
        [f"BasicSweeper: -m seed=range(0,{runs}) lr=0.01,0.02", "basic"],
        ["ab sweeper, ab.plots=false", "ab_no_plots"],
        ["ab sweeper, plots on (default)", "ab_plots"],
    ]
    print(
        table(
            [
                [
                    label,
                    summarize(wall[k]),
                    f"{min(wall[k]) / basic:.2f}",
                    f"{cpu[k]:.2f} s",
                    f"{cpu[k] / cpu['basic']:.2f}",
                ]
                for label, k in rows
            ],
            ["command", "wall time", "wall ratio (best / best)", "CPU time (best)", "CPU ratio"],
        )
    )
    print()
    print("Where the time goes (fastest run of each; stage timers in the sweeper process):")
    print(phase_table({"basic": best["basic"], "ab, no plots": best["ab_no_plots"], "ab, plots": best["ab_plots"]}))

    print(per_job_summary(best["basic"][1], best["ab_plots"][1], 2 * runs))
    missing = sorted({m for _, phases in best.values() for m in phases.get("missing", [])})
    if missing:
        print(f"(stage timers not set, the code has no {', '.join(missing)}: update benchmarks/_phase_timer.py)")

    ours = {m: s for m, s in scan["modules"].items() if m.startswith("hydra_plugins.ab_sweeper")}
    scan_ms = sum(ours.values()) * 1000
    rows = []
    for args in START_COMMANDS:
        without, with_plugin = starts[(args, False)], starts[(args, True)]
        best = (min(with_plugin) - min(without)) * 1000
        median = (statistics.median(with_plugin) - statistics.median(without)) * 1000
        rows.append(
            [f"app.py {args}", summarize(without), summarize(with_plugin), f"{best:+.0f} ms", f"{median:+.0f} ms"]
        )
    help_ms = (min(starts[("--help", True)]) - min(starts[("--help", False)])) * 1000
    print()
    print("Plugin discovery (`python -S app.py ...`, PYTHONPATH = site-packages [+ project root]):")
    print(table(rows, ["start-up", "without the ab plugin", "with it", "difference (best)", "(median)"]))
    print()
    print(
        table(
            [
                *[[f"import {m}", f"{s * 1000:.1f} ms"] for m, s in sorted(ours.items())],
                ["all plugin modules (incl. joblib, submitit)", f"{scan['total'] * 1000:.1f} ms"],
            ],
            ["Hydra's plugin scan (Plugins.get_stats())", "time"],
        )
    )
    print(
        f"discovery: --help start-up {help_ms:+.0f} ms, import in Hydra's scan {scan_ms:.1f} ms "
        f"(target < {TARGET_DISCOVERY_MS:.0f} ms: {'met' if help_ms < TARGET_DISCOVERY_MS else 'MISSED'})"
    )
    print(
        ratio_line(
            ratio_plots,
            "ab sweeper with plots (default) / BasicSweeper, wall time",
            "<= 1.10",
            ratio_plots <= TARGET_RATIO,
        )
    )
    print(
        ratio_line(
            ratio_no_plots,
            "ab sweeper (ab.plots=false) / BasicSweeper, wall time",
            "<= 1.10",
            ratio_no_plots <= TARGET_RATIO,
        )
    )


if __name__ == "__main__":
    main()
