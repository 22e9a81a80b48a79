"""A Hydra app that evaluates a policy on a suite of tasks with very different scales, as RL suites do.

Every run evaluates `eval_tasks` (one run, many tasks) or only `task` when it is set (one task per run), and
returns `eval/<task>/reward` for each: `scale * (1 + skill + noise)` with the task's own scale (a reward
in [0, 1] beside a return in the hundreds), the variant's `skill` (plus its `bonus` on some tasks) and seeded
noise per (seed, task, skill): two variants with the same skill on a task score the same there. Tasks in
`policy.silent` are evaluated but not reported (a run that misses a task).
"""

from __future__ import annotations

import random

import hydra
from omegaconf import DictConfig

SCALES = {"maze": 1.0, "memory": 500.0, "objects": 40.0, "lava": 3.0}


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> dict[str, float]:
    tasks = [cfg.task] if cfg.task else list(cfg.eval_tasks)
    scores = {}
    for task in tasks:
        if task in cfg.policy.silent:
            continue
        skill = float(cfg.policy.skill) + float(cfg.policy.bonus.get(task, 0.0))
        rng = random.Random(f"{cfg.seed}:{task}:{skill}")
        scores[f"eval/{task}/reward"] = SCALES[task] * (1.0 + skill + cfg.noise * rng.gauss(0, 1))
    return scores


if __name__ == "__main__":
    main()
