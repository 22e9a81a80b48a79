"""A Hydra app whose config-group options differ in their keys, as RL frameworks' algorithm configs do. It
writes a `progress.csv` in its `log_dir` when its config has one (only the a2c option does), else in the job's
output directory."""

from __future__ import annotations

import csv
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    out = Path(cfg.log_dir) if "log_dir" in cfg else Path(HydraConfig.get().runtime.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    score = cfg.quality + cfg.algo.get("clip", 0.0) + 0.01 * (cfg.seed % 3)
    with open(out / "progress.csv", "w", newline="") as file:
        table = csv.writer(file)
        table.writerow(["step", "eval/score"])
        table.writerows([[0, 0.0], [1, score]])


if __name__ == "__main__":
    main()
