"""MAP EM with the conjugate prior of Fraley & Raftery (2007), literally, one component and
one point at a time.

Written from the paper's posterior mode (mclust's M-step), not from mixfit: no Normal-precision
parametrisation, no mode offset, no shifted moments, no Cholesky factors. Densities come from
``scipy.stats`` (multivariate_normal, invwishart, invgamma), so the log posterior is checked
against an implementation that does not share mixfit's algebra either.

Prior (per component k; one shared Sigma for tied):
    mu_k | Sigma_k ~ N(mu_P, Sigma_k / kappa)
    full, tied  Sigma ~ IW(nu_P, Lambda_P)
    diag        sigma_kd^2 ~ IG(nu_P / 2, lambda_d / 2) for each dimension d
    spherical   sigma_k^2 ~ IG(nu_P / 2, lambda_P / 2), Sigma_k = sigma_k^2 I

M-step (the joint mode of the posterior of (mu_k, Sigma_k); S_k already holds reg_covar I):
    mu_k      = (N_k xbar_k + kappa mu_P) / (N_k + kappa)
    full      Sigma_k = [Lambda_P + N_k S_k + c_k d_k d_k^T] / (nu_P + N_k + D + 2)
    tied      Sigma   = [Lambda_P + sum_k (N_k S_k + c_k d_k d_k^T)] / (nu_P + N + D + 1 + K)
    diag      sigma_kd^2 = [lambda_d + N_k S_kdd + c_k d_kd^2] / (nu_P + N_k + 3)
    spherical sigma_k^2  = [lambda_P + tr(N_k S_k) + c_k |d_k|^2] / (nu_P + (N_k + 1) D + 2)
with d_k = xbar_k - mu_P and c_k = kappa N_k / (kappa + N_k). Each denominator counts the powers
of sigma^{-1} in prior x likelihood: nu_P + D + 1 (IW) or nu_P + 2 (IG), plus D or 1 from the
mean's prior, plus one per row and dimension from the data; the mode of x^{-a/2} e^{-b/(2x)} is
b / a.

Defaults (mclust's priorControl, as mixfit documents them): kappa = 0.01, nu_P = D + 2,
mu_P = the weighted data mean, Lambda_P = (cov(X) + ridge I) / K^(2/D) (its diagonal for diag,
its mean diagonal for spherical), cov with frequency weights and ddof = 1, and the documented
ridge max(reg_covar, 1e-10 * mean variance, sqrt(tiny)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import invgamma, invwishart, multivariate_normal

# mixfit.estimators.priors documents this ridge on the data covariance of the default scale.
_SCALE_RIDGE = 1e-10
_SCALE_FLOOR = np.sqrt(np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class Prior:
    """mclust's hyper-parameters, in mclust's (user-facing) parametrisation."""

    kappa: float
    nu: float
    mean: np.ndarray  # mu_P (D,)
    scale: np.ndarray  # Lambda_P: (D, D) full/tied, (D,) diag, () spherical


def data_mean_and_covariance(X, sample_weight=None):
    """The weighted mean and the frequency-weighted covariance sum_n w_n z z^T / (sum w - 1)."""
    n, D = X.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    total = sum(w)
    mean = sum(w[i] * X[i] for i in range(n)) / total
    scatter = np.zeros((D, D))
    for i in range(n):
        z = X[i] - mean
        scatter += w[i] * np.outer(z, z)
    return mean, scatter / (total - 1 if total > 1 else total)


def default_prior(X, covariance_type, n_components, reg_covar, sample_weight=None, mean=None, cov=None):
    """Fraley & Raftery's data-based defaults; ``mean`` and ``cov`` may be given (e.g. numpy's)."""
    D = X.shape[1]
    if mean is None or cov is None:
        mean, cov = data_mean_and_covariance(X, sample_weight)
    ridge = max(reg_covar, _SCALE_RIDGE * np.trace(cov) / D, _SCALE_FLOOR)
    ridged = (cov + ridge * np.eye(D)) / n_components ** (2 / D)
    if covariance_type in ("full", "tied"):
        scale = ridged
    elif covariance_type == "diag":
        scale = np.diag(ridged).copy()
    else:
        scale = np.asarray(np.trace(ridged) / D)
    return Prior(kappa=0.01, nu=D + 2.0, mean=np.asarray(mean, dtype=float), scale=scale)


def as_full(covariance_type, covariances, K, D):
    """(K, D, D) matrices from covariances in scikit-learn's format for the type."""
    covariances = np.asarray(covariances, dtype=float)
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.array([covariances] * K)
    if covariance_type == "diag":
        return np.array([np.diag(covariances[k]) for k in range(K)])
    return np.array([covariances[k] * np.eye(D) for k in range(K)])


def e_step(X, weights, means, full_covs):
    """Responsibilities r_nk and ln p(x_n), per point with scipy densities."""
    n, K = X.shape[0], weights.shape[0]
    log_rho = np.array([[np.log(weights[k]) + multivariate_normal(means[k], full_covs[k]).logpdf(X[i])
                         for k in range(K)] for i in range(n)])
    peak = log_rho.max(axis=1)
    log_norm = peak + np.log(np.exp(log_rho - peak[:, None]).sum(axis=1))
    return np.exp(log_rho - log_norm[:, None]), log_norm


def m_step(X, resp, sample_weight, covariance_type, reg_covar, prior: Prior):
    """The posterior mode, component by component (formulas in the module docstring)."""
    n, D = X.shape
    K = resp.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    kappa, nu, mu_p, lam = prior.kappa, prior.nu, prior.mean, prior.scale
    weights, means = np.zeros(K), np.zeros((K, D))
    mass, data_terms = np.zeros(K), np.zeros((K, D, D))  # N_k and N_k S_k + c_k d_k d_k^T
    for k in range(K):
        N_k = sum(w[i] * resp[i, k] for i in range(n))
        xbar = sum(w[i] * resp[i, k] * X[i] for i in range(n)) / N_k
        S = sum(w[i] * resp[i, k] * np.outer(X[i] - xbar, X[i] - xbar) for i in range(n)) / N_k
        S = S + reg_covar * np.eye(D)
        d = xbar - mu_p
        c = kappa * N_k / (kappa + N_k)
        mass[k] = N_k
        means[k] = (N_k * xbar + kappa * mu_p) / (N_k + kappa)
        data_terms[k] = N_k * S + c * np.outer(d, d)
    weights = mass / mass.sum()
    if covariance_type == "full":
        covs = np.array([(lam + data_terms[k]) / (nu + mass[k] + D + 2) for k in range(K)])
    elif covariance_type == "tied":
        covs = (lam + data_terms.sum(axis=0)) / (nu + mass.sum() + D + 1 + K)
    elif covariance_type == "diag":
        covs = np.array([[(lam[j] + data_terms[k, j, j]) / (nu + mass[k] + 3) for j in range(D)]
                         for k in range(K)])
    elif covariance_type == "spherical":
        covs = np.array([(lam + np.trace(data_terms[k])) / (nu + (mass[k] + 1) * D + 2) for k in range(K)])
    else:
        raise ValueError(covariance_type)
    return weights, means, covs


def log_prior(covariance_type, means, covariances, prior: Prior):
    """ln p(mu, Sigma) with scipy's densities: K mean terms, and IW / IG terms on the covariances."""
    K, D = means.shape
    full = as_full(covariance_type, covariances, K, D)
    total = sum(multivariate_normal(prior.mean, full[k] / prior.kappa).logpdf(means[k]) for k in range(K))
    if covariance_type == "full":
        total += sum(invwishart(df=prior.nu, scale=prior.scale).logpdf(full[k]) for k in range(K))
    elif covariance_type == "tied":
        total += invwishart(df=prior.nu, scale=prior.scale).logpdf(covariances)
    elif covariance_type == "diag":
        total += sum(invgamma(a=prior.nu / 2, scale=prior.scale[j] / 2).logpdf(covariances[k, j])
                     for k in range(K) for j in range(D))
    else:
        total += sum(invgamma(a=prior.nu / 2, scale=prior.scale / 2).logpdf(covariances[k]) for k in range(K))
    return total


def log_posterior(X, sample_weight, covariance_type, weights, means, covariances, prior: Prior):
    """[sum_n w_n ln p(x_n) + ln p(mu, Sigma)] / sum_n w_n: the per-sample objective."""
    K, D = means.shape
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    _, log_norm = e_step(X, weights, means, as_full(covariance_type, covariances, K, D))
    return (w @ log_norm + log_prior(covariance_type, means, covariances, prior)) / w.sum()


def map_em(X, covariance_type, weights_init, means_init, covariances_init, n_iter, prior: Prior,
           sample_weight=None, reg_covar=1e-6):
    """``n_iter`` MAP EM iterations. Returns (weights, means, covariances, log_posteriors), where
    log_posteriors[t] is the per-sample log posterior of the parameters before the (t+1)-th
    M-step (as mixfit's lower_bounds_ records it)."""
    K, D = np.asarray(means_init).shape
    weights = np.asarray(weights_init, dtype=float)
    means = np.asarray(means_init, dtype=float)
    covariances = np.asarray(covariances_init, dtype=float)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    bounds = []
    for _ in range(n_iter):
        resp, log_norm = e_step(X, weights, means, as_full(covariance_type, covariances, K, D))
        bounds.append((w @ log_norm + log_prior(covariance_type, means, covariances, prior)) / w.sum())
        weights, means, covariances = m_step(X, resp, sample_weight, covariance_type, reg_covar, prior)
    return weights, means, covariances, bounds
