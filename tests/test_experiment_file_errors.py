"""Mistakes said where they are fixed: in the experiment file. Through the real command line of an app whose
config-group options differ in their keys (tests/apps/algos: `exp=ppo` has `algo.clip`, `exp=a2c` has
`log_dir` and no clip; the `schedule` group is in no defaults list), and of an app with no W&B node."""

from __future__ import annotations

import json

import pytest
import yaml
from sweeper_cli import APPS, job_dirs, run_sweep, write_experiment

pytestmark = pytest.mark.slow  # starts the app: not in the quick subset (-m "not slow")

ALGOS = APPS / "algos" / "app.py"
PLAIN = APPS / "plain" / "app.py"


def refused(tmp_path, app, body: str, *settings: str) -> str:
    """The first line of stderr of a sweep that must stop before launch, with nothing launched."""
    write_experiment(tmp_path / "exp.py", body)
    result = run_sweep(app, "ab.experiment=exp.py", *settings, cwd=tmp_path)
    assert result.returncode == 1, result.output
    assert "Traceback" not in result.stderr and "Launching" not in result.output
    assert not list(tmp_path.glob("ab_test_results/*/*_run_*"))
    return result.errors.splitlines()[0]


def test_a_base_config_key_only_some_variants_options_have_names_them_and_belongs_in_them(tmp_path):
    first = refused(
        tmp_path,
        ALGOS,
        """
experiment = (
    create_experiment("algos")
    .add_variant(name="ppo", exp="ppo")
    .add_variant(name="a2c", exp="a2c")
    .add_variant(name="ppo_fast", exp="ppo", quality=0.6)
    .set_base_config(algo__clip=0.3)
    .build()
)
""",
    )
    assert first == (
        "experiment 'algos' base config: key 'algo__clip' (algo.clip) is not in the config of variant 'a2c', which "
        "selects exp=a2c; variants 'ppo' (exp=ppo), 'ppo_fast' (exp=ppo) have it. Set it in the variants that have "
        "it, not in the base config: add_variant(name=\"ppo\", ..., algo__clip=0.3) (and likewise in 'ppo_fast')"
    )
    assert "+algo.clip" not in first  # adding the key would put an unused setting into a2c's runs


def test_a_base_config_key_only_some_tasks_options_have_names_the_task(tmp_path):
    first = refused(
        tmp_path,
        ALGOS,
        """
experiment = (
    create_experiment("suite")
    .add_variant(name="low", quality=0.1)
    .add_variant(name="high", quality=0.2)
    .add_task(name="on_ppo", exp="ppo")
    .add_task(name="on_a2c", exp="a2c")
    .set_base_config(**{"algo.clip": 0.1})
    .set_metric("eval/score")
    .build()
)
""",
    )
    assert "is not in the config of task 'on_a2c', which selects exp=a2c; task 'on_ppo' (exp=ppo) has it" in first
    assert first.endswith('add_task(name="on_ppo", ..., **{"algo.clip": 0.1})')


def test_a_variant_key_its_option_lacks_says_the_option_does_not_have_it(tmp_path):
    first = refused(
        tmp_path,
        ALGOS,
        """
experiment = (
    create_experiment("algos")
    .add_variant(name="ppo", exp="ppo")
    .add_variant(name="a2c", exp="a2c", algo__clip=0.1)
    .build()
)
""",
    )
    assert first == (
        "variant 'a2c': key 'algo__clip' (algo.clip) is not in its config: the option it selects (exp=a2c) does not "
        "have it; variant 'ppo' (exp=ppo) has it. Remove it from add_variant(name=\"a2c\", ..., algo__clip=0.1), or "
        "select an option that has it"
    )


def test_a_key_no_option_has_gets_a_did_you_mean_and_the_experiment_file_form_of_adding_it(tmp_path):
    first = refused(
        tmp_path,
        ALGOS,
        """
experiment = (
    create_experiment("algos")
    .add_variant(name="ppo", exp="ppo")
    .add_variant(name="a2c", exp="a2c", algo__lrr=0.1)
    .build()
)
""",
    )
    assert first == (
        "variant 'a2c': key 'algo__lrr' (algo.lrr) does not exist in the app's config (with the options variant "
        "'a2c' selects: exp=a2c). Did you mean 'algo.lr'? To add a new key on purpose, write it with a leading "
        '\'+\': add_variant(name="a2c", ..., **{"+algo.lrr": 0.1})'
    )


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        (
            '.add_variant(name="a", exp="ppo").add_variant(name="b", exp="a2c", schedule="long")',
            "variant 'b': 'schedule' selects an option of the config group 'schedule', which the app's defaults "
            "list does not select, so there is no choice to replace; add the group: "
            'add_variant(name="b", ..., **{"+schedule": "long"}) '
            '(or set_base_config(defaults=[..., "/schedule/long"]))',
        ),
        (
            '.add_variant(name="a", exp="ppo").add_variant(name="b", exp="a2c").set_base_config(schedule="long")',
            "experiment 'groups' base config: 'schedule' selects an option of the config group 'schedule', which "
            "the app's defaults list does not select, so there is no choice to replace; add the group: "
            'set_base_config(defaults=[..., "/schedule/long"])',
        ),
    ],
    ids=["variant", "base config"],
)
def test_a_group_the_app_does_not_select_is_added_in_the_experiment_files_form(tmp_path, chain, expected):
    first = refused(tmp_path, ALGOS, f'experiment = create_experiment("groups"){chain}.build()\n')
    assert first == expected


def test_both_forms_the_group_error_gives_compose(tmp_path):
    """The advice works: the `+group` key in a variant, and the defaults entry in the base config."""
    write_experiment(
        tmp_path / "exp.py",
        """
experiment = (
    create_experiment("groups")
    .add_variant(name="a", exp="ppo")
    .add_variant(name="b", exp="a2c", **{"+schedule": "long"})
    .build()
)
base = (
    create_experiment("base")
    .add_variant(name="a", exp="ppo")
    .add_variant(name="b", exp="a2c")
    .set_base_config(defaults=["/schedule/long"])
    .build()
)
""",
    )
    for name in ("experiment", "base"):
        result = run_sweep(ALGOS, f"ab.experiment=exp.py:{name}", "ab.dry_run=true", cwd=tmp_path)
        assert result.returncode == 0, result.output


def test_the_did_you_mean_offers_only_the_apps_own_keys(tmp_path):
    """The plain app has no W&B node; the sweeper's W&B keys (`wandb.project`) are no suggestion for it."""
    first = refused(
        tmp_path,
        PLAIN,
        'experiment = create_experiment("x").add_variant(name="a", project="p").add_variant(name="b").build()\n',
        "ab.inject.wandb_project=wandb.project",
    )
    assert first.startswith("variant 'a': key 'project' does not exist in the app's config.")
    assert "wandb" not in first
    typo = refused(
        tmp_path,
        PLAIN,
        'experiment = create_experiment("x").add_variant(name="a", trainer__lrr=1).add_variant(name="b").build()\n',
    )
    assert "Did you mean 'trainer.lr'" in typo


ALGOS_EXPERIMENT = """
experiment = (
    create_experiment("algos")
    .add_variant(name="ppo", exp="ppo")
    .add_variant(name="a2c", exp="a2c")
    .set_runs_per_variant(2)
    .set_metric("eval/score")
    .build()
)
"""


@pytest.mark.parametrize(
    "launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]], ids=["basic", "joblib"]
)
def test_a_path_key_only_one_variants_option_has_is_moved_in_its_runs_alone(tmp_path, launcher):
    """a2c's `log_dir: a2c_logs` (relative to the launch directory, one for every run) goes into each a2c job's
    directory; ppo's runs get no `log_dir` key."""
    write_experiment(tmp_path / "exp.py", ALGOS_EXPERIMENT)
    result = run_sweep(ALGOS, "ab.experiment=exp.py", *launcher, cwd=tmp_path)
    assert result.returncode == 0, result.output
    experiment_dir = result.experiment_dir("algos")
    assert job_dirs(experiment_dir) == ["a2c_run_1", "a2c_run_2", "ppo_run_1", "ppo_run_2"]
    for job in job_dirs(experiment_dir):
        config = yaml.safe_load((experiment_dir / job / ".hydra" / "config.yaml").read_text())
        assert ("log_dir" in config) == job.startswith("a2c")
        written = experiment_dir / job / ("a2c_logs" if job.startswith("a2c") else "") / "progress.csv"
        assert written.is_file(), job
    assert not (tmp_path / "a2c_logs").exists()
    plan = (experiment_dir / "plan.txt").read_text()
    assert "paths: log_dir -> ${hydra:runtime.output_dir}/a2c_logs" in plan
    assert "in the runs of variant 'a2c' alone" in plan
    summary = json.loads((experiment_dir / "summary.json").read_text())
    assert {name: v["completed"] for name, v in summary["variants"].items()} == {"ppo": 2, "a2c": 2}
    assert all(r["metric_sources"] for r in summary["runs"])


def test_a_path_key_only_one_tasks_option_has_is_moved_in_that_tasks_runs(tmp_path):
    write_experiment(
        tmp_path / "exp.py",
        """
experiment = (
    create_experiment("suite")
    .add_variant(name="low", quality=0.1)
    .add_variant(name="high", quality=0.2)
    .add_task(name="on_ppo", exp="ppo")
    .add_task(name="on_a2c", exp="a2c")
    .set_metric("eval/score")
    .build()
)
""",
    )
    result = run_sweep(ALGOS, "ab.experiment=exp.py", "ab.dry_run=true", cwd=tmp_path)
    assert result.returncode == 0, result.output
    plan = json.loads((result.experiment_dir("suite") / "plan.json").read_text())
    moved = {job["job_dir"]: any(o.startswith("++log_dir=") for o in job["overrides"]) for job in plan}
    assert moved and all(value == ("on_a2c" in job) for job, value in moved.items())
    assert "in the runs of task 'on_a2c' alone" in (result.experiment_dir("suite") / "plan.txt").read_text()
