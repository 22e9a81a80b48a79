"""A Hydra app whose learning curve crosses a threshold at a step it is told: `cross_steps[i]` is run i's.

The task returns nothing and writes `metrics.json` with the curve {"step": [...], "reward": [...]}: reward
rises linearly from 0 and is exactly 0.5 at run i's crossing step (logged every `log_every` steps up to
`total_steps`). A crossing step past `total_steps` means the run ends without reaching 0.5 (censored).
"""

from __future__ import annotations

import json
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    index = int(str(cfg.run).rsplit("_", 1)[-1])
    cross = float(cfg.cross_steps[index - 1])
    steps = list(range(0, int(cfg.total_steps) + 1, int(cfg.log_every)))
    reward = [0.5 * step / cross for step in steps]
    out = Path(HydraConfig.get().runtime.output_dir)
    (out / "metrics.json").write_text(json.dumps({"curve": {"step": steps, "reward": reward}}))


if __name__ == "__main__":
    main()
