"""Tests for metta_ab.sources.wandb_transaction_log against real offline W&B runs (wandb in offline mode, no mocks)."""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from dataclasses import FrozenInstanceError
from pathlib import Path
from types import SimpleNamespace

import pytest

from metta_ab.sources.wandb_transaction_log import WandbLogError, find_wandb_logs, read_wandb_log

BLOCK = 32 * 1024
LONG_STEPS = 2000
BLOB = "x" * 70_000  # a config value larger than two 32 KiB blocks: first/middle/last chunks
CONFIG = {
    "trainer": {"lr": 0.001, "layers": [64, 64], "optimizer": {"name": "adam", "betas": [0.9, 0.999]}},
    "seed": 7,
    "label": "héllo wörld ✓ 日本",
    "arm": {"value": "a"},  # a user's own {"value": ...} dict must not be unwrapped
    "flags": [True, False, None],
}

# Three finished runs, one after the other in one process: a run using every field, a run
# that exits with code 3, and a long run (2,000 logged steps).
FINISHED_SCRIPT = f"""
import wandb

config = {CONFIG!r}
run = wandb.init(
    project="ab-proj", entity="ab-team", group="grp-1", name="job-0", id="abfull0",
    job_type="train", tags=["ab", "arm:a"], notes="notes ✓ with unicode", config=config,
)
run.config.update({{"late": {{"k": [1, 2]}}}})
for i in range(5):
    row = {{"loss": 1.0 / (i + 1), "reward": 2.0 * i, "eval": {{"score": i}}}}
    if i % 2 == 0:
        row["sparse"] = i * 10
    run.log(row, step=i)
run.summary["best_reward"] = 8.0
run.summary["final"] = {{"a": 1, "b": [1, 2]}}
run.finish()

run = wandb.init(project="ab-proj", id="abexit3", config={{"x": 1}})
run.log({{"v": float("nan"), "w": float("inf"), "s": "text", "b": True}}, step=0)
run.log({{"v": -float("inf"), "w": 1.5}}, step=1)
run.finish(exit_code=3)

run = wandb.init(project="ab-proj", id="ablong", config={{"blob": {BLOB!r}}})
for i in range({LONG_STEPS}):
    run.log({{"loss": 1.0 / (i + 1), "reward": 0.5 * i, "entropy": -i, "lr": 1e-3}}, step=i)
run.finish()
"""

# A crash after the log was flushed: the transaction log is flushed every 0.1 s here
# (wandb's default is every 15 s), the script waits, then dies without run.finish().
CRASH_FLUSHED_SCRIPT = """
import os, time, wandb

run = wandb.init(
    project="ab-proj", id="abcrash", group="grp-1", tags=["crash"],
    settings=wandb.Settings(x_transaction_log_flush_interval=0.1),
)
for i in range(5):
    run.log({"loss": 1.0 / (i + 1), "reward": 2.0 * i}, step=i)
time.sleep(1.5)
os._exit(1)
"""

# A crash with wandb's default flushing (every 15 s): until then wandb-core writes only whole
# 32 KiB blocks, so the file can end inside a record (a torn tail). When wandb-core notices
# the parent is gone it shuts down and sometimes flushes first: seen both ways, it is a race.
# Either way there is no exit record.
CRASH_TORN_SCRIPT = """
import os, wandb

run = wandb.init(project="ab-proj", id="abtorn")
for i in range(500):
    run.log({"loss": 1.0 / (i + 1), "reward": 0.5 * i, "entropy": -i, "lr": 1e-3}, step=i)
os._exit(1)
"""


def _wandb_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_DIR=str(tmp),
        WANDB_CONFIG_DIR=str(tmp / "config"),
        WANDB_CACHE_DIR=str(tmp / "cache"),
        WANDB_DATA_DIR=str(tmp / "data"),
    )
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Run the three scripts at the same time; each produces real offline runs."""
    scripts = {"finished": FINISHED_SCRIPT, "crash": CRASH_FLUSHED_SCRIPT, "torn": CRASH_TORN_SCRIPT}
    dirs: dict[str, Path] = {}
    procs: dict[str, subprocess.Popen[str]] = {}
    for name, script in scripts.items():
        work = tmp_path_factory.mktemp(name)
        (work / "script.py").write_text(textwrap.dedent(script), encoding="utf-8")
        dirs[name] = work
        procs[name] = subprocess.Popen(
            [sys.executable, "script.py"],
            cwd=work,
            env=_wandb_env(work),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    outputs = {name: proc.communicate(timeout=900)[0] for name, proc in procs.items()}
    expected_rc = {"finished": 0, "crash": 1, "torn": 1}
    for name, proc in procs.items():
        assert proc.returncode == expected_rc[name], f"{name} script failed:\n{outputs[name]}"

    finished = find_wandb_logs(dirs["finished"])
    crash = find_wandb_logs(dirs["crash"])
    torn = find_wandb_logs(dirs["torn"])
    assert len(finished) == 3 and len(crash) == 1 and len(torn) == 1
    return SimpleNamespace(
        dirs=dirs, full=finished[0], exit3=finished[1], long=finished[2], crash=crash[0], torn=torn[0]
    )


@pytest.fixture(scope="module")
def full(runs: SimpleNamespace):
    return read_wandb_log(runs.full)


@pytest.fixture(scope="module")
def long(runs: SimpleNamespace):
    return read_wandb_log(runs.long)


def _same(a: list, b: list) -> bool:
    """List equality where NaN equals NaN."""
    return len(a) == len(b) and all(
        x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        for x, y in zip(a, b, strict=True)
    )


def _assert_history_prefix(part, whole) -> int:
    """The history read from a cut file is the first rows of the whole file's history."""
    n = len(part.history.get("_step", []))
    for column, values in part.history.items():
        assert len(values) == n
        assert _same(values, whole.history[column][:n]), column
    return n


# --------------------------------------------------------------------------------------------
# Finished runs


def test_full_run_fields(full) -> None:
    assert full.run_id == "abfull0"
    assert full.name == "job-0"
    assert full.project == "ab-proj"
    assert full.entity == "ab-team"
    assert full.group == "grp-1"
    assert full.tags == ("ab", "arm:a")
    assert full.job_type == "train"
    assert full.notes == "notes ✓ with unicode"
    assert full.exit_code == 0
    assert full.complete is True
    assert full.problem is None


def test_full_run_config(full) -> None:
    assert full.config == {**CONFIG, "late": {"k": [1, 2]}}
    assert "_wandb" not in full.config


def test_full_run_history(full) -> None:
    history = full.history
    assert history["_step"] == [0, 1, 2, 3, 4]
    assert history["loss"] == [1.0, 0.5, 1.0 / 3, 0.25, 0.2]
    assert history["reward"] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert history["eval.score"] == [0, 1, 2, 3, 4]  # nested dicts: keys joined with "."
    assert history["sparse"] == [0, None, 20, None, 40]  # missing at odd steps: None
    assert len(history["_runtime"]) == len(history["_timestamp"]) == 5
    assert all(isinstance(t, float) for t in history["_timestamp"])


def test_full_run_summary(full) -> None:
    summary = full.summary
    assert summary["loss"] == 0.2
    assert summary["reward"] == 8.0
    assert summary["eval"] == {"score": 4}
    assert summary["sparse"] == 40
    assert summary["best_reward"] == 8.0
    assert summary["final"] == {"a": 1, "b": [1, 2]}
    assert summary["_step"] == 4
    assert isinstance(summary["_runtime"], (int, float))
    assert not {"_wandb", "_timestamp"} & set(summary)


def test_run_is_frozen(full) -> None:
    with pytest.raises(FrozenInstanceError):
        full.name = "other"


def test_exit_code_and_non_finite_values(runs: SimpleNamespace) -> None:
    run = read_wandb_log(runs.exit3)
    assert run.run_id == "abexit3"
    assert run.exit_code == 3
    assert run.complete is True
    assert run.name is None and run.group is None and run.entity is None and run.tags == ()
    assert run.config == {"x": 1}
    assert run.history["_step"] == [0, 1]
    assert math.isnan(run.history["v"][0]) and run.history["v"][1] == -math.inf
    assert run.history["w"] == [math.inf, 1.5]
    assert run.history["s"] == ["text", None]
    assert run.history["b"] == [True, None]


def test_long_run(long, runs: SimpleNamespace) -> None:
    assert runs.long.stat().st_size > 3 * BLOCK
    assert long.complete is True and long.exit_code == 0
    assert long.config == {"blob": BLOB}  # a record spanning several blocks
    assert long.history["_step"] == list(range(LONG_STEPS))
    assert long.history["loss"] == [1.0 / (i + 1) for i in range(LONG_STEPS)]
    assert long.history["entropy"] == [-i for i in range(LONG_STEPS)]
    assert long.summary["reward"] == 0.5 * (LONG_STEPS - 1)


def test_long_run_read_time(long, runs: SimpleNamespace) -> None:
    """Prints the read time of a 2,000-row run; never asserts on time."""
    cpu, wall = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        run = read_wandb_log(runs.long)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert run == long
    print(
        f"\nread_wandb_log: {LONG_STEPS} history rows x {len(long.history) - 3} columns, "
        f"{runs.long.stat().st_size / 1024:.0f} KiB: best {min(wall) * 1e3:.1f} ms wall, "
        f"{min(cpu) * 1e3:.1f} ms CPU (of 5 reads)"
    )


# --------------------------------------------------------------------------------------------
# Crashed runs


def test_crashed_run_after_flush(runs: SimpleNamespace) -> None:
    run = read_wandb_log(runs.crash)
    assert run.complete is False
    assert run.exit_code is None
    assert run.run_id == "abcrash" and run.group == "grp-1" and run.tags == ("crash",)
    # wandb commits a step's row when the next step starts (or at finish): the last of the
    # five logged steps never reaches the file, the four before it do.
    assert run.history["_step"] == [0, 1, 2, 3]
    assert run.history["loss"] == [1.0, 0.5, 1.0 / 3, 0.25]
    assert run.history["reward"] == [0.0, 2.0, 4.0, 6.0]


def test_crashed_run_with_torn_tail(runs: SimpleNamespace) -> None:
    run = read_wandb_log(runs.torn)
    size = runs.torn.stat().st_size
    print(f"\ncrashed run without flush: {size} bytes on disk ({size / BLOCK:.2f} blocks), problem={run.problem}")
    assert run.complete is False
    assert run.exit_code is None
    steps = run.history.get("_step", [])
    assert steps == list(range(len(steps)))
    assert run.history.get("loss", []) == [1.0 / (i + 1) for i in range(len(steps))]
    assert len(steps) < 500


def test_truncated_file_reads_a_prefix(runs: SimpleNamespace, full, tmp_path: Path) -> None:
    data = runs.full.read_bytes()
    cut = tmp_path / "run-cut.wandb"
    offsets = sorted({*range(0, 80), *range(80, len(data), 7), len(data) - 1})
    rows_seen = []
    for offset in offsets:
        cut.write_bytes(data[:offset])
        part = read_wandb_log(cut)  # never raises
        assert part.complete is False, offset
        assert part.exit_code is None, offset
        rows_seen.append(_assert_history_prefix(part, full))
    assert rows_seen == sorted(rows_seen)  # more bytes never means fewer rows
    assert rows_seen[0] == 0 and rows_seen[-1] == 5
    cut.write_bytes(data)
    assert read_wandb_log(cut) == full


def test_truncated_multi_block_file(runs: SimpleNamespace, long, tmp_path: Path) -> None:
    data = runs.long.read_bytes()
    cut = tmp_path / "run-cut.wandb"
    offsets = {len(data) - 1, len(data) // 2, len(data) - BLOCK // 2}
    for boundary in (BLOCK, 2 * BLOCK, 3 * BLOCK, 10 * BLOCK):
        offsets.update(range(boundary - 9, boundary + 9, 2))
    for offset in sorted(offsets):
        cut.write_bytes(data[:offset])
        part = read_wandb_log(cut)
        assert part.complete is False, offset
        assert part.problem, offset
        _assert_history_prefix(part, long)


def test_corrupted_byte_stops_reading(runs: SimpleNamespace, full, tmp_path: Path) -> None:
    data = bytearray(runs.full.read_bytes())
    where = len(data) // 2
    data[where] ^= 0xFF
    bad = tmp_path / "run-bad.wandb"
    bad.write_bytes(bytes(data))
    part = read_wandb_log(bad)
    assert part.complete is False
    assert "checksum" in part.problem
    _assert_history_prefix(part, full)


# --------------------------------------------------------------------------------------------
# Files that are not W&B logs


@pytest.mark.parametrize(
    "content",
    [b"PK\x03\x04 a zip file, not a W&B log" * 4, b"abc", b"name: value\n", b":W&B\xe1\xbe\x07" + b"\0" * 20],
    ids=["zip", "short", "yaml", "unknown-version"],
)
def test_not_a_wandb_log_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "run-bogus.wandb"
    path.write_bytes(content)
    with pytest.raises(WandbLogError) as excinfo:
        read_wandb_log(path)
    assert str(path) in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_empty_file_is_an_empty_torn_log(tmp_path: Path) -> None:
    path = tmp_path / "run-empty.wandb"
    path.write_bytes(b"")
    run = read_wandb_log(path)
    assert run.complete is False and run.run_id is None and run.history == {} and run.summary == {}


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_wandb_log(tmp_path / "nope.wandb")


# --------------------------------------------------------------------------------------------
# Typed history values (wandb's "typed" encoding, where value_json may be empty)


def _frame(records: list[bytes]) -> bytes:
    """LevelDB-log framing as wandb-core writes it (full chunks only; small records)."""
    out = bytearray(b":W&B" + struct.pack("<H", 0xBEE1) + b"\0")
    for payload in records:
        left = BLOCK - len(out) % BLOCK
        if left < 7:
            out += b"\0" * left
        chunk_type = b"\x01"
        out += struct.pack("<IH", zlib.crc32(chunk_type + payload), len(payload)) + chunk_type + payload
    return bytes(out)


def test_typed_history_values(tmp_path: Path) -> None:
    from wandb.proto import wandb_internal_pb2 as pb

    record = pb.Record()
    record.history.step.num = 7
    values = {"i": ("integer", 5), "f": ("number", 2.5), "t": ("text", "é"), "b": ("boolean", True)}
    for key, (kind, value) in values.items():
        item = record.history.item.add()
        item.key = key
        setattr(item, kind, value)
    item = record.history.item.add()
    item.nested_key.extend(["obj", "inner"])
    item.json = '{"a": [1, 2]}'
    path = tmp_path / "run-typed.wandb"
    path.write_bytes(_frame([record.SerializeToString()]))
    run = read_wandb_log(path)
    assert run.history == {"_step": [7], "i": [5], "f": [2.5], "t": ["é"], "b": [True], "obj.inner": [{"a": [1, 2]}]}
    assert run.complete is False and run.problem is None  # intact framing, but no exit record


# --------------------------------------------------------------------------------------------
# find_wandb_logs and import cost


def test_find_wandb_logs(runs: SimpleNamespace, tmp_path: Path) -> None:
    # wandb also leaves a "latest-run" symlink: each run is listed once, newest last.
    assert find_wandb_logs(runs.dirs["finished"]) == [runs.full, runs.exit3, runs.long]

    job = tmp_path / "job"
    online = job / "sub" / "wandb" / "run-20200101_000000-old" / "run-old.wandb"
    offline = job / "wandb" / "offline-run-20300101_000000-new" / "run-new.wandb"
    ignored = job / "wandb" / "offline-run-20250101_000000-x" / "files" / "other.wandb"
    for path in (online, offline, ignored):
        path.parent.mkdir(parents=True)
        shutil.copyfile(runs.exit3, path)
    assert find_wandb_logs(job) == [online, offline]
    assert find_wandb_logs(tmp_path / "missing") == []


@pytest.mark.slow
def test_import_is_cheap() -> None:
    code = (
        "import sys, metta_ab.sources.wandb_transaction_log\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('wandb', 'google')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
