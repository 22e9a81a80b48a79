"""One ab_local job, in the fresh process the launcher started for it (the leader of its own process group).

    python -c "from hydra_plugins.ab_launcher._worker import main; main()" SHARED JOB WATCH_FD GRACE CPUS

SHARED holds what every job of a launch shares (sys.path, Hydra's singletons, OmegaConf's resolvers, the Hydra
context and the task function, pickled by value where they live in the app's `__main__`); JOB the job's composed
config and where its JobReturn goes. The job runs as under Hydra's other launchers (`run_job`: job dir, logging,
callbacks, `hydra.job.env_set`). WATCH_FD is the read end of a pipe only the launcher holds open: at its end of
file (the launcher's process is gone, even SIGKILLed) the job's whole group is ended (SIGTERM, SIGKILL GRACE
seconds later). CPUS (comma-separated, or empty) pins the process to those cores. Only the standard library
is imported before sys.path is the launcher's.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time

EXIT_GRACE = 30.0  # seconds the process may take to exit after its result is written (non-daemon threads)


def _end_group_when_launcher_dies(fd: int, grace: float) -> None:
    def watch() -> None:
        try:
            while os.read(fd, 1024):
                pass
        except OSError:
            pass
        os.killpg(0, signal.SIGTERM)  # the job's own handlers may save what they can
        time.sleep(grace)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="ab-local-launcher-watch", daemon=True).start()


def _exit_soon() -> None:
    """The result is written: a thread the job left running must not keep the process (and its slot) forever."""

    def end() -> None:
        time.sleep(EXIT_GRACE)
        os._exit(0)

    threading.Thread(target=end, name="ab-local-exit", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    shared_file, job_file, watch_fd, grace, cpus = argv if argv is not None else sys.argv[1:]
    if cpus:
        os.sched_setaffinity(0, [int(c) for c in cpus.split(",")])
    fd = int(watch_fd)
    os.set_inheritable(fd, False)  # the job's own children do not keep the watch open
    _end_group_when_launcher_dies(fd, float(grace))
    with open(shared_file, "rb") as shared:
        sys.path[:] = pickle.load(shared)
        from hydra_plugins.ab_launcher._job import run

        run(shared, job_file)
    _exit_soon()
