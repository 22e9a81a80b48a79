"""The task wrapper every launcher runs: the app's task, plus a status record in the job directory.

Launchers lose return values on hard crashes and some report caught exceptions as success; the record
the job writes itself (running -> completed/failed) is what the sweeper trusts. What goes back through
the launcher is what BasicSweeper's callbacks would see (the task's own return value and exception),
unless it cannot travel between processes: then a plain copy goes back, so that one run's unpicklable
value cannot crash the launcher and the rest of its batch.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import signal
import socket
import sys
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

from hydra_plugins.ab_sweeper._process import start_time
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

    def __init__(self, task_function: TaskFunction, timeout: float | None = None) -> None:
        self.task_function = task_function
        self.timeout = timeout
        # Set by the sweep once it knows where this app takes injected values (AppConfig.resolve_injection):
        self.seed_key: str | None = None  # the key the seed went to, recorded in the status
        self.wandb_env = False  # whether W&B's variables are set for the job (then wandb is reset first)

    def __call__(self, cfg: DictConfig) -> Any:
        job_dir = Path(HydraConfig.get().runtime.output_dir)
        record: dict[str, Any] = {
            "status": RUNNING,
            "attempt": attempts_made(job_dir) + 1,
            "seed": OmegaConf.select(cfg, self.seed_key) if self.seed_key else None,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "pid_started": start_time(os.getpid()),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "slurm_array_job_id": os.environ.get("SLURM_ARRAY_JOB_ID"),
            "log_files": _log_files(),
            "started_at": time.time(),
        }
        write_status(job_dir, record)
        _save_config(cfg, job_dir / "config.yaml")
        if self.wandb_env:
            _forget_wandb_setup()
        start = time.perf_counter()
        try:
            with _time_limit(self.timeout):
                result = self.task_function(cfg)
        except BaseException as error:
            text = f"the run exceeded ab.run_timeout={self.timeout:g}s" if isinstance(error, RunTimeout) else error
            record.update(
                status=FAILED,
                duration=time.perf_counter() - start,
                finished_at=time.time(),
                error=f"{type(error).__name__}: {text}",
                traceback=traceback.format_exc(),
            )
            write_status(job_dir, record)
            # Hydra 1.3 keeps the traceback out of the job log (hydra#2284): put it there.
            log.error("Run failed:\n%s", record["traceback"])
            if not isinstance(error, Exception) or _travels(error):
                raise  # Ctrl-C and exits stop the sweep as usual; callbacks see the job's own exception
            raise RunFailed(record["error"]) from None
        record.update(status=COMPLETED, duration=time.perf_counter() - start, finished_at=time.time())
        record["return_value"] = json_safe(result)
        write_status(job_dir, record)
        return result if _travels(result) else record["return_value"]


class RunFailed(Exception):
    """A run raised an exception that cannot travel back to the sweeper; its text (the original, traceback
    and all, is in the status record and the job log)."""


class RunTimeout(Exception):
    """The run exceeded ab.run_timeout."""


def _forget_wandb_setup() -> None:
    """wandb reads its WANDB_* variables once per process, when first set up: in a worker that runs job after
    job (joblib, Ray), a bare `wandb.init()` would take the first job's name, tags and directory for every
    later job. Tearing wandb's process state down before each job makes it read this job's variables."""
    wandb = sys.modules.get("wandb")
    teardown = getattr(wandb, "teardown", None)
    if callable(teardown):
        try:
            teardown()
        except Exception as error:  # never fail a run over W&B bookkeeping
            log.warning("wandb.teardown() raised %s: %s", type(error).__name__, error)


def _travels(value: Any) -> bool:
    """Whether `value` survives the pickling a launcher does between processes."""
    try:
        pickle.loads(pickle.dumps(value))
    except Exception:
        return False
    return True


def _log_files() -> list[str]:
    """The job's log files, wherever `hydra/job_logging` put them (Hydra configures logging before the task)."""
    handlers = logging.getLogger().handlers
    return [h.baseFilename for h in handlers if isinstance(h, logging.FileHandler)]


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise RunTimeout in the task after `seconds`, from a watchdog thread: no timer of the process is used,
    so the app's own `signal.alarm` stays its own. Where SIGALRM has no handler of the app's, the watchdog
    signals the main thread with it (the handler installed here raises, which also wakes a task blocked in a
    system call); if the app has a handler, or installs one meanwhile, it is left alone and the exception is
    set on the task's thread instead, delivered at its next bytecode (a run blocked inside one long C call is
    stopped when that call returns)."""
    if not seconds:
        yield
        return
    target = threading.get_ident()
    lock, finished = threading.Lock(), threading.Event()

    def wake(signum: int, frame: Any) -> None:
        raise RunTimeout

    wakes = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGALRM) in (
        signal.SIG_DFL,
        None,
    )
    if wakes:
        signal.signal(signal.SIGALRM, wake)

    def expire() -> None:
        if finished.wait(seconds):
            return
        with lock:
            if finished.is_set():
                return
            if wakes and signal.getsignal(signal.SIGALRM) is wake:
                signal.pthread_kill(target, signal.SIGALRM)  # its handler raises, waking a blocked call too
            else:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(RunTimeout))

    watchdog = threading.Thread(target=expire, name="ab-run-timeout", daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        with lock:
            finished.set()
        watchdog.join()
        if wakes and signal.getsignal(signal.SIGALRM) is wake:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)


def _save_config(cfg: DictConfig, path: Path) -> None:
    """The job's composed config, resolved where it can be (`${hydra:...}` works inside the job)."""
    try:
        text = OmegaConf.to_yaml(cfg, resolve=True)
    except Exception:
        text = OmegaConf.to_yaml(cfg)
    write_text_atomic(path, text)
