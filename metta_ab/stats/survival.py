"""Time to a threshold, with censoring: a run that ends without reaching the threshold is censored at its last
step (it would have needed at least that long), never averaged and never dropped [Colas19].

Per variant: the Kaplan-Meier estimate of the fraction of runs still short of the threshold at each step
(``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``), the median time to threshold read off it, with the
confidence interval of Brookmeyer and Crowley (the steps where the pointwise log-log CI of the survival
function contains 1/2) [BrookmeyerCrowley82]. Per comparison: the log-rank statistic (``scipy.stats.logrank``)
with its permutation p decides, fewer steps being better [Peto72] (the normal p is liberal at a few runs per
variant, A/A 0.07-0.08 at 5-6 runs; the permutation p keeps alpha at any N); the hazard ratio beside it,
the effect size a reader of a log-rank p expects, from Cox's partial likelihood with one binary covariate
(the treatment), Efron's handling of tied steps and a Wald CI on the log scale [Cox72; Efron77] (what
lifelines' ``CoxPHFitter`` computes: descriptive, a large-sample interval that the report says can disagree
with the exact test that decides); and the hazard ratio the test can detect with 80% power from the number
of runs that reached the threshold (Schoenfeld's formula) [Schoenfeld81]. The "hazard" is the rate of
reaching the threshold: a hazard ratio above 1 means the treatment reaches it sooner.

References:
  [Cox72] Cox 1972, "Regression Models and Life-Tables", JRSS B 34.
  [Efron77] Efron 1977, "The Efficiency of Cox's Likelihood Function for Censored Data", JASA 72.
  [BrookmeyerCrowley82] Brookmeyer, Crowley 1982, "A Confidence Interval for the Median Survival Time".
  [Peto72] Peto, Peto 1972, "Asymptotically Efficient Rank Invariant Test Procedures".
  [Schoenfeld81] Schoenfeld 1981, "The asymptotic properties of nonparametric tests for comparing survival
    distributions".
"""

from __future__ import annotations

import math
import warnings as _warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from metta_ab.stats._common import _NAN_CI, _as_1d, _check_level, _jsonable, _pad
from metta_ab.stats.compare import Comparison, _empty_comparison, decide
from metta_ab.stats.describe import VariantStats, describe
from metta_ab.stats.power import DEFAULT_POWER
from metta_ab.stats.settings import DEFAULTS, StatsSettings
from metta_ab.stats.significance import (
    _quantized,
    failure_rate_test,
    min_permutation_p,
    relabellings,
    unscored_rate_note,
)


def _observed(times: ArrayLike, censored: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The runs with a time (NaN = failed run, left out), and whether each was censored."""
    t, cens = _as_1d(times), np.asarray(censored, dtype=bool).reshape(-1)
    if cens.shape != t.shape:
        raise ValueError(f"censored has shape {cens.shape}, times {t.shape}")
    keep = ~np.isnan(t)
    return t[keep], cens[keep]


def _censored_data(times: np.ndarray, censored: np.ndarray) -> sps.CensoredData:
    return sps.CensoredData(uncensored=times[~censored], right=times[censored])


def kaplan_meier(times: ArrayLike, censored: ArrayLike, ci_level: float = DEFAULTS.ci_level) -> dict[str, Any]:
    """Kaplan-Meier estimate of P(time to threshold > step), at each distinct step, with its log-log CI.

    ``times``: per run, the first step at the threshold, or the last step for a censored run (NaN: a run
    without a time, left out). Returns steps, survival, low, high (arrays) and the median with its CI;
    the median is inf when fewer than half of the runs reached the threshold (not reached), and so may
    be the CI's upper end.
    """
    _check_level("ci_level", ci_level)
    t, cens = _observed(times, censored)
    empty = {"steps": np.empty(0), "survival": np.empty(0), "low": np.empty(0), "high": np.empty(0)}
    if t.size == 0:
        return {**empty, "median": math.nan, "median_ci": _NAN_CI}
    if (~cens).sum() == 0:  # nobody reached it: the curve stays at 1
        return {**empty, "median": math.inf, "median_ci": (float(t.max()), math.inf)}
    sf = sps.ecdf(_censored_data(t, cens)).sf
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)  # undefined where the survival is 0 or 1
        band = sf.confidence_interval(ci_level, method="log-log")
    steps, survival = np.asarray(sf.quantiles, float), np.asarray(sf.probabilities, float)
    low = np.where(np.isfinite(band.low.probabilities), band.low.probabilities, survival)
    high = np.where(np.isfinite(band.high.probabilities), band.high.probabilities, survival)
    return {
        "steps": steps,
        "survival": survival,
        "low": low,
        "high": high,
        "median": _first_below_half(steps, survival),
        # the steps whose pointwise band contains 1/2: from where the lower band first reaches it to
        # where the upper band drops below it
        "median_ci": (_first_below_half(steps, low), _first_below_half(steps, high, strictly=True)),
    }


def _first_below_half(steps: np.ndarray, curve: np.ndarray, strictly: bool = False) -> float:
    below = np.flatnonzero(curve < 0.5 - 1e-12 if strictly else curve <= 0.5 + 1e-12)
    return float(steps[below[0]]) if below.size else math.inf


def detectable_hazard_ratio(events: int, n_treatment: int, n_control: int, alpha: float = DEFAULTS.alpha) -> float:
    """Smallest hazard ratio the two-sided log-rank test detects with 80% power given ``events`` runs that
    reached the threshold: exp((z_{1-alpha/2} + z_power) / sqrt(events p (1 - p))), p the treatment's share
    of the runs [Schoenfeld81]. NaN without events."""
    share = n_treatment / (n_treatment + n_control) if n_treatment + n_control else math.nan
    if events < 1 or not 0 < share < 1:
        return math.nan
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(DEFAULT_POWER)
    return float(math.exp(z / math.sqrt(events * share * (1 - share))))


#: How ``cox_hazard_ratio`` estimates (summary.json says it beside the number).
HAZARD_RATIO_METHOD = "Cox partial likelihood, Efron ties, Wald CI; > 1: the treatment reaches the threshold sooner"


def _risk_sets(times: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct step at which some run reached the threshold (rows) and per run (columns): whether the run
    was still at risk there (its time at or after the step) and whether it reached the threshold there."""
    steps = np.unique(times[~censored])
    at_risk = times[None, :] >= steps[:, None]
    reached = (times[None, :] == steps[:, None]) & ~censored[None, :]
    return at_risk, reached


def _efron_terms(
    t: np.ndarray, t_cens: np.ndarray, c: np.ndarray, c_cens: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The treatment's events in all, then one term per event of every distinct event step (d tied events give
    d terms, l = 0..d-1): Efron's weighted risk sets n_t - (l/d) d_t and n_c - (l/d) d_c, and the step's
    at-risk counts n_t and n_c."""
    at_risk, reached = _risk_sets(np.concatenate([t, c]), np.concatenate([t_cens, c_cens]))
    n_t, n_c = at_risk[:, : t.size].sum(axis=1), at_risk[:, t.size :].sum(axis=1)
    d_t, d_c = reached[:, : t.size].sum(axis=1), reached[:, t.size :].sum(axis=1)
    d = d_t + d_c
    share = np.concatenate([np.arange(k) / k for k in d])  # l / d for each of a step's d events
    rep = np.repeat(np.arange(d.size), d)
    risk_t, risk_c = n_t[rep] - share * d_t[rep], n_c[rep] - share * d_c[rep]
    return int(d_t.sum()), risk_t, risk_c, n_t[rep], n_c[rep]


def _efron_log_likelihood(
    beta: float, events_t: int, risk_t: np.ndarray, risk_c: np.ndarray
) -> tuple[float, float, float]:
    """Cox's partial log-likelihood with Efron's ties at log hazard ratio ``beta``, its score and information
    (for one binary covariate the weight of the treatment in a risk set, m, gives both: sum m, sum m (1 - m))."""
    with np.errstate(over="ignore"):
        weighted = risk_t * math.exp(beta)
    total = weighted + risk_c
    m = weighted / total
    return float(events_t * beta - np.log(total).sum()), float(events_t - m.sum()), float((m * (1 - m)).sum())


def cox_hazard_ratio(
    treatment: ArrayLike,
    treatment_censored: ArrayLike,
    control: ArrayLike,
    control_censored: ArrayLike,
    ci_level: float = DEFAULTS.ci_level,
    *,
    treatment_name: str = "treatment",
    control_name: str = "control",
) -> dict[str, Any]:
    """The treatment's hazard ratio of reaching the threshold against the control (> 1: sooner), from Cox's
    partial likelihood with Efron's ties (Newton-Raphson), with its Wald CI at ``ci_level``.

    Returns ``estimate``, ``ci`` and ``note``: why there is no CI when the likelihood has no maximum. The
    estimate is infinite when no control run reached the threshold while a treatment run was still short of
    it (the likelihood rises for ever), 0 the other way round, NaN when no step had runs of both variants at
    risk and one of them reaching it.
    """
    _check_level("ci_level", ci_level)
    t, t_cens = _observed(treatment, treatment_censored)
    c, c_cens = _observed(control, control_censored)
    if (~t_cens).sum() + (~c_cens).sum() == 0:
        return {"estimate": math.nan, "ci": _NAN_CI, "note": "no run reached the threshold"}
    events_t, risk_t, risk_c, at_risk_t, at_risk_c = _efron_terms(t, t_cens, c, c_cens)
    # the score's limits at beta = +inf and -inf; zero: the likelihood rises for ever in that direction
    rises_up = events_t == np.count_nonzero(at_risk_t)
    rises_down = events_t == np.count_nonzero(at_risk_c == 0)
    if rises_up and rises_down:
        note = "no step had runs of both variants short of the threshold when one of them reached it"
        return {"estimate": math.nan, "ci": _NAN_CI, "note": note}
    if rises_up or rises_down:
        first, second, second_events = (
            (treatment_name, control_name, (~c_cens).sum()) if rises_up else (control_name, treatment_name, events_t)
        )
        note = (
            f"no {second} run reached the threshold"
            if second_events == 0
            else f"no {second} run reached the threshold while a {first} run was still short of it"
        )
        return {"estimate": math.inf if rises_up else 0.0, "ci": _NAN_CI, "note": note}
    beta = 0.0
    loglik, score, information = _efron_log_likelihood(beta, events_t, risk_t, risk_c)
    for _ in range(100):
        step = score / information
        while True:  # the log-likelihood is concave: halve a step that overshoots
            trial = _efron_log_likelihood(beta + step, events_t, risk_t, risk_c)
            if trial[0] >= loglik - 1e-12 or abs(step) < 1e-12:
                break
            step /= 2
        beta += step
        loglik, score, information = trial
        if abs(step) < 1e-10:
            break
    half = sps.norm.ppf(0.5 + ci_level / 2) / math.sqrt(information)
    return {"estimate": math.exp(beta), "ci": (math.exp(beta - half), math.exp(beta + half)), "note": None}


#: The log-rank statistic is counted in units of this: relabellings with mathematically equal statistics tie.
_Z_UNIT = 1e-9


def _logrank_z(at_risk: np.ndarray, reached: np.ndarray, first_groups: np.ndarray) -> np.ndarray:
    """The log-rank statistic (O - E) / sqrt(V) of the first group against the rest, for each row of
    ``first_groups`` (indices of the pooled runs in the first group) [Peto72]: per step with d of n runs reaching
    the threshold, E adds d n_1 / n and V adds d (n_1 / n)(1 - n_1 / n)(n - d) / (n - 1), n_1 the first group's
    runs at risk (the hypergeometric variance: ties are handled as ``scipy.stats.logrank`` does). Positive when
    the first group reaches the threshold more often than expected, that is sooner. A relabelling whose V is 0
    (no step had runs of both groups at risk) counts as infinitely extreme in the direction of O - E."""
    n, d = at_risk.sum(axis=1).astype(float), reached.sum(axis=1).astype(float)
    labels = np.zeros((first_groups.shape[0], at_risk.shape[1]))
    np.put_along_axis(labels, first_groups, 1.0, axis=1)
    n_1 = labels @ at_risk.T  # relabellings x steps
    share = n_1 / n
    observed_minus_expected = labels @ reached.sum(axis=0) - share @ d
    variance = (share * (1.0 - share)) @ (d * (n - d) / np.maximum(n - 1.0, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(
            variance > 0, observed_minus_expected / np.sqrt(variance), np.sign(observed_minus_expected) * np.inf
        )
    return np.nan_to_num(z, nan=0.0)


def logrank_permutation_p(
    treatment: ArrayLike,
    treatment_censored: ArrayLike,
    control: ArrayLike,
    control_censored: ArrayLike,
    rng: np.random.Generator,
) -> tuple[float, float, bool]:
    """The log-rank statistic of the treatment against the control (positive: the treatment reaches the threshold
    sooner; ``scipy.stats.logrank``'s) and its two-sided p from its permutation distribution: the variant labels
    relabelled over the pooled runs (``relabellings``: every split when there are at most
    ``EXACT_PERMUTATION_LIMIT``, else ``PERMUTATION_RESAMPLES`` seeded random ones), twice the smaller tail as
    ``scipy.stats.permutation_test`` gives it (the random case counts the observed labelling once more). Exact in
    level when the variants do not differ and censoring does not depend on the variant, at any number of runs,
    where the normal approximation of the log-rank p is liberal at a few runs per variant. Returns the statistic,
    p and whether every relabelling was enumerated; NaN statistic and p when no run reached the threshold."""
    t, t_cens = _observed(treatment, treatment_censored)
    c, c_cens = _observed(control, control_censored)
    if (~t_cens).sum() + (~c_cens).sum() == 0:
        return math.nan, math.nan, True
    at_risk, reached = _risk_sets(np.concatenate([t, c]), np.concatenate([t_cens, c_cens]))
    first_groups, exact = relabellings(t.size + c.size, t.size, rng)
    statistic = float(_logrank_z(at_risk, reached, np.arange(t.size)[None, :])[0])
    observed = _quantized(np.asarray(statistic), _Z_UNIT)
    null = _quantized(_logrank_z(at_risk, reached, first_groups), _Z_UNIT)
    extra = 0 if exact else 1
    tail = (min(np.count_nonzero(null <= observed), np.count_nonzero(null >= observed)) + extra) / (null.size + extra)
    return statistic, float(min(1.0, 2.0 * tail)), exact


def time_summary(times: ArrayLike, censored: ArrayLike, ci_level: float = DEFAULTS.ci_level) -> dict[str, Any]:
    """JSON-ready description of one variant's times to threshold: counts, KM median with CI, the KM curve
    (as the fraction of runs that had reached the threshold by each step)."""
    t, cens = _observed(times, censored)
    km = kaplan_meier(t, cens, ci_level)
    return _jsonable(
        {
            "reached": int((~cens).sum()),
            "censored": int(cens.sum()),
            "median": km["median"] if math.isfinite(km["median"]) else None,
            "median_reached": bool(math.isfinite(km["median"])),
            "median_ci": list(km["median_ci"]),
            "median_ci_upper_reached": bool(math.isfinite(km["median_ci"][1])),
            "km_steps": km["steps"],
            "km_fraction_reached": 1.0 - km["survival"],
        }
    )


def describe_times(times: ArrayLike, censored: ArrayLike, settings: StatsSettings = DEFAULTS) -> VariantStats:
    """A variant's times to threshold: the mean, SD and IQM (and their bootstrap CIs) only when no run is
    censored (else NaN: a censored time is a lower bound); the median is always Kaplan-Meier's."""
    t_all = _as_1d(times)
    cens_all = np.asarray(censored, dtype=bool).reshape(-1)
    ci_level = settings.ci_level
    plain = describe(t_all, settings)
    summary = time_summary(t_all, cens_all, ci_level)
    km = kaplan_meier(t_all, cens_all, ci_level)
    any_censored = bool(cens_all[~np.isnan(t_all)].any())
    nan2 = (math.nan, math.nan)
    return VariantStats(
        n=plain.n,
        n_failed=plain.n_failed,
        mean=math.nan if any_censored else plain.mean,
        sd=math.nan if any_censored else plain.sd,
        median=km["median"],
        iqm=math.nan if any_censored else plain.iqm,
        mean_ci=nan2 if any_censored else plain.mean_ci,
        sd_ci=nan2 if any_censored else plain.sd_ci,
        median_ci=km["median_ci"],
        iqm_ci=nan2 if any_censored else plain.iqm_ci,
        ci_level=ci_level,
        values=plain.values,
        time_to_threshold=summary,
    )


def compare_times(
    treatment: ArrayLike,
    treatment_censored: ArrayLike,
    control: ArrayLike,
    control_censored: ArrayLike,
    settings: StatsSettings = DEFAULTS,
    *,
    treatment_name: str = "treatment",
    control_name: str = "control",
) -> Comparison:
    """Times to threshold of a treatment against the control: the log-rank test decides, fewer steps better.

    ``difference`` is the difference of the Kaplan-Meier medians (NaN when either was not reached); the
    log-rank statistic (scipy's) is positive when the treatment reaches the threshold sooner. ``p_value`` is
    its permutation p (``logrank_permutation_p``, seeded with ``settings.seed``; ``p_method`` says whether every
    relabelling was enumerated); scipy's normal-approximation p stays in ``time_to_threshold["normal_p"]``,
    for comparison with other tools. The test compares the two groups of runs (it does not use the pairing of
    seeds). Of ``settings`` it uses the design, alpha, the CI level and the seed: fewer steps are better
    whatever its direction says, and its ``min_effect`` does not apply.
    """
    paired, alpha, ci_level = settings.paired, settings.alpha, settings.ci_level
    _check_level("alpha", alpha)
    t_all, c_all = _as_1d(treatment), _as_1d(control)
    t, t_cens = _observed(t_all, treatment_censored)
    c, c_cens = _observed(c_all, control_censored)
    notes: list[str] = []
    failure_p = failure_rate_test(int(t_all.size - t.size), int(t_all.size), int(c_all.size - c.size), int(c_all.size))
    if failure_p < alpha:
        notes.append(
            unscored_rate_note(
                treatment_name,
                t_all.size - t.size,
                t_all.size,
                control_name,
                c_all.size - c.size,
                c_all.size,
                failure_p,
            )
        )
    km_t, km_c = kaplan_meier(t, t_cens, ci_level), kaplan_meier(c, c_cens, ci_level)
    medians = km_t["median"], km_c["median"]
    difference = medians[0] - medians[1] if all(math.isfinite(m) for m in medians) else math.nan
    events = int((~t_cens).sum() + (~c_cens).sum())
    hazard_ratio = cox_hazard_ratio(
        t, t_cens, c, c_cens, ci_level, treatment_name=treatment_name, control_name=control_name
    )
    summary = {
        "treatment": time_summary(t, t_cens, ci_level),
        "control": time_summary(c, c_cens, ci_level),
        "median_difference": difference,
        "events": events,
        "hazard_ratio": {
            **hazard_ratio,
            "infinite": hazard_ratio["estimate"] == math.inf,  # the estimate itself is null in JSON then
            "method": HAZARD_RATIO_METHOD,
        },
        "detectable_hazard_ratio": detectable_hazard_ratio(events, t.size, c.size, alpha),
        "detectable_hazard_ratio_note": "the speed-up (ratio of the rates of reaching the threshold) the log-rank test "
        "detects with 80% power at this number of runs that reached it",
    }
    base: dict[str, Any] = {
        "treatment": treatment_name,
        "control": control_name,
        "paired": paired,
        "direction": "min",
        "alpha": alpha,
        "ci_level": ci_level,
        "min_effect": None,
        "n_treatment": int(t.size),
        "n_control": int(c.size),
        "test": "logrank",
        "t_test": "",
        "rank_test": "",
        "failure_p": failure_p,
        "difference": difference,
        "time_to_threshold": _jsonable(summary),
    }
    if paired:
        t_pad, c_pad = _pad(t_all, c_all)
        both = ~np.isnan(t_pad) & ~np.isnan(c_pad)
        base.update(n_pairs=int(both.sum()), pairs_dropped=int(both.size - both.sum()))
        notes.append("the log-rank test compares the two groups of runs; it does not use the pairing of seeds.")
    if t.size < 2 or c.size < 2:
        notes.append(f"insufficient data: {t.size} vs {c.size} runs with a time; at least 2 per variant are needed.")
        return _empty_comparison(warnings=tuple(notes), **base)
    if events == 0:
        notes.append("no run of either variant reached the threshold: there is nothing to compare.")
        return _empty_comparison(warnings=tuple(notes), **{**base, "verdict": "inconclusive"})
    with _warnings.catch_warnings(), np.errstate(all="ignore"):
        _warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.logrank(_censored_data(t, t_cens), _censored_data(c, c_cens))
    statistic = float(res.statistic)
    _, p_value, exact = logrank_permutation_p(t, t_cens, c, c_cens, np.random.default_rng(settings.seed))
    base["time_to_threshold"] = {**base["time_to_threshold"], "normal_p": _jsonable(float(res.pvalue))}
    if int(t_cens.sum() + c_cens.sum()):
        notes.append(
            f"{int(t_cens.sum())} {treatment_name} and {int(c_cens.sum())} {control_name} run(s) did not reach "
            "the threshold: they count as censored at their last step (they needed at least that long)."
        )
    effect_sign = -statistic if math.isfinite(statistic) else math.nan  # in steps: negative = sooner
    verdict = decide(effect_sign, p_value, n_treatment=t.size, n_control=c.size, direction="min", alpha=alpha)
    return _empty_comparison(
        statistic=statistic,
        p_value=p_value,
        p_adjusted=p_value,
        p_method="exact permutation" if exact else "permutation",
        exact_min_p=min_permutation_p(t.size, c.size),
        effect_sign=effect_sign,
        verdict=verdict,
        warnings=tuple(notes),
        **base,
    )


def censored_by_variant_ok(censored: Mapping[str, ArrayLike], values: Mapping[str, ArrayLike]) -> None:
    """``analyze``'s check: a censoring flag for exactly the runs of every variant."""
    for name, flags in censored.items():
        if name not in values:
            raise ValueError(f"censored names a variant {name!r} that has no values")
        if np.asarray(flags).reshape(-1).shape != _as_1d(values[name]).shape:
            raise ValueError(f"censored[{name!r}] does not have one flag per run")
