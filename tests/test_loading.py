"""Loading an experiment from a `.py` file (variable, `create_*` function, ABExperiment subclass, `file.py:NAME`)
or from a saved YAML file; every failure is an ExperimentLoadError that names the file and says what to do."""

from __future__ import annotations

import re
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metta_ab import ABExperiment, ExperimentError, ExperimentLoadError, create_experiment, load_experiment

IMPORTS = "from metta_ab import ABExperiment, ABVariant, create_experiment\n\n"

FACTORY = """
def create_lr_experiment():
    return (
        create_experiment("lr_test", "two learning rates")
        .add_variant(name="low", description="low lr", trainer__learning_rate=0.001, run="lowlr")
        .add_variant(name="high", trainer__learning_rate=0.01, tags=["fast"])
        .set_runs_per_variant(3)
        .build()
    )
"""

CUSTOM_CLASS = """
class MyCustomExperiment(ABExperiment):
    def __init__(self):
        super().__init__(name="custom_experiment", description="My custom experiment")
        self.add_variant(ABVariant(name="variant_a", description="First", overrides={"trainer__learning_rate": 0.001}))
        self.add_variant(ABVariant(name="variant_b", description="Second", overrides={"trainer__learning_rate": 0.01}))
        self.runs_per_variant = 10
        self.base_config = {"defaults": ["/common", "/agent/fast"], "total_timesteps": 1_000_000_000}
"""


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def load_error(spec: Path | str) -> str:
    """The message of the ExperimentLoadError that loading `spec` raises."""
    with pytest.raises(ExperimentLoadError) as info:
        load_experiment(spec)
    return str(info.value)


def built(name: str = "saved") -> ABExperiment:
    return (
        create_experiment(name, "saved to YAML")
        .add_variant("a", description="first", tags=["t1"], trainer__lr=0.1, run="alpha")
        .add_variant("b", trainer__lr=0.2, trainer__schedule={"kind": "cosine", "steps": [1, 2]})
        .set_runs_per_variant(4)
        .set_base_config(defaults=["/common", "/agent/fast"], total_timesteps=1000)
        .set_wandb_config(entity="team", tags=["ab"])
        .build()
    )


# --- what a .py file can define ------------------------------------------------------------------------------


def test_create_function(tmp_path: Path) -> None:
    experiment = load_experiment(write(tmp_path, "exp.py", IMPORTS + FACTORY))
    assert experiment.name == "lr_test"
    assert [v.name for v in experiment.variants] == ["low", "high"]
    assert experiment.runs_per_variant == 3


def test_imported_create_experiment_is_not_a_candidate(tmp_path: Path) -> None:
    """The file has its own create_lr_experiment AND the imported create_experiment: only its own counts."""
    path = write(tmp_path, "exp.py", "from metta_ab import create_experiment\n" + FACTORY)
    assert load_experiment(path).name == "lr_test"


def test_seed_readme_file_with_variable_and_function(tmp_path: Path) -> None:
    path = write(tmp_path, "my_experiment.py", IMPORTS + FACTORY + "\nexperiment = create_lr_experiment()\n")
    assert load_experiment(path).name == "lr_test"


def test_module_variable_wins_over_functions(tmp_path: Path) -> None:
    source = (
        IMPORTS
        + FACTORY
        + '\nexperiment = create_experiment("from_variable").add_variant("x").add_variant("y").build()\n'
    )
    assert load_experiment(write(tmp_path, "exp.py", source)).name == "from_variable"


def test_module_variable_alone(tmp_path: Path) -> None:
    source = IMPORTS + 'experiment = create_experiment("inline").add_variant("x", a=1).add_variant("y", a=2).build()\n'
    assert load_experiment(write(tmp_path, "exp.py", source)).name == "inline"


def test_seed_custom_class(tmp_path: Path) -> None:
    experiment = load_experiment(write(tmp_path, "custom.py", IMPORTS + CUSTOM_CLASS))
    assert type(experiment).__name__ == "MyCustomExperiment"
    assert isinstance(experiment, ABExperiment)
    assert experiment.name == "custom_experiment"
    assert experiment.runs_per_variant == 10
    assert experiment.base_defaults == ["/common", "/agent/fast"]


def test_function_wins_over_class(tmp_path: Path) -> None:
    assert load_experiment(write(tmp_path, "exp.py", IMPORTS + FACTORY + CUSTOM_CLASS)).name == "lr_test"


def test_only_what_the_file_defines_counts(tmp_path: Path) -> None:
    """Functions and classes imported from a helper beside the file are tools, not candidates."""
    write(
        tmp_path,
        "helpers.py",
        IMPORTS + FACTORY.replace("create_lr_experiment", "create_shared") + CUSTOM_CLASS,
    )
    own = "from helpers import MyCustomExperiment, create_shared\n\n\ndef create_mine():\n    return create_shared()\n"
    assert load_experiment(write(tmp_path, "exp.py", own)).name == "lr_test"
    nothing = "from helpers import MyCustomExperiment, create_shared\n"
    message = load_error(write(tmp_path, "only_imports.py", nothing))
    assert "only_imports.py" in message
    assert "defines no experiment" in message


def test_helper_import_does_not_leave_the_folder_on_sys_path(tmp_path: Path) -> None:
    load_experiment(write(tmp_path, "exp.py", IMPORTS + FACTORY))
    assert str(tmp_path) not in sys.path


def test_editing_the_file_and_loading_again_gives_the_new_experiment(tmp_path: Path) -> None:
    path = write(tmp_path, "exp.py", IMPORTS + FACTORY)
    assert load_experiment(path).runs_per_variant == 3
    write(tmp_path, "exp.py", IMPORTS + FACTORY.replace("set_runs_per_variant(3)", "set_runs_per_variant(8)"))
    assert load_experiment(path).runs_per_variant == 8


# --- path.py:NAME --------------------------------------------------------------------------------------------

SEVERAL = (
    IMPORTS
    + FACTORY
    + """
def create_other():
    return create_experiment("other").add_variant("p", a=1).add_variant("q", a=2).build()

second = create_experiment("second").add_variant("p", a=1).add_variant("q", a=2).build()
"""
    + CUSTOM_CLASS
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("create_other", "other"),
        ("create_lr_experiment", "lr_test"),
        ("second", "second"),
        ("MyCustomExperiment", "custom_experiment"),
    ],
)
def test_colon_name_picks_one(tmp_path: Path, name: str, expected: str) -> None:
    path = write(tmp_path, "several.py", SEVERAL)
    assert load_experiment(f"{path}:{name}").name == expected


def test_colon_name_that_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "several.py", SEVERAL)
    message = load_error(f"{path}:create_missing")
    assert "several.py" in message
    assert "defines no 'create_missing'" in message


def test_colon_name_that_is_not_an_experiment(tmp_path: Path) -> None:
    path = write(tmp_path, "exp.py", IMPORTS + FACTORY + "count = 3\n")
    message = load_error(f"{path}:count")
    assert f"{path}:count is a int, not an experiment" in message


# --- errors --------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.py"
    message = load_error(missing)
    assert f"experiment file {str(missing)!r} not found" in message
    assert "relative to the directory the command was started in" in message


def test_directory_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "exp.py"
    folder.mkdir()
    assert "(it is a directory)" in load_error(folder)


def test_wrong_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "exp.txt", IMPORTS + FACTORY)
    message = load_error(path)
    assert str(path) in message
    assert "expected a .py or .yaml file" in message


def test_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.py", IMPORTS + "def create_x(:\n    pass\n")
    message = load_error(path)
    assert str(path) in message
    assert "syntax error at line 3" in message


def test_file_that_raises_while_imported(tmp_path: Path) -> None:
    path = write(tmp_path, "raises.py", IMPORTS + "settings = {}\nlr = settings['lr']\n")
    message = load_error(path)
    assert str(path) in message
    assert "raised KeyError while being imported: 'lr'" in message
    assert "lr = settings['lr']" in message  # the user's own line
    assert "raises_module" not in sys.modules


def test_nothing_found(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.py", IMPORTS + "x = 1\n")
    message = load_error(path)
    assert str(path) in message
    assert "defines no experiment" in message
    assert "create_<name>()" in message


def test_module_variable_that_is_the_builder(tmp_path: Path) -> None:
    """`experiment = create_experiment(...)...` without .build(): the error points at .build()."""
    source = IMPORTS + 'experiment = create_experiment("x").add_variant("a").add_variant("b")\n'
    message = load_error(write(tmp_path, "nobuild.py", source))
    assert "nobuild.py" in message
    assert ".build()" in message


def test_several_create_functions(tmp_path: Path) -> None:
    source = IMPORTS + FACTORY + FACTORY.replace("create_lr_experiment", "create_second")
    path = write(tmp_path, "two.py", source)
    message = load_error(path)
    assert str(path) in message
    assert "several create_* functions (create_lr_experiment, create_second)" in message
    assert f"'{path}:create_lr_experiment'" in message


def test_several_subclasses(tmp_path: Path) -> None:
    source = IMPORTS + CUSTOM_CLASS + CUSTOM_CLASS.replace("MyCustomExperiment", "OtherExperiment")
    path = write(tmp_path, "classes.py", source)
    message = load_error(path)
    assert str(path) in message
    assert "several ABExperiment subclasses (MyCustomExperiment, OtherExperiment)" in message


def test_only_subclasses_constructible_without_arguments_are_candidates(tmp_path: Path) -> None:
    source = (
        IMPORTS
        + """
class CurriculumComparison(ABExperiment):
    def __init__(self, first, second):
        super().__init__(name="curricula")
        self.add_variant(ABVariant(name="a", overrides={"trainer__curriculum": first}))
        self.add_variant(ABVariant(name="b", overrides={"trainer__curriculum": second}))

class NavigationComparison(CurriculumComparison):
    def __init__(self):
        super().__init__("/curriculum/lp", "/curriculum/pr")
"""
    )
    experiment = load_experiment(write(tmp_path, "base_and_concrete.py", source))
    assert type(experiment).__name__ == "NavigationComparison"


def test_function_that_raises(tmp_path: Path) -> None:
    source = IMPORTS + "def create_broken():\n    raise RuntimeError('no GPU quota')\n"
    path = write(tmp_path, "raising.py", source)
    message = load_error(path)
    assert f"{path}:create_broken() raised RuntimeError: no GPU quota" in message
    assert "raise RuntimeError('no GPU quota')" in message  # the traceback shows the user's line


def test_function_that_forgot_build(tmp_path: Path) -> None:
    source = IMPORTS + 'def create_x():\n    return create_experiment("x").add_variant("a").add_variant("b")\n'
    path = write(tmp_path, "forgot.py", source)
    message = load_error(path)
    assert f"{path}:create_x() returned ExperimentBuilder, not an ABExperiment" in message
    assert "did you forget .build()?" in message


def test_function_returning_something_else(tmp_path: Path) -> None:
    path = write(tmp_path, "dict.py", "def create_x():\n    return {'name': 'x'}\n")
    assert "create_x() returned dict, not an ABExperiment" in load_error(path)


def test_function_whose_build_fails(tmp_path: Path) -> None:
    source = IMPORTS + 'def create_x():\n    return create_experiment("x").add_variant("a").build()\n'
    path = write(tmp_path, "one.py", source)
    message = load_error(path)
    assert f"{path}:create_x()" in message
    assert "at least 2" in message


def test_invalid_module_variable_is_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "unvalidated.py", IMPORTS + 'experiment = ABExperiment(name="no variants")\n')
    message = load_error(path)
    assert str(path) in message
    assert "experiment name 'no variants' is not usable as a directory name" in message


def test_subclass_that_fails_validation(tmp_path: Path) -> None:
    path = write(
        tmp_path, "custom.py", IMPORTS + CUSTOM_CLASS.replace("self.runs_per_variant = 10", "self.runs_per_variant = 0")
    )
    message = load_error(path)
    assert str(path) in message
    assert "runs_per_variant must be a whole number >= 1, got 0" in message


def test_load_error_is_an_experiment_error() -> None:
    assert issubclass(ExperimentLoadError, ExperimentError)
    assert issubclass(ExperimentLoadError, ValueError)


# --- YAML --------------------------------------------------------------------------------------------------------


def save_yaml(folder: Path, data: Any, name: str = "experiment_config.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_saved_yaml_loads_back_equal(tmp_path: Path, suffix: str) -> None:
    experiment = built()
    path = save_yaml(tmp_path, experiment.to_dict(), "experiment_config" + suffix)
    assert load_experiment(path) == experiment


def test_yaml_under_an_experiment_key(tmp_path: Path) -> None:
    experiment = built()
    assert load_experiment(save_yaml(tmp_path, {"experiment": experiment.to_dict()})) == experiment


def test_minimal_hand_written_yaml(tmp_path: Path) -> None:
    path = tmp_path / "hand.yaml"
    path.write_text("name: hand\nvariants:\n  - name: a\n    overrides: {lr: 0.1}\n  - name: b\n", encoding="utf-8")
    experiment = load_experiment(path)
    assert [v.name for v in experiment.variants] == ["a", "b"]
    assert experiment.variant("a").overrides == {"lr": 0.1}
    assert experiment.runs_per_variant == 5


def test_hand_written_unquoted_date(tmp_path: Path) -> None:
    path = tmp_path / "dated.yaml"
    path.write_text("name: x\ndate: 2024-03-01\nvariants:\n  - name: a\n  - name: b\n", encoding="utf-8")
    experiment = load_experiment(path)
    assert experiment.date == "2024-03-01"
    assert experiment.to_dict()["date"] == "2024-03-01"


WRONG_SCHEMAS: dict[str, tuple[str, str]] = {
    "a list": ("- name: a\n- name: b\n", "expected a mapping with 'name' and 'variants', got list"),
    "unknown field": ("name: x\nvariants: []\nrepeats: 3\n", "unknown field(s) ['repeats']"),
    "no variants": ("name: x\n", "'name' and 'variants' are required"),
    "variant without name": (
        "name: x\nvariants:\n  - description: nameless\n  - name: b\n",
        "variants[0] must be a mapping with 'name'",
    ),
    "variant with unknown field": (
        "name: x\nvariants:\n  - name: a\n    lr: 0.1\n  - name: b\n",
        "variants[0] must be a mapping",
    ),
    "bad analysis": ("name: x\nanalysis: {metrik: reward}\nvariants:\n  - name: a\n  - name: b\n", "'analysis'"),
}
INVALID_EXPERIMENTS: dict[str, tuple[str, str]] = {
    "one variant": ("name: x\nvariants:\n  - name: a\n", "at least 2"),
    "bad runs": ("name: x\nruns_per_variant: many\nvariants:\n  - name: a\n  - name: b\n", "runs_per_variant"),
    "bad variant name": ("name: x\nvariants:\n  - name: a b\n  - name: b\n", "variant name 'a b'"),
}


@pytest.mark.parametrize("case", list(WRONG_SCHEMAS))
def test_yaml_with_the_wrong_schema(tmp_path: Path, case: str) -> None:
    text, expected = WRONG_SCHEMAS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


@pytest.mark.parametrize("case", list(INVALID_EXPERIMENTS))
def test_yaml_with_an_invalid_experiment(tmp_path: Path, case: str) -> None:
    text, expected = INVALID_EXPERIMENTS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExperimentError, match=re.escape(expected)):
        load_experiment(path)


@pytest.mark.parametrize("case", list(INVALID_EXPERIMENTS))
def test_yaml_validation_errors_name_the_file(tmp_path: Path, case: str) -> None:
    text, expected = INVALID_EXPERIMENTS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_yaml_that_does_not_parse(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    message = load_error(path)
    assert f"experiment file {str(path)!r} is not readable YAML" in message


def test_yaml_schema_errors_are_load_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nvariants: []\nrepeats: 3\n", encoding="utf-8")
    assert str(path) in load_error(path)


@pytest.mark.parametrize("overrides", ["[lr=0.1]", "lr=0.1", "5"], ids=["list of strings", "a string", "a number"])
def test_yaml_variant_overrides_not_a_mapping(tmp_path: Path, overrides: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: x\nvariants:\n  - name: a\n    overrides: {overrides}\n  - name: b\n", encoding="utf-8")
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert str(path) in str(info.value)
    assert "overrides" in str(info.value)


def test_yaml_variant_tags_as_one_string(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text("name: x\nvariants:\n  - name: a\n    tags: baseline\n  - name: b\n", encoding="utf-8")
    try:
        experiment = load_experiment(path)
    except ExperimentError as error:
        assert "tags" in str(error)
        return
    assert experiment.variant("a").tags == ["baseline"]


# --- the round trip, as a property -------------------------------------------------------------------------------

SAFE_NAMES = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,11}\Z").filter(lambda n: ".." not in n)
KEY_SEGMENTS = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,5}\Z").filter(lambda s: "__" not in s and not s.endswith("_"))
OVERRIDE_KEYS = st.builds(
    lambda plus, segments: ("+" if plus else "") + "__".join(segments),
    st.booleans(),
    st.lists(KEY_SEGMENTS, min_size=1, max_size=3).filter(lambda s: s[0] not in ("hydra", "ab")),  # the sweep's own
)
# Dict keys the override grammar can write (validation refuses the others when the experiment is built).
DICT_KEYS = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_-]{0,4}\Z").filter(
    lambda k: k.lower() not in ("true", "false", "null", "nan", "inf")
)
PLAIN_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(DICT_KEYS, children, max_size=3),
    max_leaves=8,
)


def _unique_by_dotted_key(overrides: dict[str, Any]) -> dict[str, Any]:
    """`a__b` and `+a.b` set the same key (validation refuses that): keep the first spelling."""
    seen: set[str] = set()
    kept = {}
    for key, value in overrides.items():
        dotted = key.lstrip("+").replace("__", ".")
        if dotted not in seen:
            seen.add(dotted)
            kept[key] = value
    return kept


@st.composite
def experiments(draw: st.DrawFn) -> ABExperiment:
    names = draw(st.lists(SAFE_NAMES, min_size=2, max_size=4, unique=True))
    builder = create_experiment(
        draw(SAFE_NAMES),
        draw(st.text(max_size=30)),
        date=draw(st.none() | st.dates().map(lambda d: d.isoformat())) or "",
    )
    for name in names:
        overrides = _unique_by_dotted_key(draw(st.dictionaries(OVERRIDE_KEYS, PLAIN_VALUES, max_size=4)))
        builder.add_variant(
            name,
            description=draw(st.text(max_size=20)),
            tags=draw(st.none() | st.lists(st.text(max_size=8), max_size=3)),
            **overrides,
        )
    builder.set_runs_per_variant(draw(st.integers(1, 50)))
    if draw(st.booleans()):
        defaults = draw(st.lists(st.from_regex(r"\A(/[a-z_]{1,6}){1,3}\Z"), max_size=3))
        values = _unique_by_dotted_key(draw(st.dictionaries(OVERRIDE_KEYS, PLAIN_VALUES, max_size=3)))
        builder.set_base_config(defaults=defaults, **values)
    if draw(st.booleans()):
        builder.set_wandb_config(
            project=draw(st.none() | st.text(min_size=1, max_size=12)),
            entity=draw(st.none() | st.text(min_size=1, max_size=12)),
            tags=draw(st.none() | st.lists(st.text(max_size=8), max_size=3)),
        )
    if draw(st.booleans()):
        builder.set_metric(
            draw(st.text(min_size=1, max_size=12)),
            draw(st.sampled_from(["max", "min"])),
            control=draw(st.none() | st.sampled_from(names)),
            min_effect=draw(st.none() | st.floats(0, 10)),
        )
    return builder.build()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(experiment=experiments())
def test_round_trip_through_a_saved_yaml_file(experiment: ABExperiment) -> None:
    """build -> to_dict -> yaml.safe_dump -> file -> load_experiment gives an equal experiment."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "experiment_config.yaml"
        path.write_text(yaml.safe_dump(experiment.to_dict()), encoding="utf-8")
        loaded = load_experiment(path)
    assert loaded == experiment
    assert loaded.to_dict() == experiment.to_dict()
