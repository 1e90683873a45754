"""The sequential steps of forward-backward and Viterbi, in two interchangeable implementations.

Everything in kernels/hmm_inference.py that is not a step-by-step recursion (exponentiating the
emissions, the log-likelihood, gamma, the sum of xi, the fallback) is one numpy expression over a
padded batch. What is left is the loop over frames, which no array expression removes: frame t
needs frame t - 1. Two strategy objects run it, with the same signatures and the same results up
to the order of the K-term sums (tests/test_hmm_recursions.py: 1e-12 relative):

- ``NumpyRecursions``: one numpy step per frame over the whole batch, (B, K) @ (K, K). Cheap
  per frame when B is large (many sequences), but ~10 us of numpy overhead per frame whatever B,
  so one sequence of 1e6 frames costs tens of seconds per pass.
- ``CompiledRecursions``: the same loops compiled by numba (``pip install mixfit[fast]``), one
  sequence at a time and only over its own frames, O(K^2) flops and no overhead per frame. They
  release the GIL, so SequenceSource's threads run chunks in parallel. They also run all of
  forward-backward (exponentiation, gamma, the sum of xi) on the *flat* frames (n, K) of
  concatenated sequences, with no padded copy (``flat = True``; see _hmm_compiled.py).

``RECURSIONS`` maps the name to the strategy; ``DEFAULT_RECURSIONS`` is the compiled one where
numba is installed, else numpy. numba itself is imported at the first compiled call, not here:
``import mixfit`` stays free of it (tests/test_hmm_speed_paths.py). Both write padded frames
(t >= T_b) as: alpha 0, scale 1, beta 1, nxt 0 (numpy: continued and masked by the caller);
Viterbi states there are undefined.

Notation as kernels/hmm_inference.py: emit_tk = p(x_t | k) / e^{m_t}; c_t scale; nxt_t = emit_t beta^_t / c_t.
"""

from __future__ import annotations

import numpy as np

from .numba_switch import NUMBA as NUMBA_INSTALLED


def _kernels():
    """The compiled kernels; the first call imports numba and loads them from numba's cache."""
    from . import hmm_compiled as _hmm_compiled  # optional: numba, imported on first use

    return _hmm_compiled


class NumpyRecursions:
    """The recursions as one numpy step per frame over a padded batch (B, T, K)."""

    name = "numpy"
    flat = False  # no kernels on flat frames: hmm_inference pads the batch for these steps

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


class CompiledRecursions:
    """The same recursions compiled by numba, one sequence at a time over its own frames."""

    name = "numba"
    flat = True

    @staticmethod
    def forward(startprob, transmat, emit, lengths):
        B, T, K = emit.shape
        alpha = np.zeros((B, T, K))
        scale = np.ones((B, T))
        _kernels().forward(startprob, transmat, np.ascontiguousarray(emit), lengths, alpha, scale)
        return alpha, scale

    @staticmethod
    def backward(transmat, emit, scale, lengths):
        B, T, K = emit.shape
        beta = np.ones((B, T, K))
        nxt = np.zeros((B, T, K))
        _kernels().backward(transmat, np.ascontiguousarray(emit), scale, lengths, beta, nxt)
        return beta, nxt

    @staticmethod
    def viterbi(log_start, log_a, log_emit, lengths):
        B, T = log_emit.shape[:2]
        log_prob = np.empty(B)
        states = np.zeros((B, T), dtype=np.intp)
        _kernels().viterbi(log_start, log_a, np.ascontiguousarray(log_emit), lengths, log_prob, states)
        return log_prob, states

    @staticmethod
    def forward_backward_flat(startprob, transmat, log_emit, offsets, weights):
        """On flat frames (n, K): (gamma (n, K), ln p(X_b) (B,), flow (K, K), bad (B,) bool).
        flow_jk = sum_b w_b sum_t alpha^_{t-1}(j) nxt_t(k), so xi = A * flow (13.65); a bad
        sequence (c_t underflowed) has gamma 0, is left out of flow, and is the caller's to redo."""
        log_emit = np.ascontiguousarray(log_emit, np.float64)
        n, K = log_emit.shape
        B = offsets.shape[0] - 1
        kernels = _kernels()
        peak = np.empty(n)  # (n,) m_t
        kernels.row_peak(log_emit, peak)
        emit = np.subtract(log_emit, peak[:, None])  # (n, K)
        with np.errstate(over="ignore", invalid="ignore"):  # a +inf or NaN density: its c_t is not finite
            np.exp(emit, out=emit)  # p(x_t | k) / e^{m_t}, max 1
        gamma = np.empty((n, K))
        log_likelihood = np.empty(B)
        flow = np.zeros((K, K))
        bad = np.zeros(B, dtype=np.bool_)
        kernels.forward_backward_flat(startprob, transmat, emit, peak, offsets, weights, gamma, np.empty(n),
                                      log_likelihood, flow, bad)
        return gamma, log_likelihood, flow, bad

    @staticmethod
    def viterbi_flat(log_start, log_a, log_emit, offsets):
        """On flat frames (n, K): (ln p(X_b, Z_b*) (B,), states (n,))."""
        B = offsets.shape[0] - 1
        log_prob = np.empty(B)
        states = np.empty(log_emit.shape[0], dtype=np.intp)
        longest = int(np.diff(offsets).max())
        _kernels().viterbi_flat(log_start, log_a, np.ascontiguousarray(log_emit, np.float64), offsets,
                                longest, log_prob, states)
        return log_prob, states


RECURSIONS = {"numpy": NumpyRecursions()}
if NUMBA_INSTALLED:
    RECURSIONS["numba"] = CompiledRecursions()
DEFAULT_RECURSIONS = RECURSIONS["numba" if NUMBA_INSTALLED else "numpy"]
