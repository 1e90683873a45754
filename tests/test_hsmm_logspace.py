"""The HSMM's log-space forward-backward (kernels/hsmm_log_loops.py): equal to the scaled pass
where that does not underflow, equal to a literal log-space sum over every segmentation where it
does, and the fallback the scaled pass takes for the sequences it flags."""

import numpy as np
import pytest
from oracles.hsmm_brute import brute_force, segmentations
from scipy.special import logsumexp

from mixfit.kernels import hsmm_loops
from mixfit.kernels.hsmm_inference import segment_forward_backward, survival

FIELDS = ("gamma", "transitions", "first_state", "counts", "censored", "log_likelihood")


def _chain(rng, K, D):
    A = rng.random((K, K))
    np.fill_diagonal(A, 0.0)
    pmf = rng.dirichlet(np.ones(D), size=K)
    return rng.dirichlet(np.ones(K)), A / A.sum(axis=1, keepdims=True), pmf


def _log_brute_force(pi, A, log_emit, pmf):
    """ln p(X) and gamma summed over every segmentation with logsumexp: the oracle where the
    probabilities themselves underflow (tests/oracles/hsmm_brute.py, in log space)."""
    T, K = log_emit.shape
    D = pmf.shape[1]
    with np.errstate(divide="ignore"):
        log_pmf, log_surv = np.log(pmf), np.log(np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1])
        log_pi, log_a = np.log(pi), np.log(A)
    joint, frames = [], []
    for seg in segmentations(T, K, D):
        lp = log_pi[seg[0][0]]
        path = []
        for index, (k, d) in enumerate(seg):
            last = index + 1 == len(seg)
            lp += log_surv[k, d - 1] if last else log_pmf[k, d - 1] + log_a[k, seg[index + 1][0]]
            path += [k] * d
        joint.append(lp + log_emit[np.arange(T), path].sum())
        frames.append(path)
    joint = np.array(joint)
    total = logsumexp(joint)
    gamma = np.zeros((T, K))
    for lp, path in zip(joint, frames, strict=True):
        gamma[np.arange(T), path] += np.exp(lp - total)
    return total, gamma


@pytest.mark.parametrize("compiled", [False, True], ids=["interpreted", "numba"])
@pytest.mark.parametrize(("K", "D", "lengths"), [(2, 3, [6, 4]), (3, 4, [7, 1, 9]), (3, 8, [5, 12])],
                         ids=["K2-D3", "K3-D4", "D-beyond-T"])
def test_log_space_pass_equals_the_scaled_pass(compiled, K, D, lengths):
    rng = np.random.default_rng(K * 100 + D)
    pi, A, pmf = _chain(rng, K, D)
    pmf[0, -1] = 0.0  # a duration past state 0's support: the dropped register entries (G = 0)
    pmf /= pmf.sum(axis=1, keepdims=True)
    log_emit = 3.0 * rng.normal(size=(sum(lengths), K))
    weights = rng.random(len(lengths)) + 0.5
    scaled = segment_forward_backward(pi, A, log_emit, pmf, lengths, weights, compiled=compiled)
    logged = segment_forward_backward(pi, A, log_emit, pmf, lengths, weights, compiled=compiled, log_space=True)
    assert np.all(np.isfinite(scaled.log_likelihood))  # the scaled pass did not fall back
    for field in FIELDS:
        # the same sums in another order (products of scales against sums of logarithms, exp/log
        # per term): float64 rounding over O(T K D) terms of magnitude <= 1, far below 1e-10
        np.testing.assert_allclose(getattr(logged, field), getattr(scaled, field), rtol=1e-10, atol=1e-10,
                                   err_msg=field)


@pytest.mark.parametrize("compiled", [False, True], ids=["interpreted", "numba"])
def test_log_space_pass_equals_brute_force(compiled):
    rng = np.random.default_rng(7)
    pi, A, pmf = _chain(rng, 2, 3)
    log_emit = 2.0 * rng.normal(size=(5, 2))
    log_lik, gamma, counts, censored, _ = brute_force(pi, A, log_emit, pmf)
    post = segment_forward_backward(pi, A, log_emit, pmf, [5], compiled=compiled, log_space=True)
    # float64 sums over at most K^T D^T terms in another order: rounding only
    np.testing.assert_allclose(post.log_likelihood, [log_lik], rtol=1e-12)
    np.testing.assert_allclose(post.gamma, gamma, atol=1e-12)
    np.testing.assert_allclose(post.counts, counts, atol=1e-12)
    np.testing.assert_allclose(post.censored, censored, atol=1e-12)


@pytest.mark.parametrize("compiled", [False, True], ids=["interpreted", "numba"])
def test_underflowing_sequences_fall_back_to_log_space(compiled):
    rng = np.random.default_rng(3)
    pi, A, pmf = _chain(rng, 2, 3)
    # frames 0-3 favour state 0 by 2000 nats, so e_1 = exp(-2000) = 0 in the scaled pass; D = 3
    # forces a segment of state 1 among them: c_i = 0 there, though p(X) > 0
    far = rng.normal(size=(5, 2))
    far[:4, 1] -= 2000.0
    near = rng.normal(size=(6, 2))
    log_emit = np.r_[near, far]
    bad = np.zeros(1, dtype=np.bool_)  # the scaled loops alone flag the sequence
    peak = far.max(axis=1)
    hsmm_loops.forward(pi, A, np.exp(far.T - peak), pmf, survival(pmf), np.ones_like(pmf), np.array([0, 5]),
                       np.zeros((5, 2)), np.zeros((5, 2)), np.ones(5), peak, np.empty(1), bad)
    assert bad[0]
    post = segment_forward_backward(pi, A, log_emit, pmf, [6, 5], compiled=compiled)
    log_lik, gamma = _log_brute_force(pi, A, far, pmf)
    # ln p(X) ~ -2000: relative rounding of the log-sum-exp terms, each O(2000) in magnitude
    np.testing.assert_allclose(post.log_likelihood[1], log_lik, rtol=1e-12)
    np.testing.assert_allclose(post.gamma[6:], gamma, atol=1e-10)  # probabilities: absolute rounding
    # the sequence that did not underflow keeps the scaled pass's result, and the batch's
    # statistics are the two sequences' sums
    alone = segment_forward_backward(pi, A, near, pmf, [6], compiled=compiled)
    other = segment_forward_backward(pi, A, far, pmf, [5], compiled=compiled, log_space=True)
    np.testing.assert_array_equal(post.gamma[:6], alone.gamma)
    assert post.log_likelihood[0] == alone.log_likelihood[0]
    for field in ("transitions", "first_state", "counts", "censored"):
        np.testing.assert_allclose(getattr(post, field), getattr(alone, field) + getattr(other, field),
                                   rtol=1e-12, atol=1e-15, err_msg=field)  # one addition's rounding


@pytest.mark.parametrize("compiled", [False, True], ids=["interpreted", "numba"])
def test_an_impossible_sequence_stays_impossible(compiled):
    rng = np.random.default_rng(5)
    pi, A, pmf = _chain(rng, 2, 2)
    log_emit = rng.normal(size=(4, 2))
    log_emit[:3, 1] = -np.inf  # only state 0 can emit frames 0-2, but it lasts at most 2 frames
    post = segment_forward_backward(pi, A, log_emit, pmf, [4], compiled=compiled)
    assert post.log_likelihood[0] == -np.inf
    assert not post.counts.any() and not post.transitions.any() and not post.gamma.any()
