"""Tests for the focus areas (analysis.methods.focus) and the practice bank."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.codebook import load_codebook
from analysis.methods import drivers, focus, indicators
from analysis.present.text import focus_markdown_list, focus_words


def _drivers() -> pd.DataFrame:
    """A drivers table: helpful, unhelpful and uncertain associations."""
    rows = [
        # survey, indicator, effect, ci_low, ci_high, importance
        ("ylyc_11_17", "feel_settled_always", 0.9, 0.7, 1.1, 0.40),
        ("ylyc_11_17", "trusted_adult", 0.7, 0.5, 0.9, 0.25),
        ("ylyc_11_17", "afraid_bullying", -0.5, -0.7, -0.3, 0.20),
        ("ylyc_11_17", "worker_changes_3plus", -0.4, -0.6, -0.2, 0.18),
        ("ylyc_11_17", "good_friend", 0.5, 0.3, 0.7, 0.12),
        ("ylyc_11_17", "unhappy_appearance", -0.9, -1.1, -0.7, 0.35),
        ("ylyc_11_17", "like_bedroom", 0.2, 0.05, 0.35, 0.05),
        ("ylyc_11_17", "has_pet", 0.05, -0.1, 0.2, 0.02),  # interval includes zero
        ("ylyc_11_17", "hobbies", -0.3, -0.5, -0.1, 0.10),  # wrong direction: not helpful
        ("ylbc", "lonely_often", -1.0, -1.2, -0.8, 0.4),
        ("ylbc", "trust_worker", 0.4, 0.2, 0.6, 0.1),
    ]
    d = pd.DataFrame(rows, columns=["survey", "indicator", "effect", "ci_low", "ci_high",
                                    "importance"])
    d["rank"] = d.groupby("survey")["importance"].rank(ascending=False).astype(int)
    return d


def _comparisons(la: str = "E99000001", year: int = 2025) -> pd.DataFrame:
    cb = load_codebook()
    rows = [
        # survey, indicator, pct, others_pct, flag, n
        ("ylyc_11_17", "feel_settled_always", 60.0, 75.0, "worse", 120),
        ("ylyc_11_17", "trusted_adult", 70.0, 85.0, "worse", 120),
        ("ylyc_11_17", "afraid_bullying", 30.0, 20.0, "worse", 120),
        ("ylyc_11_17", "worker_changes_3plus", 40.0, 28.0, "worse", 120),
        ("ylyc_11_17", "good_friend", 80.0, 92.0, "worse", 120),
        ("ylyc_11_17", "unhappy_appearance", 22.0, 17.0, "worse", 120),
        ("ylyc_11_17", "like_bedroom", 70.0, 90.0, "worse", 120),
        ("ylyc_11_17", "has_pet", 20.0, 40.0, "worse", 120),
        ("ylyc_11_17", "hobbies", 50.0, 70.0, "worse", 120),
        ("ylbc", "lonely_often", 30.0, 20.0, "similar", 60),  # not a real difference
        ("ylbc", "trust_worker", 50.0, 80.0, "worse", 8),  # base under 10: not published
    ]
    c = pd.DataFrame(rows, columns=["survey", "indicator", "pct", "others_pct", "flag", "n"])
    c["la_code"] = la
    c["la_name"] = "Northbridge"
    c["survey_year"] = year
    c["kind"] = "indicator"
    c["others_n"] = 5000
    c["direction"] = c["indicator"].map({m: v.direction for m, v in cb.indicators.items()})
    return c


def test_at_most_five_only_worse_sorted_with_examples() -> None:
    out = focus.focus_areas(_drivers(), _comparisons(), "E99000001", 2025)
    assert 0 < len(out) <= 5
    assert list(out.columns) == list(focus.FOCUS_COLUMNS)
    assert list(out["focus_rank"]) == list(range(1, len(out) + 1))
    assert out["score"].is_monotonic_decreasing
    comp = _comparisons().set_index(["survey", "indicator"])
    for r in out.to_dict("records"):
        assert comp.loc[(r["survey"], r["indicator"]), "flag"] == "worse"
        assert len(focus.practice_examples(r)) >= 1 and r["practice"]
        assert r["practice_ids"]
    # the score is |effect| x gap: feel settled 0.9 x 15 = 13.5 beats trusted adult 0.7 x 15
    top = out.iloc[0]
    assert top["indicator"] == "feel_settled_always"
    assert top["score"] == pytest.approx(0.9 * 15 / 100)
    assert out["pct"].round(1).equals(out["pct"])  # one decimal, as interfaces.md


def test_excluded_rows() -> None:
    out = focus.focus_areas(_drivers(), _comparisons(), "E99000001", 2025, max_areas=20)
    chosen = set(out["indicator"])
    assert "has_pet" not in chosen  # interval includes zero
    assert "hobbies" not in chosen  # association in the unhelpful direction
    assert "lonely_often" not in chosen  # difference not real (flag similar)
    assert "trust_worker" not in chosen  # base under 10
    assert {"feel_settled_always", "afraid_bullying", "unhappy_appearance"} <= chosen


def test_small_numerator_is_never_a_focus_area() -> None:
    # 3 of 40 children with a good friend: a percentage the briefing may not publish.
    comp = _comparisons()
    comp.loc[comp["indicator"] == "good_friend", ["n", "pct"]] = (40, 7.5)
    out = focus.focus_areas(_drivers(), comp, "E99000001", 2025, max_areas=20)
    assert "good_friend" not in set(out["indicator"])  # k worked out from pct x n
    comp["k"] = (comp["pct"] * comp["n"] / 100).round()
    out = focus.focus_areas(_drivers(), comp, "E99000001", 2025, max_areas=20)
    assert "good_friend" not in set(out["indicator"])
    comp.loc[comp["indicator"] == "good_friend", ["k", "pct"]] = (5, 12.5)
    out = focus.focus_areas(_drivers(), comp, "E99000001", 2025, max_areas=20)
    assert "good_friend" in set(out["indicator"])


def test_direction_respected_in_gap() -> None:
    out = focus_words(focus.focus_areas(_drivers(), _comparisons(), "E99000001", 2025,
                                        max_areas=20))
    row = out.set_index("indicator").loc["afraid_bullying"]
    assert row["gap_pp"] == pytest.approx(10.0)  # 30% vs 20%, lower is better
    assert "10 percentage points higher than other authorities (30% vs 20%)" in row["gap_phrase"]
    assert row["effect_phrase"] == "associated with about 0.5 points lower well-being out of 10"
    row = out.set_index("indicator").loc["trusted_adult"]
    assert row["gap_pp"] == pytest.approx(15.0)
    assert "lower than other authorities (70% vs 85%)" in row["gap_phrase"]
    assert "goes with about 0.7 points higher" in row["reason"]
    assert "cause" not in row["reason"] and "expected difference" not in row["reason"]


def test_no_focus_when_nothing_is_worse() -> None:
    comp = _comparisons()
    comp["flag"] = "similar"
    out = focus.focus_areas(_drivers(), comp, "E99000001", 2025)
    assert out.empty and list(out.columns) == list(focus.FOCUS_COLUMNS)
    assert "No focus area" in focus_markdown_list(out)


def test_all_focus_areas_matches_per_authority() -> None:
    comp = pd.concat([_comparisons("E99000001", 2025), _comparisons("E99000002", 2025),
                      _comparisons("E99000001", 2024)], ignore_index=True)
    comp.loc[comp["la_code"] == "E99000002", "flag"] = "similar"
    table = focus.all_focus_areas(_drivers(), comp)
    assert set(zip(table["la_code"], table["survey_year"], strict=True)) == {
        ("E99000001", 2025), ("E99000001", 2024)}
    assert table.groupby(["la_code", "survey_year"]).size().max() <= 5
    one = focus.focus_areas(_drivers(), comp, "E99000001", 2025)
    pd.testing.assert_frame_equal(focus.la_focus(table, "E99000001", 2025), one)
    assert focus.la_focus(table, "E99000002", 2025).empty


def test_drivers_csv_columns_are_enough() -> None:
    """The seven interface columns of drivers.csv suffice (no label or extras needed)."""
    d = _drivers()[["survey", "indicator", "effect", "ci_low", "ci_high", "importance", "rank"]]
    out = focus.focus_areas(d, _comparisons(), "E99000001", 2025)
    assert len(out) == 5 and out["label"].notna().all()


# ---------------------------------------------------------------- practice bank
def test_practice_bank_loads_and_names_known_indicators() -> None:
    bank = focus.load_practice_bank()
    cb = load_codebook()
    assert len(bank) >= 19
    for e in bank:
        assert e.authority and e.action and set(e.groups) <= {"in_care", "leavers"}
        assert all(i in cb.indicators for i in e.indicators)
    assert any(e.fallback for e in bank)


@pytest.mark.parametrize("indicator, group, first", [
    ("worker_changes_3plus", "in_care", "hull-worker-change"),
    ("know_worker", "in_care", "middlesbrough-contact-cards"),
    ("trust_worker", "leavers", "hertfordshire-pa-standards"),
    ("unhappy_appearance", "in_care", "sheffield-fashion-show"),
    ("lonely_often", "leavers", "stockport-hubs"),
    ("contact_mum_right", "in_care", "hull-family-time"),
])
def test_practice_for_most_specific_first(indicator: str, group: str, first: str) -> None:
    ex = focus.practice_for(indicator, group, focus.load_practice_bank())
    assert 1 <= len(ex) <= 3 and ex[0].id == first
    assert all(indicator in e.indicators and group in e.groups for e in ex)


def test_every_indicator_gets_an_example() -> None:
    bank = focus.load_practice_bank()
    cb = load_codebook()
    for mid, m in cb.indicators.items():
        for s in m.surveys:
            assert focus.practice_for(mid, cb.group(s), bank), (mid, s)
    # leaver-only examples never offered for children
    assert all("leavers" not in e.groups or "in_care" in e.groups
               for e in focus.practice_for("lonely_often", "in_care", bank))


def test_unknown_indicator_in_bank_is_an_error(tmp_path) -> None:
    p = tmp_path / "bank.yaml"
    p.write_text("practice:\n  - {id: x, authority: A, action: B, addresses: C, "
                 "indicators: [not_an_indicator]}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not_an_indicator"):
        focus.load_practice_bank(p)


def test_focus_on_simulated_extract() -> None:
    """End to end: fitted drivers x real comparison tables."""
    from test_drivers import simulate_extract

    sim = simulate_extract(n_la=12, per_la=(80, 100), years=(2025,), seed=5)
    # one authority much worse on feeling settled among 11-17s (about 34 answers: the gap
    # must be told from chance across every result of its briefing)
    bad = (sim["la_code"] == "E10000000") & (sim["survey"] == "ylyc_11_17")
    sim.loc[bad, "feel_settled"] = np.where(
        np.random.default_rng(0).random(bad.sum()) < 0.8, "sometimes", "always")
    res = drivers.fit_national_models(sim)
    comp = indicators.national_tables(sim)["comparisons"]
    table = focus.all_focus_areas(res.drivers, comp)
    assert table.groupby(["la_code", "survey_year"]).size().max() <= 5
    mine = focus.la_focus(table, "E10000000", 2025)
    assert "feel_settled_always" in set(mine.loc[mine["survey"] == "ylyc_11_17", "indicator"])
    assert (mine["practice"] != "").all()


def test_focus_words_round_once_from_the_exact_figures() -> None:
    """27.46% is '27%' in the words, though the stored (rounded) figure is 27.5."""
    out = focus.focus_areas(_drivers(), _comparisons(), "E99000001", 2025, max_areas=20)
    row = out.iloc[[0]].copy()
    row["pct"], row["pct_exact"] = 27.5, 27.46
    row["others_pct"], row["others_pct_exact"] = 20.0, 20.0
    words = focus_words(row).iloc[0]
    assert "(27% vs 20%)" in words["gap_phrase"] and "Here 27%" in words["reason"]
    assert "(28% vs 20%)" in focus_words(row.drop(columns=["pct_exact"])).iloc[0]["gap_phrase"]
