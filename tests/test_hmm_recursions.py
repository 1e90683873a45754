"""The loops over frames (hmm_recursions.py), through the public functions of hmm_inference.py:
the numba-compiled and the numpy implementations against a brute-force oracle (every path
enumerated) and against each other on random batches, one long sequence, and a sequence where
scaling underflows and the log-space fallback takes over."""

from __future__ import annotations

import numpy as np
import pytest
from oracles.hmm import brute_force

from mixfit.kernels.hmm_inference import forward_backward, pad, viterbi
from mixfit.kernels.hmm_recursions import DEFAULT_RECURSIONS, RECURSIONS

pytest.importorskip("numba")  # the compiled path is the test extra's; without it only numpy exists
NUMPY, COMPILED = RECURSIONS["numpy"], RECURSIONS["numba"]
BOTH = pytest.mark.parametrize("recursions", [NUMPY, COMPILED], ids=["numpy", "numba"])


def random_problem(rng, lengths, n_states, spread=3.0):
    startprob = rng.dirichlet(np.ones(n_states))
    transmat = rng.dirichlet(np.ones(n_states), size=n_states)
    transmat[0, n_states - 1] = 0.0  # one forbidden transition
    transmat /= transmat.sum(axis=1, keepdims=True)
    log_emit = rng.normal(scale=spread, size=(int(np.sum(lengths)), n_states))
    return startprob, transmat, pad(log_emit, lengths), log_emit


def assert_posteriors_agree(a, b, rtol):
    np.testing.assert_allclose(a.log_likelihood, b.log_likelihood, rtol=rtol)
    np.testing.assert_allclose(a.gamma, b.gamma, rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(a.transitions, b.transitions, rtol=rtol)


def test_the_compiled_recursions_are_the_default_where_numba_imports():
    assert DEFAULT_RECURSIONS is COMPILED


@BOTH
def test_forward_backward_matches_every_path_enumerated(recursions, rng):
    K = 3
    lengths = np.array([4, 2, 5, 1, 3])
    startprob, transmat, padded, log_emit = random_problem(rng, lengths, K)
    weights = rng.uniform(0.5, 2.0, size=lengths.size)
    post = forward_backward(startprob, transmat, padded, lengths, weights, recursions=recursions)
    expected = np.zeros((K, K))
    for b, (start, length) in enumerate(zip(np.cumsum(lengths) - lengths, lengths)):
        log_lik, gamma, transitions, _, _ = brute_force(startprob, transmat, log_emit[start:start + length])
        np.testing.assert_allclose(post.log_likelihood[b], log_lik, rtol=1e-12)
        np.testing.assert_allclose(post.gamma[b, :length], gamma, rtol=1e-10, atol=1e-14)
        assert np.all(post.gamma[b, length:] == 0)  # padded frames hold nothing
        expected += weights[b] * transitions
    # sums of K^T path probabilities against a recursion: rounding only
    np.testing.assert_allclose(post.transitions, expected, rtol=1e-10, atol=1e-14)
    assert post.transitions[0, K - 1] == 0  # a forbidden transition is never counted


@BOTH
def test_viterbi_finds_the_most_probable_enumerated_path(recursions, rng):
    lengths = np.array([5, 1, 3, 6])
    startprob, transmat, padded, log_emit = random_problem(rng, lengths, 3, spread=2.0)
    log_prob, states = viterbi(startprob, transmat, padded, lengths, recursions=recursions)
    for b, (start, length) in enumerate(zip(np.cumsum(lengths) - lengths, lengths)):
        *_, best_path, best = brute_force(startprob, transmat, log_emit[start:start + length])
        np.testing.assert_array_equal(states[b, :length], best_path)
        np.testing.assert_allclose(log_prob[b], best, rtol=1e-12)


@pytest.mark.parametrize(
    ("n_states", "lengths"),
    [(2, [1]), (4, [30, 7, 1, 55, 12]), (10, [200] * 6), (7, list(range(1, 40)))],
    ids=["one-frame", "ragged", "equal-lengths", "every-length"],
)
def test_compiled_and_numpy_agree_on_random_batches(n_states, lengths, rng):
    lengths = np.array(lengths)
    for _ in range(3):
        startprob, transmat, padded, _ = random_problem(rng, lengths, n_states)
        weights = rng.uniform(0.1, 3.0, size=lengths.size)
        numpy_post, compiled_post = (forward_backward(startprob, transmat, padded, lengths, weights, recursions=r)
                                     for r in (NUMPY, COMPILED))
        # the same operations but for the order of each K-term sum (BLAS or a loop): rounding only
        assert_posteriors_agree(compiled_post, numpy_post, rtol=1e-12)
        (lp_numpy, s_numpy), (lp_compiled, s_compiled) = (viterbi(startprob, transmat, padded, lengths, r)
                                                          for r in (NUMPY, COMPILED))
        np.testing.assert_allclose(lp_compiled, lp_numpy, rtol=1e-12)
        valid = np.arange(padded.shape[1])[None, :] < lengths[:, None]
        np.testing.assert_array_equal(s_compiled[valid], s_numpy[valid])


def test_compiled_and_numpy_agree_on_one_long_sequence(rng):
    lengths = np.array([20_000])
    startprob, transmat, padded, _ = random_problem(rng, lengths, 10)
    numpy_post, compiled_post = (forward_backward(startprob, transmat, padded, lengths, recursions=r)
                                 for r in (NUMPY, COMPILED))
    # the scaled recursion forgets a rounding error within a few frames (each step renormalises),
    # so 2e4 frames keep the per-step agreement; ln p(X) sums 2e4 terms of either sign
    assert_posteriors_agree(compiled_post, numpy_post, rtol=1e-12)
    np.testing.assert_array_equal(viterbi(startprob, transmat, padded, lengths, COMPILED)[1],
                                  viterbi(startprob, transmat, padded, lengths, NUMPY)[1])


def test_compiled_pass_falls_back_to_log_space_where_scaling_underflows(rng):
    lengths = np.array([40, 25])
    _, transmat, padded, _ = random_problem(rng, lengths, 4, spread=5.0)
    # Sequence 0: state 0 alone explains frame 1 (others e^-2000 below) but is reachable only
    # from state 3, which frame 0 rules out: c_1 underflows to 0 when scaled.
    padded[0, :2] = [[0.0, 0.0, 0.0, -2000.0], [0.0, -2000.0, -2000.0, -2000.0]]
    startprob = np.array([0.0, 1.0, 0.0, 0.0])
    cycle = np.array([[0.5, 0.5, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 0.5, 0.5], [0.5, 0, 0, 0.5]])
    transmat = 0.999 * cycle + 0.001 * transmat * (cycle > 0)
    transmat /= transmat.sum(axis=1, keepdims=True)
    numpy_post, compiled_post = (forward_backward(startprob, transmat, padded, lengths, recursions=r)
                                 for r in (NUMPY, COMPILED))
    assert np.all(np.isfinite(compiled_post.log_likelihood))
    # the fallback is the same log-space code on both paths; the other sequence differs by rounding
    assert_posteriors_agree(compiled_post, numpy_post, rtol=1e-11)
