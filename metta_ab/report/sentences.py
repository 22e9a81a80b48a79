"""The verdict sentence of one comparison, as summary.txt, report pages and figures print it: the effect, the
CI of the test that decided, the p, the exact-test remark where it matters, and what the design could detect.
Every sentence is rendered from the Comparison's fields; nothing here computes a statistic."""

from __future__ import annotations

import math
from typing import Any

from metta_ab.stats import Comparison
from metta_ab.text_format import fmt_ci, fmt_p_relation, fmt_signed

TEST_NAMES = {
    "welch": "Welch",
    "paired_t": "paired t",
    "permutation": "exact permutation",
    "mann-whitney": "Mann-Whitney",
    "wilcoxon": "Wilcoxon",
    "logrank": "log-rank",
}


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def median_text(side: dict[str, Any], digits: int = 4) -> str:
    """ "median 300 [200, 500]" of one variant's ``time_to_threshold`` summary, or that it was not reached."""
    if side["median"] is None:
        return f"not reached ({side['reached']} of {side['reached'] + side['censored']} runs reached it)"
    lo, hi = side["median_ci"]
    hi_text = f"{hi:.{digits}g}" if hi is not None and side["median_ci_upper_reached"] else "not reached"
    lo_text = f"{lo:.{digits}g}" if lo is not None else "-"
    return f"median {side['median']:.{digits}g} [{lo_text}, {hi_text}]"


def medians_text(c: Comparison) -> str:
    """Both variants' Kaplan-Meier medians of a comparison of times to a threshold, with their CIs."""
    tt = c.time_to_threshold or {}
    return (
        f"{c.treatment} {median_text(tt['treatment'])} vs {c.control} {median_text(tt['control'])} steps "
        f"(Kaplan-Meier, {round(c.ci_level * 100)}% CI)"
    )


def hazard_ratio_text(c: Comparison) -> str:
    """ "hazard ratio 3.1 [1.2, 8] (95% CI, Cox; > 1: B reaches it sooner)", or why there is no number or no CI."""
    ratio = (c.time_to_threshold or {})["hazard_ratio"]
    if ratio["infinite"] or ratio["estimate"] == 0:
        return f"hazard ratio {'infinite' if ratio['infinite'] else '0'} ({ratio['note']}; no CI)"
    if ratio["estimate"] is None:
        return f"no hazard ratio ({ratio['note']})"
    return (
        f"hazard ratio {ratio['estimate']:.3g} {fmt_ci(ratio['ci'])} ({round(c.ci_level * 100)}% CI, Cox; > 1: "
        f"{c.treatment} reaches it sooner)"
    )


def _hazard_ratio_disagreement(c: Comparison) -> str:
    """Where the hazard ratio's Wald CI and the verdict disagree on "no difference" (the CI excludes 1 and the
    verdict is inconclusive, or the other way round), which of them decided and why they can differ: the
    permutation p is exact in level, the Wald CI a large-sample approximation (and no permutation test of a
    hazard ratio other than 1 exists to invert, relabelling runs only tests "no difference")."""
    ratio = (c.time_to_threshold or {})["hazard_ratio"]
    low, high = ratio["ci"]
    if not _finite(low, high) or (low > 1 or high < 1) == (c.verdict in ("better", "worse")):
        return ""
    ci_says = "excludes" if low > 1 or high < 1 else "contains"
    return (
        f" The verdict follows the log-rank test; the hazard ratio's CI {ci_says} 1 because it is Cox's large-sample "
        f"(Wald) interval, approximate at {c.n_treatment} and {c.n_control} runs, where the permutation p is exact."
    )


def reaches_it(verdict: str) -> str:
    """What "better" and "worse" mean for times to a threshold."""
    return f"reaches it {'sooner' if verdict == 'better' else 'later'}"


def time_verdict_sentence(c: Comparison, metric: str) -> str:
    """The sentence of a log-rank comparison of times to a threshold (fewer steps is better)."""
    tt = c.time_to_threshold or {}
    method = f", {c.p_method}" if c.p_method else ""
    p_text = f"log-rank{method} p{fmt_p_relation(c.p_value)}"
    if c.family_size >= 2 and _finite(c.p_adjusted):
        p_text += f", Holm-adjusted p{fmt_p_relation(c.p_adjusted)}"
    evidence = f"{medians_text(c)}, {p_text}, {hazard_ratio_text(c)}"
    if c.verdict in ("better", "worse"):
        head = f"{c.treatment} is {c.verdict} than {c.control} on {metric} ({reaches_it(c.verdict)}): {evidence}."
    elif c.verdict == "insufficient data":
        return f"{c.treatment} vs {c.control}: not enough completed runs to test (at least 2 per variant are needed)."
    else:
        head = f"Inconclusive: {c.treatment} vs {c.control} on {metric}: {evidence}."
    head += _hazard_ratio_disagreement(c) + _exact_tests_remark(c, "log-rank")
    ratio = tt.get("detectable_hazard_ratio")
    if ratio is None:
        return head
    return head + (
        f" With {tt['events']} runs reaching the threshold this experiment could only reliably detect one "
        f"variant reaching it {ratio:.2g} times as fast (hazard ratio)."
    )


def _exact_tests_remark(c: Comparison, test: str) -> str:
    """Where it matters, that no exact test can reach alpha at this N: a significant t-test stands alone, and an
    exact test that decides cannot call a difference."""
    if not (_finite(c.exact_min_p) and c.exact_min_p >= c.alpha):
        return ""
    if c.test in ("paired_t", "welch") and c.verdict in ("better", "worse"):
        consequence = f"the verdict rests on the {'paired t' if c.paired else 'Welch t'}-test"
    elif c.test in ("permutation", "wilcoxon", "mann-whitney", "logrank"):
        consequence = f"the {test} test cannot call a difference at this N"
    else:
        return ""
    if c.paired:
        zeros = f"{c.zero_differences} with a zero difference; " if c.zero_differences else ""
        design = f"{c.n_pairs} pairs ({zeros}"
    else:
        each = c.n_treatment == c.n_control
        design = f"{c.n_control} runs each (" if each else f"{c.n_treatment} and {c.n_control} runs ("
    return (
        f" No exact test can reach p < {c.alpha:g} with {design}smallest possible p = {c.exact_min_p:.4g}): "
        f"{consequence}."
    )


#: How each kind of ``difference_ci_method`` is computed, in words.
CI_METHODS = {
    "welch_t": "Welch t",
    "paired_t": "paired t",
    "permutation_inversion": "the shifts the permutation test does not reject",
}


def interval_text(c: Comparison) -> str:
    """The CI of the difference as the sentence gives it, with how it was computed and, beside a Holm-adjusted
    p, the adjustment: "95% CI adjusted for 3 comparisons [0.2, 1.4] (Holm: at the 98.3% level; paired t)"."""
    if c.difference_ci_method not in CI_METHODS:
        return "no CI (none agrees with the rank test)"
    level = f"{round(c.ci_level * 100)}% CI"
    how = CI_METHODS[c.difference_ci_method]
    if c.family_size >= 2 and _finite(c.p_adjusted):
        level += f" adjusted for {c.family_size} comparisons"
        how = f"Holm: at the {100 * c.difference_ci_level:.3g}% level; {how}"
    return f"{level} {fmt_ci(c.difference_ci)} ({how})"


def verdict_sentence(c: Comparison, metric: str) -> str:
    """One plain sentence: the verdict, the effect with its CI and test, and what the seed count allows."""
    if c.test == "logrank":
        return time_verdict_sentence(c, metric)
    pct = "" if math.isnan(c.difference_pct) else f" ({abs(c.difference_pct):.0f}%)"
    amount = f"{abs(c.difference):.3g}{pct}"
    level = round(c.ci_level * 100)
    test = TEST_NAMES.get(c.test, c.test)
    if c.test == "welch" and c.p_method.endswith("permutation"):
        test = f"Welch t, {c.p_method}"  # p from the permutation distribution of Welch's t
    p_text = f"{test} p{fmt_p_relation(c.p_value)}"
    if c.family_size >= 2 and _finite(c.p_adjusted):
        p_text += f", Holm-adjusted p{fmt_p_relation(c.p_adjusted)}"
    evidence = f"difference {fmt_signed(c.difference)}, {interval_text(c)}, {p_text}"
    if c.verdict in ("better", "worse") and c.below_min_effect:
        head = (
            f"{c.treatment} is {c.verdict} than {c.control} on {metric} by {amount}, a negligible difference (the "
            f"whole {level}% CI lies within ±{c.min_effect:g}, the smallest difference declared to matter): "
            f"{evidence}."
        )
    elif c.verdict in ("better", "worse"):
        head = f"{c.treatment} is {c.verdict} than {c.control} on {metric} by {amount}: {evidence}."
    elif c.verdict == "equivalent":
        head = (
            f"{c.treatment} and {c.control} show no meaningful difference on {metric} "
            f"(within ±{c.min_effect:g}, equivalence test passed): {evidence}."
        )
    elif c.verdict == "insufficient data":
        return f"{c.treatment} vs {c.control}: not enough completed runs to test (at least 2 per variant are needed)."
    else:
        head = f"Inconclusive: {c.treatment} vs {c.control} on {metric}: {evidence}."
    head += _exact_tests_remark(c, test)
    n = c.n_pairs if c.paired and c.n_pairs else min(c.n_treatment, c.n_control)
    if not _finite(c.mde):
        return head + f" With {n} seeds per variant the detectable difference cannot be estimated (no variance)."
    power = f" With {n} seeds per variant this experiment could only reliably detect differences above {c.mde:.3g}"
    if _finite(c.mde_d):  # standardized as the test is: by the pair differences' SD (d_z), else the pooled SD (d)
        power += f" (d_z = {c.mde_d:.2f} SD of the pair differences)" if c.paired else f" (d = {c.mde_d:.2f} pooled SD)"
    if c.runs_needed:
        target = (
            "the observed effect" if c.runs_needed_for == "observed effect" else f"a difference of {c.min_effect:g}"
        )
        power += f"; about {c.runs_needed} seeds per variant would detect {target}."
    else:
        power += "."
    return head + power
