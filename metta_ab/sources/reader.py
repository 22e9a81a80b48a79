"""The reader function declared with `.set_metric(name, reader=fn)` (recorded by `metta_ab.definition.metric_reader`).

`fn(job_dir)` gets the job directory (an absolute `pathlib.Path`) and returns one of:

- a number: the declared metric's final value (None, NaN or inf: the run has no value);
- a dict of numbers: final values by metric name;
- the metrics.json layout, `{"final": {...}, "curve": {"step": [...], name: [...]}}`, for curves too;
- None: nothing known about this run (the other sources are still consulted).

What the reader reports is settled: no other source adds a value or a curve to those metrics. An
exception is not fatal to the analysis: the run is left out of that metric, and the summary's warnings
name the reader, the exception, the line of the reader's file it came from, and the runs it happened on.
A reader that cannot be found at all (its file or function gone) is an ExperimentError.
"""

from __future__ import annotations

import numbers
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

from metta_ab.sources.base import Found, Job, Wanted
from metta_ab.sources.metrics_file import is_layout, parse_layout


def read(job: Job, wanted: Wanted) -> Iterator[Found]:
    reader = job.reader
    if reader is None:
        return
    function = reader.load()
    try:
        result = function(job.path.absolute())
    except Exception as error:
        job.warnings.append(
            f"the metric reader {reader.function} ({reader.path}) raised {type(error).__name__}: {error}"
            f"{_where(error, reader.path)}; the run is left out"
        )
        if reader.metric is not None:  # settled as unknown (None): no other source stands in for the reader
            yield Found({reader.metric: None}, {}, reader.label)
        return
    if result is None:
        job.reader_returned_none = True
        return
    if is_layout(result):
        yield Found(*parse_layout(result, wanted), reader.label)
    elif isinstance(result, Mapping):
        yield Found({str(k): v for k, v in result.items()}, {}, reader.label)
    elif isinstance(result, numbers.Real) and not isinstance(result, bool):  # NaN or inf: a non-finite score
        if reader.metric is None:
            job.warnings.append(f"the metric reader {reader.function} returned a number but no metric is declared")
            return
        yield Found({reader.metric: result}, {}, reader.label)
    else:
        job.warnings.append(
            f"the metric reader {reader.function} ({reader.path}) returned a {type(result).__name__}; expected a "
            "number, a dict of numbers, the metrics.json layout or None"
        )


def _where(error: BaseException, path: str) -> str:
    """' (at read_score, line 12)': the innermost frame of the reader's own file."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve() == Path(path)]
    return f" (at {frames[-1].name}, line {frames[-1].lineno})" if frames else ""
