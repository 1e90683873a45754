"""A Student-t mixture over rows with missing entries, literally: one row and one component at a
time, scipy's multivariate t of the observed marginal and the conditional moments with explicit
inverses. Nothing is shared with mixfit.

For row x with observed o (p = |o|) and missing m, under component k with (mu, Sigma, nu):
    x_o ~ t_p(mu_o, Sigma_oo, nu)                       (the marginal of a t is a t)
    delta = (x_o - mu_o)^T inv(Sigma_oo) (x_o - mu_o)
    u | x_o ~ Gamma((nu + p)/2, rate (nu + delta)/2): E[u], E[ln u]
    E[x_m | x_o, u] = mu_m + Sigma_mo inv(Sigma_oo) (x_o - mu_o)   (free of u)
    Cov[x_m | x_o, u] = (Sigma_mm - Sigma_mo inv(Sigma_oo) Sigma_om) / u
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, logsumexp
from scipy.stats import multivariate_t


def log_rho(X, weights, means, covariances, dof):
    """(n, K) ln pi_k + ln t_p(x_o | mu_k,o, Sigma_k,oo, nu_k), row by row with scipy."""
    out = np.empty((X.shape[0], len(weights)))
    for n, x in enumerate(X):
        o = np.flatnonzero(~np.isnan(x))
        for k in range(len(weights)):
            t = multivariate_t(means[k][o], covariances[k][np.ix_(o, o)], df=dof[k])
            out[n, k] = np.log(weights[k]) + t.logpdf(x[o])
    return out


def statistics(X, w, weights, means, covariances, dof):
    """(ln L, N_k, U_k, T_k, first_k about mu_k, scatter_k about mu_k (K, D, D)): the E-step's sums
    sum_n w r, sum_n w r E[u], sum_n w r (E[ln u] - E[u]), sum_n w r E[u (x - mu_k)] and
    sum_n w r E[u (x - mu_k)(x - mu_k)^T]."""
    D = X.shape[1]
    K = len(weights)
    rho = log_rho(X, weights, means, covariances, dof)
    norm = logsumexp(rho, axis=1)
    resp = np.exp(rho - norm[:, None])
    N, U, T = np.zeros(K), np.zeros(K), np.zeros(K)
    first, scatter = np.zeros((K, D)), np.zeros((K, D, D))
    for i, x in enumerate(X):
        o = np.flatnonzero(~np.isnan(x))
        m = np.flatnonzero(np.isnan(x))
        p = o.size
        for k in range(K):
            s = covariances[k]
            inv_oo = np.linalg.inv(s[np.ix_(o, o)])
            r = x[o] - means[k][o]
            delta = r @ inv_oo @ r
            u = (dof[k] + p) / (dof[k] + delta)
            log_u = digamma((dof[k] + p) / 2) - np.log((dof[k] + delta) / 2)
            z = np.zeros(D)
            z[o] = r
            z[m] = s[np.ix_(m, o)] @ inv_oo @ r
            cond = np.zeros((D, D))
            cond[np.ix_(m, m)] = s[np.ix_(m, m)] - s[np.ix_(m, o)] @ inv_oo @ s[np.ix_(o, m)]
            a = w[i] * resp[i, k]
            N[k] += a
            U[k] += a * u
            T[k] += a * (log_u - u)
            first[k] += a * u * z
            scatter[k] += a * (u * np.outer(z, z) + cond)  # E[u z z^T] = u zhat zhat^T + C
    return float(norm @ w), N, U, T, first, scatter


def scale_and_distance(X, weights, means, covariances, dof):
    """(E[u | x_o] = sum_k r_k E[u | x_o, k], delta at the most probable k), row by row."""
    rho = log_rho(X, weights, means, covariances, dof)
    resp = np.exp(rho - logsumexp(rho, axis=1)[:, None])
    scale, distance = np.empty(X.shape[0]), np.empty(X.shape[0])
    for i, x in enumerate(X):
        o = np.flatnonzero(~np.isnan(x))
        deltas = []
        for k in range(len(weights)):
            r = x[o] - means[k][o]
            deltas.append(r @ np.linalg.inv(covariances[k][np.ix_(o, o)]) @ r)
        deltas = np.array(deltas)
        scale[i] = resp[i] @ ((dof + o.size) / (dof + deltas))
        distance[i] = deltas[np.argmax(rho[i])]
    return scale, distance
