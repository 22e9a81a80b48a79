"""A third-party-style Hydra app: the task returns nothing and prints its progress to a text log,
ending with a line `final score: 0.73`; only a reader function in the experiment file understands it."""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


def score(quality: float, seed: int, step: int, steps: int) -> float:
    final = quality + 0.01 * ((seed * 3 + round(quality * 10)) % 4)
    return final * step / (steps - 1)


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    lines = [
        f"[train] step {step}: running score {score(cfg.quality, cfg.seed, step, cfg.steps):.4f}"
        for step in range(cfg.steps)
    ]
    lines.append(f"final score: {score(cfg.quality, cfg.seed, cfg.steps - 1, cfg.steps):.4f}")
    (Path(HydraConfig.get().runtime.output_dir) / "train.log").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
