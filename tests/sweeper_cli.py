"""Run a Hydra app with the ab sweeper through its real command line, as a user would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

TESTS = Path(__file__).resolve().parent
APPS = TESTS / "apps"
METTA_LIKE = APPS / "metta_like" / "app.py"
GROUPED = APPS / "grouped" / "app.py"
STRUCTURED = APPS / "structured" / "app.py"
EXAMPLE_APP = TESTS.parent / "examples" / "train.py"
# The interpreter the apps run under: METTA_AB_PYTHON=/path/to/python runs them in another environment
# (another hydra-core, say) than the one running pytest.
PYTHON = os.environ.get("METTA_AB_PYTHON") or sys.executable


@dataclass
class SweepResult:
    returncode: int
    stdout: str
    stderr: str
    cwd: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def errors(self) -> str:
        """stderr without Python's warnings (Hydra 1.4 warns about an app's version_base before anything else),
        so that a test can check what the sweep's first line says."""
        kept, in_warning = [], False  # a warning: "file:line: Category: message (lines)" then "  source line"
        for line in self.stderr.splitlines(keepends=True):
            if re.match(r"^\S+:\d+: \w*Warning: ", line):
                in_warning = True
            elif in_warning:
                in_warning = not line.startswith("  ")
            else:
                kept.append(line)
        return "".join(kept)

    def experiment_dir(self, name: str, output_dir: str = "ab_test_results") -> Path:
        return self.cwd / output_dir / name


def run_sweep(
    app: Path,
    *overrides: str,
    cwd: Path,
    timeout: float = 900,
    env: dict[str, str] | None = None,
    plots: bool = False,
    wandb_summary: bool = False,
) -> SweepResult:
    """`python app.py -m hydra/sweeper=ab ...` started in `cwd` (outside the project, like a user). The plots
    cost about a second per sweep and the W&B summary run about four, so only the tests that look at them
    make them (`plots=True`, `wandb_summary=True`)."""
    if not plots and not any(o.startswith("ab.plots=") for o in overrides):
        overrides = (*overrides, "ab.plots=false")
    if not wandb_summary and not any(o.startswith("ab.wandb_summary=") for o in overrides):
        overrides = (*overrides, "ab.wandb_summary=false")
    return run_app(app, "-m", "hydra/sweeper=ab", *overrides, cwd=cwd, timeout=timeout, env=env)


def run_app(
    app: Path, *arguments: str, cwd: Path, timeout: float = 900, env: dict[str, str] | None = None
) -> SweepResult:
    """`python app.py <arguments>` started in `cwd`, exactly as given (no `-m` added)."""
    return run_command([PYTHON, str(app)], *arguments, cwd=cwd, timeout=timeout, env=env)


def run_command(
    command: list[str], *arguments: str, cwd: Path, timeout: float = 900, env: dict[str, str] | None = None
) -> SweepResult:
    """`command <arguments>` started in `cwd` (`[PYTHON, "-m", "app"]` runs an app as a module)."""
    full_env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run(
        [*command, *arguments],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return SweepResult(proc.returncode, proc.stdout, proc.stderr, cwd)


def job_config(job_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((job_dir / "config.yaml").read_text())


def status(job_dir: Path) -> dict[str, Any]:
    return json.loads((job_dir / "ab_status.json").read_text())


def job_dirs(experiment_dir: Path) -> list[str]:
    if not experiment_dir.is_dir():
        return []
    return sorted(p.name for p in experiment_dir.iterdir() if p.is_dir() and "_run_" in p.name)


def write_experiment(path: Path, body: str) -> Path:
    path.write_text("from metta_ab import ABExperiment, ABVariant, create_experiment\n\n" + body)
    return path


def unavailable(what: str, require_var: str, reason: str) -> None:
    """Skip a test whose outside requirement (a SLURM cluster, Ray, a browser) is missing, saying why; fail
    instead when `require_var`=1 (CI sets it: there the requirement must be met)."""
    message = f"{what}: {reason}"
    if os.environ.get(require_var) == "1":
        pytest.fail(f"{message} (and {require_var}=1 says it must be available)")
    pytest.skip(message)
