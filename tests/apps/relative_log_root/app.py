"""A third-party-style Hydra app that keeps its own log tree relative to its working directory, as several RL
frameworks do: TensorBoard events (tensorboardX) in `logs/runs/<algo>/<env>/<date>/<time>_seed<seed>/version_0/`.
Under Hydra's default `hydra.job.chdir=False` that is below the directory the command started in, outside
every job directory; with `hydra.job.chdir=True` it is seven levels below the job directory."""

from __future__ import annotations

import datetime
from pathlib import Path

import hydra
from omegaconf import DictConfig
from tensorboardX import SummaryWriter

LOG_ROOT = Path("logs") / "runs"  # relative: to wherever the process is when the run starts


def score(quality: float, seed: int, step: int, steps: int) -> float:
    final = quality + 0.01 * ((seed * 3 + round(quality * 10)) % 4)
    return final * step / (steps - 1)


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    now = datetime.datetime.now()
    run = f"{now:%H-%M-%S-%f}_seed{cfg.seed}"
    writer = SummaryWriter(str(LOG_ROOT / cfg.algo / cfg.env / f"{now:%Y-%m-%d}" / run / "version_0"))
    for step in range(cfg.steps):
        writer.add_scalar("eval/return", score(cfg.quality, cfg.seed, step, cfg.steps), step * 100)
    writer.close()


if __name__ == "__main__":
    main()
