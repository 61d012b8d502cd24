"""Confidence intervals and tests for proportions, vectorised over arrays.

Why this module exists: every published percentage carries an interval, and
the same rules must hold everywhere. (The briefing's better / worse and
improved / declined flags are made in ``analysis.methods.fairness``: against a
case-mix expectation, with equal-tailed tests and chance controlled across
the briefing. The two-proportion tests here are the unadjusted reference the
tests and benchmarks compare it with.)

* intervals are **Wilson score** intervals, which stay inside 0-100% and keep
  close to their nominal 95% coverage for the small bases (10-40 answers)
  that many authorities have; the textbook Wald interval does not;
* a difference is tested with the **two-proportion z-test** (identical to
  Pearson's chi-square on the 2x2 table, no continuity correction) when every
  expected cell count is at least 5, the usual condition for the normal
  approximation, and with **Fisher's exact test** otherwise, so small
  authorities and rare answers are not flagged on an approximation that does
  not hold.

The functions take arrays (or scalars) and return arrays, because the
national stage tests thousands of authority x indicator pairs in one go
(about a second for the whole demonstration extract). Two textbook routines
are therefore written out here rather than called one case at a time, and
tests/test_stats.py checks them against the reference implementations:
the Wilson interval (statsmodels ``proportion_confint(method="wilson")``,
whose import alone costs each notebook most of a second) and Fisher's exact
test (``scipy.stats.fisher_exact``, about 1 ms per table). SciPy is
imported lazily, only by the tests of differences.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np

#: Smallest expected cell count for which the z-test's normal approximation is trusted.
MIN_EXPECTED = 5.0

ArrayLike = Any  # numbers, sequences, numpy arrays or pandas Series


def _as_float(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def wilson_interval(
    k: ArrayLike, n: ArrayLike, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes out of n, as proportions (0-1).

    Vectorised over ``k`` and ``n`` (broadcast together). Where ``n`` is 0 or
    missing the interval is NaN: there is nothing to estimate.

    The closed form is the one statsmodels' ``proportion_confint(method=
    "wilson")`` evaluates (tests/test_stats.py checks they agree); it is
    written out here because importing statsmodels costs most of a second,
    which every per-authority notebook would otherwise pay.
    """
    z = NormalDist().inv_cdf(1 - alpha / 2)
    k_arr, n_arr = np.broadcast_arrays(_as_float(k), _as_float(n))
    low = np.full(k_arr.shape, np.nan)
    high = np.full(k_arr.shape, np.nan)
    ok = np.isfinite(k_arr) & np.isfinite(n_arr) & (n_arr > 0)
    if ok.any():
        kk, nn = k_arr[ok], n_arr[ok]
        z2 = z * z
        centre = (kk + z2 / 2) / (nn + z2)
        half = z / (nn + z2) * np.sqrt(np.clip(kk * (nn - kk) / nn, 0, None) + z2 / 4)
        low[ok] = np.clip(centre - half, 0.0, 1.0)
        high[ok] = np.clip(centre + half, 0.0, 1.0)
    if low.ndim == 0:
        return low[()], high[()]
    return low, high


def expected_min(k1: ArrayLike, n1: ArrayLike, k2: ArrayLike, n2: ArrayLike) -> np.ndarray:
    """Smallest expected cell count of each 2x2 table [[k1, n1-k1], [k2, n2-k2]]."""
    k1, n1, k2, n2 = np.broadcast_arrays(*(_as_float(v) for v in (k1, n1, k2, n2)))
    total = n1 + n2
    yes = k1 + k2
    no = total - yes
    with np.errstate(divide="ignore", invalid="ignore"):
        cells = np.stack([n1 * yes, n1 * no, n2 * yes, n2 * no]) / total
    return cells.min(axis=0)


def _z_test(k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """Pooled two-proportion z-test, two-sided (= Pearson chi-square, 1 df)."""
    from scipy.special import ndtr

    p1 = k1 / n1
    p2 = k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(p1 - p2) / se
    p = 2 * ndtr(-z)
    # Identical proportions with se == 0 (all yes or all no): no difference at all.
    return np.where(se == 0, 1.0, p)


def fisher_exact_two_sided(
    k1: ArrayLike, n1: ArrayLike, k2: ArrayLike, n2: ArrayLike
) -> np.ndarray:
    """Fisher's exact test (two-sided) for many 2x2 tables at once.

    The same test as ``scipy.stats.fisher_exact(table).pvalue`` for
    ``[[k1, n1-k1], [k2, n2-k2]]``: the sum of the hypergeometric
    probabilities of every table with the same margins that is no more likely
    than the one observed (relative tolerance 1e-7, as R's ``fisher.test``).
    SciPy's function takes one table per call (about 1 ms each); the
    national stage needs thousands, so the probabilities are computed here on
    a padded array in log space instead. tests/test_stats.py checks that the
    two agree.
    """
    from scipy.special import gammaln

    k1, n1, k2, n2 = (np.atleast_1d(np.asarray(v, dtype="float64")) for v in (k1, n1, k2, n2))
    k1, n1, k2, n2 = np.broadcast_arrays(k1, n1, k2, n2)
    out = np.full(k1.shape, np.nan)
    if k1.size == 0:
        return out
    total = n1 + n2
    yes = k1 + k2
    lo = np.maximum(0.0, yes - n2)
    hi = np.minimum(yes, n1)
    length = (hi - lo + 1).astype("int64")

    def log_comb(n: np.ndarray, k: np.ndarray) -> np.ndarray:
        return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)

    order = np.argsort(length, kind="stable")
    budget = 4_000_000  # cells per batch: bounds memory for large supports
    start = 0
    while start < order.size:
        width = int(length[order[start]])
        stop = start + 1
        while stop < order.size and int(length[order[stop]]) * (stop - start + 1) <= budget:
            stop += 1
        idx = order[start:stop]
        width = int(length[idx].max())
        x = lo[idx, None] + np.arange(width)[None, :]
        valid = x <= hi[idx, None]
        x = np.where(valid, x, lo[idx, None])
        K, N, m = yes[idx, None], total[idx, None], n1[idx, None]
        logp = log_comb(K, x) + log_comb(N - K, m - x) - log_comb(N, m)
        obs = k1[idx]
        logp_obs = (
            log_comb(yes[idx], obs) + log_comb(total[idx] - yes[idx], n1[idx] - obs)
            - log_comb(total[idx], n1[idx])
        )
        keep = valid & (logp <= logp_obs[:, None] + np.log1p(1e-7))
        out[idx] = np.where(keep, np.exp(logp), 0.0).sum(axis=1)
        start = stop
    return np.clip(out, 0.0, 1.0)


def compare_proportions(
    k1: ArrayLike, n1: ArrayLike, k2: ArrayLike, n2: ArrayLike
) -> np.ndarray:
    """Two-sided p-values for k1/n1 versus k2/n2, vectorised.

    Each pair is tested with the z-test when all four expected counts of its
    2x2 table are at least ``MIN_EXPECTED`` and with Fisher's exact test
    otherwise. Pairs with an empty group (n = 0) or missing counts get NaN.
    """
    k1, n1, k2, n2 = np.broadcast_arrays(*(_as_float(v) for v in (k1, n1, k2, n2)))
    scalar = k1.ndim == 0
    k1, n1, k2, n2 = (np.atleast_1d(v).ravel() for v in (k1, n1, k2, n2))
    p = np.full(k1.shape, np.nan)
    valid = (
        np.isfinite(k1) & np.isfinite(n1) & np.isfinite(k2) & np.isfinite(n2)
        & (n1 > 0) & (n2 > 0)
    )
    if valid.any():
        use_z = np.zeros_like(valid)
        use_z[valid] = expected_min(k1[valid], n1[valid], k2[valid], n2[valid]) >= MIN_EXPECTED
        use_f = valid & ~use_z
        if use_z.any():
            p[use_z] = _z_test(k1[use_z], n1[use_z], k2[use_z], n2[use_z])
        if use_f.any():
            p[use_f] = fisher_exact_two_sided(k1[use_f], n1[use_f], k2[use_f], n2[use_f])
    p = np.clip(p, 0.0, 1.0)
    return p[0] if scalar else p


def method_used(k1: ArrayLike, n1: ArrayLike, k2: ArrayLike, n2: ArrayLike) -> np.ndarray:
    """Which test ``compare_proportions`` applies to each pair: 'z', 'fisher' or ''."""
    k1, n1, k2, n2 = np.broadcast_arrays(*(_as_float(v) for v in (k1, n1, k2, n2)))
    valid = (n1 > 0) & (n2 > 0) & np.isfinite(k1) & np.isfinite(k2)
    with np.errstate(invalid="ignore"):
        big = expected_min(k1, n1, k2, n2) >= MIN_EXPECTED
    return np.where(valid, np.where(big, "z", "fisher"), "")


def flag_difference(
    est: ArrayLike,
    ref: ArrayLike,
    p_value: ArrayLike,
    lower_is_better: ArrayLike,
    alpha: float = 0.05,
    words: tuple[str, str, str] = ("better", "similar", "worse"),
) -> np.ndarray:
    """'better' / 'similar' / 'worse' for ``est`` against ``ref``.

    A difference counts only when p < ``alpha``; its sign is read through the
    indicator's direction, so for a lower-is-better indicator (loneliness,
    bullying) a lower percentage is the better result. A missing p-value
    (nothing to compare with) reads as 'similar': there is no evidence of a
    difference.
    """
    est, ref, p, low = np.broadcast_arrays(
        _as_float(est), _as_float(ref), _as_float(p_value), np.asarray(lower_is_better, bool)
    )
    good, same, bad = words
    higher = est > ref
    lower = est < ref
    sig = np.nan_to_num(p, nan=1.0) < alpha
    better = sig & np.where(low, lower, higher)
    worse = sig & np.where(low, higher, lower)
    return np.where(better, good, np.where(worse, bad, same)).astype(object)
