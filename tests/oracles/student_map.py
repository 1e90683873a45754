"""The MAP EM step of a Student-t mixture, literally: the expected complete-data log posterior
written one row and one component at a time, and maximised by ``scipy.optimize``.

Written from the latent-scale model (Peel and McLachlan 2000) and Fraley and Raftery's (2007)
conjugate prior, not from mixfit: no sufficient statistics, no shifted moments, no mode formula.
Given the E-step's r_nk, u_nk = E[u_n | x_n, z_nk = 1] and l_nk = E[ln u_n | x_n, z_nk = 1] under
the current parameters, the function maximised over (pi, mu, Sigma, nu) is

    sum_n w_n sum_k r_nk [ ln pi_k + ln N(x_n | mu_k, Sigma_k / u) in expectation over u
                           + ln Gamma(u | nu_k / 2, nu_k / 2) in expectation over u ]
    + ln p(mu, Sigma)

where the expectations are linear in u and ln u, so they are evaluated from u_nk and l_nk:

    E ln N(x | mu, Sigma / u) = -D/2 ln 2 pi + D/2 l - 1/2 ln|Sigma| - u/2 (x - mu)^T Sigma^{-1} (x - mu)
    E ln Gamma(u | a, a)      = a ln a - ln Gamma(a) + (a - 1) l - a u,   a = nu / 2

and ln p(mu, Sigma) is scipy's (``map_em.log_prior``: N(mu_P, Sigma_k / kappa) times inverse
Wishart or inverse gammas).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from . import map_em


def e_step(X, weights, means, full_scales, dofs):
    """r_nk, u_nk and E[ln u_n | x_n, z_nk = 1], row by row, from the t density's formula."""
    n, D = X.shape
    K = weights.shape[0]
    log_rho, u, log_u = np.zeros((n, K)), np.zeros((n, K)), np.zeros((n, K))
    for i in range(n):
        for k in range(K):
            diff = X[i] - means[k]
            delta = diff @ np.linalg.solve(full_scales[k], diff)
            nu = dofs[k]
            log_rho[i, k] = (np.log(weights[k]) + gammaln((nu + D) / 2) - gammaln(nu / 2)
                             - D / 2 * np.log(nu * np.pi) - 0.5 * np.linalg.slogdet(full_scales[k])[1]
                             - (nu + D) / 2 * np.log1p(delta / nu))
            u[i, k] = (nu + D) / (nu + delta)  # the Gamma((nu + D)/2, (nu + delta)/2) posterior's mean
            log_u[i, k] = digamma((nu + D) / 2) - np.log((nu + delta) / 2)  # and its E[ln u]
    peak = log_rho.max(axis=1, keepdims=True)
    resp = np.exp(log_rho - peak)
    return resp / resp.sum(axis=1, keepdims=True), u, log_u


def complete_data_log_posterior(X, w, resp, u, log_u, weights, means, covariances, dofs, covariance_type,
                                prior: map_em.Prior):
    """The function the M-step maximises (module docstring), one row and component at a time;
    ``covariances`` in scikit-learn's format for the type."""
    n, D = X.shape
    K = weights.shape[0]
    full = map_em.as_full(covariance_type, covariances, K, D)
    total = 0.0
    for k in range(K):
        log_det = np.linalg.slogdet(full[k])[1]
        a = dofs[k] / 2
        for i in range(n):
            diff = X[i] - means[k]
            delta = diff @ np.linalg.solve(full[k], diff)
            gauss = -D / 2 * np.log(2 * np.pi) + D / 2 * log_u[i, k] - 0.5 * log_det - u[i, k] / 2 * delta
            gamma = a * np.log(a) - gammaln(a) + (a - 1) * log_u[i, k] - a * u[i, k]
            total += w[i] * resp[i, k] * (np.log(weights[k]) + gauss + gamma)
    return total + map_em.log_prior(covariance_type, means, covariances, prior)


def _unpack(theta, K, D, covariance_type, fit_dof, dofs):
    """(weights, means, covariances, dofs) from an unconstrained vector: softmax logits, means,
    Cholesky factors with log diagonals (full, tied) or log variances (diag, spherical), log nu."""
    logits, theta = theta[:K], theta[K:]
    weights = np.exp(logits - logits.max())
    weights /= weights.sum()
    means, theta = theta[:K * D].reshape(K, D), theta[K * D:]
    tril = np.tril_indices(D)

    def factor(values):
        L = np.zeros((D, D))
        L[tril] = values
        L[np.diag_indices(D)] = np.exp(np.diagonal(L))
        return L @ L.T

    m = len(tril[0])
    if covariance_type == "full":
        covariances = np.array([factor(theta[k * m:(k + 1) * m]) for k in range(K)])
        theta = theta[K * m:]
    elif covariance_type == "tied":
        covariances, theta = factor(theta[:m]), theta[m:]
    elif covariance_type == "diag":
        covariances, theta = np.exp(theta[:K * D]).reshape(K, D), theta[K * D:]
    else:
        covariances, theta = np.exp(theta[:K]), theta[K:]
    if fit_dof:
        dofs = np.exp(theta[:K])
    return weights, means, covariances, dofs


def _pack(weights, means, covariances, dofs, covariance_type, fit_dof):
    D = means.shape[1]
    tril = np.tril_indices(D)

    def factor_values(cov):
        L = np.linalg.cholesky(cov)
        L[np.diag_indices(D)] = np.log(np.diagonal(L))
        return L[tril]

    if covariance_type == "full":
        cov = np.concatenate([factor_values(c) for c in covariances])
    elif covariance_type == "tied":
        cov = factor_values(covariances)
    else:
        cov = np.log(np.ravel(covariances))
    parts = [np.log(weights), means.ravel(), cov] + ([np.log(dofs)] if fit_dof else [])
    return np.concatenate(parts)


def maximise(X, w, resp, u, log_u, start, covariance_type, prior: map_em.Prior, fit_dof: bool):
    """The maximiser of ``complete_data_log_posterior`` by BFGS (numerical gradients) from
    ``start`` = (weights, means, covariances, dofs), polished by a second run from the first's
    answer. Returns (weights, means, covariances, dofs) and the maximum."""
    K, D = start[1].shape
    fixed_dofs = start[3]

    def negative(theta):
        params = _unpack(theta, K, D, covariance_type, fit_dof, fixed_dofs)
        return -complete_data_log_posterior(X, w, resp, u, log_u, *params, covariance_type, prior)

    theta = _pack(*start, covariance_type, fit_dof)
    for _ in range(2):
        theta = minimize(negative, theta, method="BFGS", options={"gtol": 1e-9, "maxiter": 10_000}).x
    return _unpack(theta, K, D, covariance_type, fit_dof, fixed_dofs), -negative(theta)
