"""The job's W&B run log (`wandb/offline-run-*/run-*.wandb`, read directly by `wandb_transaction_log`, no server):
the newest run's summary values and history. Costs ~50 ms a run, so it is read only while the wanted metric
is missing. `wandb/` directories are found by the job directory's one walk, so a failed
attempt's run under attempts/<k>/ is never read."""

from __future__ import annotations

from collections.abc import Iterator

from metta_ab.sources.base import Found, Job, Wanted, curves_from_columns

LABEL = "wandb offline log"


def read(job: Job, wanted: Wanted) -> Iterator[Found]:
    from metta_ab.sources.wandb_transaction_log import WandbLogError, read_wandb_log, wandb_logs_in

    logs = wandb_logs_in(job.files.wandb_dirs)
    if not logs:
        return
    try:
        run = read_wandb_log(logs[-1])
    except (OSError, WandbLogError) as error:
        job.warnings.append(f"the W&B log {job.relative(logs[-1])} is not readable ({error})")
        return
    yield Found(run.summary, curves_from_columns(run.history, wanted), LABEL)
