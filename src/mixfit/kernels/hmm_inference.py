"""Inference in a hidden Markov chain: forward-backward and Viterbi over a batch of sequences.

Pure functions on a *padded batch*: B sequences of lengths T_b laid out as (B, T, K) with
T = max_b T_b; frame t of sequence b is real when t < T_b. Everything but the loops over frames
is one numpy expression over the whole batch; the loops of the scaled pass and of Viterbi are a
strategy object of hmm_recursions.py (numba-compiled where numba is installed, else one numpy
step per frame over the batch). Padded frames carry emission log-density 0 and are masked out of
every result.

Notation  code          shape      meaning (PRML 13.2)
pi_k      startprob     (K,)       p(z_1 = k)                                    (13.8)
A_jk      transmat      (K, K)     p(z_t = k | z_{t-1} = j)                      (13.7)
-         log_emit      (B, T, K)  ln p(x_t | z_t = k), the emission densities
c_t       scale         (B, T)     p(x_t | x_1..x_{t-1}) / e^{m_t}, m_t = max_k ln p(x_t | k)  (13.56)
alpha^_t  alpha         (B, T, K)  p(z_t | x_1..x_t)                             (13.55)
beta^_t   beta          (B, T, K)  p(x_{t+1}..x_T | z_t) / p(x_{t+1}..x_T | x_1..x_t)  (13.61)
gamma_t   gamma         (B, T, K)  p(z_t | X) = alpha^_t beta^_t                  (13.64)
xi        transitions   (K, K)     sum_b w_b sum_t p(z_{t-1}=j, z_t=k | X_b)     (13.65)

Two implementations of forward-backward, which the tests check against each other:

- ``forward_backward`` (the one fits use) is the *scaled* recursion of PRML 13.2.4. It runs in
  probability space, so each step is O(K^2) multiply-adds and no exp/log per transition:
  hmmlearn measured its 'scaling' two to four times faster than its 'log'. The emission
  densities are divided by their per-frame maximum e^{m_t} before exponentiating, so the largest
  is 1 and a frame far out in a tail cannot underflow every state at once. What scaling cannot
  survive is a frame whose only well-explained states are (nearly) unreachable: c_t underflows
  to 0. Those sequences, and only those, are recomputed by the log-space recursion below.
- ``forward_backward_log`` is the same recursion in log space (13.36 and 13.38 with log-sum-exp):
  robust for any input, about K times more exp work. The reference and the fallback.

``forward_backward_flat`` and ``viterbi_flat`` take the *flat* frames (n, K) of the concatenated
sequences and their lengths instead of a padded batch, and return per-frame results (n, ...):
what a fit uses. With the compiled recursions they run on the flat array itself (no padded copy,
one fused pass per sequence, the working memory two (n, K) arrays); with the numpy ones they pad,
run the functions above, and unpad. The same scaled recursion and the same log-space fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hmm_recursions import DEFAULT_RECURSIONS


@dataclass(frozen=True, eq=False)
class SequenceBatch:
    """Whole sequences, concatenated: frames X (n, D) and lengths (B,) with sum = n; ``states``
    (n,), where given, the known state of each frame (-1: unknown), which clamps the E-step."""

    X: np.ndarray
    lengths: np.ndarray
    states: np.ndarray | None = None

    @property
    def shape(self):
        return self.X.shape


@dataclass(frozen=True, eq=False)
class Posteriors:
    gamma: np.ndarray  # (B, T, K) p(z_t = k | X_b), zero on padded frames
    transitions: np.ndarray  # (K, K) sum_b w_b sum_t xi_t(j, k)
    log_likelihood: np.ndarray  # (B,) ln p(X_b)


@dataclass(frozen=True, eq=False)
class FramePosteriors:
    gamma: np.ndarray  # (n, K) p(z_t = k | X_b), frames of the sequences one after another
    transitions: np.ndarray  # (K, K) sum_b w_b sum_t xi_t(j, k)
    log_likelihood: np.ndarray  # (B,) ln p(X_b)


def frame_mask(lengths: np.ndarray, n_frames: int | None = None) -> np.ndarray:
    """(B, T) True where frame t of sequence b is real; T = max length unless given."""
    T = int(lengths.max()) if n_frames is None else n_frames
    return np.arange(T)[None, :] < lengths[:, None]


def pad(frames: np.ndarray, lengths: np.ndarray, fill=0.0) -> np.ndarray:
    """(n, K) frames of concatenated sequences -> (B, T, K), padded with ``fill``; a view when
    every sequence has the same length."""
    B, T = lengths.shape[0], int(lengths.max())
    if T * B == frames.shape[0]:
        return frames.reshape(B, T, *frames.shape[1:])
    out = np.full((B, T, *frames.shape[1:]), fill, dtype=frames.dtype)
    out[frame_mask(lengths)] = frames  # row-major order of the mask is the concatenation order
    return out


def unpad(padded: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The inverse of ``pad``: (B, T, ...) -> (n, ...)."""
    B, T = padded.shape[:2]
    if int(lengths.sum()) == B * T:
        return padded.reshape(B * T, *padded.shape[2:])
    return padded[frame_mask(lengths)]


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """ln sum exp along ``axis``; -inf (not NaN) where every term is -inf."""
    peak = a.max(axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(peak, axis) + np.log(np.exp(a - peak).sum(axis=axis))


def _log(p: np.ndarray) -> np.ndarray:
    """ln p with ln 0 = -inf (a forbidden transition or start), without a warning."""
    with np.errstate(divide="ignore"):
        return np.log(p)


def forward_backward(startprob, transmat, log_emit, lengths, weights=None, recursions=None) -> Posteriors:
    """Posteriors of a padded batch by the scaled recursion, with the log-space one for any
    sequence where scaling underflows. ``weights`` (B,) multiply each sequence's transitions;
    ``recursions`` runs the loops over frames (hmm_recursions.py; None: the compiled one where
    numba is installed, else numpy)."""
    recursions = DEFAULT_RECURSIONS if recursions is None else recursions
    post, bad = _forward_backward_scaled(startprob, transmat, log_emit, lengths, weights, recursions)
    if not bad.any():
        return post
    rows = np.flatnonzero(bad)
    w = None if weights is None else weights[rows]
    redo = forward_backward_log(startprob, transmat, log_emit[rows], lengths[rows], w)
    gamma = post.gamma.copy()
    gamma[rows] = redo.gamma
    log_likelihood = post.log_likelihood.copy()
    log_likelihood[rows] = redo.log_likelihood
    # The scaled pass left the redone rows out of its transitions (their alpha is zeroed there).
    return Posteriors(gamma, post.transitions + redo.transitions, log_likelihood)


def forward_backward_flat(startprob, transmat, log_emit, lengths, weights=None, recursions=None
                          ) -> FramePosteriors:
    """``forward_backward`` on the flat frames: ``log_emit`` (n, K) of sequences of ``lengths``
    (B,) one after another, gamma returned as (n, K). The compiled recursions run on the flat
    array; the numpy ones on its padded copy. A sequence whose scaled pass underflows is redone
    in log space, as ``forward_backward`` does."""
    recursions = DEFAULT_RECURSIONS if recursions is None else recursions
    lengths = np.ascontiguousarray(lengths, np.intp)
    if not recursions.flat:
        post = forward_backward(startprob, transmat, pad(log_emit, lengths), lengths, weights, recursions)
        return FramePosteriors(unpad(post.gamma, lengths), post.transitions, post.log_likelihood)
    startprob, transmat = np.ascontiguousarray(startprob, np.float64), np.ascontiguousarray(transmat, np.float64)
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.intp)  # (B + 1,) where each sequence starts
    np.cumsum(lengths, out=offsets[1:])
    w = np.ones(lengths.shape[0]) if weights is None else np.ascontiguousarray(weights, np.float64)
    gamma, log_likelihood, flow, bad = recursions.forward_backward_flat(startprob, transmat, log_emit, offsets, w)
    transitions = transmat * flow  # (13.65) xi(j, k) = A_jk sum_t alpha^_{t-1}(j) nxt_t(k)
    if bad.any():  # the log-space pass for the sequences where scaling underflowed
        frames = np.repeat(bad, lengths)  # (n,)
        redo = forward_backward_log(startprob, transmat, pad(log_emit[frames], lengths[bad]), lengths[bad],
                                    None if weights is None else w[bad])
        gamma[frames] = unpad(redo.gamma, lengths[bad])
        log_likelihood[bad] = redo.log_likelihood
        transitions = transitions + redo.transitions
    return FramePosteriors(gamma, transitions, log_likelihood)


def _forward_backward_scaled(startprob, transmat, log_emit, lengths, weights, recursions):
    T, K = log_emit.shape[1:]
    valid = frame_mask(lengths, T)  # (B, T)
    peak = log_emit.max(axis=2)  # (B, T) m_t
    peak = np.where(np.isfinite(peak), peak, 0.0)
    emit = np.exp(log_emit - peak[:, :, None])  # (B, T, K) p(x_t | k) / e^{m_t}, max 1
    startprob, transmat = np.ascontiguousarray(startprob, np.float64), np.ascontiguousarray(transmat, np.float64)
    lengths = np.ascontiguousarray(lengths, np.intp)
    # (13.59) forward: alpha^_t and c_t; (13.62) backward: beta^_t and nxt_t = p(x_t | k) beta^_t / c_t
    alpha, scale = recursions.forward(startprob, transmat, emit, lengths)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # (13.63) ln p(X) = sum_t ln c_t, each c_t carrying back its factor e^{m_t}
        log_likelihood = np.where(valid, np.log(scale) + peak, 0.0).sum(axis=1)
        bad = ~np.isfinite(log_likelihood) | (scale == 0).any(axis=1) | ~np.isfinite(alpha).all(axis=(1, 2))
        beta, nxt = recursions.backward(transmat, emit, scale, lengths)
        gamma = alpha * beta  # (13.64)
        gamma[~valid] = 0.0
        gamma[bad] = 0.0
        nxt[bad] = 0.0
        alpha[bad] = 0.0
        if weights is not None:
            nxt *= weights[:, None, None]
        # (13.65) summed over t and b: xi(j, k) = A_jk sum_t alpha^_{t-1}(j) nxt_t(k), one GEMM
        flow = alpha[:, :-1].reshape(-1, K).T @ nxt[:, 1:].reshape(-1, K)  # (K, K)
    return Posteriors(gamma, transmat * flow, log_likelihood), bad


def forward_backward_log(startprob, transmat, log_emit, lengths, weights=None) -> Posteriors:
    """The same posteriors by the recursions in log space: (13.36)-(13.38) with log-sum-exp."""
    B, T, K = log_emit.shape
    valid = frame_mask(lengths, T)
    log_a, log_start = _log(transmat), _log(startprob)
    log_alpha = np.empty((B, T, K))
    log_alpha[:, 0] = log_start + log_emit[:, 0]  # (13.37)
    for t in range(1, T):
        # (13.36) ln alpha_t(k) = ln p(x_t | k) + ln sum_j alpha_{t-1}(j) A_jk
        log_alpha[:, t] = _logsumexp(log_alpha[:, t - 1, :, None] + log_a, axis=1) + log_emit[:, t]
    last = log_alpha[np.arange(B), lengths - 1]  # (B, K)
    log_likelihood = _logsumexp(last, axis=1)  # (13.42) p(X) = sum_k alpha_T(k)
    log_beta = np.zeros((B, T, K))  # (13.39) beta_T = 1 at each sequence's own end
    for t in range(T - 2, -1, -1):
        step = _logsumexp(log_a + (log_emit[:, t + 1] + log_beta[:, t + 1])[:, None, :], axis=2)  # (13.38)
        log_beta[:, t] = np.where(valid[:, t + 1, None], step, 0.0)
    norm = np.where(np.isfinite(log_likelihood), log_likelihood, 0.0)[:, None, None]
    gamma = np.exp(log_alpha + log_beta - norm)  # (13.33)
    gamma[~valid] = 0.0
    w = np.ones(B) if weights is None else weights
    transitions = np.zeros((K, K))
    for t in range(1, T):
        # (13.43) ln xi_t(j, k) = ln alpha_{t-1}(j) + ln A_jk + ln p(x_t | k) + ln beta_t(k) - ln p(X)
        log_xi = (log_alpha[:, t - 1, :, None] + log_a + (log_emit[:, t] + log_beta[:, t])[:, None, :]
                  - norm)
        live = w * valid[:, t]  # (B,)
        transitions += np.einsum("b,bjk->jk", live, np.exp(log_xi))
    return Posteriors(gamma, transitions, log_likelihood)


def viterbi(startprob, transmat, log_emit, lengths, recursions=None):
    """The most probable state path of each sequence (max-sum, PRML 13.2.5) and its joint log
    probability ln p(X_b, Z_b*): ((B,), (B, T) int, padded frames undefined). ``recursions`` as
    ``forward_backward``'s."""
    recursions = DEFAULT_RECURSIONS if recursions is None else recursions
    # (13.68)-(13.71), one loop over frames: hmm_recursions.py
    return recursions.viterbi(_log(np.ascontiguousarray(startprob, np.float64)),
                              _log(np.ascontiguousarray(transmat, np.float64)), log_emit,
                              np.ascontiguousarray(lengths, np.intp))


def viterbi_flat(startprob, transmat, log_emit, lengths, recursions=None):
    """``viterbi`` on the flat frames (n, K): (ln p(X_b, Z_b*) (B,), states (n,) int)."""
    recursions = DEFAULT_RECURSIONS if recursions is None else recursions
    lengths = np.ascontiguousarray(lengths, np.intp)
    if not recursions.flat:
        log_prob, states = viterbi(startprob, transmat, pad(log_emit, lengths), lengths, recursions)
        return log_prob, unpad(states, lengths)
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.intp)
    np.cumsum(lengths, out=offsets[1:])
    # (13.68)-(13.71) on the flat frames: hmm_recursions.py
    return recursions.viterbi_flat(_log(np.ascontiguousarray(startprob, np.float64)),
                                   _log(np.ascontiguousarray(transmat, np.float64)), log_emit, offsets)
