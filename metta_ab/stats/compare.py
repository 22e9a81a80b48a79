"""One treatment against the control: difference, decision test, robustness checks, effect sizes, power, verdict."""

from __future__ import annotations

import math
import warnings as _warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from metta_ab.stats._common import (
    _NAN_CI,
    BETTER,
    EQUIVALENT,
    INCONCLUSIVE,
    INSUFFICIENT,
    WORSE,
    Direction,
    _as_1d,
    _centered,
    _check_level,
    _direction,
    _jsonable,
    _pad,
)
from metta_ab.stats.bootstrap import (
    _bootstrap,
    _improvement_matrix,
    _improvement_scores,
    _percentile_ci,
    _resampled_prob_improvement,
    _sorted_resample,
    _sorted_row_quantities,
)
from metta_ab.stats.intervals import (
    ConstantShiftInterval,
    DifferenceInterval,
    PermutationInversion,
    TInterval,
    ci_significance,
)
from metta_ab.stats.power import DEFAULT_POWER, minimum_detectable_d, power_runs_needed
from metta_ab.stats.settings import DEFAULTS, StatsSettings
from metta_ab.stats.significance import (
    WelchPermutationTest,
    _min_exact_p,
    _permutation_p,
    _rank_test,
    failure_rate_test,
    min_permutation_p,
    min_sign_flip_p,
    tost,
    unscored_rate_note,
)


def decide(
    difference: float,
    p_value: float,
    *,
    n_treatment: int,
    n_control: int,
    direction: str = DEFAULTS.direction,
    alpha: float = DEFAULTS.alpha,
    equivalence_p: float | None = None,
) -> str:
    """Verdict of one comparison from its (possibly Holm-adjusted) two-sided p-value [Colas19].

    "insufficient data" when either side has fewer than 2 runs (pairs, for a paired design); "better" or
    "worse" only when p < alpha, by the sign of ``difference`` (treatment - control) and the metric's
    direction (for "min" a negative difference is better); "equivalent" only when the TOST p-value against
    the declared minimum effect (``equivalence_p``, see ``tost``) is < alpha; otherwise "inconclusive".
    """
    d = _direction(direction)
    if n_treatment < 2 or n_control < 2:
        return INSUFFICIENT
    if math.isfinite(p_value) and p_value < alpha and math.isfinite(difference) and difference != 0.0:
        improved = difference > 0.0 if d == "max" else difference < 0.0
        return BETTER if improved else WORSE
    if equivalence_p is not None and math.isfinite(equivalence_p) and equivalence_p < alpha:
        return EQUIVALENT
    return INCONCLUSIVE


@dataclass(frozen=True)
class Comparison:
    """Treatment against control: difference, test, robustness checks, effect sizes, power, verdict.

    ``test`` names the test that decides, and ``statistic``/``df``/``p_value`` are its: the Welch t-test
    (unpaired) or paired t-test [Colas19]; the exact permutation test of the mean difference when the
    t-test is undefined (no variance within either variant, or constant paired differences); the rank test
    (Mann-Whitney / Wilcoxon) when a score is infinite, since it counts an infinite score as the extreme it
    is; the log-rank test for censored times to a threshold (``metta_ab.stats.survival``). ``p_method``
    says how ``p_value`` was computed (unpaired Welch: from the permutation distribution of t when that
    can reach alpha, see ``compare``). ``t_test``, ``t_statistic``, ``t_df``, ``t_p_value`` are always
    the t-test's, with the t distribution's p (NaN when undefined). ``exact_min_p`` is the smallest p the
    exact permutation and rank tests can give at this N without ties (2 / arrangements; paired: over the
    pairs whose difference is not zero, ``zero_differences`` the others): at or above alpha they cannot
    confirm a significant t-test, so their disagreement with it is not flagged. ``p_adjusted``
    is the Holm-adjusted p when the analysis has ``family_size`` >= 2 comparisons (else the raw p) and
    ``verdict`` is decided from it.

    ``difference_ci`` is the interval that agrees with the deciding test (``difference_ci_method``):
    "welch_t" or "paired_t" where the t distribution gives p, "permutation_inversion" where a permutation
    distribution does (the shifts that test does not reject, ``metta_ab.stats.intervals``), "none" where
    no interval can agree (the rank test decides on infinite scores). Its level ``difference_ci_level`` is
    ``ci_level``, or beside a Holm-adjusted p the level that agrees with the adjusted decision
    (``ci_significance``). ``interval`` computes it at any level (not serialized).

    Fields that need a word: ``n_treatment``/``n_control`` count runs with a score, ``n_pairs`` the complete
    pairs a paired test uses (``pairs_dropped`` the others), ``n_infinite`` the runs (pairs) with an infinite
    score, which the tests on means leave out. ``difference`` is treatment - control (paired: mean of
    differences), ``difference_pct`` relative to the control mean (NaN unless that is positive and
    at least one SD of the control's scores: ``_pct``). ``rank_statistic`` is U of the treatment
    (Mann-Whitney) or Wilcoxon's W; ``rank_method`` "exact", "exact permutation" (ties) or "asymptotic".
    ``prob_improvement`` is P(treatment run better than control run), "better" following the direction
    (ties 1/2). ``mde`` (metric units) and ``mde_d`` (standardized: by the pooled SD, paired: by the SD of
    differences) are the smallest differences the t-test detects with 80% power at this N; ``effect_d`` is
    the standardized effect ``runs_needed`` is computed for (``runs_needed_for``: the observed |Hedges' g|
    or paired d_z, or ``min_effect``); None when that effect is 0 or undefined. ``equivalence_p`` is the
    TOST p against +-``min_effect`` (NaN without one); ``below_min_effect``: the whole CI of a significant
    difference lies inside +-``min_effect`` (smaller than what was declared to matter); ``failure_p`` the
    Fisher p of the failure rates; ``flags`` machine-readable robustness flags, ``warnings`` sentences for
    people; ``time_to_threshold`` the censored-time summary when ``test`` is "logrank".
    """

    treatment: str
    control: str
    paired: bool
    direction: str
    alpha: float
    ci_level: float
    min_effect: float | None
    n_treatment: int
    n_control: int
    n_pairs: int | None
    pairs_dropped: int | None
    pair_correlation: float
    mean_treatment: float
    mean_control: float
    difference: float
    difference_pct: float
    difference_ci: tuple[float, float]
    test: str
    statistic: float
    df: float
    p_value: float
    p_adjusted: float
    permutation_p: float
    permutation_exact: bool
    rank_test: str
    rank_method: str
    rank_statistic: float
    rank_test_p: float
    hedges_g: float
    prob_improvement: float
    prob_improvement_ci: tuple[float, float]
    iqm_difference: float
    iqm_difference_ci: tuple[float, float]
    bootstrap_difference_ci: tuple[float, float]
    mde: float
    mde_d: float
    effect_d: float
    runs_needed: int | None
    runs_needed_for: str
    equivalence_p: float
    equivalence_p_adjusted: float
    failure_p: float
    verdict: str
    t_test: str = ""
    t_statistic: float = math.nan
    t_df: float = math.nan
    t_p_value: float = math.nan
    p_method: str = ""
    exact_min_p: float = math.nan
    zero_differences: int = 0
    n_infinite: int = 0
    effect_sign: float = math.nan
    family_size: int = 1
    below_min_effect: bool = False
    time_to_threshold: Mapping[str, Any] | None = None
    flags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    difference_ci_method: str = "none"
    difference_ci_level: float = math.nan
    interval: DifferenceInterval | None = field(default=None, repr=False, compare=False)

    def redecide(
        self, p_adjusted: float, equivalence_p_adjusted: float | None = None, family_size: int | None = None
    ) -> Comparison:
        """A copy with the adjusted p-values stored, the verdict decided from them, and the CI at the level
        that agrees with that decision."""
        eq = self.equivalence_p if equivalence_p_adjusted is None else equivalence_p_adjusted
        family = self.family_size if family_size is None else family_size
        ci, level = self.difference_ci, self.difference_ci_level
        if self.interval is not None:
            significance = ci_significance(self.ci_level, self.alpha, self.p_value, p_adjusted, family)
            ci, level = self.interval.at(significance), 1.0 - significance
        n_t, n_c = (self.n_pairs or 0, self.n_pairs or 0) if self.paired else (self.n_treatment, self.n_control)
        verdict = decide(
            self.effect_sign,
            p_adjusted,
            n_treatment=n_t,
            n_control=n_c,
            direction=self.direction,
            alpha=self.alpha,
            equivalence_p=eq if self.min_effect is not None else None,
        )
        return replace(
            self,
            p_adjusted=float(p_adjusted),
            equivalence_p_adjusted=float(eq),
            verdict=verdict,
            family_size=family,
            difference_ci=ci,
            difference_ci_level=level,
            below_min_effect=verdict in (BETTER, WORSE) and _inside(ci, self.min_effect),
        )

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "interval"}
        out["rank_p"] = self.rank_test_p
        out["mannwhitney_p"] = self.rank_test_p if not self.paired else None
        out["wilcoxon_p"] = self.rank_test_p if self.paired else None
        out["bootstrap_note"] = "percentile bootstrap; approximate at small N and never used for the verdict"
        return _jsonable(out)


def _inside(ci: tuple[float, float], min_effect: float | None) -> bool:
    """The whole interval lies strictly inside (-min_effect, +min_effect)."""
    if min_effect is None or not all(math.isfinite(v) for v in ci):
        return False
    return -min_effect < ci[0] and ci[1] < min_effect


def _pooled_sd(t: np.ndarray, c: np.ndarray) -> float:
    n, m = t.size, c.size
    return math.sqrt(((n - 1) * np.var(t, ddof=1) + (m - 1) * np.var(c, ddof=1)) / (n + m - 2))


def _hedges_g(t: np.ndarray, c: np.ndarray) -> float:
    """Hedges' g: difference of means / pooled SD, times 1 - 3 / (4 (n + m) - 9) [Hedges81]."""
    n, m = t.size, c.size
    sp = _pooled_sd(t, c)
    if not sp > 0:
        return math.nan
    return float((np.mean(t) - np.mean(c)) / sp * (1.0 - 3.0 / (4.0 * (n + m) - 9.0)))


def _empty_comparison(**kw: Any) -> Comparison:
    defaults: dict[str, Any] = {
        "n_pairs": None,
        "pairs_dropped": None,
        "pair_correlation": math.nan,
        "mean_treatment": math.nan,
        "mean_control": math.nan,
        "difference": math.nan,
        "difference_pct": math.nan,
        "difference_ci": _NAN_CI,
        "statistic": math.nan,
        "df": math.nan,
        "p_value": math.nan,
        "p_adjusted": math.nan,
        "permutation_p": math.nan,
        "permutation_exact": False,
        "rank_method": "none",
        "rank_statistic": math.nan,
        "rank_test_p": math.nan,
        "hedges_g": math.nan,
        "prob_improvement": math.nan,
        "prob_improvement_ci": _NAN_CI,
        "iqm_difference": math.nan,
        "iqm_difference_ci": _NAN_CI,
        "bootstrap_difference_ci": _NAN_CI,
        "mde": math.nan,
        "mde_d": math.nan,
        "effect_d": math.nan,
        "runs_needed": None,
        "runs_needed_for": "",
        "equivalence_p": math.nan,
        "equivalence_p_adjusted": math.nan,
        "verdict": INSUFFICIENT,
    }
    defaults.update(kw)
    return Comparison(**defaults)


def _pct(difference: float, control: np.ndarray) -> float:
    """The difference as a percentage of the control's mean, only where such a percentage reads true: that mean
    positive and at least one SD of the control's scores above zero. Of a negative mean, or of one near zero for
    its spread, a percentage misleads (+1.08 over a mean of -0.25 is not "432%" better; 0.01 +- 0.5 gives
    "11800%"): NaN there, and the report prints none."""
    if control.size == 0:
        return math.nan
    mean = float(np.mean(control))
    spread = float(np.std(control, ddof=1)) if control.size > 1 else 0.0
    if not (math.isfinite(mean) and math.isfinite(spread) and mean > 0.0 and mean >= spread):
        return math.nan
    return 100.0 * difference / mean


@dataclass(frozen=True)
class _Units:
    """What the tests of one comparison see: the runs (paired: the complete pairs) with a score."""

    t: np.ndarray  # scores with a value; +-inf kept (the rank tests count them)
    c: np.ndarray
    finite: np.ndarray | None  # paired: the pairs whose two scores are finite
    n_pairs: int | None
    pairs_dropped: int | None

    @property
    def t_finite(self) -> np.ndarray:
        return self.t[self.finite] if self.finite is not None else self.t[np.isfinite(self.t)]

    @property
    def c_finite(self) -> np.ndarray:
        return self.c[self.finite] if self.finite is not None else self.c[np.isfinite(self.c)]

    @property
    def n_infinite(self) -> int:
        if self.finite is not None:
            return int(self.finite.size - self.finite.sum())
        return int((~np.isfinite(self.t)).sum() + (~np.isfinite(self.c)).sum())

    @property
    def differences(self) -> np.ndarray:
        """Paired differences with infinite scores kept: both at the same infinity is a tie (0)."""
        with np.errstate(invalid="ignore"):
            diff = self.t - self.c
        return np.where(np.isnan(diff), 0.0, diff)


def _units(t_all: np.ndarray, c_all: np.ndarray, paired: bool) -> _Units:
    if not paired:
        return _Units(t_all[~np.isnan(t_all)], c_all[~np.isnan(c_all)], None, None, None)
    t_pad, c_pad = _pad(t_all, c_all)
    both = ~np.isnan(t_pad) & ~np.isnan(c_pad)
    t, c = t_pad[both], c_pad[both]
    return _Units(t, c, np.isfinite(t) & np.isfinite(c), int(both.sum()), int(both.size - both.sum()))


#: Spread within this many units in the last place of the largest |score| is what float rounding of the scores
#: can produce (x + 0.25 - x varies in the last bits): it counts as none. 1e12 + [0..4] spreads 32,000 of them.
_ROUNDING_ULPS = 16


def _t_test(t: np.ndarray, c: np.ndarray, paired: bool) -> dict[str, Any]:
    """Welch's (or the paired) t-test with its interval of the difference; NaN (no interval) where it is
    undefined (no spread beyond the scores' rounding). Computed on centered scores: the same p at 1e12 + x as
    at x."""
    scale = float(max(np.max(np.abs(t)), np.max(np.abs(c))))
    noise = _ROUNDING_ULPS * np.finfo(float).eps * scale
    spreads = [np.ptp(t - c)] if paired else [np.ptp(t), np.ptp(c)]
    t, c = _centered(t, c)
    with _warnings.catch_warnings(), np.errstate(all="ignore"):
        _warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.ttest_rel(t, c) if paired else sps.ttest_ind(t, c, equal_var=False)
    statistic, df, p = float(res.statistic), float(res.df), float(res.pvalue)
    defined = math.isfinite(statistic) and max(spreads) > noise
    if paired:
        difference, se = float(np.mean(t - c)), float(np.std(t - c, ddof=1) / math.sqrt(t.size))
    else:
        difference = float(np.mean(t) - np.mean(c))
        se = math.sqrt(np.var(t, ddof=1) / t.size + np.var(c, ddof=1) / c.size)
    r = math.nan
    if paired and np.std(t) > 0 and np.std(c) > 0:
        r = float(np.corrcoef(t, c)[0, 1])
    return {
        "statistic": statistic if defined else math.nan,
        "df": df,
        "p": p if defined else math.nan,
        "interval": TInterval("paired_t" if paired else "welch_t", difference, se, df) if defined else None,
        "defined": defined,
        "r": r,
    }


def _effect_sizes(
    t: np.ndarray, c: np.ndarray, paired: bool, d: Direction, n_resamples: int, ci_level: float, rng: Any
) -> dict[str, Any]:
    """Hedges' g, IQM difference and P(T better than C), with percentile bootstrap CIs (descriptive)."""
    if paired:
        # resample pairs jointly; rank positions give sorted resamples of each side with integer sorts
        order_t, order_c = np.argsort(t, kind="stable"), np.argsort(c, kind="stable")
        rank_t, rank_c = np.argsort(order_t), np.argsort(order_c)
        ts, cs, diffs = t[order_t], c[order_c], t - c
        prob = float(np.mean(_improvement_scores(diffs, d)))

        def paired_stat(idx: np.ndarray) -> dict[str, np.ndarray]:
            bd = diffs[idx]
            qt = _sorted_row_quantities(_sorted_resample(ts, rank_t[idx]))
            qc = _sorted_row_quantities(_sorted_resample(cs, rank_c[idx]))
            return {
                "diff": bd.mean(axis=1),
                "prob": _improvement_scores(bd, d).mean(axis=1),
                "iqm": qt["iqm"] - qc["iqm"],
            }

        boot = _bootstrap(rng, (t.size,), n_resamples, paired_stat)
    else:
        ts, cs = np.sort(t), np.sort(c)
        prob = float(_improvement_matrix(t, c, d).mean())  # = U / (n m), ties 1/2

        def unpaired_stat(it: np.ndarray, ic: np.ndarray) -> dict[str, np.ndarray]:
            qt = _sorted_row_quantities(_sorted_resample(ts, it))
            qc = _sorted_row_quantities(_sorted_resample(cs, ic))
            return {
                "diff": qt["mean"] - qc["mean"],
                "prob": _resampled_prob_improvement(it, ic, ts, cs, d),
                "iqm": qt["iqm"] - qc["iqm"],
            }

        boot = _bootstrap(rng, (t.size, c.size), n_resamples, unpaired_stat)
    return {
        "hedges_g": _hedges_g(t, c),
        "iqm_difference": float(sps.trim_mean(t, 0.25) - sps.trim_mean(c, 0.25)),
        "prob_improvement": prob,
        "prob_improvement_ci": _percentile_ci(boot["prob"], ci_level),
        "iqm_difference_ci": _percentile_ci(boot["iqm"], ci_level),
        "bootstrap_difference_ci": _percentile_ci(boot["diff"], ci_level),
    }


def _prob_improvement_with_infinite(
    units: _Units, paired: bool, d: Direction, n_resamples: int, ci_level: float, rng: Any
) -> tuple[float, tuple[float, float]]:
    """P(T better than C) over every scored run, infinite scores counted as the extremes they are."""
    t = units.t if not paired else units.differences
    c = units.c if not paired else np.zeros_like(t)
    sizes = (t.size,) if paired else (t.size, c.size)
    if paired:
        prob = float(np.mean(_improvement_scores(t, d)))
        boot = _bootstrap(rng, sizes, n_resamples, lambda idx: {"prob": _improvement_scores(t[idx], d).mean(axis=1)})
    else:
        ts, cs = np.sort(t), np.sort(c)
        prob = float(_improvement_matrix(t, c, d).mean())
        boot = _bootstrap(
            rng, sizes, n_resamples, lambda it, ic: {"prob": _resampled_prob_improvement(it, ic, ts, cs, d)}
        )
    return prob, _percentile_ci(boot["prob"], ci_level)


def _power_figures(
    t: np.ndarray,
    c: np.ndarray,
    paired: bool,
    alpha: float,
    min_effect: float | None,
    hedges_g: float,
    t_defined: bool = True,
) -> dict[str, Any]:
    """Minimum detectable effect at 80% power for this N; runs needed for the observed (declared) effect.
    Without variance (``t_defined`` False) neither has a scale: NaN / None."""
    diff = t - c if paired else None
    unit_sd = float(np.std(diff, ddof=1)) if diff is not None else _pooled_sd(t, c)
    if not t_defined:
        unit_sd, hedges_g = 0.0, math.nan
    if paired:
        mde_d = minimum_detectable_d(t.size, alpha, DEFAULT_POWER, paired=True)
    else:
        mde_d = minimum_detectable_d(t.size, alpha, DEFAULT_POWER, n_other=c.size)
    has_sd = math.isfinite(unit_sd) and unit_sd > 0
    if min_effect is not None:
        effect_d, runs_needed_for = (min_effect / unit_sd if has_sd else math.nan), "min_effect"
    elif paired:
        effect_d, runs_needed_for = (abs(float(np.mean(diff))) / unit_sd if has_sd else math.nan), "observed effect"
    else:
        effect_d, runs_needed_for = abs(hedges_g), "observed effect"
    runs_needed = (
        power_runs_needed(effect_d, alpha, DEFAULT_POWER, paired=paired)
        if math.isfinite(effect_d) and effect_d > 0
        else None
    )
    return {
        "mde": float(mde_d * unit_sd) if has_sd else math.nan,
        "mde_d": float(mde_d),
        "effect_d": float(effect_d),
        "runs_needed": runs_needed,
        "runs_needed_for": runs_needed_for,
    }


def _raw_sign(units: _Units, paired: bool) -> float:
    """Sign of the treatment's shift in metric units from ranks: P(T > C) - 1/2 (paired: of the differences)."""
    if paired:
        diff = units.differences
        return float(np.mean(np.sign(diff)))
    return float(_improvement_matrix(units.t, units.c, "max").mean() - 0.5)


def compare(
    treatment: ArrayLike,
    control: ArrayLike,
    settings: StatsSettings = DEFAULTS,
    *,
    treatment_name: str = "treatment",
    control_name: str = "control",
    family_size: int = 1,
) -> Comparison:
    """Compare a treatment's per-run scores with the control's [Colas19; Agarwal21; Henderson18], as
    ``settings`` says (design, direction, alpha, CI level, resamples, seed, min_effect).

    Unpaired: difference of means with Welch's test (``ttest_ind(equal_var=False)``) and the CI that agrees
    with the p that decides (``difference_ci_method``); robustness:
    permutation test of the mean difference and exact Mann-Whitney. Paired (index i = seed i; pairs with a
    failed side dropped and counted): mean of differences, ``ttest_rel`` with its CI, sign-flip permutation
    and exact Wilcoxon, pair correlation r. Effect sizes: Hedges' g, P(treatment better than control)
    (= U / (n m) with ties 1/2; paired: share of improving pairs), IQM difference, with percentile
    bootstrap CIs (approximate, descriptive only). Power: minimum detectable effect at 80% power for the
    completed N, and the runs per variant needed for the observed effect (or ``min_effect``, in metric
    units). ``verdict`` uses the unadjusted p; ``analyze`` re-decides after Holm.

    NaN marks a run without a score (failed). +-inf is a score (a diverged run): the rank test and
    P(T > C) count it as the extreme it is; the tests on means leave it out, and a comparison with an
    infinite score is decided by the rank test. When the t-test is undefined (no variance within either
    variant; constant paired differences) the exact permutation test decides.
    Unpaired, Welch's p is read off the permutation distribution of Welch's t (the studentized permutation
    test: exact level whatever the scores' distribution; Welch's t distribution keeps alpha poorly with
    skewed scores at 5 seeds, .015) whenever that distribution can go below alpha / ``family_size`` (the
    comparisons Holm will adjust over); with fewer relabellings (3 vs 3 runs) from the t distribution.
    ``p_method`` says which. Paired differences are symmetric under no difference, where the t
    distribution keeps alpha: the paired test always uses it.
    ``difference_pct`` is relative to the control mean, where that mean is positive and at least one SD
    of the control's scores (else NaN, see ``_pct``).
    """
    paired, min_effect = settings.paired, settings.min_effect
    alpha, ci_level, n_resamples = settings.alpha, settings.ci_level, settings.n_resamples
    d = _direction(settings.direction)
    _check_level("alpha", alpha)
    _check_level("ci_level", ci_level)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    if min_effect is not None and (not math.isfinite(min_effect) or min_effect <= 0):
        raise ValueError(f"min_effect must be a positive number in metric units, got {min_effect!r}")
    t_all, c_all = _as_1d(treatment), _as_1d(control)
    notes: list[str] = []
    flags: list[str] = []

    n_t, n_c = int((~np.isnan(t_all)).sum()), int((~np.isnan(c_all)).sum())
    failure_p = failure_rate_test(int(t_all.size - n_t), int(t_all.size), int(c_all.size - n_c), int(c_all.size))
    if failure_p < alpha:
        notes.append(
            unscored_rate_note(
                treatment_name, t_all.size - n_t, t_all.size, control_name, c_all.size - n_c, c_all.size, failure_p
            )
        )
    units = _units(t_all, c_all, paired)
    if paired and units.pairs_dropped:
        unmatched = abs(t_all.size - c_all.size)  # runs of the longer variant past the other's last run
        parts = [f"{units.pairs_dropped - unmatched} pair(s) left out because a run of the pair has no score"]
        if unmatched:
            (longer, n_long), (shorter, n_short) = sorted(
                [(treatment_name, t_all.size), (control_name, c_all.size)], key=lambda side: -side[1]
            )
            parts = parts[: units.pairs_dropped > unmatched]
            parts.append(f"{unmatched} run(s) of {longer} have no partner ({shorter} has {n_short}, {longer} {n_long})")
        notes.append("; ".join(parts) + f"; the paired test uses {units.n_pairs} pairs.")
    n_eff_t, n_eff_c = (units.n_pairs or 0, units.n_pairs or 0) if paired else (n_t, n_c)
    base: dict[str, Any] = {
        "treatment": treatment_name,
        "control": control_name,
        "paired": paired,
        "direction": d,
        "alpha": alpha,
        "ci_level": ci_level,
        "min_effect": min_effect,
        "n_treatment": n_t,
        "n_control": n_c,
        "n_pairs": units.n_pairs,
        "pairs_dropped": units.pairs_dropped,
        "n_infinite": units.n_infinite,
        "t_test": "paired_t" if paired else "welch",
        "rank_test": "wilcoxon" if paired else "mann-whitney",
        "failure_p": failure_p,
    }
    t, c = units.t_finite, units.c_finite  # the tests on means use the finite scores
    if units.n_infinite:
        unit = "pair(s)" if paired else "run(s)"
        notes.append(
            f"{units.n_infinite} {unit} with an infinite score: the rank test and P(T>C) count them as the "
            f"extremes they are and decide; the tests on means leave them out ({t.size} vs {c.size} finite)."
        )
    if n_eff_t < 2 or n_eff_c < 2 or t.size < 2 or c.size < 2:
        what = "pairs" if paired else "completed runs"
        if n_eff_t >= 2 and n_eff_c >= 2:
            what = "pairs with finite scores" if paired else "runs with finite scores"
            n_eff_t, n_eff_c = t.size, c.size
        notes.append(f"insufficient data: {n_eff_t} vs {n_eff_c} {what}; at least 2 per variant are needed for a test.")
        mean_t = float(np.mean(t)) if t.size else math.nan
        mean_c = float(np.mean(c)) if c.size else math.nan
        diff = mean_t - mean_c
        return _empty_comparison(
            mean_treatment=mean_t,
            mean_control=mean_c,
            difference=diff,
            difference_pct=_pct(diff, c),
            test=base["t_test"],
            flags=tuple(flags),
            warnings=tuple(notes),
            **base,
        )

    ss = np.random.SeedSequence(settings.seed)
    boot_rng, perm_rng, rank_rng = (np.random.default_rng(s) for s in ss.spawn(3))
    mean_t, mean_c = float(np.mean(t)), float(np.mean(c))
    # 1-2. the t-test, its CI of the difference (told from rounding noise by the scores' magnitude)
    tt = _t_test(t, c, paired)
    t, c = _centered(t, c)  # every test below is shift invariant: let it see the spread, not the magnitude
    difference = float(np.mean(t - c)) if paired else float(np.mean(t) - np.mean(c))
    if paired and math.isfinite(tt["r"]) and tt["r"] <= 0:
        notes.append(f"pair correlation r = {tt['r']:.2f}: shared seeds did not produce correlated runs.")

    # 3. robustness checks: permutation test of the mean difference, rank test on every scored run
    with _warnings.catch_warnings(), np.errstate(all="ignore"):
        _warnings.simplefilter("ignore", RuntimeWarning)
        permutation_p, permutation_exact = _permutation_p((t - c,) if paired else (t, c), paired, perm_rng)
        rank_name, rank_method, rank_stat, rank_p = _rank_test(units.t, units.c, paired, rank_rng)

    # the decision test
    # the decision test, and the interval that agrees with it
    p_method = "t distribution"
    interval: DifferenceInterval | None = tt["interval"]
    if units.n_infinite:
        test, statistic, df, p_value, effect_sign = rank_name, rank_stat, math.nan, rank_p, _raw_sign(units, paired)
        p_method, interval = rank_method, None
        notes.append(
            f"no confidence interval of the difference is given: the {rank_name.title()} test decides, and "
            "no interval of the finite scores' difference agrees with it."
        )
    elif not tt["defined"]:
        test, statistic, df, p_value, effect_sign = "permutation", difference, math.nan, permutation_p, difference
        p_method = "exact permutation" if permutation_exact else "permutation"
        min_p = min_sign_flip_p(t.size) if paired else min_permutation_p(t.size, c.size)
        interval = ConstantShiftInterval(difference, min_p)
        spread = "the paired differences are all equal" if paired else "no variance within either variant"
        notes.append(
            f"the {'paired t' if paired else 'Welch'} test is undefined ({spread}): the exact permutation "
            f"test decides (p = {permutation_p:.3g}); its CI is the shifts it does not reject: the difference "
            "alone where it rejects the others, every shift where it cannot."
        )
    else:
        test, statistic, df, p_value, effect_sign = base["t_test"], tt["statistic"], tt["df"], tt["p"], difference
        if not paired and min_permutation_p(t.size, c.size) <= alpha / max(1, family_size):
            with _warnings.catch_warnings(), np.errstate(all="ignore"):
                _warnings.simplefilter("ignore", RuntimeWarning)
                welch = WelchPermutationTest(t, c, perm_rng)
                p_value = welch.p_value(0.0)
            p_method = "exact permutation" if welch.exact else "permutation"
            interval = PermutationInversion(welch)
    if paired:  # zero differences carry no sign: only the others can be flipped or ranked
        zero_differences = int(units.differences.size - np.count_nonzero(units.differences))
        exact_min_p = _min_exact_p(units.differences.size - zero_differences, None)
    else:
        zero_differences, exact_min_p = 0, _min_exact_p(units.t.size, units.c.size)
    # a check that cannot reach alpha at this N disagrees with every significant t-test: it says nothing then
    # (the verdict sentence says that the exact tests cannot reach alpha, where that matters)
    t_p = tt["p"]
    if exact_min_p < alpha and math.isfinite(t_p) and (t_p < alpha) != (permutation_p < alpha):
        flags.append("welch_permutation_disagree" if not paired else "t_permutation_disagree")
        notes.append(
            f"the {'paired t' if paired else 'Welch'} test (p = {t_p:.3g}) and the permutation test "
            f"(p = {permutation_p:.3g}) disagree at alpha = {alpha:g}; treat the verdict with caution."
        )
    if exact_min_p < alpha and math.isfinite(t_p) and (t_p < alpha) != (rank_p < alpha):
        flags.append("t_rank_disagree")

    # 4. effect sizes with bootstrap CIs (descriptive); 5. power
    effects = _effect_sizes(t, c, paired, d, n_resamples, ci_level, boot_rng)
    if units.n_infinite:
        effects["prob_improvement"], effects["prob_improvement_ci"] = _prob_improvement_with_infinite(
            units, paired, d, n_resamples, ci_level, boot_rng
        )
    power = _power_figures(t, c, paired, alpha, min_effect, effects["hedges_g"], tt["defined"])

    equivalence_p = tost(t, c, min_effect, paired=paired) if min_effect is not None else math.nan
    comparison = Comparison(
        pair_correlation=tt["r"],
        mean_treatment=mean_t,
        mean_control=mean_c,
        difference=difference,
        difference_pct=_pct(difference, units.c_finite),
        difference_ci=_NAN_CI,
        difference_ci_method=interval.method if interval is not None else "none",
        interval=interval,
        test=test,
        statistic=float(statistic),
        df=float(df),
        p_value=float(p_value),
        p_adjusted=float(p_value),
        t_statistic=tt["statistic"],
        t_df=tt["df"],
        t_p_value=t_p,
        p_method=p_method,
        exact_min_p=exact_min_p,
        zero_differences=zero_differences,
        effect_sign=float(effect_sign),
        permutation_p=permutation_p,
        permutation_exact=permutation_exact,
        rank_method=rank_method,
        rank_statistic=rank_stat,
        rank_test_p=rank_p,
        **effects,
        **power,
        equivalence_p=equivalence_p,
        equivalence_p_adjusted=equivalence_p,
        verdict=INSUFFICIENT,
        flags=tuple(flags),
        warnings=tuple(notes),
        **base,
    )
    return comparison.redecide(p_value)
