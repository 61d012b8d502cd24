"""Tests for the national driver models (analysis.methods.drivers).

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

from analysis.core.paths import PROJECT_ROOT
from analysis.data import synthetic
from analysis.data.codebook import CODEBOOK_PATH, load_codebook
from analysis.data.validation import load_valid_extract
from analysis.methods import driver_methods as dm
from analysis.methods import drivers
from analysis.present.text import describe_models, driver_note, effect_phrase

#: Planted effects in points of overall well-being (0-10) per indicator met.
PLANTED = {"feel_settled_always": 1.2, "good_friend": 0.9, "afraid_bullying": -0.9}
NULL_DRIVER = "has_pet"
SURVEY_SHARE = {"ylyc_4_7": 0.12, "ylyc_8_11": 0.23, "ylyc_11_17": 0.40, "ylbc": 0.25}


def simulate_extract(
    n_la: int = 24, per_la: tuple[int, int] = (70, 110), years: tuple[int, ...] = (2024, 2025),
    seed: int = 0, effects: dict[str, float] | None = None, blank: float = 0.04,
    shared: dict[str, float] | None = None,
) -> pd.DataFrame:
    """A spec-shaped extract (codes as text, scales as numbers) with planted effects.

    Every question is asked only in its surveys (skip logic), a share
    ``blank`` of answers is left blank, and overall well-being is built from
    a latent score ``6 + authority effect + sum(effect x indicator met) +
    noise`` turned into the survey's well-being items. ``shared`` maps
    questions to loadings on one latent factor per child, so their answers
    move together (correlated items) whatever their effects.
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
            factor = rng.normal(0, 1, n)
            for name, col in cb.questions.items():
                if col.domain == "wellbeing":
                    continue
                asked = np.isin(survey, col.surveys)
                if col.scale:
                    vals = rng.integers(0, 11, n).astype(object)
                elif shared and name in shared:
                    codes = list(col.codes)
                    z = shared[name] * factor + rng.logistic(size=n)
                    vals = np.where(z > np.quantile(z, 0.4), codes[0],
                                    rng.choice(codes[1:], n)).astype(object)
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


def test_gradient_boosting_check_agrees_on_planted(results: drivers.DriverResults) -> None:
    """The nonlinear check (its own model, held-out authorities) finds the planted drivers too."""
    d = results.drivers
    rows = d[d["survey"] == "ylyc_11_17"].set_index("indicator")
    assert rows.loc[list(PLANTED), "perm_rank"].max() <= 3
    perf = results.performance.set_index("survey")
    assert perf.loc["ylyc_11_17", "rank_agreement"] > 0.3
    assert perf.loc["ylyc_11_17", "hgb_cv_r2"] > 0.1


def test_rank_intervals_reported(results: drivers.DriverResults) -> None:
    d = results.drivers
    assert d["rank_low"].notna().all() and d["rank_high"].notna().all()
    assert (d["rank_low"] <= d["rank_high"]).all()
    rows = d[d["survey"] == "ylyc_11_17"].set_index("indicator")
    # the strongest planted driver is first in (nearly) every bootstrap replicate
    assert rows.loc["feel_settled_always", "rank_high"] <= 2
    # the null driver's interval stays below the planted ones
    assert rows.loc[NULL_DRIVER, "rank_low"] > len(PLANTED)


def test_near_outcomes_are_not_candidates(results: drivers.DriverResults) -> None:
    assert "life_getting_better" in drivers.NEAR_OUTCOMES
    assert "life_getting_better" not in set(results.drivers["indicator"])
    kept, left_out = drivers.survey_candidates(
        drivers.outcome_frame(simulate_extract(n_la=3, per_la=(60, 61), years=(2025,))),
        "ylyc_11_17")
    assert "life_getting_better" not in kept and "not an experience" in left_out[
        "life_getting_better"]


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


# ---------------------------------------------------------------- one survey's model, lean
WB_ITEMS_11_17 = ("wb_life_satisfaction", "wb_happy_yesterday", "wb_worthwhile",
                  "wb_positive_future")


def _fit_one(df: pd.DataFrame, survey: str = "ylyc_11_17"
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Fit only the model covering ``survey`` (the tests below need no other)."""
    cb = load_codebook()
    data = drivers.outcome_frame(df, cb)
    group = next(g for g in drivers.plan_models(data, cb) if survey in g.surveys)
    table, perf, _ = drivers.fit_group(data, group, 0)
    return table[table["survey"] == survey].set_index("indicator"), perf, data


def _met(data: pd.DataFrame, indicator: str) -> np.ndarray:
    m = load_codebook().indicators[indicator]
    return m.meets(data[m.column]).to_numpy(dtype="float64")


# ---------------------------------------------------------------- within authorities
def test_effects_are_within_authority() -> None:
    """An item that goes with well-being *between* authorities but not within them gets ~0.

    Authorities differ in how many children have a pet and, by the same
    ordering, in well-being; within any one authority a pet makes no
    difference. A model without authority effects finds a large association
    (checked here, so the test can fail); the fixed-effects model must not.
    """
    df = simulate_extract(n_la=30, per_la=(90, 100), years=(2025,), seed=5)
    rng = np.random.default_rng(5)
    las = sorted(df["la_code"].unique())
    rate = pd.Series(np.linspace(0.1, 0.9, len(las)), index=las)
    p = df["la_code"].map(rate).to_numpy()
    asked = df["has_pet"].notna().to_numpy()
    df.loc[asked, "has_pet"] = np.where(rng.random(asked.sum()) < p[asked], "yes", "no")
    shift = np.rint((p - 0.5) * 5).astype(int)
    for c in WB_ITEMS_11_17:
        df[c] = (df[c] + shift).clip(0, 10)
    fe, _, data = _fit_one(df)
    young = (data["survey"] == "ylyc_11_17").to_numpy()
    pet, y = _met(data, "has_pet")[young], data["overall"].to_numpy()[young]
    ok = ~np.isnan(pet)
    naive = np.polyfit(pet[ok], y[ok], 1)[0]
    assert naive > 1.0  # between-authority confounding is there to be fooled by
    r = fe.loc["has_pet"]
    assert r["ci_low"] < 0 < r["ci_high"] or abs(r["effect"]) < 0.15, r
    assert abs(r["effect"]) < 0.3
    assert fe.loc["feel_settled_always", "effect"] > 0.5  # the real driver still found


# ---------------------------------------------------------------- missing answers
def test_multiple_imputation_handles_blanks_that_go_with_low_wellbeing() -> None:
    """Blanks more common among unhappier children (missing at random given the outcome).

    Complete cases then select on the outcome and shrink the association;
    multiple imputation with the outcome in the imputation model recovers
    the estimate the full data give.
    """
    df = simulate_extract(n_la=30, per_la=(150, 160), years=(2025,), seed=7, blank=0.0)
    full, _, data = _fit_one(df)
    truth = full.loc["feel_settled_always", "effect"]
    rng = np.random.default_rng(7)
    overall = data.set_index("response_id")["overall"].reindex(df["response_id"]).to_numpy()
    low = overall < np.nanquantile(overall, 0.3)
    blank = rng.random(len(df)) < np.where(low, 0.95, 0.03)
    gappy = df.copy()
    gappy.loc[blank, "feel_settled"] = None
    mi, perf, _ = _fit_one(gappy)
    r = mi.loc["feel_settled_always"]
    mi_err = abs(r["effect"] - truth)
    cc_err = abs(r["effect_complete_cases"] - truth)
    assert cc_err > 0.1, (truth, r["effect_complete_cases"])  # complete cases are biased here
    assert mi_err < cc_err / 2, (truth, r["effect"], r["effect_complete_cases"])
    assert r["ci_low"] < truth < r["ci_high"]
    assert r["missing_info"] > 0  # imputation uncertainty is carried into the interval
    assert perf.set_index("survey").loc["ylyc_11_17", "complete_share"] < 0.9


# ---------------------------------------------------------------- correlated drivers
def test_correlated_partner_is_not_ranked_above_its_planted_driver() -> None:
    """Feeling settled (planted) and feeling safe / trusting carers (not) move together."""
    planted = {"feel_settled_always": 1.0, "good_friend": 0.7, "afraid_bullying": -0.7}
    df = simulate_extract(n_la=30, per_la=(100, 110), years=(2025,), seed=11, effects=planted,
                          shared={"feel_settled": 2.5, "feel_safe": 2.5, "trust_carers": 2.5})
    res, _, data = _fit_one(df)
    young = (data["survey"] == "ylyc_11_17").to_numpy()
    settled, safe = _met(data, "feel_settled_always")[young], _met(data, "feel_safe_always")[
        young]
    y = data["overall"].to_numpy()[young]
    ok = ~np.isnan(settled) & ~np.isnan(safe)
    assert np.corrcoef(settled[ok], safe[ok])[0, 1] > 0.3  # they do move together...
    assert np.corrcoef(safe[ok], y[ok])[0, 1] > 0.1  # ...so the partner goes with well-being
    for partner in ("feel_safe_always", "trust_carers"):
        assert res.loc["feel_settled_always", "rank"] < res.loc[partner, "rank"], partner
        assert res.loc["feel_settled_always", "rank_high"] <= res.loc[partner, "rank_low"]
        assert abs(res.loc[partner, "effect"]) < 0.3, res.loc[partner]
    for mid, size in planted.items():
        assert np.sign(res.loc[mid, "effect"]) == np.sign(size)


# ---------------------------------------------------------------- the methods themselves
def test_relative_weights_sum_to_r2_and_reduce_to_r2_when_orthogonal() -> None:

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 4))
    X[:, 1] += 0.8 * X[:, 0]
    y = X @ np.array([1.0, 0.0, 0.5, 0.0]) + rng.normal(size=4000)
    Xs = (X - X.mean(0)) / X.std(0)
    ys = (y - y.mean()) / y.std()
    rxx, rxy = np.corrcoef(Xs.T), Xs.T @ ys / len(ys)
    w = dm.relative_weights(rxx, rxy)
    beta = np.linalg.lstsq(Xs, ys, rcond=None)[0]
    r2 = 1 - np.var(ys - Xs @ beta) / np.var(ys)
    assert w.sum() == pytest.approx(r2, rel=1e-6)
    assert w[0] > w[1] > w[3] and w[1] > 0.02  # the correlate shares, the noise does not
    w_orth = dm.relative_weights(np.eye(3), np.array([0.5, 0.2, 0.1]))
    assert np.allclose(w_orth, [0.25, 0.04, 0.01])


def test_bootstrap_crossproducts_equal_refitting_the_replicate() -> None:
    """A replicate's weighted per-authority cross-products = the replicate's own data."""

    rng = np.random.default_rng(1)
    codes = np.repeat(np.arange(6), 50)
    W = dm.within(rng.normal(size=(300, 5)) + codes[:, None] * 0.3, codes)
    cps = dm.cluster_crossproducts(W, codes)
    counts = np.array([2, 0, 1, 0, 3, 0])
    rows = np.concatenate([np.flatnonzero(codes == g) for g in range(6)
                           for _ in range(counts[g])])
    direct = W[rows].T @ W[rows]
    assert np.allclose(np.tensordot(counts.astype(float), cps, axes=1), direct)
    w_a = dm.weights_from_moments(direct, np.arange(3), np.array([3]), 4)[0]
    assert np.isfinite(w_a).all() and (w_a >= 0).all()


def test_rubin_rules() -> None:

    pooled = dm.rubin([np.array([1.0]), np.array([2.0]), np.array([3.0])],
                      [np.array([1.0])] * 3, df_complete=50)
    assert pooled.estimate[0] == pytest.approx(2.0)
    assert pooled.se[0] ** 2 == pytest.approx(1 + (1 + 1 / 3) * 1.0)
    assert 2 <= pooled.df[0] <= 50
    same = dm.rubin([np.array([1.0])] * 5, [np.array([0.25])] * 5, df_complete=40)
    assert same.se[0] == pytest.approx(0.5) and same.fraction_missing_info[0] == 0


def test_within_and_independent_columns() -> None:

    codes = np.array([0, 0, 1, 1, 1])
    Z = np.array([[1.0, 2, 5], [3, 4, 5], [1, 1, 7], [2, 3, 7], [3, 2, 7]])
    Zw = dm.within(Z, codes)
    assert np.allclose(Zw[:2].sum(0), 0) and np.allclose(Zw[2:].sum(0), 0)
    assert not Zw[:, 2].any()  # an authority-level column vanishes...
    keep = dm.independent_columns(np.column_stack([Zw, Zw[:, 0]]))
    assert keep.tolist() == [True, True, False, False]  # ...and so does a repeated one


def test_imputations_differ_and_stay_in_bounds() -> None:

    rng = np.random.default_rng(2)
    x = (rng.random((500, 2)) < 0.5).astype(float)
    y = x @ np.array([1.0, -1.0]) + rng.normal(size=500)
    x[rng.random((500, 2)) < 0.2] = np.nan
    done = dm.multiply_impute(x, (np.zeros(2), np.ones(2)), y[:, None], m=3, random_state=0)
    assert len(done) == 3 and not np.isnan(done[0]).any()
    assert all(((d >= 0) & (d <= 1)).all() for d in done)
    blank = np.isnan(x)
    assert not np.allclose(done[0][blank], done[1][blank])  # posterior draws, not one fill
    assert np.array_equal(done[0][~blank], x[~blank])
    again = dm.multiply_impute(x, (np.zeros(2), np.ones(2)), y[:, None], m=3, random_state=0)
    assert all(np.array_equal(a, b) for a, b in zip(done, again, strict=True))


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
    assert effect_phrase(0.83) == (
        "associated with about 0.8 points higher well-being out of 10")
    assert effect_phrase(-1.26).endswith("1.3 points lower well-being out of 10")
    assert "little difference" in effect_phrase(0.01)


def test_no_causal_wording(results: drivers.DriverResults) -> None:
    notes = [driver_note(r) for r in results.drivers.to_dict("records")]
    text = describe_models(results) + " ".join(notes)
    plain = text.replace("not causes", "")
    for word in ("cause", "drives", "driven by", "leads to", "because of"):
        assert word not in plain, word
    assert "goes with" in text or "go with" in text


# ---------------------------------------------------------------- demo data (~40 s)
def test_demo_extract_planted_drivers_recovered() -> None:
    """On the demonstration extract: planted drivers found with their signs, pairs in order."""
    synthetic = pytest.importorskip("analysis.data.synthetic")
    path = PROJECT_ROOT / "data" / "synthetic" / "extract.csv"
    if path.exists() and not os.environ.get("DRIVERS_REGENERATE"):
        df = load_valid_extract(path)
    else:
        df = synthetic.generate()
    res = drivers.fit_national_models(df, random_state=0)
    _check_planted(res, synthetic.planted_drivers(include_null=True),
                   synthetic.correlated_pairs())
    perf = res.performance.set_index("survey")
    assert (perf["cv_r2"] > 0).all() and (perf["cv_auc"] > 0.5).all()
    assert (perf["within_r2"] > 0).all()


def _check_planted(res: drivers.DriverResults, planted: pd.DataFrame,
                   pairs: pd.DataFrame) -> None:
    """Planted drivers: right sign, interval excluding 0, above every null driver.

    Relative weights credit a correlated partner with the variance it shares
    with its planted driver, so the top ranks hold the planted drivers and,
    possibly, such partners - but a partner never above its own planted
    driver, and its own effect stays near zero.
    """
    d = res.drivers.set_index(["survey", "indicator"])
    assert pairs.shape[0] >= 4, "the demonstration data must plant correlated pairs"
    for survey, rows in planted.groupby("survey"):
        fitted = np.array([(survey, i) in d.index for i in rows["indicator"]])
        real = rows[(rows["sign"] != 0).to_numpy() & fitted]
        nulls = [i for i in rows.loc[rows["sign"] == 0, "indicator"] if (survey, i) in d.index]
        for r in real.to_dict("records"):
            got = d.loc[(survey, r["indicator"])]
            assert np.sign(got["effect"]) == r["sign"], r
            assert got["ci_low"] > 0 or got["ci_high"] < 0, r
            assert pd.notna(got["rank_low"]) and pd.notna(got["rank_high"])
            for n in nulls:
                assert got["rank"] < d.loc[(survey, n), "rank"], (r, n)
        partners = set(pairs.loc[pairs["survey"] == survey, "partner"])
        ranked = d.loc[survey].sort_values("rank")
        top = set(ranked.index[: len(real)])
        assert top <= set(real["indicator"]) | partners, (survey, top)
        assert ranked.index[0] in set(real["indicator"])
    for p in pairs.to_dict("records"):
        a, b = d.loc[(p["survey"], p["planted"])], d.loc[(p["survey"], p["partner"])]
        assert a["rank"] < b["rank"], p
        assert abs(b["effect"]) < abs(a["effect"]) / 2, p


# ---------------------------------------------------------------- synthetic correlated pairs
def test_synthetic_shared_factors_are_checked_and_listed() -> None:

    cfg = synthetic.load_config()
    pairs = synthetic.correlated_pairs(cfg)
    assert {"feel_safe_always", "trust_worker"} <= set(pairs["partner"])
    planted = synthetic.planted_drivers(cfg, include_null=False)
    sized = set(zip(planted["survey"], planted["indicator"], strict=True))
    for p in pairs.to_dict("records"):
        assert (p["survey"], p["planted"]) in sized
        assert (p["survey"], p["partner"]) not in sized
    bad = dict(cfg, shared_factors=[{"name": "x", "loading": 1.0, "questions": ["has_pet"]}])
    with pytest.raises(synthetic.SyntheticConfigError, match="null driver"):
        synthetic.generate(bad)
