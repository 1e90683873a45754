"""The sequential steps of forward-backward and Viterbi, in two interchangeable implementations.

Everything in hmm_inference.py that is not a step-by-step recursion (exponentiating the
emissions, the log-likelihood, gamma, the sum of xi, the fallback) is one numpy expression over a
padded batch. What is left is the loop over frames, which no array expression removes: frame t
needs frame t - 1. Two strategy objects run it, with the same signatures and the same results up
to the order of the K-term sums (tests/test_hmm_recursions.py: 1e-12 relative):

- ``NumpyRecursions``: one numpy step per frame over the whole batch, (B, K) @ (K, K). Cheap
  per frame when B is large (many sequences), but ~10 us of numpy overhead per frame whatever B,
  so one sequence of 1e6 frames costs tens of seconds per pass.
- ``CompiledRecursions``: the same loops compiled by numba (``pip install mixfit[fast]``), one
  sequence at a time and only over its own frames, O(K^2) flops and no overhead per frame. They
  release the GIL, so SequenceSource's threads run chunks in parallel.

``RECURSIONS`` maps the name to the strategy; ``DEFAULT_RECURSIONS`` is the compiled one where
numba imports, else numpy. Both write padded frames (t >= T_b) as: alpha 0, scale 1, beta 1,
nxt 0 (numpy: continued and masked by the caller); Viterbi states there are undefined.

Notation as hmm_inference.py: emit_tk = p(x_t | k) / e^{m_t}; c_t scale; nxt_t = emit_t beta^_t / c_t.
"""

from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # the optional 'fast' extra is not installed: numpy only
    numba = None


class NumpyRecursions:
    """The recursions as one numpy step per frame over a padded batch (B, T, K)."""

    name = "numpy"

    @staticmethod
    def forward(startprob, transmat, emit, lengths):
        """(alpha^ (B, T, K), c (B, T)) by (13.59), c_t = 1 past each sequence's end."""
        B, T, K = emit.shape
        alpha = np.empty((B, T, K))
        scale = np.ones((B, T))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            a = startprob * emit[:, 0]  # (13.37) alpha_1 = pi_k p(x_1 | k)
            for t in range(T):
                if t > 0:
                    a = (alpha[:, t - 1] @ transmat) * emit[:, t]  # (13.59) c_t alpha^_t
                c = a.sum(axis=1)  # (B,) c_t, (13.56) up to e^{m_t}
                scale[:, t] = np.where(t < lengths, c, 1.0)
                alpha[:, t] = a / scale[:, t, None]
        return alpha, scale

    @staticmethod
    def backward(transmat, emit, scale, lengths):
        """(beta^ (B, T, K), nxt (B, T, K)) by (13.62), beta^ = 1 at each sequence's own end."""
        B, T, K = emit.shape
        beta = np.empty((B, T, K))
        beta[:, T - 1] = 1.0
        nxt = np.zeros((B, T, K))  # nxt_t = p(x_t | k) beta^_t(k) / c_t, shared with xi (13.65)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for t in range(T - 1, 0, -1):
                live = (t < lengths)[:, None]  # (B, 1)
                nxt[:, t] = np.where(live, emit[:, t] * beta[:, t] / scale[:, t, None], 0.0)
                # (13.62) c_{t+1} beta^_t = sum_k A_jk p(x_{t+1} | k) beta^_{t+1}(k); 1 at each end
                beta[:, t - 1] = np.where(live, nxt[:, t] @ transmat.T, 1.0)
        return beta, nxt

    @staticmethod
    def viterbi(log_start, log_a, log_emit, lengths):
        """(omega_T (B,), best paths (B, T)) by max-sum (13.68)-(13.71); ties to the lowest state."""
        B, T, K = log_emit.shape
        delta = log_start + log_emit[:, 0]  # (13.69) omega_1 = ln pi + ln p(x_1 | z_1)
        back = np.zeros((B, T, K), dtype=np.intp)
        rows = np.arange(B)[:, None]
        for t in range(1, T):
            scores = delta[:, :, None] + log_a  # (B, K, K)
            back[:, t] = scores.argmax(axis=1)  # (13.71) the best predecessor of each state
            best = scores[rows, back[:, t], np.arange(K)[None, :]]  # (B, K)
            # (13.68) omega_t(k) = ln p(x_t | k) + max_j {ln A_jk + omega_{t-1}(j)}; held past the end
            delta = np.where((t < lengths)[:, None], best + log_emit[:, t], delta)
        log_prob = delta.max(axis=1)  # (13.70)
        states = np.empty((B, T), dtype=np.intp)
        current = delta.argmax(axis=1)
        for t in range(T - 1, -1, -1):
            states[:, t] = current
            if t > 0:  # back-track (13.71) from each sequence's own last frame
                current = np.where(t < lengths, back[np.arange(B), t, current], current)
        return log_prob, states


if numba is not None:
    # error_model="numpy": 0/0 gives NaN as in numpy (a scaled pass that underflows is then
    # detected and redone in log space by the caller) instead of raising ZeroDivisionError.
    _jit = numba.njit(cache=True, nogil=True, error_model="numpy")

    @_jit
    def _forward(startprob, transmat, emit, lengths, alpha, scale):  # pragma: no cover - compiled
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
    def _backward(transmat, emit, scale, lengths, beta, nxt):  # pragma: no cover - compiled
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
    def _viterbi(log_start, log_a, log_emit, lengths, log_prob, states):  # pragma: no cover - compiled
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


class CompiledRecursions:
    """The same recursions compiled by numba, one sequence at a time over its own frames."""

    name = "numba"

    @staticmethod
    def forward(startprob, transmat, emit, lengths):
        B, T, K = emit.shape
        alpha = np.zeros((B, T, K))
        scale = np.ones((B, T))
        _forward(startprob, transmat, np.ascontiguousarray(emit), lengths, alpha, scale)
        return alpha, scale

    @staticmethod
    def backward(transmat, emit, scale, lengths):
        B, T, K = emit.shape
        beta = np.ones((B, T, K))
        nxt = np.zeros((B, T, K))
        _backward(transmat, np.ascontiguousarray(emit), scale, lengths, beta, nxt)
        return beta, nxt

    @staticmethod
    def viterbi(log_start, log_a, log_emit, lengths):
        B, T = log_emit.shape[:2]
        log_prob = np.empty(B)
        states = np.zeros((B, T), dtype=np.intp)
        _viterbi(log_start, log_a, np.ascontiguousarray(log_emit), lengths, log_prob, states)
        return log_prob, states


RECURSIONS = {"numpy": NumpyRecursions()}
if numba is not None:
    RECURSIONS["numba"] = CompiledRecursions()
DEFAULT_RECURSIONS = RECURSIONS["numba" if numba is not None else "numpy"]
