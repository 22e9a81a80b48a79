"""A Hydra 1.4 app migrated as Hydra asks: `@hydra.main(execution_whitelist=...)` names what its config may
instantiate (its model). `TRUST_AB_CALLBACK=1` adds the ab sweeper's callback to that list, as a user may.
Hydra 1.3 has no execution whitelist: the tests that use this app skip there."""

from __future__ import annotations

import os

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

TRUSTED = ("wl_models.Model",) + (
    ("hydra_plugins.ab_sweeper.ab_sweeper.ABCallback",) if os.environ.get("TRUST_AB_CALLBACK") else ()
)


@hydra.main(config_path=".", config_name="config", version_base=None, execution_whitelist=TRUSTED)
def main(cfg: DictConfig) -> dict:
    model = instantiate(cfg.model)
    with open("task_calls.txt", "a") as calls:
        calls.write(f"{model.lr}\n")
    return {"score": model.lr * 100 + cfg.seed * 0.01}


if __name__ == "__main__":
    main()
