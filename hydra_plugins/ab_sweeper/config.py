"""The `hydra/sweeper=ab` config option: the typed `ab.*` settings, registered once in the ConfigStore.

The option is stored in the `_global_` package so that it brings both `hydra.sweeper` and a root `ab:`
node: that is what lets users write `ab.experiment=exp.py` without a `+`. `ABSettings` is the one source
of truth for the settings and their defaults; the node is made from it once, at import, with struct mode
off so that a misspelt `ab.max_retires=2` reaches the sweeper, which names the setting meant, instead of
Hydra's "not in struct" (types are still checked by OmegaConf when the command line is applied).
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from metta_ab.experiment import AnalysisSettings
from metta_ab.plan import InjectionKeys


@dataclass
class ABSettings:
    """`ab.*` on the command line."""

    experiment: str | None = None  # path/to/experiment.py[:NAME] or a saved experiment .yaml
    output_dir: str = "ab_test_results"  # experiment dir: <output_dir>/<experiment name>, unless hydra.sweep.dir
    max_retries: int = 3  # relaunches of failed runs; 0 disables retries
    run_timeout: float | None = None  # seconds; a run still going then fails (and is retried)
    settle_timeout: float = 1800.0  # seconds a rerun waits for runs an earlier sweep left running
    dry_run: bool = False  # validate and print the plan, launch nothing
    resume: bool = True  # rerunning skips completed runs; false moves the old directory aside
    base_seed: int = 0  # run i gets base_seed + i - 1
    paired_seeds: bool = True  # run i has the same seed in every variant
    progress_interval: float = 1.0  # seconds between progress checks while jobs run
    plots: bool = True
    inject: InjectionKeys = field(default_factory=InjectionKeys)
    # Overrides the experiment's `.set_metric(...)`: ab.analysis.metric=reward ab.analysis.direction=min ...
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)


@dataclass
class ABSweeperConf:
    """`hydra.sweeper.*`: BasicSweeper's own settings, used when no `ab.experiment` is given."""

    _target_: str = "hydra_plugins.ab_sweeper.ab_sweeper.ABSweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


def _open(node: DictConfig) -> DictConfig:
    OmegaConf.set_struct(node, False)
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            _open(child)
    return node


def _option_node() -> dict[str, Any]:
    return {
        "hydra": {
            "sweeper": OmegaConf.structured(ABSweeperConf),
            # `python app.py hydra/sweeper=ab ab.experiment=...` without -m is stopped before the app runs.
            "callbacks": {"ab_multirun_guard": {"_target_": "hydra_plugins.ab_sweeper.ab_sweeper.MultirunGuard"}},
        },
        "ab": _open(OmegaConf.structured(ABSettings)),
    }


ConfigStore.instance().store(
    group="hydra/sweeper", name="ab", node=_option_node(), package="_global_", provider="metta_ab"
)
