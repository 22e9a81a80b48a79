"""Apps that are not shaped like Metta, through the real command line: no `run` key, a nested seed or none,
no `wandb` node and a bare `wandb.init()`, dict values, `hydra.sweep.dir` and paths Hydra's grammar must
quote. The app (tests/apps/plain) returns nothing: the verdict comes from its offline W&B log."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from sweeper_cli import APPS, PYTHON, job_dirs, run_app, run_sweep, write_experiment

from metta_ab.sources.wandb_transaction_log import find_wandb_logs, read_wandb_log

PLAIN = APPS / "plain" / "app.py"
JOBLIB = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
SWEEP = ("-m", "hydra/sweeper=ab")

pytestmark = pytest.mark.slow

EXPERIMENT = """
experiment = (
    create_experiment("plain_lr")
    .add_variant(name="low", description="the usual rate", trainer__lr=0.01)
    .add_variant(name="high", trainer__lr=0.02, tags=["fast"])
    .set_runs_per_variant(3)
    .set_metric("eval/score")
    .build()
)
"""


def _composed(job_dir: Path) -> dict:
    return yaml.safe_load((job_dir / ".hydra" / "config.yaml").read_text())


def _seen(job_dir: Path) -> dict:
    return json.loads((job_dir / "seen.json").read_text())


def test_an_app_without_metta_keys_runs_unchanged_and_is_judged_on_what_it_logged(tmp_path):
    write_experiment(tmp_path / "exp.py", EXPERIMENT)
    result = run_sweep(PLAIN, "ab.experiment=exp.py", *JOBLIB, "hydra.sweep.dir=sweeps/lr", cwd=tmp_path)
    assert result.returncode == 0, result.output
    experiment_dir = tmp_path / "sweeps" / "lr"
    assert job_dirs(experiment_dir) == [f"{v}_run_{i}" for v in ("high", "low") for i in (1, 2, 3)]
    assert not (tmp_path / "ab_test_results").exists()
    for variant, lr in (("low", 0.01), ("high", 0.02)):
        for index in (1, 2, 3):
            job_dir = experiment_dir / f"{variant}_run_{index}"
            config = _composed(job_dir)
            assert config["trainer"]["lr"] == lr
            assert config["experiment"]["seed"] == index  # paired: run i has seed i in every variant
            # nothing the app does not have: no run, no root seed, no wandb node, no ab settings
            assert sorted(config) == ["experiment", "log_to", "options", "trainer"]
            assert _seen(job_dir)["keys"] == ["experiment", "log_to", "options", "trainer"]

    plan = (experiment_dir / "plan.txt").read_text()
    assert "Injection: seed -> experiment.seed (the only key named 'seed' in the app's config)" in plan
    assert "Injection: not injected: run_name -> run (the app's config has no key 'run')" in plan
    assert "wandb_group -> wandb.group" in plan and "W&B gets them from WANDB_* variables" in plan

    summary = json.loads((experiment_dir / "summary.json").read_text())
    assert "seed -> experiment.seed (the only key named 'seed' in the app's config)" in summary["injection"]
    assert summary["paired"] is True
    [comparison] = summary["comparisons"]
    assert comparison["verdict"] == "better" and comparison["difference"] == pytest.approx(1.0, abs=0.05)
    assert {tuple(r["metric_sources"]) for r in summary["runs"]} == {("wandb offline log",)}
    text = (experiment_dir / "summary.txt").read_text()
    assert "Injection:      not injected: run_name -> run" in text


@pytest.mark.parametrize("launcher", [(), JOBLIB], ids=["basic", "joblib"])
def test_a_wandb_run_the_app_leaves_open_is_read_whole(tmp_path, launcher):
    """An app that leaves finishing its W&B run to wandb's exit hook (TorchRL's WandbLogger): the job's process
    lives on after the job (the sweeper's own under the basic launcher, a joblib worker), so the run is
    finished when the job ends, and the last job of each process has its numbers too."""
    write_experiment(tmp_path / "exp.py", EXPERIMENT)
    result = run_sweep(PLAIN, "ab.experiment=exp.py", "log_to=wandb_left_open", *launcher, cwd=tmp_path)
    assert result.returncode == 0, result.output
    summary = json.loads((result.experiment_dir("plain_lr") / "summary.json").read_text())
    assert {name: len(v["values"]) for name, v in summary["variants"].items()} == {"low": 3, "high": 3}
    assert all(x is not None for v in summary["variants"].values() for x in v["values"]), summary["warnings"]
    assert {tuple(r["metric_sources"]) for r in summary["runs"]} == {("wandb offline log",)}


def test_a_bare_wandb_init_gets_each_jobs_project_group_tags_and_name(tmp_path):
    """Through W&B's own variables, set for each job alone: joblib reuses its two workers for six jobs, and
    no job sees another's values (the `low` variant has a description, so WANDB_NOTES; `high` has none)."""
    write_experiment(tmp_path / "exp.py", EXPERIMENT)
    result = run_sweep(PLAIN, "ab.experiment=exp.py", *JOBLIB, cwd=tmp_path)
    assert result.returncode == 0, result.output
    experiment_dir = result.experiment_dir("plain_lr")
    for variant in ("low", "high"):
        for index in (1, 2, 3):
            job_dir = experiment_dir / f"{variant}_run_{index}"
            [log] = find_wandb_logs(job_dir)  # the run's own directory, not the worker's first job's
            run = read_wandb_log(log)
            assert run.name == f"{variant}_run_{index}"
            assert run.group == "plain_lr"
            assert run.project.startswith("ab_test_plain_lr_")
            expected_tags = ("variant:low",) if variant == "low" else ("variant:high", "fast")
            assert run.tags == expected_tags
            env = _seen(job_dir)["env"]
            assert env.get("WANDB_NOTES") == ("the usual rate" if variant == "low" else None)
            assert env["WANDB_NAME"] == f"{variant}_run_{index}"


def test_an_app_with_no_seed_key_runs_and_every_report_says_the_runs_were_not_seeded(tmp_path):
    write_experiment(tmp_path / "exp.py", EXPERIMENT.replace('.set_metric("eval/score")', ""))
    result = run_app(PLAIN, "--config-name=noseed", *SWEEP, "ab.experiment=exp.py", "log_to=json", cwd=tmp_path)
    assert result.returncode == 0, result.output
    experiment_dir = result.experiment_dir("plain_lr")
    warning = "the sweeper could not seed the runs: in the app's config no key is named 'seed'"
    assert warning in (experiment_dir / "plan.txt").read_text()
    text = (experiment_dir / "summary.txt").read_text()
    assert warning in text and "per run (unseeded): " in text and "per seed:" not in text
    summary = json.loads((experiment_dir / "summary.json").read_text())
    assert any(warning in w for w in summary["warnings"])
    assert "ab.inject.seed=" in next(w for w in summary["warnings"] if warning in w)
    assert all(r["seed"] is None for r in summary["runs"])
    plan = json.loads((experiment_dir / "plan.json").read_text())
    assert all(not any("seed" in o for o in job["overrides"]) for job in plan)

    # Its ledger (seed null) is read back as it is: a rerun resumes, and a re-analysis runs.
    again = run_app(PLAIN, "--config-name=noseed", *SWEEP, "ab.experiment=exp.py", "log_to=json", cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert "resuming: 6 of 6 runs already completed" in again.output
    assert "unreadable" not in again.output
    analyze = [PYTHON, "-m", "metta_ab", "analyze", str(experiment_dir), "--no-plots"]
    reanalysis = subprocess.run(analyze, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert reanalysis.returncode == 0, reanalysis.stderr
    assert warning in (experiment_dir / "analyses" / "declared" / "summary.txt").read_text()


def test_an_injection_target_the_user_names_must_exist(tmp_path):
    write_experiment(tmp_path / "exp.py", EXPERIMENT)
    result = run_sweep(PLAIN, "ab.experiment=exp.py", "ab.inject.seed=experiment.sed", cwd=tmp_path)
    assert result.returncode == 1
    assert "ab.inject.seed=experiment.sed: the app's config has no key 'experiment.sed'" in result.stderr
    assert "did you mean 'experiment.seed'" in result.stderr
    assert not result.experiment_dir("plain_lr").exists()


def test_the_sweep_dir_of_the_app_config_is_the_experiment_directory(tmp_path):
    write_experiment(tmp_path / "exp.py", EXPERIMENT)
    own = ("--config-name=own_sweep_dir", *SWEEP, "ab.experiment=exp.py", "log_to=json")
    result = run_app(PLAIN, *own, cwd=tmp_path)
    assert result.returncode == 0, result.output
    experiment_dir = tmp_path / "my_sweeps" / "from_app_config"
    assert len(job_dirs(experiment_dir)) == 6
    assert (experiment_dir / "summary.json").is_file()
    again = run_app(PLAIN, *own, cwd=tmp_path)
    assert again.returncode == 0 and "resuming: 6 of 6 runs already completed" in again.output


def test_a_dict_value_replaces_the_apps_dict_and_only_the_key_is_checked(tmp_path):
    write_experiment(
        tmp_path / "exp.py",
        """
experiment = (
    create_experiment("dicts")
    .add_variant(name="empty", options={})
    .add_variant(name="other", options={"c": 3, "nested": {"x": [1, 2]}, "any_new_key": "ok"})
    .set_runs_per_variant(2)
    .build()
)
""",
    )
    result = run_sweep(PLAIN, "ab.experiment=exp.py", "log_to=json", cwd=tmp_path)
    assert result.returncode == 0, result.output
    experiment_dir = result.experiment_dir("dicts")
    assert _seen(experiment_dir / "empty_run_1")["options"] == {}
    assert _seen(experiment_dir / "other_run_1")["options"] == {"c": 3, "nested": {"x": [1, 2]}, "any_new_key": "ok"}

    write_experiment(
        tmp_path / "typo.py",
        """
experiment = (
    create_experiment("typo").add_variant(name="a", optons={}).add_variant(name="b", options={}).build()
)
""",
    )
    typo = run_sweep(PLAIN, "ab.experiment=typo.py", cwd=tmp_path)
    assert typo.returncode == 1
    assert "key 'optons' does not exist in the app's config. Did you mean 'options'" in typo.stderr


@pytest.mark.parametrize("setting", ["ab.output_dir", "hydra.sweep.dir"])
def test_directories_may_hold_commas_spaces_equals_and_parentheses(tmp_path, setting):
    write_experiment(tmp_path / "exp.py", EXPERIMENT)
    odd = tmp_path / "runs, (lr=0.1) v2"
    result = run_sweep(PLAIN, "ab.experiment=exp.py", "log_to=json", f"{setting}='{odd}'", cwd=tmp_path)
    assert result.returncode == 0, result.output
    experiment_dir = odd / "plain_lr" if setting == "ab.output_dir" else odd
    assert len(job_dirs(experiment_dir)) == 6
    assert json.loads((experiment_dir / "ledger.json").read_text())["runs"][0]["status"] == "completed"
