"""The record of every run: atomic files, attempts kept aside, and what a job's status file means."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest

from metta_ab.atomic_files import write_text_atomic
from metta_ab.records import ledger as ledger_module
from metta_ab.records.ledger import (
    ATTEMPTS_DIR,
    COMPLETED,
    FAILED,
    LEDGER_FILE,
    PLANNED,
    RUNNING,
    STATUS_FILE,
    Ledger,
    RecordError,
    RunRecord,
    attempts_made,
    json_safe,
    move_attempt_aside,
    read_json,
    read_status,
    write_json_atomic,
    write_status,
)


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- atomic writes --------------------------------------------------------------------------------------------


def test_write_json_atomic_leaves_only_the_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "data.json"
    for i in range(5):
        write_json_atomic(target, {"round": i, "values": [1.5, None, "x"]})
    assert json.loads(target.read_text(encoding="utf-8")) == {"round": 4, "values": [1.5, None, "x"]}
    assert names_in(target.parent) == ["data.json"]


def test_write_text_atomic_leaves_only_the_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.txt"
    write_text_atomic(target, "first\n")
    write_text_atomic(target, "second é\n")
    assert target.read_text(encoding="utf-8") == "second é\n"
    assert names_in(tmp_path) == ["summary.txt"]


def test_failed_json_write_keeps_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "ledger.json"
    write_json_atomic(target, {"good": True})
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        write_json_atomic(target, {"bad": circular})
    assert json.loads(target.read_text(encoding="utf-8")) == {"good": True}
    assert names_in(tmp_path) == ["ledger.json"]


def test_failed_text_write_keeps_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.txt"
    write_text_atomic(target, "old\n")
    with pytest.raises(TypeError):
        write_text_atomic(target, 42)  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "old\n"
    assert names_in(tmp_path) == ["summary.txt"]


@pytest.mark.parametrize("write", [write_json_atomic, write_text_atomic])
def test_crash_before_the_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: Any
) -> None:
    """A crash between writing the temp file and renaming it: the reader still sees the complete old file."""
    target = tmp_path / "state"
    write(target, "old")
    before = target.read_bytes()

    def crash(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ledger_module.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write(target, "new")
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert names_in(tmp_path) == ["state"]


def test_json_writes_values_it_cannot_encode_as_their_repr(tmp_path: Path) -> None:
    target = tmp_path / "odd.json"
    write_json_atomic(target, {"path": Path("a/b")})
    assert json.loads(target.read_text(encoding="utf-8")) == {"path": repr(Path("a/b"))}


def test_read_json_of_missing_or_corrupt_files(tmp_path: Path) -> None:
    assert read_json(tmp_path / "missing.json") is None
    (tmp_path / "torn.json").write_text('{"runs": [', encoding="utf-8")
    assert read_json(tmp_path / "torn.json") is None


def test_json_safe() -> None:
    value = {
        1: (1.5, math.nan, math.inf, -math.inf),
        "nested": {"ok": [True, None, "s"]},
        "object": Path("x"),
    }
    assert json_safe(value) == {
        "1": [1.5, None, None, None],
        "nested": {"ok": [True, None, "s"]},
        "object": repr(Path("x")),
    }
    json.dumps(json_safe(value), allow_nan=False)


def test_json_safe_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    assert json_safe({"reward": np.float32(0.5), "steps": np.int64(3), "bad": np.float64("nan")}) == {
        "reward": 0.5,
        "steps": 3,
        "bad": None,
    }


# --- status files and attempts ------------------------------------------------------------------------------


def test_status_round_trip(tmp_path: Path) -> None:
    job_dir = tmp_path / "a_run_1"
    assert read_status(job_dir) is None
    write_status(job_dir, {"status": RUNNING, "attempt": 1})
    assert read_status(job_dir) == {"status": RUNNING, "attempt": 1}
    assert names_in(job_dir) == [STATUS_FILE]


def make_attempt(job_dir: Path, label: str) -> None:
    (job_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    (job_dir / ".hydra" / "config.yaml").write_text(f"attempt: {label}\n", encoding="utf-8")
    (job_dir / "train.log").write_text(f"log of {label}\n", encoding="utf-8")
    write_status(job_dir, {"status": FAILED, "error": label})


def test_move_attempt_aside_keeps_every_file(tmp_path: Path) -> None:
    job_dir = tmp_path / "a_run_1"
    make_attempt(job_dir, "first")
    assert attempts_made(job_dir) == 0

    moved = move_attempt_aside(job_dir)
    assert moved == job_dir / ATTEMPTS_DIR / "1"
    assert names_in(job_dir) == [ATTEMPTS_DIR]  # the retry starts in a clean directory
    assert (moved / "train.log").read_text(encoding="utf-8") == "log of first\n"
    assert (moved / ".hydra" / "config.yaml").read_text(encoding="utf-8") == "attempt: first\n"
    assert read_status(moved) == {"status": FAILED, "error": "first"}
    assert attempts_made(job_dir) == 1

    make_attempt(job_dir, "second")
    assert move_attempt_aside(job_dir) == job_dir / ATTEMPTS_DIR / "2"
    assert attempts_made(job_dir) == 2
    assert (job_dir / ATTEMPTS_DIR / "1" / "train.log").read_text(encoding="utf-8") == "log of first\n"
    assert (job_dir / ATTEMPTS_DIR / "2" / "train.log").read_text(encoding="utf-8") == "log of second\n"
    assert names_in(job_dir / ATTEMPTS_DIR) == ["1", "2"]


def test_nothing_to_move_aside(tmp_path: Path) -> None:
    assert move_attempt_aside(tmp_path / "never_created") is None
    assert attempts_made(tmp_path / "never_created") == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert move_attempt_aside(empty) is None
    assert names_in(empty) == []
    assert attempts_made(empty) == 0


def test_only_the_attempts_folder_left_is_not_moved_again(tmp_path: Path) -> None:
    job_dir = tmp_path / "a_run_1"
    make_attempt(job_dir, "first")
    move_attempt_aside(job_dir)
    assert move_attempt_aside(job_dir) is None
    assert attempts_made(job_dir) == 1


def test_move_attempt_aside_after_an_attempt_folder_was_deleted(tmp_path: Path) -> None:
    job_dir = tmp_path / "a_run_1"
    for label in ("first", "second"):
        make_attempt(job_dir, label)
        move_attempt_aside(job_dir)
    (job_dir / ATTEMPTS_DIR / "1" / "train.log").unlink()
    (job_dir / ATTEMPTS_DIR / "1" / STATUS_FILE).unlink()
    (job_dir / ATTEMPTS_DIR / "1" / ".hydra" / "config.yaml").unlink()
    (job_dir / ATTEMPTS_DIR / "1" / ".hydra").rmdir()
    (job_dir / ATTEMPTS_DIR / "1").rmdir()
    make_attempt(job_dir, "third")
    moved = move_attempt_aside(job_dir)
    assert moved is not None
    assert (moved / "train.log").read_text(encoding="utf-8") == "log of third\n"
    assert (job_dir / ATTEMPTS_DIR / "2" / "train.log").read_text(encoding="utf-8") == "log of second\n"


# --- RunRecord.absorb_status ---------------------------------------------------------------------------------


def record() -> RunRecord:
    return RunRecord(variant="a", run_index=1, seed=0, run_name="a_run_1", job_dir="a_run_1")


def test_a_new_record_is_planned() -> None:
    fresh = record()
    assert (fresh.status, fresh.attempts, fresh.errors, fresh.error) == (PLANNED, 0, [], None)


def test_absorb_completed() -> None:
    run = record()
    run.absorb_status(
        {
            "status": COMPLETED,
            "attempt": 1,
            "started_at": 100.0,
            "finished_at": 160.5,
            "duration": 60.5,
            "return_value": {"reward": 0.9},
        },
        launch_error=None,
    )
    assert run.status == COMPLETED
    assert run.attempts == 1
    assert run.return_value == {"reward": 0.9}
    assert (run.started_at, run.finished_at, run.duration) == (100.0, 160.5, 60.5)
    assert (run.error, run.traceback, run.errors) == (None, None, [])


def test_absorb_failed() -> None:
    run = record()
    run.absorb_status(
        {
            "status": FAILED,
            "attempt": 1,
            "error": "RuntimeError: CUDA out of memory",
            "traceback": "Traceback ...\nRuntimeError: CUDA out of memory\n",
            "duration": 3.0,
        },
        launch_error=None,
    )
    assert run.status == FAILED
    assert run.attempts == 1
    assert run.error == "RuntimeError: CUDA out of memory"
    assert "Traceback" in (run.traceback or "")
    assert run.errors == ["attempt 1: RuntimeError: CUDA out of memory"]


@pytest.mark.parametrize("launch_error", [None, "TerminatedWorkerError: worker died"])
def test_absorb_died_while_running(launch_error: str | None) -> None:
    run = record()
    run.absorb_status({"status": RUNNING, "attempt": 2, "started_at": 5.0}, launch_error=launch_error)
    assert run.status == FAILED
    assert run.attempts == 2
    assert "died without finishing" in (run.error or "")
    assert "killed, out of memory, or os._exit" in (run.error or "")
    if launch_error:
        assert launch_error in (run.error or "")
    assert run.traceback is None
    assert run.errors == [f"attempt 2: {run.error}"]


@pytest.mark.parametrize("launch_error", [None, "TerminatedWorkerError: worker died"])
def test_absorb_never_started(launch_error: str | None) -> None:
    run = record()
    run.absorb_status(None, launch_error=launch_error)
    assert run.status == FAILED
    assert run.attempts == 0  # it used no attempt: the sweeper launches it again
    assert (run.error or "").startswith("the job never started")
    if launch_error:
        assert f"the launcher raised {launch_error}" in (run.error or "")
    assert run.errors == []  # `errors` lists failed attempts, and this was none


def test_retry_that_succeeds_keeps_the_failure_history() -> None:
    run = record()
    run.absorb_status(
        {"status": FAILED, "attempt": 1, "error": "ValueError: nan loss", "traceback": "tb"}, launch_error=None
    )
    run.absorb_status({"status": COMPLETED, "attempt": 2, "return_value": 1.0, "duration": 2.0}, launch_error=None)
    assert run.status == COMPLETED
    assert run.attempts == 2
    assert (run.error, run.traceback) == (None, None)
    assert run.return_value == 1.0
    assert run.errors == ["attempt 1: ValueError: nan loss"]


def test_attempts_never_go_down() -> None:
    run = record()
    run.absorb_status({"status": FAILED, "attempt": 3, "error": "x"}, launch_error=None)
    run.absorb_status({"status": FAILED, "attempt": 1, "error": "y"}, launch_error=None)
    assert run.attempts == 3


def test_failed_status_without_an_error_message() -> None:
    run = record()
    run.absorb_status({"status": FAILED, "attempt": 1}, launch_error=None)
    assert run.status == FAILED
    assert run.error == "failed"


# --- the ledger file ----------------------------------------------------------------------------------------


def test_ledger_save_and_load(tmp_path: Path) -> None:
    runs = [record(), RunRecord(variant="b", run_index=1, seed=0, run_name="b_run_1", job_dir="b_run_1")]
    runs[0].absorb_status({"status": COMPLETED, "attempt": 1, "return_value": {"reward": 2}}, launch_error=None)
    ledger = Ledger.create(tmp_path, runs, experiment="lr_test")
    ledger.save()
    ledger.save()
    assert names_in(tmp_path) == [LEDGER_FILE]
    loaded = Ledger.load(tmp_path)
    assert loaded is not None
    assert loaded.runs == ledger.runs
    assert loaded.header == {"experiment": "lr_test"}
    assert [r.job_dir for r in loaded.by_status(COMPLETED)] == ["a_run_1"]
    assert [r.job_dir for r in loaded.by_status(PLANNED)] == ["b_run_1"]


def test_ledger_load_of_a_missing_file(tmp_path: Path) -> None:
    assert Ledger.load(tmp_path) is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"runs": [', "not valid JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"something": "else"}', "field 'runs' is missing"),
        ('{"runs": {}}', "field 'runs' is {}, not of type list[dict[str, typing.Any]]"),
        ('{"fingerprint": [], "runs": []}', "field 'fingerprint' is [], not of type dict"),
        ('{"runs": [{"variant": "a"}]}', "run 1: field 'run_index' is missing"),
    ],
)
def test_ledger_load_names_what_cannot_be_trusted(tmp_path: Path, content: str, problem: str) -> None:
    (tmp_path / LEDGER_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(RecordError, match=re.escape(problem)) as caught:
        Ledger.load(tmp_path)
    assert caught.value.path == tmp_path / LEDGER_FILE


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"attempts": "two"}, "run 1: field 'attempts' is 'two', not of type int"),
        ({"attempts": True}, "run 1: field 'attempts' is True, not of type int"),
        ({"duration": "1s"}, "run 1: field 'duration' is '1s', not of type float | None"),
        ({"errors": [3]}, "run 1: field 'errors' is [3], not of type list[str]"),
        ({"status": "done"}, "run 1: field 'status' is 'done', not a run status"),
        ({"atempts": 2}, "run 1: unknown field 'atempts'"),
    ],
)
def test_ledger_load_names_the_field(tmp_path: Path, change: dict[str, Any], problem: str) -> None:
    Ledger.create(tmp_path, [record()], experiment="lr_test").save()
    data = json.loads((tmp_path / LEDGER_FILE).read_text(encoding="utf-8"))
    data["runs"][0].update(change)
    (tmp_path / LEDGER_FILE).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RecordError, match=re.escape(problem)):
        Ledger.load(tmp_path)


def test_ledger_load_keeps_header_fields_it_does_not_read(tmp_path: Path) -> None:
    Ledger.create(tmp_path, [record()], experiment="g", source="wandb group g").save()  # as wandb_group writes it
    loaded = Ledger.load(tmp_path)
    assert loaded is not None and loaded.header == {"experiment": "g", "source": "wandb group g"}


def test_status_record_with_a_mistyped_field_is_named(tmp_path: Path) -> None:
    write_status(tmp_path, {"status": COMPLETED, "attempt": "two", "a_newer_field": 1})
    with pytest.raises(RecordError, match=r"ab_status.json: field 'attempt' is 'two', not of type int; fix the"):
        read_status(tmp_path)
    write_status(tmp_path, {"status": "finished", "attempt": 2})
    with pytest.raises(RecordError, match="field 'status' is 'finished', not one of running, completed, failed"):
        read_status(tmp_path)
    write_status(tmp_path, {"status": COMPLETED, "attempt": 2, "a_newer_field": 1})  # unknown fields: left alone
    assert read_status(tmp_path) == {"status": COMPLETED, "attempt": 2, "a_newer_field": 1}


def test_a_lost_ledger_record_is_rebuilt_from_the_job_records(tmp_path: Path) -> None:
    job_dir = tmp_path / "a_run_1"
    write_status(job_dir, {"status": FAILED, "attempt": 1, "error": "RuntimeError: first"})
    move_attempt_aside(job_dir)
    write_status(job_dir, {"status": RUNNING, "attempt": 2})
    move_attempt_aside(job_dir)  # died while running
    write_status(job_dir, {"status": COMPLETED, "attempt": 3, "return_value": {"score": 1.0}})
    rebuilt = record()
    assert rebuilt.absorb_job_records(job_dir)
    assert (rebuilt.status, rebuilt.attempts, rebuilt.return_value) == (COMPLETED, 3, {"score": 1.0})
    assert rebuilt.errors[0] == "attempt 1: RuntimeError: first"
    assert rebuilt.errors[1].startswith("attempt 2: the job's process died without finishing")
    assert not record().absorb_job_records(tmp_path / "b_run_1")


def test_a_running_job_record_is_left_for_the_sweep_to_wait_for(tmp_path: Path) -> None:
    write_status(tmp_path, {"status": RUNNING, "attempt": 1})
    rebuilt = record()
    assert rebuilt.absorb_job_records(tmp_path)
    assert (rebuilt.status, rebuilt.attempts) == (PLANNED, 0)


def test_no_temp_files_anywhere_after_a_job_lifecycle(tmp_path: Path) -> None:
    job_dir = tmp_path / "a_run_1"
    write_status(job_dir, {"status": RUNNING, "attempt": 1})
    write_status(job_dir, {"status": FAILED, "attempt": 1, "error": "x"})
    move_attempt_aside(job_dir)
    write_status(job_dir, {"status": COMPLETED, "attempt": 2})
    Ledger.create(tmp_path, [record()]).save()
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        os.path.join("a_run_1", STATUS_FILE),
        os.path.join("a_run_1", ATTEMPTS_DIR, "1", STATUS_FILE),
        LEDGER_FILE,
    ]
