"""A Hydra app shaped like the third-party ones, not like Metta: no `run` key, the seed nested under
`experiment`, no `wandb` node, a bare `wandb.init()` (`log_to=wandb_left_open`: never finished; `log_to=json`:
a metrics.json instead), and nothing returned from the task. It records
what it saw (its config keys, the WANDB_* variables) in `seen.json` for the tests to check."""

from __future__ import annotations

import json
import os
import random

import hydra
from omegaconf import DictConfig, OmegaConf

OURS = ("WANDB_MODE", "WANDB_SILENT")  # set by the tests themselves


@hydra.main(config_path="conf", config_name="config", version_base=None)
def train(cfg: DictConfig) -> None:
    seen = {
        "keys": sorted(cfg.keys()),
        "env": {k: v for k, v in os.environ.items() if k.startswith("WANDB_") and k not in OURS},
        "options": OmegaConf.to_container(cfg.options),
    }
    with open("seen.json", "w") as f:
        json.dump(seen, f)
    seed = OmegaConf.select(cfg, "experiment.seed", default=0)
    rng = random.Random(f"{seed}:{cfg.trainer.lr}")  # noise of its own per variant: paired differences vary
    score = cfg.trainer.lr * 100 + rng.gauss(0, 0.01)
    if cfg.log_to == "json":  # quick: metrics.json in the job directory (the working directory: chdir)
        with open("metrics.json", "w") as f:
            json.dump({"final": {"eval/score": score}}, f)
    if cfg.log_to in ("wandb", "wandb_left_open"):
        import wandb

        run = wandb.init()  # everything from W&B's own environment variables
        for step in range(cfg.trainer.steps):
            run.log({"eval/score": score * (step + 1) / cfg.trainer.steps}, step=step)
        if cfg.log_to == "wandb":  # else the run is left to wandb's exit hook, as TorchRL's WandbLogger does
            run.finish()


if __name__ == "__main__":
    train()
