"""A tiny Metta-shaped Hydra app for the sweeper's tests: returns a score computed from its config.

`fail_mode=<run name>+<run name>` picks runs that misbehave as `fail_kind` says: raise on the first attempt
(`once`) or always (the same ValueError every time), exit the process on the first attempt (`exit`) or on
every one (`exit_always`), kill itself (`sigkill`), hang on the first attempt, return an unpicklable value,
call `sys.exit(0)` after writing its score to a progress.csv (`sysexit0`) or `sys.exit(3)` (`sysexit3`), or
import a module that does not exist (`import`), on every attempt. `sleep` makes runs last long enough to
overlap or to be interrupted; `wait_for=PATH` keeps a run running until PATH exists.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(config_path="conf", config_name="train_job", version_base=None)
def main(cfg: DictConfig) -> dict:
    out = Path(HydraConfig.get().runtime.output_dir)
    time.sleep(cfg.sleep)
    while cfg.wait_for and not Path(cfg.wait_for).exists():
        time.sleep(0.05)
    mode = cfg.fail_mode
    if mode and cfg.run in str(mode).split("+"):
        flag = out.parent / f".failed_once_{cfg.run}"
        if str(cfg.fail_kind) == "once" and not flag.exists():
            flag.touch()
            raise RuntimeError(f"deliberate first-attempt failure of {cfg.run}")
        if str(cfg.fail_kind) == "always":
            raise ValueError(f"deliberate failure of {cfg.run}")
        if str(cfg.fail_kind) == "exit" and not flag.exists():
            flag.touch()
            os._exit(3)
        if str(cfg.fail_kind) == "exit_always":
            os._exit(3)
        if str(cfg.fail_kind) == "sysexit0":  # an early stop that ends cleanly, its score already logged
            (out / "progress.csv").write_text(f"step,score\n1,{_score(cfg)}\n")
            sys.exit(0)
        if str(cfg.fail_kind) == "sysexit3":
            sys.exit(3)
        if str(cfg.fail_kind) == "import":
            import metta_ab_no_such_module  # noqa: F401
        if str(cfg.fail_kind) == "sigkill" and not flag.exists():
            flag.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        if str(cfg.fail_kind) == "hang" and not flag.exists():
            flag.touch()
            time.sleep(3600)
        if str(cfg.fail_kind) == "unpicklable":
            return {"score": 1.0, "handle": threading.Lock()}
    if cfg.chaos > 0:
        _chaos(cfg, out)
    if cfg.known_scores is not None:  # a fixed score per run index, for checking the statistics end to end
        index = int(str(cfg.run).rsplit("_", 1)[-1])
        return {"score": float(cfg.known_scores[index - 1])}
    return {"score": _score(cfg), "seed": cfg.seed}


def _score(cfg: DictConfig) -> float:
    return float(cfg.trainer.learning_rate) * 10 + cfg.seed * 0.01


def _chaos(cfg: DictConfig, out: Path) -> None:
    """Misbehave at random (per run and attempt, reproducibly) in one of the ways a real run can."""
    attempt = 1 + (len(list((out / "attempts").iterdir())) if (out / "attempts").is_dir() else 0)
    rng = random.Random(f"{cfg.chaos_seed}:{cfg.run}:{attempt}")
    if rng.random() >= cfg.chaos:
        return
    kind = rng.choice(["raise", "exit", "sigkill", "hang", "unpicklable"])
    if kind == "raise":
        raise RuntimeError(f"chaos: {cfg.run} attempt {attempt}")
    if kind == "exit":
        os._exit(7)
    if kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "hang":
        time.sleep(3600)
    raise _Unpicklable(threading.Lock())


class _Unpicklable(Exception):
    """An exception that cannot travel back through a process pool."""

    def __init__(self, handle: object) -> None:
        super().__init__("chaos: unpicklable exception")
        self.handle = handle


if __name__ == "__main__":
    main()
