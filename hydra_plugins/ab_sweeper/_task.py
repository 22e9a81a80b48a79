"""The task wrapper every launcher runs: the app's task, plus a status record in the job directory.

Launchers lose return values on hard crashes and some report caught exceptions as success; the record
the job writes itself (running -> completed/failed) is what the sweeper trusts. The wrapper returns
only JSON-safe data, so an unpicklable return value cannot crash the launcher.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import TaskFunction
from omegaconf import DictConfig, OmegaConf

from metta_ab.ledger import (
    COMPLETED,
    FAILED,
    RUNNING,
    attempts_made,
    json_safe,
    write_status,
    write_text_atomic,
)

log = logging.getLogger(__name__)


class RecordingTask:
    """Picklable callable: launchers ship it to worker processes (joblib, submitit, ray)."""

    def __init__(self, task_function: TaskFunction, seed_key: str | None, timeout: float | None = None) -> None:
        self.task_function = task_function
        self.seed_key = seed_key
        self.timeout = timeout

    def __call__(self, cfg: DictConfig) -> Any:
        job_dir = Path(HydraConfig.get().runtime.output_dir)
        record: dict[str, Any] = {
            "status": RUNNING,
            "attempt": attempts_made(job_dir) + 1,
            "seed": OmegaConf.select(cfg, self.seed_key) if self.seed_key else None,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "slurm_array_job_id": os.environ.get("SLURM_ARRAY_JOB_ID"),
            "started_at": time.time(),
        }
        write_status(job_dir, record)
        _save_config(cfg, job_dir / "config.yaml")
        start = time.perf_counter()
        try:
            with _time_limit(self.timeout):
                result = self.task_function(cfg)
        except BaseException as error:
            record.update(
                status=FAILED,
                duration=time.perf_counter() - start,
                finished_at=time.time(),
                error=f"{type(error).__name__}: {error}",
                traceback=traceback.format_exc(),
            )
            write_status(job_dir, record)
            # Hydra 1.3 keeps the traceback out of the job log (hydra#2284): put it there.
            log.error("Run failed:\n%s", record["traceback"])
            if not isinstance(error, Exception):
                raise  # Ctrl-C and exits stop the sweep as usual
            # The launcher ships the exception back to the sweeper: an unpicklable one would take the whole
            # batch down with it (joblib, submitit), so send a plain copy; the original is in the record and log.
            raise RunFailed(record["error"]) from None
        safe = json_safe(result)
        record.update(status=COMPLETED, duration=time.perf_counter() - start, finished_at=time.time())
        record["return_value"] = safe
        write_status(job_dir, record)
        return safe


class RunFailed(Exception):
    """A run raised; its error text (the original exception, traceback and all, is in the status record)."""


class RunTimeout(Exception):
    """The run exceeded ab.run_timeout."""


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise RunTimeout in the task after `seconds` (SIGALRM: jobs run in their process's main thread on the
    basic, joblib, submitit and ray launchers; elsewhere the limit is not enforced)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise RunTimeout(f"the run exceeded ab.run_timeout={seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _save_config(cfg: DictConfig, path: Path) -> None:
    """The job's composed config, resolved where it can be (`${hydra:...}` works inside the job)."""
    try:
        text = OmegaConf.to_yaml(cfg, resolve=True)
    except Exception:
        text = OmegaConf.to_yaml(cfg)
    write_text_atomic(path, text)
