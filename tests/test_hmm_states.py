"""Partially labelled sequences: ``fit(X, lengths, states=...)`` clamps forward-backward at the
frames whose state is known (-1: unknown).

Oracles: every path enumerated and those through the known states kept (ln p(X, known states),
the clamped posteriors and Viterbi path); clamping every frame gives the complete-data
(supervised) estimates in closed form; no known frame gives the unsupervised fit exactly."""

from __future__ import annotations

import numpy as np
import pytest
from oracles.hmm import enumerate_paths, gaussian_log_emission
from scipy.special import logsumexp

from mixfit import BernoulliHMM, CategoricalHMM, GaussianHMM, VariationalGaussianHMM
from mixfit.kernels.hmm_inference import SequenceBatch

K, D = 3, 2
MEANS = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 3.0]])
TRANSMAT = np.array([[0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7]])
STARTPROB = np.array([0.5, 0.3, 0.2])


def generate(rng, lengths):
    states = []
    for length in lengths:
        z = [rng.choice(K, p=STARTPROB)]
        for _ in range(length - 1):
            z.append(rng.choice(K, p=TRANSMAT[z[-1]]))
        states.extend(z)
    states = np.array(states)
    return MEANS[states] + rng.normal(size=(states.size, D)), states


def test_clamped_forward_backward_matches_the_paths_through_the_known_states(rng):
    """ln p(X, z_t = s_t for the known t), p(z_t = k | X, known) and the best path through the
    known states, against the K^T paths enumerated (T = 7: 2187 paths). Tolerance 1e-10: sums of
    a few thousand terms in another order."""
    X, _ = generate(rng, [7])
    model = GaussianHMM(K, covariance_type="full", random_state=0).fit(X)
    known = np.array([-1, 2, -1, -1, 0, -1, 1])
    hmm, params = model._model(), model._params()
    log_emit = gaussian_log_emission(X, model.means_, model.covariances_)
    paths, joint = enumerate_paths(model.startprob_, model.transmat_, log_emit)
    through = np.all((known[None, :] < 0) | (paths == known[None, :]), axis=1)
    log_joint = logsumexp(joint[through])
    posteriors = np.zeros((7, K))
    for path, lp in zip(paths[through], joint[through]):
        posteriors[np.arange(7), path] += np.exp(lp - log_joint)
    batch = SequenceBatch(X, np.array([7]), known)
    log_lik, gamma = hmm.posteriors(batch, params)
    assert log_lik[0] == pytest.approx(log_joint, rel=1e-10)
    np.testing.assert_allclose(gamma, posteriors, rtol=0, atol=1e-10)
    assert np.all(gamma[known >= 0].argmax(axis=1) == known[known >= 0])
    best = paths[through][np.argmax(joint[through])]
    _, path = hmm.viterbi(batch, params)
    np.testing.assert_array_equal(path, best)


def _supervised(X, lengths, states, reg_covar):
    """Complete-data ML estimates: first-state frequencies, transition counts, per-state moments."""
    first = np.cumsum(lengths) - lengths
    startprob = np.bincount(states[first], minlength=K) / len(lengths)
    counts = np.zeros((K, K))
    ends = np.cumsum(lengths)
    for t in range(1, X.shape[0]):
        if t not in set(first):
            counts[states[t - 1], states[t]] += 1
    transmat = counts / counts.sum(axis=1, keepdims=True)
    means = np.array([X[states == k].mean(axis=0) for k in range(K)])
    variances = np.array([X[states == k].var(axis=0) for k in range(K)]) + reg_covar
    assert ends[-1] == X.shape[0]
    return startprob, transmat, means, variances


def test_every_frame_known_gives_the_complete_data_estimates(rng):
    """Clamping every frame makes gamma the labels' one-hot whatever the parameters, so one
    M-step gives the supervised estimates and the next E-step changes nothing."""
    lengths = rng.integers(30, 60, size=8)
    X, states = generate(rng, lengths)
    model = GaussianHMM(K, covariance_type="diag", random_state=0, tol=1e-12, reg_covar=1e-6)
    model.fit(X, lengths, states=states)
    startprob, transmat, means, variances = _supervised(X, lengths, states, model.reg_covar)
    np.testing.assert_allclose(model.startprob_, startprob, atol=1e-12)
    np.testing.assert_allclose(model.transmat_, transmat, atol=1e-12)
    np.testing.assert_allclose(model.means_, means, atol=1e-10)
    np.testing.assert_allclose(model.covariances_, variances, atol=1e-10)
    assert model.converged_ and model.n_iter_ <= 3  # the bound stops moving after the first M-step


@pytest.mark.parametrize("estimator", [GaussianHMM(K, random_state=0),
                                       VariationalGaussianHMM(K, random_state=0)], ids=["em", "vb"])
def test_no_known_frame_is_the_unsupervised_fit(estimator, rng):
    lengths = rng.integers(30, 60, size=6)
    X, _ = generate(rng, lengths)
    plain = estimator.__class__(**estimator.get_params()).fit(X, lengths)
    none_known = estimator.__class__(**estimator.get_params()).fit(X, lengths, states=np.full(X.shape[0], -1))
    assert none_known.lower_bound_ == plain.lower_bound_
    np.testing.assert_array_equal(none_known.means_, plain.means_)


@pytest.mark.parametrize("cls", [GaussianHMM, VariationalGaussianHMM], ids=["em", "vb"])
def test_a_few_labels_name_the_states(cls, rng):
    """With 5 % of the frames labelled, state k is the generating state k (no label switching):
    the decoded states agree with the truth under the identity map, and the bound never falls."""
    lengths = rng.integers(80, 120, size=10)
    X, truth = generate(rng, lengths)
    known = np.where(rng.random(truth.size) < 0.05, truth, -1)
    model = cls(K, random_state=3, tol=1e-8, max_iter=200).fit(X, lengths, states=known)
    assert np.mean(model.predict(X, lengths) == truth) > 0.9
    np.testing.assert_allclose(model.means_, MEANS, atol=0.2)  # ~3000 frames of unit variance


def test_labels_weigh_with_their_sequence_and_chunking_does_not_matter(rng):
    """Integer sequence weights = repeated sequences (with their labels); the chunk size does not
    change the fit. Tolerance 1e-9: the same sums in another order."""
    lengths = np.array([40, 50, 45])
    X, truth = generate(rng, lengths)
    known = np.where(rng.random(truth.size) < 0.2, truth, -1)
    weighted = GaussianHMM(K, random_state=0, means_init=MEANS, tol=1e-10, max_iter=50).fit(
        X, lengths, sample_weight=[2, 1, 1], states=known)
    Xr = np.vstack([X[:40], X])
    repeated = GaussianHMM(K, random_state=0, means_init=MEANS, tol=1e-10, max_iter=50).fit(
        Xr, np.array([40, 40, 50, 45]), states=np.concatenate([known[:40], known]))
    np.testing.assert_allclose(weighted.means_, repeated.means_, atol=1e-9)
    chunked = GaussianHMM(K, random_state=0, means_init=MEANS, tol=1e-10, max_iter=50, chunk_size=50).fit(
        X, lengths, sample_weight=[2, 1, 1], states=known)
    np.testing.assert_allclose(chunked.means_, weighted.means_, atol=1e-9)


def test_discrete_hmms_take_states(rng):
    X = rng.integers(0, 4, size=(200, 1))
    states = np.where(np.arange(200) % 10 == 0, X[:, 0] % 2, -1)
    model = CategoricalHMM(2, random_state=0).fit(X, states=states)
    assert np.isfinite(model.lower_bound_)
    B = (rng.random((200, 5)) < 0.3).astype(float)
    assert np.isfinite(BernoulliHMM(2, random_state=0).fit(B, states=states).lower_bound_)


@pytest.mark.parametrize("states, message", [
    (np.zeros(5, dtype=int), r"states has shape \(5,\); expected \(30,\)"),
    (np.full(30, 0.5), "states has dtype float64; expected integers"),
    (np.r_[np.zeros(29, dtype=int), 3], r"states\[29\] = 3; expected -1 \(unknown\) or a state in 0 .. n_components - 1 = 2"),
    (np.r_[np.zeros(29, dtype=int), -2], r"states\[29\] = -2"),
])
def test_bad_states_are_refused_by_name(states, message, rng):
    X, _ = generate(rng, [30])
    model = GaussianHMM(K, random_state=0).fit(X)
    before = model.means_.copy()
    with pytest.raises(ValueError, match=message):
        model.fit(X, states=states)
    np.testing.assert_array_equal(model.means_, before)  # a failed fit leaves the model as it was


def test_states_that_contradict_a_forbidden_transition_are_refused(rng):
    X, _ = generate(rng, [20])
    transmat = TRANSMAT.copy()
    transmat[0] = [0.5, 0.5, 0.0]  # 0 -> 2 forbidden
    states = np.full(20, -1)
    states[4:6] = [0, 2]
    with pytest.raises(ValueError, match="contradicts the known states"):
        GaussianHMM(K, random_state=0, transmat_init=transmat).fit(X, states=states)


def test_states_with_a_dask_array_are_refused(rng):
    da = pytest.importorskip("dask.array")
    X, truth = generate(rng, [30])
    with pytest.raises(ValueError, match="states cannot be combined with a dask array"):
        GaussianHMM(K, random_state=0).fit(da.from_array(X, chunks=(10, D)), states=truth)
