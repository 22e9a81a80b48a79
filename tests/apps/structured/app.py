"""A Hydra app whose primary config is a typed dataclass schema, for values the schema rejects."""

from __future__ import annotations

from dataclasses import dataclass, field

import hydra
from hydra.core.config_store import ConfigStore


@dataclass
class TrainerConf:
    learning_rate: float = 0.01
    epochs: int = 1


@dataclass
class TrainConf:
    run: str = "default"
    seed: int = 0
    trainer: TrainerConf = field(default_factory=TrainerConf)


ConfigStore.instance().store(name="train", node=TrainConf)


@hydra.main(config_name="train", version_base=None)
def main(cfg: TrainConf) -> dict:
    return {"score": cfg.trainer.learning_rate * cfg.trainer.epochs}


if __name__ == "__main__":
    main()
