"""The cost estimate (records/cost.py) as the lines `metta-ab plan` and `metta-ab power` print, and as JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from metta_ab.records.cost import CostEstimate
from metta_ab.text_format import fmt_num, fmt_span


def cost_lines(cost: CostEstimate) -> list[str]:
    runs = f"{cost.runs} runs"
    if cost.maximum:
        runs = f"at most {runs} (the sequential design's maximum; its looks may stop it earlier)"
    parallel = cost.parallelism
    at = "one at a time" if parallel.runs == 1 else f"at {parallel.runs} in parallel"
    looks = ", the looks one after another" if cost.maximum else ""
    lines = [
        f"Cost (from the pilot's {cost.pilot_runs} completed runs in {cost.pilot}: median {fmt_span(cost.median)}, "
        f"p90 {fmt_span(cost.p90)} per run):",
        f"  {runs} = {fmt_num(cost.run_seconds / 3600, 2)} h of run time",
        f"  ~ {fmt_span(cost.wall_seconds)} wall {at}{looks} ({parallel.source})",
    ]
    if cost.gpus_per_job:
        gpus = "GPU" if cost.gpus_per_job == 1 else "GPUs"
        lines.append(f"  {fmt_num(cost.gpu_hours, 2)} GPU-hours at {fmt_num(cost.gpus_per_job)} {gpus} per job")
    if cost.task_medians:
        medians = ", ".join(f"{task} {fmt_span(seconds)}" for task, seconds in cost.task_medians.items())
        lines.append(f"  per task, the pilot's median on it: {medians}")
    if cost.tasks_without_pilot:
        lines.append(
            f"  the pilot has no completed run on task {', '.join(cost.tasks_without_pilot)}: costed at the "
            "overall median"
        )
    return lines


def cost_dict(cost: CostEstimate) -> dict[str, Any]:
    """The estimate in `plan --json` and its fields (seconds; documented in docs/running.md)."""
    return {**asdict(cost), "tasks_without_pilot": list(cost.tasks_without_pilot), "gpu_hours": cost.gpu_hours}
