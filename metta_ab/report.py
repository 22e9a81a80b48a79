"""What the user reads at the end: `summary.txt` per variant (runs, durations, returned values, errors)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from metta_ab.experiment import ABExperiment
from metta_ab.ledger import COMPLETED, FAILED, RunRecord, write_text_atomic

SUMMARY_TXT = "summary.txt"


def numeric_values(record: RunRecord) -> dict[str, float]:
    """The numbers a run returned: a dict's numeric entries, or a single number as `value`."""
    value = record.return_value
    if isinstance(value, bool):
        return {}
    if isinstance(value, int | float):
        return {"value": float(value)}
    if isinstance(value, dict):
        return {k: float(v) for k, v in value.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return {}


def _mean_sd(values: Sequence[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return f"{statistics.fmean(values):.4g} ± {statistics.stdev(values):.2g}"


def summary_text(experiment: ABExperiment, runs: Sequence[RunRecord], experiment_dir: Path) -> str:
    lines = [f"A/B experiment: {experiment.name}"]
    if experiment.description:
        lines.append(f"Description:    {experiment.description}")
    lines += [
        f"Date:           {experiment.date}",
        f"Directory:      {experiment_dir}",
        f"W&B:            project {experiment.wandb_project}, group {experiment.name}",
        "",
    ]
    by_variant = {v.name: [r for r in runs if r.variant == v.name] for v in experiment.variants}
    metric_names = list(dict.fromkeys(k for r in runs if r.status == COMPLETED for k in numeric_values(r)))
    header = f"{'variant':<20} {'completed':>9} {'failed':>6} {'mean duration':>13}"
    header += "".join(f"  {name:>18}" for name in metric_names)
    lines += ["Per variant (mean ± SD over completed runs):", header, "-" * len(header)]
    for name, records in by_variant.items():
        done = [r for r in records if r.status == COMPLETED]
        failed = [r for r in records if r.status == FAILED]
        durations = [r.duration for r in done if r.duration is not None]
        row = f"{name:<20} {len(done):>5}/{len(records):<3} {len(failed):>6} "
        row += f"{(f'{statistics.fmean(durations):.1f}s' if durations else '-'):>13}"
        for metric in metric_names:
            values = [numeric_values(r)[metric] for r in done if metric in numeric_values(r)]
            row += f"  {_mean_sd(values):>18}"
        lines.append(row)
    failures = [r for r in runs if r.status == FAILED]
    if failures:
        lines += ["", f"Failed runs ({len(failures)}):"]
        for record in failures:
            lines.append(f"  {record.job_dir} (after {record.attempts} attempt(s)): {record.error}")
    return "\n".join(lines) + "\n"


def write_summary(experiment: ABExperiment, runs: Sequence[RunRecord], experiment_dir: Path) -> str:
    text = summary_text(experiment, runs, experiment_dir)
    write_text_atomic(experiment_dir / SUMMARY_TXT, text)
    return text
