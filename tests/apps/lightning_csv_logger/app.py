"""A third-party-style Hydra app: the task returns nothing and logs as a Lightning app with the Lightning +
Hydra template's `csv` logger does: Lightning's CSVLogger, `<output dir>/csv/version_0/metrics.csv`
(lightning is not installed here; `MetricsCSV` writes the file the way Lightning 2.x's `_ExperimentWriter`
does). One row per `log_metrics` call holding only what it logged, plus `epoch` and `step`: training rows
every `log_every_n_steps` batches, a validation row and a training-epoch row at each epoch's end (same step),
the test row last. The header is every name logged so far, sorted; rows are buffered and appended every
`flush_logs_every_n_steps` steps, the file rewritten with the wider header when a new name appears."""

from __future__ import annotations

import csv
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

BATCHES_PER_EPOCH = 30
LOG_EVERY_N_STEPS = 10  # Trainer(log_every_n_steps=...)
FLUSH_EVERY_N_STEPS = 25  # CSVLogger(flush_logs_every_n_steps=...)


def score(quality: float, seed: int, step: int, steps: int) -> float:
    final = quality + 0.01 * ((seed * 3 + round(quality * 10)) % 4)
    return final * step / (steps - 1)


class MetricsCSV:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, float]] = []
        self.keys: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.rows.append({**metrics, "step": step})
        if (step + 1) % FLUSH_EVERY_N_STEPS == 0:
            self.save()

    def save(self) -> None:
        if not self.rows:
            return
        new_keys = set().union(*self.rows) - set(self.keys)
        self.keys = sorted([*self.keys, *new_keys])
        exists = self.path.is_file()
        if new_keys and exists:  # a wider header: the rows so far are written again under it
            with self.path.open(newline="") as file:
                old = list(csv.DictReader(file))
            with self.path.open("w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=self.keys)
                writer.writeheader()
                writer.writerows(old)
        with self.path.open("a" if exists else "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.keys)
            if not exists:
                writer.writeheader()
            writer.writerows(self.rows)
        self.rows = []


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg: DictConfig) -> None:
    logger = MetricsCSV(Path(HydraConfig.get().runtime.output_dir) / "csv" / "version_0" / "metrics.csv")
    step = 0
    for epoch in range(cfg.steps):
        for _ in range(BATCHES_PER_EPOCH):
            step += 1
            if step % LOG_EVERY_N_STEPS == 0:
                logger.log_metrics({"train/loss_step": 1.0 / step, "epoch": epoch}, step - 1)
        accuracy = score(cfg.quality, cfg.seed, epoch, cfg.steps)
        logger.log_metrics({"val/acc": accuracy, "val/loss": 1.0 - accuracy / 2, "epoch": epoch}, step)
        logger.log_metrics({"train/acc_epoch": accuracy * 0.9, "train/loss_epoch": 1.0 / step, "epoch": epoch}, step)
    final = score(cfg.quality, cfg.seed, cfg.steps - 1, cfg.steps)
    logger.log_metrics({"test/acc": final, "test/loss": 1.0 - final / 2, "epoch": cfg.steps - 1}, step)
    logger.save()  # Trainer teardown: logger.finalize("success")


if __name__ == "__main__":
    main()
