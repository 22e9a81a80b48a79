"""The `ab` sweeper plugin: a thin adapter; the work is in `_core.py`.

Hydra imports this module at every app start, so it imports nothing heavy. Without `ab.experiment`
it is Hydra's BasicSweeper, which lets Hydra's own launcher test suites exercise it.
"""

from __future__ import annotations

from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict


class ABSweeper(BasicSweeper):
    def __init__(self, max_batch_size: int | None = None) -> None:
        super().__init__(max_batch_size=max_batch_size)
        self._ab_sweep: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        settings = config.get("ab")
        if settings is not None:
            _compose_jobs_without_ab_node(config)
        if settings is None or settings.get("experiment") is None:
            super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
            return
        from hydra_plugins.ab_sweeper._core import ABSweep

        self._ab_sweep = ABSweep(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        if self._ab_sweep is None:
            return super().sweep(arguments)
        return self._ab_sweep.run(arguments)


def _compose_jobs_without_ab_node(config: DictConfig) -> None:
    """Jobs are composed from the master's hydra overrides: selecting Hydra's basic sweeper option there
    keeps the `ab:` settings node (brought by `hydra/sweeper=ab`) out of every job's config. Only this
    process uses the sweeper, so nothing else changes for the jobs."""
    with open_dict(config):
        overrides = OmegaConf.to_container(config.hydra.overrides.hydra, resolve=False)
        kept = [o for o in overrides if not str(o).lstrip("+").startswith("hydra/sweeper=")]
        config.hydra.overrides.hydra = [*kept, "hydra/sweeper=basic"]
