"""Brute force over every segmentation of a short sequence: the explicit-duration HSMM's
log-likelihood, frame posteriors, expected segment counts and best segmentation, literally from
the model's definition (docs/math/hsmm.md, H1-H2), with no recursion."""

from __future__ import annotations

import itertools

import numpy as np


def segmentations(T, K, D):
    """Every ((state, duration), ...) covering T frames, durations 1..D."""
    def compositions(n):
        if n == 0:
            yield ()
            return
        for d in range(1, min(D, n) + 1):
            for rest in compositions(n - d):
                yield (d, *rest)
    for durations in compositions(T):
        for states in itertools.product(range(K), repeat=len(durations)):
            yield tuple(zip(states, durations, strict=True))


def brute_force(startprob, transmat, log_emit, duration_pmf):
    """(ln p(X), gamma (T, K), completed-segment counts (K, D), censored counts (K, D),
    (ln p of the best segmentation, its states))."""
    T, K = log_emit.shape
    D = duration_pmf.shape[1]
    survival = np.array([[duration_pmf[k, d:].sum() for d in range(D)] for k in range(K)])
    joint, paths = [], []
    for seg in segmentations(T, K, D):
        p = startprob[seg[0][0]]
        frames = []
        for index, (k, d) in enumerate(seg):
            if index + 1 < len(seg):
                p *= duration_pmf[k, d - 1] * transmat[k, seg[index + 1][0]]
            else:
                p *= survival[k, d - 1]  # the last segment is right-censored
            frames += [k] * d
        p *= np.exp(log_emit[np.arange(T), frames].sum())
        joint.append(p)
        paths.append((seg, np.array(frames)))
    joint = np.array(joint)
    total = joint.sum()
    gamma = np.zeros((T, K))
    counts = np.zeros((K, D))
    censored = np.zeros((K, D))
    for p, (seg, frames) in zip(joint, paths, strict=True):
        gamma[np.arange(T), frames] += p / total
        for index, (k, d) in enumerate(seg):
            (counts if index + 1 < len(seg) else censored)[k, d - 1] += p / total
    best = int(np.argmax(joint))
    return np.log(total), gamma, counts, censored, (np.log(joint[best]), paths[best][1])
