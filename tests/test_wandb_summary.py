"""The sweep's W&B summary run, written for real in offline mode and read back from its log: it sits in the
runs' project and group with job_type ab-summary and holds the verdict, the tables and the figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metta_ab.sources.wandb_transaction_log import find_wandb_logs, read_wandb_log
from tests.sweeper_cli import EXAMPLE_APP, run_sweep, write_experiment

pytestmark = pytest.mark.slow

EXPERIMENT = """
experiment = (
    create_experiment("wb_summary", "learning rates, summarized in W&B")
    .add_variant(name="lr_low", trainer__learning_rate=0.01, run="low")
    .add_variant(name="lr_high", trainer__learning_rate=0.1, run="high")
    .set_runs_per_variant(3)
    .set_wandb_config(tags=["lr-study"])
    .set_metric("reward", direction="max")
    .build()
)
"""
QUICK = "trainer.total_timesteps=20000"


def _summary_logs(experiment_dir: Path) -> list[Path]:
    return sorted((experiment_dir / "wandb").glob("offline-run-*/run-*.wandb"))


def test_the_summary_run_holds_the_verdict_beside_the_runs(tmp_path):
    experiment = write_experiment(tmp_path / "exp.py", EXPERIMENT)
    sweep = run_sweep(EXAMPLE_APP, f"ab.experiment={experiment}", QUICK, cwd=tmp_path, plots=True, wandb_summary=True)
    assert sweep.returncode == 0, sweep.output
    experiment_dir = sweep.experiment_dir("wb_summary")
    (log,) = _summary_logs(experiment_dir)
    summary_run = read_wandb_log(log)
    (a_run_log,) = find_wandb_logs(experiment_dir / "lr_high_run_1")
    a_run = read_wandb_log(a_run_log)
    assert summary_run.complete and summary_run.job_type == "ab-summary"
    assert (summary_run.project, summary_run.group) == (a_run.project, a_run.group)
    assert set(summary_run.tags) == {"lr-study", "ab-summary"}

    report = json.loads((experiment_dir / "summary.json").read_text())
    (comparison,) = report["comparisons"]
    assert summary_run.summary["verdict/lr_high"] == comparison["verdict"]
    assert summary_run.summary["lr_high/p_value"] == pytest.approx(comparison["p_value"])
    assert summary_run.summary["verdict_text"].startswith(f"lr_high is {comparison['verdict']} than lr_low")

    files = log.parent / "files"
    runs_table = json.loads(next((files / "media" / "table").glob("runs_*.table.json")).read_text())
    assert len(runs_table["data"]) == 6
    by_job = {(row[0], row[2]): row for row in runs_table["data"]}
    assert by_job["lr_high", 2][5] == pytest.approx(report["variants"]["lr_high"]["values"][1])
    figures = {p.name.split("_0_")[0] for p in (files / "media" / "images" / "figures").glob("*.png")}
    assert {"scores", "differences", "learning_curves"} <= figures
    assert "W&B summary run 'wb_summary-verdict' (ab-summary, offline)" in sweep.output
    assert f"wandb sync {log.parent}" in sweep.output


@pytest.mark.parametrize("setting", ["wandb=off", "ab.wandb_summary=false"])
def test_no_summary_run_without_w_and_b_or_when_turned_off(tmp_path, setting):
    experiment = write_experiment(tmp_path / "exp.py", EXPERIMENT)
    sweep = run_sweep(EXAMPLE_APP, f"ab.experiment={experiment}", QUICK, setting, cwd=tmp_path, wandb_summary=True)
    assert sweep.returncode == 0, sweep.output
    assert not (sweep.experiment_dir("wb_summary") / "wandb").exists()
    assert "W&B summary run" not in sweep.output
