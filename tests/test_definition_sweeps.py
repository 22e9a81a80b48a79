"""Experiment definitions as users write them, swept through the real command line: the README's custom
experiment class (its own no-argument `__init__`), numpy values, and a value of another type than the app's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from sweeper_cli import METTA_LIKE, job_config, job_dirs, run_sweep

from metta_ab import run_ab_test
from metta_ab.definition.loading import load_experiment

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

METTA_AB = Path(sys.executable).parent / "metta-ab"

# The README's section 1 pattern, with scores the app returns per run so that there is a verdict.
CUSTOM_CLASS = """
from metta_ab import ABExperiment, ABVariant
from metta_ab.definition.experiment import SequentialSettings


class MyCustomExperiment(ABExperiment):
    def __init__(self):
        super().__init__(name="custom_experiment", description="My custom experiment")
        self.add_variant(ABVariant(name="variant_a", overrides={{"trainer__learning_rate": 0.001,
                                                                "known_scores": [0.01, 0.02, 0.015, 0.03]}}))
        self.add_variant(ABVariant(name="variant_b", overrides={{"trainer__learning_rate": 0.01,
                                                                "known_scores": [0.1, 0.1102, 0.12, 0.111]}}))
        self.runs_per_variant = 2
        self.base_config = {{"defaults": ["/common", "/agent/fast"], "trainer__total_timesteps": 100}}
        self.analysis.metric = "score"
{extra}
"""
SETS_SEQUENTIAL = "        self.sequential = SequentialSettings(max_runs_per_variant=4, runs_per_look=2)"
EXPERIMENT_DIR = Path("ab_test_results") / "custom_experiment"


def custom_class(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "custom.py"
    path.write_text(CUSTOM_CLASS.format(extra=extra))
    return path


def summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / EXPERIMENT_DIR / "summary.json").read_text())


def test_custom_class_dry_run(tmp_path):
    custom_class(tmp_path)
    result = run_sweep(METTA_LIKE, "ab.experiment=custom.py", "ab.dry_run=true", "ab.analysis.alpha=0.1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Experiment 'custom_experiment': 2 variants x 2 runs = 4 jobs")
    assert "Dry run: nothing launched" in result.stdout
    assert job_dirs(tmp_path / EXPERIMENT_DIR) == []


def test_custom_class_sweeps_with_analysis_overrides_and_resumes(tmp_path):
    custom_class(tmp_path)
    sweep = ("ab.experiment=custom.py", "ab.analysis.alpha=0.1")
    first = run_sweep(METTA_LIKE, *sweep, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Verdict:" in first.stdout and "variant_b is better than variant_a on score" in first.stdout
    assert summary(tmp_path)["alpha"] == 0.1
    assert job_dirs(tmp_path / EXPERIMENT_DIR) == [f"variant_{v}_run_{i}" for v in "ab" for i in (1, 2)]
    saved = yaml.safe_load((tmp_path / EXPERIMENT_DIR / "experiment_config.yaml").read_text())
    assert saved["name"] == "custom_experiment" and saved["base_config"]["trainer__total_timesteps"] == 100

    again = run_sweep(METTA_LIKE, *sweep, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "resuming: 4 of 4 runs already completed; they are not run again" in again.output
    assert "Launching" not in again.output


@pytest.mark.parametrize("where", ["class", "command line"])
def test_custom_class_sequential_design(tmp_path, where):
    custom_class(tmp_path, SETS_SEQUENTIAL if where == "class" else "")
    settings = [] if where == "class" else ["ab.sequential.max_runs_per_variant=4", "ab.sequential.runs_per_look=2"]
    result = run_sweep(METTA_LIKE, "ab.experiment=custom.py", *settings, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "look 1 decided" in result.output
    assert summary(tmp_path)["sequential"]["design"]["runs_per_look"] == 2
    assert (tmp_path / EXPERIMENT_DIR / "looks.json").is_file()


def test_custom_class_through_metta_ab_run_and_run_ab_test(tmp_path, monkeypatch):
    path = custom_class(tmp_path)
    command = [str(METTA_AB), "run", "custom.py", "--app", str(METTA_LIKE), "--output-dir", "cli"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "Verdict:" in result.stdout and len(job_dirs(tmp_path / "cli" / "custom_experiment")) == 4

    monkeypatch.chdir(tmp_path)
    from_file = run_ab_test(path, app=METTA_LIKE, output_dir=tmp_path / "from_file", quiet=True)
    from_object = run_ab_test(load_experiment(path), app=METTA_LIKE, output_dir=tmp_path / "from_object", quiet=True)
    for results in (from_file, from_object):
        assert {v: [r["success"] for r in runs] for v, runs in results.items()} == {
            "variant_a": [True, True],
            "variant_b": [True, True],
        }


NUMPY_EXPERIMENT = """
import numpy as np
from metta_ab import create_experiment

builder = create_experiment("lrs_np").set_runs_per_variant(np.int64(2)).set_metric("score", alpha=np.float64(0.1))
for lr in np.linspace(0.001, 0.01, 3):
    builder.add_variant(name=f"lr_{lr:.4f}", trainer__learning_rate=lr, trainer__num_workers=np.arange(3)[1])
experiment = builder.build()
"""


def test_numpy_learning_rates_sweep_as_plain_numbers(tmp_path):
    (tmp_path / "exp.py").write_text(NUMPY_EXPERIMENT)
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    experiment_dir = tmp_path / "ab_test_results" / "lrs_np"
    assert (experiment_dir / "summary.txt").is_file()
    saved = (experiment_dir / "experiment_config.yaml").read_text()
    assert "numpy" not in saved
    variants = yaml.safe_load(saved)["variants"]
    learning_rates = [float(lr) for lr in np.linspace(0.001, 0.01, 3)]
    assert [v["overrides"]["trainer__learning_rate"] for v in variants] == learning_rates
    assert all(type(v["overrides"]["trainer__num_workers"]) is int for v in variants)
    assert job_config(experiment_dir / "lr_0.0055_run_2")["trainer"]["learning_rate"] == learning_rates[1]
    assert job_config(experiment_dir / "lr_0.0055_run_2")["trainer"]["num_workers"] == 1


TYPED = """
from metta_ab import create_experiment

experiment = (
    create_experiment("typed")
    .add_variant(name="a", trainer__learning_rate=1, trainer__num_workers=2.0)  # int for float, float for int: fine
    .add_variant(name="fast", trainer__learning_rate="fast")
    .add_variant(name="flag", trainer__learning_rate=True, trainer__total_timesteps=[1, 2])
    .build()
)
"""


def test_a_value_of_another_type_than_the_apps_default_is_a_warning_in_the_plan(tmp_path):
    (tmp_path / "exp.py").write_text(TYPED)
    result = run_sweep(METTA_LIKE, "ab.experiment=exp.py", "ab.dry_run=true", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = [
        "WARNING: variant 'fast' sets trainer.learning_rate='fast' (str), where the app's default is 0.001 (float); "
        "the app may not accept it",
        "WARNING: variant 'flag' sets trainer.learning_rate=True (bool), where the app's default is 0.001 (float)",
        "WARNING: variant 'flag' sets trainer.total_timesteps=[1, 2] (list), where the app's default is 1000 (int)",
    ]
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 3 and all(line.startswith(e) for line, e in zip(warnings, expected, strict=True))
    assert all(any(e in line for line in result.output.splitlines() if "[ab]" in line) for e in expected)
