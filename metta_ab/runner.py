"""Run an experiment through a Hydra app with the ab sweeper: one engine for `metta-ab run` and
`run_ab_test()`.

Both start the app as `python APP -m hydra/sweeper=ab ab.experiment=...` in a child process, exactly as
a user would on the command line, so the launcher, retries and report are the sweeper's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metta_ab.definition.experiment import ABExperiment
from metta_ab.definition.loading import load_experiment, save_experiment
from metta_ab.definition.overrides import format_value
from metta_ab.records.ledger import COMPLETED, LEDGER_FILE, PLANNED, read_json

DEFAULT_APP = Path("tools") / "train.py"


class ABRunError(RuntimeError):
    """The sweep could not start (bad input, missing app); nothing ran. The message is the sweeper's."""


@dataclass
class SweepOptions:
    """The seed's runner options, mapped onto the ab sweeper's settings and Hydra's launchers."""

    output_dir: str = "ab_test_results"
    parallel_runs: bool = False
    max_parallel_runs: int = 4
    retry_failed_runs: bool = True
    max_retries: int = 3
    dry_run: bool = False
    overrides: Sequence[str] = ()

    def hydra_overrides(self, experiment_spec: str) -> list[str]:
        args = [
            "-m",
            "hydra/sweeper=ab",
            f"ab.experiment={format_value(experiment_spec)}",  # paths may hold commas, spaces, '='
            f"ab.output_dir={format_value(self.output_dir)}",
            f"ab.max_retries={self.max_retries if self.retry_failed_runs else 0}",
        ]
        if self.dry_run:
            args.append("ab.dry_run=true")
        if self.parallel_runs:  # ab_local: a fresh process per job, a failed run retried in the next free slot
            args += ["hydra/launcher=ab_local", f"hydra.launcher.n_jobs={self.max_parallel_runs}"]
        return args + list(self.overrides)


def resolve_app(app: str | Path | None, experiment: ABExperiment, experiment_file: Path | None) -> Path:
    """--app, else the experiment's `set_app(...)`, else tools/train.py in the current directory."""
    candidates: list[Path] = []
    if app is not None:
        candidates = [Path(app)]
    elif experiment.app:
        candidates = [Path(experiment.app)]
        if experiment_file is not None:
            candidates.append(experiment_file.parent / experiment.app)
    else:
        candidates = [DEFAULT_APP]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.absolute()
    raise ABRunError(
        f"no training app at {candidates[0]} (looked in {Path.cwd()}): pass --app path/to/train.py, "
        "or name it in the experiment with .set_app('path/to/train.py')"
    )


def sweep_command(app: Path, experiment_spec: str, options: SweepOptions) -> list[str]:
    return [sys.executable, str(app), *options.hydra_overrides(experiment_spec)]


def run_sweep_process(command: list[str], *, quiet: bool) -> subprocess.CompletedProcess[str]:
    """Progress (stdout) streams to the user unless `quiet`; stderr is kept for the error message."""
    env = {**os.environ}
    env.setdefault("WANDB_SILENT", "true")
    stdout = subprocess.DEVNULL if quiet else None
    return subprocess.run(command, env=env, text=True, stdout=stdout, stderr=subprocess.PIPE, check=False)


def _run_dict(run: dict[str, Any], experiment_dir: Path) -> dict[str, Any]:
    value = run.get("return_value")
    # None: not run (a dry run's plan; a sequential experiment that stopped before this run's look)
    success = run.get("status") == COMPLETED if run.get("status", PLANNED) != PLANNED else None
    return {
        "run_name": run["run_name"],
        "variant": run["variant"],
        "run_index": run["run_index"],
        "seed": run["seed"],
        "success": success,
        "error": run.get("error"),
        "duration": run.get("duration"),
        "attempts": run.get("attempts", 0),
        "metrics": value if isinstance(value, dict) else ({"value": value} if value is not None else {}),
        "run_dir": str(experiment_dir / run["job_dir"]),
    }


def run_ab_test(
    experiment: ABExperiment | str | Path,
    app: str | Path | None = None,
    output_dir: str | Path = "ab_test_results",
    parallel_runs: bool = False,
    max_parallel_runs: int = 4,
    retry_failed_runs: bool = True,
    max_retries: int = 3,
    dry_run: bool = False,
    overrides: Sequence[str] = (),
    verbose: bool = False,
    quiet: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Run an experiment (object or file) through a Hydra app; return `{variant: [run dicts]}`.

    Each run dict has run_name, variant, run_index, seed, success, error, duration, attempts, metrics
    (the values the run returned) and run_dir. Failed runs are reported there, not raised; bad input
    raises before anything runs. A dry run returns the planned runs with success None, and so does a
    sequential experiment for the runs its early stop left out.
    """
    experiment_file = None
    if isinstance(experiment, str | Path):
        experiment_file = Path(experiment)
        loaded = load_experiment(experiment_file)
    else:
        loaded = experiment.validate()
    options = SweepOptions(
        output_dir=str(Path(output_dir).absolute()),
        parallel_runs=parallel_runs,
        max_parallel_runs=max_parallel_runs,
        retry_failed_runs=retry_failed_runs,
        max_retries=max_retries,
        dry_run=dry_run,
        overrides=tuple(overrides),
    )
    app_path = resolve_app(app, loaded, experiment_file)
    experiment_dir = Path(options.output_dir) / loaded.name
    with tempfile.TemporaryDirectory(prefix="metta_ab_") as scratch:
        if experiment_file is not None:
            spec = str(experiment_file.absolute())
        else:  # an in-memory experiment travels to the sweeper as its saved YAML form
            spec = str(Path(scratch) / f"{loaded.name}.yaml")
            save_experiment(loaded, Path(spec))
        command = sweep_command(app_path, spec, options)
        if verbose:
            print("$ " + " ".join(command), flush=True)
        started = time.time()
        proc = run_sweep_process(command, quiet=quiet)
    source = experiment_dir / ("plan.json" if dry_run else LEDGER_FILE)
    if not source.is_file() or source.stat().st_mtime < started:
        message = (proc.stderr or "").strip() or f"the sweep exited with status {proc.returncode}"
        raise ABRunError(message)
    data = read_json(source)
    runs = data if dry_run else (data or {}).get("runs", [])
    results: dict[str, list[dict[str, Any]]] = {v.name: [] for v in loaded.variants}
    for run in runs:
        results.setdefault(run["variant"], []).append(_run_dict(run, experiment_dir))
    return results


def summary_verdict_lines(experiment_dir: Path) -> list[str]:
    """The "Verdict:" section of summary.txt, for `metta-ab run` to end with."""
    path = experiment_dir / "summary.txt"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    if "Verdict:" not in lines:
        return []
    start = lines.index("Verdict:")
    section = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        section.append(line)
    return section
