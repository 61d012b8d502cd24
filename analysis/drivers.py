"""Driver models: which experiences go with higher well-being, nationally.

Why national, and why once: an authority's own answers are far too few to
say what goes with well-being (a few hundred answers, dozens of candidate
indicators), but the association between, say, feeling settled and
well-being is a property of children in care generally. So one model per
survey is fitted on *every* authority's answers, once per build
(``cached_national_models``), and each authority's briefing combines these
national associations with its own indicator results (``analysis.focus``).

The model (one per survey, see ``plan_models`` for the pooling rule)

* outcome: overall well-being, 0-10, as the spec defines it
  (``analysis.wellbeing``); a second, logistic model for *low* overall
  well-being (below 5);
* candidate drivers: every indicator (codebook) the survey asks, coded 1 when
  the answer meets the indicator's definition and 0 when it does not. The
  sign is the indicator's own: ``afraid_bullying`` = 1 means "afraid", so its
  effect is expected to be negative;
* skip logic is kept apart from non-response: a question a survey does not
  ask is not a candidate for that survey (in a pooled model its column is a
  structural 0 for the other survey's rows, absorbed by the survey control,
  never counted as "missing"); an answer the indicator leaves out of its base
  (``base_excludes``, e.g. "no worries") gets its own ``__not_applicable``
  column; only a blank answer is non-response, imputed 0 with a
  missing-indicator column (``SimpleImputer(add_indicator=True)``) so the
  driver's coefficient is estimated from those who answered;
* controls: age, gender, placement, survey year (all years are fitted
  together with year as a categorical control: drivers.csv has no year, and
  one year of the smaller surveys is too thin), time in care (children) or
  disability (leavers), survey (pooled models). A blank control is its own
  category.

Linear regression (ordinary least squares) so that each effect reads as
"points on the 0-10 scale": the difference in mean overall well-being
associated with meeting the indicator, the other indicators and controls held
constant. It is an **association**, never a cause: children who feel settled
may differ in ways no survey question captures.

Evaluation (honest: no authority is ever in both training and test data)

* ``GroupKFold`` by ``la_code``; R^2 and MAE of the out-of-fold predictions
  (every answer predicted by a model that never saw its authority), AUC for
  the low-well-being model; reported with the number of answers and
  authorities;
* 95% intervals for effects from statsmodels OLS on the *same* design matrix,
  with standard errors clustered by authority (answers from one authority are
  not independent) and a t critical value on (authorities - 1) degrees of
  freedom, conservative when there are few authorities;
* permutation importance (``sklearn.inspection.permutation_importance``) on
  the held-out folds, as a model-agnostic check on the ranking: where it and
  the model-based ranking disagree by ``DISAGREE_RANKS`` or more places the
  ``note`` column says so.

``importance`` (drivers.csv) is the **standardised effect**:
``|effect| x sqrt(p (1 - p))``, where ``p`` is the share of the survey's
answers meeting the indicator; i.e. the well-being points associated with a
one-standard-deviation difference in the indicator. A large effect of
something almost everyone has (or almost no one has) explains little of the
variation between children, and this weighs that in.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.codebook import CODEBOOK_PATH, Codebook, load_codebook
from analysis.files import atomic_path, write_csv_atomic

#: Bump when the method changes in a way the code hash would not show.
MODEL_VERSION = "1"
#: drivers.csv columns (interfaces.md), in order.
OUTPUT_COLUMNS = ("survey", "indicator", "effect", "ci_low", "ci_high", "importance", "rank")
PERFORMANCE_COLUMNS = (
    "survey", "model", "pooled", "n", "n_authorities", "n_low", "folds", "cv_r2", "cv_mae",
    "baseline_mae", "cv_auc", "in_sample_r2", "rank_agreement",
)
DRIVER_COLUMNS = (
    "survey", "indicator", "label", "domain", "direction", "effect", "ci_low", "ci_high", "se",
    "p_value", "importance", "rank", "perm_importance", "perm_rank", "pct_meeting",
    "n_answered", "n_missing", "odds_ratio_low", "or_ci_low", "or_ci_high", "model", "pooled",
    "note",
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

# ---- evaluation --------------------------------------------------------------
MAX_FOLDS = 5
#: Each test fold should hold at least this many answers on average.
MIN_FOLD_ANSWERS = 30
PERM_REPEATS = 5
#: A ranking difference of this many places or more is noted (when one of the
#: two ranks is in the top DISAGREE_TOP).
DISAGREE_RANKS = 3
DISAGREE_TOP = 10
#: Effects are rounded in drivers.csv (well below any meaningful difference).
DECIMALS = 4

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
    interface columns plus label, p-value, permutation importance, notes).
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

    def describe(self) -> str:
        """Plain-English description of the models, for notebooks and docs."""
        return describe_models(self)


# ---------------------------------------------------------------- data preparation
def _asked(cb: Codebook, indicator: str, survey: str) -> bool:
    return survey in cb.indicators[indicator].surveys


def outcome_frame(df: pd.DataFrame, codebook: Codebook | None = None) -> pd.DataFrame:
    """The extract with ``overall`` and ``low`` (overall < 5), answers without a score dropped.

    Why drop: a respondent who answered no well-being item has no outcome;
    imputing one would invent the very thing the model explains.
    """
    from analysis.wellbeing import overall_wellbeing

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


# ---------------------------------------------------------------- pipelines
def _preprocessor(X: pd.DataFrame, group: ModelGroup) -> Any:
    """ColumnTransformer: drivers imputed 0 + missing indicators; controls encoded.

    Why a pipeline: cross-validation refits the imputation and encoding on
    each training fold, so nothing about the held-out authorities leaks in.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    na_cols = [c for c in X.columns if c.endswith("__not_applicable")]
    parts: list[tuple[str, Any, list[str]]] = [
        ("drivers", SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True,
                                  keep_empty_features=True), list(group.drivers)),
    ]
    if na_cols:
        parts.append(("not_applicable", "passthrough", na_cols))
    if group.numeric_controls:
        parts.append(("numeric", Pipeline([
            ("scale", StandardScaler()),
            ("impute", SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True,
                                     keep_empty_features=True)),
        ]), list(group.numeric_controls)))
    if group.categorical_controls:
        parts.append(("controls", OneHotEncoder(drop="first", handle_unknown="ignore",
                                                sparse_output=False),
                      list(group.categorical_controls)))
    return ColumnTransformer(parts, sparse_threshold=0.0)


def make_pipelines(X: pd.DataFrame, group: ModelGroup) -> tuple[Any, Any]:
    """(linear regression pipeline for overall well-being, logistic pipeline for low)."""
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline

    linear = Pipeline([("prep", _preprocessor(X, group)), ("model", LinearRegression())])
    logistic = Pipeline([("prep", _preprocessor(X, group)),
                         ("model", LogisticRegression(C=1.0, max_iter=2000))])
    return linear, logistic


@lru_cache(maxsize=1)
def _permute_subset_class() -> type:
    """Build the wrapper class on first use: sklearn is imported only when fitting.

    (Importing sklearn costs over a second; the per-authority notebooks import
    this module for its phrases and charts and never fit.)
    """
    from sklearn.base import BaseEstimator, RegressorMixin

    class _PermuteSubset(RegressorMixin, BaseEstimator):
        """The fitted linear pipeline seen through one survey's candidate drivers only.

        ``permutation_importance`` permutes every column it is given; wrapping the
        fitted pipeline this way makes it permute only the survey's candidate
        drivers (not the controls, nor another survey's structural zeros), which
        is the question asked. Because the driver block of the pipeline is
        column-separable (a blank becomes 0 plus a missing-indicator column) and
        the model is linear, a prediction with some driver values changed is the
        pipeline's prediction for the original rows plus the coefficient-weighted
        change in those columns: exact, and some forty times faster than
        re-running the ColumnTransformer for every permutation (which took over a
        minute on a simulated extract of 4,500 answers). ``tests/test_drivers.py``
        checks the equality with ``pipeline.predict``.
        """

        def __init__(self, model: Any = None, X_full: pd.DataFrame | None = None,
                     columns: list[str] | None = None):
            self.model = model
            self.X_full = X_full
            self.columns = columns

        def fit(self, X: Any, y: Any = None) -> Any:  # pragma: no cover - API only
            return self

        def _parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            if not hasattr(self, "parts_"):
                assert self.model is not None and self.X_full is not None and self.columns
                names = [n.split("__", 1)[1] for n in self.model[:-1].get_feature_names_out()]
                coef = pd.Series(np.ravel(self.model[-1].coef_), index=names)
                c_val = np.array([coef.get(c, 0.0) for c in self.columns])
                c_miss = np.array([coef.get(f"missingindicator_{c}", 0.0) for c in self.columns])
                x0 = self.X_full[self.columns].to_numpy(dtype="float64")
                base = self.model.predict(self.X_full)
                self.parts_ = (base, np.nan_to_num(x0), np.isnan(x0).astype("float64"), c_val,
                               c_miss)
            return self.parts_

        def predict(self, X_sub: Any) -> np.ndarray:
            base, v0, m0, c_val, c_miss = self._parts()
            x = np.asarray(X_sub, dtype="float64")
            return base + (np.nan_to_num(x) - v0) @ c_val + (np.isnan(x) - m0) @ c_miss

    return _PermuteSubset


def _r2_scorer(estimator: Any, X: Any, y: np.ndarray) -> float:
    """R^2 without sklearn's input checks (called thousands of times on clean arrays)."""
    resid = y - estimator.predict(X)
    total = y - y.mean()
    return float(1.0 - resid @ resid / (total @ total))


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


# ---------------------------------------------------------------- fitting
def _independent_columns(Z: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Boolean mask of columns independent of the ones before them (QR diagonal).

    Missing-indicator and one-hot columns can be collinear (the same children
    leave the same questions blank); statsmodels needs a full-rank matrix for
    clustered standard errors. Columns are ordered drivers first, so it is a
    redundant indicator that is dropped, never a driver.
    """
    from scipy.linalg import qr

    if Z.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    r = qr(Z, mode="r", check_finite=False)[0]
    diag = np.abs(np.diag(r)) if r.shape[0] >= Z.shape[1] else np.abs(
        np.concatenate([np.diag(r), np.zeros(Z.shape[1] - r.shape[0])]))
    scale = np.sqrt((Z ** 2).sum(axis=0))
    return diag > tol * np.maximum(scale, 1.0)


def _cluster_fit(Z: np.ndarray, y: np.ndarray, clusters: np.ndarray, kind: str) -> Any:
    """statsmodels OLS / Logit with authority-clustered covariance (HC1 if one authority)."""
    import statsmodels.api as sm

    codes = pd.factorize(clusters)[0]
    cov: dict[str, Any] = ({"cov_type": "cluster", "cov_kwds": {"groups": codes}}
                           if len(np.unique(codes)) > 1 else {"cov_type": "HC1"})
    if kind == "ols":
        return sm.OLS(y, Z).fit(**cov)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.Logit(y, Z).fit(disp=0, method="newton", maxiter=100, **cov)


def _fit_group(data: pd.DataFrame, group: ModelGroup, random_state: int, cb: Codebook
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    from scipy import stats
    from sklearn.base import clone
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import mean_absolute_error, r2_score, roc_auc_score

    X = design_frame(data, group, cb)
    rows = data.loc[X.index]
    y = rows["overall"].to_numpy(dtype="float64")
    y_low = rows["low"].to_numpy(dtype="int64")
    la = rows["la_code"].to_numpy()
    survey = rows["survey"].to_numpy()
    X = X.reset_index(drop=True)
    n_la = len(np.unique(la))
    linear, logistic = make_pipelines(X, group)
    both_classes = len(np.unique(y_low)) == 2

    # --- cross-validation, grouped by authority
    k = n_folds(len(X), n_la)
    oof = np.full(len(X), np.nan)
    oof_base = np.full(len(X), np.nan)
    oof_p = np.full(len(X), np.nan)
    perm_sum = {s: np.zeros(len(group.candidates[s])) for s in group.surveys}
    perm_w = dict.fromkeys(group.surveys, 0.0)
    for fold, (train, test) in enumerate(group_folds(la, k) if k else []):
        lin = clone(linear).fit(X.iloc[train], y[train])
        oof[test] = lin.predict(X.iloc[test])
        oof_base[test] = y[train].mean()
        if both_classes and len(np.unique(y_low[train])) == 2:
            lg = clone(logistic).fit(X.iloc[train], y_low[train])
            oof_p[test] = lg.predict_proba(X.iloc[test])[:, 1]
        for s in group.surveys:
            cols = list(group.candidates[s])
            idx = test[survey[test] == s]
            if len(idx) < MIN_FOLD_ANSWERS or not cols:
                continue
            X_s = X.iloc[idx].reset_index(drop=True)
            wrapped = _permute_subset_class()(lin, X_s, cols)
            res = permutation_importance(
                wrapped, X_s[cols].to_numpy(dtype="float64"), y[idx], scoring=_r2_scorer,
                n_repeats=PERM_REPEATS, random_state=random_state + fold, n_jobs=1,
            )
            perm_sum[s] += res.importances_mean * len(idx)
            perm_w[s] += len(idx)

    # --- the full fit: same design matrix for sklearn and statsmodels
    prep = linear.named_steps["prep"]
    Z = prep.fit_transform(X)
    names = [n.split("__", 1)[1] for n in prep.get_feature_names_out()]
    Zc = np.column_stack([np.ones(len(Z)), Z])
    names_c = ["const", *names]
    keep = _independent_columns(Zc)
    dropped = [n for n, kp in zip(names_c, keep, strict=True) if not kp]
    Zk = Zc[:, keep]
    kept = [n for n, kp in zip(names_c, keep, strict=True) if kp]
    ols = _cluster_fit(Zk, y, la, "ols")
    params = pd.Series(np.asarray(ols.params), index=kept)
    bse = pd.Series(np.asarray(ols.bse), index=kept)
    df_t = max(n_la - 1, 1) if n_la > 1 else max(len(y) - len(kept), 1)
    t_crit = float(stats.t.ppf(0.975, df_t))
    in_sample_r2 = float(ols.rsquared)
    logit_params = logit_bse = None
    logit_note = "" if both_classes else "not fitted: everyone, or no one, has low well-being"
    if both_classes:
        try:
            lres = _cluster_fit(Zk, y_low, la, "logit")
            lp = np.asarray(lres.params)
            lb = np.asarray(lres.bse)
            if np.all(np.isfinite(lp)) and np.all(np.isfinite(lb)) and np.max(np.abs(lp)) < 30:
                logit_params = pd.Series(lp, index=kept)
                logit_bse = pd.Series(lb, index=kept)
            else:
                logit_note = "did not converge (separation): no odds ratios"
        except Exception as exc:  # noqa: BLE001 - reported, never fatal
            logit_note = f"failed ({type(exc).__name__}): no odds ratios"
    z975 = float(stats.norm.ppf(0.975))

    # --- per survey: effects, importance, performance
    driver_rows: list[dict[str, Any]] = []
    perf_rows: list[dict[str, Any]] = []
    for s in group.surveys:
        sel = survey == s
        cands = list(group.candidates[s])
        perm = perm_sum[s] / perm_w[s] if perm_w[s] else np.full(len(cands), np.nan)
        part = []
        for i, d in enumerate(cands):
            m = cb.indicators[d]
            col = X.loc[sel, d]
            answered = col.notna()
            p = float(col[answered].mean()) if answered.any() else float("nan")
            b = float(params.get(d, np.nan))
            se = float(bse.get(d, np.nan))
            t = b / se if se > 0 else np.nan
            pval = float(2 * stats.t.sf(abs(t), df_t)) if np.isfinite(t) else float("nan")
            row = {
                "survey": s, "indicator": d, "label": m.label, "domain": m.domain,
                "direction": m.direction, "effect": b, "ci_low": b - t_crit * se,
                "ci_high": b + t_crit * se, "se": se, "p_value": pval,
                "importance": abs(b) * np.sqrt(p * (1 - p)) if np.isfinite(b) else np.nan,
                "perm_importance": float(perm[i]), "pct_meeting": 100 * p,
                "n_answered": int(answered.sum()), "n_missing": int((~answered).sum()),
                "odds_ratio_low": np.nan, "or_ci_low": np.nan, "or_ci_high": np.nan,
                "model": group.name, "pooled": group.pooled,
            }
            if logit_params is not None and d in logit_params.index:
                lb_, ls_ = float(logit_params[d]), float(logit_bse[d])
                row["odds_ratio_low"] = float(np.exp(lb_))
                row["or_ci_low"] = float(np.exp(lb_ - z975 * ls_))
                row["or_ci_high"] = float(np.exp(lb_ + z975 * ls_))
            part.append(row)
        frame = pd.DataFrame(part)
        if not frame.empty:
            order = {d: i for i, d in enumerate(cb.indicators)}
            frame["_o"] = frame["indicator"].map(order)
            frame = frame.sort_values(["importance", "_o"], ascending=[False, True],
                                      kind="stable", na_position="last")
            frame["rank"] = np.arange(1, len(frame) + 1)
            if frame["perm_importance"].notna().any():
                pf = frame.sort_values(["perm_importance", "_o"], ascending=[False, True],
                                       kind="stable", na_position="last")
                frame["perm_rank"] = pd.Series(np.arange(1, len(pf) + 1), index=pf.index)
            else:
                frame["perm_rank"] = pd.NA
            frame = frame.drop(columns="_o")
            frame["note"] = [_note(r) for r in frame.to_dict("records")]
            driver_rows.extend(frame.to_dict("records"))
        agree = float("nan")
        if len(frame) > 2 and frame["perm_importance"].notna().all():
            agree = float(stats.spearmanr(frame["importance"], frame["perm_importance"])[0])
        ok = sel & np.isfinite(oof)
        okp = sel & np.isfinite(oof_p)
        auc = float("nan")
        if okp.sum() and len(np.unique(y_low[okp])) == 2:
            auc = float(roc_auc_score(y_low[okp], oof_p[okp]))
        perf_rows.append({
            "survey": s, "model": group.name, "pooled": group.pooled, "n": int(sel.sum()),
            "n_authorities": int(len(np.unique(la[sel]))), "n_low": int(y_low[sel].sum()),
            "folds": k,
            "cv_r2": float(r2_score(y[ok], oof[ok])) if ok.sum() > 1 else float("nan"),
            "cv_mae": float(mean_absolute_error(y[ok], oof[ok])) if ok.sum() else float("nan"),
            "baseline_mae": (float(mean_absolute_error(y[ok], oof_base[ok])) if ok.sum()
                             else float("nan")),
            "cv_auc": auc,
            "in_sample_r2": float(r2_score(y[sel], ols.fittedvalues[sel])),
            "rank_agreement": agree,
        })
    info = {
        "model": group.name, "surveys": " ".join(group.surveys), "pooled": group.pooled,
        "reason": group.reason, "n": len(X), "n_authorities": n_la, "folds": k,
        "design_columns": len(names) + 1, "dropped_collinear": " ".join(dropped),
        "controls": " ".join([*group.numeric_controls, *group.categorical_controls]),
        "in_sample_r2": in_sample_r2, "t_df": df_t, "low_model": logit_note or "ok",
    }
    return driver_rows, perf_rows, info


def _note(row: dict[str, Any]) -> str:
    """Caveats a reader of the ranking should see beside each driver.

    Ranking disagreements are noted only where one of the two ranks is in the
    top ``DISAGREE_TOP``: among drivers with no real association the order is
    noise under either method, and noting it would bury the notes that matter.
    Pooling and the low-well-being model's status are in the ``model``,
    ``pooled`` columns and ``DriverResults.models``.
    """
    notes = []
    lo, hi = row["ci_low"], row["ci_high"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        notes.append("no interval")
    elif lo <= 0 <= hi:
        notes.append("95% interval includes zero")
    pr = row.get("perm_rank")
    rank = int(row["rank"])
    if (pr is not None and not pd.isna(pr) and abs(int(pr) - rank) >= DISAGREE_RANKS
            and min(int(pr), rank) <= DISAGREE_TOP):
        notes.append(f"ranked {rank} by the model but {int(pr)} by permutation importance")
    return "; ".join(notes)


def fit_national_models(df: pd.DataFrame, random_state: int = 0) -> DriverResults:
    """Fit every survey's driver models on all authorities' answers (see module docstring).

    ``df`` is the validated extract (``load_valid_extract``), all years: the
    survey year is a control. Deterministic for a given ``random_state``
    (numerical libraries are held to one thread while fitting).
    """
    global FIT_COUNT
    import sklearn
    from threadpoolctl import threadpool_limits

    FIT_COUNT += 1
    start = time.perf_counter()
    cb = load_codebook()
    data = outcome_frame(df, cb)
    drivers: list[dict[str, Any]] = []
    perf: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    # One thread: deterministic sums, and faster for these small matrices.
    # Parameter validation off: the estimators are built here, thousands of
    # calls (permutations) would otherwise re-check the same settings.
    with threadpool_limits(1), sklearn.config_context(skip_parameter_validation=True), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unknown categories.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
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
        dframe["perm_rank"] = dframe["perm_rank"].astype("Int64")
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
    for c in ("effect", "ci_low", "ci_high", "importance"):
        out[c] = out[c].astype("float64").round(DECIMALS) + 0.0  # + 0.0: no "-0"
    out["rank"] = out["rank"].astype("int64")
    return out.reset_index(drop=True)


def round_count(value: float, base: int = 10) -> int:
    """A model's number of answers, rounded to the nearest ``base`` for publication."""
    return int(base * np.floor(float(value) / base + 0.5))


def write_drivers(results: DriverResults, reports_dir: Path | str) -> Path:
    """Write ``REPORTS_DIR/national/drivers.csv`` (and ``performance.csv`` beside it)."""
    folder = Path(reports_dir) / "national"
    path = write_csv_atomic(drivers_table(results), folder / "drivers.csv", "%.10g")
    perf = results.performance.copy()
    for c in ("cv_r2", "cv_mae", "baseline_mae", "cv_auc", "in_sample_r2", "rank_agreement"):
        perf[c] = perf[c].astype("float64").round(DECIMALS) + 0.0
    # No exact national counts are published (analysis.disclosure): the number of
    # answers to the nearest 10, and no count of low well-being at all (with the
    # published authority counts it would give the withheld ones away).
    perf["n"] = [round_count(v) for v in perf["n"]]
    perf = perf.drop(columns=[c for c in ("n_low",) if c in perf.columns])
    write_csv_atomic(perf, folder / "performance.csv", "%.10g")
    return path


# ---------------------------------------------------------------- cache
def model_code_hash() -> str:
    """Hash of what the models are computed by: this file, the codebook, library versions."""
    import sklearn
    import statsmodels

    h = hashlib.sha256()
    h.update(MODEL_VERSION.encode())
    for p in (Path(__file__), CODEBOOK_PATH):
        h.update(p.read_bytes())
    h.update(f"{sklearn.__version__}|{statsmodels.__version__}|{np.__version__}".encode())
    return h.hexdigest()


def frame_hash(df: pd.DataFrame) -> str:
    """Content hash of a frame (for callers without a file hash, e.g. a filtered year)."""
    values = pd.util.hash_pandas_object(df, index=False).to_numpy()
    h = hashlib.sha256(values.tobytes())
    h.update("|".join(map(str, df.columns)).encode())
    return h.hexdigest()


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


# ---------------------------------------------------------------- words and charts
def effect_phrase(effect: float) -> str:
    """'associated with about 0.8 points higher well-being out of 10'."""
    if not np.isfinite(effect):
        return "association not estimated"
    size = abs(float(effect))
    word = "higher" if effect > 0 else "lower"
    if size < 0.05:
        return "associated with little difference in well-being (under 0.1 points out of 10)"
    return f"associated with about {size:.1f} points {word} well-being out of 10"


def describe_models(results: DriverResults) -> str:
    """A few sentences on what was fitted, on how many answers, and the pooling."""
    cb = load_codebook()
    info = results.info
    years = info.get("years", [])
    span = f"{years[0]}" if len(years) == 1 else f"{years[0]} to {years[-1]}" if years else "-"
    lines = [
        f"National driver models fitted on {info.get('n', 0):,} answers with a well-being "
        f"score from {info.get('n_authorities', 0)} authorities (survey years {span}).",
        "Outcome: overall well-being (0 to 10). Each effect is the difference in average "
        "well-being, in points out of 10, associated with meeting the indicator, other "
        "indicators and the controls held constant. Associations, not causes.",
    ]
    for m in results.models.to_dict("records"):
        names = ", ".join(cb.surveys[s]["short"] for s in str(m["surveys"]).split())
        cv = (f"{m['folds']}-fold cross-validation grouped by authority"
              if m["folds"] else "too few authorities for cross-validation")
        lines.append(f"- {m['model']} ({names}): {m['n']:,} answers, {m['n_authorities']} "
                     f"authorities, {cv}; {m['reason']}.")
    return "\n".join(lines)


def forest_chart(drivers: pd.DataFrame, survey: str, top: int | None = None) -> Any:
    """Dot-and-interval chart of one survey's effects, most important at the top.

    Shape as well as colour marks whether the interval excludes zero (filled
    circle) or not (hollow), so the chart reads in greyscale.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.charts import OKABE_ITO

    rows = drivers[drivers["survey"] == survey].sort_values("rank")
    if top:
        rows = rows.head(top)
    n = max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(8.0, 1.4 + 0.36 * n), dpi=110)
    ys = np.arange(len(rows))[::-1]
    for y, r in zip(ys, rows.to_dict("records"), strict=True):
        real = not (r["ci_low"] <= 0 <= r["ci_high"])
        colour = OKABE_ITO["blue"] if r["effect"] >= 0 else OKABE_ITO["vermillion"]
        ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=colour, lw=2)
        ax.scatter([r["effect"]], [y], s=60, zorder=3, edgecolors=colour, linewidths=1.5,
                   facecolors=colour if real else "white")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels(list(rows["label"]))
    ax.set_xlabel("Difference in well-being (points out of 10) associated with the indicator")
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#DDDDDD", lw=0.8)
    ax.set_axisbelow(True)
    ax.set_title(f"What goes with well-being: {load_codebook().surveys[survey]['short']}",
                 loc="left", fontsize=12, fontweight="bold")
    fig.tight_layout()
    return fig


def forest_alt_text(drivers: pd.DataFrame, survey: str, top: int | None = None) -> str:
    """Alt text naming the strongest positive and negative associations."""
    rows = drivers[drivers["survey"] == survey].sort_values("rank")
    if top:
        rows = rows.head(top)
    pos = rows[rows["effect"] > 0].head(3)
    neg = rows[rows["effect"] < 0].head(3)

    def items(fr: pd.DataFrame) -> str:
        return "; ".join(f"{r['label'].lower()} ({r['effect']:+.1f})"
                         for r in fr.to_dict("records")) or "none"

    who = load_codebook().surveys[survey]["short"]
    return (f"Dot chart of {len(rows)} indicators' associations with overall well-being among "
            f"{who}, with 95% intervals. Strongest positive: {items(pos)}. "
            f"Strongest negative: {items(neg)}.")
