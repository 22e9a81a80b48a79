"""What a sweep refuses before anything launches, given the analysis settings in effect (the experiment's
with `ab.analysis.*` on top): designs whose decision could not be made as declared.

Kept free of numpy and scipy: the sweeper checks this at start, before any result exists.
"""

from __future__ import annotations

from metta_ab.definition.errors import ExperimentError
from metta_ab.definition.experiment import TASK_FIELD, ABExperiment, AnalysisSettings


def check_sequential(experiment: ABExperiment, settings: AnalysisSettings, where: str) -> None:
    """A sequential experiment decides on a metric declared before any run (with the t statistic, or the log-rank
    statistic for times to a threshold)."""
    if experiment.sequential is None:
        return
    resolved = experiment.analysis.over(settings).resolved()
    if resolved.metric is None:
        raise ExperimentError(
            f"{where}: a sequential experiment decides at every look, so its metric must be declared before any "
            "run: add .set_metric('<name>', direction='max') (or ab.analysis.metric=<name>)"
        )


def check_suite(experiment: ABExperiment, settings: AnalysisSettings, where: str) -> None:
    """A suite is judged on a declared metric, per task, with scores that can be normalized."""
    if not (experiment.tasks or TASK_FIELD in (settings.metric or experiment.analysis.metric or "")):
        return
    resolved = experiment.analysis.over(settings).resolved()
    if resolved.metric is None:
        raise ExperimentError(
            f"{where}: a suite of tasks is judged on a declared metric: add .set_metric('<name>') (with tasks "
            "trained separately) or a template such as .set_metric('eval/{task}/reward')"
        )
    if resolved.curve_summary == "threshold":
        raise ExperimentError(
            f"{where}: a suite's verdict averages each run's normalized scores across tasks, and times to a "
            "threshold cannot be normalized or averaged (a run that never reached it has only a lower bound, its "
            "censored last step), in a fixed or a sequential suite alike; use curve_summary 'final' or 'auc' for "
            "a suite, or compare the times of one task in an experiment of its own"
        )
