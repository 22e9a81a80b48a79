"""A third-party-style Hydra app that writes where its own config says, not in Hydra's output directory:
TensorBoard events and a `progress.csv` in `<log_root>/<time>_<seed>/`, with `log_root: logs/runs` relative
to the directory the command starts in. It seeds only `if cfg.get("seed")`: seed 0 means a random run."""

from __future__ import annotations

import csv
import json
import random
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig
from tensorboardX import SummaryWriter


def score(quality: float, seed: int, step: int, steps: int) -> float:
    final = quality + 0.01 * ((seed * 3 + round(quality * 10)) % 4)
    return final * step / (steps - 1)


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    seeded = bool(cfg.get("seed"))
    seed = cfg.seed if seeded else random.SystemRandom().randrange(10**6)
    run_dir = Path(cfg.log_root) / f"{time.strftime('%Y%m%d-%H%M%S')}_{cfg.seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps({"seeded": seeded, "seed": seed}))
    writer = SummaryWriter(str(run_dir / "tb"))
    with open(run_dir / "progress.csv", "w", newline="") as file:
        table = csv.writer(file)
        table.writerow(["rollout/ep_rew_mean", "time/total_timesteps"])
        for step in range(cfg.steps):
            value = score(cfg.quality, seed, step, cfg.steps)
            writer.add_scalar("eval/return", value, step * 100)
            table.writerow([value, 100 * step])
    writer.close()


if __name__ == "__main__":
    main()
