"""A literal, per-row and per-component implementation of VB for Gaussian mixtures with missing
entries (NaN) missing at random, written from the equations for testing: q(Z, X_m) =
prod_n q(z_n) q(x_n,m | z_n) beside q(theta) (docs/math/conditional.md, (V1)-(V6)). Loops over
rows and components, explicit inverses, scipy for the Gaussian entropies and the Student-t
densities; the q(theta) parts (E[ln pi], E[ln|Lambda|], E[Lambda], the KL terms) are those of
oracles/gaussian_vb.py. Slow by design; use it on a few dozen rows.

States and priors are oracles/gaussian_vb.py's dicts.
"""

import math

import numpy as np
from scipy import stats

from . import gaussian_vb as complete

MASS_FLOOR = complete.MASS_FLOOR


def _conditional(x, state, k, D, cov_type):
    """q(x_m | z = k) of (V1) for one row: (missing index, completed row x_hat (D,), C (m, m)),
    from the quadratic form of E[ln N(x | mu_k, Lambda_k)] in x_m (precision A = E[Lambda_k])."""
    A = complete.e_precision(state, k, D, cov_type)
    mis = np.flatnonzero(np.isnan(x))
    obs = np.flatnonzero(~np.isnan(x))
    C = np.linalg.inv(A[np.ix_(mis, mis)])
    x_hat = x.copy()
    m = state["m"][k]
    x_hat[mis] = m[mis] - C @ A[np.ix_(mis, obs)] @ (x[obs] - m[obs])
    return mis, x_hat, C


def _row_terms(x, state, cov_type, weight_type):
    """Per component: E[ln pi_k] + E_{q(x_m|k) q(theta)}[ln N(x | mu_k, Lambda_k)] + H[q(x_m | k)],
    (K,), with the completed rows and C's; the optimal q(z = k) is its softmax."""
    terms, parts = _emission_terms(x, state, cov_type)
    return terms + complete.e_log_pi(state, weight_type), parts


def _emission_terms(x, state, cov_type):
    """``_row_terms`` without E[ln pi_k]: ln p~(x | k) of a row with holes (a row may observe
    nothing: then x_hat = m_k and C = E[Lambda_k]^{-1})."""
    D = x.shape[0]
    K = len(state["beta"])
    terms, parts = np.zeros(K), []
    for k in range(K):
        A = complete.e_precision(state, k, D, cov_type)
        eld = complete.e_log_det(state, k, D, cov_type)
        mis, x_hat, C = _conditional(x, state, k, D, cov_type)
        diff = x_hat - state["m"][k]
        # (10.64) averaged over x_m as well: D / beta_k + (x_hat - m_k)^T A (x_hat - m_k) + tr(A_mm C)
        quad = D / state["beta"][k] + diff @ A @ diff + np.trace(A[np.ix_(mis, mis)] @ C)
        like = 0.5 * eld - 0.5 * D * math.log(2 * math.pi) - 0.5 * quad
        entropy = stats.multivariate_normal(mean=np.zeros(len(mis)), cov=C).entropy()  # H[q(x_m | k)]
        terms[k] = like + entropy
        parts.append((mis, x_hat, C))
    return terms, parts


def e_step(X, state, cov_type, weight_type):
    """r_nk (n, K): q(z_n = k) proportional to exp of ``_row_terms`` (complete rows: (10.46), (10.49))."""
    N = X.shape[0]
    resp = np.zeros((N, len(state["beta"])))
    for n in range(N):
        if np.isnan(X[n]).any():
            terms, _ = _row_terms(X[n], state, cov_type, weight_type)
        else:
            terms = complete.e_step(X[n : n + 1], state, cov_type, weight_type)[1][0]
        resp[n] = np.exp(terms - terms.max()) / np.exp(terms - terms.max()).sum()
    return resp


def elbo(X, w, state, prior, cov_type, weight_type):
    """The bound term by term: sum_n w_n sum_k r_nk (E[ln pi_k] + E[ln N] + H[q(x_m | k)] - ln r_nk)
    over every row (a complete row has no x_m), plus the q(theta) terms of oracles/gaussian_vb.py
    ((10.73), (10.74), (10.76), (10.77); its ``elbo`` on no rows)."""
    N, D = X.shape
    total = complete.elbo(np.zeros((0, D)), np.zeros(0), state, prior, cov_type, weight_type)
    resp = e_step(X, state, cov_type, weight_type)
    for n in range(N):
        if np.isnan(X[n]).any():
            terms, _ = _row_terms(X[n], state, cov_type, weight_type)
        else:
            terms = complete.e_step(X[n : n + 1], state, cov_type, weight_type)[1][0]
        for k in range(len(terms)):
            if resp[n, k] > 0:
                total += w[n] * resp[n, k] * (terms[k] - math.log(resp[n, k]))
    return total


def expected_log_emission(X, state, cov_type):
    """(T, K) ln p~(x_t | k) of an HMM's frames: (10.46) without E[ln pi_k] for a complete frame,
    else E_{q(x_m|k) q(theta)}[ln N] + H[q(x_m | k)] (a frame may observe nothing)."""
    T, D = X.shape
    K = len(state["beta"])
    out = np.zeros((T, K))
    for t in range(T):
        if np.isnan(X[t]).any():
            out[t] = _emission_terms(X[t], state, cov_type)[0]
            continue
        for k in range(K):
            A = complete.e_precision(state, k, D, cov_type)
            diff = X[t] - state["m"][k]
            quad = D / state["beta"][k] + diff @ A @ diff  # (10.64)
            out[t, k] = 0.5 * complete.e_log_det(state, k, D, cov_type) - 0.5 * D * math.log(2 * math.pi) - 0.5 * quad
    return out


def m_step(X, w, state, prior, cov_type, weight_type, reg_covar, resp=None):
    """(10.51)-(10.53) from the expected statistics under q(Z, X_m) of ``state``: each row's
    completed x_hat_nk and E[(x - xbar_k)(x - xbar_k)^T] = (x_hat_nk - xbar_k)(.)^T + C_nk on the
    missing block; then oracles/gaussian_vb.py's updates, fed those moments. ``resp``: given
    responsibilities (an HMM's gamma) instead of the mixture's own."""
    N, D = X.shape
    K = len(state["beta"])
    resp = e_step(X, state, cov_type, weight_type) if resp is None else resp
    rows = []  # per row: per k (missing index, x_hat, C)
    for n in range(N):
        if np.isnan(X[n]).any():
            rows.append(_emission_terms(X[n], state, cov_type)[1])
        else:
            rows.append([(np.zeros(0, dtype=int), X[n], np.zeros((0, 0)))] * K)
    Nk = np.array([sum(w[n] * resp[n, k] for n in range(N)) for k in range(K)]) + MASS_FLOOR  # (10.51)
    xbar = np.array([sum(w[n] * resp[n, k] * rows[n][k][1] for n in range(N)) / Nk[k] for k in range(K)])
    S = np.zeros((K, D, D))
    for k in range(K):
        for n in range(N):
            mis, x_hat, C = rows[n][k]
            outer = np.outer(x_hat - xbar[k], x_hat - xbar[k])
            outer[np.ix_(mis, mis)] += C
            S[k] += w[n] * resp[n, k] * outer
        S[k] = S[k] / Nk[k] + reg_covar * np.eye(D)  # (10.53), plus the ridge
    return complete.updates(Nk, xbar, S, prior, cov_type, weight_type)


def log_predictive(X, state, weights, cov_type):
    """ln sum_k E[pi_k] St_k(x_n,o) (V6) per row with scipy.stats: each component's Student-t
    predictive (10.81) marginalised over the row's observed coordinates (the scale's oo block,
    the same degrees of freedom); diag: the product of the observed coordinates' 1-D Student-t."""
    N, D = X.shape
    K = len(state["beta"])
    out = np.zeros(N)
    for n in range(N):
        obs = np.flatnonzero(~np.isnan(X[n]))
        dens = 0.0
        for k in range(K):
            beta = state["beta"][k]
            nu = state["nu"][k] if cov_type != "tied" else state["nu"]
            m = state["m"][k]
            if cov_type in ("full", "tied"):
                psi = state["psi"][k] if cov_type == "full" else state["psi"]
                df = nu + 1 - D  # (10.81)
                shape = psi * (1 + beta) / (beta * df)  # L_k^{-1} (10.82)
                comp = stats.multivariate_t(m[obs], shape[np.ix_(obs, obs)], df=df).pdf(X[n, obs])
            elif cov_type == "diag":
                scale = np.sqrt(state["psi"][k] / nu * (1 + beta) / beta)
                comp = np.prod(stats.t.pdf(X[n, obs], df=nu, loc=m[obs], scale=scale[obs]))
            else:
                var = state["psi"][k] / nu * (1 + beta) / beta
                comp = stats.multivariate_t(m[obs], np.eye(len(obs)) * var, df=D * nu).pdf(X[n, obs])
            dens += weights[k] * comp
        out[n] = math.log(dens)
    return out
