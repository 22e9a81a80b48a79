#!/usr/bin/env bash
# Set up .venv and run the demo A/B experiment (two learning rates, 5 seeds each) on the example app,
# two runs at a time with the joblib launcher. W&B runs offline. Extra arguments are Hydra overrides.
source "$(dirname "$0")/_venv.sh" joblib,wandb
.venv/bin/python examples/train.py -m hydra/sweeper=ab ab.experiment=examples/lr_experiment.py \
  hydra/launcher=joblib hydra.launcher.n_jobs=2 "$@"
