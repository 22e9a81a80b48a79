"""A real sweep whose runs return known scores: summary.json must carry stats-spec's worked example."""

from __future__ import annotations

import json

import pytest
from sweeper_cli import METTA_LIKE, run_sweep, write_experiment

from metta_ab import exit_status

pytestmark = pytest.mark.hydra_independent  # the analysis of finished runs: CI runs it on one Hydra

A = [0.42, 0.55, 0.31, 0.61, 0.48]
B = [0.58, 0.66, 0.49, 0.72, 0.53, 0.81, 0.60, 0.44]
PAIRED_C = [0.40, 0.52, 0.33, 0.60, 0.47, 0.55]
PAIRED_T = [0.46, 0.55, 0.41, 0.63, 0.49, 0.62]


def test_unpaired_sweep_reproduces_the_welch_example(tmp_path):
    # A has 8 planned runs of which 6, 7, 8 fail permanently: 5 completed scores against B's 8.
    write_experiment(
        tmp_path / "exp.py",
        f"""
experiment = (
    create_experiment("worked", "stats-spec worked example")
    .add_variant(name="A", known_scores={[*A, 0, 0, 0]})
    .add_variant(name="B", known_scores={B})
    .set_runs_per_variant(8)
    .set_metric("score", direction="max")
    .build()
)
""",
    )
    result = run_sweep(
        METTA_LIKE,
        "ab.experiment=exp.py",
        "ab.paired_seeds=false",
        "ab.max_retries=0",
        "fail_mode=A_run_6+A_run_7+A_run_8",
        "fail_kind=always",
        cwd=tmp_path,
    )
    assert result.returncode == exit_status.RUNS_FAILED  # three runs failed, and the user is told
    summary = json.loads(result.experiment_dir("worked").joinpath("summary.json").read_text())
    assert summary["paired"] is False and summary["control"] == "A" and summary["metric"] == "score"
    a, b = summary["variants"]["A"], summary["variants"]["B"]
    assert (a["planned"], a["completed"], a["failed"]) == (8, 5, 3)
    assert a["values"] == [*A, None, None, None] and b["values"] == B
    assert a["iqm"] == pytest.approx(0.483333, abs=1e-6) and b["iqm"] == pytest.approx(0.5925)
    (c,) = summary["comparisons"]
    assert (c["treatment"], c["control"], c["test"]) == ("B", "A", "welch")
    assert c["difference"] == pytest.approx(0.12975)
    assert c["difference_ci"] == pytest.approx([-0.0233682566, 0.2828682566], abs=1e-9)
    assert c["t_p_value"] == pytest.approx(0.0874831031157, abs=1e-11)  # Welch's t distribution
    assert c["p_method"] == "exact permutation"  # the decision p: Welch's t over all 1287 relabellings
    assert c["p_value"] == pytest.approx(0.0916860916861, abs=1e-11)
    assert c["mannwhitney_p"] == pytest.approx(0.127428127428, abs=1e-11)
    assert c["permutation_p"] == pytest.approx(0.0916860916861, abs=1e-11)
    assert c["prob_improvement"] == pytest.approx(0.775)
    assert c["hedges_g"] == pytest.approx(1.003575196, abs=1e-9)
    assert c["verdict"] == "inconclusive"
    text = result.experiment_dir("worked").joinpath("summary.txt").read_text()
    assert "Inconclusive: B vs A on score" in text and "Welch t, exact permutation p=0.092" in text


def test_paired_sweep_uses_the_paired_test(tmp_path):
    write_experiment(
        tmp_path / "exp.py",
        f"""
experiment = (
    create_experiment("paired", "paired example")
    .add_variant(name="C", known_scores={PAIRED_C})
    .add_variant(name="T", known_scores={PAIRED_T})
    .set_runs_per_variant(6)
    .set_metric("score")
    .build()
)
""",
    )
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    assert result.returncode == 0, result.output
    summary = json.loads(result.experiment_dir("paired").joinpath("summary.json").read_text())
    assert summary["paired"] is True
    (c,) = summary["comparisons"]
    assert c["test"] == "paired_t"
    assert c["p_value"] == pytest.approx(0.00502560467, abs=1e-10)
    assert c["wilcoxon_p"] == pytest.approx(0.03125)
    assert c["pair_correlation"] == pytest.approx(0.972, abs=5e-4)
    assert c["verdict"] == "better"
    text = result.experiment_dir("paired").joinpath("summary.txt").read_text()
    assert "T is better than C on score by 0.0483 (10%)" in text
