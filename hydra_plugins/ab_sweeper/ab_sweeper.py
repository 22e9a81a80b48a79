"""The `ab` sweeper plugin: a thin adapter; the work is in `_core.py`.

Hydra imports this module at every app start, so it imports nothing heavy. Without `ab.experiment`
it is Hydra's BasicSweeper in full (`params`, `max_batch_size`), which lets Hydra's own launcher test
suites exercise it.
"""

import logging
import sys
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict, read_write

_composed = {"option": False, "callback": False}  # whether `hydra/sweeper=ab` / ABCallback exist in this process
_exit_after_callbacks: dict[str, int] = {}  # "status": what the sweep ends with once the app's callbacks ran


def option_composed() -> bool:
    return _composed["option"]


def exit_after_callbacks(status: int) -> None:
    """End the process with `status` once the app's `on_multirun_end` callbacks have run (ABCallback is
    notified last: Hydra notifies them in reverse order); right away where ABCallback is not registered."""
    if not _composed["callback"]:
        sys.exit(status)
    _exit_after_callbacks["status"] = status


class ABUsageError(CompactHydraException):
    """The ab sweeper was asked for something it cannot do; the message names the fix."""


def _experiment(config: DictConfig) -> Any:
    settings = config.get("ab")
    return None if settings is None else settings.get("experiment")


class ABSweeper(BasicSweeper):
    def __init__(
        self, max_batch_size: int | None = None, params: dict[str, str] | None = None, **other_sweeper: Any
    ) -> None:
        """`other_sweeper`: what an app's config sets under `hydra.sweeper` for the sweeper it selects itself
        (Optuna's `sampler`, `direction`, `n_trials`, ...); `hydra/sweeper=ab` on the command line keeps it."""
        super().__init__(max_batch_size=max_batch_size, params=params)
        self._ab_sweep: Any = None
        self._other_sweeper = sorted(other_sweeper)
        _composed["option"] = True

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        other_keys = self._other_sweeper + (["params"] if self._other_sweeper and self.params else [])
        other = ", ".join(f"hydra.sweeper.{key}" for key in sorted(other_keys))
        if _experiment(config) is None:
            if other:
                raise ABUsageError(
                    f"{other}: not settings of the ab sweeper, which without ab.experiment is Hydra's BasicSweeper "
                    "(the app's config sets them for another sweeper); give ab.experiment, or select that sweeper"
                )
            task = WithoutSettings(task_function)
            super().setup(hydra_context=hydra_context, task_function=task, config=config)
            return
        if self.params and not self._other_sweeper:  # else the other sweeper's search space
            raise ABUsageError(
                f"hydra.sweeper.params ({', '.join(self.params)}) is a grid sweep, and ab.experiment defines the "
                "runs: put what varies in the experiment's variants, or drop ab.experiment to sweep the grid"
            )
        if self.max_batch_size is not None:
            raise ABUsageError(
                "hydra.sweeper.max_batch_size does not apply with ab.experiment: the ab sweeper hands the launcher "
                "every runnable job at once; limit parallelism in the launcher (e.g. hydra.launcher.n_jobs)"
            )
        from hydra_plugins.ab_sweeper._core import ABSweep
        from hydra_plugins.ab_sweeper._progress import STATUS_LOGGER

        self._ab_sweep = ABSweep(hydra_context=hydra_context, task_function=task_function, config=config)
        if other:
            logging.getLogger(STATUS_LOGGER).info(
                "[ab] not used: %s (the app's config sets them for its own sweeper; ab.experiment defines the runs)",
                other,
            )

    def sweep(self, arguments: list[str]) -> Any:
        if self._ab_sweep is None:
            return super().sweep(arguments)
        return self._ab_sweep.run(arguments)


class WithoutSettings:
    """Without an experiment the jobs are BasicSweeper's, composed with the master's `hydra/sweeper=ab`: the
    app's task gets its config without the sweeper's `ab:` node. (Picklable: launchers ship it to workers.)"""

    def __init__(self, task_function: TaskFunction) -> None:
        self.task_function = task_function

    def __call__(self, cfg: DictConfig) -> Any:
        if "ab" in cfg:
            with read_write(cfg), open_dict(cfg):
                del cfg["ab"]
        return self.task_function(cfg)


class ABCallback(Callback):
    """Selected by `hydra/sweeper=ab`, ahead of the app's own callbacks. Without `-m`, Hydra never calls a
    sweeper, so an experiment would be silently ignored and the app run once: stop that before the app
    starts (Hydra turns exceptions raised in callbacks into warnings, so this exits). With `-m`, settle the
    experiment directory before any other callback sees the sweep dir. Hydra instantiates it whenever the
    option is composed (and the app's execution whitelist allows it: `config._callbacks`), which `usage_hint`
    is told."""

    def __init__(self) -> None:
        _composed["option"] = _composed["callback"] = True

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        experiment = _experiment(config)
        if experiment is not None:
            # here, not at module level: with that import Hydra 1.4.0rc3 silently left this callback out
            from hydra_plugins.ab_sweeper.usage_hint import app_command

            sys.stderr.write(
                f"Error: ab.experiment={experiment} is run by the ab sweeper, which Hydra uses only in multirun "
                f"mode: add -m ({app_command()} -m hydra/sweeper=ab ab.experiment={experiment} ...)\n"
            )
            raise SystemExit(2)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        status = _exit_after_callbacks.pop("status", None)
        if status is not None:
            raise SystemExit(status)  # a BaseException: Hydra does not turn it into a warning

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _experiment(config) is not None:
            from hydra_plugins.ab_sweeper._core import stopping_on_signals
            from hydra_plugins.ab_sweeper._experiment_dir import settle

            with stopping_on_signals():  # the experiment file may take long to import
                settle(config)
