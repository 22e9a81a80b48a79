"""The plan: variants x runs -> jobs with their seed, run name, directory and exact override list.

Overrides are checked the way Hydra reads them (its override parser), and a few plans are composed into
a real tiny app config to show the injected values and the precedence land where they should.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

import metta_ab
from metta_ab import ABExperiment, ExperimentError, create_experiment
from metta_ab.definition.experiment import ExperimentBuilder
from metta_ab.plan import AppLayout, InjectionKeys, PlannedRun, PlanSettings, format_plan, plan_experiment

PARSER = OverridesParser.create()


def lr_builder(name: str = "lr_test") -> ExperimentBuilder:
    return (
        create_experiment(name, "two learning rates")
        .add_variant("low", description="low lr", tags=["slow"], trainer__learning_rate=0.001, run="lowlr")
        .add_variant("high", description="high lr", trainer__learning_rate=0.01)
        .set_runs_per_variant(3)
    )


def lr_experiment() -> ABExperiment:
    return lr_builder().set_wandb_config(entity="team", tags=["ab", "lr"]).build()


def parsed(run: PlannedRun) -> list[tuple[str, Any]]:
    """(key with its +/++ prefix, value) for each override, as Hydra parses it; none may be a sweep."""
    result = []
    for override in run.overrides:
        item = PARSER.parse_override(override)
        assert not item.is_sweep_override(), override
        result.append((item.get_key_element(), item.value()))
    return result


def values_of(run: PlannedRun, key_element: str) -> list[Any]:
    return [value for key, value in parsed(run) if key == key_element]


def only(run: PlannedRun, key_element: str) -> Any:
    values = values_of(run, key_element)
    assert len(values) == 1, f"{key_element} appears {len(values)} times in {run.overrides}"
    return values[0]


def keys_of(run: PlannedRun) -> list[str]:
    return [key for key, _ in parsed(run)]


# --- jobs, directories, seeds --------------------------------------------------------------------------------


def test_one_job_per_variant_and_run_in_order() -> None:
    runs = plan_experiment(lr_experiment(), PlanSettings())
    assert [(r.variant, r.index, r.job_dir) for r in runs] == [
        ("low", 1, "low_run_1"),
        ("low", 2, "low_run_2"),
        ("low", 3, "low_run_3"),
        ("high", 1, "high_run_1"),
        ("high", 2, "high_run_2"),
        ("high", 3, "high_run_3"),
    ]


def test_job_dir_uses_the_variant_name_even_with_a_run_override() -> None:
    runs = plan_experiment(lr_experiment(), PlanSettings())
    assert runs[0].run_name == "lowlr_run_1"
    assert runs[0].job_dir == "low_run_1"


@pytest.mark.parametrize("base_seed", [0, 7, 1234])
def test_paired_seeds(base_seed: int) -> None:
    runs = plan_experiment(lr_experiment(), PlanSettings(base_seed=base_seed))
    by_variant = {(r.variant, r.index): r.seed for r in runs}
    for index in (1, 2, 3):
        assert by_variant[("low", index)] == by_variant[("high", index)] == base_seed + index - 1
    for run in runs:
        assert only(run, "++seed") == run.seed


def test_unpaired_seeds_are_distinct_and_stable_when_runs_grow() -> None:
    experiment = lr_experiment()
    settings = PlanSettings(base_seed=3, paired_seeds=False)
    small = plan_experiment(experiment, settings)
    experiment.runs_per_variant = 8
    large = plan_experiment(experiment, settings)
    assert len({r.seed for r in large}) == len(large)  # every job its own seed
    assert {(r.variant, r.index): r.seed for r in small}.items() <= {
        (r.variant, r.index): r.seed for r in large
    }.items()
    for run in large:
        assert only(run, "++seed") == run.seed
        assert 0 <= run.seed < 2**31


@pytest.mark.parametrize(
    "names",
    [("arm_119862", "arm_181590"), ("arm_255475", "arm_255061")],
    ids=["same seeds for every run", "run 1 of one is run 2 of the other"],
)
def test_unpaired_seeds_never_collide(names: tuple[str, str]) -> None:
    experiment = create_experiment("unpaired").add_variant(names[0], x=1).add_variant(names[1], x=2).build()
    runs = plan_experiment(experiment, PlanSettings(paired_seeds=False))
    seeds = [r.seed for r in runs]
    assert len(set(seeds)) == len(seeds), [(r.job_dir, r.seed) for r in runs]


def test_plan_is_deterministic() -> None:
    settings = PlanSettings(base_seed=11, paired_seeds=False, task_overrides=("trainer.epochs=2",))
    layout = AppLayout(group_keys=frozenset({"agent"}), base_group_overrides=("agent=fast",), base_config_node="exp")
    first = plan_experiment(lr_experiment(), settings, layout)
    second = plan_experiment(lr_experiment(), settings, layout)
    assert first == second
    assert [r.to_dict() for r in first] == [r.to_dict() for r in second]


PLAN_SCRIPT = """
import json
from metta_ab import create_experiment
from metta_ab.plan import PlanSettings, plan_experiment
experiment = (
    create_experiment("stable", date="2024-01-01")
    .add_variant("alpha", lr=0.1, mapping={"b": 1, "a": [1, "x"]})
    .add_variant("beta", lr=0.2)
    .build()
)
print(json.dumps([r.to_dict() for r in plan_experiment(experiment, PlanSettings(paired_seeds=False))]))
"""


@pytest.mark.slow
def test_plan_is_the_same_in_every_process() -> None:
    """Seeds must not come from Python's per-process salted hash(): a resumed sweep must plan the same jobs."""
    package_root = str(Path(metta_ab.__file__).resolve().parent.parent)
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": package_root}
        done = subprocess.run(
            [sys.executable, "-c", PLAN_SCRIPT], env=env, capture_output=True, text=True, check=True, timeout=120
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1]
    assert len({run["seed"] for run in outputs[0]}) == len(outputs[0])


# --- run names ------------------------------------------------------------------------------------------------


def test_run_names_use_the_run_override_as_prefix() -> None:
    runs = plan_experiment(lr_experiment(), PlanSettings())
    assert [r.run_name for r in runs] == [
        "lowlr_run_1",
        "lowlr_run_2",
        "lowlr_run_3",
        "high_run_1",
        "high_run_2",
        "high_run_3",
    ]
    for run in runs:
        assert only(run, "++run") == run.run_name
        # the variant's own `run` value is the prefix, never a second `run=` override
        assert [key for key in keys_of(run) if key.lstrip("+") == "run"] == ["++run"]


def test_two_variants_with_the_same_prefix() -> None:
    experiment = create_experiment("clash").add_variant("x", lr=1).add_variant("y", lr=2, run="x").build()
    with pytest.raises(ExperimentError) as info:
        plan_experiment(experiment, PlanSettings())
    message = str(info.value)
    assert "variants 'x' and 'y' both name their runs 'x'_run_<i>" in message
    assert "give them different `run` values" in message


def test_run_override_must_be_a_string() -> None:
    experiment = create_experiment("typed").add_variant("x", run=3).add_variant("y").build()
    with pytest.raises(ExperimentError, match="variant 'x': run name prefix run= must be a non-empty string, got 3"):
        plan_experiment(experiment, PlanSettings())


# --- injected values ------------------------------------------------------------------------------------------


def test_injected_overrides() -> None:
    experiment = lr_experiment()
    runs = plan_experiment(experiment, PlanSettings(base_seed=5))
    low, high = runs[0], runs[3]
    for run, variant in ((low, experiment.variant("low")), (high, experiment.variant("high"))):
        assert only(run, "++run") == run.run_name
        assert only(run, "++seed") == run.seed
        assert only(run, "++wandb.project") == experiment.wandb_project == f"ab_test_lr_test_{experiment.date}"
        assert only(run, "++wandb.entity") == "team"
        assert only(run, "++wandb.group") == "lr_test"
        assert only(run, "++wandb.notes") == variant.description
    assert only(low, "++wandb.tags") == ["variant:low", "ab", "lr", "slow"]
    assert only(high, "++wandb.tags") == ["variant:high", "ab", "lr"]


def test_no_entity_override_when_the_entity_is_not_set() -> None:
    runs = plan_experiment(lr_builder().build(), PlanSettings())
    assert all("++wandb.entity" not in keys_of(run) for run in runs)
    assert all(only(run, "++wandb.project") for run in runs)


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("run_name", "++run"),
        ("seed", "++seed"),
        ("wandb_project", "++wandb.project"),
        ("wandb_entity", "++wandb.entity"),
        ("wandb_group", "++wandb.group"),
        ("wandb_tags", "++wandb.tags"),
        ("wandb_notes", "++wandb.notes"),
    ],
)
def test_an_injection_set_to_none_is_not_injected(field: str, key: str) -> None:
    inject = dataclasses.replace(InjectionKeys(), **{field: None})
    runs = plan_experiment(lr_experiment(), PlanSettings(inject=inject))
    for run in runs:
        assert key not in keys_of(run)
        others = {"++run", "++seed", "++wandb.project", "++wandb.entity", "++wandb.group", "++wandb.tags"}
        assert others - {key} <= set(keys_of(run))


def test_with_run_injection_off_the_run_override_is_a_plain_override() -> None:
    runs = plan_experiment(lr_experiment(), PlanSettings(inject=InjectionKeys(run_name=None)))
    assert only(runs[0], "run") == "lowlr"
    assert runs[0].run_name == "low_run_1"


def test_remapped_injection_keys() -> None:
    inject = InjectionKeys(
        run_name="experiment.run_name",
        seed="trainer.seed",
        wandb_project="logging.project",
        wandb_entity="logging.entity",
        wandb_group="logging.group",
        wandb_tags="logging.tags",
        wandb_notes="logging.notes",
    )
    experiment = (
        create_experiment("remapped")
        .add_variant("a", experiment__run_name="alpha", run="kept")
        .add_variant("b", seed=99)
        .set_wandb_config(entity="team")
        .build()
    )
    runs = plan_experiment(experiment, PlanSettings(base_seed=2, inject=inject))
    first = runs[0]
    assert first.run_name == "alpha_run_1"
    assert only(first, "++experiment.run_name") == "alpha_run_1"
    assert only(first, "++trainer.seed") == 2
    assert only(first, "++logging.project") == experiment.wandb_project
    assert only(first, "++logging.entity") == "team"
    assert only(first, "++logging.group") == "remapped"
    assert only(first, "++logging.tags") == ["variant:a"]
    assert only(first, "++logging.notes") == ""
    # `run` and `seed` are ordinary keys now
    assert only(first, "run") == "kept"
    assert only(runs[-1], "seed") == 99
    for default_key in ("++run", "++seed", "++wandb.project", "++wandb.group"):
        assert default_key not in keys_of(first)


@pytest.mark.parametrize(
    ("key", "injection"),
    [
        ("seed", "seed"),
        ("+seed", "seed"),
        ("wandb__project", "wandb_project"),
        ("wandb.entity", "wandb_entity"),
        ("wandb__group", "wandb_group"),
        ("wandb__tags", "wandb_tags"),
        ("wandb__notes", "wandb_notes"),
    ],
)
def test_a_variant_that_sets_an_injected_key(key: str, injection: str) -> None:
    experiment = create_experiment("inj").add_variant("fine", x=1).add_variant("meddler", **{key: 1}).build()
    with pytest.raises(ExperimentError) as info:
        plan_experiment(experiment, PlanSettings())
    message = str(info.value)
    assert f"variant 'meddler' sets {key!r}, which the sweeper injects per run" in message
    assert f"ab.inject.{injection}=null" in message


def test_a_variant_that_sets_a_remapped_injected_key() -> None:
    experiment = create_experiment("inj").add_variant("fine").add_variant("meddler", trainer__seed=3).build()
    with pytest.raises(ExperimentError, match=r"variant 'meddler' sets 'trainer__seed'.*ab\.inject\.seed=null"):
        plan_experiment(experiment, PlanSettings(inject=InjectionKeys(seed="trainer.seed")))
    # with the injection off the variant may set it
    runs = plan_experiment(experiment, PlanSettings(inject=InjectionKeys(seed=None)))
    assert only(runs[-1], "trainer.seed") == 3


# --- variant and base overrides -------------------------------------------------------------------------------


def test_variant_values_are_overrides_in_hydra_form() -> None:
    experiment = (
        create_experiment("vals")
        .add_variant("a", trainer__learning_rate=0.001, trainer__curriculum="/env/nav, hard", **{"+extra.key": [1]})
        .add_variant("b", trainer__learning_rate=None)
        .build()
    )
    runs = plan_experiment(experiment, PlanSettings())
    assert only(runs[0], "trainer.learning_rate") == 0.001
    assert only(runs[0], "trainer.curriculum") == "/env/nav, hard"
    assert only(runs[0], "++extra.key") == [1]
    assert only(runs[-1], "trainer.learning_rate") is None


def test_group_keys_are_plain_group_selections() -> None:
    experiment = (
        create_experiment("groups").add_variant("a", agent="fast").add_variant("b", agent="vmas/balance").build()
    )
    runs = plan_experiment(experiment, PlanSettings(), AppLayout(group_keys=frozenset({"agent"})))
    assert "agent=fast" in runs[0].overrides
    assert "agent=vmas/balance" in runs[-1].overrides


def test_group_key_with_a_non_string_value() -> None:
    experiment = create_experiment("groups").add_variant("a", agent=3).add_variant("b").build()
    with pytest.raises(
        ExperimentError,
        match="variant 'a': 'agent' selects an option of the config group 'agent'; its value must be an option",
    ):
        plan_experiment(experiment, PlanSettings(), AppLayout(group_keys=frozenset({"agent"})))


@pytest.mark.parametrize("option", ["fast,slow", "fast=1", "a,b,c", "fast]"], ids=repr)
def test_group_option_can_never_become_a_sweep(option: str) -> None:
    experiment = create_experiment("groups").add_variant("a", agent=option).add_variant("b", agent="slow").build()
    try:
        runs = plan_experiment(experiment, PlanSettings(), AppLayout(group_keys=frozenset({"agent"})))
    except ExperimentError as error:
        assert "variant 'a'" in str(error) and "agent" in str(error)
        return
    parsed(runs[0])  # asserts that no override is a sweep (and that each parses)


def test_layout_base_overrides_come_first() -> None:
    layout = AppLayout(base_group_overrides=("agent=fast", "+task=vmas/balance"), base_config_node="lr_test")
    runs = plan_experiment(lr_experiment(), PlanSettings(), layout)
    assert runs[0].overrides[:3] == ("agent=fast", "+task=vmas/balance", "+ab_base=lr_test")


def test_order_base_then_task_then_variant_then_injected() -> None:
    experiment = lr_builder().set_base_config(defaults=["/common"], trainer__learning_rate=0.5, total=10).build()
    settings = PlanSettings(task_overrides=("trainer.learning_rate=0.7", "trainer.epochs=2"))
    run = plan_experiment(experiment, settings)[0]
    keys = keys_of(run)
    positions = [i for i, key in enumerate(keys) if key == "trainer.learning_rate"]
    assert [values_of(run, "trainer.learning_rate")] == [[0.5, 0.7, 0.001]]  # base, task, variant: in that order
    assert keys.index("total") < positions[1] < positions[2]
    assert positions[2] < keys.index("++seed")


# --- the plan composes in a real Hydra app --------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan_app_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plan_app_conf")
    (folder / "agent").mkdir()
    (folder / "agent" / "fast.yaml").write_text("speed: 10\n", encoding="utf-8")
    (folder / "agent" / "slow.yaml").write_text("speed: 1\n", encoding="utf-8")
    (folder / "config.yaml").write_text(
        "defaults:\n  - agent: slow\n  - _self_\n"
        "seed: 0\nrun: null\ntrainer:\n  learning_rate: 0.1\n  epochs: 1\n"
        "wandb:\n  project: null\n  entity: null\n  group: null\n  tags: []\n  notes: null\n",
        encoding="utf-8",
    )
    return folder


def test_planned_overrides_compose_in_a_real_app(plan_app_config_dir: Path) -> None:
    experiment = (
        create_experiment("composed", date="2024-05-06")
        .add_variant("low", description="low, slow", tags=["t"], trainer__learning_rate=0.001, run="lowlr")
        .add_variant("fast", agent="fast", **{"+trainer.extra": {"k": [1, "a,b"]}})
        .set_runs_per_variant(2)
        .set_base_config(trainer__learning_rate=0.5, trainer__epochs=3)
        .set_wandb_config(entity="team", tags=["ab"])
        .build()
    )
    settings = PlanSettings(base_seed=40, task_overrides=("trainer.learning_rate=0.7",))
    runs = plan_experiment(experiment, settings, AppLayout(group_keys=frozenset({"agent"})))
    with initialize_config_dir(config_dir=str(plan_app_config_dir), version_base=None):
        configs = {r.job_dir: OmegaConf.to_container(compose("config", overrides=list(r.overrides))) for r in runs}
    low1, low2, fast2 = configs["low_run_1"], configs["low_run_2"], configs["fast_run_2"]
    assert (low1["seed"], low2["seed"], fast2["seed"]) == (40, 41, 41)
    assert (low1["run"], fast2["run"]) == ("lowlr_run_1", "fast_run_2")
    assert low1["trainer"] == {"learning_rate": 0.001, "epochs": 3}  # variant beats task beats base
    assert fast2["trainer"] == {"learning_rate": 0.7, "epochs": 3, "extra": {"k": [1, "a,b"]}}
    assert (low1["agent"], fast2["agent"]) == ({"speed": 1}, {"speed": 10})
    assert low1["wandb"] == {
        "project": "ab_test_composed_2024-05-06",
        "entity": "team",
        "group": "composed",
        "tags": ["variant:low", "ab", "t"],
        "notes": "low, slow",
    }
    assert fast2["wandb"]["tags"] == ["variant:fast", "ab"]


# --- the printed plan -----------------------------------------------------------------------------------------


def test_format_plan_shows_every_run() -> None:
    experiment = lr_builder().set_base_config(defaults=["/common", "/agent/fast"]).build()
    runs = plan_experiment(experiment, PlanSettings(base_seed=100))
    text = format_plan(experiment, runs)
    assert "'lr_test': 2 variants x 3 runs = 6 jobs" in text
    assert "Base config defaults: /common, /agent/fast" in text
    lines = text.splitlines()
    for run in runs:
        assert any(
            line.split() == [run.variant, str(run.index), str(run.seed), run.run_name, run.job_dir] for line in lines
        ), run
    for override in runs[0].overrides + runs[3].overrides:
        assert f"    {override}" in lines
