"""A literal, per-point and per-component implementation of VB for Gaussian mixtures (PRML
10.2.1-10.2.2), written from the equations for testing: loops over n and k, explicit inverses,
no shared code with mixfit. Slow by design; use it on a few dozen rows.

State (a dict): ``alpha`` (K,) Dirichlet or (a, b) stick Betas; ``beta`` (K,); ``m`` (K, D);
``nu`` (K,) or a float (tied); ``psi`` = W^{-1}: (K, D, D) full | (D, D) tied | (K, D) diag |
(K,) spherical, where the diag/spherical Gamma posteriors are Gam(nu/2, psi_d/2) and
Gam(D nu/2, D psi/2). The prior is a dict with alpha0, beta0, m0, nu0, psi0 in the same shapes.
"""

import math

import numpy as np
from scipy.special import digamma, gammaln

# As mixfit and scikit-learn: N_k gets 10 ulps so that an empty component keeps a finite xbar_k.
MASS_FLOOR = 10 * np.finfo(np.float64).eps


def e_log_pi(state, weight_type):
    """E[ln pi_k]: (10.66) for the Dirichlet; stick breaking for the Dirichlet process."""
    if weight_type == "dirichlet_distribution":
        alpha = state["alpha"]
        return np.array([digamma(alpha[k]) - digamma(alpha.sum()) for k in range(len(alpha))])
    a, b = state["alpha"]
    out = np.zeros(len(a))
    for k in range(len(a)):
        out[k] = digamma(a[k]) - digamma(a[k] + b[k])
        for j in range(k):
            out[k] += digamma(b[j]) - digamma(a[j] + b[j])
    return out


def e_log_det(state, k, D, cov_type):
    """E[ln |Lambda_k|]: (10.65) for the Wishart; sum of Gamma E[ln lambda] = psi(a) - ln b."""
    if cov_type in ("full", "tied"):
        nu = state["nu"][k] if cov_type == "full" else state["nu"]
        psi = state["psi"][k] if cov_type == "full" else state["psi"]
        W = np.linalg.inv(psi)
        return sum(digamma((nu + 1 - i) / 2) for i in range(1, D + 1)) + D * math.log(2) + math.log(np.linalg.det(W))
    nu = state["nu"][k]
    if cov_type == "diag":
        return sum(digamma(nu / 2) - math.log(state["psi"][k][d] / 2) for d in range(D))
    return D * (digamma(D * nu / 2) - math.log(D * state["psi"][k] / 2))


def e_precision(state, k, D, cov_type):
    """E[Lambda_k] as a (D, D) matrix: nu W (B.80) or a / b (B.27) on the diagonal."""
    if cov_type == "full":
        return state["nu"][k] * np.linalg.inv(state["psi"][k])
    if cov_type == "tied":
        return state["nu"] * np.linalg.inv(state["psi"])
    if cov_type == "diag":
        return np.diag([state["nu"][k] / state["psi"][k][d] for d in range(D)])
    return np.eye(D) * state["nu"][k] / state["psi"][k]


def e_step(X, state, cov_type, weight_type):
    """ln rho_nk (10.46) with (10.64)-(10.66) per point and component; r_nk (10.49)."""
    N, D = X.shape
    K = len(state["beta"])
    elp = e_log_pi(state, weight_type)
    log_rho = np.zeros((N, K))
    for k in range(K):
        lam = e_precision(state, k, D, cov_type)
        eld = e_log_det(state, k, D, cov_type)
        for n in range(N):
            diff = X[n] - state["m"][k]
            quad = D / state["beta"][k] + diff @ lam @ diff  # (10.64)
            log_rho[n, k] = elp[k] + 0.5 * eld - 0.5 * D * math.log(2 * math.pi) - 0.5 * quad  # (10.46)
    resp = np.zeros((N, K))
    for n in range(N):
        top = log_rho[n].max()
        norm = top + math.log(sum(math.exp(v - top) for v in log_rho[n]))
        for k in range(K):
            resp[n, k] = math.exp(log_rho[n, k] - norm)  # (10.49)
    return resp, log_rho


def m_step(X, w, resp, prior, cov_type, weight_type, reg_covar):
    """(10.51)-(10.53) with weights w_n, then (10.58), (10.60)-(10.63) and their analogues."""
    N, D = X.shape
    K = resp.shape[1]
    Nk = np.array([sum(w[n] * resp[n, k] for n in range(N)) for k in range(K)]) + MASS_FLOOR  # (10.51)
    xbar = np.array([sum(w[n] * resp[n, k] * X[n] for n in range(N)) / Nk[k] for k in range(K)])  # (10.52)
    S = np.array([sum(w[n] * resp[n, k] * np.outer(X[n] - xbar[k], X[n] - xbar[k]) for n in range(N)) / Nk[k]
                  + reg_covar * np.eye(D) for k in range(K)])  # (10.53), plus the ridge
    return updates(Nk, xbar, S, prior, cov_type, weight_type)


def updates(Nk, xbar, S, prior, cov_type, weight_type):
    """(10.58), (10.60)-(10.63) and their analogues from N_k, xbar_k and S_k (with its ridge)."""
    K, D = xbar.shape
    state = {}
    if weight_type == "dirichlet_distribution":
        state["alpha"] = prior["alpha0"] + Nk  # (10.58)
    else:
        state["alpha"] = (1 + Nk, np.array([prior["alpha0"] + Nk[k + 1:].sum() for k in range(K)]))
    state["beta"] = prior["beta0"] + Nk  # (10.60)
    state["m"] = np.array([(prior["beta0"] * prior["m0"] + Nk[k] * xbar[k]) / state["beta"][k]
                           for k in range(K)])  # (10.61)
    shrink = [prior["beta0"] * Nk[k] / (prior["beta0"] + Nk[k]) for k in range(K)]
    dev = [xbar[k] - prior["m0"] for k in range(K)]
    if cov_type == "full":
        state["nu"] = prior["nu0"] + Nk  # (10.63)
        state["psi"] = np.array([prior["psi0"] + Nk[k] * S[k] + shrink[k] * np.outer(dev[k], dev[k])
                                 for k in range(K)])  # (10.62)
    elif cov_type == "tied":
        state["nu"] = prior["nu0"] + Nk.sum()
        state["psi"] = prior["psi0"] + sum(Nk[k] * S[k] + shrink[k] * np.outer(dev[k], dev[k]) for k in range(K))
    elif cov_type == "diag":
        state["nu"] = prior["nu0"] + Nk
        state["psi"] = np.array([[prior["psi0"][d] + Nk[k] * S[k][d, d] + shrink[k] * dev[k][d] ** 2
                                  for d in range(D)] for k in range(K)])
    else:
        state["nu"] = prior["nu0"] + Nk
        state["psi"] = np.array([prior["psi0"] + Nk[k] * np.trace(S[k]) / D + shrink[k] * dev[k] @ dev[k] / D
                                 for k in range(K)])
    return state


def _log_wishart_b(W, nu, D):
    """ln B(W, nu) (B.79)."""
    return (-nu / 2 * math.log(np.linalg.det(W)) - nu * D / 2 * math.log(2) - D * (D - 1) / 4 * math.log(math.pi)
            - sum(gammaln((nu + 1 - i) / 2) for i in range(1, D + 1)))


def _gamma_cross(a0, b0, a, b):
    """E_{Gam(a,b)}[ln Gam(lambda | a0, b0)]."""
    return a0 * math.log(b0) - gammaln(a0) + (a0 - 1) * (digamma(a) - math.log(b)) - b0 * a / b


def _gamma_entropy(a, b):
    """H[Gam(a, b)] (B.31)."""
    return gammaln(a) - (a - 1) * digamma(a) - math.log(b) + a


def elbo(X, w, state, prior, cov_type, weight_type):
    """The bound (10.70) term by term, (10.71)-(10.77), at q(Z) optimal for ``state``."""
    N, D = X.shape
    K = len(state["beta"])
    resp, _ = e_step(X, state, cov_type, weight_type)
    elp = e_log_pi(state, weight_type)
    total = 0.0
    for k in range(K):
        lam = e_precision(state, k, D, cov_type)
        eld = e_log_det(state, k, D, cov_type)
        for n in range(N):
            diff = X[n] - state["m"][k]
            quad = D / state["beta"][k] + diff @ lam @ diff
            like = 0.5 * eld - 0.5 * D * math.log(2 * math.pi) - 0.5 * quad
            total += w[n] * resp[n, k] * like  # (10.71) per point
            total += w[n] * resp[n, k] * elp[k]  # (10.72)
            if resp[n, k] > 0:
                total -= w[n] * resp[n, k] * math.log(resp[n, k])  # (10.75)
    # weights: E[ln p(pi)] (10.73) - E[ln q(pi)] (10.76), or the Beta sticks
    if weight_type == "dirichlet_distribution":
        alpha, a0 = state["alpha"], prior["alpha0"]
        total += gammaln(K * a0) - K * gammaln(a0) + (a0 - 1) * elp.sum()
        total -= gammaln(alpha.sum()) - sum(gammaln(alpha[k]) for k in range(K)) + sum(
            (alpha[k] - 1) * elp[k] for k in range(K))
    else:
        a, b = state["alpha"]
        g = prior["alpha0"]
        for k in range(K):
            ev = digamma(a[k]) - digamma(a[k] + b[k])
            e1v = digamma(b[k]) - digamma(a[k] + b[k])
            total += gammaln(1 + g) - gammaln(g) + (g - 1) * e1v
            total -= gammaln(a[k] + b[k]) - gammaln(a[k]) - gammaln(b[k]) + (a[k] - 1) * ev + (b[k] - 1) * e1v
    b0 = prior["beta0"]
    for k in range(K):
        lam = e_precision(state, k, D, cov_type)
        eld = e_log_det(state, k, D, cov_type)
        dm = state["m"][k] - prior["m0"]
        # the mean factors of (10.74) and (10.77)
        total += 0.5 * (D * math.log(b0 / (2 * math.pi)) + eld - D * b0 / state["beta"][k] - b0 * dm @ lam @ dm)
        total -= 0.5 * eld + D / 2 * math.log(state["beta"][k] / (2 * math.pi)) - D / 2
    if cov_type in ("full", "tied"):
        comps = range(K) if cov_type == "full" else [0]
        for k in comps:
            nu = state["nu"][k] if cov_type == "full" else state["nu"]
            psi = state["psi"][k] if cov_type == "full" else state["psi"]
            W, W0, nu0 = np.linalg.inv(psi), np.linalg.inv(prior["psi0"]), prior["nu0"]
            eld = e_log_det(state, k, D, cov_type)
            # (10.74) Wishart part, and -E[ln q(Lambda)] = H[q(Lambda)] (B.82) in (10.77)
            total += _log_wishart_b(W0, nu0, D) + (nu0 - D - 1) / 2 * eld - 0.5 * nu * np.trace(prior["psi0"] @ W)
            total += -_log_wishart_b(W, nu, D) - (nu - D - 1) / 2 * eld + nu * D / 2
    elif cov_type == "diag":
        for k in range(K):
            for d in range(D):
                a, b = state["nu"][k] / 2, state["psi"][k][d] / 2
                total += _gamma_cross(prior["nu0"] / 2, prior["psi0"][d] / 2, a, b) + _gamma_entropy(a, b)
    else:
        for k in range(K):
            a, b = D * state["nu"][k] / 2, D * state["psi"][k] / 2
            total += _gamma_cross(D * prior["nu0"] / 2, D * prior["psi0"] / 2, a, b) + _gamma_entropy(a, b)
    return total


def run(X, w, resp0, prior, cov_type, weight_type, reg_covar, n_iter):
    """M-step from ``resp0``, then ``n_iter`` rounds of E and M; returns the last state."""
    state = m_step(X, w, resp0, prior, cov_type, weight_type, reg_covar)
    for _ in range(n_iter):
        resp, _ = e_step(X, state, cov_type, weight_type)
        state = m_step(X, w, resp, prior, cov_type, weight_type, reg_covar)
    return state
