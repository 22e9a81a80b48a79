"""A third-party-style Hydra app: the task returns nothing and writes a Stable-Baselines3-style
`progress.csv` (sorted keys, `time/total_timesteps` as the step, empty cells where a key was not logged)."""

from __future__ import annotations

import csv
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


def score(quality: float, seed: int, step: int, steps: int) -> float:
    final = quality + 0.01 * ((seed * 3 + round(quality * 10)) % 4)
    return final * step / (steps - 1)


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    logdir = Path(HydraConfig.get().runtime.output_dir) / "sb3"
    logdir.mkdir()
    with open(logdir / "progress.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["rollout/ep_rew_mean", "time/fps", "time/total_timesteps", "train/loss"])
        for step in range(cfg.steps):
            loss = "" if step == 0 else 1.0 / step  # no update before the first rollout
            writer.writerow([score(cfg.quality, cfg.seed, step, cfg.steps), 900 + step, 2048 * (step + 1), loss])


if __name__ == "__main__":
    main()
