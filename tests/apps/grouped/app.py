"""A Hydra app with nested and mandatory config groups, for resolving base defaults and group keys."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> dict:
    return {"task": cfg.task.name, "db": cfg.db.driver, "extra": cfg.get("extra", {}).get("level", 0)}


if __name__ == "__main__":
    main()
