"""The `hydra/sweeper=ab` config option.

It is stored in the `_global_` package so that it brings both `hydra.sweeper` and a root `ab:` node:
that is what lets users write `ab.experiment=exp.py` without a `+`, and lets every job read its
settings from `cfg.ab`.
"""

# No `from __future__ import annotations` here: Hydra's plugin scan executes this module without
# registering it in sys.modules, where dataclasses would look up string annotations.
from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore

from metta_ab.experiment import AnalysisSettings
from metta_ab.plan import InjectionKeys


@dataclass
class ABSettingsConf:
    """`ab.*` on the command line."""

    experiment: str | None = None  # path/to/experiment.py[:NAME] or a saved experiment .yaml
    output_dir: str = "ab_test_results"  # the experiment directory is <output_dir>/<experiment name>
    max_retries: int = 3  # relaunches of failed runs; 0 disables retries
    run_timeout: float | None = None  # seconds; a run still going then fails (and is retried)
    dry_run: bool = False  # validate and print the plan, launch nothing
    resume: bool = True  # rerunning skips completed runs; false moves the old directory aside
    base_seed: int = 0  # run i gets base_seed + i - 1
    paired_seeds: bool = True  # run i has the same seed in every variant
    progress_interval: float = 1.0  # seconds between progress checks while jobs run
    inject: InjectionKeys = field(default_factory=InjectionKeys)
    # Overrides the experiment's `.set_metric(...)`: ab.analysis.metric=reward ab.analysis.direction=min ...
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    plots: bool = True


@dataclass
class ABSweeperConf:
    _target_: str = "hydra_plugins.ab_sweeper.ab_sweeper.ABSweeper"
    # Used only without `ab.experiment`, where the sweeper behaves like Hydra's BasicSweeper.
    max_batch_size: int | None = None


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="ab",
    node={"hydra": {"sweeper": ABSweeperConf}, "ab": ABSettingsConf},
    package="_global_",
    provider="metta_ab",
)
