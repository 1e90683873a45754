"""Inference in an explicit-duration hidden semi-Markov chain over flat frames of many sequences.

Pure functions: the segment forward-backward (docs/math/hsmm.md, H3-H13; Yu 2010, section 2.2) and the
segment Viterbi (H14-H15), both O(n K D) with D = max_duration. The loops are hsmm_loops.py,
numba-compiled (hsmm_compiled.py) where numba is installed, else interpreted (slow: use small
data). The emissions are exponentiated here, over their per-frame peak, as the HMM's scaled pass;
the sequences where that underflows (a state far below a frame's peak that the durations force the
chain through) are run again in log space (hsmm_log_loops.py), the rest keep the fast pass.

The last segment of each sequence is right-censored: it has lasted at least the frames seen, so
it weighs G_k(d) = P(duration >= d) (H2), not p_k(d). The first segment starts at the first frame
(no left-censoring): this is the HMM's convention, under which geometric durations give back the
HMM exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hmm_recursions import NUMBA_INSTALLED


def _loops(compiled: bool | None, log_space: bool = False):
    """The module of the recursions: numba's (both kinds) where installed, else the plain-Python
    scaled loops, or their log-space versions with ``log_space``."""
    if compiled is None:
        compiled = NUMBA_INSTALLED
    if compiled:
        from . import hsmm_compiled  # optional: numba, imported on first use

        return hsmm_compiled
    if log_space:
        from . import hsmm_log_loops  # optional: the plain-Python loops, only where numba is absent

        return hsmm_log_loops
    from . import hsmm_loops  # optional: the plain-Python loops, only where numba is absent

    return hsmm_loops


@dataclass(frozen=True, eq=False)
class SegmentPosteriors:
    gamma: np.ndarray  # (n, K) p(z_i = k | X_b)                                            (H12)
    transitions: np.ndarray  # (K, K) sum_b w_b sum_i p(segment of j ends at i, next is k | X_b)  (H11)
    first_state: np.ndarray  # (K,) sum_b w_b p(the first segment is in k | X_b)
    counts: np.ndarray  # (K, D) sum_b w_b E[completed segments of k lasting d | X_b]         (H13)
    censored: np.ndarray  # (K, D) sum_b w_b p(the last segment is in k, seen for d frames | X_b)
    log_likelihood: np.ndarray  # (B,) ln p(X_b); -inf where X_b is impossible


def survival(duration_pmf: np.ndarray) -> np.ndarray:
    """G_k(d) = sum_{d' >= d} p_k(d') (K, D) (H2), summed from the tail so a small G is exact."""
    return np.cumsum(duration_pmf[:, ::-1], axis=1)[:, ::-1]


def _offsets(lengths) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def _log_parameters(startprob, transmat, duration_pmf):
    """ln pi, ln A, ln p_k(d), ln G_k(d): a zero probability is ln 0 = -inf, a forbidden move."""
    dur = np.asarray(duration_pmf, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return (np.log(np.asarray(startprob, dtype=np.float64)), np.log(np.asarray(transmat, dtype=np.float64)),
                np.log(dur), np.log(survival(dur)))


def _log_space_pass(loops, startprob, transmat, log_emit, duration_pmf, lengths, which, weights, gamma,
                    log_likelihood, first_state, counts, censored) -> np.ndarray:
    """Forward-backward of the sequences ``which`` (indices into ``lengths``) in log space: their
    gamma rows and ln p(X_b) written in place, their statistics added to first_state, counts and
    censored; returns their expected transitions (K, K), A_jk included. An impossible sequence
    (ln p(X_b) = -inf) adds nothing and keeps gamma = 0."""
    offsets = _offsets(lengths)
    rows = np.concatenate([np.arange(offsets[b], offsets[b + 1]) for b in which])
    sub_lengths = lengths[which]
    n, K = rows.shape[0], log_emit.shape[1]
    log_start, log_a, log_dur, log_surv = _log_parameters(startprob, transmat, duration_pmf)
    start = np.empty((n, K))
    end = np.empty((n, K))
    sub_ll = np.empty(len(which))
    sub_offsets = _offsets(sub_lengths)
    sub_emit = np.ascontiguousarray(log_emit[rows].T, dtype=np.float64)  # (K, n)
    loops.log_forward(log_start, log_a, sub_emit, log_dur, log_surv, sub_offsets, start, end, sub_ll)
    flow = np.zeros((K, K))
    loops.log_backward(log_a, sub_emit, log_dur, log_surv, sub_offsets, np.ascontiguousarray(weights[which]), start,
                       end, sub_ll, flow, first_state, counts, censored)
    for b in np.flatnonzero(~np.isfinite(sub_ll)):
        start[sub_offsets[b]:sub_offsets[b + 1]] = 0.0
    gamma[rows] = start
    log_likelihood[which] = sub_ll
    return flow


def segment_forward_backward(startprob, transmat, log_emit, duration_pmf, lengths, weights=None,
                             compiled: bool | None = None, log_space: bool = False) -> SegmentPosteriors:
    """Posteriors of the segments of each sequence of the flat frames ``log_emit`` (n, K) =
    ln p(x_i | k), cut by ``lengths`` (B,), under start ``startprob`` (K,), transitions
    ``transmat`` (K, K) with zero diagonal and durations ``duration_pmf`` (K, D).

    The scaled pass runs first; the sequences it flags (c_i not > 0: an underflow, or X_b
    impossible) run again in log space. ``log_space=True`` runs every sequence in log space
    (slower; for tests)."""
    loops = _loops(compiled)
    n, K = log_emit.shape
    lengths = np.asarray(lengths, dtype=np.int64)
    B = lengths.shape[0]
    dur = np.ascontiguousarray(duration_pmf, dtype=np.float64)
    surv = survival(dur)
    alive = (surv > 0).astype(np.float64)  # (K, D)
    peak = log_emit.max(axis=1) if K else np.zeros(n)  # (n,) m_i
    peak = np.where(np.isfinite(peak), peak, 0.0)
    emit = np.exp(log_emit.T - peak[None, :])  # (K, n) e_k(i) <= 1
    start = np.zeros((n, K))
    end = np.zeros((n, K))
    scale = np.ones(n)
    log_likelihood = np.empty(B)
    bad = np.zeros(B, dtype=np.bool_)
    offsets = _offsets(lengths)
    pi = np.ascontiguousarray(startprob, dtype=np.float64)
    A = np.ascontiguousarray(transmat, dtype=np.float64)
    if log_space:
        bad[:] = True
        log_likelihood[:] = -np.inf
    else:
        loops.forward(pi, A, emit, dur, surv, alive, offsets, start, end, scale, peak, log_likelihood, bad)
    w = np.ones(B) if weights is None else np.asarray(weights, dtype=np.float64)
    flow = np.zeros((K, K))
    first_state = np.zeros(K)
    counts = np.zeros_like(dur)
    censored = np.zeros_like(dur)
    loops.backward(A, emit, dur, surv, alive, offsets, w, start, end, scale, bad, flow, first_state, counts,
                   censored)
    transitions = flow * A
    if bad.any():  # (H3-H13) again in log space, where the scaled pass underflowed
        transitions += _log_space_pass(_loops(compiled, log_space=True), pi, A, log_emit, dur, lengths, np.flatnonzero(bad), w,
                                       start, log_likelihood, first_state, counts, censored)
    return SegmentPosteriors(start, transitions, first_state, counts, censored, log_likelihood)


def segment_viterbi(startprob, transmat, log_emit, duration_pmf, lengths, compiled: bool | None = None):
    """(ln p(X_b, best segmentation) (B,), the state of each frame on it (n,))."""
    loops = _loops(compiled)
    n, K = log_emit.shape
    lengths = np.asarray(lengths, dtype=np.int64)
    log_start, log_a, log_dur, log_surv = _log_parameters(startprob, transmat, duration_pmf)
    best = np.empty((K, n))
    arg_state = np.zeros((K, n), dtype=np.int64)
    arg_dur = np.ones((K, n), dtype=np.int64)
    log_prob = np.empty(lengths.shape[0])
    states = np.zeros(n, dtype=np.int64)
    loops.viterbi(log_start, log_a, np.ascontiguousarray(log_emit.T), log_dur, log_surv, _offsets(lengths), best,
                  arg_state, arg_dur, log_prob, states)
    return log_prob, states.astype(np.intp)
