"""The numba-compiled loops over frames (imported on first use, never by ``import mixfit``).

hmm_recursions.py's ``CompiledRecursions`` imports this module the first time it runs, so that
importing mixfit costs no numba import (~0.2 s) and a session that never fits an HMM never pays
it. Every kernel is cached on disk (``cache=True``): numba compiles once per installation, not
once per process. All release the GIL (``nogil``), so SequenceSource's threads run chunks in
parallel. ``error_model="numpy"``: 0/0 gives NaN as in numpy (a scaled pass that underflows is
then detected and redone in log space by the caller) instead of raising ZeroDivisionError.

Two families, with the notation of kernels/hmm_inference.py:

- padded batches (B, T, K): ``forward``, ``backward``, ``viterbi``, one sequence at a time and
  only over its own frames (the kernels behind ``forward_backward`` and ``viterbi``);
- flat frames (n, K) of concatenated sequences with offsets (B + 1,): ``forward_backward_flat``
  and ``viterbi_flat``. No padding copy, and one pass per sequence does all of forward-backward
  but the exponentials (numpy's vectorised exp is ~7x faster than a scalar one in a loop):
  (13.59) forward, (13.62) backward, gamma (13.64) written over alpha^ in place, and the sum of
  xi (13.65) accumulated in a (K, K) buffer. The working memory is two (n, K) arrays (emit,
  gamma) and two (n,) (m_t, c_t) beside the caller's log-densities.

The inner loops run over the *last* index of each array (k of alpha^, j of the transposed
transition matrix), so each step is a few vectorised multiply-adds of length K with no
reduction that LLVM would have to reassociate.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
# The flat forward-backward may reassociate its K-term sums (and fuse multiply-adds), which lets
# LLVM vectorise them: twice as fast at K = 10. It keeps IEEE infinities and NaN (no 'nnan' or
# 'ninf'), so the test for an underflowed c_t still holds; the results differ from the padded
# kernels by rounding only (tests/test_hmm_speed_paths.py: 1e-12).
_jit_reassoc = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})


# ---- padded batches (B, T, K) ---------------------------------------------------------------

@_jit
def forward(startprob, transmat, emit, lengths, alpha, scale):  # pragma: no cover - compiled
    K = emit.shape[2]
    for b in range(lengths.shape[0]):
        for t in range(lengths[b]):
            c = 0.0
            for k in range(K):
                if t == 0:
                    a = startprob[k]  # (13.37)
                else:
                    a = 0.0
                    for j in range(K):
                        a += alpha[b, t - 1, j] * transmat[j, k]
                a *= emit[b, t, k]  # (13.59) c_t alpha^_t(k)
                alpha[b, t, k] = a
                c += a  # (13.56) up to e^{m_t}
            scale[b, t] = c
            for k in range(K):
                alpha[b, t, k] /= c


@_jit
def backward(transmat, emit, scale, lengths, beta, nxt):  # pragma: no cover - compiled
    K = emit.shape[2]
    for b in range(lengths.shape[0]):
        for t in range(lengths[b] - 1, 0, -1):
            for k in range(K):
                nxt[b, t, k] = emit[b, t, k] * beta[b, t, k] / scale[b, t]
            for j in range(K):  # (13.62) c_{t+1} beta^_t(j) = sum_k A_jk nxt_{t+1}(k) c_{t+1}
                s = 0.0
                for k in range(K):
                    s += nxt[b, t, k] * transmat[j, k]
                beta[b, t - 1, j] = s


@_jit
def viterbi(log_start, log_a, log_emit, lengths, log_prob, states):  # pragma: no cover - compiled
    T, K = log_emit.shape[1], log_emit.shape[2]
    delta = np.empty(K)
    new = np.empty(K)
    back = np.zeros((T, K), dtype=np.intp)  # one sequence's psi at a time
    for b in range(lengths.shape[0]):
        for k in range(K):
            delta[k] = log_start[k] + log_emit[b, 0, k]  # (13.69)
        for t in range(1, lengths[b]):
            for k in range(K):
                arg = 0
                best = delta[0] + log_a[0, k]
                for j in range(1, K):  # strictly greater: ties to the lowest j, as argmax
                    s = delta[j] + log_a[j, k]
                    if s > best:
                        best, arg = s, j
                back[t, k] = arg  # (13.71)
                new[k] = best + log_emit[b, t, k]  # (13.68)
            delta[:] = new
        current = 0
        for k in range(1, K):
            if delta[k] > delta[current]:
                current = k
        log_prob[b] = delta[current]  # (13.70)
        for t in range(lengths[b] - 1, -1, -1):
            states[b, t] = current
            current = back[t, current]


# ---- flat frames (n, K) with sequence offsets ------------------------------------------------

@_jit
def row_peak(log_emit, peak):  # pragma: no cover - compiled
    """m_t = max_k ln p(x_t | k) of each frame (n,), 0 where it is not finite (every state
    impossible: the frame's c_t is then 0 and its sequence goes to the log-space pass)."""
    n, K = log_emit.shape
    for t in range(n):
        m = log_emit[t, 0]
        for k in range(1, K):
            m = max(m, log_emit[t, k])
        peak[t] = m if math.isfinite(m) else 0.0


@_jit_reassoc
def forward_backward_flat(startprob, transmat, emit, peak, offsets, weights, gamma, scale,
                          log_likelihood, flow, bad):  # pragma: no cover - compiled
    """Scaled forward-backward of every sequence b (frames offsets[b] .. offsets[b+1] - 1) from
    emit_tk = p(x_t | k) / e^{m_t} (n, K) and m_t (n,).

    Writes gamma (n, K), scale (n,), log_likelihood (B,); adds w_b sum_t alpha^_{t-1}(j) nxt_t(k)
    into flow (K, K) (the caller multiplies by A_jk, (13.65)); sets bad[b] where c_t underflows
    (or is not finite) and leaves that sequence's gamma at 0 and its flow out, for the caller's
    log-space pass.
    """
    K = transmat.shape[0]
    transposed = np.ascontiguousarray(transmat.T)  # A^T: sum_j alpha^_{t-1}(j) A_jk reads a row
    beta = np.empty(K)
    nxt = np.empty(K)
    local = np.empty((K, K))
    for b in range(offsets.shape[0] - 1):
        first, stop = offsets[b], offsets[b + 1]
        total = 0.0
        ok = True
        for t in range(first, stop):
            c = 0.0
            if t == first:
                for k in range(K):
                    a = startprob[k] * emit[t, k]  # (13.37) alpha_1 = pi_k p(x_1 | k)
                    gamma[t, k] = a
                    c += a
            else:
                for k in range(K):
                    a = 0.0
                    for j in range(K):
                        a += gamma[t - 1, j] * transposed[k, j]  # alpha^_{t-1} A, not yet overwritten
                    a *= emit[t, k]  # (13.59) c_t alpha^_t(k)
                    gamma[t, k] = a
                    c += a  # (13.56) up to e^{m_t}
            if not (c > 0.0 and math.isfinite(c)):
                ok = False
                break
            scale[t] = c
            total += math.log(c) + peak[t]  # (13.63) ln p(X) = sum_t ln c_t, with e^{m_t} put back
            inv = 1.0 / c
            for k in range(K):
                gamma[t, k] *= inv
        if not ok:
            bad[b] = True
            log_likelihood[b] = 0.0
            for t in range(first, stop):
                for k in range(K):
                    gamma[t, k] = 0.0
            continue
        log_likelihood[b] = total
        # Backward, with gamma_t = alpha^_t beta^_t (13.64) written over alpha^_t once beta^_t
        # is known; alpha^_{t-1} is still intact when step t reads it for xi.
        for k in range(K):
            beta[k] = 1.0  # (13.39) at the sequence's own end
        for j in range(K):
            for k in range(K):
                local[j, k] = 0.0
        for t in range(stop - 1, first, -1):
            inv = 1.0 / scale[t]
            for k in range(K):
                nxt[k] = emit[t, k] * beta[k] * inv  # p(x_t | k) beta^_t(k) / c_t
                gamma[t, k] *= beta[k]  # (13.64)
            for j in range(K):
                prev = gamma[t - 1, j]  # alpha^_{t-1}(j)
                s = 0.0
                for k in range(K):
                    local[j, k] += prev * nxt[k]  # (13.65) without its factor A_jk
                    s += transmat[j, k] * nxt[k]
                beta[j] = s  # (13.62) c_t beta^_{t-1}(j) = sum_k A_jk p(x_t | k) beta^_t(k); nxt holds beta^_t
        for k in range(K):
            gamma[first, k] *= beta[k]
        w = weights[b]
        for j in range(K):
            for k in range(K):
                flow[j, k] += w * local[j, k]


@_jit
def viterbi_flat(log_start, log_a, log_emit, offsets, longest, log_prob, states):  # pragma: no cover
    """Max-sum (13.68)-(13.71) of every sequence of the flat frames; ties to the lowest state."""
    K = log_emit.shape[1]
    delta = np.empty(K)
    new = np.empty(K)
    back = np.zeros((longest, K), dtype=np.intp)  # one sequence's psi at a time
    for b in range(offsets.shape[0] - 1):
        first, stop = offsets[b], offsets[b + 1]
        for k in range(K):
            delta[k] = log_start[k] + log_emit[first, k]  # (13.69)
        for t in range(first + 1, stop):
            for k in range(K):
                arg = 0
                best = delta[0] + log_a[0, k]
                for j in range(1, K):  # strictly greater: ties to the lowest j, as argmax
                    s = delta[j] + log_a[j, k]
                    if s > best:
                        best, arg = s, j
                back[t - first, k] = arg  # (13.71)
                new[k] = best + log_emit[t, k]  # (13.68)
            for k in range(K):
                delta[k] = new[k]
        current = 0
        for k in range(1, K):
            if delta[k] > delta[current]:
                current = k
        log_prob[b] = delta[current]  # (13.70)
        for t in range(stop - 1, first - 1, -1):
            states[t] = current
            current = back[t - first, current]
