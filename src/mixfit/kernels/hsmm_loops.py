"""The loops of the explicit-duration HSMM's recursions, as plain Python over flat frames.

hsmm_compiled.py compiles these same functions with numba (the fits' path); without numba they
run as they are, correct but one interpreted step per (frame, state, duration). The equation
numbers are those of docs/math/hsmm.md (Yu 2010, section 2.2, in our scaled form).

Notation (K states, D = max_duration, frames i of one sequence first .. last, n frames in all)

  emit   (K, n)  e_k(i) = p(x_i | k) / e^{m_i}, the emission densities over the frame's peak m_i
  dur    (K, D)  p_k(d), d = 1..D (column d - 1): the duration pmf                     (H1)
  surv   (K, D)  G_k(d) = sum_{d' >= d} p_k(d'): the censored last segment's weight    (H2)
  alive  (K, D)  1 where G_k(d) > 0: a segment already longer than its support is dropped
  scale  (n,)    c_i = p(x_i | x_first..x_{i-1}) / e^{m_i}                              (H5)
  start  (n, K)  S^_i(k): p(x_first..x_{i-1}, a segment of k starts at i) / prod_{u<i} c_u   (H3)
  end    (n, K)  F^_i(k): p(x_first..x_i, a segment of k ends at i) / prod_{u<=i} c_u        (H4)

The running register W_k(d) (forward) holds S^ of the segment of k that began d - 1 frames ago
times its emissions since, so every entry stays bounded by 1 / G_k(d) and nothing over- or
underflows as a product of D ratios would (H6); Z_k(d) (backward) is its mirror (H8).
"""

from __future__ import annotations

import math


def forward(startprob, transmat, emit, dur, surv, alive, offsets, start, end, scale, log_peak,
            log_likelihood, bad):  # pragma: no cover - also compiled
    """Scaled forward pass (H3)-(H6) of every sequence; sets bad[b] where c_i is not > 0."""
    K, D = dur.shape
    w_old = (alive * 0.0).copy()  # (K, D) W at the previous frame
    w_new = (alive * 0.0).copy()
    f_til = startprob * 0.0  # (K,)
    for b in range(offsets.shape[0] - 1):
        first, stop = offsets[b], offsets[b + 1]
        for k in range(K):
            start[first, k] = startprob[k]  # (H3) S^_first(k) = pi_k
            for d in range(D):
                w_old[k, d] = 0.0
        total = 0.0
        previous = 1.0  # c_{i-1}; W carries no 1 / c at the first frame
        ok = True
        for i in range(first, stop):
            c = 0.0
            for k in range(K):
                e = emit[k, i]
                f = e / previous
                w_new[k, 0] = start[i, k] * e  # (H6) a segment that starts at i
                for d in range(1, D):
                    w_new[k, d] = w_old[k, d - 1] * f * alive[k, d]
                a = 0.0
                u = 0.0
                for d in range(D):
                    a += w_new[k, d] * dur[k, d]  # (H4) c_i F^_i(k) = sum_d W_k(d) p_k(d)
                    u += w_new[k, d] * surv[k, d]  # (H5) censored at i: sum_d W_k(d) G_k(d)
                f_til[k] = a
                c += u
            if not (c > 0.0 and math.isfinite(c)):
                ok = False
                break
            scale[i] = c
            total += math.log(c) + log_peak[i]  # (H7) ln p(X) = sum_i ln c_i + m_i
            inv = 1.0 / c
            for k in range(K):
                end[i, k] = f_til[k] * inv
                for d in range(D):
                    w_old[k, d] = w_new[k, d]
            if i + 1 < stop:
                for k in range(K):
                    s = 0.0
                    for j in range(K):
                        s += end[i, j] * transmat[j, k]  # (H3) S^_{i+1}(k) = sum_j F^_i(j) A_jk
                    start[i + 1, k] = s
            previous = c
        if ok:
            log_likelihood[b] = total
        else:
            bad[b] = True
            log_likelihood[b] = -math.inf


def backward(transmat, emit, dur, surv, alive, offsets, weights, start, end, scale, bad,
             flow, first_state, counts, censored):  # pragma: no cover - also compiled
    """Scaled backward pass (H8)-(H9) and the posteriors (H10)-(H13) of every good sequence.

    Overwrites ``start`` with gamma_i(k) = p(z_i = k | X) (H12). Adds, with the sequence's weight,
    sum_i F^_i(j) B*_{i+1}(k) into flow (K, K) (the caller multiplies by A_jk, H11), the first
    segment's state into first_state (K,), the posterior counts of completed segments of
    duration d into counts (K, D) (H13), and of the censored last segment observed for d frames
    into censored (K, D).
    """
    K, D = dur.shape
    z_old = (alive * 0.0).copy()  # (K, D) Z at the next frame
    z_new = (alive * 0.0).copy()
    b_star = transmat[0] * 0.0  # (K,) B*_{i+1}
    b_end = transmat[0] * 0.0  # (K,) B_i
    for b in range(offsets.shape[0] - 1):
        if bad[b]:
            continue
        first, stop = offsets[b], offsets[b + 1]
        w = weights[b]
        for k in range(K):
            for d in range(D):
                z_old[k, d] = 0.0
        for i in range(stop - 1, first - 1, -1):
            if i == stop - 1:
                for k in range(K):
                    b_end[k] = 1.0  # (H8) B_last(k) = 1: nothing follows
            else:
                for k in range(K):
                    s = 0.0
                    for j in range(K):
                        s += transmat[k, j] * b_star[j]  # (H8) B_i(k) = sum_j A_kj B*_{i+1}(j)
                    b_end[k] = s
                for j in range(K):
                    f_j = end[i, j]
                    for k in range(K):
                        flow[j, k] += w * f_j * b_star[k]  # (H11) without its factor A_jk
                for k in range(K):
                    end[i, k] = end[i, k] * b_end[k]  # (H10) p(a segment of k ends at i | X)
            observed = stop - i  # a segment starting at i and ending at the last frame lasts this long
            last = min(D, observed - 1)  # durations 1..last end strictly inside the sequence
            inv = 1.0 / scale[i]
            for k in range(K):
                f = emit[k, i] * inv
                z_new[k, 0] = f * b_end[k]  # (H9) a segment of k on [i, i]
                for d in range(1, D):
                    z_new[k, d] = z_old[k, d - 1] * f * alive[k, d]
                s_ik = start[i, k]
                acc = 0.0
                for d in range(last):
                    term = dur[k, d] * z_new[k, d]
                    acc += term  # (H9) B*_i(k) = sum_d p_k(d) Z_k(d) ...
                    counts[k, d] += w * s_ik * term  # (H13) a completed segment of duration d + 1
                if observed <= D:
                    term = surv[k, observed - 1] * z_new[k, observed - 1]
                    acc += term  # (H9) ... + G_k(d_c) Z_k(d_c), the censored last segment
                    censored[k, observed - 1] += w * s_ik * term
                b_star[k] = acc
                start[i, k] = s_ik * acc  # (H10) p(a segment of k starts at i | X)
                for d in range(D):
                    z_old[k, d] = z_new[k, d]
        for k in range(K):
            first_state[k] += w * start[first, k]
        # (H12) gamma_i = gamma_{i-1} + p(start at i) - p(end at i - 1), over the same arrays
        for i in range(first + 1, stop):
            for k in range(K):
                g = start[i - 1, k] + start[i, k] - end[i - 1, k]
                start[i, k] = max(0.0, g)  # rounding can leave -1e-17 where it is 0


def viterbi(log_start, log_a, log_emit, log_dur, log_surv, offsets, best, arg_state, arg_dur,
            log_prob, states):  # pragma: no cover - also compiled
    """Max-product segmentation (H14)-(H15) of every sequence in O(n K D); ties to the lowest
    state and the shortest duration. log_emit is (K, n); best (K, n) holds delta*_i(k), the best
    ln p of the frames before i with a segment of k starting at i; arg_state (K, n) its previous
    state, arg_dur (K, n) the duration of the best segment of k ending at i."""
    K, D = log_dur.shape
    ends = log_start * 0.0  # (K,) delta_i(k): best with a segment of k ending at i
    for b in range(offsets.shape[0] - 1):
        first, stop = offsets[b], offsets[b + 1]
        for k in range(K):
            best[k, first] = log_start[k]  # (H14)
            arg_state[k, first] = -1
        final, final_state, final_dur = -math.inf, 0, 1
        for i in range(first, stop):
            for k in range(K):
                top, top_d = -math.inf, 1
                s = 0.0
                censored_top, censored_d = -math.inf, 1
                for d in range(1, min(D, i - first + 1) + 1):
                    s += log_emit[k, i - d + 1]
                    base = best[k, i - d + 1] + s
                    v = base + log_dur[k, d - 1]  # (H14) delta_i(k) = max_d delta*_{i-d+1}(k) + ln p_k(d) + ...
                    if v > top:
                        top, top_d = v, d
                    if i == stop - 1:
                        v = base + log_surv[k, d - 1]  # (H15) the censored last segment
                        if v > censored_top:
                            censored_top, censored_d = v, d
                ends[k] = top
                arg_dur[k, i] = top_d
                if i == stop - 1 and censored_top > final:
                    final, final_state, final_dur = censored_top, k, censored_d
            if i + 1 < stop:
                for k in range(K):
                    top, top_j = -math.inf, 0
                    for j in range(K):
                        v = ends[j] + log_a[j, k]  # (H14) delta*_{i+1}(k) = max_j delta_i(j) + ln A_jk
                        if v > top:
                            top, top_j = v, j
                    best[k, i + 1] = top
                    arg_state[k, i + 1] = top_j
        log_prob[b] = final
        k, i, d = final_state, stop - 1, final_dur
        while True:
            for u in range(i - d + 1, i + 1):
                states[u] = k
            i = i - d
            if i < first:
                break
            k = arg_state[k, i + 1]
            d = arg_dur[k, i]
