"""Hidden Markov models: forward-backward and Viterbi against a brute-force oracle (every path
enumerated), the scaled recursion against the log-space one, Baum-Welch against hmmlearn from
the same start, parameter recovery, chunk invariance, monotone likelihood, bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from oracles.hmm import brute_force, gaussian_log_emission

from mixfit import CategoricalHMM, GaussianHMM
from mixfit.backends.sequences import SequenceSource
from mixfit.kernels.hmm_inference import forward_backward, forward_backward_log, pad, viterbi

K, D = 3, 2
MEANS = np.array([[0.0, 0.0], [4.0, 1.0], [-3.0, 5.0]])
SCALES = np.array([1.0, 0.7])
TRANSMAT = np.array([[0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7]])
STARTPROB = np.array([0.5, 0.3, 0.2])


def random_chain(rng, n_states=K):
    startprob = rng.dirichlet(np.ones(n_states))
    transmat = rng.dirichlet(np.ones(n_states), size=n_states)
    transmat[0, n_states - 1] = 0.0  # one forbidden transition
    return startprob, transmat / transmat.sum(axis=1, keepdims=True)


def generate(rng, lengths, transmat=TRANSMAT, startprob=STARTPROB):
    states = []
    for length in lengths:
        z = [rng.choice(K, p=startprob)]
        for _ in range(length - 1):
            z.append(rng.choice(K, p=transmat[z[-1]]))
        states.extend(z)
    states = np.array(states)
    return MEANS[states] + rng.normal(size=(states.size, D)) * SCALES, states


def precisions_for(covariance_type, variance=1.5):
    return {"full": np.array([np.eye(D) / variance] * K), "tied": np.eye(D) / variance,
            "diag": np.full((K, D), 1 / variance), "spherical": np.full(K, 1 / variance)}[covariance_type]


@pytest.fixture
def data(rng):
    lengths = rng.integers(20, 60, size=15)
    X, states = generate(rng, lengths)
    return X, lengths, states


# ---- inference against the oracle ----------------------------------------------------------

@pytest.mark.parametrize("recursion", [forward_backward, forward_backward_log], ids=["scaled", "log"])
def test_forward_backward_matches_every_path_enumerated(recursion, rng):
    startprob, transmat = random_chain(rng)
    lengths = np.array([4, 2, 5, 1, 3])
    log_emit = rng.normal(scale=3.0, size=(lengths.sum(), K))
    weights = rng.uniform(0.5, 2.0, size=lengths.size)
    post = recursion(startprob, transmat, pad(log_emit, lengths), lengths, weights)
    expected_transitions = np.zeros((K, K))
    for b, (start, length) in enumerate(zip(np.cumsum(lengths) - lengths, lengths)):
        log_lik, gamma, transitions, _, _ = brute_force(startprob, transmat, log_emit[start:start + length])
        np.testing.assert_allclose(post.log_likelihood[b], log_lik, rtol=1e-12)
        np.testing.assert_allclose(post.gamma[b, :length], gamma, rtol=1e-10, atol=1e-14)
        assert np.all(post.gamma[b, length:] == 0)  # padded frames hold nothing
        expected_transitions += weights[b] * transitions
    # sums of K^T path probabilities against a recursion: rounding only
    np.testing.assert_allclose(post.transitions, expected_transitions, rtol=1e-10, atol=1e-14)
    assert post.transitions[0, K - 1] == 0  # a forbidden transition is never counted


def test_viterbi_finds_the_most_probable_enumerated_path(rng):
    startprob, transmat = random_chain(rng)
    lengths = np.array([5, 1, 3, 6])
    log_emit = rng.normal(scale=2.0, size=(lengths.sum(), K))
    log_prob, states = viterbi(startprob, transmat, pad(log_emit, lengths), lengths)
    for b, (start, length) in enumerate(zip(np.cumsum(lengths) - lengths, lengths)):
        *_, best_path, best = brute_force(startprob, transmat, log_emit[start:start + length])
        np.testing.assert_array_equal(states[b, :length], best_path)
        np.testing.assert_allclose(log_prob[b], best, rtol=1e-12)


def test_estimator_scores_and_decodes_like_the_oracle(rng):
    lengths = np.array([3, 5, 4])
    X, _ = generate(rng, lengths)
    hmm = GaussianHMM(K, covariance_type="full", max_iter=2, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hmm.fit(X, lengths)
    log_lik, gamma = hmm.score_samples(X, lengths)
    total_ll, total_best = 0.0, 0.0
    log_prob, states = hmm.decode(X, lengths)
    for start, length in zip(np.cumsum(lengths) - lengths, lengths):
        rows = slice(start, start + length)
        log_emit = gaussian_log_emission(X[rows], hmm.means_, hmm.covariances_)
        ll, g, _, path, best = brute_force(hmm.startprob_, hmm.transmat_, log_emit)
        np.testing.assert_allclose(gamma[rows], g, rtol=1e-9, atol=1e-14)
        np.testing.assert_array_equal(states[rows], path)
        total_ll, total_best = total_ll + ll, total_best + best
    np.testing.assert_allclose(log_lik, total_ll, rtol=1e-10)
    np.testing.assert_allclose(log_prob, total_best, rtol=1e-10)
    np.testing.assert_array_equal(hmm.decode(X, lengths, algorithm="map")[1], gamma.argmax(axis=1))


def test_scaled_recursion_agrees_with_log_space_and_falls_back_where_it_underflows(rng):
    startprob, transmat = random_chain(rng, n_states=4)
    lengths = rng.integers(50, 200, size=20)
    log_emit = rng.normal(scale=5.0, size=(lengths.sum(), 4))
    # Sequence 0: state 0 is the only one explaining frame 1 (others e^-2000 below), but it can
    # only be reached from state 3, which frame 0 rules out: c_1 underflows to 0 when scaled.
    log_emit[:2] = [[0.0, 0.0, 0.0, -2000.0], [0.0, -2000.0, -2000.0, -2000.0]]
    sp = np.array([0.0, 1.0, 0.0, 0.0])
    tm = np.array([[0.5, 0.5, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 0.5, 0.5], [0.5, 0, 0, 0.5]])
    tm = 0.999 * tm + 0.001 * transmat * (tm > 0)
    tm /= tm.sum(axis=1, keepdims=True)
    for chain in [(startprob, transmat), (sp, tm)]:
        padded = pad(log_emit, lengths)
        scaled, logspace = forward_backward(*chain, padded, lengths), forward_backward_log(*chain, padded, lengths)
        finite = np.isfinite(logspace.log_likelihood)
        np.testing.assert_array_equal(np.isfinite(scaled.log_likelihood), finite)
        np.testing.assert_allclose(scaled.log_likelihood[finite], logspace.log_likelihood[finite], rtol=1e-11)
        np.testing.assert_allclose(scaled.gamma[finite], logspace.gamma[finite], rtol=1e-8, atol=1e-12)


# ---- Baum-Welch against hmmlearn ------------------------------------------------------------

@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_per_iteration_matches_hmmlearn(covariance_type, data, rng):
    hmmlearn = pytest.importorskip("hmmlearn.hmm")
    X, lengths, _ = data
    means = MEANS + rng.normal(scale=0.5, size=MEANS.shape)
    precisions = precisions_for(covariance_type)
    ours = GaussianHMM(K, covariance_type=covariance_type, reg_covar=0, tol=0, max_iter=8,
                       means_init=means, precisions_init=precisions)
    # hmmlearn without its covariance prior (covars_prior=0, covars_weight=0): plain ML, as ours
    # with reg_covar=0. Its monitor keeps two entries, so run it one iteration at a time.
    ref = hmmlearn.GaussianHMM(K, covariance_type=covariance_type, n_iter=1, tol=0, init_params="",
                               covars_prior=0, covars_weight=0, implementation="scaling")
    ref.startprob_, ref.transmat_, ref.means_ = np.full(K, 1 / K), np.full((K, K), 1 / K), means
    ref.covars_ = np.linalg.inv(precisions) if covariance_type in ("full", "tied") else 1 / precisions
    history = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X, lengths)
        for _ in range(8):
            history.append(ref.fit(X, lengths).monitor_.history[-1])
    # 1e-8 of the log-likelihood, on the totals (our lower bound is per frame): both sum the same
    # terms in other orders, and hmmlearn's raw-moment covariance loses a few digits more
    np.testing.assert_allclose(np.array(ours.lower_bounds_) * X.shape[0], history, rtol=1e-8)
    np.testing.assert_allclose(ours.transmat_, ref.transmat_, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=1e-6)


def test_categorical_log_likelihood_per_iteration_matches_hmmlearn(rng):
    hmmlearn = pytest.importorskip("hmmlearn.hmm")
    emissionprob = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.1, 0.4, 0.4], [0.25, 0.25, 0.25, 0.25]])
    lengths = rng.integers(10, 40, size=12)
    _, states = generate(rng, lengths)
    X = np.array([rng.choice(4, p=emissionprob[s]) for s in states])[:, None]
    start_e = rng.dirichlet(np.ones(4), size=K)
    ref = hmmlearn.CategoricalHMM(K, n_iter=1, tol=0, init_params="", implementation="scaling")
    ref.startprob_, ref.transmat_, ref.emissionprob_ = np.full(K, 1 / K), np.full((K, K), 1 / K), start_e
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hmmlearn warns on ln 0 of the symbol no state emits
        ours = CategoricalHMM(K, tol=0, max_iter=6, emissionprob_init=start_e).fit(X, lengths)
        history = [ref.fit(X, lengths).monitor_.history[-1] for _ in range(6)]
    np.testing.assert_allclose(np.array(ours.lower_bounds_) * X.shape[0], history, rtol=1e-8)
    np.testing.assert_allclose(ours.emissionprob_, ref.emissionprob_, rtol=1e-6, atol=1e-12)


# ---- properties of the fit -------------------------------------------------------------------

@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_lower_bound_never_decreases(covariance_type, data):
    X, lengths, _ = data
    hmm = GaussianHMM(K, covariance_type=covariance_type, tol=0, max_iter=25, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bounds = np.array(hmm.fit(X, lengths).lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))  # EM's guarantee, up to rounding


def test_fit_does_not_depend_on_chunk_size(data):
    X, lengths, _ = data
    fits = [GaussianHMM(K, covariance_type="full", tol=0, max_iter=5, random_state=0, chunk_size=size)
            for size in (1, 97, 10**6)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for hmm in fits:
            hmm.fit(X, lengths)
    for hmm in fits[1:]:  # the same sums in other orders
        np.testing.assert_allclose(hmm.lower_bounds_, fits[0].lower_bounds_, rtol=1e-12)
        np.testing.assert_allclose(hmm.means_, fits[0].means_, rtol=1e-10)
        np.testing.assert_allclose(hmm.transmat_, fits[0].transmat_, rtol=1e-10, atol=1e-14)


def test_statistics_add_over_any_split_into_whole_sequences(data, rng):
    X, lengths, _ = data
    hmm = GaussianHMM(K, max_iter=1, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hmm.fit(X, lengths)
    model, params = hmm._model(), hmm._params()
    weights = rng.uniform(0.5, 2.0, size=lengths.size)
    whole = SequenceSource(X, lengths, weights, chunk_size=10**9, n_threads=1)
    parts = SequenceSource(X, lengths, weights, chunk_size=70, n_threads=2)
    a, b = (source.map_reduce(lambda batch, w: model.accumulate(batch, params, w)) for source in (whole, parts))
    # The same sums in another order: each differs by rounding, at most ~n eps times the sum of its
    # terms' magnitudes (n ~ 600 rows), not of the result: the first moments about the shift cancel
    # (an entry of 0.049 from terms up to ~10 x the row weight), so the bound is taken on the terms.
    eps, mass = np.finfo(float).eps, float(np.repeat(weights, lengths).sum())
    spread = np.abs(X - a.emission.shift[:, None, :]).max()
    for x, y, terms in [(a.start, b.start, weights.sum()), (a.transitions, b.transitions, mass),
                        (a.emission.first, b.emission.first, mass * spread),
                        (a.emission.scatter, b.emission.scatter, mass * spread**2),
                        (a.log_likelihood, b.log_likelihood, abs(a.log_likelihood))]:
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=X.shape[0] * eps * terms)


def test_recovers_known_parameters_from_generated_sequences(rng):
    lengths = np.full(60, 100)
    X, _ = generate(rng, lengths)
    hmm = GaussianHMM(K, covariance_type="diag", random_state=0, n_init=2).fit(X, lengths)
    order = np.array([np.argmin(np.linalg.norm(hmm.means_ - m, axis=1)) for m in MEANS])
    assert sorted(order) == list(range(K))
    # 6000 frames: the standard errors of the means are ~0.03, of the transitions ~0.01
    np.testing.assert_allclose(hmm.means_[order], MEANS, atol=0.1)
    np.testing.assert_allclose(hmm.transmat_[np.ix_(order, order)], TRANSMAT, atol=0.04)
    np.testing.assert_allclose(np.sqrt(hmm.covariances_[order]), np.broadcast_to(SCALES, (K, D)), atol=0.05)


def test_sample_then_fit_round_trip(rng):
    truth = GaussianHMM(K, covariance_type="full", startprob_init=STARTPROB, transmat_init=TRANSMAT,
                        means_init=MEANS, precisions_init=precisions_for("full", 0.5), max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        truth.fit(MEANS, [3])
    X, states = truth.sample(5000, random_state=1)
    hmm = GaussianHMM(K, covariance_type="full", random_state=0).fit(X)
    predicted = hmm.predict(X)
    # states are identified up to a relabelling: the best of the K! matchings
    accuracy = max(np.mean(np.asarray(perm)[predicted] == states) for perm in itertools.permutations(range(K)))
    assert accuracy > 0.9  # the states overlap by a few percent at variance 0.5
    np.testing.assert_allclose(np.sort(hmm.means_[:, 0]), np.sort(MEANS[:, 0]), atol=0.1)


def test_forbidden_transitions_stay_zero_and_fixed_parameters_stay_put(data):
    X, lengths, _ = data
    transmat = np.array([[0.5, 0.5, 0.0], [0.3, 0.4, 0.3], [0.5, 0.0, 0.5]])
    hmm = GaussianHMM(K, transmat_init=transmat, fixed=("startprob", "means"), random_state=0,
                      startprob_init=[0.2, 0.5, 0.3], max_iter=10, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hmm.fit(X, lengths)
        first = GaussianHMM(K, transmat_init=transmat, random_state=0, max_iter=0).fit(X, lengths)
    assert hmm.transmat_[0, 2] == 0 and hmm.transmat_[2, 1] == 0
    np.testing.assert_array_equal(hmm.startprob_, [0.2, 0.5, 0.3])
    np.testing.assert_array_equal(hmm.means_, first.means_)
    assert not np.array_equal(hmm.covariances_, first.covariances_)


def test_integer_sequence_weights_equal_repeated_sequences(data):
    X, lengths, _ = data
    counts = np.arange(len(lengths)) % 3 + 1
    starts = np.cumsum(lengths) - lengths
    X_rep = np.concatenate([X[s:s + n] for s, n, c in zip(starts, lengths, counts) for _ in range(c)])
    kwargs = {"covariance_type": "tied", "means_init": MEANS, "precisions_init": precisions_for("tied"),
              "tol": 0, "max_iter": 5}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # five iterations on purpose
        weighted = GaussianHMM(K, **kwargs).fit(X, lengths, sample_weight=counts)
        repeated = GaussianHMM(K, **kwargs).fit(X_rep, np.repeat(lengths, counts))
    np.testing.assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(weighted.transmat_, repeated.transmat_, rtol=1e-9)


def test_warm_start_continues_from_the_last_fit(data):
    X, lengths, _ = data
    hmm = GaussianHMM(K, random_state=0, max_iter=3, tol=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hmm.fit(X, lengths)
        previous = hmm.lower_bounds_[-1]
        hmm.fit(X, lengths)
    assert hmm.lower_bounds_[0] >= previous - 1e-12


def test_information_criteria_count_only_free_parameters(data):
    X, lengths, _ = data
    hmm = GaussianHMM(K, covariance_type="diag", random_state=0).fit(X, lengths)
    n_free = (K - 1) + K * (K - 1) + K * D + K * D
    np.testing.assert_allclose(hmm.bic(X, lengths), -2 * hmm.score(X, lengths) + n_free * np.log(len(X)))
    np.testing.assert_allclose(hmm.aic(X, lengths), -2 * hmm.score(X, lengths) + 2 * n_free)
    hmm.set_params(fixed=("transmat",))
    np.testing.assert_allclose(hmm.aic(X, lengths), -2 * hmm.score(X, lengths) + 2 * (n_free - K * (K - 1)))


def test_map_prior_fits_and_reports_the_log_posterior(data):
    X, lengths, _ = data
    hmm = GaussianHMM(K, covariance_type="full", prior="default", random_state=0, tol=0, max_iter=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bounds = np.array(hmm.fit(X, lengths).lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))  # MAP-EM climbs the posterior


# ---- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lengths": [10, 10]}, "lengths sum to 20"),
        ({"lengths": [0, 30]}, r"lengths\[0\] = 0"),
        ({"lengths": [[30]]}, "lengths has shape"),
        ({"lengths": [15.5, 14.5]}, "lengths has dtype"),
        ({"lengths": [15, 15], "sample_weight": [1.0]}, "sample_weight has shape"),
        ({"lengths": [15, 15], "sample_weight": [1.0, -1.0]}, "sample_weight"),
    ],
    ids=["lengths-wrong-sum", "zero-length-sequence", "lengths-2d", "lengths-fractional",
         "weight-per-frame", "negative-weight"],
)
def test_bad_sequences_name_the_argument(kwargs, match, rng):
    X = rng.normal(size=(30, D))
    with pytest.raises(ValueError, match=match):
        GaussianHMM(2).fit(X, **kwargs)


def test_bad_arrays_name_the_argument(rng):
    X = rng.normal(size=(30, D))
    X_inf = X.copy()
    X_inf[3, 1] = np.inf  # NaN is a missing entry (test_hmm_missing.py); infinity is refused
    with pytest.raises(ValueError, match="X"):
        GaussianHMM(2).fit(X_inf)
    with pytest.raises(ValueError, match="transmat_init must sum to 1"):
        GaussianHMM(2, transmat_init=[[0.5, 0.6], [0.5, 0.5]]).fit(X)
    with pytest.raises(ValueError, match="fixed contains 'weights'"):
        GaussianHMM(2, fixed=("weights",)).fit(X)
    with pytest.raises(ValueError, match="integer symbols"):
        CategoricalHMM(2).fit(np.array([[0], [1], [2.5]]))
    fitted = CategoricalHMM(2, random_state=0).fit(np.array([[0], [1], [2], [1]]))
    with pytest.raises(ValueError, match="n_symbols = 3"):
        fitted.predict(np.array([[0], [3]]))
