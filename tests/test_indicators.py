"""Indicator tables: counting, comparisons, disclosure on output, file formats, null behaviour."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.core.errors import UserError
from analysis.core.paths import FIXTURE_DATA, PROJECT_ROOT
from analysis.data.codebook import load_codebook
from analysis.data.validation import load_valid_extract
from analysis.methods.indicators import (
    OUTPUT_COLUMNS,
    briefing_year,
    la_breakdowns,
    la_change,
    la_indicators,
    la_profile,
    measure_counts,
    national_tables,
    read_national_tables,
    round1,
    write_la_outputs,
    write_national_tables,
)

FIXTURE = FIXTURE_DATA
SCALES = ("scale_0_10", "faces_1_5")


def simulate_extract(
    n_la: int = 20,
    years: tuple[int, ...] = (2024, 2025),
    mean_n: int = 60,
    seed: int = 0,
    planted: dict[tuple[str, int, str, str], object] | None = None,
    missing: float = 0.03,
) -> pd.DataFrame:
    """An extract in which every authority has the same answer probabilities.

    With no real differences, about 5% of comparisons should be flagged by
    chance. ``planted`` sets one column to one answer for every respondent
    of (la_code, year, survey, column): a difference that must be found.
    """
    cb = load_codebook()
    rng = np.random.default_rng(seed)
    probs = np.random.default_rng(12345)
    col_probs = {
        name: probs.dirichlet(np.ones(len(col.allowed_codes())) * 3)
        for name, col in cb.columns.items() if col.type == "code" and not col.codes_by_group
    }
    frames = []
    rid = 0
    for i in range(n_la):
        code = f"E{99000000 + i:08d}"
        for year in years:
            for survey in cb.surveys:
                n = int(max(3, rng.poisson(mean_n * (0.4 if survey == "ylyc_4_7" else 1.0))))
                if i == 0 and survey == "ylyc_4_7":
                    n = 7  # one authority with too few answers to publish
                data: dict[str, object] = {
                    "response_id": [f"R{rid + j:07d}" for j in range(n)],
                    "la_code": code, "la_name": f"Authority {i:02d}", "survey": survey,
                    "survey_year": year,
                }
                rid += n
                lo, hi = cb.age_band(survey)
                data["age"] = rng.integers(lo, hi + 1, n)
                for name, col in cb.columns.items():
                    if name in data or survey not in col.surveys or name == "response_id":
                        continue
                    if col.codes_by_group:
                        codes = list(col.allowed_codes(cb.group(survey)))
                        vals = rng.choice(codes, size=n).astype(object)
                    elif col.type == "code":
                        vals = rng.choice(list(col.allowed_codes()), size=n,
                                          p=col_probs[name]).astype(object)
                    elif col.type == "scale_0_10":
                        vals = np.clip(np.round(rng.normal(6.5, 2.2, n)), 0, 10).astype(object)
                    elif col.type == "faces_1_5":
                        vals = rng.choice([1, 2, 3, 4, 5], size=n,
                                          p=[.05, .07, .18, .3, .4]).astype(object)
                    else:
                        continue
                    vals[rng.random(n) < missing] = None
                    if planted and (code, year, survey, name) in planted:
                        vals[:] = planted[(code, year, survey, name)]
                    data[name] = vals
                frames.append(pd.DataFrame(data))
    df = pd.concat(frames, ignore_index=True)
    for name in df.columns:
        col = cb.columns.get(name)
        if name in ("survey_year", "age") or (col is not None and col.type in SCALES):
            df[name] = pd.to_numeric(df[name]).astype("Int64")
        else:
            df[name] = df[name].astype("string")
    return df


@functools.lru_cache(maxsize=1)
def _null_tables() -> dict[str, pd.DataFrame]:
    return national_tables(simulate_extract())


LA0 = "E99000000"
LA1 = "E99000001"


# ---------------------------------------------------------------- counting
def _tiny() -> pd.DataFrame:
    rows = [
        # 11-17s: worries base excludes 'no_worries'; appearance 0-4 counts.
        {"survey": "ylyc_11_17", "worries_support": "get_support", "happy_appearance": 3,
         "trust_carers": "all_or_most", "wb_life_satisfaction": 2, "wb_happy_yesterday": 3,
         "wb_worthwhile": 4, "wb_positive_future": 5},
        {"survey": "ylyc_11_17", "worries_support": "no_support", "happy_appearance": 8,
         "trust_carers": "sometimes", "wb_life_satisfaction": 9},
        {"survey": "ylyc_11_17", "worries_support": "no_worries", "happy_appearance": None,
         "trust_carers": None},
        # 4-7: faces 2 -> overall 2.5 (low); faces 5 -> 10.
        {"survey": "ylyc_4_7", "wb_happy_faces": 2, "trust_carers": "all_or_most"},
        {"survey": "ylyc_4_7", "wb_happy_faces": 5, "trust_carers": "never"},
    ]
    df = pd.DataFrame(rows)
    df["la_code"] = "E99000001"
    df["la_name"] = "Northbridge"
    df["survey_year"] = 2025
    return df


def test_measure_counts_follow_the_codebook() -> None:
    counts = measure_counts(_tiny()).set_index(["survey", "indicator"])
    assert tuple(counts.loc[("ylyc_11_17", "worries_get_support"), ["n", "k"]]) == (2, 1)
    assert tuple(counts.loc[("ylyc_11_17", "unhappy_appearance"), ["n", "k"]]) == (2, 1)
    assert tuple(counts.loc[("ylyc_11_17", "trust_carers"), ["n", "k"]]) == (2, 1)
    assert tuple(counts.loc[("ylyc_4_7", "trust_carers"), ["n", "k"]]) == (2, 1)
    # Overall well-being: (2+3+4+5)/4 = 3.5 low; 9 not low; 4-7s from faces.
    assert tuple(counts.loc[("ylyc_11_17", "low_overall_wellbeing"), ["n", "k"]]) == (2, 1)
    assert tuple(counts.loc[("ylyc_4_7", "low_overall_wellbeing"), ["n", "k"]]) == (2, 1)
    assert tuple(counts.loc[("ylyc_4_7", "low_happy_faces"), ["n", "k"]]) == (2, 1)
    # Measures appear only for the surveys that ask them.
    assert ("ylyc_4_7", "worries_get_support") not in counts.index
    assert ("ylyc_11_17", "lonely_often") not in counts.index
    assert set(counts["kind"]) == {"indicator", "wellbeing"}


def test_measure_counts_extra_by_groups() -> None:
    df = _tiny().assign(gender=["girl", "boy", "girl", None, "boy"])
    counts = measure_counts(df, extra_by=("gender",))
    row = counts[(counts["survey"] == "ylyc_11_17") & (counts["indicator"] == "trust_carers")]
    assert dict(zip(row["gender"], row["n"], strict=True)) == {"boy": 1, "girl": 1}


# ---------------------------------------------------------------- national tables
def test_comparisons_are_against_all_other_authorities_pooled() -> None:
    comp = _null_tables()["comparisons"]
    group = comp[(comp["survey_year"] == 2025) & (comp["survey"] == "ylbc")
                 & (comp["indicator"] == "trusted_adult")]
    assert len(group) == 20
    total_n, total_k = group["n"].sum(), group["k"].sum()
    assert (group["others_n"] == total_n - group["n"]).all()
    assert (group["others_k"] == total_k - group["k"]).all()
    np.testing.assert_allclose(group["pct"], 100 * group["k"] / group["n"])
    assert (group["ci_low"] <= group["pct"]).all() and (group["pct"] <= group["ci_high"]).all()


def test_null_data_tests_hold_their_level_and_flags_are_rare() -> None:
    """With no real differences each test rejects about 5% of the time, but flags
    (chance controlled across each briefing) are rare: at most a few authorities."""
    tables = _null_tables()
    comp = tables["comparisons"]
    tested = comp[comp["n"] >= 10]
    share = (tested["p_value"] < 0.05).mean()
    assert 0.02 <= share <= 0.09, share
    flagged = tested[tested["flag"].isin(["better", "worse"])]
    assert flagged["la_code"].nunique() <= 3, flagged[["la_code", "indicator", "q_value"]]
    change = tables["change"]
    share = (change[change["n"] >= 10]["p_value"] < 0.05).mean()
    assert 0.02 <= share <= 0.09, share
    moved = change[change["flag"].isin(["improved", "declined"])]
    assert moved["la_code"].nunique() <= 3


def test_planted_differences_are_flagged_in_the_right_direction() -> None:
    planted = {
        (LA1, 2025, "ylyc_11_17", "trusted_adult"): "no",       # higher is better -> worse
        (LA1, 2025, "ylbc", "lonely"): "never",                  # lower is better -> better
        (LA1, 2025, "ylbc", "cope_financially"): "difficult",    # lower is better -> worse
    }
    # Enough answers for a change (two years' noise on each side) to be told from chance
    # across the ~200 results of the briefing.
    tables = national_tables(simulate_extract(planted=planted, seed=1, mean_n=120))
    rows = la_indicators(tables, LA1, 2025).set_index(["survey", "indicator"])
    assert rows.loc[("ylyc_11_17", "trusted_adult"), "flag"] == "worse"
    assert rows.loc[("ylbc", "lonely_often"), "flag"] == "better"
    assert rows.loc[("ylbc", "cope_difficult"), "flag"] == "worse"
    change = la_change(tables, LA1, 2025).set_index(["survey", "indicator"])
    assert change.loc[("ylyc_11_17", "trusted_adult"), "flag"] == "declined"
    assert change.loc[("ylbc", "lonely_often"), "flag"] == "improved"


def test_genpop_comparators_are_attached() -> None:
    rows = la_indicators(_null_tables(), LA1, 2025).set_index(["survey", "indicator"])
    assert rows.loc[("ylbc", "internet_access"), "genpop_pct"] == 91.0
    assert rows.loc[("ylyc_11_17", "feel_safe_always"), "genpop_pct"] == 75.0
    assert np.isnan(rows.loc[("ylyc_11_17", "trust_carers"), "genpop_pct"])
    wb = la_indicators(_null_tables(), LA1, 2025, "wellbeing").set_index(["survey", "indicator"])
    assert wb.loc[("ylbc", "low_life_satisfaction"), "genpop_pct"] == 3.0


def test_genpop_reference_file_is_complete_and_sourced() -> None:
    gp = pd.read_csv(PROJECT_ROOT / "data" / "reference" / "genpop.csv")
    assert list(gp.columns) == ["survey", "indicator", "genpop_pct", "population", "source"]
    assert gp["source"].notna().all() and (gp["source"].str.len() > 10).all()
    measures = load_codebook().measures()
    for row in gp.itertuples():
        assert row.indicator in measures, row.indicator
        assert row.survey in measures[row.indicator].surveys, (row.survey, row.indicator)
        assert 0 <= row.genpop_pct <= 100
    assert not gp.duplicated(["survey", "indicator"]).any()


# ---------------------------------------------------------------- published outputs
def test_la_indicators_have_exactly_the_interface_columns() -> None:
    for kind in ("indicator", "wellbeing"):
        rows = la_indicators(_null_tables(), LA1, 2025, kind)
        assert tuple(rows.columns) == OUTPUT_COLUMNS
        assert set(rows["flag"]) <= {"better", "similar", "worse", "suppressed"}
        assert set(rows["direction"]) <= {"higher_is_better", "lower_is_better"}
        pct = rows["pct"].dropna()
        assert ((pct >= 0) & (pct <= 100)).all()
        np.testing.assert_array_equal(pct, np.round(pct, 1))


def test_small_bases_are_suppressed_on_output() -> None:
    rows = la_indicators(_null_tables(), LA0, 2025)
    small = rows[rows["survey"] == "ylyc_4_7"]
    assert len(small) and small["suppressed"].all()
    assert small[["pct", "ci_low", "ci_high"]].isna().all().all()
    # The comparator is the one national figure, the same for every authority: it stays.
    assert small["others_pct"].notna().any()
    assert (small["flag"] == "suppressed").all()
    # A base of 10+ is published whenever its numerator is not 1-4.
    k = _own_k(LA0, 2025).reindex(pd.MultiIndex.from_frame(rows[["survey", "indicator"]]))
    big = rows[(rows["n"] >= 10) & ~k.between(1, 4).to_numpy()]
    assert len(big) and not big["suppressed"].any() and big["pct"].notna().all()


def _own_k(la_code: str, year: int) -> pd.Series:
    """An authority's unsuppressed numerators k, by (survey, indicator)."""
    comp = _null_tables()["comparisons"]
    own = comp[(comp["la_code"] == la_code) & (comp["survey_year"] == year)]
    return own.set_index(["survey", "indicator"])["k"]


def _with_row(table: str, la_code: str, year: int, survey: str, indicator: str,
              **values: object) -> dict[str, pd.DataFrame]:
    """The null tables with one row of ``table`` changed (e.g. n=40, k=3, pct=7.5)."""
    tables = dict(_null_tables())
    frame = tables[table].copy()
    hit = ((frame["la_code"] == la_code) & (frame["survey_year"] == year)
           & (frame["survey"] == survey) & (frame["indicator"] == indicator))
    assert hit.sum() >= 1
    for col, value in values.items():
        frame.loc[hit, col] = value
    tables[table] = frame
    return tables


def test_small_numerator_is_suppressed_on_output_with_its_base() -> None:
    tables = _with_row("comparisons", LA1, 2025, "ylyc_11_17", "trust_carers",
                       n=40, k=3, pct=7.5, ci_low=2.6, ci_high=19.9, flag="worse")
    rows = la_indicators(tables, LA1, 2025).set_index(["survey", "indicator"])
    row = rows.loc[("ylyc_11_17", "trust_carers")]
    assert bool(row["suppressed"]) and row["flag"] == "suppressed"
    assert row[["pct", "ci_low", "ci_high"]].isna().all()
    assert row["n"] == 40
    # Both sides of the split: 37 of 40 says 3 children did not give the answer.
    for k, hidden in ((0, False), (5, False), (35, False), (36, True), (39, True), (40, False)):
        tables = _with_row("comparisons", LA1, 2025, "ylyc_11_17", "trust_carers",
                           n=40, k=k, pct=100 * k / 40)
        row = la_indicators(tables, LA1, 2025).set_index(["survey", "indicator"]).loc[
            ("ylyc_11_17", "trust_carers")]
        assert bool(row["suppressed"]) is hidden
        assert np.isnan(row["pct"]) if hidden else row["pct"] == 100 * k / 40


def test_no_published_percentage_reveals_a_count_of_one_to_four() -> None:
    tables = _null_tables()
    comp = tables["comparisons"]
    for la_code in comp["la_code"].unique()[:5]:
        for kind in ("indicator", "wellbeing"):
            rows = la_indicators(tables, la_code, 2025, kind)
            shown = rows[~rows["suppressed"]]
            k = np.round(shown["pct"] * shown["n"] / 100)
            assert not k.between(1, 4).any(), la_code
            assert not (shown["n"] - k).between(1, 4).any(), la_code
        brk = la_breakdowns(tables, la_code, 2025)
        shown = brk[~brk["suppressed"]]
        assert not np.round(shown["pct"] * shown["n"].astype(float) / 100).between(1, 4).any()


def test_rounding_to_one_decimal_half_up() -> None:
    assert round1(12.25) == 12.3
    assert round1(100 * 49 / 200) == 24.5
    assert round1(100 * 1 / 3) == 33.3
    assert round1(100 * 2 / 3) == 66.7
    assert list(round1(pd.Series([0.05, 99.95]))) == [0.1, 100.0]


def test_breakdowns_are_protected() -> None:
    brk = la_breakdowns(_null_tables(), LA1, 2025)
    assert set(brk["by"]) == {"gender", "placement", "age_band"}
    for _, line in brk.groupby(["survey", "indicator", "by"]):
        hidden = int(line["suppressed"].sum())
        assert hidden != 1 or len(line) == 1, line
    shown = brk[~brk["suppressed"]]
    assert (shown["n"] >= 10).all()
    assert brk.loc[brk["suppressed"], ["n", "pct"]].isna().all().all()
    bands = set(brk.loc[(brk["by"] == "age_band") & (brk["survey"] == "ylyc_11_17"), "group"])
    assert bands <= {"11-13", "14-15", "16-17"}


def test_breakdown_group_with_small_numerator_forces_secondary_suppression() -> None:
    # 11-17s in LA1 by age band: three groups (26, 19, 23 answers), none under 10.
    tables = _null_tables()
    line = ["survey", "indicator", "by"]
    key = ("ylyc_11_17", "trust_carers", "age_band")
    before = la_breakdowns(tables, LA1, 2025).set_index(line).loc[key]
    assert not before["suppressed"].any()
    brk = tables["breakdowns"].copy()
    hit = ((brk["la_code"] == LA1) & (brk["survey_year"] == 2025) & (brk["by"] == "age_band")
           & (brk["survey"] == "ylyc_11_17") & (brk["indicator"] == "trust_carers"))
    brk.loc[hit & (brk["group"] == "11-13"), ["n", "k"]] = (30, 2)
    after = la_breakdowns({**tables, "breakdowns": brk}, LA1, 2025).set_index(line).loc[key]
    assert after["suppressed"].tolist() == [True, True, False]  # 11-13, then 14-15 (n=19)
    assert after.loc[after["suppressed"], ["n", "pct"]].isna().all().all()


def test_change_hides_a_previous_year_with_a_small_numerator() -> None:
    key = ("ylyc_11_17", "trust_carers")
    shown = la_change(_null_tables(), LA1, 2025).set_index(["survey", "indicator"]).loc[key]
    assert not shown["suppressed"] and not np.isnan(shown["prev_pct"])
    for values in ({"prev_n": 40, "prev_k": 3, "prev_pct": 7.5},
                   {"n": 40, "k": 2, "pct": 5.0}):
        tables = _with_row("change", LA1, 2025, *key, **values)
        row = la_change(tables, LA1, 2025).set_index(["survey", "indicator"]).loc[key]
        assert bool(row["suppressed"]) and row["flag"] == "suppressed"
        assert np.isnan(row["pct"]) and np.isnan(row["prev_pct"])
    # k = 0 last year is not a small group: the comparison stays.
    tables = _with_row("change", LA1, 2025, *key, prev_n=40, prev_k=0, prev_pct=0.0)
    row = la_change(tables, LA1, 2025).set_index(["survey", "indicator"]).loc[key]
    assert not row["suppressed"] and row["prev_pct"] == 0.0


def test_profile_table_has_totals_and_no_small_counts() -> None:
    table = la_profile(_null_tables(), LA0, 2025, "gender")
    assert table.index[-1] == "Total" and table.columns[-1] == "Total"
    values = table.to_numpy(dtype="float64")
    shown = values[~np.isnan(values)]
    assert not ((shown >= 1) & (shown < 5)).any()


def test_write_outputs_deterministic_csv(tmp_path: Path) -> None:
    tables = _null_tables()
    paths = write_la_outputs(tables, LA1, 2025, tmp_path / "a")
    again = write_la_outputs(tables, LA1, 2025, tmp_path / "b")
    for name in ("indicators", "wellbeing"):
        text = paths[name].read_text(encoding="utf-8")
        assert text.splitlines()[0] == ",".join(OUTPUT_COLUMNS)
        assert text == again[name].read_text(encoding="utf-8")
        frame = pd.read_csv(paths[name], dtype=str, keep_default_na=False)
        assert set(frame["suppressed"]) <= {"true", "false"}
        assert (frame.loc[frame["suppressed"] == "true", "pct"] == "").all()
        pct = frame.loc[frame["pct"] != "", "pct"]
        assert pct.str.fullmatch(r"\d{1,3}\.\d").all()
    assert not list((tmp_path / "a").glob("*.tmp"))


def test_national_tables_round_trip(tmp_path: Path) -> None:
    tables = _null_tables()
    write_national_tables(tables, tmp_path)
    first = (tmp_path / "comparisons.csv").read_bytes()
    back = read_national_tables(tmp_path)
    assert set(back) == set(tables)
    pd.testing.assert_frame_equal(
        back["comparisons"][["la_code", "n", "k", "flag"]],
        tables["comparisons"][["la_code", "n", "k", "flag"]], check_dtype=False,
    )
    a = la_indicators(tables, LA1, 2025)
    b = la_indicators(back, LA1, 2025)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    write_national_tables(tables, tmp_path)
    assert (tmp_path / "comparisons.csv").read_bytes() == first


def test_briefing_year() -> None:
    tables = _null_tables()
    assert briefing_year(tables, LA1) == 2025
    assert briefing_year(tables, LA1, 2024) == 2024
    with pytest.raises(UserError, match="no answers in 2019"):
        briefing_year(tables, LA1, 2019)
    with pytest.raises(UserError):
        briefing_year(tables, "E00000000")


def test_national_stage_compares_every_authority_of_a_larger_extract() -> None:
    """Thirty authorities: each one has its comparisons (its speed is ``make bench``'s to say)."""
    df = simulate_extract(n_la=30, mean_n=100, seed=3)
    tables = national_tables(df)
    assert set(tables["comparisons"]["la_code"]) == set(df["la_code"])
    assert len(set(df["la_code"])) == 30


# ---------------------------------------------------------------- demo / fixture data
def test_fixture_runs_end_to_end(tmp_path: Path) -> None:
    if not FIXTURE.exists():
        pytest.skip("tests/fixtures/extract.csv not there yet")

    tables = national_tables(load_valid_extract(FIXTURE))
    code = tables["comparisons"]["la_code"].iloc[0]
    year = briefing_year(tables, code)
    paths = write_la_outputs(tables, code, year, tmp_path)
    assert tuple(pd.read_csv(paths["indicators"]).columns) == OUTPUT_COLUMNS


@pytest.mark.parametrize("fixture", [False, True], ids=["demo", "fixture"])
def test_planted_differences_in_the_demo_extract(fixture: bool) -> None:
    synthetic = pytest.importorskip("analysis.data.synthetic")
    if not hasattr(synthetic, "planted_differences"):
        pytest.skip("analysis.data.synthetic.planted_differences() not available yet")
    planted = synthetic.planted_differences(fixture=fixture)
    if planted.empty:
        pytest.skip("no planted differences in this configuration")
    df = synthetic.generate_fixture() if fixture else synthetic.generate()
    comp = national_tables(df)["comparisons"].set_index(
        ["la_code", "survey_year", "survey", "indicator"])
    for p in planted.to_dict("records"):
        key = (p["la_code"], int(p["survey_year"]), p["survey"], p["indicator"])
        got = comp.loc[key]
        assert got["flag"] == p["expected_flag"], (key, got.to_dict())
