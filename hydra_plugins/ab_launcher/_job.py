"""What travels between the launcher and a job's process, both ways, and the job's side of it.

Launcher -> job: one SHARED file per launch (sys.path first, in plain pickle, then Hydra's singletons with
OmegaConf's resolvers, the Hydra context and the task function) and one JOB file per job (its composed config, where
its result goes). cloudpickle sends what lives in the app's `__main__` by value (the task function, a config
dataclass, a resolver registered at the app's top level), which the job's process could not import by name.
Job -> launcher: the JobReturn of `run_job`, written atomically to the result file; a value that cannot be
pickled turns into a failed JobReturn that says so, never into a lost job.
"""

from __future__ import annotations

import io
import marshal
import os
import pickle
import traceback
import types
from collections import ChainMap
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import cloudpickle
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class JobResultError(Exception):
    """The job's return value or exception could not be sent back to the launcher (it cannot be pickled)."""


def _code_by_marshal(code: types.CodeType) -> tuple[object, tuple[bytes]]:
    return marshal.loads, (marshal.dumps(code),)


class _Pickler(cloudpickle.Pickler):
    """cloudpickle, except that code objects keep their file name (cloudpickle 3 writes "<dynamic-code>"), so a
    traceback through the app's task names its script and line. marshal is exact, and both ends run the same
    interpreter (sys.executable)."""

    dispatch_table = ChainMap({types.CodeType: _code_by_marshal}, cloudpickle.Pickler.dispatch_table)


def _dump(value: object, out: IO[bytes]) -> None:
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(value)


def _dumps(value: object) -> bytes:
    buffer = io.BytesIO()
    _dump(value, buffer)
    return buffer.getvalue()


@dataclass
class JobFile:
    idx: int
    config: DictConfig  # composed by the launcher, hydra.job.id/num set
    result: Path


def write_shared(path: Path, sys_path: list[str], hydra_context: HydraContext, task_function: TaskFunction) -> None:
    with open(path, "wb") as out:
        pickle.dump(sys_path, out)
        _dump(Singleton.get_state(), out)  # OmegaConf's resolvers too
        _dump((hydra_context, task_function), out)


def write_job(path: Path, job: JobFile) -> None:
    path.write_bytes(_dumps(job))


def run(shared: IO[bytes], job_file: str) -> None:
    """In the job's process: set up Hydra's state as the launcher had it, run the job, write its JobReturn."""
    setup_globals()
    Singleton.set_state(pickle.load(shared))
    hydra_context, task_function = pickle.load(shared)
    with open(job_file, "rb") as stream:
        job: JobFile = pickle.load(stream)
    HydraConfig.instance().set_config(job.config)
    started_file(job.result).touch()
    result = run_job(
        hydra_context=hydra_context,
        task_function=task_function,
        config=job.config,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    _write_result(job.result, result)


def _write_result(path: Path, result: JobReturn) -> None:
    try:
        data = _dumps(result)
    except Exception as error:
        what = "return value" if result.status == JobStatus.COMPLETED else "exception"
        original = result._return_value
        text = "".join(traceback.format_exception(original)) if isinstance(original, BaseException) else ""
        result.status = JobStatus.FAILED
        result._return_value = JobResultError(
            f"the job's {what} ({type(original).__name__}) cannot be pickled to send it back to the launcher: "
            f"{type(error).__name__}: {error}" + (f"\n{text}" if text else "")
        )
        data = _dumps(result)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def started_file(result: Path) -> Path:
    """Exists once the job's process is set up and the job starts (the launcher's run timeout counts from then)."""
    return result.with_name(result.name + ".started")


def read_result(path: Path) -> JobReturn | None:
    """The job's JobReturn, or None when its process ended without writing one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return pickle.loads(data)
