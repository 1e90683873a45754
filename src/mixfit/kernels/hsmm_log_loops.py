"""The explicit-duration HSMM's forward-backward in log space, as plain Python over flat frames.

The fallback of hsmm_inference.segment_forward_backward for the sequences whose scaled pass
(hsmm_loops.py) underflows: a state far (about 745 nats) below a frame's peak has e_k(i) = 0
exactly there, and where the durations force the chain through it c_i = 0 though p(X) > 0.
These loops run the same recursions (docs/math/hsmm.md, H3-H13) on logarithms, each sum a
log-sum-exp over its largest term, so nothing underflows that the exact value does not; they
take an exponential per term and are kept for the few sequences that need them.
hsmm_compiled.py compiles them with numba as it does the scaled loops.

Notation (K states, D = max_duration, frames i of one sequence, n frames in all; ln 0 = -inf)

  log_emit   (K, n)  ln b_k(x_i)
  log_dur    (K, D)  ln p_k(d), d = 1..D (column d - 1)                                (H1)
  log_surv   (K, D)  ln G_k(d); -inf marks a duration past the support (dropped)         (H2)
  start      (n, K)  ln S_i(k) = ln p(x_first..x_{i-1}, a segment of k starts at i)   (H3)
  end        (n, K)  ln F_i(k) = ln p(x_first..x_i, a segment of k ends at i)         (H4)

The register W_k(d) (forward) is ln S of the segment of k that began d - 1 frames ago plus its
log emissions since (H6) without the scales; Z_k(d) (backward) is its mirror (H9). The censored
forward at the last frame is ln p(X) itself (H5, H7).
"""

from __future__ import annotations

import math

import numpy as np


def log_forward(log_start, log_a, log_emit, log_dur, log_surv, offsets, start, end,
                log_likelihood):  # pragma: no cover - also compiled
    """Log-space forward pass (H3)-(H7) of every sequence; log_likelihood[b] = ln p(X_b)."""
    K, D = log_dur.shape
    w_old = np.full((K, D), -math.inf)
    w_new = np.full((K, D), -math.inf)
    for b in range(offsets.shape[0] - 1):
        first, stop = offsets[b], offsets[b + 1]
        for k in range(K):
            start[first, k] = log_start[k]  # (H3) S_first(k) = pi_k
            for d in range(D):
                w_old[k, d] = -math.inf
        total = -math.inf
        for i in range(first, stop):
            for k in range(K):
                e = log_emit[k, i]
                w_new[k, 0] = start[i, k] + e  # (H6) a segment that starts at i
                for d in range(1, D):
                    w_new[k, d] = w_old[k, d - 1] + e if log_surv[k, d] > -math.inf else -math.inf
                top = -math.inf
                for d in range(D):
                    top = max(top, w_new[k, d] + log_dur[k, d])
                if top > -math.inf:
                    s = 0.0
                    for d in range(D):
                        s += math.exp(w_new[k, d] + log_dur[k, d] - top)
                    end[i, k] = top + math.log(s)  # (H4) F_i(k) = sum_d W_k(d) p_k(d)
                else:
                    end[i, k] = -math.inf
            if i + 1 == stop:
                top = -math.inf
                for k in range(K):
                    for d in range(D):
                        top = max(top, w_new[k, d] + log_surv[k, d])
                if top > -math.inf:
                    s = 0.0
                    for k in range(K):
                        for d in range(D):
                            s += math.exp(w_new[k, d] + log_surv[k, d] - top)
                    total = top + math.log(s)  # (H5, H7) ln p(X) = ln sum_{k,d} W_k(d) G_k(d) at the last frame
            else:
                for k in range(K):
                    for d in range(D):
                        w_old[k, d] = w_new[k, d]
                    top = -math.inf
                    for j in range(K):
                        top = max(top, end[i, j] + log_a[j, k])
                    if top > -math.inf:
                        s = 0.0
                        for j in range(K):
                            s += math.exp(end[i, j] + log_a[j, k] - top)
                        start[i + 1, k] = top + math.log(s)  # (H3) S_{i+1}(k) = sum_j F_i(j) A_jk
                    else:
                        start[i + 1, k] = -math.inf
        log_likelihood[b] = total


def log_backward(log_a, log_emit, log_dur, log_surv, offsets, weights, start, end, log_likelihood,
                 flow, first_state, counts, censored):  # pragma: no cover - also compiled
    """Log-space backward pass (H8)-(H9) and the posteriors (H10)-(H13) of every sequence whose
    ln p(X_b) is finite, as hsmm_loops.backward's.

    Overwrites ``start`` with gamma_i(k) = p(z_i = k | X) (H12) and ``end`` with p(a segment of
    k ends at i | X). Adds, with the sequence's weight, the expected transitions j -> k into flow
    (K, K) WITH their factor A_jk (H11) (unlike the scaled pass, whose flow the caller multiplies
    by A: here F_i(j) B*_{i+1}(k) / p(X) alone can overflow where A_jk = 0), the first segment's
    state into first_state (K,), and the completed and censored segment counts into counts and
    censored (K, D) (H13).
    """
    K, D = log_dur.shape
    z_old = np.full((K, D), -math.inf)
    z_new = np.full((K, D), -math.inf)
    terms = np.full(D + 1, -math.inf)
    b_star = np.full(K, -math.inf)  # (K,) ln B*_{i+1}
    b_end = np.full(K, -math.inf)  # (K,) ln B_i
    for b in range(offsets.shape[0] - 1):
        lp = log_likelihood[b]
        if not math.isfinite(lp):
            continue
        first, stop = offsets[b], offsets[b + 1]
        w = weights[b]
        for k in range(K):
            for d in range(D):
                z_old[k, d] = -math.inf
        for i in range(stop - 1, first - 1, -1):
            if i == stop - 1:
                for k in range(K):
                    b_end[k] = 0.0  # (H8) B_last(k) = 1: nothing follows
            else:
                for k in range(K):
                    top = -math.inf
                    for j in range(K):
                        top = max(top, log_a[k, j] + b_star[j])
                    if top > -math.inf:
                        s = 0.0
                        for j in range(K):
                            s += math.exp(log_a[k, j] + b_star[j] - top)
                        b_end[k] = top + math.log(s)  # (H8) B_i(k) = sum_j A_kj B*_{i+1}(j)
                    else:
                        b_end[k] = -math.inf
                for j in range(K):
                    f_j = end[i, j] - lp
                    for k in range(K):
                        flow[j, k] += w * math.exp(f_j + log_a[j, k] + b_star[k])  # (H11)
                for k in range(K):
                    end[i, k] = math.exp(end[i, k] + b_end[k] - lp)  # (H10) p(a segment of k ends at i | X)
            observed = stop - i  # a segment starting at i and ending at the last frame lasts this long
            last = min(D, observed - 1)  # durations 1..last end strictly inside the sequence
            for k in range(K):
                e = log_emit[k, i]
                z_new[k, 0] = e + b_end[k]  # (H9) a segment of k on [i, i]
                for d in range(1, D):
                    z_new[k, d] = z_old[k, d - 1] + e if log_surv[k, d] > -math.inf else -math.inf
                s_ik = start[i, k] - lp
                top = -math.inf
                for d in range(D + 1):
                    terms[d] = -math.inf
                for d in range(last):
                    terms[d] = log_dur[k, d] + z_new[k, d]  # (H9) B*_i(k) = sum_d p_k(d) Z_k(d) ...
                    counts[k, d] += w * math.exp(s_ik + terms[d])  # (H13) a completed segment of duration d + 1
                    top = max(top, terms[d])
                if observed <= D:
                    terms[D] = log_surv[k, observed - 1] + z_new[k, observed - 1]  # (H9) ... + G_k(d_c) Z_k(d_c)
                    censored[k, observed - 1] += w * math.exp(s_ik + terms[D])
                    top = max(top, terms[D])
                if top > -math.inf:
                    s = 0.0
                    for d in range(D + 1):
                        s += math.exp(terms[d] - top)
                    b_star[k] = top + math.log(s)
                else:
                    b_star[k] = -math.inf
                start[i, k] = math.exp(s_ik + b_star[k])  # (H10) p(a segment of k starts at i | X)
                for d in range(D):
                    z_old[k, d] = z_new[k, d]
        for k in range(K):
            first_state[k] += w * start[first, k]
        # (H12) gamma_i = gamma_{i-1} + p(start at i) - p(end at i - 1), over the same arrays
        for i in range(first + 1, stop):
            for k in range(K):
                g = start[i - 1, k] + start[i, k] - end[i - 1, k]
                start[i, k] = max(0.0, g)  # rounding can leave -1e-17 where it is 0
