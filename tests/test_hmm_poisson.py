"""PoissonHMM: one Baum-Welch step and the decoding against a brute-force oracle (every path
enumerated, the densities by scipy), hmmlearn 0.3 from identical parameters (scores, posteriors
and EM iterates), the Gamma prior's MAP update, monotone objective, recovery of known
parameters, sequence weights, chunk invariance and bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from oracles.hmm import brute_force, hmm_iterates, poisson_log_emission
from scipy.stats import gamma as gamma_distribution

from mixfit import PoissonHMM

LAMBDAS = np.array([[0.5, 6.0, 2.0], [4.0, 0.5, 2.0], [9.0, 9.0, 0.2]])
TRANSMAT = np.array([[0.85, 0.1, 0.05], [0.1, 0.8, 0.1], [0.15, 0.05, 0.8]])
STARTPROB = np.array([0.5, 0.3, 0.2])
K, D = LAMBDAS.shape


def quietly(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few iterations on purpose: ConvergenceWarning
        return fit(*args, **kwargs)


def truth():
    """The known model as a fitted estimator (max_iter=0 keeps the given start)."""
    model = PoissonHMM(K, startprob_init=STARTPROB, transmat_init=TRANSMAT, lambdas_init=LAMBDAS, max_iter=0)
    return quietly(model.fit, np.zeros((K, D)))


def generate(lengths, seed=0):
    model = truth()
    draws = [model.sample(n, random_state=seed + i) for i, n in enumerate(lengths)]
    return np.concatenate([x for x, _ in draws]).astype(np.int64), np.concatenate([s for _, s in draws])


@pytest.fixture(scope="module")
def data():
    lengths = np.full(12, 50)
    return generate(lengths)[0], lengths


@pytest.mark.parametrize(("prior", "weight"), [(0.0, 0.0), (2.5, 0.7)], ids=["maximum-likelihood", "gamma-prior"])
def test_one_iteration_is_the_m_step_of_the_enumerated_posteriors(rng, prior, weight):
    lengths = np.array([3, 5, 2])
    X = rng.poisson([1.0, 3.0], size=(lengths.sum(), 2))
    startprob, transmat = np.array([0.6, 0.4]), np.array([[0.7, 0.3], [0.0, 1.0]])  # one forbidden
    lambdas = np.array([[0.8, 2.0], [3.0, 0.5]])
    hmm = quietly(PoissonHMM(2, lambdas_prior=prior, lambdas_weight=weight, startprob_init=startprob,
                             transmat_init=transmat, lambdas_init=lambdas, max_iter=1, tol=0).fit, X, lengths)
    start, transitions, visits, counts, log_lik = np.zeros(2), np.zeros((2, 2)), np.zeros(2), np.zeros((2, 2)), 0.0
    for first, length in zip(np.cumsum(lengths) - lengths, lengths):
        rows = X[first:first + length]
        ll, gamma, xi, _, _ = brute_force(startprob, transmat, poisson_log_emission(rows, lambdas))
        start, transitions, log_lik = start + gamma[0], transitions + xi, log_lik + ll
        visits, counts = visits + gamma.sum(axis=0), counts + gamma.T @ rows
    # (13.18), (13.19) and the rates: the mode of Gamma(1 + a + S_kd, b + N_k)
    np.testing.assert_allclose(hmm.startprob_, start / start.sum(), rtol=1e-12)
    np.testing.assert_allclose(hmm.transmat_, transitions / transitions.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(hmm.lambdas_, (prior + counts) / (weight + visits)[:, None], rtol=1e-12)
    assert hmm.transmat_[1, 0] == 0  # a forbidden transition stays forbidden
    # the objective of the start: ln p(X), plus the Gamma(1 + a, rate b) log density of every rate
    log_prior = gamma_distribution(1 + prior, scale=1 / weight).logpdf(lambdas).sum() if weight else 0.0
    np.testing.assert_allclose(hmm.lower_bounds_[0] * lengths.sum(), log_lik + log_prior, rtol=1e-12)


def test_scores_and_decodes_like_the_oracle(rng):
    lengths = np.array([4, 1, 6])
    X = rng.poisson([0.5, 4.0, 2.0], size=(lengths.sum(), 3))
    X[2, 0] = 0  # a zero count: ln 0! = 0
    hmm = quietly(PoissonHMM(2, max_iter=3, tol=0, random_state=0).fit, X, lengths)
    log_lik, gamma = hmm.score_samples(X, lengths)
    log_prob, states = hmm.decode(X, lengths)
    total_ll = total_best = 0.0
    for first, length in zip(np.cumsum(lengths) - lengths, lengths):
        rows = slice(first, first + length)
        ll, g, _, path, best = brute_force(hmm.startprob_, hmm.transmat_, poisson_log_emission(X[rows], hmm.lambdas_))
        np.testing.assert_allclose(gamma[rows], g, rtol=1e-10, atol=1e-14)
        np.testing.assert_array_equal(states[rows], path)
        total_ll, total_best = total_ll + ll, total_best + best
    np.testing.assert_allclose(log_lik, total_ll, rtol=1e-12)
    np.testing.assert_allclose(log_prob, total_best, rtol=1e-12)


def _hmmlearn(startprob, transmat, lambdas):
    from hmmlearn.hmm import PoissonHMM as Reference

    reference = Reference(K, init_params="", params="stl", implementation="scaling")  # priors 0: maximum likelihood
    reference.startprob_, reference.transmat_, reference.lambdas_ = startprob, transmat, lambdas
    return reference


def test_hmmlearn_gives_the_same_scores_posteriors_and_em_iterates(data):
    X, lengths = data
    start = (np.full(K, 1 / K), np.full((K, K), 1 / K), LAMBDAS * [[1.3, 0.8, 1.1], [0.7, 1.2, 0.9], [1.1, 1.0, 1.5]])
    ours = quietly(PoissonHMM(K, startprob_init=start[0], transmat_init=start[1], lambdas_init=start[2], max_iter=0).fit,
                   X, lengths)
    reference = _hmmlearn(*start)
    # the same numbers by two recursions (ours scaled in batches, hmmlearn per sequence): rounding only
    np.testing.assert_allclose(ours.score(X, lengths), reference.score(X, lengths), rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X, lengths), reference.predict_proba(X, lengths), atol=1e-10)
    n_iter = 5
    ours = quietly(PoissonHMM(K, startprob_init=start[0], transmat_init=start[1], lambdas_init=start[2],
                              max_iter=n_iter, tol=0).fit, X, lengths)
    reference = hmm_iterates(_hmmlearn(*start), X, lengths, n_iter)
    # five M-steps from one start: rounding differences grow a little per step, far below 1e-9
    np.testing.assert_allclose(ours.lambdas_, reference.lambdas_, rtol=1e-9)
    np.testing.assert_allclose(ours.transmat_, reference.transmat_, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ours.startprob_, reference.startprob_, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(np.array(ours.lower_bounds_) * lengths.sum(), reference.monitor_.history, rtol=1e-11)
    (log_prob, path), (reference_log_prob, reference_path) = ours.decode(X, lengths), reference.decode(X, lengths)
    np.testing.assert_allclose(log_prob, reference_log_prob, rtol=1e-11)  # (a uniform start would tie paths)
    np.testing.assert_array_equal(path, reference_path)


@pytest.mark.parametrize(("prior", "weight"), [(0.0, 0.0), (3.0, 0.5)], ids=["maximum-likelihood", "gamma-prior"])
def test_lower_bound_never_decreases(prior, weight, data):
    X, lengths = data
    hmm = PoissonHMM(K, lambdas_prior=prior, lambdas_weight=weight, init_params="random", tol=0, max_iter=25,
                     random_state=1)
    bounds = np.array(quietly(hmm.fit, X, lengths).lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))  # (MAP-)EM's guarantee, up to rounding


def test_recovers_known_parameters_from_generated_sequences():
    lengths = np.full(40, 100)
    X, states = generate(lengths, seed=100)
    hmm = PoissonHMM(K, random_state=0, n_init=2).fit(X, lengths)
    order = np.array([np.argmin(np.abs(hmm.lambdas_ - lam).sum(axis=1)) for lam in LAMBDAS])
    assert sorted(order) == list(range(K))
    # 4000 frames, ~1300 per state: the standard error of a rate is sqrt(lambda / 1300) <= 0.09
    np.testing.assert_allclose(hmm.lambdas_[order], LAMBDAS, atol=0.4, rtol=0.05)
    np.testing.assert_allclose(hmm.transmat_[np.ix_(order, order)], TRANSMAT, atol=0.04)
    predicted = hmm.predict(X, lengths)
    accuracy = max(np.mean(np.asarray(perm)[predicted] == states) for perm in itertools.permutations(range(K)))
    assert accuracy > 0.95  # rates far apart in at least one feature


def test_integer_sequence_weights_are_repeated_sequences(data):
    X, lengths = data
    weights = np.array([2, 1, 0, 3, 1, 1, 1, 2, 1, 1, 1, 1])
    first = np.cumsum(lengths) - lengths
    repeated = np.concatenate([X[f:f + n] for f, n, w in zip(first, lengths, weights) for _ in range(w)])
    kwargs = {"lambdas_init": LAMBDAS * 1.2, "tol": 0, "max_iter": 6}
    weighted = quietly(PoissonHMM(K, **kwargs).fit, X, lengths, sample_weight=weights)
    plain = quietly(PoissonHMM(K, **kwargs).fit, repeated, np.repeat(lengths, weights))
    # the same sums, in another order: rounding only
    np.testing.assert_allclose(weighted.lambdas_, plain.lambdas_, rtol=1e-11)
    np.testing.assert_allclose(weighted.transmat_, plain.transmat_, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(weighted.lower_bounds_, plain.lower_bounds_, rtol=1e-12)


def test_fit_does_not_depend_on_chunk_size(data):
    X, lengths = data
    fits = [quietly(PoissonHMM(K, tol=0, max_iter=5, random_state=0, chunk_size=size).fit, X, lengths)
            for size in (1, 170, 10**6)]
    for hmm in fits[1:]:  # the same sums in other orders
        np.testing.assert_allclose(hmm.lower_bounds_, fits[0].lower_bounds_, rtol=1e-12)
        np.testing.assert_allclose(hmm.lambdas_, fits[0].lambdas_, rtol=1e-10)
        np.testing.assert_allclose(hmm.transmat_, fits[0].transmat_, rtol=1e-10, atol=1e-14)


def test_fixed_rates_stay_put_and_a_zero_rate_is_exact(data):
    X, lengths = data
    hmm = quietly(PoissonHMM(K, lambdas_init=LAMBDAS, fixed=("lambdas",), max_iter=3, tol=0).fit, X, lengths)
    np.testing.assert_array_equal(hmm.lambdas_, LAMBDAS)
    assert hmm._n_parameters() == (K - 1) + K * (K - 1)
    zero = LAMBDAS.copy()
    zero[:, 2] = [0.0, 2.0, 0.0]  # states 0 and 2 never count feature 2
    hmm = quietly(PoissonHMM(K, lambdas_init=zero, startprob_init=STARTPROB, transmat_init=TRANSMAT,
                             max_iter=0).fit, X, lengths)
    rows = np.array([[1, 2, 0], [3, 1, 2]])
    expected = brute_force(STARTPROB, TRANSMAT, poisson_log_emission(rows, zero))[0]  # scipy: ln 0 where x > 0
    np.testing.assert_allclose(hmm.score(rows), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (np.array([[0, 1], [1, -2], [0, 0]]), {}, r"non-negative integer counts for a PoissonHMM; X\[1, 1\] = -2"),
        (np.array([[0, 1], [1, 0.5], [0, 0]]), {}, r"X\[1, 1\] = 0.5"),
        (np.array([[0, 1], [1, np.nan], [0, 0]]), {}, "X"),
        (np.array([["a", "b"]] * 3), {}, "X"),
        (np.eye(3, 2), {"lambdas_init": [[0.5, -1.0], [0.1, 0.1]]}, "lambdas_init holds Poisson rates"),
        (np.eye(3, 2), {"lambdas_init": [[0.5, 0.5]]}, r"lambdas_init has shape \(1, 2\)"),
        (np.eye(3, 2), {"lambdas_weight": -1.0}, "lambdas_weight"),
        (np.eye(3, 2), {"fixed": ("means",)}, "fixed contains 'means'"),
        (np.eye(3, 2), {"init_params": "spectral"}, "init_params='spectral'"),
    ],
    ids=["negative", "fractional", "nan", "strings", "lambdas-init-negative", "lambdas-init-shape",
         "weight-negative", "fixed-unknown", "init-unknown"],
)
def test_bad_input_names_the_argument(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        PoissonHMM(2, **kwargs).fit(X)


def test_bad_input_after_fit_names_x(data):
    X, lengths = data
    hmm = quietly(PoissonHMM(K, max_iter=2, random_state=0).fit, X, lengths)
    with pytest.raises(ValueError, match=r"X\[0, 0\] = -1"):
        hmm.predict(X - 1 - X, lengths)
    with pytest.raises(ValueError, match="X has 2 features"):
        hmm.score(X[:, :2], lengths)


def test_every_frame_labelled_gives_the_complete_data_rates(data):
    """states= through the shared fit: with every frame's state known, one M-step is the
    per-state mean count (13.20 poisson with one-hot gamma)."""
    X, lengths = data
    states = np.arange(X.shape[0]) % K
    hmm = quietly(PoissonHMM(K, lambdas_init=LAMBDAS, max_iter=1, tol=0).fit, X, lengths, states=states)
    expected = np.stack([X[states == k].mean(axis=0) for k in range(K)])
    np.testing.assert_allclose(hmm.lambdas_, expected, rtol=1e-12)


def test_a_memmap_is_read_in_chunks_and_fits_as_the_array(data, tmp_path):
    X, lengths = data
    mapped = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.int32, shape=X.shape)
    mapped[:] = X
    kwargs = {"tol": 0, "max_iter": 4, "random_state": 0, "chunk_size": 100}
    from_memmap = quietly(PoissonHMM(K, **kwargs).fit, mapped, lengths)
    from_array = quietly(PoissonHMM(K, **kwargs).fit, X, lengths)
    np.testing.assert_allclose(from_memmap.lambdas_, from_array.lambdas_, rtol=1e-12)
    mapped[3, 1] = -4
    with pytest.raises(ValueError, match=r"X\[3, 1\] = -4"):
        PoissonHMM(K).fit(mapped, lengths)
