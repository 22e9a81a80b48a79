"""Where the experiment lives: Hydra's sweep dir when anything set it (command line, the app's config),
else `<ab.output_dir>/<experiment name>`.

It is decided as early as a plugin can, so that everything Hydra shows sees the real directory: the ab
callback does it at `on_multirun_start` (it is the first callback, so the app's own callbacks see it too),
and the sweep again when it starts, in case that did not happen (a failing experiment file is reported by
the sweep). The experiment file is executed once per process for both.
"""

from __future__ import annotations

import functools
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from metta_ab.definition.experiment import ABExperiment
from metta_ab.definition.loading import load_experiment

HYDRA_DEFAULT_SWEEP_DIR = "multirun/${now:%Y-%m-%d}/${now:%H-%M-%S}"  # hydra/output/default.yaml


@functools.cache
def load_once(spec: str) -> ABExperiment:
    return load_experiment(spec)


def locate(config: DictConfig, output_dir: str, experiment: ABExperiment) -> tuple[Path, str]:
    """The experiment directory, and the setting it comes from (for messages)."""
    default = Path(output_dir).expanduser().absolute() / experiment.name
    raw = OmegaConf.to_container(config.hydra.sweep, resolve=False).get("dir")
    if raw == HYDRA_DEFAULT_SWEEP_DIR or Path(str(raw)) == default:
        return default, f"ab.output_dir={output_dir}"
    value = str(config.hydra.sweep.dir)
    return Path(value).expanduser().absolute(), f"hydra.sweep.dir={value}"


def publish(config: DictConfig, directory: Path) -> None:
    """Make `directory` the master config's sweep dir: launchers read it there (joblib logs it, submitit
    puts its logs in it), and so do `${hydra:sweep.dir}` interpolations."""
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweep.dir = str(directory)
    HydraConfig.instance().set_config(config)


def settle(config: DictConfig) -> None:
    """At the start of a multirun with an experiment: publish its directory, or leave it to the sweep."""
    from hydra_plugins.ab_sweeper._settings import read_settings

    try:
        settings = read_settings(config.ab)
        directory, _ = locate(config, settings.output_dir, load_once(settings.experiment))
    except Exception:
        return  # the sweep reports what is wrong, with the setting named
    publish(config, directory)
