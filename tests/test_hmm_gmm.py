"""GMMHMM (a Gaussian mixture per state): one Baum-Welch step and the decoding against a
brute-force oracle (every path enumerated, each state's density a literal sum of scipy normal
densities), hmmlearn 0.3 from identical parameters for every covariance type (scores,
posteriors, EM iterates), monotone objective, recovery of known parameters, sequence weights,
chunk invariance, sampling and bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from oracles.hmm import brute_force, gaussian_mixture_log_emission, hmm_iterates

from mixfit import GMMHMM

COVARIANCE_TYPES = ["full", "diag", "spherical", "tied"]
STARTPROB = np.array([0.6, 0.4])
TRANSMAT = np.array([[0.9, 0.1], [0.2, 0.8]])
WEIGHTS = np.array([[0.3, 0.7], [0.5, 0.5]])
MEANS = np.array([[[0.0, 0.0], [4.0, 0.0]], [[0.0, 6.0], [5.0, 6.0]]])
K, M, D = MEANS.shape


def quietly(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few iterations on purpose: ConvergenceWarning
        return fit(*args, **kwargs)


def covars(covariance_type, rng):
    """Random covariances in hmmlearn's shape for the type."""
    A = rng.normal(size=(K, M, D, D))
    full = A @ np.swapaxes(A, -1, -2) + 0.5 * np.eye(D)  # (K, M, D, D)
    return {"full": full, "diag": rng.uniform(0.5, 2.0, (K, M, D)), "spherical": rng.uniform(0.5, 2.0, (K, M)),
            "tied": full[:, 0]}[covariance_type]


def as_full(covariance_type, c):
    """(K, M, D, D) full matrices from covars_ in hmmlearn's shape."""
    if covariance_type == "full":
        return c
    if covariance_type == "diag":
        return c[..., :, None] * np.eye(D)
    if covariance_type == "spherical":
        return c[..., None, None] * np.eye(D)
    return np.repeat(c[:, None], M, axis=1)


def precisions(covariance_type, c):
    """Precisions in covars_'s shape."""
    return np.linalg.inv(c) if covariance_type in ("full", "tied") else 1.0 / c


def given(covariance_type, c, **kwargs):
    """A GMMHMM started at the known chain and mixtures, with covariances ``c``."""
    return GMMHMM(K, M, covariance_type=covariance_type, reg_covar=0.0, startprob_init=STARTPROB,
                  transmat_init=TRANSMAT, weights_init=WEIGHTS, means_init=MEANS,
                  precisions_init=precisions(covariance_type, c), **kwargs)


def generate(covariance_type, lengths, seed=0):
    model = quietly(given(covariance_type, covars(covariance_type, np.random.default_rng(seed)), max_iter=0).fit,
                    np.zeros((K, D)))
    draws = [model.sample(n, random_state=seed + i) for i, n in enumerate(lengths)]
    return model, np.concatenate([x for x, _ in draws]), np.concatenate([s for _, s in draws])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_iteration_is_the_m_step_of_the_enumerated_posteriors(covariance_type, rng):
    lengths = np.array([3, 5, 2])
    c = covars(covariance_type, rng)
    X = rng.normal(size=(lengths.sum(), D)) * 2 + [2, 3]
    hmm = quietly(given(covariance_type, c, max_iter=1, tol=0).fit, X, lengths)
    full = as_full(covariance_type, c)
    start, transitions, log_lik = np.zeros(K), np.zeros((K, K)), 0.0
    joint = np.zeros((lengths.sum(), K, M))  # gamma_tk r_tkm, by the oracle
    for first, length in zip(np.cumsum(lengths) - lengths, lengths):
        rows = slice(first, first + length)
        ll, gamma, xi, _, _ = brute_force(STARTPROB, TRANSMAT, gaussian_mixture_log_emission(X[rows], WEIGHTS, MEANS,
                                                                                             full))
        start, transitions, log_lik = start + gamma[0], transitions + xi, log_lik + ll
        single = np.stack([np.exp(gaussian_mixture_log_emission(X[rows], np.eye(M)[[m] * K], MEANS, full))
                           for m in range(M)], axis=-1)  # (T, K, M) N(x_t | mu_km, Sigma_km)
        within = WEIGHTS * single / (WEIGHTS * single).sum(axis=-1, keepdims=True)
        joint[rows] = gamma[:, :, None] * within
    mass = joint.sum(axis=0)  # (K, M)
    means = np.einsum("tkm,td->kmd", joint, X) / mass[..., None]
    diff = X[:, None, None, :] - means  # (T, K, M, D)
    scatter = np.einsum("tkm,tkmd,tkme->kmde", joint, diff, diff)  # about the new means
    expected = {"full": scatter / mass[..., None, None],
                "diag": np.diagonal(scatter, axis1=-2, axis2=-1) / mass[..., None],
                "spherical": np.trace(scatter, axis1=-2, axis2=-1) / (D * mass),
                "tied": scatter.sum(axis=1) / mass.sum(axis=1)[:, None, None]}[covariance_type]
    # (13.18), (13.19), (9.26 gmm), (9.24 gmm), (9.25 gmm) from the enumerated posteriors
    np.testing.assert_allclose(hmm.startprob_, start / start.sum(), rtol=1e-11)
    np.testing.assert_allclose(hmm.transmat_, transitions / transitions.sum(axis=1, keepdims=True), rtol=1e-11)
    np.testing.assert_allclose(hmm.weights_, mass / mass.sum(axis=1, keepdims=True), rtol=1e-11)
    np.testing.assert_allclose(hmm.means_, means, rtol=1e-10, atol=1e-12)
    # the covariance passes a Cholesky factor and back: a few more roundings
    np.testing.assert_allclose(hmm.covars_, expected, rtol=1e-9)
    np.testing.assert_allclose(hmm.lower_bounds_[0] * lengths.sum(), log_lik, rtol=1e-12)


def test_scores_and_decodes_like_the_oracle(rng):
    lengths = np.array([4, 1, 5])
    X = rng.normal(size=(lengths.sum(), D)) * 3 + [2, 3]
    hmm = quietly(GMMHMM(K, M, covariance_type="full", max_iter=3, tol=0, random_state=0).fit, X, lengths)
    log_lik, gamma = hmm.score_samples(X, lengths)
    log_prob, states = hmm.decode(X, lengths)
    total_ll = total_best = 0.0
    for first, length in zip(np.cumsum(lengths) - lengths, lengths):
        rows = slice(first, first + length)
        log_emit = gaussian_mixture_log_emission(X[rows], hmm.weights_, hmm.means_, hmm.covars_)
        ll, g, _, path, best = brute_force(hmm.startprob_, hmm.transmat_, log_emit)
        np.testing.assert_allclose(gamma[rows], g, rtol=1e-9, atol=1e-13)
        np.testing.assert_array_equal(states[rows], path)
        total_ll, total_best = total_ll + ll, total_best + best
    np.testing.assert_allclose(log_lik, total_ll, rtol=1e-12)
    np.testing.assert_allclose(log_prob, total_best, rtol=1e-12)


def _hmmlearn(covariance_type, params, startprob, transmat, weights, means, c):
    """hmmlearn's GMMHMM at the given parameters, its priors neutral: weights_prior 1 and
    means_weight 0 (its defaults), and the covariance prior whose M-step denominator is the mass
    alone (its defaults too, except spherical, whose default -(n_mix + 2) / 2 is neutral only when
    n_mix = n_features)."""
    from hmmlearn.hmm import GMMHMM as Reference

    covars_prior = -(D + 2) / 2 if covariance_type == "spherical" else None
    reference = Reference(K, M, covariance_type=covariance_type, covars_prior=covars_prior, init_params="",
                          params=params, implementation="scaling")
    reference.startprob_, reference.transmat_ = startprob, transmat
    reference.weights_, reference.means_, reference.covars_ = weights, means, c
    return reference


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_hmmlearn_gives_the_same_scores_posteriors_and_em_iterates(covariance_type):
    lengths = np.full(3, 40)  # hmmlearn's tied density loops in Python: kept small
    _, X, _ = generate(covariance_type, lengths)
    c = covars(covariance_type, np.random.default_rng(1))
    start = (STARTPROB, TRANSMAT, WEIGHTS, MEANS + 0.5, c)
    ours = quietly(given(covariance_type, c, max_iter=0).fit, X, lengths)
    reference = _hmmlearn(covariance_type, "stmwc", *start[:3], MEANS, c)
    # the same numbers by two recursions (ours scaled in batches, hmmlearn per sequence): rounding only
    np.testing.assert_allclose(ours.score(X, lengths), reference.score(X, lengths), rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X, lengths), reference.predict_proba(X, lengths), atol=1e-10)
    # EM with fixed means: hmmlearn takes the scatter about the means of the E-step, which is then
    # the maximum-likelihood covariance; three iterations agree to rounding
    n_iter = 3
    ours = quietly(given(covariance_type, c, fixed=("means",), max_iter=n_iter, tol=0).fit, X, lengths)
    reference = hmm_iterates(_hmmlearn(covariance_type, "stwc", *start[:3], MEANS, c), X, lengths, n_iter)
    np.testing.assert_allclose(ours.transmat_, reference.transmat_, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ours.weights_, reference.weights_, rtol=1e-9)
    np.testing.assert_allclose(ours.covars_, reference.covars_, rtol=1e-9)
    np.testing.assert_allclose(np.array(ours.lower_bounds_) * lengths.sum(), reference.monitor_.history, rtol=1e-11)
    (log_prob, path), (reference_log_prob, reference_path) = ours.decode(X, lengths), reference.decode(X, lengths)
    np.testing.assert_allclose(log_prob, reference_log_prob, rtol=1e-11)
    np.testing.assert_array_equal(path, reference_path)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_hmmlearns_covariance_is_ours_plus_the_mean_shift(covariance_type):
    """One full M-step: hmmlearn's covariance is the scatter about the E-step's means, ours about
    the new means (9.25); they differ by exactly N d d^T / N with d = new - old mean."""
    lengths = np.full(3, 40)
    _, X, _ = generate(covariance_type, lengths)
    c = covars(covariance_type, np.random.default_rng(1))
    ours = quietly(given(covariance_type, c, max_iter=1, tol=0).fit, X, lengths)
    reference = hmm_iterates(_hmmlearn(covariance_type, "stmwc", STARTPROB, TRANSMAT, WEIGHTS, MEANS, c), X,
                             lengths, 1)
    np.testing.assert_allclose(ours.means_, reference.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weights_, reference.weights_, rtol=1e-10)
    d = ours.means_ - MEANS  # (K, M, D)
    outer = d[..., :, None] * d[..., None, :]
    shift = {"full": outer, "diag": d**2, "spherical": (d**2).mean(axis=-1),
             "tied": np.einsum("km,kmde->kde", ours.weights_, outer)}[covariance_type]  # N_km / N_k = c_km
    np.testing.assert_allclose(ours.covars_ + shift, reference.covars_, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_lower_bound_never_decreases(covariance_type):
    lengths = np.full(10, 50)
    _, X, _ = generate(covariance_type, lengths)
    hmm = GMMHMM(K, M, covariance_type=covariance_type, tol=0, max_iter=25, random_state=1)
    bounds = np.array(quietly(hmm.fit, X, lengths).lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))  # EM's guarantee, up to rounding


def test_recovers_known_parameters_from_generated_sequences():
    lengths = np.full(20, 100)
    _, X, states = generate("diag", lengths, seed=3)
    hmm = GMMHMM(K, M, covariance_type="diag", random_state=0, n_init=2).fit(X, lengths)
    best = None
    for order in itertools.permutations(range(K)):
        for mix in itertools.product(*[list(itertools.permutations(range(M)))] * K):
            means = np.stack([hmm.means_[order[k]][list(mix[k])] for k in range(K)])
            error = np.abs(means - MEANS).max()
            if best is None or error < best[0]:
                best = (error, order, mix)
    error, order, mix = best
    # 2000 frames, ~500 per (state, mixture) pair, unit-scale covariances: standard errors ~0.05
    assert error < 0.3
    weights = np.stack([hmm.weights_[order[k]][list(mix[k])] for k in range(K)])
    np.testing.assert_allclose(weights, WEIGHTS, atol=0.06)
    np.testing.assert_allclose(hmm.transmat_[np.ix_(order, order)], TRANSMAT, atol=0.05)
    accuracy = np.mean(np.asarray(order).argsort()[hmm.predict(X, lengths)] == states)
    assert accuracy > 0.95


def test_integer_sequence_weights_are_repeated_sequences():
    lengths = np.full(8, 40)
    _, X, _ = generate("full", lengths)
    weights = np.array([2, 1, 0, 3, 1, 1, 2, 1])
    first = np.cumsum(lengths) - lengths
    repeated = np.concatenate([X[f:f + n] for f, n, w in zip(first, lengths, weights) for _ in range(w)])
    c = covars("full", np.random.default_rng(1))
    weighted = quietly(given("full", c, max_iter=5, tol=0).fit, X, lengths, sample_weight=weights)
    plain = quietly(given("full", c, max_iter=5, tol=0).fit, repeated, np.repeat(lengths, weights))
    # the same sums, in another order: rounding only
    np.testing.assert_allclose(weighted.means_, plain.means_, rtol=1e-10)
    np.testing.assert_allclose(weighted.covars_, plain.covars_, rtol=1e-10)
    np.testing.assert_allclose(weighted.lower_bounds_, plain.lower_bounds_, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["spherical", "tied"])
def test_fit_does_not_depend_on_chunk_size(covariance_type):
    lengths = np.full(6, 50)
    _, X, _ = generate(covariance_type, lengths)
    fits = [quietly(GMMHMM(K, M, covariance_type=covariance_type, tol=0, max_iter=4, random_state=0,
                           chunk_size=size).fit, X, lengths) for size in (1, 120, 10**6)]
    for hmm in fits[1:]:  # the same sums in other orders
        np.testing.assert_allclose(hmm.lower_bounds_, fits[0].lower_bounds_, rtol=1e-12)
        np.testing.assert_allclose(hmm.means_, fits[0].means_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(hmm.covars_, fits[0].covars_, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_samples_follow_the_model(covariance_type):
    """A long draw from one state: the frame mean and covariance match the state's mixture."""
    c = covars(covariance_type, np.random.default_rng(2))
    model = quietly(given(covariance_type, c, max_iter=0).fit, np.zeros((K, D)))
    model.transmat_ = np.eye(K)  # stay in the first state
    X, states = model.sample(20000, random_state=0, currstate=0)
    assert np.all(states == 0)
    full = as_full(covariance_type, c)[0]
    mean = WEIGHTS[0] @ MEANS[0]
    spread = MEANS[0] - mean
    covariance = np.einsum("m,mde->de", WEIGHTS[0], full + spread[:, :, None] * spread[:, None, :])
    # 20000 draws: the sample mean is within ~4 standard errors (sd <= 2.5 / sqrt(20000) = 0.02)
    np.testing.assert_allclose(X.mean(axis=0), mean, atol=0.08)
    np.testing.assert_allclose(np.cov(X.T), covariance, atol=0.25)


def test_fixed_parameters_stay_put_and_are_not_counted():
    lengths = np.full(4, 50)
    _, X, _ = generate("diag", lengths)
    c = covars("diag", np.random.default_rng(1))
    hmm = quietly(given("diag", c, fixed=("weights", "covariances"), max_iter=3, tol=0).fit, X, lengths)
    np.testing.assert_array_equal(hmm.weights_, WEIGHTS)
    np.testing.assert_allclose(hmm.covars_, c, rtol=1e-14)
    assert hmm._n_parameters() == (K - 1) + K * (K - 1) + K * M * D


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"covariance_type": "VVV"}, "covariance_type='VVV'"),
        ({"n_mix": 0}, "n_mix"),
        ({"weights_init": [[0.5, 0.6], [0.5, 0.5]]}, "weights_init must sum to 1"),
        ({"means_init": np.zeros((K, 3, D))}, r"means_init has shape \(2, 3, 2\)"),
        ({"precisions_init": np.ones((K, M, D))}, r"precisions_init has shape \(2, 2, 2\); expected \(2, 2, 2, 2\)"),
        ({"fixed": ("lambdas",)}, "fixed contains 'lambdas'"),
        ({"reg_covar": -1.0}, "reg_covar"),
    ],
    ids=["covariance-type", "n-mix", "weights-init", "means-init", "precisions-init", "fixed", "reg-covar"],
)
def test_bad_input_names_the_argument(kwargs, match):
    kwargs = {"covariance_type": "full", **kwargs}
    X = np.random.default_rng(0).normal(size=(20, D))
    with pytest.raises(ValueError, match=match):
        GMMHMM(K, **{"n_mix": M, **kwargs}).fit(X)


def test_every_frame_labelled_gives_each_state_its_own_mixture_fit():
    """states= through the shared fit: with every frame's state known, gamma is one-hot, so one
    M-step of the GMMHMM is one EM step of each state's mixture on that state's frames alone."""
    from mixfit import GaussianMixture

    lengths = np.full(4, 50)
    _, X, states = generate("full", lengths)
    c = covars("full", np.random.default_rng(1))
    hmm = quietly(given("full", c, max_iter=1, tol=0).fit, X, lengths, states=states)
    for k in range(K):
        mixture = quietly(GaussianMixture(M, covariance_type="full", reg_covar=0.0, max_iter=1, tol=0,
                                          weights_init=WEIGHTS[k], means_init=MEANS[k],
                                          precisions_init=np.linalg.inv(c[k])).fit, X[states == k])
        np.testing.assert_allclose(hmm.weights_[k], mixture.weights_, rtol=1e-10)
        np.testing.assert_allclose(hmm.means_[k], mixture.means_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hmm.covars_[k], mixture.covariances_, rtol=1e-9)
