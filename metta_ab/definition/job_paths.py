"""Where an app writes, made a place inside each run's job directory.

Many apps keep their own log root in the config (`log_root: logs/runs`), relative to the directory the
command starts in: every run of a sweep then writes into one shared tree outside the job directories, where
the sources that read a run's numbers do not look. The sweeper points such keys into each job's directory
(`log_root=${hydra:runtime.output_dir}/logs/runs`), keeping the layout below them. This module is the pure
part: which names count as path keys, what an app's raw value says (already in the job directory, or where
to put it), and the marker an experiment file uses to give a value relative to the job directory.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable

#: The job's output directory, as each job's config resolves it (basic, joblib, submitit, ray; chdir or not).
JOB_DIR_INTERPOLATION = "${hydra:runtime.output_dir}"

#: An experiment value `"@job_dir/logs"` (or `job_dir("logs")`) is `${hydra:runtime.output_dir}/logs` in the job.
JOB_DIR_MARKER = "@job_dir"

#: The default `ab.inject.paths`: names of keys (at any depth) where apps say where they write. Input paths
#: (`data_dir`, `root_dir`, `ckpt_path` to resume from) are not among them: moving those breaks the app.
PATH_KEY_NAMES = (
    "log_root",
    "log_dir",
    "logdir",
    "logs_dir",
    "log_path",
    "tensorboard_log",
    "tensorboard_dir",
    "tb_log_dir",
    "save_dir",
    "output_dir",
    "out_dir",
    "checkpoint_dir",
    "ckpt_dir",
    "run_dir",
    "results_dir",
)

_REFERENCE = re.compile(r"\$\{([^${}]*)\}")  # innermost interpolations: `${a.b}`, `${hydra:run.dir}`
#: Hydra keys that differ per job and lie inside its directory.
_JOB_DIR_KEYS = ("runtime.output_dir", "run.dir", "sweep.subdir")
_LAUNCH_DIR_PREFIXES = ("${hydra:runtime.cwd}/", "${hydra.runtime.cwd}/")


def job_dir(*parts: str) -> str:
    """A value for `set_base_config`/`add_variant` that each job reads as a path inside its own directory:
    `job_dir("logs", "tb")` is `${hydra:runtime.output_dir}/logs/tb` in the job's config. (Values of the
    experiment file are literal strings, so a `${...}` written there does not interpolate.)"""
    return "/".join([JOB_DIR_MARKER, *(part.strip("/") for part in parts if part.strip("/"))])


def is_job_dir_value(value: object) -> bool:
    return isinstance(value, str) and (value == JOB_DIR_MARKER or value.startswith(JOB_DIR_MARKER + "/"))


def inside_job_dir(path: str) -> str:
    """The job's config value for a path inside its directory (`path` may hold the app's interpolations)."""
    return f"{JOB_DIR_INTERPOLATION}/{path}" if path else JOB_DIR_INTERPOLATION


def marker_path(value: str) -> str:
    """What follows the marker (`"@job_dir/logs"` -> `logs`)."""
    return value[len(JOB_DIR_MARKER) :].lstrip("/")


def matches(key: str, patterns: Iterable[str]) -> bool:
    """A pattern without a dot names a key at any depth (`log_dir`: also `logger.log_dir`); with one, the
    dotted key (`paths.*`, `logger.save_dir`). Shell wildcards work in both."""
    leaf = key.rsplit(".", 1)[-1]
    return any(fnmatch.fnmatchcase(key if "." in p else leaf, p) for p in patterns)


def is_path_value(value: object) -> bool:
    """A string that can name a local directory: not empty, not `???`, not a URL (`s3://...`)."""
    return isinstance(value, str) and bool(value.strip()) and value != "???" and "://" not in value


def references(key: str, raw: str) -> tuple[list[str], bool]:
    """The config keys `raw` (the value at `key`) interpolates, and whether it names the job's directory."""
    keys, job_dir_named = [], False
    for token in _REFERENCE.findall(raw):
        token = token.strip()
        resolver, _, argument = token.partition(":")
        if argument and resolver == "hydra":
            job_dir_named |= argument.strip() in _JOB_DIR_KEYS
        elif argument and resolver == "oc.select":
            keys.append(_absolute(key, argument.split(",", 1)[0].strip()))
        elif not argument:
            if token.startswith("hydra."):
                job_dir_named |= token.removeprefix("hydra.") in _JOB_DIR_KEYS
            else:
                keys.append(_absolute(key, token))
    return keys, job_dir_named


def _absolute(key: str, reference: str) -> str:
    """`${.x}` at `a.b.c` -> `a.b.x`; `${..x}` -> `a.x`; `${x.y}` -> `x.y`."""
    if not reference.startswith("."):
        return reference
    dots = len(reference) - len(reference.lstrip("."))
    parent = key.split(".")[:-dots]
    return ".".join([*parent, reference[dots:]])


def dependencies(key: str, raw_value: Callable[[str], object]) -> tuple[set[str], bool]:
    """Every key the value at `key` interpolates, through interpolations of interpolations (values read raw,
    unresolved, through `raw_value`), and whether any of them names the job's directory: a value such as
    `${paths.output_dir}/tb` with `paths.output_dir: ${hydra:runtime.output_dir}` already follows the job."""
    found: set[str] = set()
    job_dir_named = False
    pending = [key]
    while pending:
        current = pending.pop()
        raw = raw_value(current)
        if not isinstance(raw, str):
            continue
        keys, named = references(current, raw)
        job_dir_named |= named
        for reference in keys:
            if reference not in found and reference != key:
                found.add(reference)
                pending.append(reference)
    return found, job_dir_named


def layout_below(key: str, raw: str) -> str:
    """Where the app's value puts things, as a path inside the job directory: a relative value keeps its
    whole layout (`./logs/runs/${now:%H}` -> `logs/runs/${now:%H}`, `..` parts dropped); an absolute one, or
    one that starts with an interpolation, keeps its last plain directory name and what follows it
    (`/tmp/exp/logs/${seed}` -> `logs/${seed}`); with no plain name, the key's own name."""
    for prefix in _LAUNCH_DIR_PREFIXES:  # the launch directory: a relative path
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
    parts = [p for p in raw.split("/") if p]
    if raw.startswith(("/", "~", "$")):
        plain = [i for i, p in enumerate(parts) if "${" not in p and p not in (".", "..", "~")]
        parts = parts[plain[-1] :] if plain else [key.rsplit(".", 1)[-1]]
    while parts and parts[0] in (".", ".."):
        parts.pop(0)
    return "/".join(parts)
