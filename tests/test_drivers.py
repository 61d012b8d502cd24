"""Tests for the national driver models (analysis.drivers).

The simulation below plants known associations so the tests can check that
the method finds what is there and nothing that is not: three indicators with
a real effect on well-being (two positive, one negative) and one (has_pet)
with none.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import drivers
from analysis.codebook import PROJECT_ROOT, load_codebook

#: Planted effects in points of overall well-being (0-10) per indicator met.
PLANTED = {"feel_settled_always": 1.2, "good_friend": 0.9, "afraid_bullying": -0.9}
NULL_DRIVER = "has_pet"
SURVEY_SHARE = {"ylyc_4_7": 0.12, "ylyc_8_11": 0.23, "ylyc_11_17": 0.40, "ylbc": 0.25}


def simulate_extract(
    n_la: int = 24, per_la: tuple[int, int] = (70, 110), years: tuple[int, ...] = (2024, 2025),
    seed: int = 0, effects: dict[str, float] | None = None, blank: float = 0.04,
) -> pd.DataFrame:
    """A spec-shaped extract (codes as text, scales as numbers) with planted effects.

    Every question is asked only in its surveys (skip logic), a share
    ``blank`` of answers is left blank, and overall well-being is built from
    a latent score ``6 + authority effect + sum(effect x indicator met) +
    noise`` turned into the survey's well-being items.
    """
    cb = load_codebook()
    rng = np.random.default_rng(seed)
    effects = PLANTED if effects is None else effects
    frames = []
    surveys = list(SURVEY_SHARE)
    placements = {"in_care": ["foster", "kinship", "residential", "other"],
                  "leavers": ["independent", "supported", "with_former_carers", "other"]}
    for la in range(n_la):
        la_effect = rng.normal(0, 0.3)
        for year in years:
            n = int(rng.integers(*per_la))
            survey = rng.choice(surveys, size=n, p=list(SURVEY_SHARE.values()))
            f = pd.DataFrame({
                "la_code": f"E{10000000 + la:08d}", "la_name": f"Authority {la:02d}",
                "survey": survey, "survey_year": year,
            })
            ages = np.array([rng.integers(cb.age_band(s)[0], cb.age_band(s)[1] + 1)
                             for s in survey])
            f["age"] = ages
            f["gender"] = rng.choice(["girl", "boy", "other", "not_said"], n,
                                     p=[0.47, 0.47, 0.03, 0.03])
            group = np.array([cb.group(s) for s in survey])
            f["placement"] = [rng.choice(placements[g]) for g in group]
            f["years_in_care"] = np.where(group == "in_care",
                                          rng.choice(["lt1", "1to3", "gt3"], n), None)
            f["disability"] = np.where(group == "leavers",
                                       rng.choice(["yes", "no", "not_said"], n), None)
            latent = 6.0 + la_effect + rng.normal(0, 1.3, n)
            for name, col in cb.questions.items():
                if col.domain == "wellbeing":
                    continue
                asked = np.isin(survey, col.surveys)
                if col.scale:
                    vals = rng.integers(0, 11, n).astype(object)
                else:
                    codes = list(col.codes)
                    p = np.full(len(codes), 0.4 / max(len(codes) - 1, 1))
                    p[0] = 0.6
                    vals = rng.choice(codes, n, p=p / p.sum()).astype(object)
                vals[~asked | (rng.random(n) < blank)] = None
                f[name] = vals
            for mid, eff in effects.items():
                m = cb.indicators[mid]
                met = m.meets(f[m.column]).fillna(0).to_numpy()
                latent = latent + eff * met * np.isin(survey, m.surveys)
            latent = latent - latent.mean() + 6.0 + la_effect
            faces = np.clip(np.round(latent / 2.5) + 1, 1, 5)
            f["wb_happy_faces"] = np.where(np.isin(survey, ["ylyc_4_7", "ylyc_8_11"]), faces,
                                           np.nan)
            for item, asked_in in (
                ("wb_life_satisfaction", ["ylyc_8_11", "ylyc_11_17", "ylbc"]),
                ("wb_happy_yesterday", ["ylyc_11_17", "ylbc"]),
                ("wb_worthwhile", ["ylyc_11_17", "ylbc"]),
                ("wb_positive_future", ["ylyc_11_17", "ylbc"]),
                ("wb_anxious_yesterday", ["ylbc"]),
            ):
                v = np.clip(np.round(latent + rng.normal(0, 0.8, n)), 0, 10)
                f[item] = np.where(np.isin(survey, asked_in), v, np.nan)
            frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "response_id", [f"r{i:06d}" for i in range(len(df))])
    for c in ("age", "happy_appearance", "wb_happy_faces", "wb_life_satisfaction",
              "wb_happy_yesterday", "wb_worthwhile", "wb_positive_future",
              "wb_anxious_yesterday"):
        df[c] = pd.to_numeric(df[c]).astype("Int64")
    return df


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return simulate_extract()


@pytest.fixture(scope="module")
def results(sim: pd.DataFrame) -> drivers.DriverResults:
    return drivers.fit_national_models(sim, random_state=0)


# ---------------------------------------------------------------- recovery
def test_planted_drivers_recovered_with_right_sign(results: drivers.DriverResults) -> None:
    d = results.drivers
    for survey in ("ylyc_8_11", "ylyc_11_17", "ylbc"):
        rows = d[d["survey"] == survey].set_index("indicator")
        planted_here = [m for m in PLANTED if m in rows.index]
        assert planted_here, survey
        for mid in planted_here:
            r = rows.loc[mid]
            assert np.sign(r["effect"]) == np.sign(PLANTED[mid]), (survey, mid, r["effect"])
            assert r["ci_low"] > 0 or r["ci_high"] < 0, (survey, mid)  # interval excludes 0
            assert r["ci_low"] <= PLANTED[mid] <= r["ci_high"] or abs(
                r["effect"] - PLANTED[mid]) < 0.35, (survey, mid, r["effect"])
        top = set(rows.sort_values("rank").index[: len(planted_here)])
        assert top == set(planted_here), (survey, top)
        assert rows.loc[NULL_DRIVER, "rank"] > len(planted_here), survey
        assert rows.loc[NULL_DRIVER, "ci_low"] < 0 < rows.loc[NULL_DRIVER, "ci_high"] or abs(
            rows.loc[NULL_DRIVER, "effect"]) < 0.2


def test_afraid_bullying_is_negative_and_ranked_by_size(results: drivers.DriverResults
                                                        ) -> None:
    d = results.drivers.set_index(["survey", "indicator"])
    assert d.loc[("ylyc_11_17", "afraid_bullying"), "effect"] < 0
    assert d.loc[("ylyc_11_17", "afraid_bullying"), "importance"] > 0


def test_permutation_importance_agrees_on_planted(results: drivers.DriverResults) -> None:
    d = results.drivers
    rows = d[d["survey"] == "ylyc_11_17"].set_index("indicator")
    assert rows.loc[list(PLANTED), "perm_rank"].max() <= 3
    perf = results.performance.set_index("survey")
    assert perf.loc["ylyc_11_17", "rank_agreement"] > 0.3


def test_output_shape_and_ranks(results: drivers.DriverResults) -> None:
    d = results.drivers
    assert list(d.columns) == list(drivers.DRIVER_COLUMNS)
    for _, rows in d.groupby("survey"):
        assert sorted(rows["rank"]) == list(range(1, len(rows) + 1))
        assert rows.sort_values("rank")["importance"].is_monotonic_decreasing
    assert (d["ci_low"] <= d["effect"]).all() and (d["effect"] <= d["ci_high"]).all()


def test_performance_reported_with_sizes(results: drivers.DriverResults) -> None:
    p = results.performance
    assert list(p.columns) == list(drivers.PERFORMANCE_COLUMNS)
    assert set(p["survey"]) == set(SURVEY_SHARE)
    assert (p["n"] > 0).all() and (p["n_authorities"] == 24).all()
    assert (p["folds"] == drivers.MAX_FOLDS).all()
    big = p[p["survey"] == "ylyc_11_17"].iloc[0]
    assert big["cv_r2"] > 0.2 and big["cv_mae"] < big["baseline_mae"]
    assert 0.6 < big["cv_auc"] <= 1


# ---------------------------------------------------------------- honest evaluation
def test_group_folds_never_share_an_authority(sim: pd.DataFrame) -> None:
    groups = sim["la_code"].to_numpy()
    folds = drivers.group_folds(groups, 5)
    assert len(folds) == 5
    seen_test: list[str] = []
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        seen_test.extend(np.unique(groups[test]))
    assert sorted(seen_test) == sorted(np.unique(groups))  # each authority tested once


def test_fold_rule() -> None:
    assert drivers.n_folds(10_000, 80) == 5
    assert drivers.n_folds(10_000, 3) == 3
    assert drivers.n_folds(70, 10) == 2
    assert drivers.n_folds(50, 10) == 0
    assert drivers.n_folds(1000, 1) == 0


# ---------------------------------------------------------------- skip logic
def test_questions_not_asked_are_not_candidates(results: drivers.DriverResults) -> None:
    cb = load_codebook()
    d = results.drivers
    for survey, rows in d.groupby("survey"):
        for mid in rows["indicator"]:
            assert survey in cb.indicators[mid].surveys, (survey, mid)
    # e.g. lonely_often is asked of leavers only, afraid_bullying of children only
    assert set(d.loc[d["indicator"] == "lonely_often", "survey"]) == {"ylbc"}
    assert "ylbc" not in set(d.loc[d["indicator"] == "afraid_bullying", "survey"])
    assert set(d.loc[d["survey"] == "ylyc_4_7", "indicator"]) <= {
        m for m, v in cb.indicators.items() if "ylyc_4_7" in v.surveys}


def test_skip_logic_is_not_non_response(sim: pd.DataFrame) -> None:
    data = drivers.outcome_frame(sim)
    groups = {g.name: g for g in drivers.plan_models(data)}
    pooled = [g for g in groups.values() if g.pooled]
    group = pooled[0] if pooled else groups["ylyc_8_11"]
    X = drivers.design_frame(data, group)
    rows = data.loc[X.index]
    if "ylyc_4_7" in group.surveys:
        # trusted_adult is not asked of 4-7s: structural 0, never "missing"
        young = (rows["survey"] == "ylyc_4_7").to_numpy()
        assert (X.loc[young, "trusted_adult"] == 0).all()
    asked = rows["survey"].isin(load_codebook().indicators["trusted_adult"].surveys).to_numpy()
    blank = rows["trusted_adult"].isna().to_numpy()
    assert X.loc[asked & blank, "trusted_adult"].isna().all()  # real non-response stays NaN
    assert X.loc[~asked, "trusted_adult"].notna().all()


def test_base_excludes_get_their_own_column(sim: pd.DataFrame) -> None:
    data = drivers.outcome_frame(sim)
    group = next(g for g in drivers.plan_models(data) if "ylyc_11_17" in g.surveys)
    X = drivers.design_frame(data, group)
    rows = data.loc[X.index]
    no_worries = (rows["worries_support"] == "no_worries").to_numpy()
    assert (X.loc[no_worries, "worries_get_support"] == 0).all()
    assert (X.loc[no_worries, "worries_get_support__not_applicable"] == 1).all()
    assert (X.loc[~no_worries, "worries_get_support__not_applicable"] == 0).all()


def test_pooling_rule(sim: pd.DataFrame) -> None:
    data = drivers.outcome_frame(sim)
    plan = {g.name: g for g in drivers.plan_models(data)}
    # 4-7s: about 400 answers, under MIN_ANSWERS: pooled with 8-11s
    assert "ylyc_4_7+ylyc_8_11" in plan
    assert "pooled with ylyc_8_11" in plan["ylyc_4_7+ylyc_8_11"].reason
    big = simulate_extract(n_la=30, per_la=(500, 520), years=(2025,), seed=3)
    plan_big = {g.name for g in drivers.plan_models(drivers.outcome_frame(big))}
    assert "ylyc_4_7" in plan_big  # enough answers: fitted alone


def test_pooled_model_writes_rows_for_each_survey(results: drivers.DriverResults) -> None:
    d = results.drivers
    pooled = d[d["pooled"]]
    assert set(pooled["survey"]) == {"ylyc_4_7", "ylyc_8_11"}
    shared = set(pooled.loc[pooled["survey"] == "ylyc_4_7", "indicator"])
    both = pooled[pooled["indicator"].isin(shared)].pivot(index="indicator", columns="survey",
                                                          values="effect")
    assert np.allclose(both["ylyc_4_7"], both["ylyc_8_11"])  # one model, one effect


# ---------------------------------------------------------------- statsmodels = sklearn
def test_intervals_use_the_same_design_as_sklearn(sim: pd.DataFrame,
                                                  results: drivers.DriverResults) -> None:
    data = drivers.outcome_frame(sim)
    group = next(g for g in drivers.plan_models(data) if g.name == "ylbc")
    X = drivers.design_frame(data, group)
    linear, _ = drivers.make_pipelines(X, group)
    linear.fit(X, data.loc[X.index, "overall"])
    names = [n.split("__", 1)[1] for n in linear[:-1].get_feature_names_out()]
    coef = pd.Series(linear[-1].coef_, index=names)
    d = results.drivers.query("survey == 'ylbc'").set_index("indicator")
    for mid in d.index:
        assert coef[mid] == pytest.approx(d.loc[mid, "effect"], abs=1e-6)


# ---------------------------------------------------------------- output files
def test_write_drivers_exact_columns_and_deterministic(results: drivers.DriverResults,
                                                       tmp_path: Path) -> None:
    path = drivers.write_drivers(results, tmp_path)
    assert path == tmp_path / "national" / "drivers.csv"
    first = path.read_bytes()
    out = pd.read_csv(path)
    assert list(out.columns) == list(drivers.OUTPUT_COLUMNS)
    assert (tmp_path / "national" / "performance.csv").exists()
    drivers.write_drivers(results, tmp_path)
    assert path.read_bytes() == first
    assert not list((tmp_path / "national").glob("*.tmp"))


def test_refit_is_deterministic(sim: pd.DataFrame, results: drivers.DriverResults) -> None:
    again = drivers.fit_national_models(sim, random_state=0)
    pd.testing.assert_frame_equal(drivers.drivers_table(again), drivers.drivers_table(results))
    pd.testing.assert_frame_equal(again.performance, results.performance)


# ---------------------------------------------------------------- cache
@pytest.fixture
def fit_calls(monkeypatch: pytest.MonkeyPatch, results: drivers.DriverResults) -> list[int]:
    """Replace the (slow) fit with a counting stand-in: the cache logic is what is tested."""
    calls: list[int] = []

    def counting(df: pd.DataFrame, random_state: int = 0) -> drivers.DriverResults:
        calls.append(len(df))
        return results

    monkeypatch.setattr(drivers, "fit_national_models", counting)
    return calls


def test_cache_reused_and_invalidated(sim: pd.DataFrame, tmp_path: Path,
                                      fit_calls: list[int]) -> None:
    first = drivers.cached_national_models(sim, tmp_path, "hash-a")
    files = list(tmp_path.glob("drivers-*.joblib"))
    assert len(fit_calls) == 1 and len(files) == 1
    second = drivers.cached_national_models(sim, tmp_path, "hash-a")
    assert len(fit_calls) == 1  # reused, not refitted
    pd.testing.assert_frame_equal(first.drivers, second.drivers)
    pd.testing.assert_frame_equal(first.performance, second.performance)
    drivers.cached_national_models(sim, tmp_path, "hash-b")
    assert len(fit_calls) == 2  # new data hash: refitted
    drivers.cached_national_models(sim, tmp_path, "hash-a")
    assert len(fit_calls) == 2  # both fits kept (CACHE_KEEP)
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_invalidated_when_model_code_changes(sim: pd.DataFrame, tmp_path: Path,
                                                   fit_calls: list[int],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    drivers.cached_national_models(sim, tmp_path, "h")
    drivers.cached_national_models(sim, tmp_path, "h")
    assert len(fit_calls) == 1
    monkeypatch.setattr(drivers, "model_code_hash", lambda: "drivers.py edited")
    drivers.cached_national_models(sim, tmp_path, "h")
    assert len(fit_calls) == 2


def test_model_code_hash_covers_drivers_and_codebook() -> None:
    from analysis.codebook import CODEBOOK_PATH

    h = drivers.model_code_hash()
    assert len(h) == 64 and h == drivers.model_code_hash()
    assert Path(drivers.__file__).exists() and CODEBOOK_PATH.exists()


def test_cache_keeps_only_the_newest(sim: pd.DataFrame, tmp_path: Path,
                                     fit_calls: list[int]) -> None:
    for i in range(drivers.CACHE_KEEP + 2):
        drivers.cached_national_models(sim, tmp_path, f"h{i}")
    assert len(list(tmp_path.glob("drivers-*.joblib"))) == drivers.CACHE_KEEP


def test_corrupt_cache_is_refitted(sim: pd.DataFrame, tmp_path: Path,
                                   fit_calls: list[int]) -> None:
    drivers.cached_national_models(sim, tmp_path, "h")
    (path,) = tmp_path.glob("drivers-*.joblib")
    path.write_bytes(b"not a joblib file")
    out = drivers.cached_national_models(sim, tmp_path, "h")
    assert len(fit_calls) == 2 and len(out.drivers)


def test_fit_counter_counts_real_fits(sim: pd.DataFrame, tmp_path: Path) -> None:
    small = sim[sim["la_code"] < "E10000008"]
    before = drivers.FIT_COUNT
    drivers.cached_national_models(small, tmp_path, "real")
    drivers.cached_national_models(small, tmp_path, "real")
    assert drivers.FIT_COUNT == before + 1


# ---------------------------------------------------------------- words
def test_effect_phrase() -> None:
    assert drivers.effect_phrase(0.83) == (
        "associated with about 0.8 points higher well-being out of 10")
    assert drivers.effect_phrase(-1.26).endswith("1.3 points lower well-being out of 10")
    assert "little difference" in drivers.effect_phrase(0.01)


def test_no_causal_wording(results: drivers.DriverResults) -> None:
    text = results.describe() + " ".join(results.drivers["note"])
    assert "cause" not in text.replace("not causes", "")
    assert "associated" in text


# ---------------------------------------------------------------- demo data (~15 s)
def test_demo_extract_planted_drivers_rank_top() -> None:
    """On the demonstration extract, the planted drivers come out on top with their signs."""
    synthetic = pytest.importorskip("analysis.synthetic")
    if not hasattr(synthetic, "planted_drivers"):
        pytest.skip("analysis.synthetic.planted_drivers() not available yet")
    path = PROJECT_ROOT / "data" / "synthetic" / "extract.csv"
    if path.exists() and not os.environ.get("DRIVERS_REGENERATE"):
        from analysis.validation import load_valid_extract

        df = load_valid_extract(path)
    else:
        df = synthetic.generate()
    planted = synthetic.planted_drivers(include_null=True)
    res = drivers.fit_national_models(df, random_state=0)
    _check_planted(res, planted)
    perf = res.performance.set_index("survey")
    assert (perf["cv_r2"] > 0).all() and (perf["cv_auc"] > 0.5).all()


def _check_planted(res: drivers.DriverResults, planted: pd.DataFrame) -> None:
    """Each survey's planted drivers fill its top ranks, with their signs; nulls do not."""
    d = res.drivers.set_index(["survey", "indicator"])
    for survey, rows in planted.groupby("survey"):
        fitted = np.array([(survey, i) in d.index for i in rows["indicator"]])
        real = rows[(rows["sign"] != 0).to_numpy() & fitted]
        top = set(d.loc[survey].sort_values("rank").index[: len(real)])
        assert top == set(real["indicator"]), (survey, top, set(real["indicator"]))
        for r in real.to_dict("records"):
            assert np.sign(d.loc[(survey, r["indicator"]), "effect"]) == r["sign"], r
        for r in rows[rows["sign"] == 0].to_dict("records"):
            if (survey, r["indicator"]) in d.index:
                assert d.loc[(survey, r["indicator"]), "rank"] > len(real), r
