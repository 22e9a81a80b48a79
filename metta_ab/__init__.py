"""metta-ab: A/B testing for training runs, as a Hydra sweeper plugin (`hydra/sweeper=ab`).

The names below are imported on first use: Hydra imports the plugin (and with it `metta_ab.definition.experiment`
and `metta_ab.plan`) at every app start, which must not pay for the loader and the runner.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ABExperiment": "metta_ab.definition.experiment",
    "ABVariant": "metta_ab.definition.experiment",
    "ExperimentError": "metta_ab.definition.experiment",
    "create_experiment": "metta_ab.definition.experiment",
    "job_dir": "metta_ab.definition.job_paths",
    "ExperimentLoadError": "metta_ab.definition.loading",
    "load_experiment": "metta_ab.definition.loading",
    "ABRunError": "metta_ab.runner",
    "run_ab_test": "metta_ab.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'metta_ab' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
