"""The `ab_local` launcher plugin: a thin adapter; the work is in `_core.py`.

Hydra imports this module at every app start, so it imports nothing heavy. Every job runs in a fresh process
of its own (its own process group), on the GPUs and cores of a free slot (`_placement.py`).

Beyond Hydra's Launcher contract, two optional methods a sweeper may look for (the ab sweeper does):
- `set_run_timeout(seconds)`: the time limit per run, enforced on the job's whole process group.
- `launch_queue(job_overrides, initial_job_idx, on_end)`: `launch` without a round barrier. As each job ends,
  `on_end(idx, job_return)` is called in the caller's thread (idx: the job's hydra.job.num); it returns the
  overrides of a job to queue (a retry), which starts in the next free slot, or None. The i-th job queued, the
  initial ones first, gets hydra.job.num `initial_job_idx + i`. Returns every job's JobReturn in that order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class ABLocalLauncher(Launcher):
    def __init__(
        self,
        devices: Any = "auto",
        gpus_per_job: float | None = None,
        n_jobs: int | None = None,
        cpus_per_job: int | None = None,
        start_interval: float = 0.0,
        stop_grace: float = 10.0,
    ) -> None:
        self.settings = {
            "devices": devices,
            "gpus_per_job": gpus_per_job,
            "n_jobs": n_jobs,
            "cpus_per_job": cpus_per_job,
        }
        self.start_interval = start_interval
        self.stop_grace = stop_grace
        self.run_timeout: float | None = None
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None
        self.placement: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Checks the settings against this machine (its GPUs, its cores) before the sweeper launches anything."""
        from hydra_plugins.ab_launcher._placement import LauncherSettingsError, place, usable_cpus, visible_devices

        for name in ("start_interval", "stop_grace"):
            if getattr(self, name) < 0:
                raise LauncherSettingsError(f"hydra.launcher.{name}={getattr(self, name)}: must be >= 0 seconds")
        self.config = config
        self.task_function = task_function
        self.hydra_context = hydra_context
        self.placement = place(**self.settings, visible=visible_devices(os.environ), cpus=usable_cpus())

    def set_run_timeout(self, seconds: float | None) -> None:
        """The sweeper's time limit per run (ab.run_timeout): a job still going `seconds` + stop_grace after
        it started is ended with its whole process group (SIGTERM, then SIGKILL after stop_grace)."""
        self.run_timeout = seconds

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from hydra_plugins.ab_launcher import _core

        return _core.launch(self, job_overrides, initial_job_idx)

    def launch_queue(
        self,
        job_overrides: Sequence[Sequence[str]],
        initial_job_idx: int,
        on_end: Callable[[int, JobReturn], Sequence[str] | None],
    ) -> Sequence[JobReturn]:
        """`launch`, and each job `on_end` returns is queued as the jobs end (see the module docstring)."""
        from hydra_plugins.ab_launcher import _core

        return _core.launch(self, job_overrides, initial_job_idx, on_end)
