"""`metta-ab status`: a snapshot of a sweep as text for people and as a dict for `--json`, both rendered from the
same Snapshot (records/snapshot.py), which is all they read."""

from __future__ import annotations

import os
import statistics
from dataclasses import asdict
from typing import Any

from metta_ab.records.ledger import COMPLETED, FAILED, RUNNING
from metta_ab.records.snapshot import LATER_LOOK, NOT_RUN, STATES, RunState, Snapshot
from metta_ab.report.table import Column, table
from metta_ab.text_format import fmt_duration

LONGEST_SHOWN = 3
ERRORS_SHOWN = 5


def counts(runs: list[RunState]) -> dict[str, int]:
    return {state: sum(r.state == state for r in runs) for state in STATES}


def groups(snapshot: Snapshot) -> dict[tuple[str, str | None], list[RunState]]:
    """The runs by (variant, task), in plan order."""
    found: dict[tuple[str, str | None], list[RunState]] = {}
    for run in snapshot.runs:
        found.setdefault((run.variant, run.task), []).append(run)
    return found


def running_longest(snapshot: Snapshot) -> list[RunState]:
    running = [r for r in snapshot.runs if r.state == RUNNING and r.started_at is not None]
    return sorted(running, key=lambda r: r.started_at or 0.0)[:LONGEST_SHOWN]


def last_errors(snapshot: Snapshot) -> list[RunState]:
    """The runs whose last attempt failed (failed, or pending a retry), the latest first."""
    failed = [r for r in snapshot.runs if r.error]
    return sorted(failed, key=lambda r: r.finished_at or 0.0, reverse=True)[:ERRORS_SHOWN]


def _sweep_line(snapshot: Snapshot) -> str:
    holder = snapshot.sweeper.holder
    if holder is None:
        return "no sweep has run here yet (a dry run's plan)" if not snapshot.in_progress else "sweep in progress"
    if snapshot.sweeper.running is None:
        where = f"its sweeper, {holder}, is on another host"
        return f"sweep in progress ({where})" if snapshot.in_progress else f"sweep ended ({where})"
    return f"sweep running ({holder})" if snapshot.in_progress else f"sweep ended (last run by {holder})"


def _eta_line(snapshot: Snapshot) -> str | None:
    if not snapshot.in_progress:
        return None
    durations = snapshot.durations()
    if not durations:
        return "ETA: not known until a run completes"
    eta = snapshot.eta()
    if eta is None:
        if snapshot.parallelism is None:
            return "ETA: not known (the launcher's parallelism is not in multirun.yaml and no run is running)"
        return None
    median = fmt_duration(statistics.median(durations))
    parallel = snapshot.parallelism
    assert parallel is not None
    scope = " for the look in progress" if snapshot.look is not None else ""
    return (
        f"ETA: about {fmt_duration(eta)} left{scope} (median run {median} over {len(durations)} completed; "
        f"{parallel.runs} at a time: {parallel.source})"
    )


def _look_line(snapshot: Snapshot) -> str | None:
    look = snapshot.look
    if look is None:
        return None
    if look.stopped:
        return f"Sequential design: stopped at look {look.number} of {look.of} ({look.stopped})"
    runs = ", ".join(f"{v} {n}" for v, n in look.runs_per_variant.items())
    return f"Sequential design: look {look.number} of {look.of} in progress (runs per variant it needs: {runs})"


def status_text(snapshot: Snapshot) -> str:
    shown = [s for s in STATES if s not in (LATER_LOOK, NOT_RUN) or counts(snapshot.runs)[s]]
    total = counts(snapshot.runs)
    lines = [
        f"Experiment {snapshot.experiment} ({snapshot.experiment_dir}): {_sweep_line(snapshot)}",
        f"  {len(snapshot.runs)} runs: " + ", ".join(f"{total[s]} {s}" for s in shown),
        "",
    ]
    by_group = groups(snapshot)
    suite = any(task is not None for _, task in by_group)
    columns = [Column("variant", 12, "<"), *([Column("task", 12, "<")] if suite else [])]
    columns += [Column(state, len(state)) for state in shown]
    rows = []
    for (variant, task), runs in by_group.items():
        number = counts(runs)
        rows.append([variant, *([task or "-"] if suite else []), *(str(number[s]) for s in shown)])
    lines += ["  " + row for row in table(columns, rows)]
    look = _look_line(snapshot)
    if look:
        lines += ["", look]
    longest = running_longest(snapshot)
    if longest:
        lines += ["", "Running longest:"]
        for run in longest:
            elapsed = fmt_duration(snapshot.taken_at - (run.started_at or snapshot.taken_at))
            lines.append(f"  {run.job_dir}  {elapsed} (attempt {run.attempt})")
    errors = last_errors(snapshot)
    if errors:
        failed = total[FAILED]
        lines += ["", f"Last errors ({failed} failed now; runs waiting for a retry show their last error too):"]
        for run in errors:
            note = "" if run.state == FAILED else f", {run.state}"
            lines.append(f"  {run.job_dir} (attempt {run.attempt}{note}): {run.error}")
            lines.append(f"    {os.path.join(snapshot.experiment_dir, run.job_dir)}")
    eta = _eta_line(snapshot)
    if eta:
        lines += ["", eta]
    if not snapshot.in_progress and total[COMPLETED] < len(snapshot.runs) - total[NOT_RUN]:
        lines += ["", "The sweep is not running: run the same command again to run what is left (completed runs "
                      "are not run again)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def status_dict(snapshot: Snapshot) -> dict[str, Any]:
    """`metta-ab status --json` (documented in the README)."""
    return {
        "experiment": snapshot.experiment,
        "experiment_dir": str(snapshot.experiment_dir),
        "in_progress": snapshot.in_progress,
        "sweeper": asdict(snapshot.sweeper),
        "counts": counts(snapshot.runs),
        "groups": [
            {"variant": variant, "task": task, "counts": counts(runs)}
            for (variant, task), runs in groups(snapshot).items()
        ],
        "look": asdict(snapshot.look) if snapshot.look else None,
        "eta_seconds": snapshot.eta() if snapshot.in_progress else None,
        "parallelism": asdict(snapshot.parallelism) if snapshot.parallelism else None,
        "running_longest": [r.job_dir for r in running_longest(snapshot)],
        "last_errors": [r.job_dir for r in last_errors(snapshot)],
        "runs": [asdict(r) for r in snapshot.runs],
        "taken_at": snapshot.taken_at,
    }
