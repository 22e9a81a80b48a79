"""Apps that return nothing, through the real Hydra command line: the verdict comes from what they wrote
(TensorBoard events, a progress.csv, TorchRL's CSV scalars, Lightning's CSVLogger metrics.csv, a text log
read by the experiment's reader function)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sweeper_cli import APPS, run_sweep, write_experiment

from metta_ab import exit_status

pytest.importorskip("tensorboardX")  # the tensorboard_logger app writes with it (metta-ab reads without it)
pytestmark = [pytest.mark.slow, pytest.mark.hydra_independent]  # analysis: one Hydra in CI

SEEDS = (1, 2, 3)  # runs 1-3, paired (ab.base_seed=1)
QUALITY = {"weak": 0.5, "strong": 1.0}


def final_score(quality: float, seed: int) -> float:
    """What the apps' curves end at (tests/apps/*/app.py `score` at the last step)."""
    return quality + 0.01 * ((seed * 3 + round(quality * 10)) % 4)


EXPERIMENT = """
experiment = (
    create_experiment("{name}")
    .add_variant(name="weak", quality=0.5)
    .add_variant(name="strong", quality=1.0)
    .set_runs_per_variant(3)
    .set_metric("{metric}", direction="max"{reader})
    .build()
)
"""

READER = '''
import re


def read_score(job_dir):
    """The number after 'final score:' in the app's text log, None when the line is missing."""
    match = re.search(r"^final score: (\\S+)$", (job_dir / "train.log").read_text(), re.MULTILINE)
    return float(match.group(1)) if match else None

'''


def check_verdict(summary: dict, metric: str) -> None:
    assert summary["metric"] == metric and summary["paired"] is True
    for variant, quality in QUALITY.items():
        assert summary["variants"][variant]["values"] == pytest.approx(
            [final_score(quality, seed) for seed in SEEDS], abs=1e-4
        )
    (comparison,) = summary["comparisons"]
    assert (comparison["treatment"], comparison["control"]) == ("strong", "weak")
    assert comparison["verdict"] == "better" and comparison["test"] == "paired_t"
    assert comparison["difference"] == pytest.approx((0.51 + 0.51 + 0.47) / 3, abs=1e-4)


def sweep(
    app: str,
    tmp_path,
    name: str,
    metric: str,
    reader: str = "",
    status: int = exit_status.VERDICT,
    overrides: tuple[str, ...] = (),
):
    write_experiment(
        tmp_path / "exp.py",
        (READER if reader else "")
        + EXPERIMENT.format(name=name, metric=metric, reader=f", reader={reader}" if reader else ""),
    )
    result = run_sweep(APPS / app / "app.py", "ab.experiment=exp.py", *overrides, cwd=tmp_path)
    assert result.returncode == status, result.output
    directory = result.experiment_dir(name)
    return directory, json.loads((directory / "summary.json").read_text())


def test_tensorboard_scalars_give_the_verdict(tmp_path):
    directory, summary = sweep("tensorboard_logger", tmp_path, "tb", "eval/return")
    check_verdict(summary, "eval/return")
    for run in summary["runs"]:
        assert run["return_value"] is None
        (source,) = run["metric_sources"]
        assert source.startswith("tensorboard events (tb/train/events.out.tfevents.")
    assert not [w for w in summary["warnings"] if "No run reported" in w]
    assert "Numbers from:   tensorboard events (6 runs)\n" in (directory / "summary.txt").read_text()


def test_a_progress_csv_gives_the_verdict(tmp_path):
    _, summary = sweep("progress_csv_logger", tmp_path, "csv", "rollout/ep_rew_mean")
    check_verdict(summary, "rollout/ep_rew_mean")
    assert {tuple(run["metric_sources"]) for run in summary["runs"]} == {("sb3/progress.csv",)}


def test_torchrl_csv_scalars_give_the_verdict(tmp_path):
    directory, summary = sweep("torchrl_csv_logger", tmp_path, "torchrl", "eval_reward_episode_reward_mean")
    check_verdict(summary, "eval_reward_episode_reward_mean")
    exp = "mappo_balance_mlp__0f1e2d3c_26_01_01-00_00_00"
    assert {tuple(run["metric_sources"]) for run in summary["runs"]} == {
        (f"torchrl csv scalars ({exp}/{exp}/scalars)",)
    }
    assert "Numbers from:   torchrl csv scalars (6 runs)\n" in (directory / "summary.txt").read_text()


@pytest.mark.parametrize(
    "launcher", [(), ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")], ids=["basic", "joblib"]
)
def test_lightning_csv_logger_metrics_give_the_verdict(tmp_path, launcher):
    """Lightning's CSVLogger as the Lightning + Hydra template configures it: csv/version_0/metrics.csv, sparse
    training / validation rows and the test row last (tests/apps/lightning_csv_logger)."""
    directory, summary = sweep("lightning_csv_logger", tmp_path, "lightning", "test/acc", overrides=launcher)
    check_verdict(summary, "test/acc")
    assert {tuple(run["metric_sources"]) for run in summary["runs"]} == {("csv log (csv/version_0/metrics.csv)",)}
    assert "Numbers from:   csv log (6 runs)\n" in (directory / "summary.txt").read_text()


def test_a_misnamed_metric_lists_what_the_runs_reported(tmp_path):
    _, summary = sweep("progress_csv_logger", tmp_path, "typo", "rollout/ep_rew", status=exit_status.NO_VERDICT)
    warning = summary["no_verdict"]
    assert warning.startswith("No run reported") and "the runs reported 'rollout/ep_rew_mean', " in warning
    assert ".set_metric('rollout/ep_rew_mean', ...)" in warning


def test_a_reader_gives_the_verdict_in_the_sweep_in_analyze_and_from_the_saved_experiment(tmp_path):
    directory, summary = sweep("text_logger", tmp_path, "textlog", "score", reader="read_score")
    check_verdict(summary, "score")
    assert {tuple(run["metric_sources"]) for run in summary["runs"]} == {("reader read_score",)}
    saved = (directory / "experiment_config.yaml").read_text()
    assert f"reader: {tmp_path / 'exp.py'}:read_score" in saved

    # `metta-ab analyze` in a fresh process, from experiment_config.yaml alone.
    env = {**os.environ, "WANDB_MODE": "offline"}
    proc = subprocess.run(
        [sys.executable, "-m", "metta_ab", "analyze", str(directory), "--no-plots"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "strong is better than weak on score" in proc.stdout
    check_verdict(json.loads((directory / "analyses" / "declared" / "summary.json").read_text()), "score")

    # The saved experiment as the experiment file: the sweep resumes (nothing to run) and reads with the reader.
    (directory / "summary.json").unlink()
    result = run_sweep(
        APPS / "text_logger" / "app.py",
        f"ab.experiment={directory / 'experiment_config.yaml'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.output
    summary = json.loads((directory / "summary.json").read_text())
    check_verdict(summary, "score")
    assert {tuple(run["metric_sources"]) for run in summary["runs"]} == {("reader read_score",)}
