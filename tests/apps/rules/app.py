"""A small Hydra app for the sweeper's Hydra-contract tests (tests/test_hydra_rules.py).

Every call of the task is recorded twice: `task_saw.json` in its job dir and a line of `task_calls.jsonl` in
the working directory (what it saw: whether its config has an `ab` key, `x`, its run name). `fail_run` names
a run that raises ValueError('boom'). `mode=alarm`: the task installs its own SIGALRM handler, arms
`signal.alarm(1)` and waits for the handler; `mode=alarm_at_start`: the same with the handler the app installed
when it started, before Hydra ran; `mode=hang_with_handler`: that handler installed, the task never ends.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

log = logging.getLogger(__name__)
ALARMS: list[int] = []  # signals the app's own SIGALRM handler received


def on_alarm(signum: int, frame: object) -> None:
    ALARMS.append(signum)


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> dict:
    out = Path(HydraConfig.get().runtime.output_dir)
    seen = {"ab_in_cfg": "ab" in cfg, "x": cfg.x, "run": cfg.run, "output_dir": str(out)}
    (out / "task_saw.json").write_text(json.dumps(seen))
    with open(Path.cwd() / "task_calls.jsonl", "a") as calls:
        calls.write(json.dumps(seen) + "\n")
    log.info("task started: run=%s x=%s", cfg.run, cfg.x)
    if cfg.fail_run is not None and cfg.run == cfg.fail_run:
        raise ValueError("boom")
    if cfg.mode in ("alarm", "alarm_at_start"):
        _wait_for_own_alarm(out, install=cfg.mode == "alarm")
    if cfg.mode == "hang_with_handler":
        assert signal.getsignal(signal.SIGALRM) is on_alarm
        while True:
            time.sleep(0.1)
    return {"score": float(cfg.x) + 0.01 * cfg.seed, "pair": (1, 2), "tags": {"a"}}


def _wait_for_own_alarm(out: Path, install: bool) -> None:
    """Arm signal.alarm(1) and wait for the app's own handler (installed here when `install`)."""
    previous = signal.signal(signal.SIGALRM, on_alarm) if install else None
    try:
        handler = signal.getsignal(signal.SIGALRM)
        signal.alarm(1)
        deadline = time.monotonic() + 10
        while not ALARMS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        signal.alarm(0)
        if install:
            signal.signal(signal.SIGALRM, previous)
    seen = {"handler_calls": len(ALARMS), "handler_was_the_apps": handler is on_alarm}
    (out / "alarm.json").write_text(json.dumps(seen))
    if not ALARMS:
        raise RuntimeError("the app's own SIGALRM handler was never called")


if __name__ == "__main__":
    if "mode=alarm_at_start" in sys.argv or "mode=hang_with_handler" in sys.argv:
        signal.signal(signal.SIGALRM, on_alarm)  # the app's handler, from before Hydra and the sweeper start
    main()
