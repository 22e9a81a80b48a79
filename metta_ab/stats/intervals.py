"""The confidence interval of the difference that agrees with the test that decided.

A t-test's p comes with the t interval; a permutation p with the interval that inverts that same test: the
shifts delta for which (treatment - delta) vs control is not rejected. Either way the interval at
significance alpha (level 1 - alpha) excludes 0 exactly when p < alpha, so a verdict never sits beside a CI
that contradicts it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from scipy import stats as sps

from metta_ab.stats._common import _ci
from metta_ab.stats.significance import WelchPermutationTest

#: Shifts are located to this share of the standard error (far below the 3 digits printed).
_RELATIVE_TOLERANCE = 1e-7
#: Doublings of the search for a rejected shift before an end counts as unbounded.
_MAX_DOUBLINGS = 60


class DifferenceInterval(Protocol):
    """An interval of the difference at any significance (level 1 - significance), and how it is computed
    (``difference_ci_method``)."""

    method: str

    def at(self, significance: float) -> tuple[float, float]: ...


@dataclass(frozen=True)
class TInterval:
    """difference +- t quantile x standard error: Welch's ("welch_t") or the paired t-test's ("paired_t")."""

    method: str
    difference: float
    standard_error: float
    df: float

    def at(self, significance: float) -> tuple[float, float]:
        half = float(sps.t.ppf(1.0 - significance / 2.0, self.df)) * self.standard_error
        return _ci(self.difference - half, self.difference + half)


@dataclass(frozen=True)
class ConstantShiftInterval:
    """The inversion of the permutation test of the mean difference when every score of a variant (every
    paired difference) is the same: any shift but the observed difference leaves two constant groups
    apart, whose p is the smallest the test can give (``min_p``). So the interval is that difference alone
    when ``min_p`` rejects at the significance, and every shift when it cannot."""

    difference: float
    min_p: float
    method: str = "permutation_inversion"

    def at(self, significance: float) -> tuple[float, float]:
        if self.min_p < significance:
            return (self.difference, self.difference)
        return (-math.inf, math.inf)


@dataclass(frozen=True)
class PermutationInversion:
    """The shifts delta that the studentized permutation test does not reject (p >= significance), with the
    same relabellings for every delta (``WelchPermutationTest``).

    Each end is found by bisection between a shift the test accepts and one it rejects. The difference
    itself (t = 0) is the accepted anchor, and 0 is a bracket of the search whenever it lies beyond the
    anchor: the end then stays on the side of 0 that the test's own p at 0 says, so the interval excludes 0
    exactly when p(0) < significance, even where p(delta) is not monotone (a studentized statistic's need
    not be). An end is unbounded when no shift is rejected (the relabellings cannot reach the significance).
    """

    test: WelchPermutationTest
    method: str = "permutation_inversion"

    def at(self, significance: float) -> tuple[float, float]:
        def accepted(delta: float) -> bool:
            return self.test.p_value(delta) >= significance

        zero_accepted = accepted(0.0)
        anchor = self.test.difference if accepted(self.test.difference) else 0.0 if zero_accepted else None
        if anchor is None:  # no shift accepted: there is no interval to print
            return (math.nan, math.nan)
        low = self._end(anchor, zero_accepted, -1.0, significance, accepted)
        high = self._end(anchor, zero_accepted, 1.0, significance, accepted)
        return (low, high)

    def _end(
        self, anchor: float, zero_accepted: bool, side: float, significance: float, accepted: Callable[[float], bool]
    ) -> float:
        """The end on ``side`` (-1 low, +1 high): the outermost accepted shift of a bisection bracket."""
        inner, outer = anchor, None
        if side * (0.0 - anchor) > 0:  # 0 lies beyond the anchor on this side: it brackets the end
            if zero_accepted:
                inner = 0.0
            else:
                outer = 0.0
        step = 4.0 * self.test.standard_error
        if outer is None:
            if self.test.min_p >= significance:
                return side * math.inf
            for _ in range(_MAX_DOUBLINGS):
                if not accepted(inner + side * step):
                    outer = inner + side * step
                    break
                step *= 2.0
            else:
                return side * math.inf
        tolerance = _RELATIVE_TOLERANCE * self.test.standard_error
        while abs(outer - inner) > tolerance:
            middle = 0.5 * (inner + outer)
            if middle in (inner, outer):
                break
            if accepted(middle):
                inner = middle
            else:
                outer = middle
        return inner


def ci_significance(ci_level: float, alpha: float, p_value: float, p_adjusted: float, family_size: int) -> float:
    """The significance (1 - level) of the CI printed beside a comparison's p: 1 - ``ci_level``, read as
    ``alpha`` when the two are meant to match (1 - 0.95 is 0.050000000000000044 in floating point, and a
    p of exactly 0.05 must not be rejected by the CI and kept by the verdict).

    Beside a Holm-adjusted p it is that significance times p / p_adjusted: the test's own threshold scaled as
    Holm scaled the p, so that the interval excludes 0 exactly when the adjusted p is below the
    significance, and agrees with Holm's step-down decision, which Bonferroni's alpha / k intervals do not
    (they can contain 0 beside a Holm rejection). As Holm's adjusted p lies between p and k p, the level
    lies between the unadjusted one and Bonferroni's; with p = 0 (underflow) it is Bonferroni's. The scaled
    threshold is kept on the side of p that the adjusted decision says, so that float rounding of the
    product cannot part the two.
    """
    base = alpha if math.isclose(1.0 - ci_level, alpha, rel_tol=1e-9) else 1.0 - ci_level
    if family_size < 2 or not math.isfinite(p_value) or not math.isfinite(p_adjusted):
        return base
    if p_adjusted == 0:
        return base / family_size
    scaled = base * p_value / p_adjusted
    return max(scaled, math.nextafter(p_value, 1.0)) if p_adjusted < base else min(scaled, p_value)
