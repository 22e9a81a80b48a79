"""A third-party-style Hydra app: the task returns nothing and logs as BenchMARL does, through TorchRL's
CSVLogger: one headerless `step,value` file per scalar in <job dir>/<exp>/<exp>/scalars/ (the lines written
as torchrl 0.11.1's CSVExperiment.add_scalar writes them; torch itself is not installable here), names
with `/` replaced by `_`."""

from __future__ import annotations

import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

EXPERIMENT = "mappo_balance_mlp__0f1e2d3c_26_01_01-00_00_00"


def score(quality: float, seed: int, step: int, steps: int) -> float:
    final = quality + 0.01 * ((seed * 3 + round(quality * 10)) % 4)
    return final * step / (steps - 1)


def log_scalar(log_dir: str, name: str, value: float, step: int) -> None:
    filepath = os.path.join(log_dir, "scalars", "".join([name, ".csv"]))
    os.makedirs(Path(filepath).parent, exist_ok=True)
    with open(filepath, "a+") as file:
        file.write(",".join([str(step), str(float(value))]) + "\n")


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    log_dir = os.path.join(HydraConfig.get().runtime.output_dir, EXPERIMENT, EXPERIMENT)
    for step in range(cfg.steps):
        frames = 200 * (step + 1)
        log_scalar(
            log_dir,
            "eval/reward/episode_reward_mean".replace("/", "_"),
            score(cfg.quality, cfg.seed, step, cfg.steps),
            frames,
        )
        log_scalar(log_dir, "timers/total_time".replace("/", "_"), 0.1 * step, frames)


if __name__ == "__main__":
    main()
