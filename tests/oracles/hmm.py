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
