"""`metta-ab analyze` on experiment directories built here with known numbers: the verdicts of the cases that
break a naive t-test (issue 12), each with the numbers it must give (brute force or scipy as the reference)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from experiment_dirs import build
from logrank_reference import brute_force_p
from scipy import stats as sps

pytestmark = [pytest.mark.slow, pytest.mark.hydra_independent]  # the analysis of finished runs: CI runs it on one Hydra

METTA_AB = Path(sys.executable).parent / "metta-ab"


def analyze(directory: Path, *args: str) -> tuple[dict, str]:
    """`metta-ab analyze` with `args`, into a directory of its own: (summary.json, summary.txt)."""
    out = directory.with_name(directory.name + "-analysis")
    command = [str(METTA_AB), "analyze", str(directory), "--no-plots", "--output-dir", str(out), *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "summary.json").read_text()), (out / "summary.txt").read_text()


def test_zero_variance_is_decided_by_the_exact_permutation_test(tmp_path):
    summary, text = analyze(build(tmp_path / "e", {"A": [1.0, 1.0, 1.0], "B": [2.0, 2.0, 2.0]}, paired=False))
    (c,) = summary["comparisons"]
    assert c["test"] == "permutation" and c["p_value"] == pytest.approx(2 / 20)  # 2 of the C(6, 3) splits
    assert c["t_p_value"] is None and c["difference_ci"] == [None, None] and c["difference"] == 1.0
    assert c["verdict"] == "inconclusive"
    assert "exact permutation p=0.100" in text and "Welch p<0.001" not in text
    assert "Welch test is undefined (no variance within either variant)" in text
    assert "Holm-adjusted" not in text and "above nan" not in text and "p=-" not in text
    assert "the detectable difference cannot be estimated (no variance)" in text


def test_a_constant_paired_difference_is_decided_by_the_sign_flip_test(tmp_path):
    control = [0.40, 0.52, 0.33, 0.60, 0.47, 0.55]
    treatment = [x + 0.25 for x in control]
    summary, text = analyze(build(tmp_path / "e", {"C": control, "T": treatment}))
    (c,) = summary["comparisons"]
    assert summary["paired"] is True and c["test"] == "permutation"
    assert c["p_value"] == pytest.approx(2 / 64) and c["verdict"] == "better"  # only all-flipped is as extreme
    assert "paired t test is undefined (the paired differences are all equal)" in text
    assert "T is better than C on score by 0.25" in text and "exact permutation p=0.031" in text


def test_six_pairs_with_a_zero_difference_cannot_reach_alpha(tmp_path):
    control = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    treatment = [1.11, 2.32, 3.23, 4.54, 5.45, 6.0]
    summary, text = analyze(build(tmp_path / "e", {"C": control, "T": treatment}))
    (c,) = summary["comparisons"]
    assert c["wilcoxon_p"] == pytest.approx(sps.wilcoxon(treatment, control, method="exact").pvalue) == 0.0625
    assert c["exact_min_p"] == 0.0625 and c["zero_differences"] == 1
    assert "with 6 pairs (1 with a zero difference; smallest possible p = 0.0625)" in text


def test_a_significant_difference_inside_min_effect_says_it_is_smaller_than_what_matters(tmp_path):
    control = [1.00, 1.10, 0.90, 1.05, 0.95, 1.02, 0.98, 1.01]
    treatment = [x + d for x, d in zip(control, [0.050, 0.052, 0.048, 0.051, 0.049, 0.050, 0.053, 0.047], strict=True)]
    summary, text = analyze(build(tmp_path / "e", {"C": control, "T": treatment}), "--min-effect", "0.2")
    (c,) = summary["comparisons"]
    ci = sps.ttest_rel(treatment, control).confidence_interval()
    assert c["verdict"] == "better" and c["below_min_effect"] is True
    assert c["difference_ci"] == pytest.approx([ci.low, ci.high])
    assert "by 0.05 (5%), a negligible difference (the whole 95% CI lies within ±0.2, the smallest difference" in text


def test_three_variants_show_holm_and_one_comparison_does_not(tmp_path):
    rng = np.random.default_rng(4)
    base = rng.normal(0, 1, 6)
    runs = {"C": list(base), "T1": list(base + 1 + rng.normal(0, 0.3, 6)), "T2": list(base + rng.normal(0, 0.3, 6))}
    summary, text = analyze(build(tmp_path / "e", runs))
    (p1, a1), (p2, a2) = sorted((c["p_value"], c["p_adjusted"]) for c in summary["comparisons"])
    assert a1 == pytest.approx(min(1, 2 * p1)) and a2 == pytest.approx(min(1, max(2 * p1, p2)))  # Holm, m = 2
    assert text.count("Holm-adjusted p") == 2
    assert math.isfinite(summary["comparisons"][0]["mde"])


# ---- time to threshold: smaller is better, censored runs ------------------------------------------------


def crossing_curve(cross: float, last: int = 1000, every: int = 50) -> tuple[list[int], list[float]]:
    """A curve that is exactly 0.5 at step `cross` (never, if `cross` is past `last`)."""
    steps = list(range(0, last + 1, every))
    return steps, [0.5 * s / cross for s in steps]


def test_time_to_threshold_is_judged_smaller_is_better(tmp_path):
    control_cross, treatment_cross = [400, 500, 600, 450, 550], [200, 250, 300, 250, 300]  # half the steps
    runs = {
        "A": [crossing_curve(x) for x in control_cross],
        "B": [crossing_curve(x) for x in treatment_cross],
    }
    directory = build(tmp_path / "e", runs, metric="reward", curve_summary="threshold", threshold=0.5)
    summary, text = analyze(directory)
    assert summary["direction"] == "min" and summary["metric_direction"] == "max"
    assert summary["variants"]["B"]["values"] == treatment_cross and summary["variants"]["B"]["censored"] == [False] * 5
    (c,) = summary["comparisons"]
    reference = sps.logrank(sps.CensoredData(uncensored=treatment_cross), sps.CensoredData(uncensored=control_cross))
    exact = brute_force_p(
        np.array(treatment_cross, float), np.zeros(5, bool), np.array(control_cross, float), np.zeros(5, bool)
    )
    assert c["test"] == "logrank" and c["p_value"] == pytest.approx(exact) and c["p_value"] < 0.05
    assert c["time_to_threshold"]["normal_p"] == pytest.approx(reference.pvalue)  # scipy's, reported beside it
    assert c["verdict"] == "better"  # it was "worse ... paired t p=0.004" when times were judged like rewards
    assert "fewer steps is better" in text and "higher is better" not in text
    assert "B is better than A on steps to reward 0.5 (reaches it sooner)" in text
    assert "B median 250 [200, 300] vs A median 500 [400, 600] steps" in text  # Kaplan-Meier, no censoring


def test_runs_that_never_reach_the_threshold_are_censored_not_dropped(tmp_path):
    runs = {
        "A": [crossing_curve(x) for x in [600, 5000, 700, 5000, 800, 5000]],  # three end at 1000 short of 0.5
        "B": [crossing_curve(x) for x in [300, 350, 400, 450, 5000, 500]],
    }
    directory = build(tmp_path / "e", runs, metric="reward", curve_summary="threshold", threshold=0.5)
    summary, text = analyze(directory)
    a = summary["variants"]["A"]
    assert a["completed"] == 6 and a["failed"] == 0 and a["n"] == 6
    assert a["values"] == [600, 1000, 700, 1000, 800, 1000] and a["censored"] == [False, True, False, True, False, True]
    assert a["mean"] is None  # a censored time is a lower bound: no mean
    # Kaplan-Meier of A: S = 5/6, 4/6, 3/6 after 600, 700, 800: median 800; at most half reached before
    assert a["time_to_threshold"]["median"] == 800 and a["time_to_threshold"]["reached"] == 3
    (c,) = summary["comparisons"]
    reference = sps.logrank(
        sps.CensoredData(uncensored=[300, 350, 400, 450, 500], right=[1000]),
        sps.CensoredData(uncensored=[600, 700, 800], right=[1000, 1000, 1000]),
    )
    exact = brute_force_p(
        np.array([300, 350, 400, 450, 1000, 500], float),
        np.array([False, False, False, False, True, False]),
        np.array([600, 1000, 700, 1000, 800, 1000], float),
        np.array([False, True, False, True, False, True]),
    )
    assert c["statistic"] == pytest.approx(reference.statistic) and c["p_value"] == pytest.approx(exact)
    assert c["n_treatment"] == c["n_control"] == 6 and c["pairs_dropped"] == 0  # nothing dropped as "failed"
    # the exact permutation p is 0.052 (scipy's normal approximation says 0.03 and would call it "better")
    assert c["p_value"] == pytest.approx(0.0519, abs=1e-4) and reference.pvalue < 0.05
    assert c["verdict"] == "inconclusive"
    assert "A_run_2, A_run_4, A_run_6" in text and "censored at its last step" in text
    assert "1000+" in text and "a run of the pair failed" not in text
