"""The app's own Hydra callback: appends what Hydra hands it to a JSON-lines file."""

from __future__ import annotations

import json
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class Recorder(Callback):
    def __init__(self, path: str) -> None:
        self.path = path

    def _write(self, entry: dict[str, Any]) -> None:
        with open(self.path, "a") as out:
            out.write(json.dumps(entry) + "\n")

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        value = job_return._return_value
        entry = {
            "event": "job_end",
            "run": str(config.get("run")),
            "status": job_return.status.name,
            "type": type(value).__name__,
            "module": type(value).__module__,
        }
        if isinstance(value, BaseException):
            entry["message"] = str(value)
        if isinstance(value, dict):
            entry["value_types"] = {str(k): type(v).__name__ for k, v in value.items()}
        self._write(entry)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._write({"event": "multirun_start", "sweep_dir": str(config.hydra.sweep.dir)})

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._write({"event": "multirun_end", "sweep_dir": str(config.hydra.sweep.dir)})
