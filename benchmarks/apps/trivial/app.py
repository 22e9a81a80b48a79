"""The benchmarks' trivial Hydra app: optional CPU-bound work, then a score computed from its config.

`work` sets the iterations of a pure-Python loop (CPU-bound, one core) and the job then records when it
ran in `work.json` in its output directory (so sweeps without the ab sweeper can be timed too);
`fail_run` names a run that raises on its first attempt (a flag file in the sweep directory remembers
that it already failed).
"""

from __future__ import annotations

import json
import time
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
    out = Path(HydraConfig.get().runtime.output_dir)
    if cfg.fail_run is not None and cfg.run == cfg.fail_run:
        flag = out.parent / f".failed_once_{cfg.run}"
        if not flag.exists():
            flag.touch()
            raise RuntimeError(f"deliberate first-attempt failure of {cfg.run}")
    if cfg.work:
        started_at, started = time.time(), time.perf_counter()
        burn(int(cfg.work))
        record = {"started_at": started_at, "duration": time.perf_counter() - started, "finished_at": time.time()}
        (out / "work.json").write_text(json.dumps(record))
    return {"score": float(cfg.lr) * 10 + int(cfg.seed) * 0.01}


if __name__ == "__main__":
    main()
