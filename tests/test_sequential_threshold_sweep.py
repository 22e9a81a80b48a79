"""Sequential time to threshold through the real command line: the app (tests/apps/threshold_curves) logs curves
that reach reward 0.5 at steps it is told; each look decides with the log-rank statistic of the times so far and
its permutation p. A clear speed-up stops at the first look, no difference runs to the last one; the report says
what the looks decided with the medians and the hazard ratio beside them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps
from sweeper_cli import APPS, job_dirs, run_sweep, write_experiment
from test_stats_sequential_times import brute_force_p

from metta_ab.stats.sequential import LOGRANK_NOT_ADJUSTED, sequential_design
from metta_ab.text_format import fmt_num, fmt_ordered

pytestmark = [pytest.mark.slow, pytest.mark.hydra_independent]  # the sweeper's look loop on one Hydra suffices

THRESHOLD_APP = APPS / "threshold_curves" / "app.py"
TOTAL = 1000  # steps per run; a crossing step past it is never reached (censored at 1000)
DESIGN = sequential_design(10, 5)  # looks at 5 and 10 runs per variant

EXPERIMENT = """
experiment = (
    create_experiment("seqtime", "steps until reward 0.5")
    .add_variant(name="slow", cross_steps={slow})
    .add_variant(name="fast", cross_steps={fast})
    .set_sequential(max_runs_per_variant=10, runs_per_look=5)
    .set_metric("reward", direction="max", curve_summary="threshold", threshold=0.5)
    .build()
)
"""


def sweep(tmp_path, slow, fast, *overrides):
    write_experiment(tmp_path / "exp.py", EXPERIMENT.format(slow=slow, fast=fast))
    result = run_sweep(THRESHOLD_APP, "ab.experiment=exp.py", f"total_steps={TOTAL}", *overrides, cwd=tmp_path)
    return result, result.experiment_dir("seqtime")


def times(cross):
    """The times the app's curves give (logged every 50 steps) and whether each run was censored."""
    steps = np.array([min(math.ceil(s / 50) * 50, TOTAL) for s in cross], float)
    return steps, np.array([s > TOTAL for s in cross])


def test_a_clear_speed_up_stops_at_the_first_look(tmp_path):
    slow = [600, 700, 5000, 800, 5000, 900, 650, 5000, 720, 810]
    fast = [200, 300, 250, 350, 300, 260, 310, 220, 280, 330]
    result, exp_dir = sweep(tmp_path, slow, fast)
    assert result.returncode == 0, result.output
    assert job_dirs(exp_dir) == sorted(f"{v}_run_{i}" for v in ("slow", "fast") for i in range(1, 6))  # 6-10 saved
    summary = json.loads((exp_dir / "summary.json").read_text())
    seq = summary["sequential"]
    (look,) = seq["looks"]
    (c,) = look["comparisons"]
    t, t_cens = times(fast[:5])
    s, s_cens = times(slow[:5])
    reference = sps.logrank(sps.CensoredData(uncensored=t), sps.CensoredData(uncensored=s[~s_cens], right=s[s_cens]))
    assert c["test"] == "logrank" and c["statistic"] == pytest.approx(reference.statistic)
    assert c["p"] == pytest.approx(brute_force_p(t, t_cens, s, s_cens)) and c["p_method"] == "exact permutation"
    assert c["p"] < c["level"] == pytest.approx(DESIGN.nominal_p[0]) and c["decision"] == "better"
    assert c["difference"] == 300 - 800  # Kaplan-Meier medians of the 5 runs each
    assert (seq["reason"], seq["runs_used"], seq["runs_saved"]) == ("decided", {"slow": 5, "fast": 5}, 10)
    assert seq["early_stop_estimates"] == {} and seq["not_adjusted"] == {"fast": LOGRANK_NOT_ADJUSTED}
    (comparison,) = summary["comparisons"]  # the fixed-sample description of the runs used, the looks' verdict
    assert comparison["verdict"] == "better" and comparison["n_treatment"] == comparison["n_control"] == 5
    assert summary["variants"]["slow"]["censored"] == [False, False, True, False, True]

    text = (exp_dir / "summary.txt").read_text()
    p, boundary = fmt_ordered(c["p"], c["level"])
    assert (
        "fast is better than slow on steps to reward 0.5 (reaches it sooner): decided at look 1 of 2 (5 runs per "
        f"variant), log-rank z = {fmt_num(c['statistic'], 3)}, p = {p} (exact permutation) < {boundary} (the look's "
        "boundary). Over the runs used (fixed-sample; the early stop overstates them): fast median 300 [200, 350] vs "
        "slow median 800 [600, not reached] steps (Kaplan-Meier, 95% CI), hazard ratio infinite (no slow run reached "
        "the threshold while a fast run was still short of it; no CI). After the early stop, "
        f"{LOGRANK_NOT_ADJUSTED}." in text
    )
    assert "median diff log-rank z" in text and "p of the log-rank statistic from its permutation distribution" in text
    assert (
        "Note: the experiment stopped early; an early stop happens when the estimate is large, so the hazard ratio"
        in text
    )
    assert "Adjusted for the early stop" not in text

    other = run_sweep(
        THRESHOLD_APP, "ab.experiment=exp.py", f"total_steps={TOTAL}", "ab.analysis.threshold=0.4", cwd=tmp_path
    )  # the looks were decided on times to 0.5: a rerun on another threshold is refused
    assert other.returncode == 1 and "threshold 0.5 -> 0.4" in other.stderr


def test_no_difference_runs_to_the_last_look_and_the_plan_shows_the_logrank_looks(tmp_path):
    slow = [300, 500, 5000, 400, 650, 350, 800, 450, 5000, 550]
    fast = [450, 350, 600, 5000, 300, 700, 400, 500, 380, 5000]
    dry, _ = sweep(tmp_path, slow, fast, "ab.dry_run=true")
    assert dry.returncode == 0, dry.output
    assert (
        "Each look: the log-rank test of the times to threshold so far, p from relabellings of the runs" in dry.output
    )
    assert "|t| paired" not in dry.output

    result, exp_dir = sweep(tmp_path, slow, fast)
    assert result.returncode == 0, result.output
    assert len(job_dirs(exp_dir)) == 20
    seq = json.loads((exp_dir / "summary.json").read_text())["sequential"]
    assert [len(look["comparisons"]) for look in seq["looks"]] == [1, 1] and seq["reason"] == "max runs"
    last = seq["looks"][1]["comparisons"][0]
    t, t_cens = times(fast)
    s, s_cens = times(slow)
    statistic = sps.logrank(
        sps.CensoredData(uncensored=t[~t_cens], right=t[t_cens]),
        sps.CensoredData(uncensored=s[~s_cens], right=s[s_cens]),
    ).statistic
    assert last["statistic"] == pytest.approx(statistic) and last["p_method"] == "permutation"  # C(20, 10) splits
    assert last["p"] >= last["level"] and last["decision"] == "inconclusive"
    assert seq["not_adjusted"] == {} and seq["estimate_note"] is None
    text = (exp_dir / "summary.txt").read_text()
    p, boundary = fmt_ordered(last["p"], last["level"])
    assert (
        f"Inconclusive: fast vs slow on steps to reward 0.5 after all 2 looks (10 runs per variant): log-rank z = "
        f"{fmt_num(last['statistic'], 3)}, p = {p} (permutation), not below the last boundary {boundary}. Over the "
        "runs used (fixed-sample): fast median" in text
    )
    assert "After the early stop" not in text and math.isfinite(last["p"])


SUITE = """
experiment = (
    create_experiment("seqsuite", "a sequential suite on times")
    .add_variant(name="slow", cross_steps=[600] * 10)
    .add_variant(name="fast", cross_steps=[300] * 10)
    .set_sequential(max_runs_per_variant=10, runs_per_look=5)
    .set_metric("eval/{task}/reward", direction="max", curve_summary="threshold", threshold=0.5)
    .build()
)
"""


def test_a_sequential_suite_on_times_is_refused_with_the_statistical_reason(tmp_path):
    write_experiment(tmp_path / "suite.py", SUITE)
    result = run_sweep(THRESHOLD_APP, "ab.experiment=suite.py", cwd=tmp_path)
    assert result.returncode == 1 and "ab.experiment=suite.py" in result.stderr
    assert "times to a threshold cannot be normalized or averaged" in result.stderr
    assert "in a fixed or a sequential suite alike" in result.stderr
    assert job_dirs(result.experiment_dir("seqsuite")) == []
