"""Time to a threshold through a real sweep: the app (tests/apps/threshold_curves) logs curves that reach
reward 0.5 at steps it is told, and some runs of the slow variant never do. The faster variant is "better",
judged smaller-is-better by the log-rank test (its permutation p), with the hazard ratio beside it; the runs
that never got there are censored, not failed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from logrank_reference import brute_force_p
from scipy import stats as sps
from sweeper_cli import APPS, run_sweep, write_experiment
from test_stats_survival import hazard_ratio_by_brute_force

from metta_ab.text_format import fmt_p

pytestmark = [pytest.mark.slow, pytest.mark.hydra_independent]  # the analysis of finished runs: CI runs it on one Hydra

THRESHOLD_APP = APPS / "threshold_curves" / "app.py"
TOTAL = 1000  # steps per run; a crossing step past it is never reached
FAST = [200, 300, 250, 350, 300, 650]  # two runs tie at 300; the last one overlaps the slow variant's times
SLOW = [600, 700, 5000, 800, 5000, 5000]  # runs 3, 5, 6 end at step 1000 below the threshold

EXPERIMENT = f"""
experiment = (
    create_experiment("time_to_half", "steps until reward 0.5")
    .add_variant(name="slow", cross_steps={SLOW})
    .add_variant(name="fast", cross_steps={FAST})
    .set_runs_per_variant(6)
    .set_metric("reward", direction="max", curve_summary="threshold", threshold=0.5)
    .build()
)
"""


def test_faster_variant_is_better_and_censored_runs_are_not_failures(tmp_path):
    write_experiment(tmp_path / "exp.py", EXPERIMENT)
    result = run_sweep(THRESHOLD_APP, "ab.experiment=exp.py", f"total_steps={TOTAL}", cwd=tmp_path, plots=True)
    assert result.returncode == 0, result.output
    experiment_dir = result.experiment_dir("time_to_half")
    summary = json.loads((experiment_dir / "summary.json").read_text())
    assert summary["curve_summary"] == "threshold" and summary["direction"] == "min"
    slow, fast = summary["variants"]["slow"], summary["variants"]["fast"]
    assert (slow["completed"], slow["failed"], fast["completed"], fast["failed"]) == (6, 0, 6, 0)
    assert fast["values"] == FAST and slow["values"] == [600, 700, TOTAL, 800, TOTAL, TOTAL]
    assert slow["censored"] == [False, False, True, False, True, True] and fast["censored"] == [False] * 6
    assert slow["time_to_threshold"]["reached"] == 3 and slow["time_to_threshold"]["median"] == 800  # S(800) = 3/6
    assert fast["time_to_threshold"]["median"] == 300  # Kaplan-Meier: S(300) = 2/6 after 200, 250, 300, 300

    (c,) = summary["comparisons"]
    reference = sps.logrank(
        sps.CensoredData(uncensored=FAST), sps.CensoredData(uncensored=[600, 700, 800], right=[TOTAL] * 3)
    )
    assert c["test"] == "logrank" and c["treatment"] == "fast"
    assert c["statistic"] == pytest.approx(reference.statistic)
    permutation_p = brute_force_p(
        np.array(FAST, float), np.zeros(6, bool), np.array(slow["values"], float), np.array(slow["censored"])
    )  # twice 2 of the C(12, 6) = 924 relabellings: 0.00433, where the normal p is 0.00166
    assert c["p_value"] == pytest.approx(permutation_p, abs=1e-12) and c["p_method"] == "exact permutation"
    assert c["time_to_threshold"]["normal_p"] == pytest.approx(reference.pvalue)
    assert c["p_value"] < 0.05 and c["verdict"] == "better"
    ratio = c["time_to_threshold"]["hazard_ratio"]  # fast's rate of reaching 0.5 against slow's: > 1
    estimate, low, high = hazard_ratio_by_brute_force(
        np.array(FAST, float), np.zeros(6, bool), np.array(slow["values"], float), np.array(slow["censored"])
    )
    assert ratio["estimate"] == pytest.approx(estimate, rel=1e-5) and ratio["estimate"] > 1
    assert ratio["ci"] == pytest.approx([low, high], rel=1e-3) and ratio["infinite"] is False
    assert ratio["method"].startswith("Cox partial likelihood, Efron ties")

    text = (experiment_dir / "summary.txt").read_text()
    assert "fewer steps is better" in text and "(higher is better)" not in text
    assert "fast is better than slow on steps to reward 0.5" in text and "log-rank, exact permutation p" in text
    assert (
        f"log-rank, exact permutation p={fmt_p(permutation_p)}, hazard ratio {estimate:.3g} [{low:.3g}, {high:.3g}] "
        "(95% CI, Cox; > 1: fast reaches it sooner)" in text
    )
    assert "3 slow run(s) did not reach the threshold" in text and "Failed runs" not in text
    assert "censored" in text and "reported no value" not in text
    assert (experiment_dir / "time_to_threshold.png").stat().st_size > 0
