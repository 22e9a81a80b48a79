"""`metrics.json` in the job directory: the one format an app can write on purpose for this tool.

    {"final": {"reward": 0.81, ...},                                  # final values (optional)
     "curve": {"step": [0, 500, ...], "reward": [0.1, 0.3, ...], ...}} # optional; lists of equal length

Only the job directory's own file counts (not one under attempts/ or deeper down). A reader function may
return the same layout (`parse_layout`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from metta_ab.sources.base import Curve, Found, Job, Wanted, curves_from_columns

METRICS_FILE = "metrics.json"


def is_layout(data: Any) -> bool:
    """Whether `data` has the metrics.json layout (a mapping of only "final" and/or "curve" mappings)."""
    return (
        isinstance(data, Mapping)
        and bool(data)
        and set(data) <= {"final", "curve"}
        and all(isinstance(v, Mapping) for v in data.values())
    )


def parse_layout(data: Mapping[str, Any], wanted: Wanted) -> tuple[dict[str, Any], dict[str, Curve]]:
    final = data.get("final") if isinstance(data.get("final"), Mapping) else {}
    curve = data.get("curve") if isinstance(data.get("curve"), Mapping) else {}
    return dict(final), curves_from_columns(curve, wanted)


def read(job: Job, wanted: Wanted) -> Iterator[Found]:
    try:
        data = json.loads((job.path / METRICS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as error:
        job.warnings.append(f"{METRICS_FILE} is not readable JSON ({error})")
        return
    if isinstance(data, Mapping):
        yield Found(*parse_layout(data, wanted), METRICS_FILE)
