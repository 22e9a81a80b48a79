"""Example Hydra training app, laid out like Metta's ``tools/train.py``.

It exists to give the A/B sweeper something real to launch: every run trains a small Q-learning
agent on grid-world navigation maps (``gridworld.py``) in a second or two on a CPU, evaluates it
every ``trainer.evaluate_interval`` steps, logs to W&B (offline) when ``wandb.enabled``, writes
``metrics.json`` into the Hydra job's output directory and returns the final metrics.

    python examples/train.py run=my_run trainer.learning_rate=0.05 wandb=off
    python examples/train.py run=lp trainer.curriculum=/env/mettagrid/curriculum/navigation/learning_progress
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

if __package__:
    from .gridworld import Evaluation, TrainConfig, TrainResult, train
else:  # run as a script: examples/ is on sys.path here, but not where submitit or ray unpickle the task,
    # so the module travels with the task by value instead of being imported there by name.
    import gridworld

    with contextlib.suppress(ImportError):
        import cloudpickle

        cloudpickle.register_pickle_by_value(gridworld)
    from gridworld import Evaluation, TrainConfig, TrainResult, train

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def train_config(cfg: DictConfig) -> TrainConfig:
    """The numpy trainer's settings from the Hydra config (optional keys fall back to defaults)."""
    trainer = cfg.trainer
    defaults = TrainConfig()
    simulation = trainer.get("simulation") or {}
    evaluate_interval = simulation.get("evaluate_interval") or trainer.get("evaluate_interval")
    options = trainer.get("curriculum_options")
    return TrainConfig(
        total_timesteps=int(trainer.total_timesteps),
        learning_rate=float(trainer.learning_rate),
        gamma=float(trainer.get("gamma", defaults.gamma)),
        epsilon_start=float(trainer.get("epsilon_start", defaults.epsilon_start)),
        epsilon_end=float(trainer.get("epsilon_end", defaults.epsilon_end)),
        epsilon_decay_fraction=float(trainer.get("epsilon_decay_fraction", defaults.epsilon_decay_fraction)),
        num_envs=int(trainer.get("num_envs", defaults.num_envs)),
        evaluate_interval=int(evaluate_interval or defaults.evaluate_interval),
        eval_episodes_per_map=int(simulation.get("episodes_per_map", defaults.eval_episodes_per_map)),
        curriculum=str(trainer.curriculum),
        curriculum_options=OmegaConf.to_container(options, resolve=True) if options else {},
        agent=str(cfg.agent.get("type", defaults.agent)),
        q_init=float(cfg.agent.get("q_init", defaults.q_init)),
    )


def write_metrics(run_dir: Path, result: TrainResult) -> Path:
    """Write ``metrics.json`` atomically: a temporary file in the same directory, then os.replace."""
    path = run_dir / METRICS_FILE
    payload = {"final": result.final, "curve": result.curve}
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=f".{METRICS_FILE}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates the file 0600; make it as readable as a normal file
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def start_wandb(cfg: DictConfig, run_dir: Path) -> Any:
    """Start a W&B run whose files all live under ``run_dir`` (wandb is imported only here)."""
    import wandb

    wcfg = cfg.wandb
    run_dir.mkdir(parents=True, exist_ok=True)
    return wandb.init(
        project=wcfg.project,
        entity=wcfg.get("entity"),
        group=wcfg.get("group"),
        name=wcfg.get("name"),
        id=wcfg.get("run_id"),
        job_type=wcfg.get("job_type"),
        tags=list(wcfg.get("tags") or []),
        notes=wcfg.get("notes"),
        config=OmegaConf.to_container(cfg, resolve=True),
        dir=str(run_dir),
        # An explicit WANDB_MODE in the environment wins over the config.
        mode=None if os.environ.get("WANDB_MODE") else wcfg.get("mode", "offline"),
        # console="off": no stdout/stderr wrapping, which matters when a worker process is reused.
        settings=wandb.Settings(silent=True, console="off"),
    )


def wandb_metrics(evaluation: Evaluation) -> dict[str, float | int]:
    """What one evaluation logs to W&B."""
    metrics: dict[str, float | int] = {
        "eval/reward": evaluation.reward,
        "eval/success_rate": evaluation.success_rate,
        "eval/episode_length": evaluation.episode_length,
        "train/episodes": evaluation.train_episodes,
        "train/epsilon": evaluation.epsilon,
    }
    metrics.update({f"eval/success/{name}": v for name, v in evaluation.task_success.items()})
    metrics.update({f"curriculum/p/{name}": v for name, v in evaluation.curriculum_probabilities.items()})
    return metrics


def run_training(cfg: DictConfig) -> dict[str, float]:
    """Train, log and write metrics for one job; return the final metrics as plain floats."""
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = train_config(cfg)
    seed = int(cfg.seed)
    started = time.perf_counter()

    run = start_wandb(cfg, run_dir) if cfg.wandb.get("enabled", False) else None
    exit_code = 1  # what W&B records if training raises
    try:

        def on_eval(evaluation: Evaluation) -> None:
            if run is not None:
                run.log(wandb_metrics(evaluation), step=evaluation.step)

        result = train(config, seed=seed, on_eval=on_eval)
        final = result.final
        write_metrics(run_dir, result)
        seconds = time.perf_counter() - started
        if run is not None:
            run.summary.update({**final, "timesteps": result.evaluations[-1].step, "train_seconds": seconds})
        exit_code = 0
    finally:
        if run is not None:
            run.finish(exit_code=exit_code)

    log.info(
        "run=%s seed=%d agent=%s curriculum=%s lr=%g steps=%d reward=%.4f success_rate=%.3f "
        "episode_length=%.2f time=%.2fs",
        cfg.run,
        seed,
        config.agent,
        config.curriculum,
        config.learning_rate,
        result.evaluations[-1].step,
        final["reward"],
        final["success_rate"],
        final["episode_length"],
        seconds,
    )
    return final


@hydra.main(config_path="conf", config_name="train_job", version_base=None)
def main(cfg: DictConfig) -> dict[str, float]:
    return run_training(cfg)


if __name__ == "__main__":
    main()
