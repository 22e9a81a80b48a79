"""A third-party-style Hydra app: the task returns nothing and logs scalars to TensorBoard (tensorboardX's
SummaryWriter, in the job's output directory), as most PyTorch training scripts do."""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from tensorboardX import SummaryWriter


def score(quality: float, seed: int, step: int, steps: int) -> float:
    """The curve rises linearly to the final score: `quality` plus a seed- and quality-dependent wobble."""
    final = quality + 0.01 * ((seed * 3 + round(quality * 10)) % 4)
    return final * step / (steps - 1)


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    logdir = Path(HydraConfig.get().runtime.output_dir) / "tb" / "train"
    writer = SummaryWriter(str(logdir))
    for step in range(cfg.steps):
        writer.add_scalar("eval/return", score(cfg.quality, cfg.seed, step, cfg.steps), step * 100)
        writer.add_scalar("train/loss", 1.0 / (step + 1), step * 100)
    writer.close()


if __name__ == "__main__":
    main()
