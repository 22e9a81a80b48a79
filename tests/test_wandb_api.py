"""`metta-ab analyze --wandb`: a group fetched from the W&B API becomes an experiment directory.

No W&B server is reachable here, so the API is replaced at its narrow interface (`api.runs(path, filters)`
and the run fields metta_ab.sources.wandb_group reads) by responses stored in tests/data/wandb_api_group.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from metta_ab.analysis.results import analyze_directory
from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import AnalysisSettings
from metta_ab.sources.wandb_group import fetch_group, write_experiment_dir

pytestmark = pytest.mark.hydra_independent  # the analysis of finished runs: CI runs it on one Hydra

RECORDED = json.loads((Path(__file__).parent / "data" / "wandb_api_group.json").read_text())


class RecordedRun:
    def __init__(self, data: dict) -> None:
        self.name, self.tags, self.state = data["name"], data["tags"], data["state"]
        self.config, self.summary, self._history = data["config"], data["summary"], data["history"]

    def scan_history(self):
        return iter(self._history)


class RecordedApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def runs(self, path, filters):
        self.calls.append((path, filters))
        return [RecordedRun(r) for r in RECORDED["runs"] if path == RECORDED["path"]]


def test_group_becomes_an_experiment_directory_and_is_analyzed(tmp_path):
    api = RecordedApi()
    runs = fetch_group(RECORDED["path"], RECORDED["group"], api=api)
    assert api.calls == [(RECORDED["path"], {"group": "lr_experiment"})]
    exp_dir = tmp_path / "lr_experiment"
    experiment = write_experiment_dir(runs, RECORDED["group"], exp_dir)
    assert [v.name for v in experiment.variants] == ["lr_0.01", "lr_0.1"] and experiment.runs_per_variant == 4

    results = analyze_directory(exp_dir)
    assert results.metric == "eval/reward"
    crashed = next(r for r in results.records if r.job_dir == "lr_0.01_run_4")
    assert crashed.status == "failed" and "crashed" in crashed.error
    assert results.scores["lr_0.01"][3] != results.scores["lr_0.01"][3]  # NaN: the crashed run has no score
    assert results.metrics["lr_0.1_run_2"].curves["eval/reward"].steps[-1] == 50000
    (comparison,) = results.analysis.comparisons
    assert comparison.treatment == "lr_0.1" and comparison.verdict == "better"


def test_a_group_without_variant_tags_is_a_clear_error(tmp_path):
    runs = [RecordedRun({**r, "tags": ["lr-sweep"]}) for r in RECORDED["runs"]]
    with pytest.raises(ExperimentError, match="found 0 variant"):
        write_experiment_dir(runs, "lr_experiment", tmp_path / "x")


@pytest.mark.slow
def test_cli_needs_a_group_with_wandb(tmp_path):
    metta_ab = Path(sys.executable).parent / "metta-ab"
    result = subprocess.run([str(metta_ab), "analyze", "--wandb", "team/proj"], capture_output=True, text=True)
    assert result.returncode == 2 and "--wandb needs --group GROUP" in result.stderr


def test_a_suite_trained_one_task_per_run_keeps_its_tasks(tmp_path):
    """The group's runs, each given a task:<name> tag as a sweep of `.add_task(...)` does, and a second task
    where lr_0.1 is no better: the suite is analyzed per task and in aggregate from the W&B data."""
    runs = []
    for i, data in enumerate(RECORDED["runs"]):
        runs.append(RecordedRun({**data, "tags": [*data["tags"], "task:maze"]}))
        flat = {**data["summary"], "eval/reward": 1.0 + 0.01 * (i * 3 % 7)}
        other = {**data, "name": data["name"].replace("_run_", "_lava_run_"), "summary": flat, "history": []}
        runs.append(RecordedRun({**other, "tags": [*data["tags"], "task:lava"]}))
    exp_dir = tmp_path / "lr_experiment"
    experiment = write_experiment_dir(runs, RECORDED["group"], exp_dir)
    assert [t.name for t in experiment.tasks] == ["maze", "lava"]
    assert (exp_dir / "lr_0.1_lava_run_2").is_dir() and (exp_dir / "lr_0.1_maze_run_2").is_dir()
    results = analyze_directory(exp_dir, AnalysisSettings(metric="eval/reward", direction="max"))
    assert results.suite is not None and results.suite.tasks == ["maze", "lava"]
    verdicts = {t: a.comparisons[0].verdict for t, a in results.suite.per_task.items()}
    assert verdicts["maze"] == "better" and verdicts["lava"] == "inconclusive"
