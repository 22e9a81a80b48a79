"""Non-finite scores (a diverged run's inf or NaN) through `metta-ab analyze`: recorded in summary.json with
how each was treated, named in a warning, ranked as extremes by the rank tests, left out of the mean tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from test_verdict_analyze import analyze, build

pytestmark = [pytest.mark.slow, pytest.mark.hydra_independent]  # the analysis of finished runs: CI runs it on one Hydra


def test_non_finite_scores_are_recorded_ranked_and_left_out_of_mean_tests(tmp_path):
    control = [0.50, 0.55, 0.45, 0.52, 0.48, 0.51, 0.47]
    treatment = [0.60, 0.58, -math.inf, 0.62, math.nan, 0.59, 0.61]  # one diverged to -inf, one to NaN
    summary, text = analyze(build(tmp_path / "e", {"C": control, "T": treatment}, paired=False))
    recorded = {r["job_dir"]: r for r in summary["non_finite_scores"]}
    assert set(recorded) == {"T_run_3", "T_run_5"}
    assert recorded["T_run_3"]["value"] == "-inf" and "extreme" in recorded["T_run_3"]["treated_as"]
    assert recorded["T_run_5"]["value"] == "nan" and "left out of every test" in recorded["T_run_5"]["treated_as"]
    assert summary["variants"]["T"]["values"] == [0.60, 0.58, None, 0.62, None, 0.59, 0.61]
    assert any("T_run_3 (-inf), T_run_5 (nan)" in w for w in summary["warnings"])
    assert "T_run_3 (-inf)" in text
    (c,) = summary["comparisons"]
    ranked = [0.60, 0.58, -math.inf, 0.62, 0.59, 0.61]  # NaN has no rank; -inf ranks below everything
    rank_ref = sps.mannwhitneyu(ranked, control, method="exact")
    assert c["test"] == "mann-whitney" and c["n_infinite"] == 1
    assert c["p_value"] == pytest.approx(rank_ref.pvalue) and c["rank_statistic"] == rank_ref.statistic
    finite = [0.60, 0.58, 0.62, 0.59, 0.61]
    assert c["t_p_value"] == pytest.approx(sps.ttest_ind(finite, control, equal_var=False).pvalue)
    assert c["difference"] == pytest.approx(np.mean(finite) - np.mean(control))
    assert any("1 run(s) with an infinite score" in w and "(5 vs 7 finite)" in w for w in c["warnings"])


def test_a_returned_inf_is_recorded_and_summary_json_stays_strict_json(tmp_path):
    directory = build(tmp_path / "e", {"C": [0.5, 0.6, 0.4], "T": [0.7, 0.8, 0.9]}, paired=False)
    from metta_ab.records.ledger import write_status

    write_status(
        directory / "T_run_2",
        {"status": "completed", "attempt": 1, "seed": 1002, "return_value": {"score": math.inf, "steps": 10}},
    )
    (directory / "T_run_2" / "metrics.json").unlink()
    summary, _ = analyze(directory)  # json.loads of summary.json: strict JSON was written (allow_nan=False)
    (run,) = [r for r in summary["runs"] if r["job_dir"] == "T_run_2"]
    assert run["return_value"] == {"score": "inf", "steps": 10} and run["metric_sources"] == ["return value"]
    assert [r["job_dir"] for r in summary["non_finite_scores"]] == ["T_run_2"]
