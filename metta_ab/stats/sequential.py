"""Sequential (group-sequential) A/B decisions: look after every k runs per variant, stop when the answer is known.

A fixed design runs N seeds per variant and tests once. Adding seeds until the picture looks clear and testing
each time ("peeking") inflates the false-positive rate: four looks at alpha .05 each give about .13. A
group-sequential design plans the looks in advance (after k, 2k, ..., N runs per variant) and tests at each
look against a *boundary* that is stricter than alpha, chosen so that the probability of a false "better" or
"worse" at ANY look is alpha.

The method here (chosen by ``benchmarks/sequential_simulation.py`` for 3-30 seeds per variant):

1. **Alpha spending** [LanDeMets83]: a spending function alpha(t) gives the part of alpha that may be used up
   by information fraction t = n / N. Three families: O'Brien-Fleming type
   alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)) (spends almost nothing early) [OBrienFleming79], Pocock type
   alpha log(1 + (e - 1) t) [Pocock77], and Hwang-Shih-DeCani alpha (1 - e^{-gamma t}) / (1 - e^{-gamma})
   (gamma = -4 is close to O'Brien-Fleming, gamma = 1 to Pocock; gamma = 0 is linear) [HSD90]. The default is
   the linear one, ``hsd:0`` (alpha t): in the simulation at 15/5 it stops a d = 1.5 effect after ~10 of 15
   runs per variant losing ~.015 power against the fixed design; O'Brien-Fleming type spends too little at
   the first look of 5 seeds to stop early (11+ runs), Pocock type stops as early but loses more power.
2. **Boundaries on the normal scale** by recursive numerical integration of the canonical joint distribution
   of the standardized statistics (independent increments, corr(Z_i, Z_j) = sqrt(t_i / t_j)) [JT00, ch. 19]:
   at look j the two-sided critical value c_j solves P(|Z_1| < c_1, ..., |Z_{j-1}| < c_{j-1}, |Z_j| >= c_j) =
   alpha(t_j) - alpha(t_{j-1}).
3. **The t statistic at small n** by the significance-level approach [JT00, sec. 3.8 and 11.3]: look j
   rejects when the two-sided p-value of the paired t-test (paired design) or of Welch's t-test (independent
   seeds) is below the nominal level p_j = 2 (1 - Phi(c_j)). Its t-scale boundary is the t quantile at p_j for
   the look's degrees of freedom. With 5 seeds at the first look this keeps the overall rate near alpha
   (simulated: ``benchmarks/sequential_simulation.py``), where plugging the normal boundary into a t
   statistic would not. Independent seeds: Welch's p is read off the permutation distribution of Welch's t
   (the studentized permutation test [ChungRomano13], as the fixed design does) whenever that distribution
   can reach the look's level. On skewed scores the t distribution's p is conservative (A/A .025 at alpha
   .05) and stops late; the permutation p holds the rate at alpha (.051-.053) and stops as early as
   AdaStop's permutation test [AdaStop23].
4. **More than two variants**: each treatment against the control, family-wise rate at alpha by the
   group-sequential Holm procedure (the graphical approach of [MaurerBretz13] with equal weights): every open
   comparison is tested with the boundaries of level alpha / (m - r), r the comparisons rejected so far; a
   rejection frees its share, and the others are tested again (at every look so far) at the larger level.
5. **Time to a threshold** (curve_summary "threshold"): each look decides with the log-rank statistic of the
   times so far, a run that ended short of the threshold censored at its last step, and its two-sided p from
   the statistic's permutation distribution (``survival.logrank_permutation_p``), held to the same nominal
   level p_j. At 3-15 runs per variant the normal approximation of the log-rank p is liberal; the permutation p
   is exact in level at each look. The boundaries still assume the looks' joint normal distribution
   (independent increments, information proportional to the runs; for the log-rank statistic it is the
   number of runs that reached the threshold), so the rate over all looks is shown by simulation
   (``benchmarks/sequential_simulation.py``), not guaranteed. Fewer steps are better, whatever the metric's
   direction; no equivalence stop (``min_effect`` is in the metric's units, not in steps); no median-unbiased
   estimate after an early stop (the stage-wise adjustment reads the estimate on the drift scale of the
   looks, which for a hazard ratio is not the one the boundaries assume).
6. **Futility** (optional, non-binding, so the guarantee holds whether or not one stops [JT00, sec. 5.2]): with
   a declared ``min_effect``, a comparison stops as "equivalent" when the TOST p-value [Schuirmann87] is below
   the look's nominal level. The efficacy boundaries ignore it, which is what keeps the false-positive rate
   at alpha.

An experiment stops when every comparison is decided (or equivalent), otherwise at N runs per variant.
The estimate at an early stop overstates the effect (a trial stops early when its estimate happens to be
large) [JT00, ch. 8]; the report says so, and gives beside it the median-unbiased estimate and CI under the
stage-wise ordering (``early_stop_estimate``) [JT00, sec. 8.4], from the same recursive integration
[AMR69] as the boundaries, with each look's p read as a normal z as the boundaries read it.

The spending is two-sided: alpha(t) is evaluated at the two-sided alpha and spent over both sides of the
symmetric boundary together. gsDesign and rpact spend alpha(t) evaluated at alpha/2 on each side; for a
function linear in alpha (Pocock type, HSD) that is the same design, for O'Brien-Fleming type it is not.

All functions are pure; boundaries are memoized (a pure function of the design).

References:
  [LanDeMets83] Lan, DeMets 1983, "Discrete sequential boundaries for clinical trials", Biometrika 70.
  [OBrienFleming79] O'Brien, Fleming 1979, "A multiple testing procedure for clinical trials", Biometrics 35.
  [Pocock77] Pocock 1977, "Group sequential methods in the design and analysis of clinical trials", Biometrika 64.
  [HSD90] Hwang, Shih, De Cani 1990, "Group sequential designs using a family of type I error probability
    spending functions", Statistics in Medicine 9.
  [AMR69] Armitage, McPherson, Rowe 1969, "Repeated significance tests on accumulating data", JRSS A 132.
  [JT00] Jennison, Turnbull 2000, "Group Sequential Methods with Applications to Clinical Trials".
  [MaurerBretz13] Maurer, Bretz 2013, "Multiple testing in group sequential trials using graphical approaches",
    Statistics in Biopharmaceutical Research 5.
  [Schuirmann87] Schuirmann 1987, two one-sided tests (TOST) for equivalence.
  [ChungRomano13] Chung, Romano 2013, "Exact and asymptotically robust permutation tests", Annals of
    Statistics 41.
  [AdaStop23] Mathieu et al. 2023, "AdaStop: adaptive statistical testing for sound comparisons of Deep RL
    agents" (the group-sequential permutation test this is benchmarked against).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize
from scipy import stats as sps

from metta_ab.stats._common import BETTER, EQUIVALENT, INCONCLUSIVE, WORSE, _as_1d, _direction, _jsonable
from metta_ab.stats.compare import _t_test, _units
from metta_ab.stats.settings import DEFAULTS, StatsSettings
from metta_ab.stats.significance import min_permutation_p, tost, welch_permutation_p
from metta_ab.stats.survival import kaplan_meier, logrank_permutation_p

#: The default spending function (chosen by benchmarks/sequential_simulation.py).
DEFAULT_SPENDING = "hsd:0"
CONTINUE = "continue"
#: How a look's p was computed when it was not by permutation.
T_DISTRIBUTION = "t distribution"
#: A look's test: the t-test of the design (paired, or Welch's), or the log-rank test of times to a threshold.
T_TEST, LOGRANK = "t", "logrank"
_PERMUTATION_SEED = 20231  # a look's random relabellings: the same scores always give the same decision
#: Why an experiment stopped.
STOP_DECIDED, STOP_FUTILITY, STOP_MAX_RUNS = "decided", "futility", "max runs"
#: Grid points of the numerical integration per look (error of the spent alpha below 1e-7).
_GRID = 1201
#: The same for the estimate after an early stop (tail probabilities to ~1e-7: far below what moves an estimate).
_ESTIMATE_GRID = 301
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _spending_kind(spending: str) -> tuple[str, float]:
    s = str(spending).strip().lower().replace("_", "-").replace(" ", "-")
    if s in ("obrien-fleming", "o'brien-fleming", "obf"):
        return "obf", 0.0
    if s == "pocock":
        return "pocock", 0.0
    if s.startswith("hsd:"):
        try:
            return "hsd", float(s[4:])
        except ValueError:
            pass
    raise ValueError(f"spending must be 'obrien-fleming', 'pocock' or 'hsd:<gamma>' (e.g. 'hsd:-2'), got {spending!r}")


def spent_alpha(fraction: ArrayLike, alpha: float, spending: str = DEFAULT_SPENDING) -> np.ndarray:
    """Cumulative two-sided alpha spent by information fraction ``t`` in [0, 1] [LanDeMets83; HSD90]."""
    t = np.clip(np.asarray(fraction, dtype=float), 0.0, 1.0)
    kind, gamma = _spending_kind(spending)
    with np.errstate(divide="ignore"):
        if kind == "obf":
            out = np.where(t > 0, 2.0 * sps.norm.sf(sps.norm.isf(alpha / 2.0) / np.sqrt(t)), 0.0)
        elif kind == "pocock":
            out = alpha * np.log1p((math.e - 1.0) * t)
        elif gamma == 0.0:
            out = alpha * t
        else:
            out = alpha * (1.0 - np.exp(-gamma * t)) / (1.0 - math.exp(-gamma))
    return np.where(t >= 1.0, alpha, out)


def _simpson_weights(n: int, width: float) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * width / (3.0 * (n - 1))


def _exits(
    z: np.ndarray | None, mass: np.ndarray | None, c: float, t_prev: float, t: float, drift: float
) -> tuple[float, float]:
    """P(no exit before this look, then Z >= c) and P(no exit before, then Z <= -c) at the look at fraction
    ``t``, from the previous look's continuation region: grid ``z`` with Simpson weight x density ``mass``
    (None before the first look)."""
    if z is None or mass is None:
        mu = drift * math.sqrt(t)
        return float(sps.norm.sf(c - mu)), float(sps.norm.cdf(-c - mu))
    r_prev, r, s = math.sqrt(t_prev), math.sqrt(t), math.sqrt(t - t_prev)
    step = drift * (t - t_prev)  # E of the increment of the score statistic
    above = float(np.sum(mass * sps.norm.sf((c * r - z * r_prev - step) / s)))
    below = float(np.sum(mass * sps.norm.cdf((-c * r - z * r_prev - step) / s)))
    return above, below


def _continue(
    z: np.ndarray | None, mass: np.ndarray | None, c: float, t_prev: float, t: float, drift: float, grid: int
) -> tuple[np.ndarray, np.ndarray]:
    """The continuation region |Z| < c at the look at fraction ``t`` as a grid and Simpson weight x density."""
    lim = min(c, 12.0)
    z_new = np.linspace(-lim, lim, grid)
    if z is None or mass is None:
        density = sps.norm.pdf(z_new - drift * math.sqrt(t))
    else:
        r_prev, r, s = math.sqrt(t_prev), math.sqrt(t), math.sqrt(t - t_prev)
        x = (z_new[:, None] * r - z[None, :] * r_prev - drift * (t - t_prev)) / s
        density = (np.exp(-0.5 * x * x) * (r / (s * _SQRT_2PI))) @ mass  # the normal pdf, 3x scipy's speed
    return z_new, _simpson_weights(grid, 2 * lim) * density


def _excess(c: float, z: np.ndarray | None, mass: np.ndarray | None, t_prev: float, t: float, target: float) -> float:
    """P(first |Z| >= c at this look | H0) - target."""
    return sum(_exits(z, mass, c, t_prev, t, 0.0)) - target


def _z_boundaries(fractions: tuple[float, ...], increments: tuple[float, ...]) -> tuple[float, ...]:
    """Two-sided normal-scale critical values c_j with P(first crossing at look j | H0) = increments[j]."""
    bounds: list[float] = []
    z = mass = None
    for j, (t, inc) in enumerate(zip(fractions, increments, strict=True)):
        t_prev = fractions[j - 1] if j else 0.0
        c = math.inf if inc <= 0 else float(optimize.brentq(_excess, 1e-6, 40.0, (z, mass, t_prev, t, inc), xtol=1e-12))
        bounds.append(c)
        z, mass = _continue(z, mass, c, t_prev, t, 0.0, _GRID)
    return tuple(bounds)


def _first_exits(
    bounds: Sequence[float], fractions: Sequence[float], drift: float, grid: int = _GRID
) -> tuple[np.ndarray, np.ndarray]:
    """P(no exit before look j, then Z_j >= c_j) and P(no exit before look j, then Z_j <= -c_j), per look j, for
    the canonical joint distribution with E Z_j = drift sqrt(t_j), by recursive numerical integration over the
    region |Z_i| < c_i of the looks before [JT00, ch. 19]. The last bound may be any number (of either sign):
    no look follows it."""
    above, below = [], []
    z = mass = None
    for j, (c, t) in enumerate(zip(bounds, fractions, strict=True)):
        t_prev = fractions[j - 1] if j else 0.0
        up, down = _exits(z, mass, c, t_prev, t, drift)
        above.append(up)
        below.append(down)
        if j + 1 < len(bounds):
            z, mass = _continue(z, mass, c, t_prev, t, drift, grid)
    return np.asarray(above), np.asarray(below)


def crossing_probabilities(bounds: Sequence[float], fractions: Sequence[float], drift: float = 0.0) -> np.ndarray:
    """P(first |Z_j| >= c_j at look j) for the canonical joint distribution with E Z_j = drift sqrt(t_j),
    by Monte-Carlo-free numerical integration; ``drift = 0`` gives the false-positive rate per look."""
    above, below = _first_exits(bounds, fractions, drift)
    return above + below


def stagewise_tail(drift: float, z: float, bounds: Sequence[float], fractions: Sequence[float]) -> float:
    """P_drift(an outcome at or above (look k, z) in the stage-wise ordering) for a design that stopped at look
    k = len(fractions) with Z_k = z: an exit above the boundary at an earlier look, or no exit before look k
    and Z_k >= z [JT00, sec. 8.4]. ``bounds``: the k - 1 boundaries of the looks before. Increases with drift."""
    above, _ = _first_exits((*bounds, z), fractions, drift, _ESTIMATE_GRID)
    return float(above.sum())


def stagewise_estimate(
    z: float, bounds: Sequence[float], fractions: Sequence[float], ci_level: float = DEFAULTS.ci_level
) -> tuple[float, float, float]:
    """The median-unbiased drift (E Z_j = drift sqrt(t_j)) and its CI at ``ci_level`` under the stage-wise
    ordering, for a stop at look k = len(fractions) with Z_k = z: the drifts at which ``stagewise_tail`` is
    1/2, (1 - ci_level) / 2 and (1 + ci_level) / 2 [JT00, sec. 8.4; Armitage, McPherson, Rowe 1969 for the
    recursive integration]. One look (a fixed design): z / sqrt(t_1) and the usual z interval."""
    naive = z / math.sqrt(fractions[-1])
    width = 4.0 / math.sqrt(fractions[0])  # a few SDs of the first look's estimate of the drift

    def solve(q: float) -> float:
        lo, hi = naive - width, naive + width
        while stagewise_tail(lo, z, bounds, fractions) > q:
            lo -= width
        while stagewise_tail(hi, z, bounds, fractions) < q:
            hi += width
        return float(optimize.brentq(lambda d: stagewise_tail(d, z, bounds, fractions) - q, lo, hi, xtol=1e-9))

    tail = (1.0 - ci_level) / 2.0
    return solve(0.5), solve(tail), solve(1.0 - tail)


@dataclass(frozen=True)
class SequentialDesign:
    """The look schedule of a sequential experiment and each look's two-sided boundary at one level."""

    max_runs_per_variant: int
    runs_per_look: int
    alpha: float
    spending: str
    runs_at_look: tuple[int, ...]  # runs per variant at look 1..K
    fractions: tuple[float, ...]
    cumulative_alpha: tuple[float, ...]
    z_bounds: tuple[float, ...]
    nominal_p: tuple[float, ...]  # look j rejects when the t-test's two-sided p < nominal_p[j]

    @property
    def looks(self) -> int:
        return len(self.runs_at_look)

    def t_bound(self, look: int, df: float) -> float:
        """The look's boundary on the t scale for ``df`` degrees of freedom (1-based look)."""
        p = self.nominal_p[look - 1]
        return float(sps.t.isf(p / 2.0, df)) if p > 0 else math.inf

    def paired_df(self, look: int) -> int:
        return self.runs_at_look[look - 1] - 1

    def schedule(self, *, paired: bool = True) -> list[dict[str, Any]]:
        """One row per look: runs per variant, alpha spent so far, nominal p and t boundary (paired: n - 1 df;
        independent seeds: the pooled 2n - 2 df Welch's df approaches with equal variances)."""
        rows = []
        for j, n in enumerate(self.runs_at_look, start=1):
            df = n - 1 if paired else 2 * n - 2
            rows.append(
                {
                    "look": j,
                    "runs_per_variant": n,
                    "alpha_spent": self.cumulative_alpha[j - 1],
                    "nominal_p": self.nominal_p[j - 1],
                    "t_bound": self.t_bound(j, df),
                    "df": df,
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "max_runs_per_variant": self.max_runs_per_variant,
                "runs_per_look": self.runs_per_look,
                "alpha": self.alpha,
                "spending": self.spending,
                "looks": self.looks,
                "runs_at_look": self.runs_at_look,
                "z_bounds": self.z_bounds,
                "nominal_p": self.nominal_p,
            }
        )


def check_schedule(max_runs_per_variant: int, runs_per_look: int) -> None:
    """Raise ValueError unless 2 <= k and N is a multiple of k (N / k looks)."""
    for name, v in (("max_runs_per_variant", max_runs_per_variant), ("runs_per_look", runs_per_look)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {v!r}")
    if runs_per_look < 2:
        raise ValueError(f"runs_per_look must be at least 2 (a t-test needs 2 runs per variant), got {runs_per_look}")
    if max_runs_per_variant < runs_per_look or max_runs_per_variant % runs_per_look:
        raise ValueError(
            f"max_runs_per_variant ({max_runs_per_variant}) must be a multiple of runs_per_look ({runs_per_look}), "
            f"e.g. {max(runs_per_look, (max_runs_per_variant // runs_per_look) * runs_per_look)} or "
            f"{(max_runs_per_variant // runs_per_look + 1) * runs_per_look}"
        )


@functools.lru_cache(maxsize=256, typed=True)  # typed: a cached (10, 5) must not let (10.0, 5) skip its check
def sequential_design(
    max_runs_per_variant: int, runs_per_look: int, alpha: float = DEFAULTS.alpha, spending: str = DEFAULT_SPENDING
) -> SequentialDesign:
    """The design with looks after k, 2k, ..., N runs per variant and its boundaries at two-sided ``alpha``."""
    check_schedule(max_runs_per_variant, runs_per_look)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    _spending_kind(spending)
    runs = tuple(range(runs_per_look, max_runs_per_variant + 1, runs_per_look))
    fractions = tuple(n / max_runs_per_variant for n in runs)
    cumulative = tuple(float(a) for a in spent_alpha(fractions, alpha, spending))
    increments = tuple(float(x) for x in np.diff(cumulative, prepend=0.0))
    z_bounds = _z_boundaries(fractions, increments)
    nominal = tuple(float(2.0 * sps.norm.sf(c)) for c in z_bounds)
    return SequentialDesign(
        max_runs_per_variant, runs_per_look, alpha, spending, runs, fractions, cumulative, z_bounds, nominal
    )


@dataclass(frozen=True)
class LookComparison:
    """One treatment against the control at one look."""

    treatment: str
    n_treatment: int
    n_control: int
    difference: float  # treatment - control (paired: mean of the differences; log-rank: of the Kaplan-Meier medians)
    statistic: float  # t (paired or Welch), or the log-rank statistic (positive: the treatment reaches it sooner)
    df: float
    p: float  # two-sided p of the look's test (paired t; Welch's t, by permutation where it can reach the level)
    level: float  # the nominal level it was held to (Holm-updated; NaN once decided earlier)
    tost_p: float
    decision: str  # better / worse / equivalent / continue / inconclusive (last look)
    decided_at: int | None  # the look of the decision, None while open
    p_method: str = T_DISTRIBUTION  # how p was computed: t distribution, exact permutation, permutation
    test: str = T_TEST  # t or logrank

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self.__dict__)


@dataclass(frozen=True)
class LookDecision:
    """The decision of one look: per comparison, and whether the experiment stops (and why)."""

    look: int
    runs_per_variant: int
    comparisons: tuple[LookComparison, ...]
    stop: bool
    reason: str  # decided / futility / max runs / continue
    open_variants: tuple[str, ...] = field(default=())  # variants that still need runs (control included)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "look": self.look,
                "runs_per_variant": self.runs_per_variant,
                "stop": self.stop,
                "reason": self.reason,
                "open_variants": list(self.open_variants),
                "comparisons": [c.to_dict() for c in self.comparisons],
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LookDecision:
        def num(x: Any) -> float:
            return math.nan if x is None else float(x)

        comps = tuple(
            LookComparison(
                **{k: c[k] for k in ("treatment", "decision", "decided_at")},
                **{k: int(c[k]) for k in ("n_treatment", "n_control")},
                **{k: num(c[k]) for k in ("difference", "statistic", "df", "p", "level", "tost_p")},
                p_method=c.get("p_method", T_DISTRIBUTION),  # looks.json written before p_method existed
                test=c.get("test", T_TEST),  # and before the log-rank looks
            )
            for c in data["comparisons"]
        )
        return cls(
            int(data["look"]), int(data["runs_per_variant"]), comps, bool(data["stop"]), str(data["reason"]),
            tuple(data.get("open_variants", ())),
        )  # fmt: skip


class _LookTest(NamedTuple):
    """A comparison's test at one look (the fields of LookComparison that do not depend on the others)."""

    n_treatment: int
    n_control: int
    difference: float
    statistic: float
    df: float
    p: float
    tost_p: float
    p_method: str
    test: str = T_TEST


def _test(t: np.ndarray, c: np.ndarray, paired: bool, min_effect: float | None, strictest_level: float) -> _LookTest:
    """One comparison at one look, on the runs scored so far.

    Unpaired, p is read off the permutation distribution of Welch's t (as the fixed design does) whenever
    that distribution can reach the look's strictest level: on skewed scores it is exact in level where
    Welch's t distribution is conservative, and so stops earlier. Seeded: a look is decided the same way
    every time.
    """
    units = _units(t, c, paired)
    tf, cf = units.t_finite, units.c_finite
    if min(tf.size, cf.size) < 2:
        return _LookTest(int(tf.size), int(cf.size), math.nan, math.nan, math.nan, math.nan, math.nan, T_DISTRIBUTION)
    res = _t_test(tf, cf, paired)
    p, method = res["p"], T_DISTRIBUTION
    if not paired and math.isfinite(p) and min_permutation_p(tf.size, cf.size) <= strictest_level:
        p, exact = welch_permutation_p(tf, cf, np.random.default_rng(_PERMUTATION_SEED))
        method = "exact permutation" if exact else "permutation"
    diff = float(np.mean(tf - cf)) if paired else float(np.mean(tf) - np.mean(cf))
    tp = tost(tf, cf, min_effect, paired=paired) if min_effect else math.nan
    return _LookTest(int(tf.size), int(cf.size), diff, res["statistic"], res["df"], p, tp, method)


def _time_test(t: np.ndarray, t_censored: np.ndarray, c: np.ndarray, c_censored: np.ndarray) -> _LookTest:
    """One comparison of times to a threshold at one look: the log-rank statistic with its permutation p
    (seeded, as the Welch look's), and the difference of the Kaplan-Meier medians (NaN where one is not
    reached) for the report."""
    n_t, n_c = int(np.count_nonzero(~np.isnan(t))), int(np.count_nonzero(~np.isnan(c)))
    if min(n_t, n_c) < 2:
        return _LookTest(n_t, n_c, math.nan, math.nan, math.nan, math.nan, math.nan, "exact permutation", LOGRANK)
    statistic, p, exact = logrank_permutation_p(t, t_censored, c, c_censored, np.random.default_rng(_PERMUTATION_SEED))
    medians = kaplan_meier(t, t_censored)["median"], kaplan_meier(c, c_censored)["median"]
    difference = medians[0] - medians[1] if all(math.isfinite(m) for m in medians) else math.nan
    method = "exact permutation" if exact else "permutation"
    return _LookTest(n_t, n_c, difference, statistic, math.nan, p, math.nan, method, LOGRANK)


def _better(test: _LookTest, sign: float) -> bool:
    """Whether a rejected comparison is "better": its difference in the metric's direction, or for times its
    log-rank statistic (positive: the treatment reaches the threshold sooner)."""
    return test.statistic > 0 if test.test == LOGRANK else sign * test.difference > 0


def holm_nominal_p(design: SequentialDesign, comparisons: int, rejected: int) -> tuple[float, ...]:
    """Each look's nominal level for an open comparison once `rejected` of `comparisons` are rejected: the design
    at alpha / (comparisons - rejected), the share of alpha Holm's step-down leaves it [MaurerBretz13]."""
    return sequential_design(
        design.max_runs_per_variant, design.runs_per_look, design.alpha / (comparisons - rejected), design.spending
    ).nominal_p


def decide_look(
    scores: Mapping[str, ArrayLike],
    design: SequentialDesign,
    look: int,
    settings: StatsSettings = DEFAULTS,
    *,
    control: str | None = None,
    history: Sequence[LookDecision] = (),
    control_scores: Mapping[str, ArrayLike] | None = None,
    censored: Mapping[str, ArrayLike] | None = None,
) -> LookDecision:
    """Decide look ``look`` (1-based) from the scores of all runs so far (index i = run/seed i; NaN = failed).

    ``history`` holds the decisions of looks 1..look-1 (what the sweep saved): a comparison decided there
    stays decided, and the Holm step-down re-tests the open ones at every earlier look with the level that
    rejections free [MaurerBretz13]. Deterministic: the same scores and history give the same decision.
    ``control_scores`` gives, per treatment, the control's scores to compare it with where they are not
    ``scores[control]`` (a suite's paired run means are over the tasks both runs of a pair have). Of
    ``settings`` the design (paired), the direction and ``min_effect`` count: alpha is the design's.
    ``censored`` (per variant, one flag per run) makes the scores times to a threshold, a flagged run censored
    at its time: the look decides with the log-rank test (``_time_test``), fewer steps better, whatever the
    direction, and without an equivalence stop.
    """
    if not 1 <= look <= design.looks:
        raise ValueError(f"look must be in 1..{design.looks}, got {look}")
    if len(history) != look - 1:
        raise ValueError(f"look {look} needs the decisions of the {look - 1} earlier look(s), got {len(history)}")
    sign = 1.0 if _direction(settings.direction) == "max" else -1.0
    names = list(scores)
    control = names[0] if control is None else control
    if control not in scores:
        raise ValueError(f"control {control!r} is not one of the variants {names}")
    treatments = [v for v in names if v != control]
    if not treatments:
        raise ValueError("a comparison needs at least two variants")
    m = len(treatments)
    n_look = design.runs_at_look[look - 1]
    c_of = {v: _as_1d((control_scores or {}).get(v, scores[control]))[:n_look] for v in treatments}
    if censored is not None and control_scores is not None:
        raise ValueError("times to a threshold (censored) are compared on the variants' own runs, not control_scores")
    previous = {c.treatment: c for c in history[-1].comparisons} if history else {}
    # p-values of every comparison at every look so far (earlier looks from the history)
    p_hist = {v: [next(c.p for c in h.comparisons if c.treatment == v) for h in history] for v in treatments}

    def nominal(j: int, rejected: int) -> float:
        return holm_nominal_p(design, m, rejected)[j]

    strictest = nominal(look - 1, 0)  # before Holm frees any alpha
    if censored is None:
        tests = {
            v: _test(_as_1d(scores[v])[:n_look], c_of[v], settings.paired, settings.min_effect, strictest)
            for v in treatments
        }
    else:
        flags = {v: np.asarray(censored[v], dtype=bool).reshape(-1)[:n_look] for v in names}
        tests = {v: _time_test(_as_1d(scores[v])[:n_look], flags[v], c_of[v], flags[control]) for v in treatments}
    for v in treatments:
        p_hist[v].append(tests[v].p)
    decision = {v: previous[v].decision if v in previous else CONTINUE for v in treatments}
    decided_at = {v: previous[v].decided_at if v in previous else None for v in treatments}
    levels = {v: math.nan for v in treatments}

    # Holm step-down: a rejection frees its share of alpha for the others, at every look so far
    while True:
        rejected = sum(d in (BETTER, WORSE) for d in decision.values())
        if rejected == m:
            break
        newly = False
        for v in treatments:
            if decision[v] != CONTINUE:
                continue
            levels[v] = nominal(look - 1, rejected)
            if any(math.isfinite(p) and p < nominal(j, rejected) for j, p in enumerate(p_hist[v])):
                decision[v] = BETTER if _better(tests[v], sign) else WORSE
                decided_at[v] = look
                newly = True
        if not newly:
            break
    last = look == design.looks
    for v in treatments:
        tp = tests[v].tost_p
        if decision[v] == CONTINUE and math.isfinite(tp) and tp < levels[v]:
            decision[v], decided_at[v] = EQUIVALENT, look
        elif decision[v] == CONTINUE and last:
            decision[v] = INCONCLUSIVE
    comps = []
    for v in treatments:
        comps.append(
            LookComparison(v, level=levels[v], decision=decision[v], decided_at=decided_at[v], **tests[v]._asdict())
        )
    open_t = [v for v in treatments if decision[v] == CONTINUE]
    if open_t:
        stop, reason = False, CONTINUE
    elif any(decision[v] == INCONCLUSIVE for v in treatments):
        stop, reason = True, STOP_MAX_RUNS
    elif any(decision[v] in (BETTER, WORSE) for v in treatments):
        stop, reason = True, STOP_DECIDED
    else:
        stop, reason = True, STOP_FUTILITY
    open_variants = tuple([control, *open_t]) if open_t else ()
    return LookDecision(look, n_look, tuple(comps), stop, reason, open_variants)


def crossing(
    history: Sequence[LookDecision], treatment: str, at: int, design: SequentialDesign
) -> tuple[int, LookComparison, float]:
    """For a comparison decided at look `at` (better/worse): the look whose p crossed its boundary, its comparison
    and that boundary. Mostly look `at` itself; but once another comparison's rejection frees its share of alpha,
    `decide_look` tests an open comparison again at every look so far, so it may be decided by an earlier look's p
    below that look's boundary at the freed level, with its own p above the current one."""
    path = [next(c for c in h.comparisons if c.treatment == treatment) for h in history[:at]]
    deciding = path[-1]
    if deciding.p < deciding.level:
        return at, deciding, deciding.level
    m = len(history[at - 1].comparisons)
    for rejected in range(m):  # the level the deciding pass used is that of alpha / (m - rejected)
        freed = holm_nominal_p(design, m, rejected)
        if math.isclose(freed[at - 1], deciding.level, rel_tol=1e-9):
            look = next((j for j, c in enumerate(path, 1) if c.p < freed[j - 1]), at)
            return look, path[look - 1], freed[look - 1]
    return at, deciding, deciding.level


def run_sequential(
    scores: Mapping[str, ArrayLike],
    design: SequentialDesign,
    settings: StatsSettings = DEFAULTS,
    *,
    control: str | None = None,
    censored: Mapping[str, ArrayLike] | None = None,
) -> list[LookDecision]:
    """Replay the looks on complete data (N runs per variant known up front: simulations, tests): the decisions
    of every look until the experiment stops. A variant whose comparison is decided gets no more runs, which
    the replay respects (its later scores are never seen). ``censored``: times to a threshold, as in ``decide_look``."""
    history: list[LookDecision] = []
    cut = {v: design.max_runs_per_variant for v in scores}
    data = {v: _as_1d(s) for v, s in scores.items()}
    for look in range(1, design.looks + 1):
        visible = {v: data[v][: cut[v]] for v in data}
        decision = decide_look(visible, design, look, settings, control=control, history=history, censored=censored)
        history.append(decision)
        if decision.stop:
            break
        n = decision.runs_per_variant
        for v in data:
            if v not in decision.open_variants:
                cut[v] = min(cut[v], n)
    return history


def runs_used(history: Sequence[LookDecision], variants: Sequence[str]) -> dict[str, int]:
    """Runs per variant a sequential experiment launched, from its look decisions."""
    used = dict.fromkeys(variants, 0)
    for i, h in enumerate(history):
        launched = variants if i == 0 else history[i - 1].open_variants
        for v in launched:
            used[v] = h.runs_per_variant
    return used


@dataclass(frozen=True)
class EarlyStopEstimate:
    """A comparison decided before the last look: the observed difference and the median-unbiased one."""

    look: int  # the look that decided it
    naive: float  # the difference at that look (treatment - control)
    median_unbiased: float
    ci: tuple[float, float]
    ci_level: float

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({**self.__dict__, "method": EARLY_STOP_METHOD})


#: How ``early_stop_estimate`` adjusts (summary.json says it beside the numbers).
EARLY_STOP_METHOD = (
    "median-unbiased estimate and CI under the stage-wise ordering; each look's p read as a normal z, "
    "information proportional to the runs per variant"
)
#: Why a log-rank decision after an early stop gets no median-unbiased estimate (summary.txt and .json say it).
LOGRANK_NOT_ADJUSTED = (
    "no bias-adjusted estimate: the stage-wise adjustment needs the looks' statistic as a normal estimate of one "
    "effect with information proportional to the runs, which the hazard ratio of a log-rank look is not (its "
    "information is the runs that reached the threshold); read the hazard ratio after an early stop as overstated"
)
_SMALLEST_P = 1e-300  # a p that underflowed to 0 is read as this (z = 37)


def early_stop_estimate(
    history: Sequence[LookDecision], treatment: str, design: SequentialDesign, ci_level: float = DEFAULTS.ci_level
) -> EarlyStopEstimate | None:
    """For a comparison decided "better" or "worse" before the design's last look, the median-unbiased
    difference and its CI under the stage-wise ordering (``stagewise_estimate``); None otherwise.

    The looks are read as the boundaries read them: look j's two-sided p as z_j = Phi^-1(1 - p_j / 2) (signed
    as the difference), its boundary as the z of the level the comparison was held to there (Holm-updated),
    information proportional to the runs per variant. The drift scale becomes a difference through the
    standard error the deciding look's p implies (difference / z), so that with one look the estimate is the
    observed difference. An equivalence stop is not adjusted (futility is non-binding: the boundaries ignore it),
    nor a log-rank decision (``LOGRANK_NOT_ADJUSTED``).
    """
    if not history:
        return None
    final = next(c for c in history[-1].comparisons if c.treatment == treatment)
    look = final.decided_at
    if final.decision not in (BETTER, WORSE) or look is None or look >= design.looks or final.test == LOGRANK:
        return None
    path = [next(c for c in h.comparisons if c.treatment == treatment) for h in history[:look]]
    deciding = path[-1]
    z = math.copysign(float(sps.norm.isf(max(deciding.p, _SMALLEST_P) / 2.0)), deciding.difference)
    bounds = [float(sps.norm.isf(c.level / 2.0)) for c in path[:-1]]
    fractions = design.fractions[:look]
    to_difference = math.sqrt(fractions[-1]) * deciding.difference / z  # drift -> difference
    median, low, high = (d * to_difference for d in stagewise_estimate(z, bounds, fractions, ci_level))
    return EarlyStopEstimate(look, deciding.difference, median, (low, high), ci_level)
