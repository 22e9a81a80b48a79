"""Never green without an answer: a sweep that cannot compute a verdict says why, first, and exits non-zero."""

from __future__ import annotations

import json
import time

import pytest
from sweeper_cli import APPS, METTA_LIKE, job_dirs, run_sweep, status, write_experiment

from hydra_plugins.ab_sweeper._progress import ProgressWatcher
from metta_ab import exit_status
from metta_ab.analysis.no_number import LOG_DIR_FIX
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
    assert verdict.startswith("  No verdict: No run reported 'scroe'")
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


def test_checking_a_large_experiment_says_at_once_what_the_wait_is_for(tmp_path):
    """Composing the first job of each of 60 variants takes a while: the dry run says so before it starts."""
    variants = "".join(f"    .add_variant(name='lr{i}', trainer__learning_rate={i + 1}e-4)\n" for i in range(60))
    write_experiment(tmp_path / "exp.py", f"experiment = (\n    create_experiment('wide')\n{variants}    .build()\n)\n")
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.dry_run=true", cwd=tmp_path)
    assert result.returncode == 0, result.output
    said = "[ab] checking the experiment against the app's config: composing the first job of each of its 60 variants"
    assert said in result.output
    assert result.output.index(said) < result.output.index("Dry run: nothing launched")


QUALITY = """
{reader}
experiment = (
    create_experiment("{name}")
    .add_variant(name="weak", quality=0.5)
    .add_variant(name="strong", quality=1.0)
    .set_runs_per_variant(3)
    .set_metric("{metric}", direction="max"{reader_arg})
    .build()
)
"""


def quality_experiment(tmp_path, name: str, metric: str, reader: str = "") -> None:
    function = reader.split("def ", 1)[1].split("(", 1)[0] if reader else ""
    arg = f", reader={function}" if reader else ""
    write_experiment(tmp_path / "exp.py", QUALITY.format(name=name, metric=metric, reader=reader, reader_arg=arg))


def verdict_block(experiment_dir) -> str:
    lines = (experiment_dir / "summary.txt").read_text().splitlines()
    start = lines.index("Verdict:")
    return "\n".join(lines[start : lines.index("", start)])


def test_logs_written_outside_the_job_directories_are_listed_with_the_fix_that_works(tmp_path):
    """An app with its own log tree relative to its working directory (tests/apps/relative_log_root): every run
    completes, no number is in a job directory; the sweep says where the numbers went and how to fix it, and
    the fix (hydra.job.chdir=True: the events are then 7 levels below each job directory) gives the verdict."""
    pytest.importorskip("tensorboardX")
    app = APPS / "relative_log_root" / "app.py"
    quality_experiment(tmp_path, "outside", "eval/return")
    result = run_sweep(app, "ab.experiment=exp.py", "ab.plots=false", cwd=tmp_path)
    assert result.returncode == exit_status.NO_VERDICT, result.output
    last = result.errors.splitlines()[-1]
    assert last.startswith("[ab] no verdict: 6 run(s) completed, but no number was found for 'eval/return'")
    assert (
        f"under the directory the sweep was started from ({tmp_path}): 6 file(s) under logs/runs/ppo/cartpole/" in last
    )
    assert "/version_0/events.out.tfevents." in last and last.endswith(LOG_DIR_FIX)
    assert "hydra.job.chdir=True" in LOG_DIR_FIX and "'log_root=${hydra:runtime.output_dir}/logs'" in LOG_DIR_FIX
    # said after the first run, in the progress log: the rest of the budget need not be spent to learn it
    first = next(line for line in result.output.splitlines() if "completed without reporting 'eval/return'" in line)
    assert "Log files were written while the runs ran" in first and "under logs/runs/ppo/cartpole/" in first
    block = verdict_block(result.experiment_dir("outside"))
    assert (
        block.startswith("Verdict:\n  No verdict: 6 run(s) completed, but no number was found")
        and "logs/runs/" in block
    )
    assert "failed" not in block and "not enough completed runs" not in block

    fixed = run_sweep(
        app, "ab.experiment=exp.py", "ab.plots=false", "hydra.job.chdir=True", "ab.resume=false", cwd=tmp_path
    )
    assert fixed.returncode == exit_status.VERDICT, fixed.output
    summary = json.loads((result.experiment_dir("outside") / "summary.json").read_text())
    assert summary["comparisons"][0]["verdict"] == "better" and summary["no_verdict"] is None
    for run in summary["runs"]:
        (source,) = run["metric_sources"]
        depth = len(source.removeprefix("tensorboard events (").split("/")) - 1
        assert source.startswith("tensorboard events (logs/runs/ppo/cartpole/") and depth == 7


READ_NOTHING = """
def read_nothing(job_dir):
    \"\"\"Looks for a file the app does not write.\"\"\"
    path = job_dir / "score.txt"
    return float(path.read_text()) if path.is_file() else None
"""


def test_a_reader_that_returned_none_for_every_run_is_named(tmp_path):
    quality_experiment(tmp_path, "reader_none", "score", reader=READ_NOTHING)
    result = run_sweep(APPS / "text_logger" / "app.py", "ab.experiment=exp.py", "ab.plots=false", cwd=tmp_path)
    assert result.returncode == exit_status.NO_VERDICT, result.output
    last = result.errors.splitlines()[-1]
    assert last.startswith("[ab] no verdict: 6 run(s) completed, but no number was found for 'score'")
    assert f"The reader read_nothing ({tmp_path / 'exp.py'}) returned None for every run." in last
    assert "Fix the reader" in last and "Log files were written" not in last
    assert "  No verdict: 6 run(s) completed" in verdict_block(result.experiment_dir("reader_none"))
