"""The errors of an experiment definition: one message that says what is wrong, where, and how to fix it."""


class ExperimentError(ValueError):
    """An experiment definition that cannot run; the message says what, where and how to fix it."""


class ExperimentLoadError(ExperimentError):
    """The experiment file could not give an experiment; the message names the file and the fix."""
