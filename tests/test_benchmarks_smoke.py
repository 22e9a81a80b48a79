"""The benchmarks still run: each one with `--smoke` (tiny sizes), as a subprocess, as a user would start it.

Only the exit status and the shape of the output are checked, never a time: a benchmark ends with a line
`ratio <number>: ...`, and one that cannot produce its ratio fails here instead of rotting unnoticed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.hydra_independent]  # keeps the benchmarks from rotting, on one Hydra

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
RATIO_LINE = re.compile(r"^ratio (\d+(?:\.\d+)?): \S")


@pytest.mark.parametrize(
    "script",
    [
        "sweeper_overhead.py",
        "launcher_utilization.py",
        "planning_scale.py",
        "analysis_scale.py",
        "sequential_simulation.py",
        "aa_simulation.py",
        "ci_agreement.py",
    ],
)
def test_benchmark_smoke_run_ends_with_its_ratio(script: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["TMPDIR"] = str(tmp_path)  # the benchmark's scratch directories land here
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{script} --smoke failed:\n{output[-4000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"{script} printed nothing:\n{output[-4000:]}"
    match = RATIO_LINE.match(lines[-1])
    assert match, f"{script}: the last line should be 'ratio <number>: ...', got {lines[-1]!r}"
    assert float(match.group(1)) > 0, lines[-1]
    assert not list(tmp_path.glob("metta_ab_*")), f"{script} left its scratch directory behind"
