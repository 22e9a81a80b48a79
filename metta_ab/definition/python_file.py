"""Import a user's Python file (an experiment, a metric reader's module) with errors that point at their line."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from metta_ab.definition.errors import ExperimentError, ExperimentLoadError


def import_file(path: Path) -> ModuleType:
    """Import a Python file as a module of its own (the experiment file, or the file of a metric reader)."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"metta_ab_experiment_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ExperimentLoadError(f"experiment file {str(path)!r} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # let an experiment import helpers that sit beside it
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        sys.modules.pop(module_name, None)
        raise ExperimentLoadError(
            f"experiment file {str(path)!r} has a syntax error at line {error.lineno}: {error.msg}"
        ) from None
    except SystemExit as error:
        sys.modules.pop(module_name, None)
        where = f"experiment file {str(path)!r} exited with code {error.code!r} while being imported"
        raise ExperimentLoadError(
            f"{where}{at_line(error, path)}; an experiment file only defines the experiment: put code that runs "
            "it under `if __name__ == '__main__':`"
        ) from None
    except ExperimentError as error:  # a `.build()` at module level: the builder's message says it all
        sys.modules.pop(module_name, None)
        raise ExperimentLoadError(f"{path}{at_line(error, path)}: {error}") from None
    except Exception as error:
        sys.modules.pop(module_name, None)
        raise ExperimentLoadError(
            f"experiment file {str(path)!r} raised {type(error).__name__} while being imported: {error}\n"
            + user_traceback(error, path)
        ) from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def user_frames(error: BaseException, path: Path) -> list[traceback.FrameSummary]:
    return [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).name == path.name]


def user_traceback(error: BaseException, path: Path) -> str:
    """Only the frames of the user's file, so the error points at their line, not at ours."""
    return "".join(traceback.format_list(user_frames(error, path))).rstrip()


def at_line(error: BaseException, path: Path) -> str:
    """` at line N`: the last line of the user's file the error passed through."""
    frames = user_frames(error, path)
    return f" at line {frames[-1].lineno}" if frames else ""
