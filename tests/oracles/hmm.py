"""A hidden Markov model by brute force: enumerate every state path of a tiny sequence.

Nothing here shares code or algebra with mixfit: no recursion, no scaling, no log-sum-exp
tricks beyond one at the very end. For K states and T frames there are K^T paths; each path's
joint probability p(X, Z) = pi_{z_1} prod_t A_{z_{t-1} z_t} prod_t p(x_t | z_t) (PRML 13.6) is
computed literally, and every quantity is a sum over paths:

likelihood   p(X) = sum_Z p(X, Z)
posteriors   p(z_t = k | X) = sum_{Z: z_t = k} p(X, Z) / p(X)
transitions  sum_t p(z_{t-1} = j, z_t = k | X)
Viterbi      argmax_Z p(X, Z)
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.special import logsumexp


def path_log_joint(path, log_start, log_trans, log_emit):
    """ln p(X, Z) for one path Z (a tuple of states), from (T, K) log emission densities."""
    total = log_start[path[0]] + log_emit[0, path[0]]
    for t in range(1, len(path)):
        total += log_trans[path[t - 1], path[t]] + log_emit[t, path[t]]
    return total


def enumerate_paths(startprob, transmat, log_emit):
    """Every path of a (T, K) problem and its log joint: (paths (K^T, T), log joints (K^T,))."""
    T, K = log_emit.shape
    with np.errstate(divide="ignore"):
        log_start, log_trans = np.log(startprob), np.log(transmat)
    paths = np.array(list(itertools.product(range(K), repeat=T)))
    joint = np.array([path_log_joint(tuple(p), log_start, log_trans, log_emit) for p in paths])
    return paths, joint


def brute_force(startprob, transmat, log_emit):
    """(ln p(X), posteriors (T, K), expected transitions (K, K), best path (T,), its ln p(X, Z))."""
    T, K = log_emit.shape
    paths, joint = enumerate_paths(startprob, transmat, log_emit)
    log_likelihood = logsumexp(joint)
    prob = np.exp(joint - log_likelihood)  # p(Z | X) per path
    posteriors = np.zeros((T, K))
    transitions = np.zeros((K, K))
    for path, p in zip(paths, prob):
        for t in range(T):
            posteriors[t, path[t]] += p
            if t > 0:
                transitions[path[t - 1], path[t]] += p
    best = int(np.argmax(joint))
    return log_likelihood, posteriors, transitions, paths[best], joint[best]


def gaussian_log_emission(X, means, covariances):
    """(T, K) ln N(x_t | mu_k, Sigma_k) by scipy, full (K, D, D) covariances."""
    from scipy.stats import multivariate_normal

    return np.column_stack([multivariate_normal(means[k], covariances[k]).logpdf(X).reshape(-1)
                            for k in range(means.shape[0])])


def bernoulli_log_emission(X, means):
    """(T, K) sum_i ln Bern(x_ti | mu_ki) by scipy, one state at a time."""
    from scipy.stats import bernoulli

    return np.column_stack([bernoulli(means[k]).logpmf(X).sum(axis=1) for k in range(means.shape[0])])


def poisson_log_emission(X, lambdas):
    """(T, K) sum_d ln Poisson(x_td | lambda_kd) by scipy, one state at a time."""
    from scipy.stats import poisson

    return np.column_stack([poisson(lambdas[k]).logpmf(X).sum(axis=1) for k in range(lambdas.shape[0])])


def multinomial_log_emission(X, emissionprob):
    """(T, K) ln Mult(x_t | n_t, p_k) by scipy, n_t = sum_d x_td, one frame and state at a time."""
    from scipy.stats import multinomial

    return np.array([[multinomial(int(row.sum()), p).logpmf(row) for p in emissionprob] for row in X])


def gaussian_mixture_log_emission(X, weights, means, covariances):
    """(T, K) ln sum_m c_km N(x_t | mu_km, Sigma_km) by scipy, literally: the sum of the weighted
    densities in probability space, then its log (the test data keep it from underflowing).
    ``covariances`` (K, M, D, D) full."""
    from scipy.stats import multivariate_normal

    K, M = weights.shape
    density = np.zeros((X.shape[0], K))
    for k in range(K):
        for m in range(M):
            density[:, k] += weights[k, m] * multivariate_normal(means[k, m], covariances[k, m]).pdf(X).reshape(-1)
    return np.log(density)


def hmm_iterates(hmmlearn_model, X, lengths, n_iter):
    """An hmmlearn model fitted for exactly ``n_iter`` EM iterations from the parameters it holds
    (its init_params='' on construction): tol = -inf never converges early."""
    hmmlearn_model.n_iter = n_iter
    hmmlearn_model.tol = -np.inf
    return hmmlearn_model.fit(X, lengths)
