"""The ab_local launch: every job in a fresh process of its own, in the next free slot, until all have ended
(and those a caller's `on_end` queues as jobs end: retries without a round barrier).

Each job's process is started with the slot's CUDA_VISIBLE_DEVICES (before anything in it can import CUDA), pinned
to the slot's cores, as the leader of its own process group, its stdout and stderr appended to `<job dir>/<job
name>.out`. When its leader ends, what is left of its group is ended too; on the run timeout the whole group is
(SIGTERM, then SIGKILL after `stop_grace`); on Ctrl-C or SIGTERM of the launcher's process every group is (SIGINT or
SIGTERM, then SIGKILL), and the interrupt goes on to the sweeper. A job whose process died without a result
(os._exit, a segfault, SIGKILL) is a failed JobReturn that says how it ended: it costs its own run only.
"""

from __future__ import annotations

import collections
import copy
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from hydra_plugins.ab_launcher._job import JobFile, read_result, started_file, write_job, write_shared
from hydra_plugins.ab_launcher._placement import Placement

if TYPE_CHECKING:
    from hydra_plugins.ab_launcher.ab_local_launcher import ABLocalLauncher

log = logging.getLogger(__name__)

POLL = 0.02  # seconds between looks at the running jobs
OnEnd = Callable[[int, JobReturn], Sequence[str] | None]  # (hydra.job.num, its JobReturn) -> overrides to queue
WORKER = "from hydra_plugins.ab_launcher._worker import main; main()"


class JobProcessDied(Exception):
    """The job's process ended without sending back a result."""


@dataclass
class Job:
    position: int  # in the launch's list
    idx: int  # hydra.job.num
    config: DictConfig  # composed, hydra.job.id/num set
    job_dir: Path
    output: Path  # the process's stdout and stderr


@dataclass
class Running:
    job: Job
    slot: int
    process: subprocess.Popen[bytes]
    watch: int  # write end of the pipe whose end of file tells the job its launcher is gone
    stop_at: float | None = None  # monotonic time the run timeout ends the group, once the job has started
    timed_out: bool = False


def _job_dir(config: DictConfig) -> Path:
    """The job's directory as `run_job` will make it (the subdir may interpolate `${hydra:...}`)."""
    hydra_config = HydraConfig.instance()
    previous = hydra_config.cfg
    hydra_config.set_config(config)
    try:
        sweep_dir = str(OmegaConf.select(config, "hydra.sweep.dir"))
        return Path(os.path.abspath(os.path.join(sweep_dir, str(OmegaConf.select(config, "hydra.sweep.subdir")))))
    finally:
        hydra_config.cfg = previous


def _compose(launcher: ABLocalLauncher, position: int, idx: int, overrides: Sequence[str]) -> Job:
    """Composes the job here, when it starts, as Hydra's basic launcher does (a config error stops the launch);
    composing costs tens of milliseconds a job, spent while earlier jobs run."""
    assert launcher.hydra_context is not None and launcher.config is not None
    config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
    with open_dict(config):
        config.hydra.job.id = f"{config.hydra.job.name}_{idx}"
        config.hydra.job.num = idx
    job_dir = _job_dir(config)
    return Job(position, idx, config, job_dir, job_dir / f"{config.hydra.job.name}.out")


def _failed_return(job: Job, error: Exception) -> JobReturn:
    """A JobReturn for a job whose process sent none, shaped as `run_job`'s (Hydra's sweepers read overrides)."""
    task_cfg = copy.deepcopy(job.config)
    with read_write(task_cfg), open_dict(task_cfg):
        del task_cfg["hydra"]
    return JobReturn(
        overrides=list(OmegaConf.to_container(job.config.hydra.overrides.task)),  # type: ignore[arg-type]
        cfg=task_cfg,
        hydra_cfg=job.config,
        task_name=str(job.config.hydra.job.name),
        status=JobStatus.FAILED,
        _return_value=error,
    )


def _how_it_ended(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _signal_group(pgid: int, signum: int) -> bool:
    """Sends `signum` to the process group; False when no process of it is left."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:  # macOS: a group of zombies only
        return False
    return True


@dataclass
class Pool:
    """The slots of one launch and the processes in them."""

    placement: Placement
    compose: Callable[[int, Sequence[str]], Job]  # (position in the launch, overrides) -> the job
    shared: Path
    scratch: Path
    run_timeout: float | None
    start_interval: float
    stop_grace: float
    running: dict[int, Running] = field(default_factory=dict)  # by pid (= the job's process group)
    lingering: dict[int, float] = field(default_factory=dict)  # groups whose leader ended -> when to SIGKILL them
    stop_signal: int = signal.SIGINT  # what Ctrl-C or SIGTERM of this process forwards to the jobs

    def run(self, job_overrides: Sequence[Sequence[str]], on_end: OnEnd | None = None) -> list[JobReturn]:
        """Every job's JobReturn, in the order queued: the jobs of `job_overrides`, then those `on_end` queued."""
        queued = list(job_overrides)
        queue = collections.deque(enumerate(queued))
        free = collections.deque(range(len(self.placement.slots)))
        results: dict[int, JobReturn] = {}
        # retries whose earlier attempt left processes that are still ending (by that attempt's process group):
        # the same job directory never holds two attempts' processes at once
        waiting: list[tuple[int, Sequence[str]]] = []
        next_start = 0.0
        try:
            while queue or self.running or waiting:
                for job, slot, group in self._reap(results):
                    free.append(slot)
                    again = on_end(job.idx, results[job.position]) if on_end is not None else None
                    if again is not None:
                        waiting.append((group, again))
                for group, again in [w for w in waiting if w[0] not in self.lingering]:
                    waiting.remove((group, again))
                    queue.append((len(queued), again))
                    queued.append(again)
                now = time.monotonic()
                self._enforce_timeouts(now)
                while queue and free and now >= next_start:
                    self._start(self.compose(*queue.popleft()), free.popleft())
                    next_start = now + self.start_interval
                self._kill_lingering(now)
                time.sleep(POLL)
        except BaseException:
            self._stop_all()
            raise
        finally:
            self._drain_lingering()
        return [results[position] for position in range(len(queued))]

    def _start(self, job: Job, slot_index: int) -> None:
        slot = self.placement.slots[slot_index]
        job_file, result = self.scratch / f"job-{job.position}.pkl", self.scratch / f"result-{job.position}.pkl"
        write_job(job_file, JobFile(job.idx, job.config, result))
        command = [
            sys.executable,
            *subprocess._args_from_interpreter_flags(),  # type: ignore[attr-defined]  # -W, -X: as multiprocessing
            "-c",
            WORKER,
        ]
        cpus = ",".join(map(str, slot.cpus))
        job.job_dir.mkdir(parents=True, exist_ok=True)
        read_end, write_end = os.pipe()
        try:
            with open(job.output, "ab") as output:
                process = subprocess.Popen(
                    [*command, str(self.shared), str(job_file), str(read_end), f"{self.stop_grace:g}", cpus],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    pass_fds=(read_end,),
                    process_group=0,
                    env={**os.environ, **self.placement.environment(slot)},
                )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self.running[process.pid] = Running(job, slot_index, process, write_end)
        gpus = f" on GPU {','.join(slot.gpus)}" if slot.gpus else ""
        log.debug("job #%d started%s: pid %d, output in %s", job.idx, gpus, process.pid, job.output)

    def _reap(self, results: dict[int, JobReturn]) -> list[tuple[Job, int, int]]:
        """The JobReturns of the jobs whose process ended; returns those jobs, their slots (free again) and
        their process groups (in `lingering` while what they left behind is ending)."""
        freed = []
        for pid, run in list(self.running.items()):
            returncode = run.process.poll()
            if returncode is None:
                continue
            del self.running[pid]
            os.close(run.watch)
            if _signal_group(pid, signal.SIGTERM):  # what the job left behind
                self.lingering[pid] = time.monotonic() + self.stop_grace
            results[run.job.position] = self._job_return(run, returncode)
            freed.append((run.job, run.slot, pid))
        return freed

    def _job_return(self, run: Running, returncode: int) -> JobReturn:
        job = run.job
        result = read_result(self.scratch / f"result-{job.position}.pkl")
        if result is not None:
            return result
        timeout = f" after exceeding the run timeout ({self.run_timeout:g} s)" if run.timed_out else ""
        message = (
            f"job #{job.idx} ({job.job_dir}): its process {_how_it_ended(returncode)}{timeout} before the job "
            f"returned; its output is in {job.output}"
        )
        log.warning("%s", message)
        return _failed_return(job, JobProcessDied(message))

    def _enforce_timeouts(self, now: float) -> None:
        """The run timeout counts from the job's start (its process's start-up, the app's imports, is not the
        run's); the task's own timeout (the ab sweeper's) gets stop_grace to end it first."""
        if not self.run_timeout:
            return
        for pid, run in self.running.items():
            if run.stop_at is None and started_file(self.scratch / f"result-{run.job.position}.pkl").exists():
                run.stop_at = now + self.run_timeout + self.stop_grace
            if run.stop_at is not None and now >= run.stop_at and not run.timed_out:
                run.timed_out = True
                log.warning("job #%d exceeded the run timeout: ending its processes", run.job.idx)
                _signal_group(pid, signal.SIGTERM)
                self.lingering[pid] = now + self.stop_grace

    def _kill_lingering(self, now: float) -> None:
        """SIGKILL the groups past their grace; forget those with no process left."""
        for pgid, kill_at in list(self.lingering.items()):
            if now >= kill_at:
                _signal_group(pgid, signal.SIGKILL)
                del self.lingering[pgid]
            elif not _signal_group(pgid, 0):
                del self.lingering[pgid]

    def _drain_lingering(self) -> None:
        """The launch ends only when no process of its jobs is left (at once on Ctrl-C)."""
        try:
            while self.lingering:
                self._kill_lingering(time.monotonic())
                time.sleep(POLL)
        except KeyboardInterrupt:
            self._kill_lingering(float("inf"))
            raise

    def _stop_all(self) -> None:
        """Ctrl-C or SIGTERM: every job's group gets the signal, then SIGKILL after stop_grace (at once on a
        second Ctrl-C); every job process is waited for, so none is left behind."""
        for pid in self.running:
            _signal_group(pid, self.stop_signal)
        if self.running:
            log.info("stopping %d running job(s) (Ctrl-C again to kill them at once)", len(self.running))
        deadline = time.monotonic() + self.stop_grace
        try:
            while time.monotonic() < deadline and any(r.process.poll() is None for r in self.running.values()):
                time.sleep(POLL)
        except KeyboardInterrupt:
            pass
        for pid, run in self.running.items():
            _signal_group(pid, signal.SIGKILL)
            run.process.wait()
            os.close(run.watch)
        for pgid in self.lingering:
            _signal_group(pgid, signal.SIGKILL)
        self.running.clear()
        self.lingering.clear()


@contextmanager
def _sigterm_as_interrupt(pool: Pool) -> Iterator[None]:
    """SIGTERM of this process stops the launch as Ctrl-C does, forwarding SIGTERM to the jobs, where nobody
    else handles it (the ab sweeper turns it into Ctrl-C itself; an inherited SIG_IGN is kept)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        pool.stop_signal = signal.SIGTERM
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def launch(
    launcher: ABLocalLauncher,
    job_overrides: Sequence[Sequence[str]],
    initial_job_idx: int,
    on_end: OnEnd | None = None,
) -> list[JobReturn]:
    setup_globals()
    assert launcher.config is not None and launcher.hydra_context is not None and launcher.task_function is not None
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    placement: Placement = launcher.placement
    log.info("ab_local is launching %d job(s): %s", len(job_overrides), placement.describe())
    log.info("Launching jobs, sweep output dir : %s", sweep_dir)
    for position, overrides in enumerate(job_overrides):
        log.info("\t#%d : %s", initial_job_idx + position, " ".join(filter_overrides(overrides)))

    def compose(position: int, overrides: Sequence[str]) -> Job:
        return _compose(launcher, position, initial_job_idx + position, overrides)

    with tempfile.TemporaryDirectory(prefix="ab_local-") as scratch:
        shared = Path(scratch) / "shared.pkl"
        write_shared(shared, list(sys.path), launcher.hydra_context, launcher.task_function)
        pool = Pool(
            placement,
            compose,
            shared,
            Path(scratch),
            run_timeout=launcher.run_timeout,
            start_interval=launcher.start_interval,
            stop_grace=launcher.stop_grace,
        )
        with _sigterm_as_interrupt(pool):
            return pool.run(job_overrides, on_end)
