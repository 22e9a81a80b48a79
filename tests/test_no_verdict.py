"""Never green without an answer: a sweep that cannot compute a verdict says why, first, and exits non-zero."""

from __future__ import annotations

import json
import time

import pytest
from sweeper_cli import METTA_LIKE, job_dirs, run_sweep, status, write_experiment

from hydra_plugins.ab_sweeper._progress import ProgressWatcher
from metta_ab import exit_status
from metta_ab.records.ledger import write_status

pytestmark = [pytest.mark.slow, pytest.mark.hydra_independent]  # analysis: one Hydra in CI

TYPO = """
experiment = (
    create_experiment("typo")
    .add_variant(name="a", trainer__learning_rate=0.1)
    .add_variant(name="b", trainer__learning_rate=0.2)
    .set_runs_per_variant(3)
    .set_metric("{metric}")
    .build()
)
"""


def test_a_metric_typo_is_said_after_the_first_run_and_ends_without_a_verdict(tmp_path):
    write_experiment(tmp_path / "exp.py", TYPO.format(metric="scroe"))
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    assert result.returncode == exit_status.NO_VERDICT, result.output
    first = result.stderr.splitlines()[-1]
    assert first.startswith("[ab] no verdict: No run reported 'scroe'") and "set_metric('score'" in first
    # the progress log names it as soon as one run completed, with the did-you-mean
    assert "completed without reporting 'scroe'; it reported 'score'" in result.output
    experiment_dir = result.experiment_dir("typo")
    summary_lines = (experiment_dir / "summary.txt").read_text().splitlines()
    assert summary_lines[1].startswith("NO VERDICT:") and "'score'" in summary_lines[1]
    verdict = summary_lines[summary_lines.index("Verdict:") + 1]
    assert verdict.startswith("  None: No run reported 'scroe'")
    text = "\n".join(summary_lines)
    assert "failed" not in text.split("Warnings:")[1]  # no run failed: no sentence may say one did
    assert "6 reported no value for 'scroe'" in text
    assert json.loads((experiment_dir / "summary.json").read_text())["no_verdict"].startswith("No run reported")

    # The fix the message gives: correct the name and run the same command; nothing runs again.
    write_experiment(tmp_path / "exp.py", TYPO.format(metric="score"))
    fixed = run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.output
    assert "6 of 6 runs already completed" in fixed.output
    assert all(status(experiment_dir / d)["attempt"] == 1 for d in job_dirs(experiment_dir))
    summary = json.loads((experiment_dir / "summary.json").read_text())
    assert summary["no_verdict"] is None and summary["comparisons"][0]["verdict"] != "insufficient data"


def test_a_resumed_sweep_checks_the_metric_on_a_run_completed_before(tmp_path):
    write_experiment(tmp_path / "exp.py", TYPO.format(metric="scroe"))
    run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    again = run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    assert again.returncode == exit_status.NO_VERDICT
    assert "a_run_1 completed without reporting 'scroe'" in again.output


def test_an_override_of_the_metric_on_the_command_line_is_checked_too(tmp_path):
    write_experiment(tmp_path / "exp.py", TYPO.format(metric="score"))
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.analysis.metric=seeed", cwd=tmp_path)
    assert result.returncode == exit_status.NO_VERDICT
    assert "completed without reporting 'seeed'; it reported 'seed'" in result.output


def test_the_progress_line_names_a_run_far_longer_than_the_others(tmp_path):
    """A hung run without ab.run_timeout is named with how long it has run, not only a growing ETA."""
    now = time.time()
    done, hung = tmp_path / "a_run_1", tmp_path / "a_run_2"
    write_status(done, {"status": "completed", "started_at": now - 20, "duration": 10.0})
    write_status(hung, {"status": "running", "started_at": now - 3600})
    watcher = ProgressWatcher([done, hung], total=2, done_before=0, interval=1.0)
    watcher._poll()
    line = watcher.summary_line()
    assert "a_run_2 running for 1:00:0" in line and "(median run 0:10)" in line
    write_status(hung, {"status": "running", "started_at": now - 15})  # within 3x the median: not named
    fresh = ProgressWatcher([done, hung], total=2, done_before=0, interval=1.0)
    fresh._poll()
    assert "running for" not in fresh.summary_line()
