"""Where log files are searched for: a job directory at any depth, bounded by the entries looked at (said when
the bound cut the search short), and the launch directory for logs the runs wrote outside their job dirs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from metta_ab.analysis.no_number import LOG_DIR_FIX
from metta_ab.analysis.results import analyze_directory
from metta_ab.definition.experiment import create_experiment
from metta_ab.definition.loading import save_experiment
from metta_ab.records.ledger import EXPERIMENT_CONFIG, write_status
from metta_ab.sources import collect_run_metrics
from metta_ab.sources.scan import MAX_SCANNED_ENTRIES, list_tree
from metta_ab.sources.stray_logs import CLOCK_SLACK_SECONDS, stray_log_files

pytestmark = pytest.mark.hydra_independent  # the analysis of finished runs: CI runs it on one Hydra

SOURCES_DOC = Path(__file__).resolve().parent.parent / "docs" / "sources.md"


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def every_entry(_directory: os.DirEntry[str], _depth: int) -> bool:
    return True


def test_the_walk_goes_level_by_level_in_name_order_and_says_when_it_stopped(tmp_path):
    for name in ("b/deep/x", "b/y", "a/z", "top"):
        touch(tmp_path / name)  # 7 entries: a, b, top; a/z; b/deep, b/y; b/deep/x

    def seen(listing) -> list[str]:
        return [Path(e.path).relative_to(tmp_path).as_posix() for e in listing.files]

    whole = list_tree(tmp_path, every_entry, limit=7)
    assert seen(whole) == ["top", "a/z", "b/y", "b/deep/x"] and not whole.truncated
    cut = list_tree(tmp_path, every_entry, limit=6)
    assert seen(cut) == ["top", "a/z", "b/y"] and cut.truncated
    not_into_b = list_tree(tmp_path, lambda directory, depth: directory.name != "b", limit=4)
    assert seen(not_into_b) == ["top", "a/z"] and not not_into_b.truncated


def test_a_log_seven_levels_below_the_job_directory_is_read(tmp_path):
    """`hydra.job.chdir=True` with a log root `logs/runs` and Lightning's version directories."""
    deep = tmp_path / "logs" / "runs" / "ppo" / "cartpole" / "2026-12-02" / "14-00-00_seed1" / "version_0"
    touch(deep / "metrics.csv", "step,eval/return\n0,0.5\n100,0.9\n")
    touch(deep / "deeper" / "still" / "progress.csv", "steps,loss\n1,0.3\n")
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {"eval/return": 0.9, "loss": 0.3} and found.warnings == []


def test_a_job_directory_wider_than_the_cap_is_searched_shallowest_first_and_says_so(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for index in range(MAX_SCANNED_ENTRIES):
        (checkpoints / f"step_{index:05d}.ckpt").touch()
    touch(tmp_path / "progress.csv", "step,score\n0,1.5\n")  # beside the wide directory: seen
    touch(tmp_path / "logs" / "tb" / "progress.csv", "step,late\n0,2.5\n")  # after it, one level deeper: not
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {"score": 1.5}
    (warning,) = found.warnings
    assert f"stopped after {MAX_SCANNED_ENTRIES:,} files and directories" in warning and "reader=fn" in warning


def test_the_docs_quote_the_cap_the_code_uses():
    text = " ".join(SOURCES_DOC.read_text().split())
    assert f"at most {MAX_SCANNED_ENTRIES:,} files and directories" in text


def test_stray_logs_are_the_log_files_outside_the_job_directories_written_while_the_runs_ran(tmp_path):
    start = time.time()
    job_dirs = [tmp_path / "ab_test_results" / "exp" / f"a_run_{i}" for i in (1, 2)]
    touch(job_dirs[0] / "tb" / "events.out.tfevents.1.host")  # in a job directory: its own, read by the sources
    strays = [
        touch(tmp_path / "logs" / "runs" / "ppo" / "events.out.tfevents.2.host"),
        touch(tmp_path / "ab_test_results" / "exp" / "shared" / "metrics.csv"),  # in the sweep dir, no job's
        touch(tmp_path / "sb3" / "progress.txt"),
    ]
    touch(tmp_path / "logs" / "train.log")  # not a kind a source reads
    touch(tmp_path / ".cache" / "x.csv")  # hidden
    old = touch(tmp_path / "old" / "progress.csv")  # from before the runs
    os.utime(old, (start - 3600, start - 3600))
    later = touch(tmp_path / "later" / "progress.csv")  # long after the runs
    os.utime(later, (start + 3600, start + 3600))
    found = stray_log_files(tmp_path, job_dirs, start - CLOCK_SLACK_SECONDS / 2, time.time())
    assert sorted(found.files) == sorted(strays) and not found.truncated


def test_a_misnamed_metric_with_logs_outside_the_job_directories_names_both(tmp_path):
    """The runs returned something, but the metric went to a log tree under the launch directory: the reason
    gives the did-you-mean and the stray files with the fix (`metta-ab analyze` of a finished sweep)."""
    experiment = create_experiment("outside").add_variant(name="a").add_variant(name="b").set_metric("eval/return")
    experiment_dir = tmp_path / "ab_test_results" / "outside"
    experiment_dir.mkdir(parents=True)
    save_experiment(experiment.build(), experiment_dir / EXPERIMENT_CONFIG)
    (experiment_dir / "multirun.yaml").write_text(f"hydra:\n  runtime:\n    cwd: {tmp_path}\n")
    start = time.time()
    for job in ("a_run_1", "b_run_1"):
        touch(tmp_path / "logs" / job / "events.out.tfevents.1.host")
        record = {"status": "completed", "attempt": 1, "seed": 0, "return_value": {"steps": 100}}
        write_status(experiment_dir / job, {**record, "started_at": start, "finished_at": time.time()})
    reason = analyze_directory(experiment_dir).no_verdict
    assert reason.startswith("No run reported 'eval/return'; the runs reported 'steps'")
    assert f"sweep was started from ({tmp_path}): 2 file(s) under logs/: a_run_1/events.out.tfevents.1.host, " in reason
    assert "If 'eval/return' is in them, that is where the numbers went." in reason and reason.endswith(LOG_DIR_FIX)
