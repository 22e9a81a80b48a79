"""A real sweep whose runs return known scores: summary.json must carry stats-spec's worked example."""

from __future__ import annotations

import json

import pytest
from sweeper_cli import METTA_LIKE, run_sweep, write_experiment

from metta_ab import exit_status

pytestmark = [pytest.mark.slow, pytest.mark.hydra_independent]  # the analysis of finished runs: CI runs it on one Hydra

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
    assert c["difference_ci_method"] == "permutation_inversion"  # the CI of the test that decided, not Welch's t
    assert c["difference_ci"][0] < 0 < c["difference_ci"][1] and c["difference_ci_level"] == 0.95
    assert c["t_p_value"] == pytest.approx(0.0874831031157, abs=1e-11)  # Welch's t distribution
    assert c["p_method"] == "exact permutation"  # the decision p: Welch's t over all 1287 relabellings
    assert c["p_value"] == pytest.approx(0.0916860916861, abs=1e-11)
    assert c["mannwhitney_p"] == pytest.approx(0.127428127428, abs=1e-11)
    assert c["permutation_p"] == pytest.approx(0.0916860916861, abs=1e-11)
    assert c["prob_improvement"] == pytest.approx(0.775)
    assert c["hedges_g"] == pytest.approx(1.003575196, abs=1e-9)
    assert c["verdict"] == "inconclusive"
    text = result.experiment_dir("worked").joinpath("summary.txt").read_text()
    assert "Inconclusive: B vs A on score" in text and "Welch t, exact permutation p=0.091" in text
    # the detectable effect on the test's scale, named as such (pooled SDs: the independent runs' d)
    assert f"reliably detect differences above {c['mde']:.3g} (d = {c['mde_d']:.2f} pooled SD)" in text


SKEWED_A = [4.73, 0.98, 0.3, 0.84, 0.11, 0.18]
SKEWED_B = [16.93, 2.03, 6.16, 0.4, 4.34, 4.9]  # Welch's t CI vs A [-1.51, 10.7]; permutation p 0.039
SKEWED_C = [9.5, 3.1, 12.8, 2.6, 31.0, 5.2]


def test_skewed_unpaired_sweep_prints_the_ci_of_the_permutation_test_adjusted_by_holm(tmp_path):
    """Independent seeds, skewed scores, two treatments: each verdict sits beside the interval that inverts the
    permutation test that decided it, at the level that agrees with its Holm-adjusted p, and says so."""
    write_experiment(
        tmp_path / "exp.py",
        f"""
experiment = (
    create_experiment("skewed", "skewed independent runs")
    .add_variant(name="A", known_scores={SKEWED_A})
    .add_variant(name="B", known_scores={SKEWED_B})
    .add_variant(name="C", known_scores={SKEWED_C})
    .set_runs_per_variant(6)
    .set_metric("score", direction="max")
    .build()
)
""",
    )
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.paired_seeds=false", cwd=tmp_path)
    assert result.returncode == exit_status.VERDICT
    directory = result.experiment_dir("skewed")
    summary = json.loads(directory.joinpath("summary.json").read_text())
    b, c = summary["comparisons"]
    for comp in (b, c):
        assert comp["p_method"] == "exact permutation" and comp["difference_ci_method"] == "permutation_inversion"
        assert comp["verdict"] == "better" and comp["p_adjusted"] < 0.05 and comp["difference_ci"][0] > 0
    # Holm: C's p 0.0087 doubled to 0.017, its CI at 1 - 0.05 / 2; B's is the last step (x1), at 95%
    assert c["p_adjusted"] == pytest.approx(2 * 8 / 924) and c["difference_ci_level"] == pytest.approx(0.975)
    assert b["p_adjusted"] == pytest.approx(6 / 154) and b["difference_ci_level"] == pytest.approx(0.95)
    assert b["difference_ci"] == pytest.approx([0.22, 10.405], abs=1e-5)
    text = directory.joinpath("summary.txt").read_text()
    assert (
        "B is better than A on score by 4.6: difference +4.6, 95% CI adjusted for 2 comparisons "
        "[0.22, 10.4] (Holm: at the 95% level; the shifts the permutation test does not reject), Welch t, exact "
        "permutation p=0.038, Holm-adjusted p=0.038." in " ".join(text.split())
    )
    assert "95% CI adjusted for 2 comparisons [1.3, 21.4] (Holm: at the 97.5% level;" in " ".join(text.split())


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
    assert (
        f"reliably detect differences above {c['mde']:.3g} (d_z = {c['mde_d']:.2f} SD of the pair differences)" in text
    )


def test_identical_runs_of_a_variant_with_different_seeds_are_pointed_out(tmp_path):
    """Every run of A scores the same although its seed differs (an app that ignores the seed it is given):
    the summary says so; B's runs differ and are not named."""
    write_experiment(
        tmp_path / "exp.py",
        """
experiment = (
    create_experiment("copies")
    .add_variant(name="A", known_scores=[0.5, 0.5, 0.5, 0.5])
    .add_variant(name="B", known_scores=[10001.0, 10004.0, 10002.5, 10006.0])
    .set_runs_per_variant(4)
    .set_metric("score")
    .build()
)
""",
    )
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    assert result.returncode == 0, result.output
    summary = json.loads(result.experiment_dir("copies").joinpath("summary.json").read_text())
    note = "the runs of 'A' (4 runs, each 0.5) scored exactly the same although their seeds differ"
    assert any(w.startswith(note) for w in summary["warnings"]), summary["warnings"]
    assert not any("'B'" in w for w in summary["warnings"] if "scored exactly the same" in w)
    text = result.experiment_dir("copies").joinpath("summary.txt").read_text()
    assert note in text
    # large scores read whole, in the per-seed list and in the returned values' mean ± SD alike
    assert "per seed: 10001 10004 10002 10006" in text and "score=10003 ± 2.1" in text
