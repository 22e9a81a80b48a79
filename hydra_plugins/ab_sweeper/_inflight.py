"""Runs that may still be going: after `launch()` raised (submitit and Ray raise at the first dead job and
leave the rest running or queued), or on a rerun after a sweeper was killed (its joblib or SLURM workers may
still be finishing). Relaunching them now would run them twice, so the sweeper first waits until each has
ended, saying what it waits for, and for at most `limit` seconds: after that the run counts as lost and is
launched again. The sweeper never waits for itself: a record holding its own pid (a run under the basic launcher
that could not write how it ended) or a previous sweeper's is a run that is over."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra_plugins.ab_sweeper._progress import STATUS_LOGGER
from metta_ab.records.ledger import RUNNING, ran_in_sweeper_process, read_status
from metta_ab.records.process import is_alive

log = logging.getLogger(STATUS_LOGGER)
REPORT_EVERY = 30.0  # seconds between "still waiting" lines


def _slurm_jobs_alive(job_ids: set[str]) -> set[str]:
    """The SLURM jobs among `job_ids` that SLURM still has (running or queued), by asking squeue."""
    if not job_ids or shutil.which("squeue") is None:
        return set()
    result = subprocess.run(
        ["squeue", "-h", "-o", "%i", "-j", ",".join(sorted(job_ids))], capture_output=True, text=True, check=False
    )
    return {line.split("_")[0] for line in result.stdout.split()}


def _slurm_id(status: dict[str, Any]) -> str | None:
    job = status.get("slurm_array_job_id") or status.get("slurm_job_id")
    return str(job) if job else None


def _ours(status: dict[str, Any], host: str) -> bool:
    """Whether the run ran in this process, or in the process of an earlier sweeper (the basic launcher): this
    sweep holds the experiment's lock, so that sweeper has ended, and with it the run, even if the SLURM job
    both ran in (this one, requeued) is alive."""
    return (status.get("host"), status.get("pid")) == (host, os.getpid()) or ran_in_sweeper_process(status)


def _still_running(statuses: dict[Path, dict[str, Any] | None], host: str) -> dict[Path, str]:
    """Job dir -> what it waits on, for the runs whose record says running and whose process or SLURM job
    still exists (a pid is checked with its start time, so a reused pid does not count), and ran in no
    sweeper's process (this one runs no job while it waits here)."""
    running = {d: s for d, s in statuses.items() if s is not None and s.get("status") == RUNNING and not _ours(s, host)}
    slurm_alive = _slurm_jobs_alive({j for s in running.values() if (j := _slurm_id(s))})
    waiting = {}
    for job_dir, status in running.items():
        slurm = _slurm_id(status)
        if slurm is not None and slurm in slurm_alive:
            waiting[job_dir] = f"SLURM job {slurm}"
        elif (
            status.get("host") == host
            and isinstance(status.get("pid"), int)
            and is_alive(status["pid"], status.get("pid_started"))
        ):
            waiting[job_dir] = f"pid {status['pid']}"
    return waiting


def _stop_ray() -> None:
    """Ray tasks not yet started would start later, beside their relaunch: end this Ray session."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def wait_for_runs_to_end(job_dirs: Sequence[Path], interval: float, limit: float) -> None:
    """Wait until no run of `job_dirs` is still going, or `limit` seconds (then the caller relaunches them)."""
    host = socket.gethostname()
    started = time.monotonic()
    reported = None
    while True:
        waiting = _still_running({d: read_status(d) for d in job_dirs}, host)
        elapsed = time.monotonic() - started
        if not waiting:
            break
        if elapsed >= limit:
            log.warning(
                "[ab] gave up waiting after %.0f s (ab.settle_timeout) for %d run(s) that still look alive; "
                "they count as lost and are launched again: %s",
                elapsed,
                len(waiting),
                ", ".join(d.name for d in waiting),
            )
            _stop_ray()
            return
        if reported is None or time.monotonic() - reported >= REPORT_EVERY:
            shown = ", ".join(f"{d.name} ({why})" for d, why in list(waiting.items())[:5])
            more = f" and {len(waiting) - 5} more" if len(waiting) > 5 else ""
            log.info(
                "[ab] waiting for %d run(s) still going from before, so none runs twice: %s%s "
                "(at most %.0f s more, ab.settle_timeout)",
                len(waiting),
                shown,
                more,
                limit - elapsed,
            )
            reported = time.monotonic()
        time.sleep(max(interval, 0.2))
    _stop_ray()
