"""mixfit's GaussianHSMM vs the same model as a duration-expanded HMM fitted by hmmlearn: seconds
per EM iteration, same data, same parameters, one run.

Usage::

    python benchmarks/bench_hsmm.py            # K = 10, max_duration = 100; mixfit at T = 1e5 frames,
                                               # hmmlearn at T = 2000 and 4000 (~2 min)
    python benchmarks/bench_hsmm.py --quick    # mixfit at T = 5000, hmmlearn at 1000 and 2000 (~1 min)
    python benchmarks/bench_hsmm.py --hmmlearn-frames 2000 4000 100000   # hmmlearn at 1e5 too (~10 min)

The HSMM of K states with durations up to D is an HMM over K x D states (k, frames left r): (k, r)
moves to (k, r - 1) with probability 1, and (k, 1) to (j, d) with A_kj p_j(d); its start is
pi_k p_k(d). hmmlearn fits it as a dense GaussianHMM ('scaling', its faster implementation; the
zeros of the matrix stay zero). Both start from the same parameters; the log-likelihoods of the
first E-step on the same frames agree (the expanded HMM is the same model, its last segment
censored as ours), which checks the comparison.

What is measured and what is extrapolated: mixfit is timed at every length (``--frames`` and each
of ``--hmmlearn-frames``); hmmlearn only at ``--hmmlearn-frames`` (at 1e5 frames one of its
iterations takes ~10 minutes on one core), each the prefix of the same sampled sequence. Both
recursions cost O(T) per iteration (hmmlearn O(T S^2) with S = K D, mixfit O(T K D)), so hmmlearn
at ``--frames`` is extrapolated from its two longest measured lengths by the line through them;
the printed seconds per frame at each measured length show how straight that line is. Rows
marked "extrapolated" are not measurements. Seconds per iteration: mixfit (time of ``1 + iters``
iterations minus time of 1) / iters, so that the start and numba's cache load are not counted;
hmmlearn: one ``fit`` with n_iter=1 (its E-step and M-step), timed whole.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

import numpy as np


def truth(K, D, rng):
    from mixfit import GaussianHSMM

    model = GaussianHSMM(K, duration="nonparametric", max_duration=D)
    A = rng.random((K, K))
    np.fill_diagonal(A, 0.0)
    model.startprob_, model.transmat_ = np.full(K, 1.0 / K), A / A.sum(axis=1, keepdims=True)
    means = rng.integers(5, 40, size=K)  # mean durations
    d = np.arange(1, D + 1)
    table = np.exp(-0.5 * ((d[None, :] - means[:, None]) / 4.0) ** 2)
    model.durations_ = table / table.sum(axis=1, keepdims=True)
    model.means_ = 3.0 * rng.normal(size=(K, 2))
    model.precisions_cholesky_ = np.ones((K, 2))
    model.n_features_in_ = 2
    return model


def expanded(model, K, D):
    """(startprob, transmat, means) of the duration-expanded HMM; state k * D + (r - 1)."""
    pmf = model.duration_pmf_
    S = K * D
    start = (model.startprob_[:, None] * pmf).ravel()
    A = np.zeros((S, S))
    for k in range(K):
        for r in range(2, D + 1):
            A[k * D + r - 1, k * D + r - 2] = 1.0
        A[k * D, :] = (model.transmat_[k][:, None] * pmf).ravel()
    return start, A, np.repeat(model.means_, D, axis=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--frames", type=int, default=None, help="mixfit's T (default 1e5; --quick 5000)")
    parser.add_argument("--hmmlearn-frames", type=int, nargs="+", default=None,
                        help="the T at which hmmlearn is timed (default 2000 4000; --quick 1000 2000)")
    parser.add_argument("--iters", type=int, default=3)
    args = parser.parse_args()
    K, D = 10, 100
    T = args.frames or (5000 if args.quick else 100_000)
    short = sorted(args.hmmlearn_frames or ([1000, 2000] if args.quick else [2000, 4000]))
    rng = np.random.default_rng(0)
    model = truth(K, D, rng)
    X, _ = model.sample(max(T, *short), random_state=1)

    from hmmlearn import hmm as hmmlearn_hmm

    from mixfit import GaussianHSMM

    logging.getLogger("hmmlearn").setLevel(logging.ERROR)  # its "degenerate solution" note on K D states

    def mixfit_fit(frames, n_iter):
        est = GaussianHSMM(K, duration="nonparametric", max_duration=D, max_iter=n_iter, tol=0.0,
                           startprob_init=model.startprob_, transmat_init=model.transmat_,
                           durations_init=model.durations_, means_init=model.means_,
                           precisions_init=np.ones((K, 2)))
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X[:frames])
        return time.perf_counter() - started, est

    def mixfit_per_iteration(frames):
        one, first = mixfit_fit(frames, 1)
        more, _ = mixfit_fit(frames, 1 + args.iters)
        return (more - one) / args.iters, first.lower_bounds_[0] * frames

    start, A, means = expanded(model, K, D)

    def hmmlearn_per_iteration(frames):
        reference = hmmlearn_hmm.GaussianHMM(K * D, covariance_type="diag", n_iter=1, tol=0.0, init_params="",
                                             implementation="scaling")
        reference.startprob_, reference.transmat_, reference.means_ = start, A, means
        reference.covars_ = np.ones((K * D, 2))
        log_lik = reference.score(X[:frames])
        started = time.perf_counter()
        reference.fit(X[:frames])
        return time.perf_counter() - started, log_lik

    mixfit_fit(short[0], 1)  # numba's cache loaded, imports done
    print(f"HSMM K={K} max_duration={D}, D_features=2; hmmlearn fits the expanded HMM of {K * D} states "
          f"('scaling'); load average {os.getloadavg()[0]:.2f}")
    print(f"{'T':>8s} {'mixfit s/it':>12s} {'hmmlearn s/it':>14s} {'hmmlearn us/frame':>18s} {'ratio':>7s}"
          f" {'ln p(X) start: mixfit':>22s} {'hmmlearn':>14s}")
    measured = {}
    for frames in short:
        ours, our_ll = mixfit_per_iteration(frames)
        theirs, their_ll = hmmlearn_per_iteration(frames)
        measured[frames] = theirs
        print(f"{frames:>8d} {ours:>12.4f} {theirs:>14.3f} {1e6 * theirs / frames:>18.1f} {theirs / ours:>6.1f}x"
              f" {our_ll:>22.4f} {their_ll:>14.4f}   (measured)")
    if T not in measured:
        ours, our_ll = mixfit_per_iteration(T)
        if len(short) >= 2:
            (t1, s1), (t2, s2) = sorted(measured.items())[-2:]
            theirs = s1 + (s2 - s1) * (T - t1) / (t2 - t1)  # the line through the two longest
            print(f"{T:>8d} {ours:>12.4f} {theirs:>14.1f} {1e6 * theirs / T:>18.1f} {theirs / ours:>6.1f}x"
                  f" {our_ll:>22.4f} {'-':>14s}   (mixfit measured; hmmlearn extrapolated from T = {t1}, {t2})")
        else:
            print(f"{T:>8d} {ours:>12.4f} {'-':>14s}   (mixfit measured)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
