"""A Hydra app that evaluates a policy on a suite of tasks with very different scales, as RL suites do.

Every run evaluates `eval_tasks` (one run, many tasks) or only `task` when it is set (one task per run), and
returns `eval/<task>/reward` for each: `scale * (1 + skill + noise)` with the task's own scale (a reward
in [0, 1] beside a return in the hundreds), the variant's `skill` (plus its `bonus` on some tasks) and seeded
noise per (seed, task, skill): two variants with the same skill on a task score the same there. Tasks in
`policy.silent` are evaluated but not reported (a run that misses a task). A run of one task also writes
`metrics.json` with a `reward` curve in the job's directory (the name is the same for every task). `sleep`
makes a run last long enough to kill the sweep in the middle of a look.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

SCALES = {"maze": 1.0, "memory": 500.0, "objects": 40.0, "lava": 3.0}


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> dict[str, float]:
    time.sleep(cfg.sleep)
    tasks = [cfg.task] if cfg.task else list(cfg.eval_tasks)
    scores = {}
    for task in tasks:
        if task in cfg.policy.silent:
            continue
        skill = float(cfg.policy.skill) + float(cfg.policy.bonus.get(task, 0.0))
        rng = random.Random(f"{cfg.seed}:{task}:{skill}")
        scores[f"eval/{task}/reward"] = SCALES[task] * (1.0 + skill + cfg.noise * rng.gauss(0, 1))
    if cfg.task:  # one task per run: also a learning curve under a name shared by every task, as RL apps log
        final = scores.get(f"eval/{cfg.task}/reward")
        if final is not None:
            curve = {"step": [0, 1, 2], "reward": [0.0, final / 2, final]}
            out = Path(HydraConfig.get().runtime.output_dir)
            (out / "metrics.json").write_text(json.dumps({"final": {"reward": final}, "curve": curve}))
    return scores


if __name__ == "__main__":
    main()
