"""MAP EM's M-step and log prior for the conjugate priors of ``precision_priors`` (full, tied,
diag, spherical): the posterior mode of (mu_k, Sigma_k) and ln p(mu, Sigma) at given params.

The four precision-prior classes take these functions as their ``mode`` and ``log_prior``
methods; the constrained mclust families have their own (``mclust_priors``). ``GaussianEM``
calls only the methods.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

_LOG_2PI = np.log(2 * np.pi)


def conjugate_mode(precision, prior, stats, mass, cov, reg_covar):
    """MAP M-step: the mode of the conjugate posterior of (mu_k, Sigma_k).

    The posterior is the Normal-Wishart of VB's M-step (10.60)-(10.63). Its mode in mu_k is
    its mean m_k (10.61); its mode in Sigma_k is Psi_k / (nu_k + c), where nu_k = nu_0 + N_k
    and c is the mode offset of the prior family (D + 2 for an inverse Wishart with its
    mean factor, Fraley and Raftery 2007). The posterior update returns the factor of
    (Psi_k / nu_k)^{-1}, so asking it with nu_0 + c in place of nu_0 yields the mode's.
    ``cov``: the covariance strategy's ``from_moments`` (S_k about the new means), to which
    ``reg_covar`` is added here.
    """
    cov = precision.covariance.add_ridge(cov, reg_covar)  # S_k + reg_covar I
    d = stats.first / mass[:, None]  # (K, D) xbar_k - c_k
    diff = (stats.shift - prior.mean) + d  # (K, D) xbar_k - m_0
    mean_precision = prior.mean_precision + mass  # (10.60) beta_k = beta_0 + N_k
    # (10.61) m_k = (beta_0 m_0 + N_k xbar_k) / beta_k, written about the shift c_k
    means = stats.shift + (mass[:, None] * d + prior.mean_precision * (prior.mean - stats.shift)) / (
        mean_precision[:, None])
    offset = precision.mode_offset(mass.shape[0], d.shape[1])
    mode_prior = replace(prior, dof=prior.dof + offset)
    _, prec_chol = precision.posterior(mode_prior, mass, cov, diff, mean_precision)  # (10.62)
    return means, prec_chol


def conjugate_log_prior(precision, prior, means, prec_chol) -> float:
    """ln p(mu, Sigma) at the params: sum_k ln N(mu_k | m_0, Sigma_k / beta_0) plus the
    covariance prior's log density (an inverse Wishart, or inverse Gammas), in Sigma."""
    covariance = precision.covariance
    n_components, dim = means.shape
    # (2.43) with precision beta_0 Lambda_k: -D/2 ln 2pi + D/2 ln beta_0 + 1/2 ln|Lambda_k|
    # - beta_0/2 (mu_k - m_0)^T Lambda_k (mu_k - m_0)
    spread = covariance.mahalanobis(np.zeros((1, dim)), means - prior.mean, prec_chol)[0]  # (K,)
    log_det_half = np.broadcast_to(covariance.log_det_half(prec_chol, dim), (n_components,))
    log_mean = (-dim / 2 * _LOG_2PI + dim / 2 * np.log(prior.mean_precision) + log_det_half
                - prior.mean_precision / 2 * spread)
    return float(log_mean.sum()) + precision.log_density(prior, prec_chol, dim)
