"""TorchRL's CSV scalars: one headerless `step,value` file per scalar, in a `scalars/` directory.

TorchRL's `CSVLogger(exp_name, log_dir)` writes `<log_dir>/<exp_name>/scalars/<name>.csv` (BenchMARL:
`<job dir>/<experiment>/<experiment>/scalars/<name>.csv`), one line `f"{step},{float(value)}"` per
`log_scalar` call, appended (a restarted run adds to the same file), flushed after each line. A `/` in a
name is a directory below `scalars/` (TorchRL joins the name into the path), so `eval/reward` is
`scalars/eval/reward.csv`, and is read back as `eval/reward`; BenchMARL replaces `/` by `_` before
logging (`eval_reward_episode_reward_mean`).

Every file is a metric with its curve: the first column is the step, the second the value; when a step
was written twice (a run resumed from a checkpoint), the later line counts; the final value is the value
at the last step. A file whose first line is not two numbers is not TorchRL's (and is not read); a line
that is not two numbers (the last one, cut short) is skipped. A name found in several `scalars/`
directories of one job is `<directory>/<name>`, the directory (`scalars/`'s parent) relative to the job.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from metta_ab.sources.base import Found, Job, Wanted, found_in_series
from metta_ab.text_format import fmt_list

SUFFIX = ".csv"
MAX_NAME_DEPTH = 4  # directories below scalars/ (a name with up to four `/`)


def read(job: Job, wanted: Wanted) -> Iterator[Found]:
    series: dict[Path, dict[str, tuple[list[float], list[float]]]] = {}
    labels: list[str] = []
    for directory in job.files.csv_scalar_dirs:
        found: dict[str, tuple[list[float], list[float]]] = {}
        for path, name in scalar_files(directory):
            try:
                points = read_scalar_file(path)
            except OSError as error:
                job.warnings.append(f"the TorchRL scalar file {job.relative(path)} is not readable ({error})")
                continue
            if points is not None:
                found[name] = points
        if found:
            series[directory.parent] = found
            labels.append(job.relative(directory))
    if labels:
        found = found_in_series(job, series, wanted, f"torchrl csv scalars ({fmt_list(labels, 1)})")
        if found is not None:
            yield found


def scalar_files(directory: Path) -> list[tuple[Path, str]]:
    """The `.csv` files below a `scalars/` directory with the scalar name each holds, in name order;
    symbolic links to directories are not followed, hidden directories not entered."""
    found = []
    for parent, subdirectories, files in os.walk(directory):
        relative = Path(parent).relative_to(directory)
        if len(relative.parts) >= MAX_NAME_DEPTH:
            subdirectories.clear()
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for file in sorted(files):
            if file.endswith(SUFFIX) and len(file) > len(SUFFIX):
                found.append((Path(parent) / file, (relative / file[: -len(SUFFIX)]).as_posix()))
    return sorted(found, key=lambda item: item[1])


def read_scalar_file(path: Path) -> tuple[list[float], list[float]] | None:
    """(steps, values) in the order written, or None when the file is not a TorchRL scalar file (its first
    line is not a point)."""
    steps: list[float] = []
    values: list[float] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        step, comma, value = line.partition(",")
        try:
            if not comma or "," in value:
                raise ValueError(line)
            point = float(step), float(value)
        except ValueError:
            if not steps and line.strip():
                return None  # a header, or some other table
            continue  # a line cut short (the writer died), or an empty one
        steps.append(point[0])
        values.append(point[1])
    return steps, values
