"""`metta-ab analyze` after a sweep is a re-analysis: it writes beside the sweep's report, never over it, says
how it differs from the declared analysis, and never judges a metric by another metric's direction. Dry runs
(`metta-ab plan --app`, `ab.dry_run=true`) never write into a directory a sweep ran in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sweeper_cli import METTA_LIKE, run_sweep, write_experiment

from metta_ab import exit_status

pytestmark = [pytest.mark.slow, pytest.mark.hydra_independent]  # the analysis of finished runs: CI runs it on one Hydra

METTA_AB = Path(sys.executable).parent / "metta-ab"

# Declared like a loss: lower is better. The runs return {"score": 10 * learning_rate + seed / 100, "seed": ...}:
# b's score is larger by 0.09 at every seed, so b is "worse" as declared (exact sign-flip p = 2/64).
EXPERIMENT = """
experiment = (
    create_experiment("reanalysis", "declared on score, lower is better")
    .add_variant(name="a", trainer__learning_rate=0.001)
    .add_variant(name="b", trainer__learning_rate=0.01)
    .set_runs_per_variant(6)
    .set_metric("score", "min")
    .build()
)
"""


def metta_ab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(METTA_AB), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def snapshot(directory: Path, skip: str | None = None) -> dict[str, tuple[bytes, int]]:
    """Every file under `directory` (but those under `skip`): its bytes and its mtime in nanoseconds."""
    return {
        path.relative_to(directory).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and skip not in path.relative_to(directory).parts
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished sweep, run with `ab.analysis.alpha=0.1` on the command line (part of the declared analysis)."""
    cwd = tmp_path_factory.mktemp("reanalysis")
    write_experiment(cwd / "exp.py", EXPERIMENT)
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.analysis.alpha=0.1", cwd=cwd)
    assert result.returncode == 0, result.output
    experiment_dir = result.experiment_dir("reanalysis")
    assert json.loads((experiment_dir / "summary.json").read_text())["comparisons"][0]["verdict"] == "worse"
    return experiment_dir


def test_an_exploratory_analysis_goes_beside_the_sweeps_report_and_says_what_changed(finished):
    before = snapshot(finished, skip="analyses")
    result = metta_ab("analyze", str(finished), "--metric", "score", "--direction", "max", cwd=finished.parent)
    assert result.returncode == exit_status.VERDICT, result.stderr
    assert snapshot(finished, skip="analyses") == before  # every byte and mtime of the sweep's files
    out = finished / "analyses" / "direction=max"
    assert f"[ab] analysis written to {out}" in result.stdout
    text = (out / "summary.txt").read_text().splitlines()
    assert text[1] == "exploratory: the experiment declared score (min); this analysis uses score (max)"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reanalysis"]["exploratory"] is True and summary["reanalysis"]["opening"] == text[1]
    assert summary["reanalysis"]["changed"] == {"direction": {"declared": "min", "used": "max"}}
    assert summary["comparisons"][0]["verdict"] == "better" and (out / "scores.png").is_file()
    assert json.loads((finished / "summary.json").read_text())["reanalysis"] is None  # the sweep's own

    other = metta_ab("analyze", str(finished), "--metric", "seed", "--direction", "max", "--alpha", "0.2", cwd=finished)
    assert other.returncode == exit_status.VERDICT, other.stderr
    line = (finished / "analyses" / "metric=seed,direction=max,alpha=0.2" / "summary.txt").read_text().splitlines()[1]
    assert line == (
        "exploratory: the experiment declared score (min); this analysis uses seed (max), alpha 0.2 (declared 0.1)"
    )
    assert snapshot(finished, skip="analyses") == before


def test_a_reanalysis_with_the_declared_settings_includes_the_sweeps_command_line_settings(finished):
    result = metta_ab("analyze", str(finished), "--no-plots", cwd=finished.parent)
    assert result.returncode == exit_status.VERDICT, result.stderr
    summary = json.loads((finished / "analyses" / "declared" / "summary.json").read_text())
    assert summary["reanalysis"]["exploratory"] is False and summary["reanalysis"]["changed"] == {}
    assert summary["alpha"] == 0.1 and summary["metric_direction"] == "min"  # ab.analysis.alpha=0.1 of the sweep
    assert summary["reanalysis"]["opening"] == "re-analysis with the declared settings: score (min)"
    assert summary["comparisons"] == json.loads((finished / "summary.json").read_text())["comparisons"]


def test_another_metric_without_a_direction_is_one_line_and_writes_nothing(finished):
    before = snapshot(finished)
    result = metta_ab("analyze", str(finished), "--metric", "seed", cwd=finished.parent)
    assert result.returncode == exit_status.USAGE and result.stdout == ""
    assert result.stderr.splitlines() == [
        "metta-ab analyze: error: metric 'seed': it is not the declared metric 'score' and must not inherit its "
        "direction (min); add --direction max (higher is better) or --direction min (lower is better)"
    ]
    assert snapshot(finished) == before
    same_metric = metta_ab("analyze", str(finished), "--metric", "score", "--no-plots", cwd=finished.parent)
    assert same_metric.returncode == exit_status.VERDICT, same_metric.stderr  # the declared metric keeps its own


def test_a_metric_no_run_reported_exits_without_a_verdict_and_names_the_closest(finished):
    before = snapshot(finished, skip="analyses")
    result = metta_ab("analyze", str(finished), "--metric", "scroe", "--direction", "max", cwd=finished.parent)
    assert result.returncode == exit_status.NO_VERDICT
    first = result.stderr.splitlines()[0]
    assert first.startswith("metta-ab analyze: no verdict: No run reported 'scroe'; the runs reported 'score', 'seed'")
    assert first.endswith("Fix the name: --metric score (with its --direction).")
    text = (finished / "analyses" / "metric=scroe,direction=max" / "summary.txt").read_text().splitlines()
    assert text[1].startswith("exploratory: ") and text[2].startswith("NO VERDICT:     No run reported 'scroe'")
    assert snapshot(finished, skip="analyses") == before


def test_output_dir_takes_the_analysis_anywhere_but_over_a_sweeps_report(finished, tmp_path):
    args = ["--direction", "max", "--output-dir", "mine", "--no-plots"]
    result = metta_ab("analyze", str(finished), *args, cwd=tmp_path)
    assert result.returncode == exit_status.VERDICT, result.stderr
    assert (tmp_path / "mine" / "summary.txt").read_text().splitlines()[1].startswith("exploratory: ")
    before = snapshot(finished)
    refused = metta_ab("analyze", str(finished), "--direction", "max", "--output-dir", str(finished), cwd=tmp_path)
    assert refused.returncode == exit_status.USAGE
    assert refused.stderr.splitlines() == [
        f"metta-ab analyze: error: --output-dir {finished} holds a sweep's own report, which a re-analysis never "
        "replaces; choose another directory, or leave --output-dir out (EXPERIMENT_DIR/analyses/<what differs>)"
    ]
    fetch_over = metta_ab("analyze", "--wandb", "team/project", "--group", "reanalysis", cwd=finished.parent.parent)
    assert fetch_over.returncode == exit_status.USAGE
    assert "holds the runs of a sweep, which a W&B fetch would overwrite" in fetch_over.stderr
    assert snapshot(finished) == before


def test_dry_runs_leave_a_finished_experiment_directory_as_it_is(finished):
    before = snapshot(finished)
    cwd = finished.parent.parent
    plan = metta_ab("plan", "exp.py", "--app", str(METTA_LIKE), cwd=cwd)
    assert plan.returncode == 0, plan.stderr
    assert "2 variants x 6 runs = 12 jobs" in plan.stdout
    assert plan.stdout.rstrip().splitlines()[-1] == (
        f"Dry run: nothing launched, nothing saved: {finished} holds a sweep's runs, which a dry run leaves as they are"
    )
    assert snapshot(finished) == before
    dry = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.dry_run=true", cwd=cwd)
    assert dry.returncode == 0, dry.output
    assert "Dry run: nothing launched, nothing saved" in dry.stdout
    assert snapshot(finished) == before
