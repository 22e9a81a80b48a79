"""The sequential design in the experiment definition: the builder's validation, experiment_config.yaml, the
`ab.sequential.*` command-line settings and the look schedule a dry run shows (the sweep itself:
test_sequential_sweep.py)."""

from __future__ import annotations

import pytest
import yaml
from sweeper_cli import METTA_LIKE, job_dirs, run_sweep, write_experiment

from metta_ab import create_experiment
from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import ABExperiment
from metta_ab.plan import format_look_schedule
from metta_ab.stats.sequential import sequential_design


def builder():
    return (
        create_experiment("seq_test", "sequential")
        .add_variant(name="low", trainer__learning_rate=0.001)
        .add_variant(name="high", trainer__learning_rate=0.01)
    )


def test_set_sequential_round_trips_and_sets_the_maximum() -> None:
    experiment = builder().set_sequential(max_runs_per_variant=15, runs_per_look=5).build()
    assert experiment.runs_per_variant == 15
    data = yaml.safe_load(yaml.safe_dump(experiment.to_dict()))
    assert data["sequential"] == {"max_runs_per_variant": 15, "runs_per_look": 5, "spending": None}
    again = ABExperiment.from_dict(data)
    assert again.sequential == experiment.sequential and again.runs_per_variant == 15
    assert "sequential" not in builder().set_runs_per_variant(3).build().to_dict()


@pytest.mark.parametrize(
    ("n_max", "k", "message"),
    [
        (15, 1, "runs_per_look must be a whole number >= 2"),
        (16, 5, "multiple of runs_per_look"),
        (15, "5", "whole number"),
    ],
)
def test_set_sequential_is_validated(n_max, k, message) -> None:
    with pytest.raises(ExperimentError, match=message):
        builder().set_sequential(max_runs_per_variant=n_max, runs_per_look=k).build()
    with pytest.raises(ExperimentError, match="spending"):
        builder().set_sequential(max_runs_per_variant=10, runs_per_look=5, spending="linear").build()


def test_look_schedule_shows_every_boundary() -> None:
    experiment = builder().set_sequential(max_runs_per_variant=15, runs_per_look=5).build()
    lines = format_look_schedule(experiment)
    design = sequential_design(15, 5, 0.05)
    assert "3 looks" in lines[0]
    assert len(lines) == 2 + 3
    for line, n, p in zip(lines[2:], design.runs_at_look, design.nominal_p, strict=True):
        assert line.split()[1] == str(n) and float(line.split()[3]) == pytest.approx(p, abs=1e-5)


SEQ_EXPERIMENT = """
def create_seq():
    return (
        create_experiment("seq_test", "sequential")
        .add_variant(name="low", trainer__learning_rate=0.001)
        .add_variant(name="high", trainer__learning_rate=0.01)
        .set_sequential(max_runs_per_variant=15, runs_per_look=5)
        .set_metric("score")
        .set_base_config(defaults=["/common", "/agent/slow"], trainer__total_timesteps=5000)
        .build()
    )
"""


@pytest.mark.slow
def test_dry_run_shows_the_looks_and_the_command_line_overrides_them(tmp_path) -> None:
    write_experiment(tmp_path / "seq.py", SEQ_EXPERIMENT)
    result = run_sweep(METTA_LIKE, "ab.experiment=seq.py", "ab.dry_run=true", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert "a look after every 5 runs per variant, at most 15 (3 looks)" in result.stdout
    assert "2 variants x at most 15 runs = at most 30 jobs" in result.stdout
    exp_dir = result.experiment_dir("seq_test")
    assert job_dirs(exp_dir) == []
    assert "3 looks" in (exp_dir / "plan.txt").read_text()
    args = ["ab.experiment=seq.py", "ab.dry_run=true", "ab.output_dir=other"]
    again = run_sweep(METTA_LIKE, *args, "ab.sequential.max_runs_per_variant=20", cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert "at most 20 (4 looks)" in again.stdout and "2 variants x at most 20 runs = at most 40 jobs" in again.stdout
    saved = yaml.safe_load((tmp_path / "other" / "seq_test" / "experiment_config.yaml").read_text())
    assert saved["sequential"]["max_runs_per_variant"] == 20
    bad = run_sweep(METTA_LIKE, *args, "ab.sequential.runs_per_look=6", cwd=tmp_path)
    assert bad.returncode != 0 and "multiple of runs_per_look" in bad.output
