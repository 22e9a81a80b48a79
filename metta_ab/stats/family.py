"""The whole analysis: every variant described, each treatment compared with the control, Holm across them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from metta_ab.stats._common import _direction, _find_comparison, _settings_dict
from metta_ab.stats.compare import Comparison, compare
from metta_ab.stats.describe import VariantStats, describe
from metta_ab.stats.settings import DEFAULTS, StatsSettings, WithSettings
from metta_ab.stats.significance import holm
from metta_ab.stats.survival import censored_by_variant_ok, compare_times, describe_times


@dataclass(frozen=True)
class Analysis(WithSettings):
    """Descriptions of all variants and comparisons of each treatment with the control [Patterson24], computed
    with ``settings``."""

    control: str
    settings: StatsSettings
    variants: Mapping[str, VariantStats]
    comparisons: tuple[Comparison, ...]
    warnings: tuple[str, ...] = field(default=())

    def comparison(self, treatment: str) -> Comparison:
        return _find_comparison(self.comparisons, treatment)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": _settings_dict(self, min_effect=self.min_effect),
            "variants": {name: {"name": name, **v.to_dict()} for name, v in self.variants.items()},
            "comparisons": [c.to_dict() for c in self.comparisons],
            "warnings": list(self.warnings),
        }


def analyze(
    values_by_variant: Mapping[str, ArrayLike],
    settings: StatsSettings = DEFAULTS,
    *,
    control: str | None = None,
    censored: Mapping[str, ArrayLike] | None = None,
) -> Analysis:
    """Full A/B analysis: ``describe`` every variant, ``compare`` each one with the control [Patterson24], all
    with ``settings``.

    ``values_by_variant`` maps a variant name to its per-run scores in run order (NaN = failed run; for a
    paired design index i must be seed i in every variant). ``control`` defaults to the first variant.
    With 2+ comparisons the p-values (and TOST p-values) are Holm-adjusted and verdicts use the adjusted
    p; with 2+ treatments a winner's-curse warning recommends a confirmation run with fresh seeds.
    Every description and comparison uses ``settings.seed``, so each is reproducible on its own.

    ``censored`` (variant -> one flag per run) makes the values times to a threshold, censored where the
    flag is set (the run ended at that step without reaching it): then fewer steps are better whatever
    ``settings.direction`` says, each variant gets a Kaplan-Meier median, and the log-rank test decides
    (``metta_ab.stats.survival``); ``settings.min_effect`` does not apply.
    """
    if not values_by_variant:
        raise ValueError("no variants to analyze")
    names = list(values_by_variant)
    control = names[0] if control is None else control
    if control not in values_by_variant:
        raise ValueError(f"control {control!r} is not one of the variants {names}")
    settings = replace(settings, direction=_direction(settings.direction))
    if censored is not None:
        return _analyze_times(values_by_variant, censored, control, settings)
    variants = {name: describe(values, settings) for name, values in values_by_variant.items()}
    comparisons = [
        compare(
            values_by_variant[name],
            values_by_variant[control],
            settings,
            treatment_name=name,
            control_name=control,
            family_size=len(names) - 1,
        )
        for name in names
        if name != control
    ]
    comparisons, notes = _holm_family(comparisons, control)
    return Analysis(
        control=control,
        settings=settings,
        variants=variants,
        comparisons=tuple(comparisons),
        warnings=tuple(notes),
    )


def holm_adjust(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """One Holm family over these comparisons (a suite's tasks x treatments, say): each gets its adjusted p
    (and TOST p) and the verdict decided from it."""
    p_adj = holm([c.p_value for c in comparisons])
    eq_adj = holm([c.equivalence_p for c in comparisons])
    return [
        c.redecide(float(p), float(e), family_size=len(comparisons))
        for c, p, e in zip(comparisons, p_adj, eq_adj, strict=True)
    ]


def holm_across(analyses: Sequence[Analysis]) -> list[Analysis]:
    """The analyses with every comparison of them adjusted as one Holm family (a suite's tasks, the secondary
    metrics): each analysis adjusted only within itself is not enough when several are read together."""
    flat = [c for a in analyses for c in a.comparisons]
    if len(flat) < 2:
        return list(analyses)
    adjusted = iter(holm_adjust(flat))
    return [replace(a, comparisons=tuple(next(adjusted) for _ in a.comparisons)) for a in analyses]


def _holm_family(comparisons: list[Comparison], control: str) -> tuple[list[Comparison], list[str]]:
    """With 2+ comparisons: Holm-adjusted p-values (and TOST p-values), verdicts re-decided, winner's curse."""
    if len(comparisons) < 2:
        return comparisons, []
    adjusted = holm_adjust(comparisons)
    note = (
        f"{len(comparisons)} treatments were compared with {control}: p-values are Holm-adjusted, and the "
        "best-looking variant's gain is overstated (winner's curse). Confirm it with a new run with fresh "
        "seeds before adopting it."
    )
    return adjusted, [note]


def _analyze_times(
    values_by_variant: Mapping[str, ArrayLike],
    censored: Mapping[str, ArrayLike],
    control: str,
    settings: StatsSettings,
) -> Analysis:
    """``analyze`` for censored times to a threshold: Kaplan-Meier per variant, log-rank per comparison."""
    censored_by_variant_ok(censored, values_by_variant)
    flags = {name: censored.get(name, np.zeros(np.size(v), bool)) for name, v in values_by_variant.items()}
    variants = {name: describe_times(values, flags[name], settings) for name, values in values_by_variant.items()}
    comparisons = [
        compare_times(
            values_by_variant[name],
            flags[name],
            values_by_variant[control],
            flags[control],
            settings,
            treatment_name=name,
            control_name=control,
        )
        for name in values_by_variant
        if name != control
    ]
    comparisons, notes = _holm_family(comparisons, control)
    return Analysis(
        control=control,
        settings=replace(settings, direction="min", min_effect=None),
        variants=variants,
        comparisons=tuple(comparisons),
        warnings=tuple(notes),
    )
