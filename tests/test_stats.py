"""Intervals and tests for proportions: known values, the z/Fisher switch, direction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency, fisher_exact

from analysis.methods.stats import (
    compare_proportions,
    expected_min,
    fisher_exact_two_sided,
    flag_difference,
    method_used,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Wilson score intervals (R: prop.test(k, n, correct = FALSE)$conf.int)
        (5, 20, 0.111862, 0.468701),
        (0, 10, 0.0, 0.277533),
        (10, 10, 0.722467, 1.0),
        (50, 100, 0.403832, 0.596168),
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-6)
    assert hi == pytest.approx(high, abs=1e-6)


def test_wilson_agrees_with_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(11)
    n = rng.integers(1, 500, 300)
    k = rng.integers(0, n + 1)
    for alpha in (0.05, 0.1):
        lo, hi = wilson_interval(k, n, alpha=alpha)
        ref_lo, ref_hi = proportion_confint(k, n, alpha=alpha, method="wilson")
        np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
        np.testing.assert_allclose(hi, ref_hi, atol=1e-12)


def test_wilson_is_vectorised_and_handles_empty_base() -> None:
    lo, hi = wilson_interval(np.array([5, 0, 3]), np.array([20, 0, 3]))
    assert lo[0] == pytest.approx(0.111862, abs=1e-6)
    assert np.isnan(lo[1]) and np.isnan(hi[1])
    assert hi[2] == 1.0 and 0 < lo[2] < 1


def test_z_test_for_large_counts_matches_chi_square() -> None:
    p = compare_proportions(30, 100, 60, 100)
    ref = chi2_contingency([[30, 70], [60, 40]], correction=False).pvalue
    assert p == pytest.approx(ref, rel=1e-9)
    assert p == pytest.approx(2.0078656e-05, rel=1e-6)
    assert method_used(30, 100, 60, 100) == "z"


def test_fisher_used_when_an_expected_count_is_under_five() -> None:
    # Expected count of 'yes' in the small group: 10 * 21 / 110 = 1.9 < 5.
    assert expected_min(1, 10, 20, 100) < 5
    assert method_used(1, 10, 20, 100) == "fisher"
    p = compare_proportions(1, 10, 20, 100)
    assert p == pytest.approx(fisher_exact([[1, 9], [20, 80]]).pvalue, rel=1e-9)


@pytest.mark.parametrize(
    ("table", "p"),
    [
        ([[3, 1], [1, 3]], 0.4857143),  # Fisher's lady tasting tea
        ([[8, 2], [1, 5]], 0.0349650),  # R: fisher.test(matrix(c(8,1,2,5),2))
    ],
)
def test_fisher_known_values(table: list[list[int]], p: float) -> None:
    (a, b), (c, d) = table
    assert compare_proportions(a, a + b, c, c + d) == pytest.approx(p, abs=1e-6)


def test_vectorised_fisher_agrees_with_scipy() -> None:
    rng = np.random.default_rng(7)
    n1 = rng.integers(1, 60, 400)
    k1 = rng.integers(0, n1 + 1)
    n2 = rng.integers(1, 3000, 400)
    k2 = (rng.random(400) * n2 * rng.random(400)).astype(int)
    ours = fisher_exact_two_sided(k1, n1, k2, n2)
    ref = [fisher_exact([[a, b - a], [c, d - c]]).pvalue for a, b, c, d in
           zip(k1, n1, k2, n2, strict=True)]
    np.testing.assert_allclose(ours, ref, rtol=1e-7, atol=1e-12)


def test_compare_mixes_methods_in_one_call() -> None:
    k1 = np.array([30, 1, 0])
    n1 = np.array([100, 10, 0])
    k2 = np.array([60, 20, 5])
    n2 = np.array([100, 100, 10])
    p = compare_proportions(k1, n1, k2, n2)
    assert list(method_used(k1, n1, k2, n2)) == ["z", "fisher", ""]
    assert p[0] == pytest.approx(compare_proportions(30, 100, 60, 100))
    assert p[1] == pytest.approx(fisher_exact([[1, 9], [20, 80]]).pvalue)
    assert np.isnan(p[2])  # nothing to compare


def test_identical_proportions_are_not_different() -> None:
    assert compare_proportions(100, 100, 50, 50) == 1.0
    assert compare_proportions(20, 40, 200, 400) == pytest.approx(1.0)


def test_direction_flips_better_and_worse() -> None:
    # 80% against 60%, clearly different.
    assert flag_difference(80, 60, 0.001, lower_is_better=False) == "better"
    assert flag_difference(80, 60, 0.001, lower_is_better=True) == "worse"
    assert flag_difference(40, 60, 0.001, lower_is_better=True) == "better"
    assert flag_difference(40, 60, 0.001, lower_is_better=False) == "worse"
    # Not significant, or nothing to compare with: similar.
    assert flag_difference(80, 60, 0.2, lower_is_better=False) == "similar"
    assert flag_difference(80, np.nan, np.nan, lower_is_better=False) == "similar"


def test_flag_words_for_change() -> None:
    words = ("improved", "similar", "declined")
    flags = flag_difference([70, 50, 60], [50, 70, 61], [0.01, 0.01, 0.9],
                            [False, False, False], words=words)
    assert list(flags) == ["improved", "declined", "similar"]
