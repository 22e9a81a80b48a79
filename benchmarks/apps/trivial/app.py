"""The benchmarks' trivial Hydra app: optional CPU-bound work, then a score computed from its config.

`work` sets the iterations of a pure-Python loop (CPU-bound, one core); `fail_run` names a run that
raises on its first attempt (a flag file in the sweep directory remembers that it already failed).
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


def burn(iterations: int) -> int:
    """CPU-bound busy work; the benchmarks calibrate `iterations` to a duration."""
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> dict[str, float]:
    if cfg.fail_run is not None and cfg.run == cfg.fail_run:
        flag = Path(HydraConfig.get().runtime.output_dir).parent / f".failed_once_{cfg.run}"
        if not flag.exists():
            flag.touch()
            raise RuntimeError(f"deliberate first-attempt failure of {cfg.run}")
    burn(int(cfg.work))
    return {"score": float(cfg.lr) * 10 + int(cfg.seed) * 0.01}


if __name__ == "__main__":
    main()
