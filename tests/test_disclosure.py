"""Disclosure control: small bases, small counts and secondary suppression."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analysis.methods.disclosure import (
    MIN_BASE,
    MIN_COUNT,
    SUPPRESSED_SYMBOL,
    SUPPRESSION_RULE_TEXT,
    band_suppression,
    display_count_table,
    display_table,
    pooled_comparator,
    pooled_count,
    protect_count_table,
    rate_suppressed,
    secondary_suppression,
    suppress_breakdowns,
    suppress_rates,
)
from analysis.present.text import disclosure_sentence


def test_thresholds_are_the_published_rules() -> None:
    assert MIN_BASE == 10
    assert MIN_COUNT == 5


def _rates(ns: list[int], ks: list[int] | None = None) -> pd.DataFrame:
    """Rows at 50% (k = n / 2, a publishable numerator from n = 10) unless ``ks`` given."""
    ks = [round(n / 2) for n in ns] if ks is None else ks
    return pd.DataFrame({
        "n": ns,
        "k": ks,
        "pct": [100 * k / n if n else np.nan for n, k in zip(ns, ks, strict=True)],
        "p_value": [0.01] * len(ns),
        "ci_low": [40.0] * len(ns),
        "ci_high": [60.0] * len(ns),
        "others_pct": [55.0] * len(ns),
        "genpop_pct": [75.0] * len(ns),
        "flag": ["better"] * len(ns),
    })


def test_rates_with_base_under_ten_are_suppressed() -> None:
    out = suppress_rates(_rates([9, 10, 3, 0]))
    assert list(out["suppressed"]) == [True, False, True, True]
    assert list(out["flag"]) == ["suppressed", "better", "suppressed", "suppressed"]
    for col in ("pct", "ci_low", "ci_high", "others_pct", "k", "p_value"):
        assert out[col].isna().tolist() == [True, False, True, True], col
    # A base of 5-9 is shown (it explains the gap), 1-4 never; zero is not a small count.
    assert out["n"].tolist()[0] == 9
    assert out["n"].isna().tolist() == [False, False, True, False]
    # General-population figures are published statistics, not this authority's data.
    assert out["genpop_pct"].notna().all()


def _exposed_lines(mask: np.ndarray) -> list[str]:
    """Rows/columns (of a table with totals) holding exactly one suppressed entry."""
    bad = [f"row {i}" for i in range(mask.shape[0]) if mask[i].sum() == 1]
    bad += [f"col {j}" for j in range(mask.shape[1]) if mask[:, j].sum() == 1]
    return bad


def test_one_suppressed_cell_forces_another_in_its_line() -> None:
    # Breakdown of one indicator by gender, with the authority total published.
    values = np.array([3, 12, 40])
    mask = secondary_suppression(values, values < MIN_COUNT, [np.zeros(3, int)])
    # 3 alone could be recovered as total - 12 - 40; the next smallest goes too.
    assert mask.tolist() == [True, True, False]


def test_secondary_prefers_non_zero_cells() -> None:
    values = np.array([3, 0, 7, 20])
    mask = secondary_suppression(values, values == 3, [np.zeros(4, int)])
    assert mask.tolist() == [True, False, True, False]


def test_unconstrained_lines_are_left_alone() -> None:
    values = np.array([3, 12, 40])
    mask = secondary_suppression(values, values < MIN_COUNT, [np.full(3, -1)])
    assert mask.tolist() == [True, False, False]


def test_count_table_primary_and_secondary() -> None:
    counts = pd.DataFrame({"girl": [12, 3], "boy": [20, 8], "other": [0, 6]},
                          index=["ylyc_8_11", "ylyc_11_17"])
    table = protect_count_table(counts)
    assert list(table.columns) == ["girl", "boy", "other", "Total"]
    assert table.index[-1] == "Total"
    mask = table.isna().to_numpy()
    assert mask[1, 0]  # the 3
    assert not _exposed_lines(mask)
    # Nothing shown is a count of 1-4.
    shown = table.to_numpy(dtype="float64")[~mask]
    assert not ((shown >= 1) & (shown < MIN_COUNT)).any()
    # Grand total kept.
    assert table.loc["Total", "Total"] == 49


def test_suppressed_cells_cannot_be_recovered_by_subtraction() -> None:
    """Random tables: every line with a suppressed entry has at least two."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        shape = tuple(rng.integers(2, 5, size=2))
        counts = pd.DataFrame(rng.choice([0, 1, 2, 4, 6, 9, 15, 40], size=shape))
        table = protect_count_table(counts)
        mask = table.isna().to_numpy()
        assert not _exposed_lines(mask), (counts, table)
        shown = table.to_numpy(dtype="float64")[~mask]
        assert not ((shown >= 1) & (shown < MIN_COUNT)).any()
        # Subtraction test: any line whose other entries are all published
        # would give its one hidden entry away.
        full = counts.copy()
        full["T"] = full.sum(axis=1)
        full.loc["T"] = full.sum(axis=0)
        values = full.to_numpy()
        for i, j in itertools.product(range(mask.shape[0]), range(mask.shape[1])):
            if mask[i, j]:
                assert mask[i].sum() >= 2 and mask[:, j].sum() >= 2
        assert values.shape == mask.shape


def test_breakdown_lone_small_group_takes_next_smallest_with_it() -> None:
    frame = pd.DataFrame({
        "indicator": ["trust_carers"] * 3 + ["like_school"] * 3,
        "by": ["gender"] * 6,
        "group": ["girl", "boy", "other"] * 2,
        "n": [30, 15, 5, 30, 20, 15],
        "k": [20, 10, 4, 25, 15, 10],
        "pct": [66.7, 66.7, 80.0, 83.3, 75.0, 66.7],
        "others_pct": [70.0] * 6,
    })
    out = suppress_breakdowns(frame, ["indicator", "by"])
    assert out["suppressed"].tolist() == [False, True, True, False, False, False]
    # Both the base and the percentage of the protecting group are gone.
    assert out.loc[1, ["n", "pct"]].isna().all()
    assert out.loc[2, ["n", "pct"]].isna().all()
    # With the total unpublished there is nothing to subtract from.
    out = suppress_breakdowns(frame, ["indicator", "by"], total_published=np.zeros(6, bool))
    assert out["suppressed"].tolist() == [False, False, True, False, False, False]


def test_display_symbols() -> None:
    out = display_table(suppress_rates(_rates([9, 50]).assign(genpop_pct=[np.nan, np.nan])))
    assert out.loc[0, "pct"] == SUPPRESSED_SYMBOL
    assert out.loc[1, "pct"] == "50.0"
    assert out.loc[1, "genpop_pct"] == "[x]"
    assert "suppressed" not in out.columns
    counts = protect_count_table(pd.DataFrame({"a": [3, 10], "b": [7, 20]}))
    shown = display_count_table(counts)
    assert shown.iloc[0, 0] == SUPPRESSED_SYMBOL
    assert shown.iloc[1, 1] == SUPPRESSED_SYMBOL  # 3 -> 7 (row) -> 10 (column) -> 20 (row)
    assert shown.iloc[2, 2] == "40"


@pytest.mark.parametrize("n", [MIN_BASE - 1, MIN_BASE])
def test_threshold_edges(n: int) -> None:
    out = suppress_rates(_rates([n]))
    assert bool(out.loc[0, "suppressed"]) is (n < MIN_BASE)


def test_small_numerator_is_suppressed_with_its_base_kept() -> None:
    # n = 40 and pct = 7.5 would tell that exactly 3 children gave the answer.
    out = suppress_rates(_rates([40], ks=[3]))
    row = out.loc[0]
    assert bool(row["suppressed"]) and row["flag"] == "suppressed"
    assert row[["k", "pct", "ci_low", "ci_high", "others_pct", "p_value"]].isna().all()
    assert row["n"] == 40  # a base of 10+ is not disclosive by itself
    assert row["genpop_pct"] == 75.0


@pytest.mark.parametrize(("k", "hidden"), [(0, False), (1, True), (MIN_COUNT - 1, True),
                                           (MIN_COUNT, False), (35, False)])
def test_numerator_edges(k: int, hidden: bool) -> None:
    # k = 0 (0%) is not a small group; k = 5 is published; the complement
    # n - k (5 for k = 35) is deliberately not tested.
    out = suppress_rates(_rates([40], ks=[k]))
    assert bool(out.loc[0, "suppressed"]) is hidden
    if hidden:
        assert np.isnan(out.loc[0, "pct"]) and np.isnan(out.loc[0, "k"])
    else:
        assert out.loc[0, "pct"] == 100 * k / 40
    assert out.loc[0, "flag"] == ("suppressed" if hidden else "better")
    assert out.loc[0, "n"] == 40


def test_numerator_is_worked_out_from_pct_when_k_is_absent() -> None:
    out = suppress_rates(_rates([40, 40], ks=[3, 6]).drop(columns="k"))
    assert out["suppressed"].tolist() == [True, False]
    assert rate_suppressed([40, 40, 8, 40], [3, 0, 0, 5]).tolist() == [True, False, True, False]


def test_breakdown_group_with_small_numerator_forces_secondary_suppression() -> None:
    # Girls: n = 30 but only k = 2 -> suppressed although the base is large.
    # Overall k (published as % x n) minus the boys' and others' k would give
    # the girls' 2 away, so the next smallest group goes as well.
    frame = pd.DataFrame({
        "indicator": ["trust_carers"] * 3,
        "by": ["gender"] * 3,
        "group": ["girl", "boy", "other"],
        "n": [30, 40, 12],
        "k": [2, 20, 6],
        "pct": [6.7, 50.0, 50.0],
        "others_pct": [70.0] * 3,
    })
    out = suppress_breakdowns(frame, ["indicator", "by"])
    assert out["suppressed"].tolist() == [True, False, True]
    assert out.loc[[0, 2], ["n", "k", "pct"]].isna().all().all()
    assert out.loc[1, "pct"] == 50.0 and out.loc[1, "n"] == 40
    # Under the old, base-only rule nothing here would have been hidden.
    assert not rate_suppressed(frame["n"]).any()
    # A group with k = 0 is published (0%) and forces nothing.
    zero = suppress_breakdowns(frame.assign(k=[0, 20, 6], pct=[0.0, 50.0, 50.0]),
                               ["indicator", "by"])
    assert not zero["suppressed"].any()


# ---------------------------------------------------------------- issue 11: across files
def test_both_sides_of_a_split_are_protected() -> None:

    n = np.array([30, 30, 30, 30, 30, 12])
    k = np.array([0, 25, 26, 29, 30, 7])
    # 26 and 29 of 30: 4 and 1 children did not give the answer.
    assert rate_suppressed(n, k).tolist() == [False, False, True, True, False, False]


def test_the_middle_band_is_never_1_to_4() -> None:

    bands = {"life": ["low_life", "high_life", "very_high_life"]}
    frame = pd.DataFrame({"la_code": "A", "survey_year": 2025, "survey": "s",
                          "indicator": bands["life"], "n": 40, "k": [10, 12, 15]})
    # Medium = 40 - 37 = 3: the smallest band goes too, then medium + it = 13.
    mask = band_suppression(frame, np.zeros(3, bool), bands)
    assert mask.tolist() == [True, False, False]
    # A withheld band whose remainder (with the medium band) is under 5 takes another.
    frame["k"] = [3, 20, 16]  # low 3 withheld; medium 1 -> remainder 4
    mask = band_suppression(frame, np.array([True, False, False]), bands)
    assert mask.sum() == 2 and mask[0]


def test_breakdown_remainder_of_withheld_groups_is_not_0_to_4() -> None:
    # Total 20 of 60; girls 20 of 40 shown, boys 0 of 16 shown, other 0 of 4 hidden:
    # the hidden group's count is 20 - 20 - 0 = 0 and its base 60 - 56 = 4.
    frame = pd.DataFrame({"line": 1, "n": [40, 16, 4], "k": [20, 0, 0]})
    out = suppress_breakdowns(frame, ["line"], total_n=[60] * 3, total_k=[20] * 3)
    hidden = out["suppressed"].tolist()
    assert hidden[2] and sum(hidden) >= 2
    shown = out[~out["suppressed"]]
    assert 60 - shown["n"].sum() >= MIN_COUNT and 20 - shown["k"].sum() >= MIN_COUNT or (
        shown.empty)


@pytest.mark.parametrize("seed", range(40))
def test_pooled_comparator_never_pins_a_withheld_count(seed: int) -> None:
    """Brute force: every truth a reader cannot rule out leaves each hidden count 5+ wide."""

    rng = np.random.default_rng(seed)
    shown_n = rng.integers(10, 80, size=rng.integers(1, 5))
    shown_k = rng.binomial(shown_n, rng.uniform(0.05, 0.95))
    hidden_n = rng.integers(5, 16, size=rng.integers(1, 3))
    hidden_k = np.array([rng.choice([*range(1, 5), *range(m - 4, m)]) for m in hidden_n])
    k = np.concatenate([shown_k, hidden_k])
    n = np.concatenate([shown_n, hidden_n])
    withheld = np.r_[np.zeros(len(shown_n), bool), np.ones(len(hidden_n), bool)]
    value, step = pooled_comparator(k, n, withheld)
    if not np.isfinite(value):
        return
    total, shown = n.sum(), shown_k.sum()
    grids = np.meshgrid(*[np.arange(m + 1) for m in hidden_n], indexing="ij")
    combos = np.stack([g.ravel() for g in grids], axis=1)
    pct = 100 * (shown + combos.sum(axis=1)) / total
    same = np.floor(pct / step + 0.5 + 1e-9) * step == value
    assert same.any()
    for j, m in enumerate(hidden_n):
        seen = combos[same, j]
        assert seen.max() - seen.min() >= MIN_COUNT or (seen.min() == 0 and seen.max() == m)


def test_pooled_figures_need_ten_answers_and_counts_round_safely() -> None:

    assert np.isnan(pooled_comparator([1], [1], [True])[0])
    assert np.isnan(pooled_comparator([3, 2], [5, 4], [False, False])[0])
    value, step = pooled_count([400, 300, 3], [False, False, True])
    assert step >= 10 and value % step == 0
    assert pooled_count([4], [True]) == (None, None)


def test_disclosure_sentence_states_the_rule() -> None:

    text = disclosure_sentence()
    assert SUPPRESSION_RULE_TEXT in text and "not giving it" in text
