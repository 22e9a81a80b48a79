"""The confidence interval of the difference that agrees with the test that decided.

A t-test's p comes with the t interval; a permutation p with the interval that inverts that same test: the
shifts delta for which (treatment - delta) vs control is not rejected. Either way the interval at level
1 - alpha excludes 0 exactly when p < alpha, so a verdict never sits beside a CI that contradicts it.
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
    """An interval of the difference at any level, and how it is computed (``difference_ci_method``)."""

    method: str

    def at(self, level: float) -> tuple[float, float]: ...


@dataclass(frozen=True)
class TInterval:
    """difference +- t quantile x standard error: Welch's ("welch_t") or the paired t-test's ("paired_t")."""

    method: str
    difference: float
    standard_error: float
    df: float

    def at(self, level: float) -> tuple[float, float]:
        half = float(sps.t.ppf(0.5 + level / 2.0, self.df)) * self.standard_error
        return _ci(self.difference - half, self.difference + half)


@dataclass(frozen=True)
class ConstantShiftInterval:
    """The inversion of the permutation test of the mean difference when every score of a variant (every
    paired difference) is the same: any shift but the observed difference leaves two constant groups
    apart, whose p is the smallest the test can give (``min_p``). So the interval is that difference alone
    when ``min_p`` rejects at the level, and every shift when it cannot."""

    difference: float
    min_p: float
    method: str = "permutation_inversion"

    def at(self, level: float) -> tuple[float, float]:
        if self.min_p < 1.0 - level:
            return (self.difference, self.difference)
        return (-math.inf, math.inf)


@dataclass(frozen=True)
class PermutationInversion:
    """The shifts delta that the studentized permutation test does not reject, at p >= 1 - level, with the
    same relabellings for every delta (``WelchPermutationTest``).

    Each end is found by bisection between a shift the test accepts and one it rejects. The difference
    itself (t = 0) is the accepted anchor, and 0 is a bracket of the search whenever it lies beyond the
    anchor: the end then stays on the side of 0 that the test's own p at 0 says, so the interval excludes 0
    exactly when p(0) < 1 - level, even where p(delta) is not monotone (a studentized statistic's need not
    be). An end is unbounded when no shift is rejected (the relabellings cannot reach 1 - level).
    """

    test: WelchPermutationTest
    method: str = "permutation_inversion"

    def at(self, level: float) -> tuple[float, float]:
        threshold = 1.0 - level

        def accepted(delta: float) -> bool:
            return self.test.p_value(delta) >= threshold

        zero_accepted = accepted(0.0)
        anchor = self.test.difference if accepted(self.test.difference) else 0.0 if zero_accepted else None
        if anchor is None:  # no shift accepted: there is no interval to print
            return (math.nan, math.nan)
        low = self._end(anchor, zero_accepted, -1.0, threshold, accepted)
        high = self._end(anchor, zero_accepted, 1.0, threshold, accepted)
        return (low, high)

    def _end(
        self, anchor: float, zero_accepted: bool, side: float, threshold: float, accepted: Callable[[float], bool]
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
            if self.test.min_p >= threshold:
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


def holm_level(ci_level: float, p_value: float, p_adjusted: float, family_size: int) -> float:
    """The level of the interval printed beside a Holm-adjusted p: 1 - (1 - ci_level) p / p_adjusted.

    It scales the test's own threshold as Holm scaled the p, so the interval excludes 0 exactly when the
    adjusted p < 1 - ci_level (= alpha): it agrees with Holm's step-down decision, which Bonferroni's
    1 - alpha / k intervals do not (they can contain 0 beside a Holm rejection). As Holm's adjusted p lies
    between p and k p, the level lies between the unadjusted one and Bonferroni's; with p = 0 (underflow)
    it is Bonferroni's.
    """
    if family_size < 2 or not math.isfinite(p_value) or not math.isfinite(p_adjusted):
        return ci_level
    share = p_value / p_adjusted if p_adjusted > 0 else 1.0 / family_size
    return 1.0 - (1.0 - ci_level) * share
