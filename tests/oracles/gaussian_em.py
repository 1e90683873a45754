"""EM for a Gaussian mixture, literally from PRML (9.23)-(9.28), one point at a time.

Slow on purpose: every density comes from ``scipy.stats.multivariate_normal`` and every sum is
a Python loop over n and k, so nothing here shares code or algebra with mixfit (no shifted
moments, no Cholesky factors, no stacked products). Sample weights w_n multiply each point's
contribution; with w_n = 1 the equations are the book's.

Covariance types as scikit-learn defines them:
full       Sigma_k = (1/N_k) sum_n w_n r_nk (x_n - mu_k)(x_n - mu_k)^T             (9.25)
tied       Sigma   = (1/N) sum_k sum_n w_n r_nk (x_n - mu_k)(x_n - mu_k)^T
diag       the diagonal of the full Sigma_k
spherical  the mean over d of the diagonal of the full Sigma_k
and reg_covar is added to the diagonal of each.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import multivariate_normal


def full_covariances(covariance_type: str, covariances, n_components: int, n_features: int):
    """The (K, D, D) covariance matrices that a covariance of ``covariance_type`` stands for."""
    covariances = np.asarray(covariances, dtype=float)
    if covariance_type == "full":
        return covariances.copy()
    if covariance_type == "tied":
        return np.array([covariances for _ in range(n_components)])
    if covariance_type == "diag":
        return np.array([np.diag(covariances[k]) for k in range(n_components)])
    return np.array([covariances[k] * np.eye(n_features) for k in range(n_components)])


def covariances_from_precisions(covariance_type: str, precisions):
    """scikit-learn's ``precisions_init`` format -> its ``covariances_`` format."""
    precisions = np.asarray(precisions, dtype=float)
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(precisions)
    return 1.0 / precisions


def e_step(X, weights, means, covariances):
    """(9.23) responsibilities r_nk (n, K) and ln p(x_n) = ln sum_k pi_k N(x_n|mu_k,Sigma_k) (n,).

    ``covariances`` is (K, D, D); densities are formed in log space per point and component.
    """
    n, K = X.shape[0], weights.shape[0]
    log_rho = np.empty((n, K))
    for k in range(K):
        density = multivariate_normal(mean=means[k], cov=covariances[k])
        for i in range(n):
            log_rho[i, k] = np.log(weights[k]) + density.logpdf(X[i])
    log_norm = np.empty(n)
    resp = np.empty((n, K))
    for i in range(n):
        peak = log_rho[i].max()
        log_norm[i] = peak + np.log(sum(np.exp(log_rho[i, k] - peak) for k in range(K)))
        for k in range(K):
            resp[i, k] = np.exp(log_rho[i, k] - log_norm[i])
    return resp, log_norm


def m_step(X, resp, sample_weight, covariance_type: str, reg_covar: float):
    """(9.24)-(9.27) with weights w_n: returns weights (K,), means (K, D) and covariances in
    scikit-learn's format for ``covariance_type``."""
    n, D = X.shape
    K = resp.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    mass = np.zeros(K)  # N_k (9.27)
    means = np.zeros((K, D))
    for k in range(K):
        for i in range(n):
            mass[k] += w[i] * resp[i, k]
            means[k] += w[i] * resp[i, k] * X[i]
        means[k] /= mass[k]  # (9.24)
    total = sum(w)
    weights = mass / total  # (9.26)
    scatter = np.zeros((K, D, D))
    for k in range(K):
        for i in range(n):
            z = X[i] - means[k]
            scatter[k] += w[i] * resp[i, k] * np.outer(z, z)
    full = scatter / mass[:, None, None]  # (9.25)
    eye = np.eye(D)
    if covariance_type == "full":
        covariances = full + reg_covar * eye
    elif covariance_type == "tied":
        covariances = scatter.sum(axis=0) / total + reg_covar * eye
    elif covariance_type == "diag":
        covariances = np.array([np.diag(full[k]) for k in range(K)]) + reg_covar
    elif covariance_type == "spherical":
        covariances = np.array([np.diag(full[k]).mean() for k in range(K)]) + reg_covar
    else:
        raise ValueError(covariance_type)
    return weights, means, covariances


def log_likelihood(X, sample_weight, weights, means, covariances):
    """(9.28) with weights, divided by sum_n w_n: the per-sample lower bound."""
    _, log_norm = e_step(X, weights, means, covariances)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    return sum(w[i] * log_norm[i] for i in range(X.shape[0])) / sum(w)


def em(X, covariance_type, weights_init, means_init, precisions_init, n_iter,
       sample_weight=None, reg_covar=1e-6):
    """``n_iter`` EM iterations from a start in scikit-learn's ``*_init`` format.

    Returns (weights, means, covariances in the type's format, lower_bounds) where
    lower_bounds[t] is the per-sample log-likelihood (9.28) of the parameters before the
    (t+1)-th M-step, as scikit-learn records it.
    """
    K, D = np.asarray(means_init).shape
    weights = np.asarray(weights_init, dtype=float)
    means = np.asarray(means_init, dtype=float)
    covariances = covariances_from_precisions(covariance_type, precisions_init)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    lower_bounds = []
    for _ in range(n_iter):
        resp, log_norm = e_step(X, weights, means, full_covariances(covariance_type, covariances, K, D))
        lower_bounds.append(sum(w[i] * log_norm[i] for i in range(X.shape[0])) / sum(w))
        weights, means, covariances = m_step(X, resp, sample_weight, covariance_type, reg_covar)
    return weights, means, covariances, lower_bounds


def moments_about(X, resp, sample_weight, shift, covariance_type: str):
    """The seam's additive moments, literally from their definition in ``mixfit.stats``:
    mass N_k, first sum_n w_n r_nk (x_n - c_k), and the scatter sum_n w_n r_nk z z^T with
    z = x_n - c_k, reduced to its diagonal (diag), its trace (spherical) or its sum over k
    (tied)."""
    n, D = X.shape
    K = resp.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    mass = np.zeros(K)
    first = np.zeros((K, D))
    scatter = np.zeros((K, D, D))
    for k in range(K):
        for i in range(n):
            z = X[i] - shift[k]
            mass[k] += w[i] * resp[i, k]
            first[k] += w[i] * resp[i, k] * z
            scatter[k] += w[i] * resp[i, k] * np.outer(z, z)
    if covariance_type == "tied":
        scatter = scatter.sum(axis=0)
    elif covariance_type == "diag":
        scatter = np.array([np.diag(scatter[k]) for k in range(K)])
    elif covariance_type == "spherical":
        scatter = np.array([np.trace(scatter[k]) for k in range(K)])
    return mass, first, scatter
