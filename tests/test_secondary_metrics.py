"""Secondary metrics (`.add_metric`): declared with the experiment, reported beside the verdict with one Holm
family of their own, never changing it. Checked against scipy's paired t-test and a brute-force Holm."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from metta_ab import ABExperiment, ExperimentError, create_experiment
from tests.sweeper_cli import EXAMPLE_APP, run_sweep, write_experiment


def _two_variants():
    return create_experiment("sec").add_variant(name="a", lr=1).add_variant(name="b", lr=2).set_metric("reward")


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment, written out: the k-th smallest p times (m - k + 1), running maximum, cap 1."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda b: b.add_metric("reward"), r"secondary metric 'reward' is the primary metric"),
        (lambda b: b.add_metric("time", "up"), r"'time': direction must be 'max' or 'min', got 'up'"),
        (lambda b: b.add_metric("time", "min").add_metric("time", "min"), r"'time' is declared twice"),
        (lambda b: b.add_metric("time", curve_summary="threshold"), r"curve_summary must be 'final', 'auc' or"),
        (lambda b: b.add_metric("time", last_k=0), r"'time': last_k must be"),
        (lambda b: b.add_metric("eval/{task}/time"), r"needs a plain name \(no \{task\}\)"),
        (
            lambda b: b.add_task("maze", env="maze").add_task("room", env="room").add_metric("time", "min"),
            r"secondary metrics are analyzed per run, and a suite's runs are scored per task",
        ),
    ],
)
def test_a_wrong_secondary_metric_is_one_error_naming_it(declare, message):
    with pytest.raises(ExperimentError, match=message):
        declare(_two_variants()).build()


def test_secondary_metrics_are_saved_with_the_experiment():
    experiment = _two_variants().add_metric("wall_clock", "min").add_metric("success", curve_summary="auc").build()
    again = ABExperiment.from_dict(experiment.to_dict())
    assert again.secondary_metrics == experiment.secondary_metrics
    assert [m.name for m in again.secondary_metrics] == ["wall_clock", "success"]


EXPERIMENT = """
experiment = (
    create_experiment("sec", "learning rates, with secondary metrics")
    .add_variant(name="lr_low", trainer__learning_rate=0.01, run="low")
    .add_variant(name="lr_high", trainer__learning_rate=0.1, run="high")
    .add_variant(name="lr_mid", trainer__learning_rate=0.03, run="mid")
    .set_runs_per_variant(4)
    .set_metric("reward", direction="max")
    .add_metric("success_rate", "max", curve_summary="returned")
    .add_metric("episode_length", "min", curve_summary="returned")
    .add_metric("wall_clok", "min")
    .build()
)
"""


@pytest.mark.slow
def test_secondary_metrics_are_reported_beside_the_verdict_in_a_family_of_their_own(tmp_path):
    experiment = write_experiment(tmp_path / "exp.py", EXPERIMENT)
    sweep = run_sweep(
        EXAMPLE_APP, f"ab.experiment={experiment}", "trainer.total_timesteps=20000", "wandb=off", cwd=tmp_path
    )
    assert sweep.returncode == 0, sweep.output  # a secondary metric no run reported does not take the verdict away
    report = json.loads((sweep.experiment_dir("sec") / "summary.json").read_text())
    text = (sweep.experiment_dir("sec") / "summary.txt").read_text()

    primary = report["comparisons"]
    assert [c["family_size"] for c in primary] == [2, 2]
    assert [c["p_adjusted"] for c in primary] == pytest.approx(holm([c["p_value"] for c in primary]))

    returned = {(r["variant"], r["run_index"]): r["return_value"] for r in report["runs"]}
    secondary = {s["metric"]: s for s in report["secondary_metrics"]}
    raw, adjusted = [], []
    for name in ("success_rate", "episode_length"):
        for comparison in secondary[name]["comparisons"]:
            treated = [returned[comparison["treatment"], i][name] for i in range(1, 5)]
            control = [returned["lr_low", i][name] for i in range(1, 5)]
            assert comparison["p_value"] == pytest.approx(sps.ttest_rel(treated, control).pvalue)
            assert comparison["difference"] == pytest.approx(np.mean(treated) - np.mean(control))
            raw.append(comparison["p_value"])
            adjusted.append(comparison["p_adjusted"])
    assert adjusted == pytest.approx(holm(raw))
    assert secondary["wall_clok"]["missing"].startswith("No run reported 'wall_clok'; the runs reported")
    assert secondary["wall_clok"]["comparisons"] == []

    heading = "Secondary metrics (declared with .add_metric; they do not change the verdict; p-values Holm-adjusted"
    assert f"{heading} over their 4 comparisons):" in text
    assert "  episode_length (lower is better): lr_low " in text
    assert "  wall_clok (lower is better): No run reported 'wall_clok';" in text
    assert ".add_metric(" in text.split("wall_clok (lower is better)")[1].splitlines()[0]
