"""Driver models: which experiences go with higher well-being, nationally.

Why national, and why once: an authority's own answers are far too few to
say what goes with well-being (a few hundred answers, dozens of candidate
indicators), but the association between, say, feeling settled and
well-being is a property of children in care generally. So one model per
survey is fitted on *every* authority's answers, once per build
(``cached_national_models``), and each authority's briefing combines these
national associations with its own indicator results (``analysis.methods.focus``).

The model (one per survey where its sample allows; ``plan_models`` pools a
thin survey with its partner and every row of it says so)

* outcome: overall well-being, 0-10, as the spec defines it
  (``analysis.data.wellbeing``); a second, logistic model for *low* overall
  well-being (below 5), odds ratios only;
* candidate drivers: every indicator (codebook) the survey asks that is an
  *experience*, coded 1 when the answer meets the indicator's definition and
  0 when it does not; near-outcomes (``NEAR_OUTCOMES``: "life is getting
  better") are never candidates. The sign is the indicator's own:
  ``afraid_bullying`` = 1 means "afraid", so its effect is expected to be
  negative;
* skip logic is kept apart from non-response: a question a survey does not
  ask is not a candidate for that survey (in a pooled model its column is a
  structural 0 for the other survey's rows, never "missing"); an answer the
  indicator leaves out of its base (``base_excludes``, e.g. "no worries")
  gets its own ``__not_applicable`` column; only a blank answer is
  non-response;
* controls: age, gender, placement, survey year, time in care (children) or
  disability (leavers), survey (pooled models). A blank categorical control
  is its own category; a blank age is imputed.

Methods (``analysis.methods.driver_methods``; docs/drivers.md says why each):

* **within authorities**: authority fixed effects by the within
  transformation (every column minus its authority mean), so an effect is
  the association among children of the *same* authority - what a focus
  area needs - and not differences between authorities; standard errors
  clustered by authority, t on (authorities - 1) degrees of freedom;
* **blank answers**: multiple imputation by chained equations
  (``IterativeImputer``, posterior draws, ``IMPUTATIONS`` completed data
  sets; the outcome and the authority's means in the imputation model),
  effects pooled by Rubin's rules; complete-case effects kept for comparison;
* **importance**: Johnson's relative weights of the drivers in the
  within-authority model after the controls (shares of R^2 that allow for
  correlated items), averaged over the imputations; ``rank_low`` /
  ``rank_high`` the 95% range of ranks over ``BOOTSTRAP`` replicates that
  resample authorities;
* **evaluation**: ``GroupKFold`` by authority (no authority in both training
  and test data): R^2 and MAE out of fold, AUC of the predicted score for low
  well-being; and a **nonlinear check**, gradient boosting
  (``HistGradientBoostingRegressor``) fitted on the training authorities with
  permutation importance on the held-out ones: a different model, so where
  its ranking disagrees the ``note`` says so.

Linear effects read as "points on the 0-10 scale": the difference in mean
overall well-being associated with meeting the indicator, the other
indicators and controls held constant, within an authority. It is an
**association**, never a cause: children who feel settled may differ in ways
no survey question captures.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.core import layout
from analysis.core.files import atomic_path, write_csv_atomic
from analysis.core.provenance import files_hash, text_hash
from analysis.data.codebook import CODEBOOK_PATH, Codebook, load_codebook
from analysis.data.wellbeing import overall_wellbeing
from analysis.methods import driver_methods as dm

#: Bump when the method changes in a way the code hash would not show.
MODEL_VERSION = "2"
#: drivers.csv columns: the interfaces.md contract, then the rank interval.
OUTPUT_COLUMNS = ("survey", "indicator", "effect", "ci_low", "ci_high", "importance", "rank",
                  "rank_low", "rank_high")
PERFORMANCE_COLUMNS = (
    "survey", "model", "pooled", "n", "n_authorities", "n_low", "folds", "cv_r2", "cv_mae",
    "baseline_mae", "cv_auc", "in_sample_r2", "rank_agreement", "hgb_cv_r2", "within_r2",
    "complete_share",
)
DRIVER_COLUMNS = (
    "survey", "indicator", "label", "domain", "direction", "effect", "ci_low", "ci_high", "se",
    "p_value", "importance", "rank", "rank_low", "rank_high", "importance_share",
    "perm_importance", "perm_rank", "effect_complete_cases", "missing_info", "pct_meeting",
    "n_answered", "n_missing", "max_correlation", "most_correlated", "odds_ratio_low",
    "or_ci_low", "or_ci_high", "model", "pooled", "pooled_with",
)

# ---- the pooling rule (see plan_models and docs/drivers.md) ----------------
#: A survey whose own model would be too thin is pooled with this partner.
POOL_PARTNERS: dict[str, str] = {"ylyc_4_7": "ylyc_8_11"}
#: A model needs at least this many answers with a well-being score...
MIN_ANSWERS = 1000
#: ...and at least this many answers per design column (parameter)...
MIN_ANSWERS_PER_PARAMETER = 20
#: ...and answers from at least this many authorities (for cross-validation
#: and clustered intervals to mean anything).
MIN_AUTHORITIES = 10
#: Pooling only helps when most of the thin survey's indicators are asked in
#: the partner too: at least this many, and at least this share of them.
MIN_SHARED_INDICATORS = 5
MIN_SHARED_SHARE = 0.75

# ---- candidates --------------------------------------------------------------
#: A candidate needs at least this many answers meeting *and* not meeting the
#: indicator in its survey; otherwise its effect cannot be estimated.
MIN_EACH_CLASS = 5
#: Indicators that are close to the outcome itself rather than experiences:
#: never candidates (a model "explaining" well-being by them explains it by
#: itself). Why each is here is its value (docs/drivers.md, *candidates*).
NEAR_OUTCOMES: dict[str, str] = {
    "life_getting_better": "an evaluation of one's own life, close to well-being itself",
}

# ---- evaluation --------------------------------------------------------------
MAX_FOLDS = 5
#: Each test fold should hold at least this many answers on average.
MIN_FOLD_ANSWERS = 30
PERM_REPEATS = 3
#: Multiple imputation: completed data sets (Rubin's rules pool them).
IMPUTATIONS = 5
#: Bootstrap replicates by authority for the rank intervals (spread evenly
#: over the completed data sets).
BOOTSTRAP = 200
#: Gradient-boosting check: boosting iterations (fixed: no early stopping).
HGB_ITERATIONS = 100
#: A rank interval this wide or wider is noted as uncertain.
RANK_UNSTABLE = 4
#: A driver whose effect interval includes zero but which holds at least this
#: share (%) of the explained variance is noted as sharing it with correlates.
SHARED_NOTE_SHARE = 3.0
#: ...when it correlates at least this much with another candidate (within
#: authorities, after the controls).
CORRELATED = 0.2
#: A ranking difference of this many places or more is noted (when one of the
#: two ranks is in the top DISAGREE_TOP).
DISAGREE_RANKS = 3
DISAGREE_TOP = 10
#: Effects are rounded in drivers.csv (well below any meaningful difference).
DECIMALS = 4
IMPORTANCE_DECIMALS = 6

#: How many times ``fit_national_models`` actually fitted (tests check the cache).
FIT_COUNT = 0


# ---------------------------------------------------------------- results
@dataclass
class ModelGroup:
    """One fitted model: the survey(s) whose answers it uses and its design."""

    name: str
    surveys: tuple[str, ...]
    candidates: dict[str, tuple[str, ...]]  # survey -> indicator ids it is a candidate for
    reason: str
    numeric_controls: tuple[str, ...] = ("age",)
    categorical_controls: tuple[str, ...] = ()

    @property
    def pooled(self) -> bool:
        return len(self.surveys) > 1

    @property
    def drivers(self) -> tuple[str, ...]:
        """Union of the surveys' candidates, in codebook order."""
        cb = load_codebook()
        wanted = {d for c in self.candidates.values() for d in c}
        return tuple(d for d in cb.indicators if d in wanted)


@dataclass
class DriverResults:
    """Everything the national driver stage produces.

    ``drivers``: one row per survey and candidate (``DRIVER_COLUMNS``; the
    interface columns plus label, p-value, permutation importance; the caveats a
    reader sees are worded by ``analysis.present.text.driver_note``).
    ``performance``: one row per survey (``PERFORMANCE_COLUMNS``).
    ``models``: one row per fitted model (surveys, reason, sizes).
    ``info``: settings and timings.
    """

    drivers: pd.DataFrame
    performance: pd.DataFrame
    models: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def for_survey(self, survey: str) -> pd.DataFrame:
        """Ranked drivers of one survey."""
        d = self.drivers
        return d[d["survey"] == survey].sort_values("rank").reset_index(drop=True)


# ---------------------------------------------------------------- data preparation
def _asked(cb: Codebook, indicator: str, survey: str) -> bool:
    return survey in cb.indicators[indicator].surveys


def outcome_frame(df: pd.DataFrame, codebook: Codebook | None = None) -> pd.DataFrame:
    """The extract with ``overall`` and ``low`` (overall < 5), answers without a score dropped.

    Why drop: a respondent who answered no well-being item has no outcome;
    imputing one would invent the very thing the model explains.
    """

    cb = codebook or load_codebook()
    out = df.copy()
    if "overall" not in out.columns:
        out["overall"] = overall_wellbeing(out, cb)
    out = out[out["overall"].notna()].copy()
    out["overall"] = out["overall"].astype("float64")
    out["low"] = (out["overall"] < float(cb.overall.get("low_below", 5))).astype("int64")
    out["survey"] = out["survey"].astype(str)
    out["la_code"] = out["la_code"].astype(str)
    out["survey_year"] = pd.to_numeric(out["survey_year"]).astype("int64")
    return out.reset_index(drop=True)


def survey_candidates(data: pd.DataFrame, survey: str, codebook: Codebook | None = None
                      ) -> tuple[tuple[str, ...], dict[str, str]]:
    """Indicators that are candidates for ``survey``, and the ones left out with why.

    A candidate is an indicator the survey asks (codebook) whose answers in
    this survey include at least ``MIN_EACH_CLASS`` meeting and not meeting
    it: with less variation than that an effect is not estimable.
    """
    cb = codebook or load_codebook()
    rows = data[data["survey"] == survey]
    keep: list[str] = []
    left_out: dict[str, str] = {}
    for mid, m in cb.indicators.items():
        if survey not in m.surveys:
            continue  # skip logic: not asked, not a candidate
        if mid in NEAR_OUTCOMES:
            left_out[mid] = f"not an experience: {NEAR_OUTCOMES[mid]}"
            continue
        if m.column not in rows.columns:
            left_out[mid] = "column not in the extract"
            continue
        met = m.meets(rows[m.column])
        k = int(met.sum())
        n = int(met.notna().sum())
        if min(k, n - k) < MIN_EACH_CLASS:
            left_out[mid] = f"too little variation ({k} of {n} answers meet it)"
            continue
        keep.append(mid)
    return tuple(keep), left_out


def _controls(surveys: tuple[str, ...], data: pd.DataFrame, cb: Codebook
              ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    groups = {cb.group(s) for s in surveys}
    cats = ["gender", "placement"]
    if "in_care" in groups:
        cats.append("years_in_care")
    if "leavers" in groups:
        cats.append("disability")
    rows = data[data["survey"].isin(surveys)]
    if rows["survey_year"].nunique() > 1:
        cats.append("survey_year")
    if len(surveys) > 1:
        cats.append("survey")
    cats = [c for c in cats if c in data.columns]
    nums = tuple(c for c in ("age",) if c in data.columns)
    return nums, tuple(cats)


def design_frame(data: pd.DataFrame, group: ModelGroup, codebook: Codebook | None = None
                 ) -> pd.DataFrame:
    """The model's input columns (raw, before the pipeline) for the group's answers.

    Driver columns hold 1 (meets), 0 (does not), NaN (left blank: non-response)
    and a structural 0 where the row's survey does not ask the question or it
    is not a candidate there (skip logic: never "missing"). Answers the
    indicator excludes from its base are 0 with ``<id>__not_applicable`` = 1.
    """
    cb = codebook or load_codebook()
    rows = data[data["survey"].isin(group.surveys)]
    survey = rows["survey"].to_numpy()
    cols: dict[str, Any] = {}
    for d in group.drivers:
        m = cb.indicators[d]
        asked = np.isin(survey, [s for s in group.surveys if d in group.candidates[s]])
        raw = rows[m.column]
        met = m.meets(raw).to_numpy(dtype="float64")
        values = np.where(asked, met, 0.0)
        if m.base_excludes:
            excluded = asked & raw.astype("string").isin(list(m.base_excludes)).fillna(
                False).to_numpy(dtype=bool)
            values = np.where(excluded, 0.0, values)
            cols[f"{d}__not_applicable"] = excluded.astype("float64")
        cols[d] = values
    for c in group.numeric_controls:
        cols[c] = pd.to_numeric(rows[c], errors="coerce").to_numpy(dtype="float64")
    for c in group.categorical_controls:
        v = rows[c].astype("object")
        cols[c] = np.asarray(v.where(v.notna(), "not_given").astype(str), dtype=object)
    out = pd.DataFrame(cols, index=rows.index)
    # keep driver columns first, in codebook order (the design matrix follows)
    order = [*group.drivers, *[c for c in out.columns if c.endswith("__not_applicable")],
             *group.numeric_controls, *group.categorical_controls]
    return out[order]


def _n_parameters(X: pd.DataFrame, group: ModelGroup) -> int:
    """Number of design columns the pipeline will make (for the pooling rule)."""
    n = 1  # intercept
    for d in group.drivers:
        n += 1 + int(X[d].isna().any())
    n += sum(1 for c in X.columns if c.endswith("__not_applicable"))
    for c in group.numeric_controls:
        n += 1 + int(X[c].isna().any())
    for c in group.categorical_controls:
        n += max(X[c].nunique() - 1, 0)
    return n


def plan_models(data: pd.DataFrame, codebook: Codebook | None = None) -> list[ModelGroup]:
    """Which models to fit: one per survey, thin surveys pooled with their partner.

    The rule (documented in docs/drivers.md): a survey with a partner in
    ``POOL_PARTNERS`` (``ylyc_4_7`` -> ``ylyc_8_11``) is pooled with it when
    its own model would be too thin - fewer than ``MIN_ANSWERS`` answers with a
    well-being score, fewer than ``MIN_ANSWERS_PER_PARAMETER`` answers per
    design column, or answers from fewer than ``MIN_AUTHORITIES`` authorities -
    *and* pooling can help: at least ``MIN_SHARED_INDICATORS`` (and
    ``MIN_SHARED_SHARE``) of its candidates are asked by the partner too.
    Otherwise each survey gets its own model (a thin one is noted as such).
    ``data`` is the output of ``outcome_frame``.
    """
    cb = codebook or load_codebook()
    present = [s for s in cb.surveys if (data["survey"] == s).any()]
    cands = {s: survey_candidates(data, s, cb)[0] for s in present}

    def single(s: str) -> ModelGroup:
        nums, cats = _controls((s,), data, cb)
        return ModelGroup(s, (s,), {s: cands[s]}, "", nums, cats)

    groups: dict[str, ModelGroup] = {}
    pooled_into: dict[str, str] = {}
    for s in present:
        g = single(s)
        X = design_frame(data, g, cb)
        n = len(X)
        n_la = data.loc[data["survey"] == s, "la_code"].nunique()
        p = _n_parameters(X, g)
        thin = []
        if n < MIN_ANSWERS:
            thin.append(f"{n:,} answers (fewer than {MIN_ANSWERS:,})")
        if n < MIN_ANSWERS_PER_PARAMETER * p:
            thin.append(f"{n / p:.0f} answers per parameter (fewer than "
                        f"{MIN_ANSWERS_PER_PARAMETER})")
        if n_la < MIN_AUTHORITIES:
            thin.append(f"{n_la} authorities (fewer than {MIN_AUTHORITIES})")
        partner = POOL_PARTNERS.get(s)
        if thin and partner in cands:
            shared = [d for d in cands[s] if _asked(cb, d, partner)]
            if len(shared) >= MIN_SHARED_INDICATORS and len(shared) >= MIN_SHARED_SHARE * len(
                    cands[s]):
                pooled_into[s] = partner
                g.reason = (f"pooled with {partner}: its own model would be too thin ("
                            f"{'; '.join(thin)}); {len(shared)} of its {len(cands[s])} "
                            "indicators are asked in both")
            else:
                g.reason = (f"fitted alone although thin ({'; '.join(thin)}): only "
                            f"{len(shared)} of its indicators are asked by {partner}")
        elif thin:
            g.reason = f"fitted alone although thin ({'; '.join(thin)}): no pooling partner"
        else:
            g.reason = f"fitted alone: {n:,} answers from {n_la} authorities, {p} parameters"
        groups[s] = g
    out: list[ModelGroup] = []
    for s in present:
        if s in pooled_into:
            continue
        members = (*[t for t in present if pooled_into.get(t) == s], s)
        members = tuple(t for t in present if t in members)
        if len(members) == 1:
            out.append(groups[s])
            continue
        nums, cats = _controls(members, data, cb)
        reason = "; ".join(f"{t}: {groups[t].reason}" for t in members if t in pooled_into)
        out.append(ModelGroup("+".join(members), members, {t: cands[t] for t in members},
                              reason, nums, cats))
    return out


# ---------------------------------------------------------------- folds
def n_folds(n_answers: int, n_authorities: int) -> int:
    """Folds for GroupKFold: ``min(MAX_FOLDS, authorities, answers // MIN_FOLD_ANSWERS)``.

    Fewer folds on a small extract (the test fixture) so each held-out fold
    still has enough answers to score; 0 (no cross-validation) below 2.
    """
    k = min(MAX_FOLDS, n_authorities, n_answers // MIN_FOLD_ANSWERS)
    return k if k >= 2 else 0


def group_folds(groups: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """GroupKFold splits (deterministic): no authority in both train and test."""
    from sklearn.model_selection import GroupKFold

    dummy = np.zeros((len(groups), 1))
    return list(GroupKFold(n_splits=k).split(dummy, groups=groups))


# ---------------------------------------------------------------- design arrays
@dataclass
class Design:
    """A group's answers as arrays: what every method below works on.

    ``drivers``: candidate indicators, 1 / 0 / NaN (a blank answer);
    ``numeric``: numeric controls (age), NaN where blank; ``fixed``: complete
    columns (``__not_applicable`` columns and one-hot categorical controls,
    a blank control being its own category); ``codes``: ``fixed``'s
    categorical controls as integer codes (for the gradient-boosting check).
    """

    names: list[str]          # drivers, then numeric, then fixed columns
    drivers: np.ndarray
    numeric: np.ndarray
    fixed: np.ndarray
    categories: np.ndarray
    y: np.ndarray
    y_low: np.ndarray
    la: np.ndarray            # authority codes 0..G-1
    survey: np.ndarray

    @property
    def n_drivers(self) -> int:
        return self.drivers.shape[1]

    def incomplete(self) -> np.ndarray:
        return np.column_stack([self.drivers, self.numeric])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Imputed values stay within 0-1 (indicators) and the observed range (age)."""
        lo = [0.0] * self.n_drivers + [float(np.nanmin(c)) if np.isfinite(c).any() else 0.0
                                       for c in self.numeric.T]
        hi = [1.0] * self.n_drivers + [float(np.nanmax(c)) if np.isfinite(c).any() else 0.0
                                       for c in self.numeric.T]
        return np.array(lo), np.array(hi)


def make_design(data: pd.DataFrame, group: ModelGroup, cb: Codebook) -> Design:
    """Arrays of the group's design (``design_frame``) for the fitting methods."""
    X = design_frame(data, group, cb)
    rows = data.loc[X.index]
    drv = list(group.drivers)
    na_cols = [c for c in X.columns if c.endswith("__not_applicable")]
    fixed_parts = [X[na_cols].to_numpy(dtype="float64")] if na_cols else []
    fixed_names = list(na_cols)
    cat_codes = []
    for c in group.categorical_controls:
        levels = sorted(X[c].unique())
        values = X[c].to_numpy()
        cat_codes.append(np.searchsorted(levels, values).astype("float64"))
        for lev in levels[1:]:
            fixed_parts.append((values == lev).astype("float64")[:, None])
            fixed_names.append(f"{c}_{lev}")
    fixed = np.column_stack(fixed_parts) if fixed_parts else np.zeros((len(X), 0))
    numeric = (X[list(group.numeric_controls)].to_numpy(dtype="float64")
               if group.numeric_controls else np.zeros((len(X), 0)))
    return Design(
        names=[*drv, *group.numeric_controls, *fixed_names],
        drivers=X[drv].to_numpy(dtype="float64"), numeric=numeric, fixed=fixed,
        categories=np.column_stack(cat_codes) if cat_codes else np.zeros((len(X), 0)),
        y=rows["overall"].to_numpy(dtype="float64"),
        y_low=rows["low"].to_numpy(dtype="int64"),
        la=pd.factorize(rows["la_code"].to_numpy(), sort=True)[0],
        survey=rows["survey"].to_numpy(),
    )


# ---------------------------------------------------------------- the linear model
@dataclass
class _ImputationFit:
    """One completed data set's fit: coefficients, variances, cross-products."""

    coef: np.ndarray          # per design column (NaN where dropped as redundant)
    var: np.ndarray
    crossproducts: np.ndarray  # authorities x k x k, of [within design, within y]
    in_sample_r2: np.ndarray   # per row group (filled by the caller)
    fitted: np.ndarray
    logit: tuple[np.ndarray, np.ndarray] | None


def _fit_completed(d: Design, completed: np.ndarray, low_model: bool) -> _ImputationFit:
    """The within-authority OLS (and the low-well-being logit) on one completed data set."""

    Z = np.column_stack([completed, d.fixed])
    Zw = dm.within(Z, d.la)
    yw = dm.within(d.y, d.la)
    keep = dm.independent_columns(Zw)
    b, V = dm.cluster_ols(Zw[:, keep], yw, d.la)
    coef = np.full(Z.shape[1], np.nan)
    var = np.full(Z.shape[1], np.nan)
    coef[keep] = b
    var[keep] = np.diag(V)
    fitted = d.y - (yw - Zw[:, keep] @ b)  # authority mean + within fit
    W = np.column_stack([Zw, yw])
    cps = dm.cluster_crossproducts(W, d.la)
    logit = None
    if low_model:
        # Mundlak: authority means of every column stand in for authority
        # dummies, which would separate where an authority has no child
        # with low well-being (common among the youngest).
        means = Z - Zw
        L = np.column_stack([np.ones(len(Z)), Z, means])
        lkeep = dm.independent_columns(L)
        lkeep[1:1 + Z.shape[1]] &= keep
        res = dm.cluster_logit(L[:, lkeep], d.y_low.astype("float64"), d.la)
        if res is not None:
            lp = np.full(L.shape[1], np.nan)
            lv = np.full(L.shape[1], np.nan)
            lp[lkeep] = res[0]
            lv[lkeep] = np.diag(res[1])
            logit = (lp[1:1 + Z.shape[1]], lv[1:1 + Z.shape[1]])
    return _ImputationFit(coef, var, cps, np.array([]), fitted, logit)


def _complete_case_effects(d: Design) -> tuple[np.ndarray, int]:
    """Within-authority OLS on the answers with every candidate and age given (comparison)."""

    ok = ~np.isnan(d.incomplete()).any(axis=1)
    out = np.full(d.n_drivers, np.nan)
    if ok.sum() < 2 * (d.incomplete().shape[1] + d.fixed.shape[1]):
        return out, int(ok.sum())
    la = pd.factorize(d.la[ok])[0]
    Z = np.column_stack([d.incomplete()[ok], d.fixed[ok]])
    Zw = dm.within(Z, la)
    keep = dm.independent_columns(Zw)
    b = np.linalg.lstsq(Zw[:, keep], dm.within(d.y[ok], la), rcond=None)[0]
    coef = np.full(Z.shape[1], np.nan)
    coef[keep] = b
    return coef[:d.n_drivers], int(ok.sum())


# ---------------------------------------------------------------- evaluation
def _hgb(random_state: int, n_categorical: int, n_columns: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    cat = np.zeros(n_columns, dtype=bool)
    if n_categorical:
        cat[-n_categorical:] = True
    return HistGradientBoostingRegressor(
        max_iter=HGB_ITERATIONS, learning_rate=0.1, max_leaf_nodes=8, min_samples_leaf=40,
        l2_regularization=1.0, early_stopping=False, random_state=random_state,
        categorical_features=cat if n_categorical else None)


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    total = y - y.mean()
    denom = float(total @ total)
    return float(1 - ((y - pred) @ (y - pred)) / denom) if denom > 0 else float("nan")


def _cross_validate(d: Design, group: ModelGroup, k: int, random_state: int
                    ) -> dict[str, Any]:
    """Out-of-fold predictions (linear and gradient boosting) and the boosting check.

    Each fold's models see only the training authorities: blanks filled with
    the training answers' means (the multiple imputation uses the outcome,
    which must not inform the predictors of the answers being predicted),
    the within-authority coefficients
    (a held-out authority is predicted at the training mean, its own effect
    being unknown), and the gradient-boosting model (which handles blanks
    itself). Permutation importance: the R^2 lost on the held-out answers of
    one survey when one candidate's answers are shuffled among them.
    """

    n = len(d.y)
    oof = np.full(n, np.nan)
    oof_h = np.full(n, np.nan)
    oof_base = np.full(n, np.nan)
    idx_of = {d2: i for i, d2 in enumerate(group.drivers)}
    perm_sum = {s: np.zeros(len(group.candidates[s])) for s in group.surveys}
    perm_w = dict.fromkeys(group.surveys, 0.0)
    full = np.column_stack([d.incomplete(), d.fixed])
    H = np.column_stack([d.incomplete(), d.fixed[:, :_n_na(group, d)], d.categories])
    for fold, (train, test) in enumerate(group_folds(d.la, k) if k else []):
        a, b = dm.impute_for_prediction(full[train], full[test])
        la_tr = pd.factorize(d.la[train])[0]
        Zw = dm.within(a, la_tr)
        keep = dm.independent_columns(Zw)
        coef = np.linalg.lstsq(Zw[:, keep], dm.within(d.y[train], la_tr), rcond=None)[0]
        oof[test] = d.y[train].mean() + (b[:, keep] - a[:, keep].mean(axis=0)) @ coef
        oof_base[test] = d.y[train].mean()
        hgb = _hgb(random_state + fold, d.categories.shape[1], H.shape[1]).fit(
            H[train], d.y[train])
        oof_h[test] = hgb.predict(H[test])
        rng = np.random.default_rng([random_state, fold])
        for s in group.surveys:
            rows = test[d.survey[test] == s]
            cols = [idx_of[c] for c in group.candidates[s]]
            if len(rows) < MIN_FOLD_ANSWERS or not cols:
                continue
            Hs = H[rows]
            base = _r2(d.y[rows], hgb.predict(Hs))
            # every shuffled copy in one predict call (one call per copy is
            # dominated by per-call overhead)
            copies = []
            for c in cols:
                for _ in range(PERM_REPEATS):
                    Hp = Hs.copy()
                    Hp[:, c] = Hp[rng.permutation(len(rows)), c]
                    copies.append(Hp)
            pred = hgb.predict(np.vstack(copies)).reshape(len(cols), PERM_REPEATS, len(rows))
            drops = np.array([np.mean([base - _r2(d.y[rows], pr) for pr in per])
                              for per in pred])
            perm_sum[s] += drops * len(rows)
            perm_w[s] += len(rows)
    perm = {s: perm_sum[s] / perm_w[s] if perm_w[s] else np.full(len(perm_sum[s]), np.nan)
            for s in group.surveys}
    return {"oof": oof, "oof_hgb": oof_h, "oof_base": oof_base, "perm": perm}


def _n_na(group: ModelGroup, d: Design) -> int:
    """How many leading ``fixed`` columns are ``__not_applicable`` columns (not one-hot)."""
    return sum(1 for c in d.names if c.endswith("__not_applicable"))


# ---------------------------------------------------------------- one model
def _fit_group(data: pd.DataFrame, group: ModelGroup, random_state: int, cb: Codebook
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Fit one model group: MI, within-authority OLS, relative weights, bootstrap, checks."""
    from scipy import stats
    from sklearn.metrics import mean_absolute_error, roc_auc_score

    d = make_design(data, group, cb)
    n, p = len(d.y), d.n_drivers
    n_la = int(d.la.max()) + 1 if n else 0
    both_classes = len(np.unique(d.y_low)) == 2

    # --- multiple imputation: outcome and authority (its means) in the model
    inc = d.incomplete()
    predictors = np.column_stack([d.y, dm.cluster_means(d.y[:, None], d.la),
                                  dm.cluster_means(inc, d.la), d.fixed])
    completed = dm.multiply_impute(inc, d.bounds(), predictors, IMPUTATIONS, random_state)
    fits = [_fit_completed(d, c, both_classes) for c in completed]
    df_complete = max(n_la - 1, 1)
    pooled = dm.rubin([f.coef[:p] for f in fits], [f.var[:p] for f in fits], df_complete)
    t_crit = stats.t.ppf(0.975, np.where(np.isfinite(pooled.df), pooled.df, df_complete))
    logit_ok = [f.logit for f in fits if f.logit is not None]
    logit_note = ("ok" if len(logit_ok) == len(fits) else
                  "not fitted: everyone, or no one, has low well-being" if not both_classes
                  else "did not converge (separation): no odds ratios")
    lpool = (dm.rubin([lg[0][:p] for lg in logit_ok], [lg[1][:p] for lg in logit_ok],
                      df_complete) if len(logit_ok) == len(fits) else None)
    cc_effect, n_complete = _complete_case_effects(d)

    # --- relative weights, on each completed data set and bootstrap replicates
    k_all = len(d.names)
    drivers_idx = np.arange(p)
    controls_idx = np.arange(p, k_all)
    outcome_idx = k_all
    weights = []
    boot: list[np.ndarray] = []
    rng = np.random.default_rng([random_state, 17])
    per_imputation = max(BOOTSTRAP // IMPUTATIONS, 1)
    for f in fits:
        M = f.crossproducts.sum(axis=0)
        weights.append(dm.weights_from_moments(M, drivers_idx, controls_idx, outcome_idx)[0])
        if n_la < 2:
            continue
        counts = rng.multinomial(n_la, np.full(n_la, 1 / n_la), size=per_imputation)
        for c in counts:
            Mb = np.tensordot(c.astype("float64"), f.crossproducts, axes=1)
            boot.append(dm.weights_from_moments(Mb, drivers_idx, controls_idx, outcome_idx)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        importance = np.nanmean(np.vstack(weights), axis=0)
    # how strongly each driver moves with the others (first completed data set)
    rxx, _, usable, _ = dm.partial_moments(fits[0].crossproducts.sum(axis=0), drivers_idx,
                                           controls_idx, outcome_idx)
    corr = np.zeros((p, p))
    corr[np.ix_(usable, usable)] = rxx
    boot_w = np.vstack(boot) if boot else np.zeros((0, p))

    # --- cross-validation by authority: linear and gradient-boosting predictions
    k = n_folds(n, n_la)
    cv = _cross_validate(d, group, k, random_state)
    in_sample = np.mean([_r2(d.y, f.fitted) for f in fits], axis=0)

    order = {m: i for i, m in enumerate(cb.indicators)}
    driver_rows: list[dict[str, Any]] = []
    perf_rows: list[dict[str, Any]] = []
    for s in group.surveys:
        sel = d.survey == s
        cands = list(group.candidates[s])
        ci = np.array([group.drivers.index(c) for c in cands], dtype=int)
        tie = np.array([order[c] for c in cands])
        imp_s = importance[ci]
        rank = dm.ranks_desc(imp_s, tie)
        if len(boot_w):
            boot_ranks = np.vstack([dm.ranks_desc(w[ci], tie) for w in boot_w])
            r_lo = np.quantile(boot_ranks, 0.025, axis=0, method="lower")
            r_hi = np.quantile(boot_ranks, 0.975, axis=0, method="higher")
        else:
            r_lo = r_hi = np.full(len(cands), np.nan)
        perm = cv["perm"][s]
        perm_rank = (dm.ranks_desc(perm, tie) if np.isfinite(perm).any()
                     else np.full(len(cands), -1))
        total = float(np.nansum(imp_s))
        for j, c in enumerate(cands):
            m = cb.indicators[c]
            others = np.abs(corr[ci[j], ci].copy())
            others[j] = 0.0
            near = int(np.argmax(others)) if len(others) > 1 else j
            col = d.drivers[sel, ci[j]]
            answered = ~np.isnan(col)
            share = float(col[answered].mean()) if answered.any() else float("nan")
            b = float(pooled.estimate[ci[j]])
            se = float(pooled.se[ci[j]])
            tval = b / se if se > 0 else np.nan
            pval = (float(2 * stats.t.sf(abs(tval), pooled.df[ci[j]])) if np.isfinite(tval)
                    else float("nan"))
            row = {
                "survey": s, "indicator": c, "label": m.label, "domain": m.domain,
                "direction": m.direction, "effect": b, "ci_low": b - t_crit[ci[j]] * se,
                "ci_high": b + t_crit[ci[j]] * se, "se": se, "p_value": pval,
                "importance": float(imp_s[j]), "rank": int(rank[j]),
                "rank_low": float(r_lo[j]), "rank_high": float(r_hi[j]),
                "importance_share": (100 * float(imp_s[j]) / total if total > 0 else np.nan),
                "perm_importance": float(perm[j]),
                "perm_rank": int(perm_rank[j]) if perm_rank[j] > 0 else pd.NA,
                "effect_complete_cases": float(cc_effect[ci[j]]),
                "missing_info": float(pooled.fraction_missing_info[ci[j]]),
                "pct_meeting": 100 * share, "n_answered": int(answered.sum()),
                "n_missing": int((~answered).sum()),
                "max_correlation": float(others[near]) if len(others) > 1 else 0.0,
                "most_correlated": cb.indicators[cands[near]].label.lower(),
                "odds_ratio_low": np.nan, "or_ci_low": np.nan, "or_ci_high": np.nan,
                "model": group.name, "pooled": group.pooled,
                "pooled_with": " ".join(t for t in group.surveys if t != s),
            }
            if lpool is not None and np.isfinite(lpool.estimate[ci[j]]):
                lb, ls = float(lpool.estimate[ci[j]]), float(lpool.se[ci[j]])
                row["odds_ratio_low"] = float(np.exp(lb))
                row["or_ci_low"] = float(np.exp(lb - 1.959964 * ls))
                row["or_ci_high"] = float(np.exp(lb + 1.959964 * ls))
            driver_rows.append(row)
        agree = float("nan")
        if len(cands) > 2 and np.isfinite(perm).all() and np.isfinite(imp_s).all():
            agree = float(stats.spearmanr(imp_s, perm)[0])
        ok = sel & np.isfinite(cv["oof"])
        okh = sel & np.isfinite(cv["oof_hgb"])
        auc = float("nan")
        if ok.sum() and len(np.unique(d.y_low[ok])) == 2:
            auc = float(roc_auc_score(d.y_low[ok], -cv["oof"][ok]))
        perf_rows.append({
            "survey": s, "model": group.name, "pooled": group.pooled, "n": int(sel.sum()),
            "n_authorities": int(len(np.unique(d.la[sel]))), "n_low": int(d.y_low[sel].sum()),
            "folds": k,
            "cv_r2": _r2(d.y[ok], cv["oof"][ok]) if ok.sum() > 1 else float("nan"),
            "cv_mae": (float(mean_absolute_error(d.y[ok], cv["oof"][ok])) if ok.sum()
                       else float("nan")),
            "baseline_mae": (float(mean_absolute_error(d.y[ok], cv["oof_base"][ok]))
                             if ok.sum() else float("nan")),
            "cv_auc": auc,
            "in_sample_r2": _r2(d.y[sel], np.mean([f.fitted[sel] for f in fits], axis=0)),
            "rank_agreement": agree,
            "hgb_cv_r2": _r2(d.y[okh], cv["oof_hgb"][okh]) if okh.sum() > 1 else float("nan"),
            "within_r2": total,
            "complete_share": float((~np.isnan(inc[sel][:, ci]).any(axis=1)).mean()),
        })
    info = {
        "model": group.name, "surveys": " ".join(group.surveys), "pooled": group.pooled,
        "reason": group.reason, "n": n, "n_authorities": n_la, "folds": k,
        "design_columns": len(d.names), "imputations": IMPUTATIONS,
        "bootstrap": len(boot_w), "n_complete": n_complete,
        "controls": " ".join([*group.numeric_controls, *group.categorical_controls]),
        "in_sample_r2": float(in_sample), "t_df": df_complete, "low_model": logit_note,
    }
    return driver_rows, perf_rows, info


@contextmanager
def fitting_context() -> Iterator[None]:
    """One thread for BLAS and OpenMP, quiet numerical warnings, while fitting.

    One thread: deterministic sums, and on a shared 2-core machine faster
    (gradient boosting's OpenMP threads otherwise contend with every other
    process). Parameter validation off: the estimators are built here.
    """
    import sklearn
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), sklearn.config_context(skip_parameter_validation=True), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unknown categories.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        yield


def fit_group(data: pd.DataFrame, group: ModelGroup, random_state: int = 0
              ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """One model group alone (``data`` from ``outcome_frame``): drivers, performance, info.

    What ``fit_national_models`` does for each group, for callers (tests,
    explorations) that need only one survey's model.
    """
    with fitting_context():
        rows, perf, info = _fit_group(data, group, random_state, load_codebook())
    return pd.DataFrame(rows, columns=list(DRIVER_COLUMNS)), pd.DataFrame(perf), info


def fit_national_models(df: pd.DataFrame, random_state: int = 0) -> DriverResults:
    """Fit every survey's driver models on all authorities' answers (see module docstring).

    ``df`` is the validated extract (``load_valid_extract``), all years: the
    survey year is a control. Deterministic for a given ``random_state``
    (numerical libraries are held to one thread while fitting).
    """
    global FIT_COUNT

    FIT_COUNT += 1
    start = time.perf_counter()
    cb = load_codebook()
    data = outcome_frame(df, cb)
    drivers: list[dict[str, Any]] = []
    perf: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    with fitting_context():
        for group in plan_models(data, cb):
            d, p, info = _fit_group(data, group, random_state, cb)
            drivers.extend(d)
            perf.extend(p)
            models.append(info)
    order = {s: i for i, s in enumerate(cb.surveys)}
    dframe = pd.DataFrame(drivers, columns=list(DRIVER_COLUMNS))
    if not dframe.empty:
        dframe = dframe.sort_values(["survey", "rank"], key=lambda c: c.map(order)
                                    if c.name == "survey" else c, kind="stable")
        dframe["rank"] = dframe["rank"].astype("int64")
        for c in ("perm_rank", "rank_low", "rank_high"):
            dframe[c] = dframe[c].astype("Float64").round().astype("Int64")
    pframe = pd.DataFrame(perf, columns=list(PERFORMANCE_COLUMNS))
    pframe = pframe.sort_values("survey", key=lambda c: c.map(order), kind="stable")
    years = sorted(int(y) for y in data["survey_year"].unique())
    info = {
        "random_state": random_state, "model_version": MODEL_VERSION,
        "years": years, "n": len(data), "n_authorities": int(data["la_code"].nunique()),
        "seconds": round(time.perf_counter() - start, 2),
    }
    return DriverResults(dframe.reset_index(drop=True), pframe.reset_index(drop=True),
                         pd.DataFrame(models), info)


# ---------------------------------------------------------------- output
def drivers_table(results: DriverResults) -> pd.DataFrame:
    """Exactly the interfaces.md drivers.csv columns, rounded, in survey and rank order."""
    out = results.drivers.loc[:, list(OUTPUT_COLUMNS)].copy()
    for c in ("effect", "ci_low", "ci_high"):
        out[c] = out[c].astype("float64").round(DECIMALS) + 0.0  # + 0.0: no "-0"
    # importance is a share of R^2 (often 0.001-0.05): more decimals
    out["importance"] = out["importance"].astype("float64").round(IMPORTANCE_DECIMALS) + 0.0
    out["rank"] = out["rank"].astype("int64")
    for c in ("rank_low", "rank_high"):
        out[c] = out[c].astype("Int64")
    return out.reset_index(drop=True)


def round_count(value: float, base: int = 10) -> int:
    """A model's number of answers, rounded to the nearest ``base`` for publication."""
    return int(base * np.floor(float(value) / base + 0.5))


def write_drivers(results: DriverResults, reports_dir: Path | str) -> Path:
    """Write ``REPORTS_DIR/national/drivers.csv`` (and ``performance.csv`` beside it)."""
    folder = Path(reports_dir) / "national"
    path = write_csv_atomic(drivers_table(results), folder / layout.DRIVERS_CSV, "%.10g")
    perf = results.performance.copy()
    for c in ("cv_r2", "cv_mae", "baseline_mae", "cv_auc", "in_sample_r2", "rank_agreement",
              "hgb_cv_r2", "within_r2", "complete_share"):
        perf[c] = perf[c].astype("float64").round(DECIMALS) + 0.0
    # No exact national counts are published (analysis.methods.disclosure): the number of
    # answers to the nearest 10, and no count of low well-being at all (with the
    # published authority counts it would give the withheld ones away).
    perf["n"] = [round_count(v) for v in perf["n"]]
    perf = perf.drop(columns=[c for c in ("n_low",) if c in perf.columns])
    write_csv_atomic(perf, folder / layout.PERFORMANCE_CSV, "%.10g")
    return path


#: How many cached fits to keep per cache folder (the build's and a notebook's).
CACHE_KEEP = 4


def cached_national_models(df: pd.DataFrame, cache_dir: Path | str, data_hash: str,
                           random_state: int = 0) -> DriverResults:
    """``fit_national_models`` once per data and model code; afterwards read back.

    The key combines ``data_hash`` (the build's fingerprint of the extract),
    ``model_code_hash()`` and ``random_state``: a new extract, an edit to this
    file or to the codebook, or a library upgrade refits; anything else (a
    parameter file, a template, a re-run) reuses the fit. joblib files are
    written atomically; an unreadable one is simply refitted. The newest
    ``CACHE_KEEP`` fits are kept so a notebook run on another year does not
    evict the build's.
    """
    import joblib

    folder = Path(cache_dir)
    key = hashlib.sha256(f"{data_hash}|{model_code_hash()}|{random_state}".encode()).hexdigest()
    path = folder / f"drivers-{key[:20]}.joblib"
    if path.exists():
        try:
            stored = joblib.load(path)
            if isinstance(stored, dict) and stored.get("key") == key:
                os.utime(path)  # most recently used
                return stored["results"]
        except Exception:  # noqa: BLE001 - a bad cache file is refitted, not fatal
            pass
    results = fit_national_models(df, random_state=random_state)
    with atomic_path(path) as tmp:
        joblib.dump({"key": key, "results": results}, tmp)
    old = sorted(folder.glob("drivers-*.joblib"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in old[CACHE_KEEP:]:
        stale.unlink(missing_ok=True)
    return results


# ---------------------------------------------------------------- cache
def model_code_hash() -> str:
    """Hash of what the models are computed by: this file, the codebook, library versions."""
    import sklearn
    import statsmodels

    here = Path(__file__)
    return text_hash(MODEL_VERSION, files_hash((here, here.with_name("driver_methods.py"),
                                                CODEBOOK_PATH)),
                     sklearn.__version__, statsmodels.__version__, np.__version__)



