"""Statistics of the A/B verdict, one idea per module (``shared/reference/stats-spec.md``):

  curves.py        one number per run from its learning curve: final, AUC, time to a threshold
  describe.py      per variant: mean, SD, median, IQM with percentile bootstrap CIs
  compare.py       one treatment against the control: difference, decision test, effect sizes, verdict
  significance.py  permutation and rank tests, TOST equivalence, Holm, Fisher's failure-rate test
  power.py         power of the t-tests: seeds needed, minimum detectable effect
  survival.py      censored times to a threshold: Kaplan-Meier medians, the log-rank test (and its permutation
                   p, which the sequential looks use)
  sequential.py    group-sequential looks: alpha-spending boundaries for the t-tests (or the log-rank test of
                   times to a threshold), each look's decision
  bootstrap.py     the vectorized resampling both description and comparison use
  settings.py      ``StatsSettings``: design, direction, alpha, CI level, resamples, seed, min_effect as one
                   value, and their defaults (the only place they are written)
  family.py        ``analyze``: all variants, every treatment against the control, Holm across them
  suite_normalization.py  a suite's scores per task on one scale: declared (low, high) or the control's mean
  suite_aggregates.py     IQM, mean, median, optimality gap, P(improvement), performance profiles of
                          normalized scores, with stratified bootstrap CIs
  suite.py         ``analyze_suite``: all of a suite, and the aggregate verdict from the runs' mean normalized
                   scores

All functions are pure: they take numpy arrays (NaN marks a failed run; index ``i`` is run/seed ``i``) and one
``StatsSettings`` value (not a list of keywords), draw random numbers only from a generator seeded by its
``seed``, and return frozen dataclasses whose ``to_dict()`` gives JSON-serializable Python.

Decisions use the Welch t-test (paired t-test for a paired design), never "the bootstrap CI excludes 0":
at 3-10 seeds the percentile bootstrap is anti-conservative (false-positive rate .13 at N=5), whereas Welch
keeps alpha. Where the t-test cannot speak, another test decides and the comparison says so: the exact
permutation test when it is undefined (no variance), the rank test when a score is infinite, the log-rank
test for censored times to a threshold. Bootstrap CIs are reported as the (approximate) description of
uncertainty, as in rliable.

References:
  [Agarwal21] Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice" (rliable).
  [Colas18] Colas, Sigaud, Oudeyer 2018, "How Many Random Seeds?"; [Colas19] "A Hitchhiker's Guide to
    Statistical Comparisons of RL Algorithms".
  [Henderson18] Henderson et al. 2018, "Deep Reinforcement Learning that Matters".
  [Patterson24] Patterson et al. 2024, "Empirical Design in Reinforcement Learning".
  [Holm79] Holm 1979, "A Simple Sequentially Rejective Multiple Test Procedure".
  [Schuirmann87] Schuirmann 1987, two one-sided tests (TOST) for equivalence.
  [Hedges81] Hedges 1981, "Distribution Theory for Glass's Estimator of Effect Size".
"""

from __future__ import annotations

from metta_ab.stats._common import BETTER, EQUIVALENT, INCONCLUSIVE, INSUFFICIENT, WORSE
from metta_ab.stats.bootstrap import _resampled_prob_improvement, _sorted_row_quantities
from metta_ab.stats.compare import Comparison, _pooled_sd, compare, decide
from metta_ab.stats.curves import final_points, final_score, normalized_auc, time_to_threshold
from metta_ab.stats.describe import VariantStats, describe
from metta_ab.stats.family import Analysis, analyze
from metta_ab.stats.power import DEFAULT_POWER, minimum_detectable_d, paired_effect, power_at, power_runs_needed
from metta_ab.stats.settings import StatsSettings
from metta_ab.stats.significance import failure_rate_test, holm, tost
from metta_ab.stats.suite import SuiteAnalysis, analyze_suite
from metta_ab.stats.survival import compare_times, describe_times, detectable_hazard_ratio, kaplan_meier

__all__ = [
    "BETTER",
    "DEFAULT_POWER",
    "EQUIVALENT",
    "INCONCLUSIVE",
    "INSUFFICIENT",
    "WORSE",
    "Analysis",
    "Comparison",
    "StatsSettings",
    "SuiteAnalysis",
    "VariantStats",
    "_pooled_sd",
    "_resampled_prob_improvement",
    "_sorted_row_quantities",
    "analyze",
    "analyze_suite",
    "compare",
    "compare_times",
    "decide",
    "describe",
    "describe_times",
    "detectable_hazard_ratio",
    "failure_rate_test",
    "final_points",
    "final_score",
    "holm",
    "kaplan_meier",
    "minimum_detectable_d",
    "normalized_auc",
    "paired_effect",
    "power_at",
    "power_runs_needed",
    "time_to_threshold",
    "tost",
]
