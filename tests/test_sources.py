"""Metric sources on real files: TensorBoard events written by tensorboardX, SB3 / Spinning Up progress
tables, TorchRL's CSV scalars, reader functions from real experiment files, and the order that decides
between them."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metta_ab.analysis.results import analyze_directory
from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import ABExperiment, create_experiment
from metta_ab.definition.loading import load_experiment, save_experiment
from metta_ab.definition.metric_reader import MetricReader
from metta_ab.records.ledger import EXPERIMENT_CONFIG, write_status
from metta_ab.sources import collect_run_metrics, tensorboard_events, torchrl_csv
from metta_ab.sources.progress_table import metrics_from_table, parse_table, step_column

pytestmark = pytest.mark.hydra_independent  # the analysis of finished runs: CI runs it on one Hydra

tensorboardX = pytest.importorskip("tensorboardX")
from tensorboardX.crc32c import crc32c as tensorboardX_crc32c  # noqa: E402
from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata  # noqa: E402
from tensorboardX.proto.tensor_pb2 import TensorProto  # noqa: E402
from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto  # noqa: E402
from tensorboardX.record_writer import masked_crc32c as tensorboardX_masked_crc32c  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent


def write_scalars(logdir: Path, series: dict[str, list[tuple[int, float]]], suffix: str = "") -> None:
    writer = tensorboardX.SummaryWriter(str(logdir), filename_suffix=suffix)
    for tag, points in series.items():
        for step, value in points:
            writer.add_scalar(tag, value, step)
    writer.close()


def tensor_scalar(tag: str, value: float, kind: str) -> Summary:
    """A tensor-based scalar as torch's SummaryWriter writes it with new_style=True (and TF 2 with bytes)."""
    if kind == "float":
        tensor = TensorProto(dtype="DT_FLOAT", float_val=[value], tensor_shape=TensorShapeProto())
    elif kind == "double":
        tensor = TensorProto(dtype="DT_DOUBLE", double_val=[value], tensor_shape=TensorShapeProto())
    else:
        tensor = TensorProto(
            dtype="DT_FLOAT", tensor_content=np.float32(value).tobytes(), tensor_shape=TensorShapeProto()
        )
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=metadata)])


def write_experiment_dir(root: Path, jobs: dict[str, object], experiment: ABExperiment | None = None) -> Path:
    """An experiment directory as a sweep leaves it (config + completed status records), 2 variants x N runs;
    `jobs` maps job dir names to the task's return value."""
    if experiment is None:
        experiment = (
            create_experiment("sources").add_variant(name="a").add_variant(name="b").set_metric("score").build()
        )
    experiment.runs_per_variant = max(int(name.rsplit("_", 1)[1]) for name in jobs)
    root.mkdir(parents=True, exist_ok=True)
    save_experiment(experiment, root / EXPERIMENT_CONFIG)
    for name, returned in jobs.items():
        (root / name).mkdir(exist_ok=True)
        seed = int(name.rsplit("_", 1)[1]) - 1
        write_status(root / name, {"status": "completed", "attempt": 1, "seed": seed, "return_value": returned})
    return root


# --- TensorBoard -------------------------------------------------------------------------------------


def test_tensorboard_scalars_are_metrics_with_their_curves(tmp_path):
    write_scalars(tmp_path / "logs" / "run", {"eval/return": [(0, 0.1), (50, 0.4), (100, 0.8)], "loss": [(3, 2.0)]})
    found = collect_run_metrics(tmp_path, None)
    assert found.final == pytest.approx({"eval/return": 0.8, "loss": 2.0})
    curve = found.curves["eval/return"]
    assert curve.steps.tolist() == [0, 50, 100] and curve.values == pytest.approx([0.1, 0.4, 0.8])
    (label,) = found.sources
    assert label.startswith("tensorboard events (logs/run/events.out.tfevents.") and found.warnings == []


def test_tensor_based_scalars_are_read_as_torch_and_tensorflow_write_them(tmp_path):
    writer = tensorboardX.FileWriter(str(tmp_path / "tb"))
    for step in range(3):
        writer.add_summary(tensor_scalar("f", 0.5 + step, "float"), step)
        writer.add_summary(tensor_scalar("d", 0.25 + step, "double"), step)
        writer.add_summary(tensor_scalar("bytes", 1.5 * step, "content"), step)
    text = TensorProto(dtype="DT_STRING", string_val=[b"hello"], tensor_shape=TensorShapeProto())
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
    writer.add_summary(Summary(value=[Summary.Value(tag="notes", tensor=text, metadata=metadata)]), 0)
    writer.close()
    sw = tensorboardX.SummaryWriter(str(tmp_path / "other"))  # (a file name has only the second in it)
    sw.add_histogram("weights", np.arange(10.0), 0)
    sw.add_text("more_notes", "not a number", 0)
    sw.close()
    found = collect_run_metrics(tmp_path, None)
    assert found.final == pytest.approx({"f": 2.5, "d": 2.25, "bytes": 3.0})
    assert found.curves["d"].values.tolist() == [0.25, 1.25, 2.25]  # doubles keep their precision


def test_a_restarted_writer_continues_the_series_and_a_rewritten_step_takes_the_later_value(tmp_path):
    write_scalars(tmp_path / "tb", {"r": [(0, 1.0), (10, 2.0), (20, 3.0)]})
    # Resumed from step 20 (tensorboardX's file names have the second in them; a suffix keeps both files).
    write_scalars(tmp_path / "tb", {"r": [(20, 30.0), (30, 40.0)]}, suffix=".restart")
    found = collect_run_metrics(tmp_path, None, "r")
    assert found.curves["r"].steps.tolist() == [0, 10, 20, 30]
    assert found.curves["r"].values.tolist() == [1.0, 2.0, 30.0, 40.0] and found.final["r"] == 40.0
    assert "and 1 more)" in found.sources[0]


def test_a_tag_in_several_directories_is_named_by_its_directory(tmp_path):
    writer = tensorboardX.SummaryWriter(str(tmp_path / "runs"))
    for step in range(3):
        writer.add_scalars("loss", {"train": 1.0 - step * 0.1, "eval": 2.0 - step * 0.1}, step)
    writer.add_scalar("lr", 0.01, 0)
    writer.close()
    found = collect_run_metrics(tmp_path, None)
    assert found.final == pytest.approx({"runs/loss/train/loss": 0.8, "runs/loss/eval/loss": 1.8, "lr": 0.01})


def test_a_torn_event_file_keeps_the_points_before_the_tear(tmp_path):
    write_scalars(tmp_path / "tb", {"r": [(step, float(step)) for step in range(100)]})
    (path,) = (tmp_path / "tb").iterdir()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])  # the writer died in the middle of the last record
    found = collect_run_metrics(tmp_path, None, "r")
    assert found.curves["r"].steps.tolist() == list(range(99)) and found.warnings == []


def test_attempts_wandb_and_hidden_directories_are_not_read(tmp_path):
    write_scalars(tmp_path / "attempts" / "1" / "tb", {"score": [(0, 9.0)]})
    write_scalars(tmp_path / "wandb" / "run-1" / "files", {"score": [(0, 8.0)]})  # wandb's synced copy
    write_scalars(tmp_path / ".hydra" / "tb", {"score": [(0, 7.0)]})
    (tmp_path / "attempts" / "1" / "progress.csv").write_text("score\n6\n")
    for hidden in ("attempts/1/exp", ".hydra"):
        (tmp_path / hidden / "scalars").mkdir(parents=True, exist_ok=True)
        (tmp_path / hidden / "scalars" / "score.csv").write_text("0,6.5\n")  # TorchRL's
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "progress.csv").write_text("score\n4\n")
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {"score": 4.0} and found.sources == ["a/b/progress.csv"]


@pytest.mark.slow
def test_event_files_are_read_with_no_tensorboard_tensorflow_or_protobuf(tmp_path):
    experiment_dir = write_experiment_dir(tmp_path / "exp", {"a_run_1": None, "b_run_1": None})
    for job, score in (("a_run_1", 1.0), ("b_run_1", 2.0)):
        write_scalars(experiment_dir / job / "tb", {"score": [(0, 0.0), (10, score)]})
    script = textwrap.dedent(
        f"""
        import json, sys
        for name in ("tensorboard", "tensorflow", "google.protobuf", "tensorboardX", "crc32c"):
            sys.modules[name] = None  # `import <name>` now fails as if it were not installed
        from metta_ab.analysis.results import analyze_directory
        from metta_ab.report.files import write_report
        results = analyze_directory({str(experiment_dir)!r})
        write_report(results, plots=False)
        print(json.dumps([results.scores["a"].tolist(), results.scores["b"].tolist(), results.warnings]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 0, proc.stderr
    a, b, warnings = json.loads(proc.stdout.splitlines()[-1])
    assert (a, b) == ([1.0], [2.0]) and not [w for w in warnings if "TensorBoard" in w]
    summary = json.loads((experiment_dir / "analyses" / "declared" / "summary.json").read_text())
    assert summary["runs"][0]["metric_sources"][0].startswith("tensorboard events (tb/events.out.tfevents.")


TAGS = st.text(alphabet=st.characters(codec="ascii", categories=("L", "N"), include_characters="_/-."), min_size=1)
POINTS = st.lists(
    st.tuples(st.integers(-(2**63), 2**63 - 1), st.floats(width=32, allow_nan=False, allow_infinity=False)),
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(TAGS.filter(lambda t: not t.startswith("/")), POINTS, min_size=1, max_size=4), st.data())
def test_scalars_written_by_tensorboardx_read_back_exactly(tmp_path_factory, series, data):
    """Steps (any int64) and float32 values, in the order written, for every encoding of a scalar."""
    logdir = tmp_path_factory.mktemp("tb")
    writer = tensorboardX.SummaryWriter(str(logdir))
    written: dict[str, tuple[list[int], list[float]]] = {}
    for tag, points in series.items():
        kind = data.draw(st.sampled_from(["simple", "float", "double", "content"]))
        for step, value in points:
            if kind == "simple":
                writer.add_scalar(tag, value, step)
            else:
                writer.file_writer.add_summary(tensor_scalar(tag, value, kind), step)
        if points:
            written[tag] = ([step for step, _ in points], [value for _, value in points])
    writer.close()
    (path,) = logdir.iterdir()
    scalars = tensorboard_events.read_event_file(path)
    assert scalars.points == written and scalars.problems == []
    for steps, values in scalars.points.values():  # the numbers themselves, not only ==
        assert all(type(s) is int for s in steps) and np.array(values, np.float32).tolist() == values


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=60))
def test_crc32c_of_many_records_at_once_is_the_crc_tensorboardx_writes(chunks):
    data = b"".join(chunks)
    lengths = np.array([len(c) for c in chunks], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    view = np.frombuffer(data, dtype=np.uint8) if data else np.zeros(0, np.uint8)
    got = tensorboard_events.crc32c(view, starts, lengths).tolist()
    assert got == [tensorboardX_crc32c(c) for c in chunks]
    masked = tensorboard_events.masked_crc32c(view, starts, lengths).tolist()
    assert masked == [tensorboardX_masked_crc32c(c) for c in chunks]


def test_crc32c_check_value():
    data = np.frombuffer(b"123456789", dtype=np.uint8)
    assert tensorboard_events.crc32c(data, np.array([0]), np.array([9])).tolist() == [0xE3069283]  # RFC 3720


def event_file(tmp_path: Path, points: int = 100) -> Path:
    write_scalars(tmp_path / "tb", {"r": [(step, float(step)) for step in range(points)]})
    (path,) = (tmp_path / "tb").iterdir()
    return path


def records(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each record's data, from the framing."""
    data, found, position = path.read_bytes(), [], 0
    while position < len(data):
        (length,) = struct.unpack_from("<Q", data, position)
        found.append((position + 12, length))
        position += 12 + length + 4
    return found


def test_a_record_with_a_wrong_data_checksum_is_skipped_with_a_warning(tmp_path):
    path = event_file(tmp_path)
    data = bytearray(path.read_bytes())
    start, length = records(path)[51]  # record 0 is the file_version event: this one is step 50
    data[start + length - 1] ^= 0x01  # a bit of the float's last byte
    path.write_bytes(bytes(data))
    found = collect_run_metrics(tmp_path, None, "r")
    assert found.curves["r"].steps.tolist() == [s for s in range(100) if s != 50]
    (warning,) = found.warnings
    assert "tb/events.out.tfevents." in warning and "1 record(s) failed their data checksum" in warning


def test_a_wrong_length_ends_the_file_there_with_a_warning(tmp_path):
    path = event_file(tmp_path)
    data = bytearray(path.read_bytes())
    start, _ = records(path)[31]  # step 30
    data[start - 12] ^= 0x02  # the length is 2 off: the framing would be lost from here
    path.write_bytes(bytes(data))
    found = collect_run_metrics(tmp_path, None, "r")
    assert found.curves["r"].steps.tolist() == list(range(30))
    (warning,) = found.warnings
    assert f"length checksum is wrong at byte {start - 12}: read up to there" in warning


@pytest.mark.parametrize("content", [b"", b"\x00" * 5, bytes(range(256)) * 3, b"not an event file\n"])
def test_files_that_are_empty_short_or_not_event_files_give_no_numbers_and_do_not_fail(tmp_path, content):
    (tmp_path / "tb").mkdir()
    (tmp_path / "tb" / "events.out.tfevents.1.host").write_bytes(content)
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {}
    if len(content) >= 12:  # a whole header that is not one
        (warning,) = found.warnings
        assert "length checksum is wrong at byte 0" in warning
    else:
        assert found.warnings == []  # too short to be anything but a torn first record


def test_a_framed_record_that_is_not_an_event_is_skipped_with_a_warning(tmp_path):
    path = event_file(tmp_path, points=3)
    payload = b"\xff" * 7  # a key with wire type 7: not protobuf
    header = struct.pack("<Q", len(payload))
    header += struct.pack("<I", tensorboardX_masked_crc32c(header))
    path.write_bytes(path.read_bytes() + header + payload + struct.pack("<I", tensorboardX_masked_crc32c(payload)))
    found = collect_run_metrics(tmp_path, None, "r")
    assert found.curves["r"].steps.tolist() == [0, 1, 2]
    (warning,) = found.warnings
    assert "1 record(s) are not TensorBoard events and were skipped" in warning


def test_images_histograms_and_text_beside_scalars(tmp_path):
    writer = tensorboardX.SummaryWriter(str(tmp_path / "tb"))
    rng = np.random.default_rng(0)
    for step in range(3):
        writer.add_image("frame", rng.integers(0, 255, (3, 64, 64), dtype=np.uint8), step)  # a record of KBs
        writer.add_histogram("weights", rng.normal(size=1000), step)
        writer.add_text("notes", f"step {step}", step)
        writer.add_scalar("r", step / 2, step)
    writer.close()
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {"r": 1.0} and found.curves["r"].values.tolist() == [0.0, 0.5, 1.0] and not found.warnings


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        (TensorProto(dtype="DT_INT64", int64_val=[-(2**40)]), -(2.0**40)),
        (TensorProto(dtype="DT_INT32", int_val=[-7]), -7.0),
        (TensorProto(dtype="DT_BOOL", bool_val=[True]), 1.0),
        (TensorProto(dtype="DT_HALF", half_val=[int(np.float16(1.5).view(np.uint16))]), 1.5),
        (TensorProto(dtype="DT_INT64", tensor_content=np.int64(-3).tobytes()), -3.0),
        (TensorProto(dtype="DT_FLOAT", float_val=[2.5], tensor_shape=TensorShapeProto(dim=[{"size": 1}])), 2.5),
        (TensorProto(dtype="DT_FLOAT"), 0.0),  # no values: TensorFlow reads a zero
        (TensorProto(dtype="DT_FLOAT", float_val=[1.0, 2.0], tensor_shape=TensorShapeProto(dim=[{"size": 2}])), None),
        (TensorProto(dtype="DT_FLOAT", float_val=[1.0], tensor_shape=TensorShapeProto(unknown_rank=True)), None),
        (TensorProto(dtype="DT_STRING", string_val=[b"1.0"]), None),
    ],
)
def test_tensor_encodings_of_one_number(tmp_path, tensor, expected):
    writer = tensorboardX.FileWriter(str(tmp_path / "tb"))
    writer.add_summary(Summary(value=[Summary.Value(tag="x", tensor=tensor)]), 5)
    writer.close()
    found = collect_run_metrics(tmp_path, None)
    assert found.final == ({} if expected is None else {"x": expected}) and found.warnings == []


# --- progress tables ---------------------------------------------------------------------------------


def test_stable_baselines3_progress_csv(tmp_path):
    # SB3's CSVOutputFormat: sorted keys, empty cells where a key was not logged that time.
    rows = [
        {"rollout/ep_rew_mean": "", "time/fps": 900, "time/total_timesteps": 2048, "train/loss": ""},
        {"rollout/ep_rew_mean": 12.5, "time/fps": 910, "time/total_timesteps": 4096, "train/loss": 0.8},
        {"rollout/ep_rew_mean": 20.25, "time/fps": 905, "time/total_timesteps": 6144, "train/loss": ""},
    ]
    logdir = tmp_path / "sb3_logs"
    logdir.mkdir()
    with open(logdir / "progress.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {"rollout/ep_rew_mean": 20.25, "time/fps": 905.0, "train/loss": 0.8}
    assert found.curves["rollout/ep_rew_mean"].steps.tolist() == [4096, 6144]
    assert found.curves["train/loss"].steps.tolist() == [4096] and found.sources == ["sb3_logs/progress.csv"]


def test_spinning_up_progress_txt_uses_env_interactions_as_the_step(tmp_path):
    header = ["Epoch", "AverageEpRet", "StdEpRet", "EpLen", "TotalEnvInteracts", "Time"]
    lines = ["\t".join(header)]
    for epoch in range(3):
        lines.append("\t".join(str(v) for v in [epoch, 10.0 * epoch, 1.5, 200, 4000 * (epoch + 1), 3.1 * epoch]))
    (tmp_path / "progress.txt").write_text("\n".join(lines) + "\n")
    found = collect_run_metrics(tmp_path, None, "AverageEpRet")
    assert found.curves["AverageEpRet"].steps.tolist() == [4000, 8000, 12000]
    assert found.final["AverageEpRet"] == 20.0 and "TotalEnvInteracts" not in found.final
    assert found.final["Epoch"] == 2.0  # an iteration column is a metric when a step column exists


def test_table_without_a_step_column_is_indexed_by_row_and_text_columns_are_skipped():
    table = parse_table("score,phase,note\n1,warmup,\n2,,x\n\n3,train,y\n4")  # last row cut short
    assert table == {"score": [1.0, 2.0, 3.0, 4.0]}
    assert step_column(table) is None
    final, curves = metrics_from_table(table, None)
    assert final == {"score": 4.0} and curves["score"].steps.tolist() == [0, 1, 2, 3]


def test_step_column_prefers_environment_steps_over_iterations_and_skips_empty_ones():
    assert step_column({"epoch": [1.0], "Steps": [5.0], "r": [0.0]}) == "Steps"
    assert step_column({"Epoch": [0.0, 1.0], "TotalEnvInteracts": [math.nan, math.nan]}) == "Epoch"
    assert step_column({"training_iteration": [1.0], "timesteps_total": [100.0]}) == "timesteps_total"


names = st.text(alphabet=st.characters(codec="ascii", categories=("L", "N"), include_characters="_/."), min_size=1)
cells = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32), st.integers(-(10**6), 10**6))


@st.composite
def tables(draw):
    columns = draw(st.lists(names.filter(lambda n: step_column({n: [0.0]}) is None), min_size=1, max_size=6))
    columns = list(dict.fromkeys(columns))
    row = st.lists(cells, min_size=len(columns), max_size=len(columns)).filter(lambda r: r != [None] * len(r))
    rows = draw(st.lists(row, max_size=12))  # a logger writes a row when it logged something
    return columns, rows


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from([",", "\t"]), st.booleans())
def test_progress_tables_read_back_what_was_written(table, delimiter, crlf):
    columns, rows = table
    buffer = io.StringIO()
    if delimiter == ",":
        writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
        writer.writerow(columns)
        writer.writerows([["" if v is None else repr(v) for v in row] for row in rows])
    else:  # Spinning Up's logger: "\t".join(...)
        buffer.write("\t".join(columns) + "\n")
        buffer.writelines("\t".join("" if v is None else str(v) for v in row) + "\n" for row in rows)
    final, curves = metrics_from_table(parse_table(buffer.getvalue()), None)
    for i, name in enumerate(columns):
        points = [(step, float(row[i])) for step, row in enumerate(rows) if row[i] is not None]
        if not points:
            assert name not in final and name not in curves
            continue
        assert final[name] == points[-1][1]
        assert curves[name].steps.tolist() == [p[0] for p in points]
        assert curves[name].values.tolist() == [p[1] for p in points]
    assert set(final) <= set(columns)


# --- TorchRL's CSV scalars --------------------------------------------------------------------------
# torchrl needs torch, and PyPI has only its ~3 GB CUDA build: the files are written here as torchrl 0.11.1's
# CSVLogger writes them (torchrl/record/loggers/csv.py, CSVExperiment.add_scalar), line for line.


class TorchRLCSVLogger:
    """TorchRL's `CSVLogger(exp_name, log_dir).log_scalar(name, value, step)`: the path is
    os.path.join(log_dir, exp_name, "scalars", name + ".csv") (a `/` in the name makes directories), the
    file is opened "a+" once and gets ",".join([str(step), str(float(value))]) + "\\n", flushed."""

    def __init__(self, exp_name: str, log_dir: Path) -> None:
        self.log_dir = os.path.join(log_dir, exp_name)
        os.makedirs(os.path.join(self.log_dir, "scalars"), exist_ok=True)
        os.makedirs(os.path.join(self.log_dir, "videos"), exist_ok=True)
        os.makedirs(os.path.join(self.log_dir, "texts"), exist_ok=True)
        self.files: dict[str, io.TextIOWrapper] = {}

    def log_scalar(self, name: str, value: float, step: int | None = None) -> None:
        filepath = os.path.join(self.log_dir, "scalars", "".join([name, ".csv"]))
        if filepath not in self.files:
            os.makedirs(Path(filepath).parent, exist_ok=True)
            self.files[filepath] = open(filepath, "a+")  # noqa: SIM115 (kept open, as TorchRL does)
        self.files[filepath].write(",".join([str(step), str(float(value))]) + "\n")
        self.files[filepath].flush()

    def close(self) -> None:
        for file in self.files.values():
            file.close()


def benchmarl_logger(job_dir: Path, exp_name: str = "mappo_balance_mlp__1a2b3c4d_26_01_01-00_00_00"):
    """BenchMARL's csv logger: get_logger(logger_type="csv", logger_name=<job dir>/<exp name>,
    experiment_name=<exp name>), names with `/` replaced by `_` before log_scalar."""
    return TorchRLCSVLogger(exp_name, job_dir / exp_name)


def test_benchmarl_csv_scalars_are_metrics_with_their_curves(tmp_path):
    logger = benchmarl_logger(tmp_path)
    for iteration in range(4):
        logger.log_scalar("eval_reward_episode_reward_mean", -1.5 + 0.25 * iteration, step=iteration * 200)
        logger.log_scalar("timers_total_time", 1.0 + iteration, step=iteration * 200)
        logger.log_scalar("train_agents_loss_entropy", float("nan") if iteration == 0 else -0.1, step=iteration * 200)
    logger.close()
    (tmp_path / "mappo_balance_mlp__1a2b3c4d_26_01_01-00_00_00.json").write_text("{}")  # marl-eval's file
    found = collect_run_metrics(tmp_path, None, "eval_reward_episode_reward_mean")
    assert found.final == {
        "eval_reward_episode_reward_mean": -0.75,
        "timers_total_time": 4.0,
        "train_agents_loss_entropy": -0.1,
    }
    curve = found.curves["eval_reward_episode_reward_mean"]
    assert curve.steps.tolist() == [0, 200, 400, 600] and curve.values.tolist() == [-1.5, -1.25, -1.0, -0.75]
    (label,) = found.sources
    exp = "mappo_balance_mlp__1a2b3c4d_26_01_01-00_00_00"
    assert label == f"torchrl csv scalars ({exp}/{exp}/scalars)" and found.warnings == []


def test_torchrl_names_with_slashes_are_directories_and_read_back_with_slashes(tmp_path):
    logger = TorchRLCSVLogger("exp", tmp_path / "csv_logs")  # TorchRL's own default log_dir
    logger.log_scalar("eval/reward", 1.0, step=10)
    logger.log_scalar("eval/reward", 2.0, step=20)
    logger.log_scalar("train/loss/critic", 0.5, step=20)
    logger.log_scalar("r", 3.0)  # no step: str(None); not a point
    logger.close()
    assert (tmp_path / "csv_logs" / "exp" / "scalars" / "eval" / "reward.csv").read_text() == "10,1.0\n20,2.0\n"
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {"eval/reward": 2.0, "train/loss/critic": 0.5}


def test_a_resumed_torchrl_run_appends_and_a_rewritten_step_takes_the_later_value(tmp_path):
    for points in ([(0, 1.0), (100, 2.0), (200, 3.0)], [(100, 20.0), (200, 30.0), (300, 40.0)]):
        logger = benchmarl_logger(tmp_path, "exp")  # a new process, the same directory: "a+" appends
        for step, value in points:
            logger.log_scalar("score", value, step=step)
        logger.close()
    with open(tmp_path / "exp" / "exp" / "scalars" / "score.csv", "a") as file:
        file.write("400,4")  # the writer died mid-line
    found = collect_run_metrics(tmp_path, None, "score")
    assert found.curves["score"].steps.tolist() == [0, 100, 200, 300, 400]
    assert found.curves["score"].values.tolist() == [1.0, 20.0, 30.0, 40.0, 4.0]
    with open(tmp_path / "exp" / "exp" / "scalars" / "score.csv", "a") as file:
        file.write("\n5")  # and a line cut before its comma: skipped
    assert collect_run_metrics(tmp_path, None, "score").final == {"score": 4.0}


def test_csv_files_in_a_scalars_directory_that_are_not_torchrl_are_not_read(tmp_path):
    scalars = tmp_path / "out" / "scalars"
    scalars.mkdir(parents=True)
    (scalars / "table.csv").write_text("step,value\n0,1.0\n")  # a header: someone else's table
    (scalars / "three.csv").write_text("0,1.0,2.0\n")
    (scalars / "notes.txt").write_text("0,1.0\n")
    (scalars / "ok.csv").write_text("\n0,1.0\n")
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {"ok": 1.0} and found.warnings == []


def test_a_scalar_in_several_torchrl_experiments_is_named_by_the_experiment_directory(tmp_path):
    for exp, value in (("train", 1.0), ("eval", 2.0)):
        logger = TorchRLCSVLogger(exp, tmp_path / "logs")
        logger.log_scalar("reward", value, step=0)
        logger.log_scalar(f"only_{exp}", value, step=0)
        logger.close()
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {"logs/eval/reward": 2.0, "logs/train/reward": 1.0, "only_eval": 2.0, "only_train": 1.0}
    assert found.sources == ["torchrl csv scalars (logs/eval/scalars and 1 more)"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(-(10**12), 10**12), st.floats(allow_nan=False, allow_infinity=False)),
        min_size=1,
        max_size=20,
    )
)
def test_torchrl_scalars_read_back_exactly(tmp_path_factory, points):
    job = tmp_path_factory.mktemp("job")
    logger = benchmarl_logger(job, "exp")
    for step, value in points:
        logger.log_scalar("x", value, step=step)
    logger.close()
    ((path, name),) = torchrl_csv.scalar_files(job / "exp" / "exp" / "scalars")
    assert name == "x" and torchrl_csv.read_scalar_file(path) == ([p[0] for p in points], [p[1] for p in points])


# --- reader functions --------------------------------------------------------------------------------

READERS = """
import json
from pathlib import Path


def read_number(job_dir):
    return float((Path(job_dir) / "score.txt").read_text())


def read_dict(job_dir):
    return {"score": read_number(job_dir), "other": 7, "label": "not a number"}


def read_layout(job_dir):
    return {"final": {"score": read_number(job_dir)}, "curve": {"step": [0, 10], "score": [0.0, read_number(job_dir)]}}


def read_none(job_dir):
    return None


def read_raising(job_dir):
    if "a_run_2" in str(job_dir):
        raise ValueError("no score line")
    return read_number(job_dir)


def read_text(job_dir):
    return "0.5"


def make():
    def inner(job_dir):
        return 1.0
    return inner
"""


def experiment_with_reader(tmp_path: Path, reader: str, metric: str = "score") -> ABExperiment:
    """An experiment file that defines the readers itself (the usual place for them)."""
    exp = tmp_path / "exp.py"
    exp.write_text(
        READERS + "\n\nfrom metta_ab import create_experiment\n\n"
        f'experiment = create_experiment("readers").add_variant(name="a").add_variant(name="b")'
        f'.set_metric("{metric}", reader={reader}).build()\n'
    )
    return load_experiment(exp)


def reader_experiment_dir(tmp_path: Path, reader: str, scores: dict[str, float]) -> Path:
    experiment = experiment_with_reader(tmp_path, reader)
    experiment_dir = write_experiment_dir(tmp_path / "out", {job: {"score": -1.0} for job in scores}, experiment)
    for job, score in scores.items():
        (experiment_dir / job / "score.txt").write_text(str(score))
    return experiment_dir


SCORES = {"a_run_1": 0.1, "a_run_2": 0.2, "b_run_1": 0.5, "b_run_2": 0.7}


@pytest.mark.parametrize("reader", ["read_number", "read_dict", "read_layout"])
def test_a_reader_is_consulted_first_and_reloads_from_experiment_config(tmp_path, reader):
    experiment_dir = reader_experiment_dir(tmp_path, reader, SCORES)
    saved = (experiment_dir / EXPERIMENT_CONFIG).read_text()
    assert f"reader: {tmp_path / 'exp.py'}:{reader}" in saved
    results = analyze_directory(experiment_dir)  # a fresh load of the YAML: the reader is found again
    assert results.experiment.metric_reader == MetricReader(str(tmp_path / "exp.py"), reader, "score")
    assert results.scores["a"] == pytest.approx([0.1, 0.2]) and results.scores["b"] == pytest.approx([0.5, 0.7])
    found = results.metrics["a_run_1"]
    assert found.sources[0] == f"reader {reader}"  # before the return value, which said -1
    if reader == "read_dict":
        assert found.final["other"] == 7 and "label" not in found.final
    if reader == "read_layout":
        assert found.curves["score"].values.tolist() == [0.0, 0.1]


def test_a_reader_that_returns_none_leaves_the_other_sources(tmp_path):
    experiment_dir = reader_experiment_dir(tmp_path, "read_none", SCORES)
    results = analyze_directory(experiment_dir)
    assert results.scores["a"].tolist() == [-1.0, -1.0] and results.metrics["a_run_1"].sources == ["return value"]


def test_a_reader_that_raises_leaves_that_run_out_with_a_warning(tmp_path):
    experiment_dir = reader_experiment_dir(tmp_path, "read_raising", SCORES)
    results = analyze_directory(experiment_dir)
    assert results.scores["a"][0] == pytest.approx(0.1) and math.isnan(results.scores["a"][1])  # not the -1
    (warning,) = [w for w in results.warnings if "raised" in w]
    assert "the metric reader read_raising" in warning and "ValueError: no score line" in warning
    line = READERS.splitlines().index('        raise ValueError("no score line")') + 1
    assert f"(at read_raising, line {line})" in warning and "[1 run(s): a_run_2]" in warning
    assert any("a_run_2" in w and "reported no value" in w for w in results.warnings)


def test_a_reader_returning_something_else_is_a_warning(tmp_path):
    results = analyze_directory(reader_experiment_dir(tmp_path, "read_text", SCORES))
    assert any("returned a str" in w and "4 run(s)" in w for w in results.warnings)


@pytest.mark.parametrize(
    ("reader", "message"),
    [
        (lambda job_dir: 1.0, "a lambda cannot be recorded"),
        (print, "not a module-level function of a Python file"),
        (42, "must be a function"),
    ],
)
def test_readers_that_cannot_be_recorded_are_refused_at_build(reader, message):
    builder = create_experiment("x").add_variant(name="a").add_variant(name="b").set_metric("s", reader=reader)
    with pytest.raises(ExperimentError, match=message):
        builder.build()


def test_a_nested_reader_is_refused_at_build(tmp_path):
    with pytest.raises(ExperimentError, match=r"make\.<locals>\.inner.*inside a function or class"):
        experiment_with_reader(tmp_path, "make()")


def test_a_reader_in_a_module_beside_the_experiment_file_is_recorded_there(tmp_path):
    helper = f"readers_{tmp_path.name}"  # a module name of its own: `import` caches modules by name
    (tmp_path / f"{helper}.py").write_text(READERS)
    (tmp_path / "exp.py").write_text(
        f"from metta_ab import create_experiment\nfrom {helper} import read_number\n\n"
        'experiment = create_experiment("x").add_variant(name="a").add_variant(name="b")'
        '.set_metric("score", reader=read_number).build()\n'
    )
    reader = load_experiment(tmp_path / "exp.py").metric_reader
    assert reader.spec == f"{tmp_path / helper}.py:read_number"


def test_a_reader_that_is_gone_on_reload_is_an_error_naming_file_and_function(tmp_path):
    experiment_dir = reader_experiment_dir(tmp_path, "read_number", SCORES)
    readers = tmp_path / "exp.py"
    readers.write_text(readers.read_text().replace("read_number", "read_renamed"))
    with pytest.raises(ExperimentError, match=f"{readers}:read_number: .* defines no function 'read_number'"):
        analyze_directory(experiment_dir)
    readers.unlink()
    with pytest.raises(ExperimentError, match=f"reader 'read_number' was defined in {readers}, which no longer"):
        load_experiment(experiment_dir / EXPERIMENT_CONFIG)


def test_experiment_with_reader_survives_the_dict_round_trip(tmp_path):
    experiment = experiment_with_reader(tmp_path, "read_number")
    again = ABExperiment.from_dict(experiment.to_dict())
    assert again == experiment and again.metric_reader is not experiment.metric_reader
    (tmp_path / "score.txt").write_text("0.25")
    assert again.metric_reader.load()(tmp_path) == 0.25  # found again by importing exp.py
    assert again.to_dict()["analysis"] == {
        "metric": "score",
        "direction": "max",
        "reader": experiment.metric_reader.spec,
    }


# --- the order of the sources ------------------------------------------------------------------------


def test_sources_in_order_and_later_ones_read_only_while_the_metric_is_missing(tmp_path):
    (tmp_path / "metrics.json").write_text(
        json.dumps({"final": {"a": 2.0, "b": 2.0}, "curve": {"step": [0, 1], "a": [1.0, 2.0]}})
    )
    write_scalars(tmp_path / "tb", {"b": [(0, 3.0)], "c": [(0, 3.0)]})
    (tmp_path / "progress.csv").write_text("c,d\n4,4\n")
    returned = {"a": 1.0}
    wanted_early = collect_run_metrics(tmp_path, returned, "a")
    assert wanted_early.final == {"a": 1.0, "b": 2.0} and wanted_early.sources == ["return value", "metrics.json"]
    assert wanted_early.curves["a"].values.tolist() == [1.0, 2.0]  # the file adds the curve to the returned value
    wanted_late = collect_run_metrics(tmp_path, returned, "d")
    assert wanted_late.final == {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    assert wanted_late.sources[:2] == ["return value", "metrics.json"]
    assert wanted_late.sources[2].startswith("tensorboard events") and wanted_late.sources[3] == "progress.csv"
    assert collect_run_metrics(tmp_path, returned).final == wanted_late.final  # nothing declared: all of them


def test_runs_that_completed_without_the_metric_are_named_not_sent_for_more_runs(tmp_path):
    """One variant's runs report the metric and the other's report nothing: the reason names the silent runs
    (more runs would not help) instead of 'fewer than 2 scored runs; raise runs_per_variant'."""
    jobs = {"a_run_1": {"score": 1.0}, "a_run_2": {"score": 2.0}, "b_run_1": None, "b_run_2": None}
    reason = analyze_directory(write_experiment_dir(tmp_path / "exp", jobs)).no_verdict
    assert reason.startswith("b vs a: fewer than 2 scored runs per variant")
    assert "2 run(s) completed without a value for 'score' (b_run_1, b_run_2)." in reason
    assert "runs_per_variant" not in reason


def test_a_declared_metric_nobody_reported_lists_the_names_that_were_found(tmp_path):
    experiment = create_experiment("typo").add_variant(name="a").add_variant(name="b").set_metric("eval/retrun")
    experiment_dir = write_experiment_dir(tmp_path / "exp", {"a_run_1": None, "b_run_1": None}, experiment.build())
    for job in ("a_run_1", "b_run_1"):
        write_scalars(
            experiment_dir / job / "tb", {"train/loss": [(0, 1.0)], "eval/return": [(0, 2.0)], "zz": [(0, 0)]}
        )
    warning = analyze_directory(experiment_dir).no_verdict
    assert (
        warning.startswith("No run reported")
        and "the runs reported 'eval/return', " in warning
        and ".set_metric('eval/return', ...)" in warning
    )
    empty_dir = write_experiment_dir(tmp_path / "empty", {"a_run_1": None, "b_run_1": None}, experiment.build())
    warning = analyze_directory(empty_dir).no_verdict
    assert (
        warning.startswith("2 run(s) completed, but no number was found for 'eval/retrun' nor for any other metric.")
        and "TensorBoard event files" in warning
        and "reader=fn" in warning
    )
