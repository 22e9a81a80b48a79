"""The experiment definition: what a researcher writes (variants, runs, base config, metric, design), loaded
from a .py or .yaml file and validated before anything runs. Knows nothing of Hydra, runs or results."""
