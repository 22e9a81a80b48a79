"""Load an experiment from a `.py` file (or a saved `experiment_config.yaml`), with errors naming the file.

In a `.py` file the candidates are, in this order: a module-level `experiment`, else exactly one
`create_*` function, else exactly one `ABExperiment` subclass constructible without arguments. Only
what the file itself defines counts; `path.py:NAME` picks one explicitly.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

from metta_ab.atomic_files import write_text_atomic
from metta_ab.definition.errors import ExperimentError, ExperimentLoadError
from metta_ab.definition.experiment import ABExperiment
from metta_ab.definition.python_file import at_line, import_file, user_traceback


def save_experiment(experiment: ABExperiment, path: Path) -> None:
    """Write `experiment` as YAML that `load_experiment` reads back into an equal experiment."""
    import yaml

    text = yaml.safe_dump(experiment.to_dict(), sort_keys=False, allow_unicode=True)
    write_text_atomic(path, text)


def load_experiment(spec: str | Path) -> ABExperiment:
    """Load and validate the experiment at `spec` (`file.py`, `file.py:NAME`, or `file.yaml`)."""
    path, name = _split_spec(str(spec))
    if not path.is_file():
        hint = " (it is a directory)" if path.is_dir() else ""
        raise ExperimentLoadError(
            f"experiment file {str(path)!r} not found{hint}; paths are relative to the directory the command "
            f"was started in ({Path.cwd()})"
        )
    if path.suffix in (".yaml", ".yml"):
        return _load_yaml(path)
    if path.suffix != ".py":
        raise ExperimentLoadError(f"experiment file {str(path)!r}: expected a .py or .yaml file")
    module = import_file(path)
    experiment = _pick(module, path, name)
    try:
        return experiment.validate()
    except ExperimentError as error:
        raise ExperimentLoadError(f"{path}: {error}") from None


def _split_spec(spec: str) -> tuple[Path, str | None]:
    head, sep, tail = spec.rpartition(":")
    if sep and head and tail.isidentifier():
        return Path(head), tail
    return Path(spec), None


def _load_yaml(path: Path) -> ABExperiment:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ExperimentLoadError(f"experiment file {str(path)!r} is not readable YAML: {error}") from None
    if isinstance(data, dict) and "experiment" in data and "name" not in data:
        data = data["experiment"]
    try:
        return ABExperiment.from_dict(data, source=str(path))
    except ExperimentError as error:
        message = str(error)
        raise ExperimentLoadError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def _pick(module: ModuleType, path: Path, name: str | None) -> ABExperiment:
    if name is not None:
        if not hasattr(module, name):
            raise ExperimentLoadError(f"experiment file {str(path)!r} defines no {name!r}")
        return _materialize(getattr(module, name), name, path)
    own = {k: v for k, v in vars(module).items() if not k.startswith("_")}
    if isinstance(own.get("experiment"), ABExperiment):
        return own["experiment"]
    factories = [
        k
        for k, v in own.items()
        if k.startswith("create_") and inspect.isfunction(v) and v.__module__ == module.__name__
    ]
    classes = [
        k
        for k, v in own.items()
        if inspect.isclass(v)
        and issubclass(v, ABExperiment)
        and v is not ABExperiment
        and v.__module__ == module.__name__
        and _constructible_without_arguments(v)
    ]
    for kind, found in (("create_* functions", factories), ("ABExperiment subclasses", classes)):
        if len(found) == 1:
            return _materialize(own[found[0]], found[0], path)
        if len(found) > 1:
            raise ExperimentLoadError(
                f"experiment file {str(path)!r} has several {kind} ({', '.join(found)}); pick one with "
                f"'{path}:{found[0]}'"
            )
    raise ExperimentLoadError(
        f"experiment file {str(path)!r} defines no experiment: add a module-level `experiment = ...build()`, "
        "one `create_<name>()` function returning an ABExperiment, or one ABExperiment subclass"
    )


def _constructible_without_arguments(cls: type) -> bool:
    try:
        inspect.signature(cls).bind()
    except TypeError:
        return False
    return True


def _materialize(candidate: Any, name: str, path: Path) -> ABExperiment:
    if isinstance(candidate, ABExperiment):
        return candidate
    if not callable(candidate):
        raise ExperimentLoadError(f"{path}:{name} is a {type(candidate).__name__}, not an experiment")
    try:
        result = candidate()
    except ExperimentError as error:
        raise ExperimentLoadError(f"{path}:{name}(): {error}") from None
    except SystemExit as error:
        raise ExperimentLoadError(
            f"{path}:{name}() exited with code {error.code!r}{at_line(error, path)}; it must return the experiment"
        ) from None
    except Exception as error:
        raise ExperimentLoadError(
            f"{path}:{name}() raised {type(error).__name__}: {error}\n" + user_traceback(error, path)
        ) from None
    if not isinstance(result, ABExperiment):
        raise ExperimentLoadError(
            f"{path}:{name}() returned {type(result).__name__}, not an ABExperiment (did you forget .build()?)"
        )
    return result
