"""The settings every statistic of a verdict is computed with, as one value, and their defaults.

This is the one place the defaults live: the statistics are usable on their own (``stats.analyze(scores)``),
so they need them, and an experiment's ``AnalysisSettings`` fills what it does not say from ``DEFAULTS``
(``metta_ab.definition.experiment``). Standard library only: the experiment definition imports it, and Hydra
imports that at every app start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class StatsSettings:
    """How scores are compared: the design (``paired``: run i has seed i in every variant), which way is better
    (``direction`` "max" or "min"), the two-sided significance level ``alpha``, the level of every interval
    ``ci_level``, the bootstrap's resamples and the seed of every random draw (bootstrap, permutations), and the
    smallest difference that matters in metric units (``min_effect``: enables "equivalent"; None: not declared).
    Each function checks the fields it uses."""

    paired: bool = False
    direction: str = "max"
    alpha: float = 0.05
    ci_level: float = 0.95
    n_resamples: int = 10_000
    seed: int = 0
    min_effect: float | None = None

    def on_normalized_scale(self) -> StatsSettings:
        """The settings of a test on normalized scores (a suite's run means): higher is better whatever the
        metric's direction, and a ``min_effect`` in the metric's units does not apply."""
        return replace(self, direction="max", min_effect=None)


DEFAULTS = StatsSettings()


class WithSettings:
    """A result that keeps the ``settings`` it was computed with, and reads them by name (``analysis.alpha``)."""

    settings: StatsSettings

    @property
    def paired(self) -> bool:
        return self.settings.paired

    @property
    def direction(self) -> str:
        return self.settings.direction

    @property
    def alpha(self) -> float:
        return self.settings.alpha

    @property
    def ci_level(self) -> float:
        return self.settings.ci_level

    @property
    def n_resamples(self) -> int:
        return self.settings.n_resamples

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def min_effect(self) -> float | None:
        return self.settings.min_effect
