"""Reference log-rank p-values for tests: scipy.stats.logrank's statistic of every relabelling of the pooled runs,
enumerated by brute force (independent of metta_ab's vectorized permutation p)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats as sps


def scipy_logrank(times: np.ndarray, censored: np.ndarray, first: np.ndarray) -> float:
    """scipy's log-rank statistic of the runs in `first` (a boolean mask) against the others."""
    groups = [
        sps.CensoredData(uncensored=times[mask & ~censored], right=times[mask & censored]) for mask in (first, ~first)
    ]
    return float(sps.logrank(*groups).statistic)


def brute_force_p(t: np.ndarray, t_cens: np.ndarray, c: np.ndarray, c_cens: np.ndarray) -> float:
    """Two-sided permutation p (twice the smaller tail) over every split of the pooled runs, each relabelling's
    statistic from scipy.stats.logrank."""
    times, censored = np.concatenate([t, c]), np.concatenate([t_cens, c_cens])
    null = []
    for group in itertools.combinations(range(times.size), t.size):
        first = np.zeros(times.size, bool)
        first[list(group)] = True
        null.append(scipy_logrank(times, censored, first))
    null_z = np.array(null)
    observed = scipy_logrank(times, censored, np.arange(times.size) < t.size)
    tol = 1e-7
    return min(1.0, 2.0 * min(np.mean(null_z <= observed + tol), np.mean(null_z >= observed - tol)))
