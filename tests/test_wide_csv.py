"""Wide CSV logs (Lightning's CSVLogger `metrics.csv`): sparse rows read against a brute-force reference, the
layout Lightning writes, and every CSV read by exactly one source."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metta_ab.sources import collect_run_metrics
from metta_ab.sources.base import Job
from metta_ab.sources.wide_csv import parse_wide_csv

pytestmark = pytest.mark.hydra_independent  # the analysis of finished runs: CI runs it on one Hydra

METRICS = ("train/loss_step", "val/acc", "val/loss", "test/loss")


def lightning_csv(rows: list[dict[str, float | int | None]]) -> str:
    """The file Lightning's CSVLogger leaves: a sorted header of every name, one row per log_metrics call."""
    keys = sorted({key for row in rows for key, value in row.items() if value is not None} | {"epoch", "step"})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: v for k, v in row.items() if v is not None} for row in rows)
    return out.getvalue()


def reference(rows: list[dict[str, float | int | None]]) -> dict[str, tuple[list[float], list[float]]]:
    """By brute force: each metric's (steps, values), one value per step (the last row's), by step."""
    curves = {}
    names = {key for row in rows for key, value in row.items() if value is not None and key != "step"}
    for name in names:
        at_step: dict[float, float] = {}
        for row in rows:  # in the order written: a later row at the same step replaces an earlier one
            if row.get("step") is not None and row.get(name) is not None:
                at_step[float(row["step"])] = float(row[name])
        if at_step:
            steps = sorted(at_step)
            curves[name] = (steps, [at_step[step] for step in steps])
    return curves


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
row_strategy = st.fixed_dictionaries(
    {"step": st.none() | st.integers(0, 12), "epoch": st.integers(0, 3)},
    optional=dict.fromkeys(METRICS, finite),
)

rows_with_a_step = st.lists(row_strategy, min_size=1, max_size=40).filter(
    lambda rows: any(r["step"] is not None for r in rows)
)


@settings(max_examples=300, deadline=None)
@given(rows=rows_with_a_step)
def test_sparse_rows_give_each_metric_its_cells_in_step_order_the_later_row_winning_a_step(rows, tmp_path_factory):
    job_dir = tmp_path_factory.mktemp("job")
    (job_dir / "csv" / "version_0").mkdir(parents=True)
    (job_dir / "csv" / "version_0" / "metrics.csv").write_text(lightning_csv(rows), newline="")
    found = collect_run_metrics(job_dir, None)
    expected = reference(rows)
    assert {name: (c.steps.tolist(), c.values.tolist()) for name, c in found.curves.items()} == expected
    assert found.final == {name: values[-1] for name, (_, values) in expected.items()}  # the largest step's
    assert found.sources == ["csv log (csv/version_0/metrics.csv)"]
    for name, (steps, values) in expected.items():  # a declared metric: only its column is converted
        wanted = collect_run_metrics(job_dir, None, name)
        assert (wanted.curves[name].steps.tolist(), wanted.curves[name].values.tolist()) == (steps, values)
        assert wanted.final[name] == values[-1]


def test_the_template_layout_train_validation_and_test_rows():
    text = lightning_csv(
        [
            {"epoch": 0, "step": 9, "train/loss_step": 0.9},
            {"epoch": 0, "step": 19, "train/loss_step": 0.8},
            {"epoch": 0, "step": 19, "val/acc": 0.5, "val/loss": 0.7},  # validation: same step as the epoch end
            {"epoch": 0, "step": 19, "train/acc_epoch": 0.45},
            {"epoch": 1, "step": 39, "train/loss_step": 0.6},
            {"epoch": 1, "step": 39, "val/acc": 0.75, "val/loss": 0.5},
            {"epoch": 1, "step": 39, "test/acc": 0.7, "test/loss": 0.55},  # the test row, once, at the end
        ]
    )
    assert text.splitlines()[0] == "epoch,step,test/acc,test/loss,train/acc_epoch,train/loss_step,val/acc,val/loss"
    series = parse_wide_csv(text)
    assert series["val/acc"] == ([19.0, 39.0], [0.5, 0.75])
    assert series["test/loss"] == ([39.0], [0.55])
    assert series["train/loss_step"] == ([9.0, 19.0, 39.0], [0.9, 0.8, 0.6])
    assert series["epoch"] == ([9.0, 19.0, 19.0, 19.0, 39.0, 39.0, 39.0], [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    assert "step" not in series


def test_a_csv_with_only_an_epoch_column_is_read_by_epoch():
    series = parse_wide_csv("epoch,val_loss,train_loss\n0,,1.0\n0,0.9,\n1,,0.8\n1,0.7,\n")
    assert series == {"val_loss": ([0.0, 1.0], [0.9, 0.7]), "train_loss": ([0.0, 1.0], [1.0, 0.8])}


def test_a_csv_without_a_step_column_is_not_a_log(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "predictions.csv").write_text("id,label,score\n1,cat,0.9\n2,dog,0.4\n")
    assert parse_wide_csv("id,score\n1,0.9\n") == {}
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {} and found.sources == [] and found.warnings == []


def test_each_csv_is_read_by_one_source_only(tmp_path):
    """progress.csv is a progress table, a `.csv` below scalars/ is TorchRL's, any other a wide CSV log."""
    (tmp_path / "sb3").mkdir()
    (tmp_path / "sb3" / "progress.csv").write_text("time/total_timesteps,rollout/ep_rew_mean\n100,1.0\n200,2.0\n")
    scalars = tmp_path / "exp" / "scalars"
    (scalars / "eval").mkdir(parents=True)
    (scalars / "eval" / "reward.csv").write_text("0,3.0\n10,4.0\n")
    (scalars / "table.csv").write_text("step,x\n0,9\n")  # below scalars/: TorchRL's (it is not one: unread)
    (tmp_path / "csv" / "version_0").mkdir(parents=True)
    (tmp_path / "csv" / "version_0" / "metrics.csv").write_text("epoch,step,val/acc\n0,9,0.5\n1,19,0.6\n")
    files = Job(tmp_path).files
    assert files.progress_tables == [tmp_path / "sb3" / "progress.csv"]
    assert files.csv_scalar_dirs == [scalars]
    assert files.csv_logs == [tmp_path / "csv" / "version_0" / "metrics.csv"]
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {"rollout/ep_rew_mean": 2.0, "eval/reward": 4.0, "val/acc": 0.6, "epoch": 1.0}
    assert found.sources == [
        "sb3/progress.csv",
        "torchrl csv scalars (exp/scalars)",
        "csv log (csv/version_0/metrics.csv)",
    ]


def test_a_metric_in_logs_of_two_directories_is_named_by_directory(tmp_path):
    for version, value in (("version_0", 0.5), ("version_1", 0.7)):
        (tmp_path / "csv" / version).mkdir(parents=True)
        (tmp_path / "csv" / version / "metrics.csv").write_text(f"step,val/acc\n9,{value}\n")
    found = collect_run_metrics(tmp_path, None)
    assert found.final == {"csv/version_0/val/acc": 0.5, "csv/version_1/val/acc": 0.7}
    assert found.sources == ["csv log (csv/version_0/metrics.csv and 1 more)"]


def test_a_torn_last_row_and_non_finite_cells(tmp_path):
    series = parse_wide_csv("step,loss,acc\n0,1.0,0.1\n1,nan,0.2\n2,inf,\n3,0.5,0.3\n4,0.4")
    assert series["acc"] == ([0.0, 1.0, 3.0], [0.1, 0.2, 0.3])  # the short last row counts as far as it goes
    (tmp_path / "metrics.csv").write_text("step,loss,acc\n0,1.0,0.1\n1,nan,0.2\n2,inf,\n3,0.5,0.3\n4,0.4")
    found = collect_run_metrics(tmp_path, None)
    assert found.curves["loss"].steps.tolist() == [0.0, 3.0, 4.0] and found.final["loss"] == 0.4
    assert found.final["acc"] == 0.3


def test_a_declared_metric_is_scored_from_the_sparse_validation_rows(tmp_path):
    rows = [{"epoch": e, "step": 10 * e + 9, "train/loss_step": 1.0 / (e + 1)} for e in range(10)]
    rows += [{"epoch": e, "step": 10 * e + 9, "val/acc": e / 10} for e in range(10)]
    (tmp_path / "lightning_logs" / "version_0").mkdir(parents=True)
    Path(tmp_path / "lightning_logs" / "version_0" / "metrics.csv").write_text(lightning_csv(rows), newline="")
    found = collect_run_metrics(tmp_path, None, "val/acc")
    assert found.curves["val/acc"].values.tolist() == [e / 10 for e in range(10)]
    assert list(found.curves) == ["val/acc"]  # only the wanted metric's curve is built
