"""What the exit status of a sweep (and of `metta-ab run`) means: 0 only with a verdict. The table of exit
statuses in docs/failures.md (and the README's summary of it) is this module."""

VERDICT = 0  # every comparison has a verdict
ERROR = 1  # nothing was launched: the experiment, a setting or the app's config is wrong (the first line says)
USAGE = 2  # the command line itself: `-m` forgotten, a wrong argument of metta-ab
RUNS_FAILED = 3  # runs still failed after their retries; the summary is written from the others
NO_VERDICT = 4  # the runs completed, but no verdict could be computed (e.g. no run reported the metric)
INTERRUPTED = 130  # Ctrl-C or SIGTERM; run the same command again to resume
OUTPUT_CLOSED = 141  # `metta-ab ... | head`: the reader closed the pipe (128 + SIGPIPE, as a shell tool ends)
