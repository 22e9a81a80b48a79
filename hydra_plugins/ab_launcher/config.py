"""The `hydra/launcher=ab_local` option: its settings, registered once in the ConfigStore.

Hydra imports this module at every app start (the plugin scan), so it imports nothing heavy.
"""

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class ABLocalLauncherConf:
    """`hydra.launcher.*`: jobs in fresh processes on this machine, each on its own GPUs and cores."""

    _target_: str = "hydra_plugins.ab_launcher.ab_local_launcher.ABLocalLauncher"
    # GPU ids the jobs share out ([0,1,2,3]), or auto: CUDA_VISIBLE_DEVICES if set, else `nvidia-smi -L`, else none
    devices: Any = "auto"
    # GPUs per job: 0 for CPU jobs, 0.5 puts two jobs on each GPU, 2 gives a job two; null: 1 if GPUs are visible
    gpus_per_job: float | None = None
    # jobs at a time; null: every slot the devices hold, or (CPU jobs) one per core or per cpus_per_job cores
    n_jobs: int | None = None
    # pin each job to this many cores of its own (CPU affinity); null: no pinning
    cpus_per_job: int | None = None
    # seconds between two job starts (staggered start-up)
    start_interval: float = 0.0
    # seconds a job has to end after SIGTERM or SIGINT (run timeout, Ctrl-C) before SIGKILL
    stop_grace: float = 10.0


def _register() -> None:
    """Once per process, and again where the ConfigStore arrived from another process before this import: Hydra
    1.4 warns about a repeated registration unless told it replaces (1.3 has no `replace`)."""
    option = {"group": "hydra/launcher", "name": "ab_local", "node": ABLocalLauncherConf, "provider": "metta_ab"}
    try:
        ConfigStore.instance().store(**option, replace=True)
    except TypeError:  # Hydra 1.3
        ConfigStore.instance().store(**option)


_register()
