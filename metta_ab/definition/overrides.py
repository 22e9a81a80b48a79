"""Python values -> Hydra command-line override strings that compose back to the same values.

A variant value must reach the job's config unchanged and can never become a sweep (`a,b`), a second
override, or an interpolation: every string is quoted, quotes and backslashes escaped by Hydra's
quoted-string rules, and `${` escaped by OmegaConf's. The one interpolation is the one asked for: a value
marked as a path inside the job directory (`"@job_dir/logs"`, see job_paths.py). The property test in tests/
composes real configs.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from metta_ab.definition.job_paths import inside_job_dir, is_job_dir_value, marker_path

_DICT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")
_KEYWORDS = {"true", "false", "null", "nan", "inf"}  # Hydra reads these dict keys as values
_BACKSLASHES_BEFORE_QUOTE = re.compile(r"(\\*)'")
_TRAILING_BACKSLASHES = re.compile(r"(\\+)\Z")
_BACKSLASHES_BEFORE_INTERPOLATION = re.compile(r"(\\*)\$\{")


class OverrideValueError(ValueError):
    """A value that has no faithful Hydra override form (e.g. an arbitrary object)."""


def plain_value(value: Any) -> Any:
    """`value` as the plain Python data it stands for, so that it is saved (YAML, JSON) and written as an
    override as a number, not as an object: numpy scalars and 0-d arrays become int/float/bool/str, tuples
    lists, paths strings, subclasses of int/float/str their base type. Raises OverrideValueError for what no
    config can hold (arbitrary objects, sets, functions, arrays of one or more dimensions)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    numpy = sys.modules.get("numpy")  # a numpy value exists only once numpy is imported
    if numpy is not None and isinstance(value, numpy.ndarray):
        if value.ndim:
            raise OverrideValueError(
                f"a numpy array of shape {value.shape} is not one value; pass a list (value.tolist())"
            )
        return plain_value(value[()])
    if numpy is not None and isinstance(value, numpy.bool_ | numpy.integer | numpy.floating):
        return value.item() if not isinstance(value, numpy.floating) else float(value)  # float(): longdouble too
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)  # the text itself, also for a str-based enum
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain_value(item) for item in value]
    if isinstance(value, Mapping):
        return {plain_value(k): plain_value(v) for k, v in value.items()}
    raise OverrideValueError(
        f"a value of type {type(value).__name__} ({value!r}) cannot be passed to a Hydra app; "
        "use None, bool, int, float, str, or lists/dicts of those"
    )


def format_value(value: Any) -> str:
    """The Hydra grammar text for `value` (anything `plain_value` accepts)."""
    return _format_plain(plain_value(value))


def _format_plain(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _job_dir_value(value) if is_job_dir_value(value) else _quote(value)
    if isinstance(value, list):
        return "[" + ",".join(_format_plain(item) for item in value) + "]"
    return "{" + ",".join(f"{_dict_key(k)}:{_format_plain(v)}" for k, v in value.items()) + "}"


def _dict_key(key: Any) -> str:
    if not isinstance(key, str) or not _DICT_KEY.match(key) or key.lower() in _KEYWORDS:
        raise OverrideValueError(
            f"dict key {key!r} cannot be written as a Hydra override; use keys made of letters, digits, '_' and '-' "
            "that are not true/false/null/nan/inf"
        )
    return key


def _quote(text: str, *, interpolate: bool = False) -> str:
    """Single-quote `text` so that Hydra's parser and OmegaConf's resolver both give `text` back; with
    `interpolate`, its `${...}` stay interpolations (an app's own value, moved into the job directory)."""
    if not interpolate:  # OmegaConf reads `\${` as a literal `${`, and backslashes right before it as escaped pairs.
        text = _BACKSLASHES_BEFORE_INTERPOLATION.sub(lambda m: m.group(1) * 2 + "\\${", text)
    # Hydra's quoted strings: a run of backslashes before a quote (or at the very end) is doubled.
    text = _BACKSLASHES_BEFORE_QUOTE.sub(lambda m: m.group(1) * 2 + "\\'", text)
    text = _TRAILING_BACKSLASHES.sub(lambda m: m.group(1) * 2, text)
    return f"'{text}'"


def _job_dir_value(value: str) -> str:
    """`"@job_dir/logs"` -> `'${hydra:runtime.output_dir}/logs'`: the job's directory, then the literal rest."""
    rest = marker_path(value)
    return "'" + inside_job_dir(_quote(rest)[1:-1] if rest else "") + "'"


def interpolating_override(key: str, text: str) -> str:
    """`++key='text'` with the `${...}` of `text` kept as interpolations."""
    return f"++{key}={_quote(text, interpolate=True)}"


def value_override(key: str, value: Any, *, prefix: str = "") -> str:
    """`prefix` is "" (set an existing key), "+" (add a new key) or "++" (set or add)."""
    return f"{prefix}{key}={format_value(value)}"
