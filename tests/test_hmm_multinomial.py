"""MultinomialHMM (hmmlearn 0.3's meaning: counts over symbols in n_t trials per frame): one
Baum-Welch step and the decoding against a brute-force oracle (every path enumerated, the
densities by scipy), hmmlearn 0.3 from identical parameters, CategoricalHMM on one-trial frames,
the n_trials semantics, monotone objective, recovery, sequence weights, chunk invariance and bad
input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from oracles.hmm import brute_force, hmm_iterates, multinomial_log_emission

from mixfit import CategoricalHMM, MultinomialHMM

EMISSIONPROB = np.array([[0.7, 0.2, 0.05, 0.05], [0.05, 0.15, 0.4, 0.4], [0.25, 0.25, 0.25, 0.25]])
TRANSMAT = np.array([[0.85, 0.1, 0.05], [0.1, 0.8, 0.1], [0.15, 0.05, 0.8]])
STARTPROB = np.array([0.5, 0.3, 0.2])
K, D = EMISSIONPROB.shape
TRIALS = 8


def quietly(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few iterations on purpose: ConvergenceWarning
        return fit(*args, **kwargs)


def truth():
    model = MultinomialHMM(K, n_trials=TRIALS, startprob_init=STARTPROB, transmat_init=TRANSMAT,
                           emissionprob_init=EMISSIONPROB, max_iter=0)
    return quietly(model.fit, np.tile([TRIALS, 0, 0, 0], (K, 1)))


def generate(lengths, seed=0):
    model = truth()
    draws = [model.sample(n, random_state=seed + i) for i, n in enumerate(lengths)]
    return np.concatenate([x for x, _ in draws]).astype(np.int64), np.concatenate([s for _, s in draws])


@pytest.fixture(scope="module")
def data():
    lengths = np.full(12, 50)
    return generate(lengths)[0], lengths


def test_one_iteration_is_the_m_step_of_the_enumerated_posteriors(rng):
    lengths = np.array([3, 5, 2])
    X = np.array([rng.multinomial(rng.integers(0, 6), [0.5, 0.3, 0.2]) for _ in range(lengths.sum())])  # own totals
    startprob, transmat = np.array([0.6, 0.4]), np.array([[0.7, 0.3], [0.0, 1.0]])  # one forbidden
    emissionprob = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    hmm = quietly(MultinomialHMM(2, startprob_init=startprob, transmat_init=transmat, emissionprob_init=emissionprob,
                                 max_iter=1, tol=0).fit, X, lengths)
    start, transitions, counts, log_lik = np.zeros(2), np.zeros((2, 2)), np.zeros((2, 3)), 0.0
    for first, length in zip(np.cumsum(lengths) - lengths, lengths):
        rows = X[first:first + length]
        ll, gamma, xi, _, _ = brute_force(startprob, transmat, multinomial_log_emission(rows, emissionprob))
        start, transitions, log_lik = start + gamma[0], transitions + xi, log_lik + ll
        counts = counts + gamma.T @ rows
    # (13.18), (13.19) and p_kd = S_kd / sum_j S_kj
    np.testing.assert_allclose(hmm.startprob_, start / start.sum(), rtol=1e-12)
    np.testing.assert_allclose(hmm.transmat_, transitions / transitions.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(hmm.emissionprob_, counts / counts.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(hmm.lower_bounds_[0] * lengths.sum(), log_lik, rtol=1e-12)
    assert hmm.n_trials_ is None  # the frames' totals differ


def test_scores_and_decodes_like_the_oracle(rng):
    lengths = np.array([4, 1, 6])
    X = rng.multinomial(5, [0.1, 0.6, 0.3], size=lengths.sum())
    hmm = quietly(MultinomialHMM(2, n_trials=5, max_iter=3, tol=0, random_state=0).fit, X, lengths)
    log_lik, gamma = hmm.score_samples(X, lengths)
    log_prob, states = hmm.decode(X, lengths)
    total_ll = total_best = 0.0
    for first, length in zip(np.cumsum(lengths) - lengths, lengths):
        rows = slice(first, first + length)
        ll, g, _, path, best = brute_force(hmm.startprob_, hmm.transmat_,
                                           multinomial_log_emission(X[rows], hmm.emissionprob_))
        np.testing.assert_allclose(gamma[rows], g, rtol=1e-10, atol=1e-14)
        np.testing.assert_array_equal(states[rows], path)
        total_ll, total_best = total_ll + ll, total_best + best
    np.testing.assert_allclose(log_lik, total_ll, rtol=1e-12)
    np.testing.assert_allclose(log_prob, total_best, rtol=1e-12)


def _hmmlearn(startprob, transmat, emissionprob, n_trials):
    import logging

    from hmmlearn.hmm import MultinomialHMM as Reference

    logging.getLogger("hmmlearn").setLevel(logging.ERROR)  # its one-time notice that 0.3 changed the model
    reference = Reference(K, n_trials=n_trials, init_params="", params="ste", implementation="scaling")
    reference.startprob_, reference.transmat_, reference.emissionprob_ = startprob, transmat, emissionprob
    return reference


def test_hmmlearn_gives_the_same_scores_posteriors_and_em_iterates(data):
    X, lengths = data
    start = (np.full(K, 1 / K), np.full((K, K), 1 / K),
             np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4], [0.3, 0.2, 0.2, 0.3]]))
    ours = quietly(MultinomialHMM(K, n_trials=TRIALS, startprob_init=start[0], transmat_init=start[1],
                                  emissionprob_init=start[2], max_iter=0).fit, X, lengths)
    reference = _hmmlearn(*start, TRIALS)
    # the same numbers by two recursions (ours scaled in batches, hmmlearn per sequence): rounding only
    np.testing.assert_allclose(ours.score(X, lengths), reference.score(X, lengths), rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X, lengths), reference.predict_proba(X, lengths), atol=1e-10)
    n_iter = 5
    ours = quietly(MultinomialHMM(K, n_trials=TRIALS, startprob_init=start[0], transmat_init=start[1],
                                  emissionprob_init=start[2], max_iter=n_iter, tol=0).fit, X, lengths)
    reference = hmm_iterates(_hmmlearn(*start, TRIALS), X, lengths, n_iter)
    # five M-steps from one start: rounding differences grow a little per step, far below 1e-9
    np.testing.assert_allclose(ours.emissionprob_, reference.emissionprob_, rtol=1e-9)
    np.testing.assert_allclose(ours.transmat_, reference.transmat_, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(np.array(ours.lower_bounds_) * lengths.sum(), reference.monitor_.history, rtol=1e-11)
    (log_prob, path), (reference_log_prob, reference_path) = ours.decode(X, lengths), reference.decode(X, lengths)
    np.testing.assert_allclose(log_prob, reference_log_prob, rtol=1e-11)  # (a uniform start would tie paths)
    np.testing.assert_array_equal(path, reference_path)


def test_frames_with_their_own_totals_score_as_hmmlearn_with_per_frame_n_trials(rng):
    X = np.array([rng.multinomial(rng.integers(1, 9), [0.3, 0.3, 0.2, 0.2]) for _ in range(40)])
    lengths = [15, 25]
    ours = quietly(MultinomialHMM(K, startprob_init=STARTPROB, transmat_init=TRANSMAT, emissionprob_init=EMISSIONPROB,
                                  max_iter=0).fit, X, lengths)
    assert ours.n_trials_ is None
    np.testing.assert_allclose(ours.score(X, lengths), _hmmlearn(STARTPROB, TRANSMAT, EMISSIONPROB, X.sum(axis=1)).score(
        X, lengths), rtol=1e-12)
    with pytest.raises(ValueError, match="n_trials_ is None; sampling needs one number of trials"):
        ours.sample(3)


def test_one_trial_per_frame_is_the_categorical_hmm(data):
    symbols = np.random.default_rng(5).choice(D, size=(200, 1), p=[0.1, 0.2, 0.3, 0.4])
    onehot = np.eye(D, dtype=int)[symbols[:, 0]]
    lengths = [80, 120]
    kwargs = {"startprob_init": STARTPROB, "transmat_init": TRANSMAT, "emissionprob_init": EMISSIONPROB,
              "max_iter": 4, "tol": 0}
    multinomial = quietly(MultinomialHMM(K, n_trials=1, **kwargs).fit, onehot, lengths)
    categorical = quietly(CategoricalHMM(K, **kwargs).fit, symbols, lengths)
    # ln 1! - ln x! = 0 and sum_d x_d ln p_kd = ln p_k,symbol: the same densities, the same EM
    np.testing.assert_allclose(multinomial.lower_bounds_, categorical.lower_bounds_, rtol=1e-13)
    np.testing.assert_allclose(multinomial.emissionprob_, categorical.emissionprob_, rtol=1e-12)
    np.testing.assert_array_equal(multinomial.predict(onehot, lengths), categorical.predict(symbols, lengths))


def test_lower_bound_never_decreases(data):
    X, lengths = data
    hmm = MultinomialHMM(K, tol=0, max_iter=25, random_state=1)
    bounds = np.array(quietly(hmm.fit, X, lengths).lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))  # EM's guarantee, up to rounding


def test_recovers_known_parameters_from_generated_sequences():
    lengths = np.full(40, 100)
    X, states = generate(lengths, seed=100)
    hmm = MultinomialHMM(K, n_trials=TRIALS, random_state=0, n_init=3).fit(X, lengths)
    assert hmm.n_trials_ == TRIALS
    order = np.array([np.argmin(np.abs(hmm.emissionprob_ - p).sum(axis=1)) for p in EMISSIONPROB])
    assert sorted(order) == list(range(K))
    # ~1300 frames x 8 trials per state: the standard error of a p_kd is <= 0.005
    np.testing.assert_allclose(hmm.emissionprob_[order], EMISSIONPROB, atol=0.03)
    np.testing.assert_allclose(hmm.transmat_[np.ix_(order, order)], TRANSMAT, atol=0.04)
    predicted = hmm.predict(X, lengths)
    accuracy = max(np.mean(np.asarray(perm)[predicted] == states) for perm in itertools.permutations(range(K)))
    assert accuracy > 0.9  # the uniform state overlaps the others at 8 trials a frame


def test_integer_sequence_weights_are_repeated_sequences(data):
    X, lengths = data
    weights = np.array([2, 1, 0, 3, 1, 1, 1, 2, 1, 1, 1, 1])
    first = np.cumsum(lengths) - lengths
    repeated = np.concatenate([X[f:f + n] for f, n, w in zip(first, lengths, weights) for _ in range(w)])
    kwargs = {"random_state": 3, "tol": 0, "max_iter": 6}  # the 'random' start draws no rows: the same start
    weighted = quietly(MultinomialHMM(K, **kwargs).fit, X, lengths, sample_weight=weights)
    plain = quietly(MultinomialHMM(K, **kwargs).fit, repeated, np.repeat(lengths, weights))
    # the same sums, in another order: rounding only
    np.testing.assert_allclose(weighted.emissionprob_, plain.emissionprob_, rtol=1e-11)
    np.testing.assert_allclose(weighted.transmat_, plain.transmat_, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(weighted.lower_bounds_, plain.lower_bounds_, rtol=1e-12)


def test_fit_does_not_depend_on_chunk_size(data):
    X, lengths = data
    fits = [quietly(MultinomialHMM(K, tol=0, max_iter=5, random_state=0, chunk_size=size).fit, X, lengths)
            for size in (1, 170, 10**6)]
    for hmm in fits[1:]:  # the same sums in other orders
        np.testing.assert_allclose(hmm.lower_bounds_, fits[0].lower_bounds_, rtol=1e-12)
        np.testing.assert_allclose(hmm.emissionprob_, fits[0].emissionprob_, rtol=1e-10)


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (np.array([[0, 1], [1, -2], [0, 0]]), {}, r"non-negative integer counts for a MultinomialHMM; X\[1, 1\] = -2"),
        (np.array([[0, 1], [1, 0.5], [0, 0]]), {}, r"X\[1, 1\] = 0.5"),
        (np.array([[0, 2], [1, 1], [0, 3]]), {"n_trials": 2}, "n_trials=2 but frame 2 of X sums to 3"),
        (np.eye(3, 2), {"n_trials": 0}, "n_trials=0; expected an integer >= 1"),
        (np.eye(3, 2), {"emissionprob_init": [[0.5, 0.6], [0.5, 0.5]]}, "emissionprob_init must sum to 1"),
        (np.eye(3, 2), {"init_params": "kmeans"}, "init_params='kmeans'"),
        (np.eye(3, 2), {"fixed": ("lambdas",)}, "fixed contains 'lambdas'"),
    ],
    ids=["negative", "fractional", "wrong-total", "zero-trials", "emissionprob-init-sum", "init-unknown",
         "fixed-unknown"],
)
def test_bad_input_names_the_argument(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultinomialHMM(2, **kwargs).fit(X)


def test_n_trials_is_checked_when_scoring(data):
    X, lengths = data
    hmm = quietly(MultinomialHMM(K, n_trials=TRIALS, max_iter=2, random_state=0).fit, X, lengths)
    Y = X.copy()
    Y[7, 0] += 1
    with pytest.raises(ValueError, match=f"n_trials={TRIALS} but frame 7 of X sums to {TRIALS + 1}"):
        hmm.score(Y, lengths)
    assert hmm.n_trials_ == TRIALS  # scoring never writes the fitted attributes


def test_a_memmap_is_checked_for_its_totals(data, tmp_path):
    X, lengths = data
    mapped = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.int64, shape=X.shape)
    mapped[:] = X
    kwargs = {"tol": 0, "max_iter": 3, "random_state": 0, "chunk_size": 100}
    from_memmap = quietly(MultinomialHMM(K, **kwargs).fit, mapped, lengths)
    assert from_memmap.n_trials_ == TRIALS
    np.testing.assert_allclose(from_memmap.emissionprob_, quietly(MultinomialHMM(K, **kwargs).fit, X,
                                                                  lengths).emissionprob_, rtol=1e-12)
    mapped[250, 0] += 2
    with pytest.raises(ValueError, match=f"n_trials={TRIALS} but frame 250 of X sums to {TRIALS + 2}"):
        MultinomialHMM(K, n_trials=TRIALS, **kwargs).fit(mapped, lengths)
