"""The `hydra/sweeper=ab` config option: the typed `ab.*` settings, registered once in the ConfigStore.

The option is stored in the `_global_` package so that it brings both `hydra.sweeper` and a root `ab:`
node: that is what lets users write `ab.experiment=exp.py` without a `+`. `ABSettings` is the one source
of truth for the settings and their defaults; the node is made from it once, at import, as plain data
(see `_option_node`), which the sweep reads back through the dataclass (`_settings.read_settings`: a
wrong type or a misspelt `ab.max_retires=2` is an error naming the setting).
"""

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.errors import HydraDeprecationError, InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from metta_ab.definition.experiment import AnalysisSettings, SequentialSettings
from metta_ab.plan import DEFAULT_BASE_SEED, InjectionKeys
from metta_ab.report.figure_files import DEFAULT_PLOT_DPI, DEFAULT_PLOT_FORMAT


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
    base_seed: int = DEFAULT_BASE_SEED  # run i gets base_seed + i - 1
    paired_seeds: bool = True  # run i has the same seed in every variant
    progress_interval: float = 1.0  # seconds between progress checks while jobs run
    plots: bool = True  # the figures (verdict.png first) and the page report.html shows them in
    plot_format: str = DEFAULT_PLOT_FORMAT  # png, svg or pdf
    plot_dpi: int = DEFAULT_PLOT_DPI  # dots per inch of the figure files
    wandb_summary: bool = True  # when the runs used W&B: one run (job_type ab-summary) with the verdict beside them
    inject: InjectionKeys = field(default_factory=InjectionKeys)
    # Overrides the experiment's `.set_metric(...)`: ab.analysis.metric=reward ab.analysis.direction=min ...
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    # Overrides the experiment's `.set_sequential(...)`: ab.sequential.max_runs_per_variant=20 ...runs_per_look=5
    sequential: SequentialSettings = field(default_factory=SequentialSettings)


@dataclass
class ABSweeperConf:
    """`hydra.sweeper.*`: BasicSweeper's own settings, used when no `ab.experiment` is given."""

    _target_: str = "hydra_plugins.ab_sweeper.ab_sweeper.ABSweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


def _option_node() -> dict[str, Any]:
    """Untyped data made from the dataclasses: Hydra copies its whole config store at every composition
    (`--help` composes about fifty times), and a typed node costs several times an untyped one to copy
    (benchmarks/sweeper_overhead.py). The types are applied when the sweep reads the node. Struct mode is
    off under `ab:` so that a misspelt setting reaches the sweeper, which names the one meant."""
    settings = OmegaConf.create(asdict(ABSettings()))
    OmegaConf.set_struct(settings, False)
    return {"hydra": {"sweeper": asdict(ABSweeperConf()), **_callbacks()}, "ab": settings}


CALLBACK_TARGET = "hydra_plugins.ab_sweeper.ab_sweeper.ABCallback"


def _callbacks() -> dict[str, Any]:
    """The ab callback (it stops `ab.experiment=` without -m, and settles the experiment directory before
    the app's callbacks run), if Hydra will instantiate it here.

    Hydra 1.4 lets an app name what config may instantiate (`@hydra.main(execution_whitelist=...)`) and
    refuses any other `hydra.callbacks` target before the sweep starts; 1.5 will refuse every target when
    the app names none. The sweep does not need the callback (it settles the directory itself), so it is
    left out where it would be refused: the app then only misses the early error for a forgotten -m.
    The probe resolves the target without constructing it, under the policy of this call site (the app's
    `hydra.main`, around Hydra's plugin scan that imports this module)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Hydra 1.4 warns about every target when the app names none
            instantiate({"_target_": CALLBACK_TARGET, "_partial_": True})
    except (InstantiationException, HydraDeprecationError):
        return {}
    return {"callbacks": {"ab_sweeper": {"_target_": CALLBACK_TARGET}}}


def _register() -> None:
    """Once per process and again in workers that import this module after receiving the config store
    (joblib): Hydra 1.4 warns about a repeated registration unless told it replaces (1.3 has no `replace`)."""
    option = {"group": "hydra/sweeper", "name": "ab", "node": _option_node(), "package": "_global_"}
    try:
        ConfigStore.instance().store(**option, provider="metta_ab", replace=True)
    except TypeError:  # Hydra 1.3: no `replace`, and no warning either
        ConfigStore.instance().store(**option, provider="metta_ab")


_register()
