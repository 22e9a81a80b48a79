"""What the report says when runs completed but no number was found: that, the sources looked at, a
reader that returned None for every run, the log files the runs wrote outside their job directories, and
the fix. Not "failed" and not "not enough completed runs": the runs did complete."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from metta_ab.definition.metric_reader import MetricReader
from metta_ab.sources import SOURCES, RunMetrics
from metta_ab.sources.scan import MAX_SCANNED_ENTRIES
from metta_ab.sources.stray_logs import StrayLogs
from metta_ab.text_format import fmt_list

# The one place the fix for logs written outside the job directories is phrased (the report, the last line
# of the sweep and `metta-ab analyze` all say it from here).
LOG_DIR_FIX = (
    "Fix: point the app's log directory into the job directory, with the config key the app uses for it as a "
    "quoted override, e.g. 'log_root=${hydra:runtime.output_dir}/logs', or with hydra.job.chdir=True for an app "
    "that writes relative to its working directory; then run the sweep again with ab.resume=false (the runs "
    "are run again; the old directory is moved aside)."
)
REPORT_FIX = (
    "Fix: make the app report it where these sources look (return it from the task function, write "
    "metrics.json or its logs into the job directory), or declare a reader: .set_metric(name, reader=fn)."
)
SHOWN = 5  # stray files named; the rest are counted


def nothing_found(
    metric: str | None,
    completed: int,
    reader_returned_none: MetricReader | None,
    strays: StrayLogs,
    log_dir_fix: str = LOG_DIR_FIX,
) -> str:
    """The reason for `completed` runs none of which reported a number (`metric`'s, or with no metric declared,
    any); `reader_returned_none`: the declared reader, when it returned None for every one of them;
    `log_dir_fix`: what to do about the `strays`."""
    wanted = f"for {metric!r} nor for any other metric" if metric else "for any metric"
    text = (
        f"{completed} run(s) completed, but no number was found {wanted}. Looked in every job directory at: "
        + ", ".join(source.name for source in SOURCES)
        + "."
    )
    if reader_returned_none is not None:
        reader = reader_returned_none
        text += f" The reader {reader.function} ({reader.path}) returned None for every run."
    if strays.files:
        return f"{text} {stray_note(strays)} {log_dir_fix}"
    if reader_returned_none is not None:
        return f"{text} Fix the reader: it gets each job directory (an absolute pathlib.Path) and found nothing there."
    return f"{text} {REPORT_FIX}"


def stray_note(strays: StrayLogs) -> str:
    """'Log files were written while the runs ran, outside their job directories, under the directory the sweep
    was started from (/x): 6 files under logs/runs/ppo/: a/events.out.tfevents.1, ...'."""
    common = Path(os.path.commonpath(strays.files)) if strays.files else strays.launch_dir
    if len(strays.files) == 1:
        common = common.parent
    shown = ", ".join(path.relative_to(common).as_posix() for path in strays.files[:SHOWN])
    more = len(strays.files) - SHOWN
    shown += f" and {more} more" if more > 0 else ""
    under = _relative(common, strays.launch_dir)
    where = "" if under == "." else f" under {under}/"
    cut = f" (the search stopped after {MAX_SCANNED_ENTRIES:,} files and directories)" if strays.truncated else ""
    return (
        "Log files were written while the runs ran, outside their job directories, under the directory the "
        f"sweep was started from ({strays.launch_dir}){cut}: {len(strays.files)} file(s){where}: {shown}."
    )


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


SWEEP_METRIC_FIX = (
    "Fix the name in .set_metric({name!r}, ...) (or set ab.analysis.metric={name}) and run the same command again: "
    "completed runs are analyzed, not run again."
)
ANALYZE_METRIC_FIX = "Fix the name: --metric {name} (with its --direction)."


def metric_not_found(
    metric: str,
    metrics: dict[str, RunMetrics],
    shown: int = 12,
    subject: str = "No run reported",
    fix: str = SWEEP_METRIC_FIX,
) -> str:
    """The warning for a metric no run reported: the names the runs did report, closest first, and `fix` with
    the closest as {name}. `subject` starts the sentence ("a_run_1 completed without reporting", say)."""
    names = list(dict.fromkeys(name for found in metrics.values() for name in found.names))
    if not names:
        return (
            f"{subject} {metric!r}, nor any other number. Looked at "
            + ", ".join(source.name for source in SOURCES)
            + "; for anything else, declare a reader: .set_metric(name, reader=fn)."
        )
    closeness = {name: difflib.SequenceMatcher(None, metric.lower(), name.lower()).ratio() for name in names}
    names.sort(key=lambda name: -closeness[name])
    listed = fmt_list([repr(n) for n in names], shown)
    return (
        f"{subject} {metric!r}; {'it' if len(metrics) == 1 else 'the runs'} reported {listed} (closest first). "
        + fix.format(name=names[0])
    )
