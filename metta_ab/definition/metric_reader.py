"""A reader function declared with `.set_metric("score", reader=read_score)`: how it is recorded and found again.

`read_score(job_dir: pathlib.Path)` turns one job directory into the metric's numbers (see
`metta_ab.sources.reader` for what it may return). It runs in the process that analyses the runs (the
sweeper after the jobs, or `metta-ab analyze`), never in the jobs, so it works with every launcher.

experiment_config.yaml records it as `<absolute path of the file that defines it>:<function name>`, so
the saved experiment reloads with it. That is only possible for a function defined at the top level of a
Python file: a lambda, a function defined inside another function or a class, or one from an interactive
session is refused when the experiment is built. On reload the file must still exist (checked when the
experiment is loaded); it is imported, and the function looked up, only when the reader is first used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metta_ab.definition.errors import ExperimentError

Reader = Callable[[Path], Any]


@dataclass
class MetricReader:
    path: str  # absolute path of the defining .py file
    function: str  # its module-level name there
    metric: str | None = None  # the metric a plain number returned by the reader is the value of
    _callable: Reader | None = field(default=None, repr=False, compare=False)

    @property
    def spec(self) -> str:
        return f"{self.path}:{self.function}"

    @property
    def label(self) -> str:
        return f"reader {self.function}"

    @classmethod
    def from_callable(cls, function: Any, metric: str | None) -> MetricReader:
        """The record of `function`, or an ExperimentError saying why it cannot be recorded."""
        if not callable(function):
            raise ExperimentError(
                f"set_metric(reader=...) must be a function taking the job directory, got {function!r}"
            )
        name = getattr(function, "__name__", None)
        qualname = getattr(function, "__qualname__", name)
        fix = (
            "define it with `def read_<metric>(job_dir): ...` at the top level of the experiment file (or a "
            "module beside it), so experiment_config.yaml can record it as <file>:<function>"
        )
        if name == "<lambda>":
            raise ExperimentError(f"set_metric(reader=...): a lambda cannot be recorded; {fix}")
        if not isinstance(name, str) or qualname != name:
            where = "inside a function or class" if isinstance(qualname, str) and "." in qualname else "not a function"
            raise ExperimentError(f"set_metric(reader={qualname or function!r}): it is {where}; {fix}")
        module = sys.modules.get(getattr(function, "__module__", None) or "")
        filename = getattr(module, "__file__", None)
        if not filename or not str(filename).endswith(".py") or getattr(module, name, None) is not function:
            raise ExperimentError(
                f"set_metric(reader={name}): it is not a module-level function of a Python file "
                f"(module {getattr(function, '__module__', None)!r}); {fix}"
            )
        return cls(str(Path(filename).resolve()), name, metric, function)

    @classmethod
    def from_spec(cls, spec: Any, metric: str | None, source: str) -> MetricReader:
        """Parse a recorded `<file>:<function>`; the file must exist (the function is looked up later)."""
        path, sep, function = str(spec).rpartition(":")
        if not isinstance(spec, str) or not sep or not path or not function.isidentifier():
            raise ExperimentError(
                f"{source}: analysis.reader must be '<path of a .py file>:<function name>', got {spec!r}"
            )
        if not Path(path).is_file():
            raise ExperimentError(
                f"{source}: the metric reader {function!r} was defined in {path}, which no longer exists; put the "
                "file back, or point analysis.reader at the file that defines it now"
            )
        return cls(path, function, metric)

    def load(self) -> Reader:
        """The function itself, importing its file the first time (ExperimentError if it is gone)."""
        if self._callable is None:
            from metta_ab.definition.errors import ExperimentLoadError
            from metta_ab.definition.python_file import import_file

            path = Path(self.path)
            if not path.is_file():
                raise ExperimentError(f"the metric reader {self.spec}: {path} does not exist (any more)")
            try:
                module = import_file(path)
            except ExperimentLoadError as error:
                raise ExperimentError(f"the metric reader {self.spec} cannot be loaded: {error}") from None
            function = getattr(module, self.function, None)
            if not callable(function):
                raise ExperimentError(
                    f"the metric reader {self.spec}: {path} defines no function {self.function!r} (any more); "
                    "restore it, or change analysis.reader in experiment_config.yaml"
                )
            self._callable = function
        return self._callable

    def __getstate__(self) -> dict[str, Any]:  # the function's module may not exist in another process
        return {**vars(self), "_callable": None}
