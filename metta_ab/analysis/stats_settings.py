"""The one place an experiment's analysis settings become the statistics' settings (`stats.StatsSettings`)."""

from __future__ import annotations

from metta_ab.definition.experiment import AnalysisSettings
from metta_ab.stats.settings import StatsSettings


def stats_settings(settings: AnalysisSettings, *, paired: bool) -> StatsSettings:
    """The statistics' settings of resolved analysis `settings` (see `AnalysisSettings.resolved`) for runs whose
    seeds are `paired` (run i has one seed in every variant: `plan.seeds_are_paired`)."""
    assert settings.direction is not None and settings.alpha is not None and settings.ci_level is not None
    assert settings.n_resamples is not None and settings.seed is not None, "resolve the settings first"
    return StatsSettings(
        paired=paired,
        direction=settings.direction,
        alpha=settings.alpha,
        ci_level=settings.ci_level,
        n_resamples=settings.n_resamples,
        seed=settings.seed,
        min_effect=settings.min_effect,
    )
