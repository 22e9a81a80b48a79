"""The experiment definition: the fluent builder, the seed's custom-class pattern, and validation errors
that say what is wrong, where, and how to fix it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from metta_ab import ABExperiment, ABVariant, ExperimentError, create_experiment
from metta_ab.definition.experiment import MAX_NAME_LENGTH, AnalysisSettings, ExperimentBuilder, SequentialSettings


def two_variant_builder(name: str = "lr_test") -> ExperimentBuilder:
    return (
        create_experiment(name, "two learning rates")
        .add_variant("low", trainer__learning_rate=0.001)
        .add_variant("high", trainer__learning_rate=0.01)
    )


# --- the builder ---------------------------------------------------------------------------------------------


def test_builder_quick_start_from_the_seed_readme() -> None:
    experiment = (
        create_experiment(name="my_experiment", description="My A/B test experiment")
        .add_variant(name="variant_a", description="First variant", trainer__learning_rate=0.001, run="variant_a")
        .add_variant(name="variant_b", description="Second variant", tags=["slow", "lr"], trainer__learning_rate=0.0001)
        .set_runs_per_variant(7)
        .set_base_config(defaults=["/common", "/agent/fast", "/trainer/trainer"], total_timesteps=1_000_000_000)
        .set_wandb_config(entity="metta-research")
        .build()
    )
    assert isinstance(experiment, ABExperiment)
    assert experiment.name == "my_experiment"
    assert experiment.description == "My A/B test experiment"
    assert experiment.runs_per_variant == 7
    assert experiment.variants == [
        ABVariant(
            name="variant_a",
            description="First variant",
            overrides={"trainer__learning_rate": 0.001, "run": "variant_a"},
            tags=[],
        ),
        ABVariant(
            name="variant_b",
            description="Second variant",
            overrides={"trainer__learning_rate": 0.0001},
            tags=["slow", "lr"],
        ),
    ]
    assert experiment.base_config == {
        "defaults": ["/common", "/agent/fast", "/trainer/trainer"],
        "total_timesteps": 1_000_000_000,
    }
    assert experiment.base_defaults == ["/common", "/agent/fast", "/trainer/trainer"]
    assert experiment.base_values == {"total_timesteps": 1_000_000_000}
    assert experiment.wandb_entity == "metta-research"
    assert experiment.variant("variant_b").tags == ["slow", "lr"]


def test_defaults_date_runs_and_wandb_project() -> None:
    experiment = two_variant_builder("defaults").build()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", experiment.date)
    assert experiment.date == dt.date.today().isoformat()
    assert experiment.runs_per_variant == 5
    assert experiment.wandb_project == f"ab_test_defaults_{experiment.date}"
    assert experiment.wandb_entity is None
    assert experiment.base_config == {}
    assert experiment.description == "two learning rates"


def test_explicit_date_names_the_default_project() -> None:
    experiment = create_experiment("dated", date="2024-03-01").add_variant("a", x=1).add_variant("b", x=2).build()
    assert experiment.date == "2024-03-01"
    assert experiment.wandb_project == "ab_test_dated_2024-03-01"


def test_set_wandb_config() -> None:
    experiment = two_variant_builder().set_wandb_config(project="proj", entity="team", tags=["ab", "lr"]).build()
    assert (experiment.wandb_project, experiment.wandb_entity, experiment.wandb_tags) == ("proj", "team", ["ab", "lr"])


def test_set_wandb_config_without_project_keeps_the_default_project() -> None:
    experiment = two_variant_builder("keep").set_wandb_config(entity="team").build()
    assert experiment.wandb_project == f"ab_test_keep_{experiment.date}"
    assert experiment.wandb_entity == "team"


def test_set_base_config_without_defaults() -> None:
    experiment = two_variant_builder().set_base_config(trainer__num_workers=4).build()
    assert experiment.base_config == {"trainer__num_workers": 4}
    assert experiment.base_defaults == []


def test_variant_lookup_by_name() -> None:
    experiment = two_variant_builder().build()
    assert experiment.variant("high").overrides == {"trainer__learning_rate": 0.01}
    with pytest.raises(KeyError):
        experiment.variant("missing")


def test_builder_keeps_override_values_as_given() -> None:
    values: dict[str, Any] = {
        "text": "a, b=c ${x}",
        "number": 10**20,
        "none": None,
        "flag": False,
        "items": [1, [2, "x"]],
        "mapping": {"k": {"j": 1.5}},
    }
    experiment = create_experiment("kept").add_variant("a", **values).add_variant("b").build()
    assert experiment.variant("a").overrides == values


# --- the seed's custom experiment class --------------------------------------------------------------------


class MyCustomExperiment(ABExperiment):
    """Exactly the seed README's pattern (with a second variant: an A/B test needs two)."""

    def __init__(self) -> None:
        super().__init__(name="custom_experiment", description="My custom experiment")
        self.add_variant(
            ABVariant(name="variant_a", description="First variant", overrides={"trainer__learning_rate": 0.001})
        )
        self.add_variant(
            ABVariant(name="variant_b", description="Second variant", overrides={"trainer__learning_rate": 0.01})
        )
        self.runs_per_variant = 10
        self.base_config = {"defaults": ["/common", "/agent/fast"], "total_timesteps": 1_000_000_000}


def test_seed_custom_experiment_class() -> None:
    experiment = MyCustomExperiment().validate()
    assert isinstance(experiment, MyCustomExperiment)
    assert experiment.name == "custom_experiment"
    assert experiment.description == "My custom experiment"
    assert experiment.date == dt.date.today().isoformat()
    assert experiment.wandb_project == f"ab_test_custom_experiment_{experiment.date}"
    assert [v.name for v in experiment.variants] == ["variant_a", "variant_b"]
    assert experiment.runs_per_variant == 10
    assert experiment.base_defaults == ["/common", "/agent/fast"]
    assert experiment.base_values == {"total_timesteps": 1_000_000_000}


def test_custom_class_instances_do_not_share_variants() -> None:
    first, second = MyCustomExperiment(), MyCustomExperiment()
    first.add_variant(ABVariant(name="extra"))
    assert len(second.variants) == 2


def test_a_changed_copy_of_a_custom_class_keeps_its_class_and_never_calls_its_init() -> None:
    experiment = MyCustomExperiment().validate()
    copied = experiment.with_changes(analysis=AnalysisSettings(alpha=0.1), sequential=SequentialSettings(10, 5))
    assert type(copied) is MyCustomExperiment
    assert copied.analysis.alpha == 0.1 and copied.validate().sequential == SequentialSettings(10, 5)
    assert experiment.analysis.alpha is None and experiment.sequential is None  # the original is unchanged
    with pytest.raises(TypeError, match=r"MyCustomExperiment has no field\(s\) \['alhpa'\]"):
        experiment.with_changes(alhpa=0.1)


def test_custom_class_with_one_variant_fails_validation_with_the_fix() -> None:
    class OneVariant(ABExperiment):
        def __init__(self) -> None:
            super().__init__(name="lonely")
            self.add_variant(ABVariant(name="only"))

    with pytest.raises(ExperimentError, match=r"has 1 variant\(s\); an A/B test needs at least 2.*add_variant"):
        OneVariant().validate()


# --- validation errors ---------------------------------------------------------------------------------------


def test_experiment_error_is_a_value_error() -> None:
    assert issubclass(ExperimentError, ValueError)


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_variants(count: int) -> None:
    builder = create_experiment("few")
    for i in range(count):
        builder.add_variant(f"v{i}")
    with pytest.raises(ExperimentError) as info:
        builder.build()
    message = str(info.value)
    assert f"'few' has {count} variant(s)" in message
    assert "at least 2" in message
    assert ".add_variant(" in message


def test_duplicate_variant_names() -> None:
    builder = create_experiment("dup").add_variant("same", x=1).add_variant("other").add_variant("same", x=2)
    with pytest.raises(ExperimentError, match="two variants are named 'same'; variant names must be unique"):
        builder.build()


BAD_NAMES = ["", "a b", " a", "a ", "a/b", "/abs", "a\\b", "..", "a..b", "../up", ".", ".hidden", "a\tb", "a:b", "a*"]


@pytest.mark.parametrize("bad", BAD_NAMES, ids=repr)
def test_variant_names_must_be_directory_names(bad: str) -> None:
    builder = create_experiment("names").add_variant(bad, x=1).add_variant("fine", x=2)
    with pytest.raises(ExperimentError) as info:
        builder.build()
    message = str(info.value)
    if bad:
        assert f"variant name {bad!r} is not usable as a directory name" in message
        assert "use letters, digits, '-', '_' and '.'" in message
    else:
        assert "variant name must be a non-empty string, got ''" in message


@pytest.mark.parametrize("bad", ["my experiment", "a/b", ".."], ids=repr)
def test_experiment_name_must_be_a_directory_name(bad: str) -> None:
    builder = create_experiment(bad).add_variant("a", x=1).add_variant("b", x=2)
    with pytest.raises(ExperimentError, match=re.escape(f"experiment name {bad!r} is not usable as a directory")):
        builder.build()


def test_experiment_name_must_not_be_empty() -> None:
    builder = create_experiment("").add_variant("a", x=1).add_variant("b", x=2)
    with pytest.raises(ExperimentError, match="experiment name must be a non-empty string, got ''"):
        builder.build()


@pytest.mark.parametrize("bad", [None, 3, ["a"]], ids=repr)
def test_variant_name_must_be_a_string(bad: Any) -> None:
    experiment = ABExperiment(name="typed", variants=[ABVariant(name=bad), ABVariant(name="b")])
    with pytest.raises(ExperimentError, match=re.escape(f"variant name must be a non-empty string, got {bad!r}")):
        experiment.validate()


@pytest.mark.parametrize("good", ["a", "A-1", "v_1.2", "0abc", "x.y.z", "lr-1e-4", "a_"], ids=repr)
def test_safe_names_are_accepted(good: str) -> None:
    experiment = create_experiment(good).add_variant(good, x=1).add_variant("other", x=2).build()
    assert experiment.variants[0].name == good


@pytest.mark.parametrize("bad", ["a\n", "variant_a\n"], ids=repr)
def test_name_with_a_trailing_newline_is_refused(bad: str) -> None:
    builder = create_experiment("nl").add_variant(bad, x=1).add_variant("fine", x=2)
    with pytest.raises(ExperimentError, match="not usable as a directory name"):
        builder.build()


@pytest.mark.parametrize("runs", [0, -1, 2.5, "5", None, True, False], ids=repr)
def test_runs_per_variant_must_be_a_whole_number(runs: Any) -> None:
    builder = two_variant_builder("runs").set_runs_per_variant(runs)
    with pytest.raises(ExperimentError) as info:
        builder.build()
    message = str(info.value)
    assert f"runs_per_variant must be a whole number >= 1, got {runs!r}" in message
    assert ".set_runs_per_variant(n)" in message


def test_one_run_per_variant_is_allowed() -> None:
    assert two_variant_builder().set_runs_per_variant(1).build().runs_per_variant == 1


def test_seed_class_with_bad_runs_per_variant() -> None:
    experiment = MyCustomExperiment()
    experiment.runs_per_variant = 0
    with pytest.raises(ExperimentError, match="runs_per_variant"):
        experiment.validate()


BAD_KEYS = ["trainer lr", "a..b", "++x", "", "1abc", "a/b", "x=y", "a,b", "a.", ".a", "+", "a$b", "trainer.-lr"]


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_bad_override_keys_name_the_variant_and_the_fix(key: str) -> None:
    builder = create_experiment("keys").add_variant("good", x=1).add_variant("broken", **{key: 1})
    with pytest.raises(ExperimentError) as info:
        builder.build()
    message = str(info.value)
    assert "variant 'broken'" in message
    assert f"override key {key!r} is not a config key" in message
    assert "trainer__learning_rate" in message


@pytest.mark.parametrize("key", ["lr\n", "trainer__lr\n"], ids=repr)
def test_override_key_with_a_trailing_newline_is_refused(key: str) -> None:
    builder = create_experiment("keys").add_variant("good", x=1).add_variant("broken", **{key: 1})
    with pytest.raises(ExperimentError, match="is not a config key"):
        builder.build()


def test_non_string_override_key() -> None:
    experiment = ABExperiment(name="k", variants=[ABVariant(name="a", overrides={1: 2}), ABVariant(name="b")])
    with pytest.raises(ExperimentError, match="variant 'a': override key 1 must be a string"):
        experiment.validate()


@pytest.mark.parametrize("key", ["trainer__learning_rate", "trainer.learning_rate", "+new_key", "a_b-c", "_x"])
def test_good_override_keys(key: str) -> None:
    experiment = create_experiment("keys").add_variant("a", **{key: 1}).add_variant("b", **{key: 2}).build()
    assert experiment.variant("a").overrides == {key: 1}


def test_two_spellings_of_the_same_key() -> None:
    variant = ABVariant(name="a", overrides={"trainer__lr": 1, "trainer.lr": 2})
    experiment = ABExperiment(name="same_key", variants=[variant, ABVariant(name="b")])
    with pytest.raises(
        ExperimentError, match=re.escape("'trainer__lr' and 'trainer.lr' set the same key 'trainer.lr'")
    ):
        experiment.validate()


def test_overrides_must_be_a_dict() -> None:
    experiment = ABExperiment(name="o", variants=[ABVariant(name="a", overrides=["x=1"]), ABVariant(name="b")])
    with pytest.raises(ExperimentError, match="variant 'a': overrides must be a dict, got list"):
        experiment.validate()


def test_bad_base_config_key() -> None:
    builder = two_variant_builder("base").set_base_config(**{"bad key": 1})
    with pytest.raises(ExperimentError, match="experiment 'base' base config: override key 'bad key'"):
        builder.build()


@pytest.mark.parametrize("defaults", ["/common", ["/common", 3], ["/common", "/"], [""]], ids=repr)
def test_bad_base_defaults(defaults: Any) -> None:
    builder = two_variant_builder("base").set_base_config(defaults=defaults)
    with pytest.raises(ExperimentError) as info:
        builder.build()
    assert "defaults must be a list of config paths such as ['/common', '/agent/fast']" in str(info.value)


def test_base_config_must_be_a_dict() -> None:
    experiment = MyCustomExperiment()
    experiment.base_config = ["/common"]  # type: ignore[assignment]
    with pytest.raises(ExperimentError, match="base config must be a dict, got list"):
        experiment.validate()


def test_non_variant_in_variants() -> None:
    experiment = ABExperiment(name="odd", variants=[ABVariant(name="a"), {"name": "b"}])  # type: ignore[list-item]
    with pytest.raises(ExperimentError, match="is not an ABVariant"):
        experiment.validate()


@pytest.mark.parametrize("tags", [[1], ["ok", None]], ids=repr)
def test_variant_tags_must_be_strings(tags: list[Any]) -> None:
    builder = create_experiment("tags").add_variant("a", tags=tags).add_variant("b")
    with pytest.raises(ExperimentError, match="variant 'a': tags must be a list of strings"):
        builder.build()


def _tags_accepted_whole_or_refused(build: Any, where: str, read: Any) -> None:
    """A single string given as tags must become ONE tag, or be refused; never one tag per character."""
    try:
        experiment = build()
    except ExperimentError as error:
        assert "tags" in str(error) and where in str(error)
        return
    assert read(experiment) == ["baseline"]


def test_variant_tags_given_as_one_string() -> None:
    _tags_accepted_whole_or_refused(
        lambda: create_experiment("tags").add_variant("a", tags="baseline").add_variant("b").build(),
        "variant 'a'",
        lambda e: e.variant("a").tags,
    )


def test_experiment_wandb_tags_given_as_one_string() -> None:
    _tags_accepted_whole_or_refused(
        lambda: two_variant_builder("tags").set_wandb_config(tags="baseline").build(),
        "tags",
        lambda e: e.wandb_tags,
    )


def test_variant_tags_none_in_a_custom_class() -> None:
    experiment = ABExperiment(name="none_tags", variants=[ABVariant(name="a", tags=None), ABVariant(name="b")])  # type: ignore[arg-type]
    try:
        experiment.validate()
    except ExperimentError as error:
        assert "tags" in str(error)


def test_validate_returns_the_experiment() -> None:
    experiment = MyCustomExperiment()
    assert experiment.validate() is experiment


def test_build_reports_the_first_problem_before_running_anything() -> None:
    """An invalid experiment never comes out of build()."""
    with pytest.raises(ExperimentError):
        create_experiment("bad name").add_variant("a").build()


# --- to_dict / from_dict -------------------------------------------------------------------------------------


def test_to_dict_from_dict_round_trip() -> None:
    experiment = (
        two_variant_builder("round")
        .add_variant("third", description="d", tags=["t"], extra__key=(1, 2))
        .set_base_config(defaults=["/common"], total_timesteps=10)
        .set_wandb_config(project="p", entity="e", tags=["x"])
        .set_runs_per_variant(3)
        .build()
    )
    data = experiment.to_dict()
    assert data["variants"][2]["overrides"] == {"extra__key": [1, 2]}  # tuples are saved as lists
    again = ABExperiment.from_dict(data)
    assert again.to_dict() == data
    assert again.variants[:2] == experiment.variants[:2]
    assert (again.name, again.date, again.wandb_project, again.wandb_entity) == ("round", experiment.date, "p", "e")


def test_from_dict_rejects_unknown_fields() -> None:
    data = two_variant_builder().build().to_dict()
    data["runs"] = 3
    with pytest.raises(ExperimentError, match=r"saved\.yaml: unknown field\(s\) \['runs'\]"):
        ABExperiment.from_dict(data, source="saved.yaml")


@pytest.mark.parametrize("missing", ["name", "variants"])
def test_from_dict_requires_name_and_variants(missing: str) -> None:
    data = two_variant_builder().build().to_dict()
    del data[missing]
    with pytest.raises(ExperimentError, match=re.escape("saved.yaml: 'name' and 'variants' are required")):
        ABExperiment.from_dict(data, source="saved.yaml")


def test_from_dict_validates() -> None:
    data = two_variant_builder().build().to_dict()
    data["variants"] = data["variants"][:1]
    with pytest.raises(ExperimentError, match="at least 2"):
        ABExperiment.from_dict(data)


# --- values: numpy numbers are plain numbers; what no override can carry is refused at build -------------------

NUMPY_SCALARS = st.sampled_from(
    ["bool", "int8", "int32", "int64", "uint16", "uint64", "float16", "float32", "float64"]
).flatmap(lambda dtype: hnp.from_dtype(np.dtype(dtype), allow_nan=False))
NUMPY_VALUES = NUMPY_SCALARS | NUMPY_SCALARS.map(np.array)  # and 0-d arrays, as np.array(x) gives


def _plain_types(value: Any) -> bool:
    if isinstance(value, list):
        return all(_plain_types(v) for v in value)
    if isinstance(value, dict):
        return all(type(k) is str and _plain_types(v) for k, v in value.items())
    return type(value) in (bool, int, float, str, type(None))


@settings(max_examples=100, deadline=None)
@given(
    value=NUMPY_VALUES,
    nested=st.lists(NUMPY_VALUES, max_size=3),
    mapping=st.dictionaries(st.sampled_from(["lr", "gamma", "steps"]), NUMPY_VALUES, max_size=3),
)
def test_numpy_values_are_recorded_as_plain_python_values(value: Any, nested: list[Any], mapping: dict) -> None:
    experiment = (
        create_experiment("np")
        .add_variant("a", trainer__learning_rate=value, schedule=nested, opt=mapping)
        .add_variant("b")
        .add_task("t1", level=value)
        .add_task("t2")
        .set_base_config(trainer__total_timesteps=value, extra=[value])
        .set_runs_per_variant(np.int64(3))
        .set_metric("score", min_effect=np.float32(0.5), alpha=np.float64(0.1))
        .build()
    )
    overrides = experiment.variant("a").overrides
    assert overrides["trainer__learning_rate"] == value.item() and overrides["schedule"] == [v.item() for v in nested]
    assert overrides["opt"] == {k: v.item() for k, v in mapping.items()}
    assert experiment.runs_per_variant == 3 and type(experiment.runs_per_variant) is int
    assert type(experiment.analysis.alpha) is float and type(experiment.analysis.min_effect) is float
    data = experiment.to_dict()
    assert _plain_types(data["variants"]) and _plain_types(data["tasks"]) and _plain_types(data["base_config"])
    assert yaml.safe_load(yaml.safe_dump(data)) == data  # saved as numbers, not as numpy objects


@pytest.mark.parametrize(
    "value, fragment",
    [
        ({1, 2}, "a value of type set"),
        (object(), "a value of type object"),
        (len, "a value of type builtin_function_or_method"),
        (lambda x: x, "a value of type function"),
        (b"raw", "a value of type bytes"),
        (np.zeros(3), "a numpy array of shape (3,) is not one value; pass a list (value.tolist())"),
        (np.zeros((2, 2)), "a numpy array of shape (2, 2)"),
        ([1, {2, 3}], "a value of type set"),
        ({"a b": 1}, "dict key 'a b' cannot be written"),
        (np.datetime64("2024-01-01"), "a value of type datetime64"),
    ],
)
def test_a_value_no_override_can_carry_is_refused_at_build_naming_variant_and_key(value: Any, fragment: str) -> None:
    with pytest.raises(ExperimentError) as info:
        create_experiment("bad").add_variant("a", thing=value).add_variant("b").build()
    assert str(info.value).startswith("variant 'a', key 'thing': ") and fragment in str(info.value)


@pytest.mark.parametrize(
    "chain, fragment",
    [
        (lambda b: b.add_variant("c", thing={1}), "variant 'c', key 'thing'"),
        (lambda b: b.add_task("t1", level={1}).add_task("t2"), "task 't1', key 'level'"),
        (lambda b: b.set_base_config(thing={1}), "experiment 'lr_test' base config, key 'thing'"),
    ],
)
def test_tasks_and_base_config_values_are_checked_too(chain: Any, fragment: str) -> None:
    with pytest.raises(ExperimentError, match=re.escape(fragment)):
        chain(two_variant_builder()).build()


# --- keys of the sweep itself: hydra.* and ab.* -------------------------------------------------------------


@pytest.mark.parametrize(
    "key, setting, fix",
    [
        ("hydra__sweep__dir", "hydra.sweep.dir", "set hydra.sweep.dir on the command line, where it applies to every"),
        ("hydra.job.chdir", "hydra.job.chdir", "set hydra.job.chdir on the command line"),
        ("+hydra.x", "hydra.x", "set hydra.x on the command line"),
        ("ab.max_retries", "ab.max_retries", "set ab.max_retries on the command line"),
        ("ab__analysis__alpha", "ab.analysis.alpha", "set ab.analysis.alpha on the command line"),
    ],
)
def test_a_variant_task_or_base_config_cannot_set_the_sweeps_own_keys(key: str, setting: str, fix: str) -> None:
    for chain, where in (
        (lambda b: b.add_variant("c", **{key: 1}), "variant 'c'"),
        (lambda b: b.add_task("t1", **{key: 1}).add_task("t2"), "task 't1'"),
        (lambda b: b.set_base_config(**{key: 1}), "experiment 'lr_test' base config"),
    ):
        with pytest.raises(ExperimentError) as info:
            chain(two_variant_builder()).build()
        message = str(info.value)
        assert message.startswith(f"{where}: key {key!r}") and setting in message and fix in message


def test_a_base_default_that_selects_a_hydra_option_is_refused() -> None:
    with pytest.raises(
        ExperimentError, match=r"'/hydra/launcher/joblib' selects a Hydra setting.*hydra/launcher=joblib"
    ):
        two_variant_builder().set_base_config(defaults=["/hydra/launcher/joblib"]).build()


def test_keys_that_only_contain_hydra_or_ab_are_run_settings() -> None:
    experiment = two_variant_builder().set_base_config(model__hydra_depth=2, lab=1).build()
    assert experiment.base_values == {"model__hydra_depth": 2, "lab": 1}


# --- names that become directory names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "chain, what",
    [
        (lambda b, long: b.add_variant(long), "variant name"),
        (lambda b, long: b.add_task(long).add_task("t2"), "task name"),
    ],
)
def test_names_longer_than_the_limit_are_refused(chain: Any, what: str) -> None:
    long = "v" * (MAX_NAME_LENGTH + 1)
    with pytest.raises(ExperimentError, match=rf"{what} 'v{{40}}'\.\.\. is 101 characters long.*at most 100"):
        chain(two_variant_builder(), long).build()
    assert chain(two_variant_builder(), "v" * MAX_NAME_LENGTH).build()  # the limit itself is fine
    with pytest.raises(ExperimentError, match=r"experiment name 'x{40}'\.\.\. is 101 characters long"):
        two_variant_builder("x" * 101).build()


# --- settings out of range ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, value, expected",
    [
        ("alpha", 0.5, "alpha must be a finite number > 0 and < 0.5, got 0.5"),
        ("alpha", 0, "alpha must be a finite number > 0 and < 0.5, got 0"),
        ("ci_level", 1.0, "ci_level must be a finite number > 0.5 and < 1, got 1.0"),
        ("n_resamples", 10, "n_resamples must be a whole number >= 100, got 10"),
        ("n_resamples", 1000.5, "n_resamples must be a whole number >= 100, got 1000.5"),
        ("seed", -1, "seed must be a whole number >= 0, got -1"),
        ("last_k", 0, "last_k must be a whole number >= 1, got 0"),
        ("min_effect", -0.1, "min_effect must be a finite number >= 0, got -0.1"),
        ("threshold", float("nan"), "threshold must be a finite number, got nan"),
        ("target", "high", "target must be a finite number, got 'high'"),
        ("metric", 3, "metric must be a metric name (a string), got 3"),
    ],
)
def test_analysis_settings_out_of_range(setting: str, value: Any, expected: str) -> None:
    with pytest.raises(ExperimentError) as info:
        AnalysisSettings(**{setting: value}).validate("ab.analysis")
    assert str(info.value) == f"ab.analysis: {expected}"


@pytest.mark.parametrize(
    "sequential, expected",
    [
        (SequentialSettings(runs_per_look=1), "runs_per_look must be a whole number >= 2, got 1"),
        (SequentialSettings(max_runs_per_variant=2.5), "max_runs_per_variant must be a whole number >= 2, got 2.5"),
        (SequentialSettings(spending="linear"), "spending must be 'obrien-fleming', 'pocock' or 'hsd:<gamma>'"),
    ],
)
def test_sequential_settings_are_checked_one_by_one(sequential: SequentialSettings, expected: str) -> None:
    with pytest.raises(ExperimentError, match=re.escape(f"ab.sequential: {expected}")):
        sequential.check_given("ab.sequential")
