"""The statistical methods behind the driver models (``analysis.methods.drivers`` runs them).

Kept apart from the orchestration so that each method can be read, tested
and replaced on its own. Everything here works on plain NumPy arrays:

* :func:`multiply_impute` - multiple imputation by chained equations
  (scikit-learn's ``IterativeImputer`` with posterior draws, ``m`` times);
* :func:`within` - the authority fixed-effects (within) transformation;
* :func:`cluster_ols` - OLS with standard errors clustered by authority
  (statsmodels);
* :func:`rubin` - Rubin's rules to pool estimates over imputations, with the
  Barnard-Rubin degrees of freedom;
* :func:`relative_weights` - Johnson's (2000) relative weights: an R^2
  decomposition that allows for correlated drivers;
* :func:`partial_moments` / :func:`cluster_crossproducts` - the sufficient
  statistics that make a bootstrap by authority cheap (a replicate is a
  weighted sum of per-authority cross-product matrices).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

# ---------------------------------------------------------------- imputation


def _bayes_linear_class() -> type:
    """Build the estimator class on first use (sklearn is imported only when fitting)."""
    from sklearn.base import BaseEstimator, RegressorMixin

    class BayesLinear(RegressorMixin, BaseEstimator):
        """Linear regression with its posterior predictive standard deviation.

        The conditional model ``IterativeImputer`` fits for each incomplete
        column. It is the normal linear model with a flat prior (the
        ``norm`` method of van Buuren's *mice*): mean ``x'b``, predictive
        variance ``s^2 (1 + x'(X'X)^-1 x)``, so a posterior draw carries
        both the residual and the parameter uncertainty. Why not the default
        ``BayesianRidge``: it refits by a full SVD and hyper-parameter loop,
        about fifteen times slower on these matrices (a minute per survey for
        five draws) for the same predictions at these sample sizes.
        """

        def __init__(self, ridge: float = 1e-6):
            self.ridge = ridge

        def fit(self, X: Any, y: Any) -> Any:
            X = np.asarray(X, dtype="float64")
            y = np.asarray(y, dtype="float64")
            self.x_mean_ = X.mean(axis=0)
            self.y_mean_ = float(y.mean())
            Xc = X - self.x_mean_
            gram = Xc.T @ Xc
            gram[np.diag_indices_from(gram)] += self.ridge * (float(np.trace(gram)) /
                                                             max(len(gram), 1) + 1.0)
            self.gram_inv_ = np.linalg.pinv(gram, hermitian=True)
            self.coef_ = self.gram_inv_ @ (Xc.T @ (y - self.y_mean_))
            resid = y - self.y_mean_ - Xc @ self.coef_
            self.n_ = len(y)
            self.sigma2_ = float(resid @ resid) / max(len(y) - X.shape[1] - 1, 1)
            return self

        def predict(self, X: Any, return_std: bool = False) -> Any:
            Xc = np.asarray(X, dtype="float64") - self.x_mean_
            mean = self.y_mean_ + Xc @ self.coef_
            if not return_std:
                return mean
            lev = np.einsum("ij,jk,ik->i", Xc, self.gram_inv_, Xc) + 1.0 / self.n_
            return mean, np.sqrt(self.sigma2_ * (1.0 + lev))

    return BayesLinear


_BAYES_LINEAR: type | None = None


def bayes_linear() -> Any:
    """A fresh :class:`BayesLinear` (see :func:`_bayes_linear_class`)."""
    global _BAYES_LINEAR
    if _BAYES_LINEAR is None:
        _BAYES_LINEAR = _bayes_linear_class()
    return _BAYES_LINEAR()


def cluster_means(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each row's authority mean of each column, over the answers given (NaN ignored).

    The authority enters the imputation model through these means (the
    Mundlak device): a linear imputation model with every variable's
    authority mean is the single-level counterpart of one with authority
    dummies, which is what keeps it congenial with a fixed-effects analysis,
    at a fraction of the columns. A column an authority never answered gets
    the overall mean.
    """
    values = np.asarray(values, dtype="float64")
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    ok = ~np.isnan(values)
    sums = np.zeros((n_groups, values.shape[1]))
    counts = np.zeros((n_groups, values.shape[1]))
    np.add.at(sums, codes, np.where(ok, values, 0.0))
    np.add.at(counts, codes, ok.astype("float64"))
    overall = np.nanmean(np.where(ok, values, np.nan), axis=0) if ok.any() else np.zeros(
        values.shape[1])
    overall = np.nan_to_num(overall)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), overall)
    return means[codes]


def multiply_impute(incomplete: np.ndarray, bounds: tuple[np.ndarray, np.ndarray],
                    predictors: np.ndarray, m: int, random_state: int,
                    max_iter: int = 3) -> list[np.ndarray]:
    """``m`` completed copies of ``incomplete`` (columns with blanks), by chained equations.

    ``predictors`` are complete columns that inform the imputation but are
    not imputed: the outcome, the authority means (:func:`cluster_means`)
    and the encoded controls. Each copy is one run of ``IterativeImputer``
    with ``sample_posterior=True`` and its own random state, so the copies
    differ exactly as much as the data leave the blanks uncertain. Imputed
    values are drawn within ``bounds`` (0 to 1 for an indicator: *not*
    rounded to 0 or 1, which biases a linear analysis - Horton, Lipsitz and
    Parzen 2003).
    """
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    incomplete = np.asarray(incomplete, dtype="float64")
    k = incomplete.shape[1]
    if not np.isnan(incomplete).any():
        return [incomplete.copy() for _ in range(m)]
    full = np.column_stack([incomplete, predictors])
    lo = np.concatenate([bounds[0], np.full(predictors.shape[1], -np.inf)])
    hi = np.concatenate([bounds[1], np.full(predictors.shape[1], np.inf)])
    out = []
    for j in range(m):
        imp = IterativeImputer(estimator=bayes_linear(), sample_posterior=True,
                               max_iter=max_iter, random_state=random_state + 7919 * j,
                               min_value=lo, max_value=hi, skip_complete=True,
                               keep_empty_features=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "early imputation round" convergence notes
            done = imp.fit_transform(full)
        out.append(done[:, :k])
    return out


def impute_for_prediction(train: np.ndarray, test: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Blanks filled with the training answers' column means (cross-validation only).

    Scoring predictions for held-out authorities must not use their
    well-being to fill their blanks (the multiple imputation does, rightly,
    for estimation), so prediction uses what a new authority's answers alone
    allow: the training means.
    """
    means = np.nan_to_num(np.nanmean(np.where(np.isnan(train), np.nan, train), axis=0))
    return (np.where(np.isnan(train), means, train), np.where(np.isnan(test), means, test))


# ---------------------------------------------------------------- fixed effects
def within(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Subtract each authority's mean from every column (the fixed-effects transformation).

    What is left is how a child differs from other children *in the same
    authority*; a regression on it estimates within-authority associations,
    whatever the differences between authorities (Wooldridge 2010, ch. 10).
    """
    values = np.asarray(values, dtype="float64")
    flat = values.reshape(len(values), -1)
    n_groups = int(codes.max()) + 1
    sums = np.zeros((n_groups, flat.shape[1]))
    np.add.at(sums, codes, flat)
    counts = np.bincount(codes, minlength=n_groups).astype("float64")
    out = flat - (sums / np.maximum(counts, 1)[:, None])[codes]
    return out.reshape(values.shape)


def independent_columns(Z: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Boolean mask of columns independent of the ones kept before them.

    After the within transformation a control can vanish (an authority-level
    characteristic, e.g. the survey year where each authority took part
    once) and missing-answer columns can repeat each other; statsmodels
    needs a full-rank matrix for clustered standard errors. Drivers come
    first, so a redundant control is dropped, never a driver. Worked on the
    Gram matrix (a column is kept when its variance left after projecting on
    the kept columns is a non-negligible share of its own): the same answer
    as a QR of ``Z`` at a fraction of the cost for tall matrices.
    """
    if Z.shape[1] == 0:
        return np.zeros(0, dtype=bool)
    G = Z.T @ Z
    diag = np.diag(G).copy()
    keep = np.zeros(len(G), dtype=bool)
    kept: list[int] = []
    inv = np.zeros((0, 0))
    for j in range(len(G)):
        if diag[j] <= tol:
            continue
        if kept:
            g = G[kept, j]
            left = diag[j] - g @ inv @ g
        else:
            left = diag[j]
        if left > 1e-9 * diag[j]:
            kept.append(j)
            keep[j] = True
            inv = np.linalg.inv(G[np.ix_(kept, kept)])
    return keep


def cluster_ols(Z: np.ndarray, y: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, covariance) of OLS with standard errors clustered by authority.

    ``Z`` and ``y`` are already within-transformed (no constant). The fixed
    effects are nested in the clusters, so they need no degrees-of-freedom
    correction of their own (Cameron and Miller 2015, section IIIB).
    One authority only: heteroskedasticity-robust (HC1) instead.
    """
    import statsmodels.api as sm

    cov: dict[str, Any] = ({"cov_type": "cluster", "cov_kwds": {"groups": codes}}
                           if len(np.unique(codes)) > 1 else {"cov_type": "HC1"})
    res = sm.OLS(y, Z).fit(**cov)
    return np.asarray(res.params), np.asarray(res.cov_params())


def cluster_logit(Z: np.ndarray, y: np.ndarray, codes: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """(coefficients, covariance) of a logit clustered by authority, or None if it fails."""
    import statsmodels.api as sm

    cov: dict[str, Any] = ({"cov_type": "cluster", "cov_kwds": {"groups": codes}}
                           if len(np.unique(codes)) > 1 else {"cov_type": "HC1"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = sm.Logit(y, Z).fit(disp=0, method="newton", maxiter=100, **cov)
        except Exception:  # noqa: BLE001 - separation or singularity: reported, not fatal
            return None
    params, covm = np.asarray(res.params), np.asarray(res.cov_params())
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(covm))
            and np.max(np.abs(params)) < 30):
        return None
    return params, covm


# ---------------------------------------------------------------- Rubin's rules
@dataclass
class Pooled:
    """Estimates pooled over imputations (one entry per coefficient)."""

    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    fraction_missing_info: np.ndarray


def rubin(estimates: list[np.ndarray], variances: list[np.ndarray], df_complete: float
          ) -> Pooled:
    """Rubin's rules: mean estimate, total variance ``W + (1 + 1/m) B``, Barnard-Rubin df.

    ``variances`` are each imputation's sampling variances (the diagonal of
    its clustered covariance); ``df_complete`` the complete-data degrees of
    freedom (authorities - 1 for clustered errors). The Barnard and Rubin
    (1999) small-sample degrees of freedom never exceed ``df_complete``.
    """
    q = np.vstack(estimates)
    u = np.vstack(variances)
    m = len(q)
    qbar = q.mean(axis=0)
    w = u.mean(axis=0)
    b = q.var(axis=0, ddof=1) if m > 1 else np.zeros_like(qbar)
    t = w + (1 + 1 / m) * b
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(t > 0, (1 + 1 / m) * b / t, 0.0)
        nu_old = np.where(lam > 0, (m - 1) / lam ** 2, np.inf)
        nu_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
        nu = 1 / (1 / nu_old + 1 / np.maximum(nu_obs, 1e-12))
    return Pooled(qbar, np.sqrt(t), np.minimum(nu, df_complete), lam)


# ---------------------------------------------------------------- relative weights
def relative_weights(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    """Johnson's (2000) relative weights: each predictor's share of R^2.

    The predictors are replaced by their closest orthogonal counterparts
    ``Z`` (``X = Z L`` with ``L = V diag(sqrt(eigenvalues)) V'``), the outcome
    is regressed on ``Z``, and each ``Z``'s share is handed back to the
    predictors in proportion to ``L^2``. The weights add up to R^2 and,
    unlike squared coefficients, share the variance correlated predictors
    explain together between them, so the ranking does not jump between two
    items that move together. They closely match general dominance weights
    (Johnson 2000; Tonidandel and LeBreton 2011) at a fraction of the cost.
    """
    evals, evecs = np.linalg.eigh(rxx)
    evals = np.clip(evals, 1e-10, None)
    lam = evecs @ np.diag(np.sqrt(evals)) @ evecs.T
    beta = evecs @ np.diag(1 / np.sqrt(evals)) @ evecs.T @ rxy
    return (lam ** 2) @ (beta ** 2)


def cluster_crossproducts(W: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-authority cross-product matrices ``W_g' W_g`` (authorities x k x k).

    With ``W`` within-transformed, a bootstrap replicate that draws
    authorities with replacement has cross-products ``sum_g count_g W_g'W_g``
    (a drawn authority's within-transformed rows do not depend on which
    other authorities were drawn), so a replicate costs a weighted sum, not a
    refit.
    """
    n_groups = int(codes.max()) + 1
    out = np.zeros((n_groups, W.shape[1], W.shape[1]))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    for g in range(n_groups):
        rows = W[order[bounds[g]:bounds[g + 1]]]
        out[g] = rows.T @ rows
    return out


def partial_moments(M: np.ndarray, drivers: np.ndarray, controls: np.ndarray, outcome: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Correlations of the drivers and the outcome once the controls are partialled out.

    ``M`` is a cross-product matrix of within-transformed columns (mean zero).
    Returns ``(rxx, rxy, usable, share)``: the drivers' correlation matrix and
    their correlations with the outcome among drivers that still vary
    (``usable``, a boolean mask over ``drivers``), and the share of the
    outcome's within-authority variance the controls leave. Frisch-Waugh-
    Lovell: the drivers' contribution after the controls is a regression of
    residuals on residuals.
    """
    keep = np.concatenate([drivers, [outcome]])
    a = M[np.ix_(keep, keep)]
    if len(controls):
        c = M[np.ix_(controls, controls)]
        x = M[np.ix_(keep, controls)]
        a = a - x @ np.linalg.pinv(c, hermitian=True) @ x.T
    var = np.clip(np.diag(a), 0.0, None)
    total_y = float(M[outcome, outcome])
    usable = var[:-1] > 1e-9 * max(float(np.max(var[:-1], initial=0.0)), 1e-300)
    sd = np.sqrt(np.where(var > 0, var, 1.0))
    r = a / np.outer(sd, sd)
    idx = np.flatnonzero(usable)
    share = float(var[-1] / total_y) if total_y > 0 else 0.0
    return r[np.ix_(idx, idx)], r[idx, -1], usable, share


def weights_from_moments(M: np.ndarray, drivers: np.ndarray, controls: np.ndarray,
                         outcome: int) -> tuple[np.ndarray, float]:
    """Relative weights of ``drivers`` (NaN where a driver does not vary) and their total.

    The weights are shares of the *within-authority* variance of well-being
    left after the controls; the total is the drivers' partial R^2.
    """
    rxx, rxy, usable, _ = partial_moments(M, drivers, controls, outcome)
    out = np.full(len(drivers), np.nan)
    if usable.any():
        out[usable] = relative_weights(rxx, rxy)
    return out, float(np.nansum(out))


def ranks_desc(values: np.ndarray, tie_order: np.ndarray | None = None) -> np.ndarray:
    """1 = largest; NaN last; ties in ``tie_order`` (default: position)."""
    v = np.where(np.isnan(values), -np.inf, values)
    tie = np.arange(len(v)) if tie_order is None else tie_order
    order = np.lexsort((tie, -v))
    ranks = np.empty(len(v), dtype="int64")
    ranks[order] = np.arange(1, len(v) + 1)
    return ranks
