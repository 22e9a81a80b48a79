"""metta-ab: A/B testing for training runs, as a Hydra sweeper plugin (`hydra/sweeper=ab`)."""

from metta_ab.experiment import ABExperiment, ABVariant, ExperimentError, create_experiment
from metta_ab.loading import ExperimentLoadError, load_experiment
from metta_ab.runner import ABRunError, run_ab_test

__all__ = [
    "ABExperiment",
    "ABRunError",
    "ABVariant",
    "ExperimentError",
    "ExperimentLoadError",
    "create_experiment",
    "load_experiment",
    "run_ab_test",
]
