"""Variational Bayes for an HMM by brute force: every state path of a tiny problem enumerated.

Written from the definitions, sharing no code with mixfit: for a factorised q(theta),

    q*(Z) propto exp E_q(theta)[ln p(X, Z | theta)]                       (the optimal q(Z))
    ELBO = E[ln p(X, Z | theta)] + E[ln p(theta)] - E[ln q(Z)] - E[ln q(theta)]

with every expectation a sum over the K^T paths of each sequence (weighted by w_b), and the
parameter terms added one factor at a time: E_q[ln p] and the entropy H[q] of each Dirichlet
(scipy.stats.dirichlet), of each Wishart (scipy.stats.wishart) or Gamma (scipy.stats.gamma),
and of the Gaussian factors on the means. The emission expectations E[ln p(x | theta_k)] are
(10.46) per point, from tests/oracles/gaussian_vb.py (itself a literal oracle).

State of the Gaussian emission as tests/oracles/gaussian_vb.py: ``beta`` (K,), ``m`` (K, D),
``nu``, ``psi`` = W^{-1} in the covariance type's shape; the prior: beta0, m0, nu0, psi0.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import stats
from scipy.special import digamma, gammaln, logsumexp

from . import gaussian_vb


def dirichlet_expected_log(alpha):
    """E[ln mu_k] per row on the support (alpha > 0), -inf off it (B.21)."""
    alpha = np.atleast_2d(np.asarray(alpha, dtype=float))
    out = np.full(alpha.shape, -np.inf)
    for j, row in enumerate(alpha):
        on = row > 0
        out[j, on] = digamma(row[on]) - digamma(row[on].sum())
    return out


def dirichlet_terms(alpha, alpha0):
    """E_q[ln p] + H[q] for q = Dir(alpha), p = Dir(alpha0), row by row on the support."""
    alpha, alpha0 = np.atleast_2d(alpha), np.atleast_2d(alpha0)
    total = 0.0
    for row, row0 in zip(alpha, alpha0):
        on = row > 0
        a, a0 = row[on], row0[on]
        if a.size == 1:  # a point mass: ln p = 0 and no entropy
            continue
        e_log = digamma(a) - digamma(a.sum())
        total += gammaln(a0.sum()) - gammaln(a0).sum() + ((a0 - 1) * e_log).sum()  # (10.73) per row
        total += stats.dirichlet(a).entropy()  # -(10.76) per row
    return total


def gaussian_expected_log_emission(X, state, cov_type):
    """(T, K): E[ln N(x_t | mu_k, Lambda_k^{-1})] per point and state, (10.46) without ln pi."""
    T, D = X.shape
    K = len(state["beta"])
    out = np.zeros((T, K))
    for k in range(K):
        lam = gaussian_vb.e_precision(state, k, D, cov_type)
        eld = gaussian_vb.e_log_det(state, k, D, cov_type)
        for t in range(T):
            diff = X[t] - state["m"][k]
            quad = D / state["beta"][k] + diff @ lam @ diff  # (10.64)
            out[t, k] = 0.5 * eld - 0.5 * D * math.log(2 * math.pi) - 0.5 * quad
    return out


def categorical_expected_log_emission(X, alpha):
    """(T, K): E[ln B_k,x_t]."""
    return dirichlet_expected_log(alpha)[:, X[:, 0].astype(int)].T


def _wishart_log_b(W, nu):
    """ln B(W, nu) (B.79) from scipy: logpdf(I) = ln B - tr(W^{-1}) / 2."""
    return stats.wishart(df=nu, scale=W).logpdf(np.eye(W.shape[0])) + 0.5 * np.trace(np.linalg.inv(W))


def _gamma_terms(a, b, a0, b0):
    """E_{Gam(a, b)}[ln Gam(lambda | a0, b0)] + H[Gam(a, b)], from scipy's densities."""
    at_one = stats.gamma(a0, scale=1 / b0).logpdf(1.0)  # = const - b0
    e_log, e_lam = digamma(a) - math.log(b), a / b  # (B.30), (B.27)
    return at_one + (a0 - 1) * e_log - b0 * (e_lam - 1) + stats.gamma(a, scale=1 / b).entropy()


def normal_precision_terms(state, prior, cov_type, D):
    """E_q[ln p(mu, Lambda)] + H[q(mu, Lambda)] of every state's emission factor."""
    K = len(state["beta"])
    b0 = prior["beta0"]
    total = 0.0
    for k in range(K):
        lam = gaussian_vb.e_precision(state, k, D, cov_type)
        eld = gaussian_vb.e_log_det(state, k, D, cov_type)
        dm = state["m"][k] - prior["m0"]
        # E[ln N(mu_k | m0, (beta0 Lambda_k)^{-1})]
        total += 0.5 * D * math.log(b0 / (2 * math.pi)) + 0.5 * eld - 0.5 * b0 * (D / state["beta"][k] + dm @ lam @ dm)
        # H[N(mu_k | m_k, (beta_k Lambda_k)^{-1})] averaged over q(Lambda_k)
        total += 0.5 * D * (1 + math.log(2 * math.pi)) - 0.5 * D * math.log(state["beta"][k]) - 0.5 * eld
    if cov_type in ("full", "tied"):
        for k in (range(K) if cov_type == "full" else [0]):
            nu = state["nu"][k] if cov_type == "full" else state["nu"]
            psi = state["psi"][k] if cov_type == "full" else state["psi"]
            W, W0, nu0 = np.linalg.inv(psi), np.linalg.inv(prior["psi0"]), prior["nu0"]
            eld = gaussian_vb.e_log_det(state, k, D, cov_type)
            total += _wishart_log_b(W0, nu0) + (nu0 - D - 1) / 2 * eld - 0.5 * nu * np.trace(prior["psi0"] @ W)
            total += stats.wishart(df=nu, scale=W).entropy()
    elif cov_type == "diag":
        for k in range(K):
            for d in range(D):
                total += _gamma_terms(state["nu"][k] / 2, state["psi"][k][d] / 2, prior["nu0"] / 2,
                                      prior["psi0"][d] / 2)
    else:
        for k in range(K):
            total += _gamma_terms(D * state["nu"][k] / 2, D * state["psi"][k] / 2, D * prior["nu0"] / 2,
                                  D * prior["psi0"] / 2)
    return total


def paths_and_q(e_log_start, e_log_trans, e_log_emit):
    """Every path of one sequence, s(Z) = E[ln p(X, Z | theta)] and the optimal q(Z)."""
    T, K = e_log_emit.shape
    paths = list(itertools.product(range(K), repeat=T))
    score = np.empty(len(paths))
    for i, path in enumerate(paths):
        s = e_log_start[path[0]] + e_log_emit[0, path[0]]
        for t in range(1, T):
            s += e_log_trans[path[t - 1], path[t]] + e_log_emit[t, path[t]]
        score[i] = s
    q = np.exp(score - logsumexp(score))
    return paths, score, q


def brute_force(sequences, weights, alpha_pi, alpha_a, e_log_emit_of):
    """(data part of the ELBO, expected start counts, transition counts, gamma per sequence) from
    the enumerated q(Z) of each sequence; ``e_log_emit_of(X_b)`` is (T_b, K)."""
    e_log_start = dirichlet_expected_log(alpha_pi)[0]
    e_log_trans = dirichlet_expected_log(alpha_a)
    K = e_log_start.shape[0]
    data, start, trans, gammas = 0.0, np.zeros(K), np.zeros((K, K)), []
    for X, w in zip(sequences, weights):
        paths, score, q = paths_and_q(e_log_start, e_log_trans, e_log_emit_of(X))
        live = q > 0
        # E_q(Z)[E_theta ln p(X, Z | theta)] - E_q(Z)[ln q(Z)], the impossible paths carrying q = 0
        data += w * (np.sum(q[live] * score[live]) - np.sum(q[live] * np.log(q[live])))
        gamma = np.zeros((X.shape[0], K))
        for path, p in zip(paths, q):
            start[path[0]] += w * p
            for t, k in enumerate(path):
                gamma[t, k] += p
                if t > 0:
                    trans[path[t - 1], k] += w * p
        gammas.append(gamma)
    return data, start, trans, gammas
