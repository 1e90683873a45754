"""Conditioning, marginals and Gaussian mixture regression, literally from the equations, one
point and one component at a time: explicit matrix inverses (numpy.linalg.inv, fine for the
small well-conditioned blocks of a test) and scipy.stats densities, nothing shared with mixfit.

For each component k with the coordinates split into given a and other b (PRML 2.81, 2.82):
    mean_k(b | a)  = mu_b + Sigma_ba inv(Sigma_aa) (x_a - mu_a)
    cov_k(b | a)   = Sigma_bb - Sigma_ba inv(Sigma_aa) Sigma_ab
    weight_k(x_a)  = pi_k N(x_a | mu_a, Sigma_aa) / sum_j pi_j N(x_a | mu_ja, Sigma_j,aa)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import multivariate_normal


def condition(weights, means, covariances, given, other, x_a):
    """The conditional mixture (weights (K,), means (K, b), covariances (K, b, b)) at one x_a;
    ``covariances`` are full (K, D, D)."""
    K = len(weights)
    densities = [weights[k] * multivariate_normal(means[k][given], covariances[k][np.ix_(given, given)]).pdf(x_a)
                 for k in range(K)]
    total = sum(densities)
    cond_w, cond_m, cond_c = [], [], []
    for k in range(K):
        s = covariances[k]
        gain = s[np.ix_(other, given)] @ np.linalg.inv(s[np.ix_(given, given)])
        cond_w.append(densities[k] / total)
        cond_m.append(means[k][other] + gain @ (np.asarray(x_a) - means[k][given]))
        cond_c.append(s[np.ix_(other, other)] - gain @ s[np.ix_(given, other)])
    return np.array(cond_w), np.array(cond_m), np.array(cond_c)


def regression(weights, means, covariances, given, other, X_a):
    """Predictive mean (n, b) and covariance (n, b, b) of the conditional mixture, row by row:
    E[y] = sum_k w_k m_k, Cov[y] = sum_k w_k (C_k + m_k m_k^T) - E[y] E[y]^T."""
    mean, cov = [], []
    for x_a in X_a:
        w, m, c = condition(weights, means, covariances, given, other, x_a)
        mu = sum(w[k] * m[k] for k in range(len(w)))
        second = sum(w[k] * (c[k] + np.outer(m[k], m[k])) for k in range(len(w)))
        mean.append(mu)
        cov.append(second - np.outer(mu, mu))
    return np.array(mean), np.array(cov)


def log_density_observed(weights, means, covariances, X):
    """ln sum_k pi_k N(x_o | mu_k,o, Sigma_k,oo) per row, o = the row's non-NaN coordinates."""
    out = []
    for x in X:
        o = np.flatnonzero(~np.isnan(x))
        out.append(np.log(sum(weights[k] * multivariate_normal(means[k][o], covariances[k][np.ix_(o, o)]).pdf(x[o])
                              for k in range(len(weights)))))
    return np.array(out)
