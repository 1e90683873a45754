"""Hidden Markov models over frames with missing entries, literally: one frame and one state at a
time, scipy's density of the state's marginal over the frame's observed coordinates, a forward
pass as a plain loop over frames, and the conditional moments of the missing coordinates with
explicit inverses (fine for the small well-conditioned blocks of a test). Nothing is shared with
mixfit.

For a frame x_t with observed coordinates o and missing m, under state k (PRML 2.81, 2.82, 2.98):
    ln p(x_t | z_t = k) = ln N(x_t,o | mu_k,o, Sigma_k,oo)     (0 when o is empty)
    E[x_m | x_o, k]     = mu_k,m + Sigma_k,mo inv(Sigma_k,oo) (x_o - mu_k,o)
    Cov[x_m | x_o, k]   = Sigma_k,mm - Sigma_k,mo inv(Sigma_k,oo) Sigma_k,om
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal


def observed_log_emission(X, means, covariances):
    """(T, K) ln N(x_t,o | mu_k,o, Sigma_k,oo) frame by frame; 0 where a frame observes nothing."""
    T, K = X.shape[0], means.shape[0]
    out = np.zeros((T, K))
    for t in range(T):
        o = np.flatnonzero(~np.isnan(X[t]))
        if o.size == 0:
            continue
        for k in range(K):
            out[t, k] = multivariate_normal(means[k][o], covariances[k][np.ix_(o, o)]).logpdf(X[t, o])
    return out


def forward_log_likelihood(startprob, transmat, log_emit):
    """ln p(X) of one sequence by the forward recursion (13.36), one frame at a time in log space."""
    log_alpha = np.log(startprob) + log_emit[0]
    for t in range(1, log_emit.shape[0]):
        log_alpha = np.array([logsumexp(log_alpha + np.log(transmat[:, k])) for k in range(len(startprob))]) \
            + log_emit[t]
    return float(logsumexp(log_alpha))


def expected_moments(X, gamma, weight, means, covariances):
    """sum_t w_t gamma_tk E[x_t - mu_k | x_o, k] (K, D) and
    sum_t w_t gamma_tk E[(x_t - mu_k)(x_t - mu_k)^T | x_o, k] (K, D, D), frame by frame."""
    T, D = X.shape
    K = means.shape[0]
    first, scatter = np.zeros((K, D)), np.zeros((K, D, D))
    for t in range(T):
        o = np.flatnonzero(~np.isnan(X[t]))
        m = np.flatnonzero(np.isnan(X[t]))
        for k in range(K):
            s = covariances[k]
            z = np.zeros(D)
            cond = np.zeros((D, D))
            z[o] = X[t, o] - means[k][o]
            if o.size:
                gain = s[np.ix_(m, o)] @ np.linalg.inv(s[np.ix_(o, o)])
                z[m] = gain @ z[o]
                cond[np.ix_(m, m)] = s[np.ix_(m, m)] - gain @ s[np.ix_(o, m)]
            else:
                cond = s.copy()
            first[k] += weight[t] * gamma[t, k] * z
            scatter[k] += weight[t] * gamma[t, k] * (np.outer(z, z) + cond)
    return first, scatter
