"""The ab sweeper end to end, through the real Hydra command line on real apps and launchers."""

from __future__ import annotations

import json

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from sweeper_cli import EXAMPLE_APP, GROUPED, METTA_LIKE, job_config, job_dirs, run_sweep, status, write_experiment

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

LR_EXPERIMENT = """
def create_lr():
    return (
        create_experiment("lr_test", "two learning rates")
        .add_variant(name="low", description="low lr", trainer__learning_rate=0.001, run="lowlr")
        .add_variant(name="high", description="high lr", trainer__learning_rate=0.01, tags=["fast"])
        .set_runs_per_variant(3)
        .set_base_config(defaults=["/common", "/agent/slow"], trainer__total_timesteps=5000)
        .set_wandb_config(entity="my-team", tags=["lr-sweep"])
        .build()
    )
"""


@pytest.fixture
def lr_experiment(tmp_path):
    return write_experiment(tmp_path / "lr_experiment.py", LR_EXPERIMENT)


def test_plugin_is_discovered():
    names = [p.__name__ for p in Plugins.instance().discover(Sweeper)]
    assert "ABSweeper" in names


def test_basic_launcher_writes_one_directory_per_run(tmp_path, lr_experiment):
    result = run_sweep(METTA_LIKE, "ab.experiment=lr_experiment.py", cwd=tmp_path)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("lr_test")
    assert job_dirs(exp_dir) == sorted(f"{v}_run_{i}" for v in ("low", "high") for i in (1, 2, 3))
    for name in ("experiment_config.yaml", "summary.txt", "plan.txt", "plan.json", "ledger.json"):
        assert (exp_dir / name).is_file(), name

    low2 = job_config(exp_dir / "low_run_2")
    assert low2["trainer"]["learning_rate"] == 0.001
    assert low2["trainer"]["total_timesteps"] == 5000  # base config value
    assert low2["agent"] == {"hidden": 64, "layers": 3}  # base defaults selected agent/slow
    assert low2["run"] == "lowlr_run_2"  # the variant's `run` is the run-name prefix
    assert low2["seed"] == 2  # paired seeds: run i gets base_seed + i - 1 (base_seed 1)
    assert low2["wandb"]["project"] == f"ab_test_lr_test_{low2['wandb']['project'][-10:]}"
    assert low2["wandb"]["entity"] == "my-team"
    assert low2["wandb"]["group"] == "lr_test"
    assert low2["wandb"]["tags"] == ["variant:low", "lr-sweep"]
    assert low2["wandb"]["notes"] == "low lr"
    high2 = job_config(exp_dir / "high_run_2")
    assert high2["seed"] == 2 and high2["run"] == "high_run_2"
    assert high2["wandb"]["tags"] == ["variant:high", "lr-sweep", "fast"]

    record = status(exp_dir / "high_run_3")
    assert record["status"] == "completed" and record["attempt"] == 1 and record["seed"] == 3
    assert record["return_value"] == {"score": pytest.approx(0.13), "seed": 3}
    summary = (exp_dir / "summary.txt").read_text()
    assert "low" in summary and "3/3" in summary and "score" in summary
    ledger = json.loads((exp_dir / "ledger.json").read_text())
    assert {r["status"] for r in ledger["runs"]} == {"completed"}


def test_command_line_task_overrides_reach_every_job(tmp_path, lr_experiment):
    result = run_sweep(METTA_LIKE, "ab.experiment=lr_experiment.py", "trainer.num_workers=7", cwd=tmp_path)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("lr_test")
    assert {job_config(exp_dir / d)["trainer"]["num_workers"] for d in job_dirs(exp_dir)} == {7}


def test_joblib_runs_jobs_and_retries_a_failure(tmp_path, lr_experiment):
    result = run_sweep(
        METTA_LIKE,
        "ab.experiment=lr_experiment.py",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "fail_mode=lowlr_run_2",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("lr_test")
    assert status(exp_dir / "low_run_2")["attempt"] == 2
    first = exp_dir / "low_run_2" / "attempts" / "1"
    assert json.loads((first / "ab_status.json").read_text())["status"] == "failed"
    assert "deliberate first-attempt failure" in (first / "app.log").read_text()  # traceback kept in the log
    assert all(status(exp_dir / d)["status"] == "completed" for d in job_dirs(exp_dir))


def test_hard_crash_under_joblib_is_retried(tmp_path, lr_experiment):
    result = run_sweep(
        METTA_LIKE,
        "ab.experiment=lr_experiment.py",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "fail_mode=high_run_1",
        "fail_kind=exit",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.output
    assert "TerminatedWorkerError" in result.output
    exp_dir = result.experiment_dir("lr_test")
    assert all(status(exp_dir / d)["status"] == "completed" for d in job_dirs(exp_dir))
    assert status(exp_dir / "high_run_1")["attempt"] == 2
    ledger = {r["job_dir"]: r for r in json.loads((exp_dir / "ledger.json").read_text())["runs"]}
    assert "died without finishing" in ledger["high_run_1"]["errors"][0]


def test_permanent_failure_exits_nonzero_and_keeps_other_results(tmp_path, lr_experiment):
    result = run_sweep(
        METTA_LIKE,
        "ab.experiment=lr_experiment.py",
        "fail_mode=high_run_3",
        "fail_kind=always",
        "ab.max_retries=1",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "1 of 6 runs failed" in result.stderr
    assert "high_run_3: ValueError: deliberate failure of high_run_3" in result.stderr
    exp_dir = result.experiment_dir("lr_test")
    assert str(exp_dir / "high_run_3" / "app.log") in result.stderr
    assert status(exp_dir / "high_run_3")["attempt"] == 2  # one retry
    assert (exp_dir / "high_run_3" / "attempts" / "1" / "ab_status.json").is_file()
    done = [d for d in job_dirs(exp_dir) if status(exp_dir / d)["status"] == "completed"]
    assert len(done) == 5
    summary = (exp_dir / "summary.txt").read_text()
    assert "Failed runs (1)" in summary and "deliberate failure" in summary


def test_no_retries_when_max_retries_is_zero(tmp_path, lr_experiment):
    result = run_sweep(
        METTA_LIKE,
        "ab.experiment=lr_experiment.py",
        "fail_mode=low_run_1+lowlr_run_1",
        "ab.max_retries=0",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    exp_dir = result.experiment_dir("lr_test")
    assert not (exp_dir / "low_run_1" / "attempts").exists()


def test_dry_run_prints_the_plan_and_launches_nothing(tmp_path, lr_experiment):
    result = run_sweep(METTA_LIKE, "ab.experiment=lr_experiment.py", "ab.dry_run=true", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert "2 variants x 3 runs = 6 jobs" in result.stdout
    assert "lowlr_run_3" in result.stdout and "trainer.learning_rate=0.01" in result.stdout
    exp_dir = result.experiment_dir("lr_test")
    assert job_dirs(exp_dir) == []
    assert (exp_dir / "plan.txt").read_text().count("_run_") >= 6
    assert len(json.loads((exp_dir / "plan.json").read_text())) == 6


def test_experiment_config_yaml_is_loadable_again(tmp_path, lr_experiment):
    first = run_sweep(METTA_LIKE, "ab.experiment=lr_experiment.py", "ab.dry_run=true", cwd=tmp_path)
    saved = first.experiment_dir("lr_test") / "experiment_config.yaml"
    again = run_sweep(METTA_LIKE, f"ab.experiment={saved}", "ab.dry_run=true", "ab.output_dir=again", cwd=tmp_path)
    assert again.returncode == 0, again.output
    assert (tmp_path / "again" / "lr_test" / "plan.json").read_text() == (saved.parent / "plan.json").read_text()


def test_nested_and_mandatory_groups_resolve(tmp_path):
    result = run_sweep(GROUPED, f"ab.experiment={GROUPED.parent / 'exp.py'}", cwd=tmp_path)
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("grouped")
    config = job_config(exp_dir / "postgres_run_1")
    assert config["task"] == {"name": "balance"}  # /task/vmas/balance: group task, option vmas/balance
    assert config["db"]["driver"] == "postgresql"  # a variant key naming a group selects an option
    assert config["extra"] == {"level": 1}  # a group the app does not select is added
    assert config["shared_flag"] is True  # a root config is applied
    assert config["lr"] == 0.2  # base values win over the root config
    assert "/shared" in (exp_dir / "ab_base.yaml").read_text()


def test_without_experiment_it_is_the_basic_sweeper(tmp_path):
    result = run_sweep(METTA_LIKE, "run=plain", "seed=1,2", "hydra.sweep.dir=grid", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert sorted(p.name for p in (tmp_path / "grid").iterdir() if p.is_dir()) == ["0", "1"]


def test_example_app_runs_carry_the_injected_wandb_fields(tmp_path):
    """The real example app under joblib: each job's offline W&B run has the plan's project/group/tags/name."""
    from metta_ab.sources.wandb_transaction_log import find_wandb_logs, read_wandb_log

    write_experiment(
        tmp_path / "tiny.py",
        """
experiment = (
    create_experiment("tiny", "W&B check")
    .add_variant(name="base", description="control arm", trainer__learning_rate=0.05)
    .add_variant(name="fast", description="treatment arm", trainer__learning_rate=0.1, tags=["hot"])
    .set_runs_per_variant(2)
    .set_base_config(trainer__total_timesteps=20000, trainer__evaluate_interval=5000)
    .set_wandb_config(project="ab-proj", entity="ab-team", tags=["smoke"])
    .set_metric("reward")
    .build()
)
""",
    )
    env = {"WANDB_CACHE_DIR": str(tmp_path / "cache"), "WANDB_CONFIG_DIR": str(tmp_path / "config")}
    result = run_sweep(
        EXAMPLE_APP,
        "ab.experiment=tiny.py",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        cwd=tmp_path,
        plots=True,
        env=env,
    )
    assert result.returncode == 0, result.output
    exp_dir = result.experiment_dir("tiny")
    for variant, notes, tags in (("base", "control arm", []), ("fast", "treatment arm", ["hot"])):
        for index in (1, 2):
            logs = find_wandb_logs(exp_dir / f"{variant}_run_{index}")
            assert len(logs) == 1
            run = read_wandb_log(logs[0])
            assert run.complete and run.exit_code == 0
            assert (run.project, run.entity, run.group) == ("ab-proj", "ab-team", "tiny")
            assert run.name == f"{variant}_run_{index}"
            assert list(run.tags) == [f"variant:{variant}", "smoke", *tags]
            assert run.notes == notes
            assert run.config["seed"] == index
            returned = status(exp_dir / f"{variant}_run_{index}")["return_value"]
            assert run.history["eval/reward"][-1] == pytest.approx(returned["reward"])
    summary = json.loads((exp_dir / "summary.json").read_text())
    assert summary["metric"] == "reward" and summary["paired"] is True
    assert [c["treatment"] for c in summary["comparisons"]] == ["fast"]
    assert (exp_dir / "learning_curves.png").is_file() and (exp_dir / "scores.png").is_file()
    assert {tuple(r["metric_sources"]) for r in summary["runs"]} == {("return value", "metrics.json")}
