"""The verdict where the runs are: one W&B run (job_type `ab-summary`) in the runs' own project and group,
holding the verdict, the comparison table, every run's score (scores.csv's rows) and the figures.

Written only when the runs used W&B (their job directories hold W&B run logs) and wandb is installed; the
project, entity and group are read from a run's own log, since the app's `wandb.init` arguments win over
what the sweep injected, and the mode (offline or online) follows the runs'. wandb runs in a child process
with a time limit: its import and network retries never hold the sweeper, and its process state (one run
per process) never mixes with the jobs' under the basic launcher.
"""

from __future__ import annotations

import html
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metta_ab.analysis.results import ExperimentResults
from metta_ab.records.ledger import COMPLETED

JOB_TYPE = "ab-summary"
TIME_LIMIT = 300.0  # seconds for the child: wandb's import, an online init's retries, the upload
RUNS_LOOKED_AT = 5  # completed runs searched for a W&B log before concluding the runs did not use W&B


@dataclass(frozen=True)
class WandbTarget:
    """Where the runs logged: the summary run goes beside them."""

    project: str | None
    entity: str | None
    group: str | None
    offline: bool


def runs_wandb_target(results: ExperimentResults) -> WandbTarget | None:
    """The project, entity, group and mode of the first completed run's W&B log; None when no run has one."""
    from metta_ab.sources.wandb_transaction_log import WandbLogError, find_wandb_logs, read_wandb_log

    completed = [r for r in results.records if r.status == COMPLETED][:RUNS_LOOKED_AT]
    for record in completed:
        logs = find_wandb_logs(results.experiment_dir / record.job_dir)
        if not logs:
            continue
        try:
            run = read_wandb_log(logs[-1])
        except (OSError, WandbLogError):
            continue
        return WandbTarget(run.project, run.entity, run.group, offline=logs[-1].parent.name.startswith("offline-"))
    return None


def _payload(results: ExperimentResults, target: WandbTarget, report_dir: Path) -> dict[str, Any]:
    from metta_ab.report.scores_csv import score_table
    from metta_ab.report.summary import summary_dict, summary_text, verdict_sentences

    summary = summary_dict(results)
    comparisons = summary.get("comparisons") or []
    verdicts = {c["treatment"]: c["verdict"] for c in comparisons}
    values = {
        f"{c['treatment']}/{key}": c.get(key)
        for c in comparisons
        for key in ("difference", "p_value", "p_adjusted", "test")
        if c.get(key) is not None
    }
    header, rows = score_table(results)
    runs = [[_table_cell(cell) for cell in row] for row in rows]
    return {
        "init": {
            "project": target.project or results.experiment.wandb_project,
            "entity": target.entity,
            "group": target.group or results.experiment.name,
            "job_type": JOB_TYPE,
            "name": f"{results.experiment.name}-verdict",
            "tags": [*results.experiment.wandb_tags, JOB_TYPE],
            "notes": results.experiment.description,
            "dir": str(results.experiment_dir),
            "mode": "offline" if target.offline else None,
            "config": {k: summary.get(k) for k in ("experiment", "metric", "direction", "alpha", "ci_level", "paired")},
        },
        "summary": {
            "no_verdict": results.no_verdict,
            "verdict_text": "\n".join(verdict_sentences(results)),
            "verdict": verdicts,
            **{f"verdict/{treatment}": verdict for treatment, verdict in verdicts.items()},
            **values,
        },
        "text": summary_text(results),
        "comparisons": {
            "columns": ["treatment", "control", "verdict", "difference", "ci_low", "ci_high", "test", "p_value"],
            "rows": [
                [
                    c["treatment"],
                    c["control"],
                    c["verdict"],
                    c.get("difference"),
                    *(c.get("difference_ci") or [None, None]),
                    c.get("test"),
                    c.get("p_value"),
                ]
                for c in comparisons
            ],
        },
        "runs": {"columns": header, "rows": runs},
        "figures": sorted(str(p) for p in report_dir.glob("*.png")),
    }


def _table_cell(cell: Any) -> Any:
    """A W&B table keeps one type per column, with None for "no value": an empty or non-finite cell is None."""
    if cell == "" or (isinstance(cell, float) and not math.isfinite(cell)):
        return None
    return cell


def write_wandb_summary(results: ExperimentResults, target: WandbTarget, report_dir: Path) -> str:
    """Write the summary run beside the runs (`runs_wandb_target`); return the line to print: where it went,
    or why it was not written."""
    payload = json.dumps(_payload(results, target, report_dir), allow_nan=False, default=str)
    try:
        child = subprocess.run(
            [sys.executable, "-m", __name__],
            input=payload,
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT,
            env={**os.environ, "WANDB_SILENT": "true"},
        )
    except subprocess.TimeoutExpired:
        return f"[ab] W&B summary run not written: wandb did not finish within {TIME_LIMIT:.0f} s"
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["(no message)"])[-1]
        return f"[ab] W&B summary run not written: {last}"
    return child.stdout.strip() or "[ab] W&B summary run: wandb said nothing about where it went"


def _log_summary_run(payload: dict[str, Any]) -> str:
    """In the child process: one wandb run with the payload; returns the line the sweep prints."""
    try:
        import wandb
    except ImportError:
        raise SystemExit("wandb is not installed here (pip install 'metta-ab[wandb]')") from None
    init = {k: v for k, v in payload["init"].items() if v is not None}
    run = wandb.init(**init)
    try:
        run.log(
            {
                "comparisons": wandb.Table(**payload["comparisons"]),
                "runs": wandb.Table(**payload["runs"]),
                "summary_txt": wandb.Html(f"<pre>{html.escape(payload['text'])}</pre>"),
                **{f"figures/{Path(f).stem}": wandb.Image(f) for f in payload["figures"]},
            }
        )
        run.summary.update(payload["summary"])
        where = Path(run.dir).parent  # wandb/<offline-run-...>/files -> the run's directory
        mode = "offline" if payload["init"].get("mode") == "offline" else "online"
        sync = f"; upload it with `wandb sync {where}`" if mode == "offline" else f" ({run.url})"
        line = f"[ab] W&B summary run {run.name!r} ({JOB_TYPE}, {mode}) in project {run.project}, group {run.group}"
        line += sync
    finally:
        run.finish()
    return line


if __name__ == "__main__":
    print(_log_summary_run(json.loads(sys.stdin.read())))
