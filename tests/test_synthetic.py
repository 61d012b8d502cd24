"""Tests of the synthetic demonstration extract (analysis/data/synthetic.py).

The demo extract stands in for confidential data everywhere (make reports,
notebooks, golden tests), so these tests pin what the rest of the project
relies on: the spec's shape, byte-for-byte reproducibility, national rates at
the published figures, and the planted structure (drivers, a null driver,
authority differences) that tests of the analysis expect to recover.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.core.slug import slugify
from analysis.data import synthetic
from analysis.data.codebook import load_codebook
from analysis.data.wellbeing import overall_wellbeing

ROOT = Path(__file__).resolve().parent.parent
CB = load_codebook()


@pytest.fixture(scope="module")
def full() -> pd.DataFrame:
    return synthetic.generate()


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return synthetic.generate_fixture()


@pytest.fixture(scope="module")
def full_csv(full: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.write_extract(tmp_path_factory.mktemp("synthetic") / "extract.csv", full)


def _low_overall(df: pd.DataFrame) -> pd.Series:
    overall = overall_wellbeing(df, CB)
    return CB.wellbeing["low_overall_wellbeing"].meets(overall)


# ----------------------------------------------------------------------------- determinism
def test_same_bytes_every_run(full: pd.DataFrame, tmp_path: Path) -> None:
    a = synthetic.write_extract(tmp_path / "a.csv", full)
    b = synthetic.write_extract(tmp_path / "b.csv")
    assert a.read_bytes() == b.read_bytes()


def test_same_bytes_in_another_process(full: pd.DataFrame, full_csv: Path,
                                       tmp_path: Path) -> None:
    """Hash randomisation (PYTHONHASHSEED) must not leak into the data."""
    out = tmp_path / "other.csv"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    res = subprocess.run([sys.executable, "-m", "analysis", "data", "--out", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    n_la = full["la_code"].nunique()
    assert res.stdout == f"Wrote {len(full)} rows for {n_la} authorities to {out}\n"
    assert out.read_bytes() == full_csv.read_bytes()


def test_cli_message(tmp_path: Path) -> None:
    out = tmp_path / "fx.csv"
    res = subprocess.run([sys.executable, "-m", "analysis", "data", "--fixture", "--out",
                          str(out)], cwd=ROOT, capture_output=True, text=True, check=True)
    n = len(synthetic.generate_fixture())
    assert res.stdout == f"Wrote {n} rows for 5 authorities to {out}\n"


def test_csv_bytes(full_csv: Path) -> None:
    raw = full_csv.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in raw and raw.endswith(b"\n")
    text = raw.decode("utf-8")
    assert text.splitlines()[0] == ",".join(CB.all_columns)  # spec v2: free text last
    assert not list(full_csv.parent.glob("*.tmp")), "temporary file left behind"


def test_committed_fixture_is_current() -> None:
    """tests/fixtures/extract.csv must be what the generator writes (golden notebooks use it)."""
    expected = synthetic.to_csv_text(synthetic.generate_fixture()).encode("utf-8")
    assert synthetic.FIXTURE_PATH.read_bytes() == expected, (
        "tests/fixtures/extract.csv is stale: run `python -m analysis data --fixture` "
        "(and re-bless the golden notebooks) if the change is intended"
    )


def test_seed_changes_the_data() -> None:
    cfg = synthetic.load_config(fixture=True)
    a, b = synthetic.generate(cfg), synthetic.generate(cfg, seed=1)
    assert len(a) == len(b) and list(a.columns) == list(b.columns)
    assert not a.equals(b)


# ----------------------------------------------------------------------------- shape
def test_size_authorities_years(full: pd.DataFrame) -> None:
    assert 25_000 <= len(full) <= 30_000
    per = full.groupby(["la_code", "survey_year"]).size()
    n_la = full["la_code"].nunique()
    assert 55 <= n_la <= 65
    assert sorted(full["survey_year"].unique()) == ["2024", "2025"]
    years = full.groupby("la_code")["survey_year"].nunique()
    assert (years == 2).sum() >= 0.8 * n_la and (years == 1).sum() >= 2
    assert 130 <= per.median() <= 190
    assert (per >= 400).sum() >= 3
    small = per.groupby(level=0).max()
    assert 3 <= (small < 30).sum() <= 4, "3-4 small authorities for disclosure control"


def test_survey_mix(full: pd.DataFrame) -> None:
    share = full["survey"].value_counts(normalize=True)
    for s, p in {"ylyc_4_7": 0.10, "ylyc_8_11": 0.20, "ylyc_11_17": 0.45, "ylbc": 0.25}.items():
        assert abs(share[s] - p) < 0.03, (s, share[s])


def test_fictional_authorities(full: pd.DataFrame) -> None:
    names = full.groupby("la_code")["la_name"].unique()
    assert (names.map(len) == 1).all(), "one name per code"
    codes = names.index.tolist()
    assert all(re.fullmatch(r"E99\d{6}", c) for c in codes), "fictional E99 codes"
    assert all(re.fullmatch(CB.columns["la_code"].pattern or "", c) for c in codes)
    flat = [n[0] for n in names]
    assert len({slugify(n) for n in flat}) == len(flat), "slugs must be unique"
    assert any(re.search(r"[&.,'-]", n) for n in flat) and any(not n.isascii() for n in flat)


def test_columns_and_dtypes(full: pd.DataFrame) -> None:
    assert list(full.columns) == list(CB.all_columns)
    assert all(str(t) == "str" for t in full.dtypes)
    assert full["response_id"].is_unique
    for name, col in CB.columns.items():
        if col.required:
            assert full[name].notna().all(), name


def test_skip_logic_and_blanks(full: pd.DataFrame) -> None:
    for name, col in CB.columns.items():
        for s in CB.surveys:
            values = full.loc[full["survey"] == s, name]
            if s not in col.surveys:
                assert values.isna().all(), f"{name} answered in {s}, which does not ask it"
            elif not col.required:
                blank = values.isna().mean()
                assert 0.002 <= blank <= 0.08, (name, s, blank)


def test_every_value_valid(full: pd.DataFrame, small: pd.DataFrame) -> None:
    for df in (full, small):
        for name, col in CB.columns.items():
            for s in col.surveys:
                v = df.loc[df["survey"] == s, name].dropna()
                if col.type == "code":
                    assert set(v) <= set(col.allowed_codes(CB.group(s))), (name, s)
                elif col.scale is not None:
                    assert v.str.fullmatch(r"\d+").all(), (name, s)
                    lo, hi = col.scale
                    assert v.astype(int).between(lo, hi).all(), (name, s)
                elif name == "age":
                    lo, hi = CB.age_band(s)
                    assert v.astype(int).between(lo, hi).all(), s


# ----------------------------------------------------------------------------- calibration
def test_national_rates_match_yaml_targets(full: pd.DataFrame) -> None:
    table = synthetic.calibration_table(full)
    assert len(table) > 60
    off = table[(table["achieved"] - table["target"]).abs() > 0.015]
    assert off.empty, off.to_string()


# Published national figures (published-figures.md), independent of the YAML:
# an edit there that drifts away from them fails here.
PUBLISHED = [
    ("low_overall_wellbeing", "ylyc_4_7", 0.03),
    ("low_overall_wellbeing", "ylyc_8_11", 0.05),
    ("low_overall_wellbeing", "ylyc_11_17", 0.16),
    ("very_high_life_satisfaction", "ylyc_11_17", 0.39),
    ("low_overall_wellbeing", "ylbc", 0.30),
    ("high_anxiety", "ylbc", 0.33),
    ("low_life_satisfaction", "ylbc", 0.24),
    ("low_worthwhile", "ylbc", 0.215),
    ("lonely_often", "ylbc", 0.20),
    ("cope_difficult", "ylbc", 0.195),
    ("internet_access", "ylbc", 0.80),
    ("trusted_adult", "ylyc_11_17", 0.85),
    ("trusted_adult", "ylyc_8_11", 0.97),
    ("afraid_bullying", "ylyc_8_11", 0.285),
    ("reason_explained", "ylyc_4_7", 0.50),
    ("good_friend", "ylbc", 0.85),
]


@pytest.mark.parametrize(("mid", "survey", "figure"), PUBLISHED)
def test_published_figures(full: pd.DataFrame, mid: str, survey: str, figure: float) -> None:
    m = CB.measure(mid)
    sub = full[full["survey"] == survey]
    values = overall_wellbeing(sub, CB) if m.column == "overall" else sub[m.column]
    assert abs(m.meets(values).mean() - figure) <= 0.02


def test_children_in_care_pooled_figures(full: pd.DataFrame) -> None:
    kids = full[full["survey"] != "ylbc"]
    for mid, figure in (("trust_carers", 0.90), ("feel_safe_always", 0.88)):
        m = CB.indicators[mid]
        assert abs(m.meets(kids[m.column]).mean() - figure) <= 0.02, mid
    mix = kids["placement"].value_counts(normalize=True)
    assert abs(mix["foster"] - 0.77) < 0.02 and abs(mix["kinship"] - 0.16) < 0.02
    assert abs(mix["residential"] - 0.03) < 0.01
    leavers = full[full["survey"] == "ylbc"]
    assert abs((leavers["disability"].dropna() == "yes").mean() - 0.24) < 0.02
    gender = full["gender"].value_counts(normalize=True)
    assert abs(gender["girl"] - 0.48) < 0.02 and abs(gender["boy"] - 0.48) < 0.02


# ----------------------------------------------------------------------------- planted structure
def _driver_coefficients(df: pd.DataFrame, survey: str) -> pd.Series:
    """OLS of overall well-being on every indicator of the survey (blanks mean-imputed)."""
    sub = df[df["survey"] == survey].copy()
    sub["overall"] = overall_wellbeing(sub, CB)
    sub = sub[sub["overall"].notna()]
    inds = [m for m in CB.indicators.values() if survey in m.surveys]
    x = pd.DataFrame({m.id: m.meets(sub[m.column]) for m in inds})
    x = x.fillna(x.mean())
    design = np.column_stack([np.ones(len(x)), x.to_numpy(dtype=float)])
    beta, *_ = np.linalg.lstsq(design, sub["overall"].to_numpy(dtype=float), rcond=None)
    return pd.Series(beta[1:], index=x.columns)


@pytest.mark.parametrize("survey", list(CB.surveys))
def test_planted_drivers_recovered(full: pd.DataFrame, survey: str) -> None:
    coef = _driver_coefficients(full, survey)
    planted = synthetic.planted_drivers()
    planted = planted[planted["survey"] == survey]
    for row in planted.itertuples():
        b = coef[row.indicator]
        if row.kind == "null":
            assert abs(b) < 0.15, (row.indicator, b)
            rank = (coef.abs() > abs(b)).sum() + 1
            assert rank > len(planted[planted["kind"] == "driver"]), "null driver ranked high"
        else:
            assert np.sign(b) == row.sign and abs(b) > 0.25, (row.indicator, b)


def test_planted_demographic_effects(full: pd.DataFrame) -> None:
    low = _low_overall(full)
    for s in ("ylyc_11_17", "ylbc"):
        sub = full["survey"] == s
        by_gender = low[sub].groupby(full.loc[sub, "gender"]).mean()
        assert by_gender["girl"] > by_gender["boy"] + 0.04, s
    kids = full["survey"] == "ylyc_11_17"
    by_place = low[kids].groupby(full.loc[kids, "placement"]).mean()
    assert by_place["residential"] > by_place["foster"] + 0.04
    leavers = full["survey"] == "ylbc"
    by_dis = low[leavers].groupby(full.loc[leavers, "disability"]).mean()
    assert by_dis["yes"] > by_dis["no"] + 0.10
    assert low[leavers].mean() > low[~leavers].mean() + 0.1
    older = kids & full["age"].isin(["16", "17"])
    younger = kids & full["age"].isin(["11", "12"])
    assert low[older].mean() > low[younger].mean()


def test_planted_differences_visible(full: pd.DataFrame) -> None:
    planted = synthetic.planted_differences()
    assert len(planted) >= 3 and {"worse", "better"} >= set(planted["expected_flag"])
    for p in planted.itertuples():
        m = CB.measure(p.indicator)
        sub = full[(full["survey"] == p.survey) & (full["survey_year"] == str(p.survey_year))]
        values = overall_wellbeing(sub, CB) if m.column == "overall" else sub[m.column]
        met = m.meets(values)
        mine, others = met[sub["la_code"] == p.la_code].dropna(), met[sub["la_code"] != p.la_code]
        others = others.dropna()
        assert len(mine) >= 150, (p.la_name, len(mine))
        assert abs(mine.mean() - p.rate) < 0.03
        assert abs(others.mean() - p.national_rate) < 0.02
        pooled = met.dropna().mean()
        z = (mine.mean() - others.mean()) / np.sqrt(
            pooled * (1 - pooled) * (1 / len(mine) + 1 / len(others)))
        assert abs(z) > 3 and np.sign(z) == (1 if p.direction == "higher" else -1), (p, z)


def test_authority_differences_modest(full: pd.DataFrame) -> None:
    """Apart from the planted ones, authorities differ only modestly (random effects)."""
    planted = set(synthetic.planted_differences()["la_code"])
    m = CB.indicators["trusted_adult"]
    sub = full[(full["survey"] == "ylyc_11_17") & ~full["la_code"].isin(planted)]
    rates = m.meets(sub[m.column]).groupby(sub["la_code"]).agg(["mean", "size"])
    rates = rates[rates["size"] >= 100]["mean"]
    assert len(rates) >= 20
    assert 0.005 < rates.std() < 0.06
    assert rates.between(0.74, 0.95).all()


def test_planted_frames() -> None:
    diffs = synthetic.planted_differences()
    assert {"la_code", "survey", "indicator", "direction"} <= set(diffs.columns)
    assert set(diffs["la_code"]) <= {str(a["code"]) for a in synthetic.load_config()["authorities"]}
    drivers = synthetic.planted_drivers()
    assert {"indicator", "survey", "group", "sign", "size"} <= set(drivers.columns)
    pet = drivers[drivers["indicator"] == "has_pet"]
    assert len(pet) == len(CB.indicators["has_pet"].surveys) and (pet["sign"] == 0).all()
    assert set(drivers["indicator"]) <= set(CB.indicators)
    demo = synthetic.planted_drivers(include_demographics=True)
    assert (demo["kind"] == "demographic").any()


# ----------------------------------------------------------------------------- fixture
def test_fixture_shape(small: pd.DataFrame) -> None:
    assert 600 <= len(small) <= 900
    assert small["la_code"].nunique() == 5
    per = small.groupby(["la_code", "survey_year", "survey"]).size().unstack(fill_value=0)
    tiny = per[(per < 10).all(axis=1)]
    assert len(tiny) >= 1, "one authority with under 10 answers in every survey"
    assert (small.groupby("la_code")["survey_year"].nunique() == 2).sum() >= 1
    names = small["la_name"].unique()
    assert any(re.search(r"[&.,'-]", n) for n in names)


def test_fixture_planted_difference(small: pd.DataFrame) -> None:
    p = synthetic.planted_differences(fixture=True).iloc[0]
    m = CB.measure(p["indicator"])
    sub = small[(small["survey"] == p["survey"]) & (small["survey_year"] == str(p["survey_year"]))]
    met = m.meets(sub[m.column])
    mine = met[sub["la_code"] == p["la_code"]].mean()
    others = met[sub["la_code"] != p["la_code"]].mean()
    assert mine < others - 0.15


# ----------------------------------------------------------------------------- config errors
def test_unquoted_yes_in_config_is_refused() -> None:
    cfg = copy.deepcopy(synthetic.load_config(fixture=True))
    cfg["demographics"]["disability"]["ylbc"] = {True: 0.24, False: 0.7, "not_said": 0.06}
    with pytest.raises(synthetic.SyntheticConfigError, match="quote codes"):
        synthetic.generate(cfg)


def test_unknown_code_in_config_is_refused() -> None:
    cfg = copy.deepcopy(synthetic.load_config(fixture=True))
    cfg["questions"]["feel_safe"] = {"weights": {"mostly": 1}}
    with pytest.raises(synthetic.SyntheticConfigError, match="feel_safe"):
        synthetic.generate(cfg)


# ----------------------------------------------------------------------------- other modules
def test_read_back_identical(full: pd.DataFrame, full_csv: Path) -> None:
    """The frame generate() returns is what the project reads from the written file."""
    extract = pytest.importorskip("analysis.data.extract")
    back = extract.read_extract(full_csv)
    pd.testing.assert_frame_equal(back, full, check_dtype=True)


def test_passes_validation(full: pd.DataFrame, full_csv: Path) -> None:
    validation = pytest.importorskip(
        "analysis.data.validation", reason="analysis/data/validation.py not written yet")
    typed = validation.load_valid_extract(full_csv)
    assert len(typed) == len(full)
    fixture = validation.load_valid_extract(synthetic.FIXTURE_PATH)
    assert fixture["la_code"].nunique() == 5
    typed2, warns = validation.validate_frame(full)
    assert warns == [] and len(typed2) == len(full)
