"""Marginals and conditionals of a Gaussian mixture, and its density over observed coordinates
(PRML 2.3.1-2.3.2 per component; docs/math/conditional.md).

Notation   code           shape        meaning
a, b       given, other   (a,), (b,)   coordinate indices: those given (observed), the others
pi_k       weights        (K,)         mixture weights
mu_k       means          (K, D)
B_k        coef           (K, a, b)    Sigma_k,aa^{-1} Sigma_k,ab, the regression coefficients
C_k        schur          (K, b, b)    Sigma_k,bb - Sigma_k,ba Sigma_k,aa^{-1} Sigma_k,ab (2.82)
m_nk       means_nk       (n, K, b)    mu_k,b + (x_n,a - mu_k,a) B_k (2.81)
r_nk       resp           (n, K)       pi_k N(x_n,a | mu_k,a, Sigma_k,aa) / sum_j (same), (9.23 given)

Everything works on ``GaussianParams`` and a covariance strategy: the family says how its
factor is marginalised and conditioned (its ``marginal`` / ``conditional``), so no family name
is read here. The maths runs in float64; results come back in the parameters' dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels.linalg import logsumexp_rows, probabilities_from_log
from ..kernels.partitioned import missingness_patterns
from . import missing as missing_rows
from .gaussian_em import GaussianEM, GaussianParams


def marginal(covariance, params: GaussianParams, features: np.ndarray) -> GaussianParams:
    """The mixture of the components' marginals over ``features`` (2.98): the weights are kept,
    the means and covariances restricted to those coordinates.

    Parameters
    ----------
    covariance : strategy
        The covariance family of ``params``.
    params : GaussianParams
        The mixture.
    features : ndarray of int
        The coordinates kept, in the order wanted.

    Returns
    -------
    GaussianParams
        In the same family, over ``features`` (in ``params``' dtype).
    """
    dtype = params.means.dtype
    prec_chol = covariance.marginal(np.asarray(params.prec_chol, dtype=np.float64), features)
    return GaussianParams(params.weights.copy(), params.means[:, features].copy(), prec_chol.astype(dtype))


def log_joint_given(covariance, params: GaussianParams, given: np.ndarray, X_given: np.ndarray) -> np.ndarray:
    """ln pi_k + ln N(x_n,a | mu_k,a, Sigma_k,aa) (n, K): the numerator of the conditional weights
    (9.23 given) (docs/math/conditional.md#eq-9-23-given), by the E-step kernel of the marginal
    mixture over ``given``."""
    marginal_params = marginal(covariance, params, given)
    return GaussianEM(covariance, 0.0, X_given.dtype).log_prob_components(X_given, marginal_params)


def _moments(covariance, params: GaussianParams, given, other):
    """Per component: mu_a (K, a), mu_b (K, b), B_k (K, a, b) and the factor of C_k, in float64."""
    means = np.asarray(params.means, dtype=np.float64)
    K = means.shape[0]
    coef, schur_chol = covariance.conditional(np.asarray(params.prec_chol, dtype=np.float64), given, other)
    if coef is None:  # B = 0: the family's coordinates are independent within a component
        coef = np.zeros((K, given.size, other.size))
    coef = np.broadcast_to(coef, (K, given.size, other.size))  # tied: one B shared by every component
    return means[:, given], means[:, other], coef, schur_chol


def condition(covariance, params: GaussianParams, given: np.ndarray, other: np.ndarray,
              values: np.ndarray) -> GaussianParams:
    """The mixture over ``other`` given x_given = ``values``: weights r_k (9.23 given), means m_k
    (2.81) and covariances C_k (2.82), in the family of ``params``.

    Parameters
    ----------
    covariance : strategy
        The covariance family of ``params``.
    params : GaussianParams
        The joint mixture over all D coordinates.
    given, other : ndarray of int
        A partition of the coordinates (each non-empty).
    values : ndarray of shape (a,)
        x_a, in the order of ``given``.

    Returns
    -------
    GaussianParams
        The conditional mixture over ``other`` (in ``params``' dtype); its weights are exactly 0
        only where a component's density of ``values`` underflows far below the others'.
    """
    dtype = params.means.dtype
    values = np.asarray(values, dtype=np.float64)[None, :]  # (1, a)
    log_rho = log_joint_given(covariance, params.astype(np.float64), given, values)  # (1, K)
    weights = probabilities_from_log(log_rho)[0]  # (9.23 given), normalised in log space
    mean_a, mean_b, coef, schur_chol = _moments(covariance, params, given, other)
    means = mean_b + np.einsum("ka,kab->kb", values - mean_a, coef)  # (2.81)
    return GaussianParams(weights, means, schur_chol).astype(dtype)


@dataclass(frozen=True)
class Prediction:
    """Gaussian mixture regression at n points: the conditional mixture's moments.

    ``mean`` (n, b) = sum_k r_nk m_nk (2.81 mixture); ``covariance`` (n, b, b) = sum_k r_nk (C_k +
    (m_nk - mean_n)(m_nk - mean_n)^T) (2.82 mixture), or None when only ``variance`` (its diagonal,
    (n, b)) was asked for; ``resp`` (n, K) and ``means_nk`` (n, K, b) the mixture itself."""

    mean: np.ndarray
    variance: np.ndarray
    covariance: np.ndarray | None
    resp: np.ndarray
    means_nk: np.ndarray
    schur: np.ndarray


def regression(covariance, params: GaussianParams, given: np.ndarray, other: np.ndarray, X_given: np.ndarray,
               full_covariance: bool = False) -> Prediction:
    """The conditional mixture of x_other given each row of ``X_given`` (n, a), and its mean and
    (co)variance: Gaussian mixture regression (2.81 mixture), (2.82 mixture)
    (docs/math/conditional.md#eq-2-81-mixture), in float64.

    Parameters
    ----------
    covariance : strategy
        The covariance family of ``params``.
    params : GaussianParams
        The joint mixture.
    given, other : ndarray of int
        A partition of the coordinates (each non-empty).
    X_given : ndarray of shape (n, a)
        The rows' given coordinates.
    full_covariance : bool, default=False
        Also form the (n, b, b) predictive covariances.

    Returns
    -------
    Prediction
    """
    params64 = params.astype(np.float64)
    X_given = np.asarray(X_given, dtype=np.float64)
    K = params64.weights.shape[0]
    resp = probabilities_from_log(log_joint_given(covariance, params64, given, X_given))  # (n, K) r_nk
    mean_a, mean_b, coef, schur_chol = _moments(covariance, params64, given, other)
    schur = covariance.dense_covariance(schur_chol, K, other.size)  # (K, b, b) C_k
    # m_nk = mu_k,b + (x_n,a - mu_k,a) B_k   (2.81), for every row and component
    means_nk = mean_b[None] + np.einsum("na,kab->nkb", X_given, coef) - np.einsum("ka,kab->kb", mean_a, coef)[None]
    mean = np.einsum("nk,nkb->nb", resp, means_nk)  # (2.81 mixture)
    spread = means_nk - mean[:, None, :]  # (n, K, b) m_nk - mean_n: the centred form, nothing cancels
    # the diagonal of (2.82 mixture): sum_k r_nk (diag C_k + (m_nk - mean_n)^2)
    variance = resp @ np.diagonal(schur, axis1=1, axis2=2) + np.einsum("nk,nkb->nb", resp, spread**2)
    full = None
    if full_covariance:  # (2.82 mixture): within-component plus between-component covariance
        full = np.einsum("nk,kbc->nbc", resp, schur) + np.einsum("nk,nkb,nkc->nbc", resp, spread, spread)
    return Prediction(mean, variance, full, resp, means_nk, np.asarray(schur))


def draw(prediction: Prediction, rng: np.random.Generator, n_draws: int) -> np.ndarray:
    """Draws from each row's conditional mixture, (n, n_draws, b): a component per draw with
    probabilities r_nk, then m_nk + C_k^{1/2} z with the Cholesky factor of C_k."""
    n, K, b = prediction.means_nk.shape
    cumulative = np.cumsum(prediction.resp, axis=1)  # (n, K)
    u = rng.random((n, n_draws)) * cumulative[:, -1:]  # inverse-CDF draw of a component per draw
    labels = np.minimum((u[:, :, None] >= cumulative[:, None, :]).sum(axis=2), K - 1)  # (n, n_draws)
    lower = np.linalg.cholesky(prediction.schur)  # (K, b, b), C_k = L_k L_k^T
    z = rng.standard_normal((n, n_draws, b))
    centre = np.take_along_axis(prediction.means_nk, labels[:, :, None], axis=1)  # (n, n_draws, b)
    return centre + np.einsum("nsij,nsj->nsi", lower[labels], z)


def log_prob_observed(model: GaussianEM, params: GaussianParams, X: np.ndarray) -> np.ndarray:
    """ln pi_k + ln N(x_n,o | mu_k,o, Sigma_k,oo) (n, K) over each row's observed (non-NaN)
    coordinates o (2.98 observed) (docs/math/conditional.md#eq-2-98-observed): rows grouped by their
    pattern of missing entries, one marginal (one factorisation per component) per pattern; rows with nothing
    missing go through ``model.log_prob_components`` as they are. Every row must observe at least
    one coordinate (the estimators check that, naming the row). Where numba is installed, the
    incomplete rows take the fit's compiled loop over rows instead (``model.log_prob_components``,
    models/missing.py): the same numbers, without a Python loop over patterns."""
    missing = np.isnan(X)
    if not missing.any() or missing_rows.COMPILED:
        return model.log_prob_components(X, params)
    out = np.empty((X.shape[0], params.weights.shape[0]), dtype=X.dtype)
    for observed, rows in missingness_patterns(missing):
        if observed.size == X.shape[1]:
            out[rows] = model.log_prob_components(X[rows], params)
        else:
            out[rows] = log_joint_given(model.covariance, params, observed, X[np.ix_(rows, observed)])
    return out


def log_density_observed(model: GaussianEM, params: GaussianParams, X: np.ndarray) -> np.ndarray:
    """ln p(x_n,o) = ln sum_k pi_k N(x_n,o | mu_k,o, Sigma_k,oo) (n,) (2.98 observed)."""
    return logsumexp_rows(log_prob_observed(model, params, X))


def impute(covariance, params: GaussianParams, X: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """X (float64 copy) with each NaN entry filled from the mixture conditioned on its row's
    observed entries (2.81 mixture): the conditional mean sum_k r_nk m_nk, or with ``rng`` one
    draw from the conditional mixture. Rows are grouped by missingness pattern (one Schur
    complement per pattern and component); a row with nothing observed takes the mixture's mean
    sum_k pi_k mu_k (or a draw from the mixture)."""
    out = np.array(X, dtype=np.float64)
    missing = np.isnan(out)
    if not missing.any():
        return out
    params64 = params.astype(np.float64)
    K, D = params64.means.shape
    everything = np.arange(D)
    for observed, rows in missingness_patterns(missing):
        if observed.size == D:
            continue
        other = np.setdiff1d(everything, observed)
        if observed.size == 0:  # the mixture itself: r_nk = pi_k, m_nk = mu_k, C_k = Sigma_k
            prediction = Prediction(params64.weights @ params64.means, None, None,
                                    np.broadcast_to(params64.weights, (rows.size, K)),
                                    np.broadcast_to(params64.means, (rows.size, K, D)),
                                    np.asarray(covariance.dense_covariance(params64.prec_chol, K, D)))
            mean = np.broadcast_to(prediction.mean, (rows.size, D))
        else:
            prediction = regression(covariance, params64, observed, other, out[np.ix_(rows, observed)])
            mean = prediction.mean
        out[np.ix_(rows, other)] = mean if rng is None else draw(prediction, rng, 1)[:, 0, :]
    return out
