"""The task wrapper every launcher runs: the app's task, plus a status record in the job directory.

Launchers lose return values on hard crashes and some report caught exceptions as success; the record
the job writes itself (running -> completed/failed) is what the sweeper trusts. What goes back through
the launcher is what BasicSweeper's callbacks would see (the task's own return value and exception),
unless it cannot travel between processes: then a plain copy goes back, so that one run's unpicklable
value cannot crash the launcher and the rest of its batch. A run's `sys.exit()` ends that run, never the
sweep (under the basic launcher the run shares the sweeper's process): code 0 or None is a completed run,
any other code a failed one. A failure that no retry can pass records why, in `not_retried`.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import re
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
from hydra.errors import ConfigCompositionException
from hydra.types import TaskFunction
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, ValidationError

from hydra_plugins.ab_launcher._placement import parse_cuda_visible_devices
from metta_ab.atomic_files import write_text_atomic
from metta_ab.records.ledger import (
    ATTEMPTS_DIR,
    COMPLETED,
    FAILED,
    RUNNING,
    attempts_made,
    json_safe,
    read_status,
    write_status,
)
from metta_ab.records.process import is_alive, start_time

log = logging.getLogger(__name__)
_PICKLING = re.compile(r"Can't pickle|Can't get attribute .* on <module '__main__'")


class RecordingTask:
    """Picklable callable: launchers ship it to worker processes (joblib, submitit, ray)."""

    def __init__(self, task_function: TaskFunction, timeout: float | None = None) -> None:
        self.task_function = task_function
        self.timeout = timeout
        # Set by the sweep once it knows where this app takes injected values (AppConfig.resolve_injection):
        self.seed_key: str | None = None  # the key the seed went to, recorded in the status
        self.wandb_env = False  # whether W&B's variables are set for the job (then wandb is reset first)
        # The sweeper's process: a run recorded with this pid ran inside it (basic launcher), so a run left
        # `running` by an earlier sweep that ended is known to have ended with that sweeper's process.
        self.sweeper_pid = os.getpid()
        self.sweeper_pid_started = start_time(self.sweeper_pid)
        # Where the sweeper runs: a job process there with its SLURM job (or none) is a worker it started
        # (joblib, submitit local, Ray on this machine), which ends with it; a SLURM job of its own does not.
        self.sweeper_place = (socket.gethostname(), os.environ.get("SLURM_JOB_ID"))

    def __call__(self, cfg: DictConfig) -> Any:
        if (
            os.getpid() != self.sweeper_pid
            and (socket.gethostname(), os.environ.get("SLURM_JOB_ID")) == self.sweeper_place
        ):
            _end_with_the_sweeper(self.sweeper_pid, self.sweeper_pid_started)
        job_dir = Path(HydraConfig.get().runtime.output_dir)
        record: dict[str, Any] = {
            "status": RUNNING,
            "attempt": attempts_made(job_dir) + 1,
            "seed": OmegaConf.select(cfg, self.seed_key) if self.seed_key else None,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "pid_started": start_time(os.getpid()),
            "sweeper_pid": self.sweeper_pid,
            "sweeper_pid_started": self.sweeper_pid_started,
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "slurm_array_job_id": os.environ.get("SLURM_ARRAY_JOB_ID"),
            "devices": _devices(),
            "log_files": _log_files(),
            "started_at": time.time(),
        }
        write_status(job_dir, record)
        _save_config(cfg, job_dir / "config.yaml")
        if self.wandb_env:
            _forget_wandb_setup()
        start = time.perf_counter()
        failed = True
        try:
            with _time_limit(self.timeout):
                result = self.task_function(cfg)
            failed = False
        except SystemExit as error:
            failed = error.code not in (0, None)
            if failed:
                self._record_failure(record, job_dir, error, start)
                raise RunFailed(record["error"]) from None
            result = None  # sys.exit(0): the run stopped early and cleanly; its files say how far it got
        except BaseException as error:
            self._record_failure(record, job_dir, error, start)
            if not isinstance(error, Exception) or _travels(error):
                raise  # Ctrl-C stops the sweep as usual; callbacks see the job's own exception
            raise RunFailed(record["error"]) from None
        finally:
            _finish_open_wandb_run(failed)
        record.update(status=COMPLETED, duration=time.perf_counter() - start, finished_at=time.time())
        record["return_value"] = json_safe(result)
        write_status(job_dir, record)
        return result if _travels(result) else record["return_value"]

    def _record_failure(self, record: dict[str, Any], job_dir: Path, error: BaseException, start: float) -> None:
        """The failed attempt's status record, with why it is not retried when a retry cannot help."""
        if isinstance(error, RunTimeout):
            text = f"the run exceeded ab.run_timeout={self.timeout:g}s"
        elif isinstance(error, SystemExit):
            text = f"the run called sys.exit({error.code!r})"
        else:
            text = str(error)
        record.update(
            status=FAILED,
            duration=time.perf_counter() - start,
            finished_at=time.time(),
            error=f"{type(error).__name__}: {text}",
            traceback=traceback.format_exc(),
        )
        not_retried = no_retry_helps(error)
        if not_retried is None and not isinstance(error, RunTimeout | KeyboardInterrupt):
            not_retried = _same_as_previous_attempt(job_dir, record["error"])
        if not_retried:
            record["not_retried"] = not_retried
        write_status(job_dir, record)
        # Hydra 1.3 keeps the traceback out of the job log (hydra#2284): put it there.
        log.error("Run failed:\n%s", record["traceback"])


def no_retry_helps(error: BaseException) -> str | None:
    """Why no retry can pass where `error` failed (with the fix where known), or None when one may.

    Each of these depends only on what every attempt of a run shares -- its code, its environment, its config --
    so a retry fails the same way (on a cluster, after another queue wait):
    - ImportError (ModuleNotFoundError too): the module is missing or broken in this environment.
    - pickling errors: the same value cannot be pickled at the next attempt either; a class or function defined in
      the app's `__main__` cannot be found by name in another process (PicklingError, "Can't pickle ...",
      "Can't get attribute ... on <module '__main__'").
    - Hydra config composition errors, OmegaConf validation and type errors, missing mandatory values (`???`):
      the composed config is the same at every attempt.
    Timeouts, killed processes and other exceptions may pass on a retry (load, memory, a flaky file system),
    and are retried; one that repeats its previous attempt's error exactly is not retried again.
    """
    if isinstance(error, ImportError):
        return "an import error fails the same at every attempt: install the module or fix the import"
    if isinstance(error, pickle.PicklingError) or _PICKLING.search(str(error)):
        return (
            "a value cannot be pickled for the launcher (a class defined in the app's __main__ cannot be): "
            "move it into a module, or use the basic launcher"
        )
    if isinstance(error, ConfigCompositionException | ValidationError | MissingMandatoryValue):
        return "a config error fails the same at every attempt: fix the value it names"
    return None


def _same_as_previous_attempt(job_dir: Path, error: str) -> str | None:
    """Why not to retry when the previous attempt (moved aside) failed with exactly `error`."""
    previous = attempts_made(job_dir)
    status = read_status(job_dir / ATTEMPTS_DIR / str(previous)) if previous else None
    if status is None or status.get("status") != FAILED or status.get("error") != error:
        return None
    return f"attempt {previous + 1} failed with the same error as attempt {previous}"


WATCHDOG = "ab-end-with-the-sweeper"
GRACE = 20.0  # seconds the run has to end on SIGTERM once the sweeper is gone


def _end_with_the_sweeper(pid: int, started: int | None) -> None:
    """End this worker process soon after the sweeper (`pid`, started at `started`) is gone. A sweeper killed
    outright (SIGKILL, OOM) leaves its joblib workers behind: idle ones wait for work that never comes, busy ones
    keep running a run whose sweep is over. A thread polls the sweeper; once it is gone, the run gets SIGTERM
    (its own handlers may save what they can), then the process ends. A rerun relaunches the run."""
    if any(thread.name == WATCHDOG for thread in threading.enumerate()):
        return

    def watch() -> None:
        while is_alive(pid, started):
            time.sleep(2.0)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(GRACE)
        os._exit(1)

    threading.Thread(target=watch, name=WATCHDOG, daemon=True).start()


class RunFailed(Exception):
    """A run raised an exception that cannot travel back to the sweeper, or called sys.exit() with a failure
    code; its text (the original, traceback and all, is in the status record and the job log)."""


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


def _finish_open_wandb_run(failed: bool) -> None:
    """Finish the W&B run a task left open (as TorchRL's WandbLogger does: wandb's exit hook finishes it), as
    the end of the app's own process would: the job's process outlives the job (the sweeper's under the basic
    launcher, a joblib worker), and until the run is finished its offline log is not all written, so the
    sweep's analysis would miss the run's last numbers, or all of them."""
    wandb = sys.modules.get("wandb")
    if getattr(wandb, "run", None) is None:
        return
    try:
        wandb.finish(exit_code=1 if failed else 0)
    except Exception as error:  # never fail a run over W&B bookkeeping
        log.warning("wandb.finish() raised %s: %s", type(error).__name__, error)


def _travels(value: Any) -> bool:
    """Whether `value` survives the pickling a launcher does between processes."""
    try:
        pickle.loads(pickle.dumps(value))
    except Exception:
        return False
    return True


def _devices() -> list[str] | None:
    """The GPUs the job may use (CUDA_VISIBLE_DEVICES, as ab_local sets it per job), or None when unset (all)."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    return None if value is None else list(parse_cuda_visible_devices(value))


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
