"""Which process a record's `running` belongs to, in a way pid reuse cannot fool: a pid plus the
process's start time (Linux: /proc/<pid>/stat, field 22, in clock ticks since boot)."""

from __future__ import annotations

import os


def start_time(pid: int) -> int | None:
    """The process's start time, or None when it does not exist (or /proc is not there)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    fields = text[text.rindex(b")") + 2 :].split()
    return int(fields[19])


def is_alive(pid: int, started: int | None) -> bool:
    """Whether process `pid` still runs and is the one that started at `started` (when known)."""
    now = start_time(pid)
    if now is not None:
        return started is None or now == started
    if os.path.isdir("/proc"):
        return False
    try:
        os.kill(pid, 0)  # no /proc (macOS): the pid alone
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def started_by(pid: int, when: float) -> bool | None:
    """Whether process `pid` runs and was started by `when` (seconds since the epoch), so that it can be the one
    that wrote a file then and not a later process with the same pid; None where /proc cannot tell."""
    started = start_time(pid)
    if started is None:
        return None if not os.path.isdir("/proc") else False
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            boot = next(float(line.split()[1]) for line in stat if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None
    return boot + started / os.sysconf("SC_CLK_TCK") <= when + 1.0  # btime has whole seconds
