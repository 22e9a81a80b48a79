"""Soak test: 200 runs, 30% of attempts misbehave in every way a run can (raise, exit the process, get
SIGKILLed, hang past the timeout, raise an unpicklable exception), 3 retries, joblib with 2 workers.

Prints runs planned, completed, failed, retried, lost (must be 0) and duplicated (must be 0). Not part of
CI's default run: `python benchmarks/soak.py [--runs 200] [--chaos 0.3] [--smoke]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tests" / "apps" / "metta_like" / "app.py"

EXPERIMENT = """
from metta_ab import create_experiment

experiment = (
    create_experiment("soak", "chaos soak test")
    .add_variant(name="a", trainer__learning_rate=0.001)
    .add_variant(name="b", trainer__learning_rate=0.01)
    .set_runs_per_variant({runs})
    .set_metric("score")
    .build()
)
"""


def count(exp_dir: Path) -> dict[str, int]:
    ledger = json.loads((exp_dir / "ledger.json").read_text())["runs"]
    completed = [r for r in ledger if r["status"] == "completed"]
    lost = duplicated = retried = 0
    for record in ledger:
        job = exp_dir / record["job_dir"]
        status = json.loads((job / "ab_status.json").read_text()) if (job / "ab_status.json").exists() else None
        # lost: the ledger says completed but the job's own record does not, or the other way round
        if (record["status"] == "completed") != (status is not None and status.get("status") == "completed"):
            lost += 1
        earlier = sorted((job / "attempts").glob("*/ab_status.json")) if (job / "attempts").is_dir() else []
        retried += bool(earlier)
        # duplicated: a completed attempt that was run again anyway
        duplicated += sum(json.loads(p.read_text()).get("status") == "completed" for p in earlier)
    return {
        "planned": len(ledger),
        "completed": len(completed),
        "failed": len(ledger) - len(completed),
        "retried": retried,
        "lost": lost,
        "duplicated": duplicated,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="total runs (split over 2 variants)")
    parser.add_argument("--chaos", type=float, default=0.3, help="probability that an attempt misbehaves")
    parser.add_argument("--smoke", action="store_true", help="20 runs, for CI")
    args = parser.parse_args()
    runs = 20 if args.smoke else args.runs
    with tempfile.TemporaryDirectory(prefix="metta_ab_soak_") as scratch:
        workdir = Path(scratch)
        (workdir / "exp.py").write_text(EXPERIMENT.format(runs=runs // 2))
        command = [
            sys.executable, str(APP), "-m", "hydra/sweeper=ab", "ab.experiment=exp.py", "ab.max_retries=3",
            "ab.run_timeout=3", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"chaos={args.chaos}",
            "sleep=0.05",
        ]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env={**os.environ})
        elapsed = time.perf_counter() - started
        counts = count(workdir / "ab_test_results" / "soak")
    print(f"soak: {runs} runs, chaos {args.chaos:.0%} of attempts, 3 retries, joblib n_jobs=2")
    print(f"sweep exit status {proc.returncode} (non-zero when runs still failed after 3 retries), {elapsed:.0f} s")
    for key, value in counts.items():
        print(f"  {key:<11} {value}")
    ok = counts["lost"] == 0 and counts["duplicated"] == 0 and counts["completed"] + counts["failed"] == runs
    print(f"lost + duplicated = {counts['lost'] + counts['duplicated']} ({'ok' if ok else 'FAIL'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
