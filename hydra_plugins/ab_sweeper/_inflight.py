"""After `launch()` raised, the round's other jobs may still be running or queued: submitit and Ray raise
at the first dead job and leave the rest going. Relaunching them now would run them twice, so the sweeper
first waits until every job of the round has ended (or will never start)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metta_ab.ledger import RUNNING, read_status


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _slurm_jobs_alive(job_ids: set[str]) -> bool:
    """Whether SLURM still has any of these jobs (running or queued), by asking squeue."""
    if not job_ids or shutil.which("squeue") is None:
        return False
    result = subprocess.run(
        ["squeue", "-h", "-o", "%i", "-j", ",".join(sorted(job_ids))], capture_output=True, text=True, check=False
    )
    return bool(result.stdout.strip())


def _running_here(status: dict[str, Any] | None, host: str) -> bool:
    return (
        status is not None
        and status.get("status") == RUNNING
        and status.get("host") == host
        and isinstance(status.get("pid"), int)
        and _process_alive(status["pid"])
    )


def _stop_ray() -> None:
    """Ray tasks not yet started would start later, beside their relaunch: end this Ray session."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def wait_for_round_to_settle(job_dirs: Sequence[Path], interval: float) -> None:
    host = socket.gethostname()
    while True:
        statuses = [read_status(d) for d in job_dirs]
        local = [s for s in statuses if _running_here(s, host)]
        slurm = {str(s.get("slurm_array_job_id") or s["slurm_job_id"]) for s in statuses if s and s.get("slurm_job_id")}
        if not local and not _slurm_jobs_alive(slurm):
            break
        time.sleep(max(interval, 0.2))
    _stop_ray()
