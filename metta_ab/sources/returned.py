"""The value the task function returned (recorded in the job's ab_status.json): free, always consulted."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from metta_ab.sources.base import Found, Job, Wanted, as_number

LABEL = "return value"


def returned_values(return_value: Any) -> dict[str, float]:
    """A task's return value as metrics: a dict's numeric entries, or a single number as `value`."""
    if isinstance(return_value, Mapping):
        return {str(k): float(v) for k, v in return_value.items() if as_number(v) is not None}
    number = as_number(return_value)
    return {"value": number} if number is not None else {}


def read(job: Job, wanted: Wanted) -> Iterator[Found]:
    yield Found(returned_values(job.return_value), {}, LABEL)
