"""Python values -> Hydra override strings: every value a variant can hold reaches the composed config unchanged.

The proof composes REAL configs with `hydra.compose` (a tiny config dir: `x: 0`, `d: {}`) and parses every
override with Hydra's own override parser: no value may turn into a sweep, a second override, or an
interpolation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from metta_ab.definition.job_paths import is_job_dir_value
from metta_ab.definition.overrides import OverrideValueError, format_value, value_override

PARSER = OverridesParser.create()

# Hydra's override grammar cannot quote dict keys, and its lexer reads these words (any case) as
# bool / null / float tokens, so `{true: 1}` can never give the string key "true" back.
HYDRA_KEYWORDS = {"true", "false", "null", "nan", "inf"}


# --- helpers ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def override_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A minimal primary config: an existing scalar `x` and an existing empty dict `d`."""
    folder = tmp_path_factory.mktemp("override_conf")
    (folder / "config.yaml").write_text("x: 0\nd: {}\n", encoding="utf-8")
    return folder


@contextmanager
def hydra_at(config_dir: Path) -> Iterator[None]:
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        yield


def composed(overrides: list[str]) -> dict[str, Any]:
    """The job config Hydra composes from `overrides`, fully resolved (interpolations evaluated)."""
    cfg = compose("config", overrides=overrides)
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def same(got: Any, want: Any) -> bool:
    """Equality that also tells True from 1, 1.0 from 1, -0.0 from 0.0, "1" from 1, and NaN equals NaN."""
    if isinstance(want, float):
        if math.isnan(want):
            return isinstance(got, float) and math.isnan(got)
        return type(got) is float and got == want and math.copysign(1, got) == math.copysign(1, want)
    if isinstance(want, list | tuple):
        return type(got) is list and len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, dict):
        return type(got) is dict and list(got) == list(want) and all(same(got[k], want[k]) for k in want)
    return type(got) is type(want) and got == want


def assert_single_plain_override(override: str, key_element: str) -> None:
    """Hydra reads `override` as ONE override of `key_element`, and not as a sweep."""
    parsed = PARSER.parse_override(override)
    assert not parsed.is_sweep_override(), f"{override!r} is a sweep ({parsed.value_type})"
    assert parsed.get_key_element() == key_element, f"{override!r} sets {parsed.get_key_element()!r}"
    assert len(PARSER.parse_overrides([override])) == 1


def assert_reaches_config(values: list[Any]) -> None:
    """Compose `x=<v0>` (existing key), `++new1=<v1>` (new key), `++d.k2=<v2>` (new nested key), ... at once."""
    targets: list[tuple[str, str, tuple[str, ...]]] = []  # (key to override, prefix, path in the config)
    for i in range(len(values)):
        if i == 0:
            targets.append(("x", "", ("x",)))
        elif i % 2:
            targets.append((f"new{i}", "++", (f"new{i}",)))
        else:
            targets.append((f"d.k{i}", "++", ("d", f"k{i}")))
    overrides = [value_override(key, v, prefix=prefix) for (key, prefix, _), v in zip(targets, values, strict=True)]
    for (key, prefix, _), override in zip(targets, overrides, strict=True):
        assert_single_plain_override(override, prefix + key)
    assert len(PARSER.parse_overrides(overrides)) == len(overrides)
    config = composed(overrides)
    for (_, _, path), override, want in zip(targets, overrides, values, strict=True):
        got: Any = config
        for part in path:
            got = got[part]
        assert same(got, want), f"{want!r} was written as {override!r} and came back as {got!r}"


# --- explicit values ----------------------------------------------------------------------------------------

TRICKY_VALUES: list[Any] = [
    # strings that Hydra's grammar gives a meaning to
    "a,b",
    "1,2,3",
    "lr 0.001, fast",
    "a b",
    " leading and trailing ",
    "   ",
    "'",
    '"',
    "it's",
    'say "hi"',
    """both ' and " quotes""",
    "a=b",
    "x=1 y=2",
    "=",
    "[1,2]",
    "[",
    "]",
    "{a:1}",
    "{",
    "}",
    "(a)",
    "choice(a,b)",
    "range(1,5)",
    "interval(0,1)",
    "glob(*)",
    "shuffle(a,b)",
    "tag(x,a,b)",
    "~x",
    "+x=1",
    "a:b",
    "\\",
    "a\\",
    "a\\\\",
    "\\\\\\",
    "\\'",
    "a\\'b",
    "\\\\'",
    "'\\'",
    '"\\"',
    '\\"',
    "C:\\path\\to\\file",
    "/env/mettagrid/curriculum/navigation/learning_progress",
    "a/b/../c",
    # interpolation look-alikes must stay literal text
    "${x}",
    "${d}",
    "${oc.env:HOME}",
    "${oc.decode:'1'}",
    "${",
    "$",
    "$x",
    "${x",
    "}${x}{",
    "pre ${x} post",
    "\\${x}",
    "\\\\${x}",
    "${x}${x}",
    "${hydra:runtime.cwd}",
    # whitespace, control characters, unicode
    "",
    "a\nb",
    "\n",
    "line\n",
    "\t",
    "a\tb",
    "\r\n",
    "\x00",
    "\x07\x1b[0m",
    "\x7f",
    "\x85",
    "\u2028\u2029",
    "\ufeff",
    "é中文😀",
    "\U0010ffff",
    # strings that look like other types
    "1",
    "-1",
    "1.5",
    "1e-4",
    "0x10",
    "1_000",
    "inf",
    "-inf",
    "nan",
    "null",
    "None",
    "NULL",
    "true",
    "False",
    "yes",
    "~",
    "[]",
    "{}",
    # numbers
    0,
    1,
    -1,
    2**31,
    2**63,
    10**30,
    -(10**30),
    0.0,
    -0.0,
    1e-4,
    1.5e-10,
    1e16,
    -2.5,
    123456789.123456789,
    5e-324,
    1.7976931348623157e308,
    math.inf,
    -math.inf,
    math.nan,
    True,
    False,
    None,
    # containers
    [],
    {},
    [1, 2, 3],
    ["a,b", "c d", "e=f"],
    [1, "1", 1.0, True, None, "null"],
    [[1, [2, [3]]], []],
    [{"a": [1, {"b": "x,y"}]}],
    {"lr": 0.001, "schedule": "cosine"},
    {"nested": {"deeper": {"k": [None, "${x}"]}}},
    {"a-b": 1, "_c": "d e", "C2": [True]},
    ["", ""],
    [[]],
    {"a": {}},
    ["\\", "'", '"', "${x}", "\n"],
]


@pytest.mark.parametrize("value", TRICKY_VALUES, ids=lambda v: repr(v)[:40])
def test_value_reaches_composed_config_unchanged(override_config_dir: Path, value: Any) -> None:
    with hydra_at(override_config_dir):
        assert_reaches_config([value, value, value])


def test_interpolation_text_is_not_resolved(override_config_dir: Path) -> None:
    """`${x}` in a variant value is text: it must not be replaced by the config's `x` (0)."""
    overrides = [value_override("y", "${x}", prefix="++"), value_override("z", ["${x}"], prefix="++")]
    with hydra_at(override_config_dir):
        config = composed(overrides)
    assert config["y"] == "${x}"
    assert config["z"] == ["${x}"]


def test_tuples_arrive_as_lists(override_config_dir: Path) -> None:
    with hydra_at(override_config_dir):
        config = composed([value_override("x", (1, "a,b", (2.5, None)))])
    assert same(config["x"], [1, "a,b", [2.5, None]])


def test_numpy_scalars_arrive_as_python_numbers(override_config_dir: Path) -> None:
    np = pytest.importorskip("numpy")
    values = [np.float32(0.5), np.float64(1e-4), np.int64(-7), np.bool_(True)]
    with hydra_at(override_config_dir):
        config = composed([value_override(f"v{i}", v, prefix="++") for i, v in enumerate(values)])
    assert [config[f"v{i}"] for i in range(len(values))] == [0.5, 1e-4, -7, True]
    assert type(config["v3"]) is bool


@pytest.mark.parametrize("prefix", ["", "+", "++"])
def test_value_override_prefix(prefix: str) -> None:
    override = value_override("trainer.lr", 0.001, prefix=prefix)
    assert override == f"{prefix}trainer.lr=0.001"
    assert_single_plain_override(override, prefix + "trainer.lr")


def test_plus_adds_a_key_the_config_lacks(override_config_dir: Path) -> None:
    with hydra_at(override_config_dir):
        assert composed([value_override("fresh", "a, b", prefix="+")])["fresh"] == "a, b"
        assert composed([value_override("x", "a, b", prefix="++")])["x"] == "a, b"


# --- the property ---------------------------------------------------------------------------------------------

IDENTIFIER_KEYS = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_-]{0,7}\Z")
# A grammar limitation (see HYDRA_KEYWORDS): such keys are refused, see test_unwritable_dict_keys_are_refused.
DICT_KEYS = IDENTIFIER_KEYS.filter(lambda key: key.lower() not in HYDRA_KEYWORDS)
# All of unicode (control characters included), plus text made only of what Hydra's and OmegaConf's grammars
# give a meaning to, so quoting and escaping corner cases come up often.
GRAMMAR_TEXT = st.text(alphabet="\\'\"${}[]()<>,=:;~+*?@%|#!/ .\t\n\rab01")
# The job-directory marker (`"@job_dir/..."`) is the one interpolation asked for: test_job_paths.py checks it.
TEXT = (st.text() | GRAMMAR_TEXT).filter(lambda text: not is_job_dir_value(text))
PRIMITIVES = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
VALUES = st.recursive(
    PRIMITIVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(DICT_KEYS, children, max_size=4),
    max_leaves=10,
)
# Composing costs ~0.1 s an example and ~5 ms a value: large batches test ~1,000 values in 80 compositions.
VALUE_BATCHES = st.lists(VALUES, min_size=1, max_size=24)
PROPERTY_SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(values=VALUE_BATCHES)
@example(values=["\\\n"])  # regressions: a backslash before a final newline,
@example(values=["a\\b${x}"])  # and backslashes away from '${' in a string that has one
@example(values=[["${x}\\"], {"k": "\\${x}\\"}])
def test_every_value_survives_hydra(override_config_dir: Path, values: list[Any]) -> None:
    with hydra_at(override_config_dir):
        assert_reaches_config(values)


@pytest.mark.parametrize("value", ["\\\n", "a\\\n", "x\\\\\n", "\\\n\n"], ids=repr)
def test_backslash_before_final_newline(override_config_dir: Path, value: str) -> None:
    with hydra_at(override_config_dir):
        assert_reaches_config([value])


@pytest.mark.parametrize(
    "value", ["a\\b${x}", "${x}\\", "C:\\dir ${x}", "${x}\\n", "\\${x}\\", "\\\\${x}\\${y}"], ids=repr
)
def test_backslashes_in_a_string_with_interpolation_text(override_config_dir: Path, value: str) -> None:
    with hydra_at(override_config_dir):
        assert_reaches_config([value])


# --- values with no faithful override form ----------------------------------------------------------------------


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (Opaque(), "Opaque"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        (1 + 2j, "complex"),
        ([1, Opaque()], "Opaque"),
        ({"ok": {"deeper": Opaque()}}, "Opaque"),
        ({"a b": 1}, "dict key 'a b'"),
        ({"a.b": 1}, "dict key 'a.b'"),
        ({"": 1}, "dict key ''"),
        ({1: "one"}, "dict key 1"),
        ({None: 1}, "dict key None"),
        ({"k": {"x,y": 1}}, "dict key 'x,y'"),
        ({"é": 1}, "dict key 'é'"),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_unsupported_values_raise_a_clear_error(value: Any, named: str) -> None:
    with pytest.raises(OverrideValueError) as info:
        format_value(value)
    message = str(info.value)
    assert named in message
    assert "use" in message  # says what to use instead


def test_override_value_error_is_a_value_error() -> None:
    assert issubclass(OverrideValueError, ValueError)


@pytest.mark.parametrize("key", ["true", "True", "FALSE", "null", "NULL", "nan", "NaN", "inf", "Inf", "a\n"])
def test_unwritable_dict_keys_are_refused(key: str) -> None:
    """Hydra cannot quote dict keys: keys it would read as bool/null/float, or cannot lex, are refused."""
    with pytest.raises(OverrideValueError) as info:
        value_override("x", {"ok": [{key: 1}]})
    assert f"dict key {key!r} cannot be written as a Hydra override" in str(info.value)


@pytest.mark.parametrize("key", ["trueish", "null_", "inf-x", "nan2", "_true", "NaNa"])
def test_dict_keys_that_only_start_like_keywords_work(override_config_dir: Path, key: str) -> None:
    with hydra_at(override_config_dir):
        assert_reaches_config([{key: 1}])


def test_format_value_examples() -> None:
    """The literal text a dry run prints: numbers bare, every string quoted."""
    assert format_value(None) == "null"
    assert format_value(True) == "true"
    assert format_value(False) == "false"
    assert format_value(-3) == "-3"
    assert format_value(1e-4) == "0.0001"
    assert format_value(-math.inf) == "-inf"
    assert format_value("fast") == "'fast'"
    assert format_value([1, "a"]) == "[1,'a']"
    assert format_value({"k": 1}) == "{k:1}"
    assert re.fullmatch(r"'.*'", format_value("a,b"))
