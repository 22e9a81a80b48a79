"""Run a Hydra app as `python app.py ...` would, with wall-clock timers around the stages of a sweep.

    python benchmarks/_phase_timer.py PHASES.json path/to/app.py -m hydra/sweeper=ab ...

The app runs through `runpy` as `__main__` with the same argv; the timers are plain wrappers around a
few functions of Hydra and of the ab sweeper (set when their module is first used), so they cost
microseconds, unlike a tracing profiler. At exit the stage totals and call counts go to PHASES.json.
Only the main process is timed (fine for the basic launcher, which runs every job in-process).
"""

from __future__ import annotations

import atexit
import functools
import json
import runpy
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

START = time.perf_counter()
totals: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)
marks: dict[str, float] = {}
launches: list[tuple[float, float]] = []  # epoch seconds at the start and end of each launch() call
missing: list[str] = []  # functions to time that the code does not have (renamed or removed)
EPOCH_START = time.time()


def _timed(label: str, function: Any) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - started
            calls[label] += 1

    return wrapper


def _patch(owner: Any, path: str, label: str) -> None:
    """Wrap `owner.<path>` (e.g. `ABSweep.__init__`); a name the code no longer has is skipped and
    reported, so a refactoring elsewhere costs a row of the stage table, not the benchmark."""
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent, None)
    if owner is None or not hasattr(owner, name):
        missing.append(path)
        return
    setattr(owner, name, _timed(label, getattr(owner, name)))


def _patch_hydra() -> None:
    from hydra._internal import hydra as hydra_internal
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.plugins import Plugins

    _patch(hydra_internal.Hydra, "compose_config", "compose the master config")
    _patch(ConfigLoaderImpl, "load_sweep_config", "compose one job's config (load_sweep_config)")

    initialize = Plugins._initialize

    def timed_initialize(self: Any) -> None:
        initialize(self)
        _patch_core_plugins()  # the scan re-executes plugin modules: patch their classes afterwards

    Plugins._initialize = _timed("plugin scan (imports every hydra_plugins module)", timed_initialize)

    instantiate_sweeper = Plugins.instantiate_sweeper

    def timed_instantiate_sweeper(*args: Any, **kwargs: Any) -> Any:
        if "hydra/sweeper=ab" in sys.argv:
            _patch_ab_sweeper()
        return instantiate_sweeper(*args, **kwargs)

    Plugins.instantiate_sweeper = timed_instantiate_sweeper

    multirun = hydra_internal.Hydra.multirun

    def timed_multirun(*args: Any, **kwargs: Any) -> Any:
        marks["multirun_start"] = time.perf_counter()
        try:
            return multirun(*args, **kwargs)
        finally:
            marks["multirun_end"] = time.perf_counter()

    hydra_internal.Hydra.multirun = timed_multirun


def _patch_core_plugins() -> None:
    from hydra._internal.core_plugins import basic_launcher, basic_sweeper

    _patch(basic_sweeper.BasicSweeper, "setup", "sweeper setup")
    _patch(basic_sweeper.BasicSweeper, "validate_batch_is_legal", "BasicSweeper: compose every job to validate")
    _patch_launch(basic_launcher.BasicLauncher)
    try:
        from hydra_plugins.hydra_joblib_launcher import joblib_launcher
    except ImportError:
        pass
    else:
        _patch_launch(joblib_launcher.JoblibLauncher)
    from hydra_plugins.ab_launcher import ab_local_launcher

    _patch_launch(ab_local_launcher.ABLocalLauncher)
    _patch_launch(ab_local_launcher.ABLocalLauncher, "launch_queue")

    original_run_job = basic_launcher.run_job

    def run_job(*args: Any, **kwargs: Any) -> Any:
        kwargs["task_function"] = _timed("task function given to the launcher", kwargs["task_function"])
        return original_run_job(*args, **kwargs)

    basic_launcher.run_job = _timed("Hydra run_job (per job: dirs, logging, .hydra/*.yaml, task)", run_job)


def _patch_launch(launcher: Any, method: str = "launch") -> None:
    """Time launch() (or ab_local's launch_queue) and keep the epoch times of every call (to line up with the
    jobs' own records)."""
    launch = _timed(f"launcher.{method} (all jobs)", getattr(launcher, method))

    def timed_launch(*args: Any, **kwargs: Any) -> Any:
        started = time.time()
        try:
            return launch(*args, **kwargs)
        finally:
            launches.append((started, time.time()))

    setattr(launcher, method, timed_launch)


def _patch_ab_sweeper() -> None:
    """Called when Hydra instantiates the sweeper, after the plugin scan (which it must not perturb)."""
    from hydra_plugins.ab_sweeper import ab_sweeper

    original_setup = ab_sweeper.ABSweeper.setup

    def setup(self: Any, **kwargs: Any) -> Any:
        settings = kwargs["config"].get("ab")
        if settings is not None and settings.get("experiment") is not None:
            started = time.perf_counter()
            import hydra_plugins.ab_sweeper._core  # noqa: F401  (what ABSweeper.setup imports first)

            totals["ab: import _core (metta_ab, numpy, scipy)"] += time.perf_counter() - started
            calls["ab: import _core (metta_ab, numpy, scipy)"] += 1
            _patch_ab_core()
        return original_setup(self, **kwargs)

    ab_sweeper.ABSweeper.setup = _timed("sweeper setup", setup)


def _patch_ab_core() -> None:
    from hydra_plugins.ab_sweeper import _app_config, _core, _progress, _task
    from metta_ab.report import plots

    _patch(_core, "ABSweep.__init__", "ab: ABSweep.__init__ (load experiment, launcher)")
    _patch(_app_config, "AppConfig.layout", "ab: resolve the app layout")
    _patch(_app_config, "AppConfig.validate", "ab: validate (compose each variant once)")
    _patch(_core, "plan_experiment", "ab: plan")
    _patch(_core, "ABSweep._write_definition", "ab: write experiment_config/plan.txt/plan.json")
    _patch(_core, "ABSweep._ledger", "ab: create the ledger")
    _patch(_core, "move_attempt_aside", "ab: move_attempt_aside (per job)")
    _patch(_progress, "ProgressWatcher.__exit__", "ab: stop the progress watcher")
    _patch(_core, "read_status", "ab: read ab_status.json (per job)")
    _patch(_core, "Ledger.save", "ab: ledger.save")
    _patch(_task, "write_status", "ab: write ab_status.json (2 per job, fsync)")
    _patch(_task, "_save_config", "ab: save config.yaml (per job)")
    _patch(_core, "analyze_runs", "ab: analyze_runs (scores + statistics)")
    _patch(_core, "write_report", "ab: write_report (summary + plots)")
    _patch(plots, "draw_figures", "ab: draw_figures (matplotlib)")


def _write(path: str) -> None:
    end = time.perf_counter()
    data = {
        "in_process": end - START,
        "before_multirun": marks.get("multirun_start", end) - START,
        "after_multirun": end - marks.get("multirun_end", end),
        "epoch_start": EPOCH_START,
        "launches": launches,
        "missing": missing,
        "phases": {label: [totals[label], calls[label]] for label in totals},
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)


def main() -> None:
    out, app, *args = sys.argv[1:]
    atexit.register(_write, out)
    _patch_hydra()
    sys.argv = [app, *args]
    sys.path[0] = str(Path(app).resolve().parent)  # as `python app.py` would
    runpy.run_path(app, run_name="__main__")


if __name__ == "__main__":
    main()
