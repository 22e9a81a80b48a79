"""Log files a sweep's runs wrote outside their job directories: where the numbers went when none was found.

An app that keeps its own log root relative to the directory the command starts in (`log_root:
logs/runs`, or a bare `SummaryWriter()` writing `runs/<date>_<host>/`) writes there, not into the job
directory, under Hydra's default `hydra.job.chdir=False`; every run completes and no source finds a number.
So when that happens, the analysis looks under the directory the sweep was launched from for the files the
sources read (TensorBoard event files, `*.csv`, `progress.txt`) that were modified while the runs ran, to
say where the numbers went. The job directories are not searched (their files were), nor hidden
directories; the walk is capped like a job directory's (`scan.MAX_SCANNED_ENTRIES`).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from metta_ab.sources.base import CSV_SUFFIX, PROGRESS_TABLES, TFEVENTS_PREFIX, is_hidden_or_skipped
from metta_ab.sources.scan import list_tree

# Modification times are compared with the runs' own clock readings: file systems keep them to a second or
# two (FAT, some network file systems), and a run's host clock may differ a little from the file server's.
CLOCK_SLACK_SECONDS = 2.0


@dataclass(frozen=True)
class StrayLogs:
    launch_dir: Path
    files: list[Path]  # absolute, shallowest first
    truncated: bool  # the walk reached its cap: there may be more


def is_log_file(name: str) -> bool:
    """Whether a file of this name is one a source reads (wherever it sits)."""
    return name.startswith(TFEVENTS_PREFIX) or name in PROGRESS_TABLES or name.endswith(CSV_SUFFIX)


def stray_log_files(
    launch_dir: Path, job_dirs: Collection[Path], written_from: float, written_until: float
) -> StrayLogs:
    """The log files under `launch_dir`, outside `job_dirs`, modified between the two times (seconds since
    the epoch, widened by CLOCK_SLACK_SECONDS)."""
    skipped = {os.path.abspath(job_dir) for job_dir in job_dirs}

    def enter(directory: os.DirEntry[str], depth: int) -> bool:
        return not is_hidden_or_skipped(directory) and os.path.abspath(directory.path) not in skipped

    listing = list_tree(launch_dir, enter)
    earliest, latest = written_from - CLOCK_SLACK_SECONDS, written_until + CLOCK_SLACK_SECONDS
    files = []
    for file in listing.files:
        if not is_log_file(file.name):
            continue
        try:
            modified = file.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if earliest <= modified <= latest:
            files.append(Path(file.path))
    return StrayLogs(Path(launch_dir), files, listing.truncated)
