"""A literal, per-point implementation of EM (PRML 9.3.3, with the Beta-prior mode) and VB for
Bernoulli mixtures, written from the equations for testing: loops over n, k and i, math.log and
scipy's digamma / gammaln, no shared code with mixfit. Slow by design; use it on a few dozen rows.
"""

import math

import numpy as np
from scipy.special import digamma, gammaln

# As mixfit: N_k gets 10 ulps before dividing, so that an empty component keeps finite parameters.
MASS_FLOOR = 10 * np.finfo(np.float64).eps


def _log_bernoulli(x, mu):
    """ln p(x | mu) (9.48) term by term, with 0 ln 0 = 0."""
    total = 0.0
    for i in range(len(x)):
        if x[i] == 1:
            total += math.log(mu[i]) if mu[i] > 0 else -math.inf
        else:
            total += math.log(1 - mu[i]) if mu[i] < 1 else -math.inf
    return total


def _normalise(log_rho_row):
    top = max(log_rho_row)
    norm = top + math.log(sum(math.exp(v - top) for v in log_rho_row))
    return [math.exp(v - norm) for v in log_rho_row], norm


def em_step(X, w, weights, means, a0, b0):
    """One EM iteration from (weights, means): (9.56)-(9.60) with the Beta(a0, b0) mode for mu.
    Returns (new weights, new means, ln p(X | old) + ln p(old means))."""
    N, D = X.shape
    K = len(weights)
    resp = np.zeros((N, K))
    loglik = 0.0
    for n in range(N):
        log_rho = [math.log(weights[k]) + _log_bernoulli(X[n], means[k]) for k in range(K)]
        r, norm = _normalise(log_rho)  # (9.56)
        resp[n] = r
        loglik += w[n] * norm  # (9.51)
    log_prior = 0.0
    if (a0, b0) != (1.0, 1.0):
        for k in range(K):
            for i in range(D):
                m = means[k][i]
                log_prior += (gammaln(a0 + b0) - gammaln(a0) - gammaln(b0)
                              + (a0 - 1) * math.log(m) + (b0 - 1) * math.log(1 - m))  # (B.6)
    Nk = [sum(w[n] * resp[n, k] for n in range(N)) + MASS_FLOOR for k in range(K)]  # (9.57)
    new_means = np.zeros((K, D))
    for k in range(K):
        for i in range(D):
            ones = sum(w[n] * resp[n, k] * X[n, i] for n in range(N))  # N_k xbar_ki (9.58)
            new_means[k, i] = (ones + a0 - 1) / (Nk[k] + a0 + b0 - 2)  # mode (B.9) of the Beta posterior
    new_weights = np.array([Nk[k] / sum(Nk) for k in range(K)])  # (9.60)
    return new_weights, new_means, loglik + log_prior


def e_log_pi(alpha, weight_type):
    """E[ln pi_k] for the Dirichlet (10.66) or the stick-breaking Betas."""
    if weight_type == "dirichlet_distribution":
        return [digamma(alpha[k]) - digamma(sum(alpha)) for k in range(len(alpha))]
    a, b = alpha
    out = []
    for k in range(len(a)):
        v = digamma(a[k]) - digamma(a[k] + b[k])
        for j in range(k):
            v += digamma(b[j]) - digamma(a[j] + b[j])
        out.append(v)
    return out


def vb_e_step(X, state, weight_type):
    """r_nk (10.49) from ln rho_nk = E[ln pi_k] + sum_i x E[ln mu] + (1 - x) E[ln(1 - mu)]."""
    N, D = X.shape
    a, b = state["a"], state["b"]
    K = a.shape[0]
    elp = e_log_pi(state["alpha"], weight_type)
    resp = np.zeros((N, K))
    log_rho = np.zeros((N, K))
    for n in range(N):
        for k in range(K):
            v = elp[k]
            for i in range(D):
                e_mu = digamma(a[k, i]) - digamma(a[k, i] + b[k, i])
                e_1m = digamma(b[k, i]) - digamma(a[k, i] + b[k, i])
                v += X[n, i] * e_mu + (1 - X[n, i]) * e_1m
            log_rho[n, k] = v
        resp[n], _ = _normalise(list(log_rho[n]))
    return resp, log_rho


def vb_m_step(X, w, resp, prior, weight_type):
    N, D = X.shape
    K = resp.shape[1]
    Nk = [sum(w[n] * resp[n, k] for n in range(N)) for k in range(K)]
    if weight_type == "dirichlet_distribution":
        alpha = np.array([prior["alpha0"] + Nk[k] for k in range(K)])  # (10.58)
    else:
        alpha = (np.array([1 + Nk[k] for k in range(K)]),
                 np.array([prior["alpha0"] + sum(Nk[k + 1:]) for k in range(K)]))
    a = np.zeros((K, D))
    b = np.zeros((K, D))
    for k in range(K):
        for i in range(D):
            ones = sum(w[n] * resp[n, k] * X[n, i] for n in range(N))
            zeros = sum(w[n] * resp[n, k] * (1 - X[n, i]) for n in range(N))
            a[k, i] = prior["a0"] + ones
            b[k, i] = prior["b0"] + zeros
    return {"alpha": alpha, "a": a, "b": b}


def _ln_dirichlet_norm(alpha):
    return gammaln(sum(alpha)) - sum(gammaln(x) for x in alpha)


def elbo(X, w, state, prior, weight_type):
    """The bound term by term at q(Z) optimal for ``state``: E[ln p(X|Z,mu)] + E[ln p(Z|pi)] +
    E[ln p(pi)] + E[ln p(mu)] - E[ln q(Z)] - E[ln q(pi)] - E[ln q(mu)] (the analogues of
    (10.71)-(10.77))."""
    N, D = X.shape
    a, b = state["a"], state["b"]
    K = a.shape[0]
    resp, _ = vb_e_step(X, state, weight_type)
    elp = e_log_pi(state["alpha"], weight_type)
    total = 0.0
    for n in range(N):
        for k in range(K):
            if resp[n, k] == 0:
                continue
            like = 0.0
            for i in range(D):
                e_mu = digamma(a[k, i]) - digamma(a[k, i] + b[k, i])
                e_1m = digamma(b[k, i]) - digamma(a[k, i] + b[k, i])
                like += X[n, i] * e_mu + (1 - X[n, i]) * e_1m
            # E[ln p(x|z,mu)] + E[ln p(z|pi)] - E[ln q(z)]
            total += w[n] * resp[n, k] * (like + elp[k] - math.log(resp[n, k]))
    a0, b0 = prior["a0"], prior["b0"]
    for k in range(K):
        for i in range(D):
            e_mu = digamma(a[k, i]) - digamma(a[k, i] + b[k, i])
            e_1m = digamma(b[k, i]) - digamma(a[k, i] + b[k, i])
            total += gammaln(a0 + b0) - gammaln(a0) - gammaln(b0) + (a0 - 1) * e_mu + (b0 - 1) * e_1m  # E ln p(mu)
            total -= (gammaln(a[k, i] + b[k, i]) - gammaln(a[k, i]) - gammaln(b[k, i])
                      + (a[k, i] - 1) * e_mu + (b[k, i] - 1) * e_1m)  # E ln q(mu)
    if weight_type == "dirichlet_distribution":
        alpha = state["alpha"]
        alpha0 = [prior["alpha0"]] * K
        e_log = [digamma(alpha[k]) - digamma(sum(alpha)) for k in range(K)]
        total += _ln_dirichlet_norm(alpha0) + sum((alpha0[k] - 1) * e_log[k] for k in range(K))  # (10.73)
        total -= _ln_dirichlet_norm(alpha) + sum((alpha[k] - 1) * e_log[k] for k in range(K))  # (10.76)
    else:
        sa, sb = state["alpha"]
        for k in range(K):
            e_v = digamma(sa[k]) - digamma(sa[k] + sb[k])
            e_1v = digamma(sb[k]) - digamma(sa[k] + sb[k])
            total += _ln_dirichlet_norm([1.0, prior["alpha0"]]) + (prior["alpha0"] - 1) * e_1v
            total -= _ln_dirichlet_norm([sa[k], sb[k]]) + (sa[k] - 1) * e_v + (sb[k] - 1) * e_1v
    return total
