"""The typed `ab.*` settings. The config option in config.py stores them as plain data (cheap for Hydra,
which copies its config store at every composition); the sweep reads them back through this schema, so a
wrong type is still an error that names the setting."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from metta_ab.experiment import AnalysisSettings
from metta_ab.plan import InjectionKeys


class SettingsError(ValueError):
    pass


@dataclass
class ABSettings:
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
    plots: bool = True
    inject: InjectionKeys = field(default_factory=InjectionKeys)
    # Overrides the experiment's `.set_metric(...)`: ab.analysis.metric=reward ab.analysis.direction=min ...
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)


def read_settings(node: DictConfig) -> ABSettings:
    try:
        merged = OmegaConf.merge(OmegaConf.structured(ABSettings), node)
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except OmegaConfBaseException as error:
        message = str(error).splitlines()[0]
        raise SettingsError(f"ab.{getattr(error, 'full_key', '') or ''}: {message}") from None
