"""BernoulliHMM: one Baum-Welch step and the decoding against a brute-force oracle (every path
enumerated, the emission densities by scipy), monotone objective, recovery of known parameters,
chunk invariance, the Beta prior's MAP update, and bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from oracles.hmm import bernoulli_log_emission, brute_force
from scipy.stats import beta as beta_distribution

from mixfit import BernoulliHMM

MEANS = np.array([[0.9, 0.9, 0.8, 0.1, 0.1, 0.2, 0.5, 0.1],
                  [0.1, 0.2, 0.1, 0.9, 0.8, 0.9, 0.5, 0.1],
                  [0.8, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9, 0.1]])
TRANSMAT = np.array([[0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7]])
STARTPROB = np.array([0.5, 0.3, 0.2])
K, D = MEANS.shape


def quietly(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few iterations on purpose: ConvergenceWarning
        return fit(*args, **kwargs)


def truth():
    """The known model as a fitted estimator (max_iter=0 keeps the given start)."""
    model = BernoulliHMM(K, startprob_init=STARTPROB, transmat_init=TRANSMAT, means_init=MEANS, max_iter=0)
    return quietly(model.fit, np.zeros((K, D)))


@pytest.fixture
def data():
    model = truth()
    lengths = np.full(20, 50)
    X = np.concatenate([model.sample(n, random_state=seed)[0] for seed, n in enumerate(lengths)])
    return X.astype(np.int8), lengths


def test_one_iteration_is_the_m_step_of_the_enumerated_posteriors(rng):
    lengths = np.array([3, 5, 2])
    X = (rng.random((lengths.sum(), 3)) < 0.5).astype(int)
    startprob, transmat = np.array([0.6, 0.4]), np.array([[0.7, 0.3], [0.0, 1.0]])  # one forbidden
    means = np.array([[0.8, 0.3, 0.6], [0.2, 0.5, 0.1]])
    hmm = quietly(BernoulliHMM(2, startprob_init=startprob, transmat_init=transmat, means_init=means,
                               max_iter=1, tol=0).fit, X, lengths)
    start, transitions, visits, ones, log_lik = np.zeros(2), np.zeros((2, 2)), np.zeros(2), np.zeros((2, 3)), 0.0
    for first, length in zip(np.cumsum(lengths) - lengths, lengths):
        rows = X[first:first + length]
        ll, gamma, xi, _, _ = brute_force(startprob, transmat, bernoulli_log_emission(rows, means))
        start, transitions, log_lik = start + gamma[0], transitions + xi, log_lik + ll
        visits, ones = visits + gamma.sum(axis=0), ones + gamma.T @ rows
    # (13.18), (13.19) and the posterior mode under Beta(2, 2): (ones + 1) / (visits + 2)
    np.testing.assert_allclose(hmm.startprob_, start / start.sum(), rtol=1e-12)
    np.testing.assert_allclose(hmm.transmat_, transitions / transitions.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(hmm.means_, (ones + 1) / (visits + 2)[:, None], rtol=1e-12)
    assert hmm.transmat_[1, 0] == 0  # a forbidden transition stays forbidden
    # the objective of the start: ln p(X) plus the Beta(2, 2) log density of every mu_ki, per frame
    log_posterior = log_lik + beta_distribution(2, 2).logpdf(means).sum()
    np.testing.assert_allclose(hmm.lower_bounds_[0] * lengths.sum(), log_posterior, rtol=1e-12)


def test_scores_and_decodes_like_the_oracle(rng):
    lengths = np.array([4, 1, 6])
    X = (rng.random((lengths.sum(), 4)) < 0.4).astype(bool)
    hmm = quietly(BernoulliHMM(2, max_iter=3, tol=0, random_state=0).fit, X, lengths)
    log_lik, gamma = hmm.score_samples(X, lengths)
    log_prob, states = hmm.decode(X, lengths)
    total_ll = total_best = 0.0
    for first, length in zip(np.cumsum(lengths) - lengths, lengths):
        rows = slice(first, first + length)
        ll, g, _, path, best = brute_force(hmm.startprob_, hmm.transmat_,
                                           bernoulli_log_emission(X[rows], hmm.means_))
        np.testing.assert_allclose(gamma[rows], g, rtol=1e-10, atol=1e-14)
        np.testing.assert_array_equal(states[rows], path)
        total_ll, total_best = total_ll + ll, total_best + best
    np.testing.assert_allclose(log_lik, total_ll, rtol=1e-12)
    np.testing.assert_allclose(log_prob, total_best, rtol=1e-12)


@pytest.mark.parametrize(("alpha", "beta"), [(None, None), (1.0, 1.0), (3.0, 1.5)],
                         ids=["default-beta-2-2", "maximum-likelihood", "asymmetric-prior"])
def test_lower_bound_never_decreases(alpha, beta, data):
    X, lengths = data
    hmm = BernoulliHMM(K, alpha=alpha, beta=beta, init_params="random", tol=0, max_iter=30, random_state=1)
    bounds = np.array(quietly(hmm.fit, X, lengths).lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))  # (MAP-)EM's guarantee, up to rounding


def test_recovers_known_parameters_from_generated_sequences():
    model = truth()
    lengths = np.full(60, 100)
    X = np.concatenate([model.sample(n, random_state=100 + seed)[0] for seed, n in enumerate(lengths)])
    hmm = BernoulliHMM(K, random_state=0, n_init=2).fit(X, lengths)
    order = np.array([np.argmin(np.abs(hmm.means_ - m).sum(axis=1)) for m in MEANS])
    assert sorted(order) == list(range(K))
    # 6000 frames, ~2000 per state: the standard error of a mu_ki is <= 0.011, of a transition ~0.01
    np.testing.assert_allclose(hmm.means_[order], MEANS, atol=0.05)
    np.testing.assert_allclose(hmm.transmat_[np.ix_(order, order)], TRANSMAT, atol=0.04)
    predicted, states = hmm.predict(X, lengths), np.concatenate(
        [model.sample(n, random_state=100 + seed)[1] for seed, n in enumerate(lengths)])
    accuracy = max(np.mean(np.asarray(perm)[predicted] == states) for perm in itertools.permutations(range(K)))
    assert accuracy > 0.95  # 8 features, most far apart: the states are rarely confused


def test_fit_does_not_depend_on_chunk_size(data):
    X, lengths = data
    fits = [quietly(BernoulliHMM(K, tol=0, max_iter=5, random_state=0, chunk_size=size).fit, X, lengths)
            for size in (1, 170, 10**6)]
    for hmm in fits[1:]:  # the same sums in other orders
        np.testing.assert_allclose(hmm.lower_bounds_, fits[0].lower_bounds_, rtol=1e-12)
        np.testing.assert_allclose(hmm.means_, fits[0].means_, rtol=1e-10)
        np.testing.assert_allclose(hmm.transmat_, fits[0].transmat_, rtol=1e-10, atol=1e-14)


def test_the_default_beta_prior_keeps_probabilities_inside_the_unit_interval(data):
    X, lengths = data
    X = X.copy()
    X[:, -1] = 0  # a feature never on
    kwargs = {"tol": 0, "max_iter": 10, "random_state": 0}
    laplace = quietly(BernoulliHMM(K, **kwargs).fit, X, lengths)
    # Maximum likelihood from the true model, whose means lie inside (0, 1): its start by the
    # default init can hold exact 0s and 1s (a cluster's mean of 0/1 data), and where ML keeps
    # them a sequence can become impossible (fit's ValueError: raised on one host, not on another,
    # which differ in rounding only).
    ml = quietly(BernoulliHMM(K, alpha=1, beta=1, startprob_init=STARTPROB, transmat_init=TRANSMAT,
                              means_init=MEANS, **kwargs).fit, X, lengths)
    assert (laplace.alpha_prior_, laplace.beta_prior_) == (2.0, 2.0)
    assert np.all(laplace.means_ > 0) and np.all(laplace.means_ < 1)
    assert np.all(ml.means_[:, -1] == 0)  # maximum likelihood reaches the edge, and is exact there
    assert np.isfinite(ml.score(X, lengths))
    X_on = X.copy()
    X_on[0, -1] = 1  # impossible under ml: every state says P(x_8 = 1) = 0
    with pytest.raises(ValueError, match="probability 0"):
        ml.score(X_on, lengths)
    assert np.isfinite(laplace.score(X_on, lengths))


def test_fixed_means_stay_put(data):
    X, lengths = data
    hmm = quietly(BernoulliHMM(K, means_init=MEANS, fixed=("means",), max_iter=5, tol=0).fit, X, lengths)
    np.testing.assert_array_equal(hmm.means_, MEANS)
    assert hmm._n_parameters() == (K - 1) + K * (K - 1)


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (np.array([[0, 1], [1, 0.5], [0, 0]]), {}, r"X must be binary .* X\[1, 1\] = 0.5"),
        (np.array([[0, 1], [1, np.nan], [0, 0]]), {}, "X"),
        (np.array([[0, 1], [1, 2], [0, 0]]), {}, r"X\[1, 1\] = 2"),
        (np.array([["a", "b"]] * 3), {}, "X"),
        (np.eye(3, 2), {"means_init": [[0.5, 1.2], [0.1, 0.1]]}, "means_init .* in \\[0, 1\\]"),
        (np.eye(3, 2), {"means_init": [[0.5, 0.5]]}, "means_init"),
        (np.eye(3, 2), {"alpha": 0.5}, "alpha=0.5"),
        (np.eye(3, 2), {"fixed": ("covariances",)}, "fixed contains 'covariances'"),
        (np.eye(3, 2), {"init_params": "spectral"}, "init_params='spectral'"),
    ],
    ids=["fractional", "nan", "two", "strings", "means-init-range", "means-init-shape", "alpha-below-1",
         "fixed-unknown", "init-unknown"],
)
def test_bad_input_names_the_argument(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        BernoulliHMM(2, **kwargs).fit(X)


def test_bad_input_after_fit_names_x(data):
    X, lengths = data
    hmm = quietly(BernoulliHMM(K, max_iter=2, random_state=0).fit, X, lengths)
    with pytest.raises(ValueError, match=r"X must be binary"):
        hmm.predict(X * 3, lengths)
    with pytest.raises(ValueError, match="X has 3 features"):
        hmm.score(X[:, :3], lengths)
