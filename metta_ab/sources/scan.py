"""The bounded walk of a directory tree that finds log files: breadth-first, capped by entries, not by depth.

Apps nest their logs as deep as they like (`logs/runs/<algo>/<env>/<date>/<run>/version_0/`, seven levels
below the job directory when the app writes relative to its working directory and Hydra changes into the
job directory), so depth is not a useful bound; the number of entries looked at is what costs. The walk
lists each directory in name order and goes level by level, so when the cap is reached the shallowest
files were seen (logs sit near the top; checkpoints and datasets are what grow wide). Symbolic links to
directories are never followed.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Files and directories looked at per walk (a job directory, or the directory a sweep was launched from).
#: docs/sources.md quotes this number.
MAX_SCANNED_ENTRIES = 20_000


@dataclass
class Listing:
    """What one walk saw: every file and every directory (entered or not), shallowest first."""

    files: list[os.DirEntry[str]] = field(default_factory=list)
    directories: list[os.DirEntry[str]] = field(default_factory=list)
    truncated: bool = False  # the cap was reached with entries left unseen


def list_tree(root: Path, enter: Callable[[os.DirEntry[str], int], bool], limit: int = MAX_SCANNED_ENTRIES) -> Listing:
    """Files and directories under `root`, breadth-first in name order, at most `limit` of them.
    `enter(directory, depth)` says whether to look inside a directory found at `depth` (1: in `root`)."""
    listing = Listing()
    pending: deque[tuple[str, int]] = deque([(os.fspath(root), 0)])  # str, not Path: Paths cost ~5x the walk
    budget = limit
    while pending:
        directory, depth = pending.popleft()
        try:
            with os.scandir(directory) as scanner:
                entries = list(itertools.islice(scanner, budget + 1))
        except OSError:
            continue
        if len(entries) > budget:
            listing.truncated = True
            entries = entries[:budget]
        budget -= len(entries)
        for entry in sorted(entries, key=lambda e: e.name):
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if not is_dir:
                listing.files.append(entry)
                continue
            listing.directories.append(entry)
            if enter(entry, depth + 1):
                pending.append((entry.path, depth + 1))
        if budget == 0 and pending:
            listing.truncated = True
            break
    return listing


def limit_warning(where: str) -> str:
    """What the analysis says when a walk reached the cap (`where`: "the job directory", say)."""
    return (
        f"the search for log files in {where} stopped after {MAX_SCANNED_ENTRIES:,} files and directories "
        "(level by level, so the shallowest were searched); a log written deeper may be missed: write logs "
        "nearer the top of the job directory, or declare a reader (.set_metric(name, reader=fn))"
    )
