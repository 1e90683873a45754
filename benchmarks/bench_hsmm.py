"""mixfit's GaussianHSMM vs the same model as a duration-expanded HMM fitted by hmmlearn: seconds
per EM iteration, same data, same parameters, one run.

Usage::

    python benchmarks/bench_hsmm.py            # K = 10, max_duration = 100, T = 1e5 frames (hmmlearn: minutes)
    python benchmarks/bench_hsmm.py --quick    # T = 5000 frames (~1 min)

The HSMM of K states with durations up to D is an HMM over K x D states (k, frames left r): (k, r)
moves to (k, r - 1) with probability 1, and (k, 1) to (j, d) with A_kj p_j(d); its start is
pi_k p_k(d). hmmlearn fits it as a dense GaussianHMM ('scaling', its faster implementation; the
zeros of the matrix stay zero). Both start from the same parameters; the printed log-likelihoods
of the first E-step agree (the expanded HMM is the same model, its last segment censored as
ours), which checks the comparison. Seconds per iteration: (time of ``1 + iters`` iterations
minus time of 1) / iters for mixfit, so that the k-means-free start and numba's cache load are
not counted; hmmlearn: one ``fit`` with n_iter=1 (its E-step and M-step), timed whole.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--iters", type=int, default=3)
    args = parser.parse_args()
    K, D = 10, 100
    T = args.frames or (5000 if args.quick else 100_000)
    rng = np.random.default_rng(0)
    model = truth(K, D, rng)
    X, _ = model.sample(T, random_state=1)

    from hmmlearn import hmm as hmmlearn_hmm

    from mixfit import GaussianHSMM

    def mixfit_fit(n_iter):
        est = GaussianHSMM(K, duration="nonparametric", max_duration=D, max_iter=n_iter, tol=0.0,
                           startprob_init=model.startprob_, transmat_init=model.transmat_,
                           durations_init=model.durations_, means_init=model.means_,
                           precisions_init=np.ones((K, 2)))
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X)
        return time.perf_counter() - started, est

    mixfit_fit(1)  # numba's cache loaded, imports done
    one, first = mixfit_fit(1)
    more, _ = mixfit_fit(1 + args.iters)
    ours = (more - one) / args.iters

    start, A, means = expanded(model, K, D)
    reference = hmmlearn_hmm.GaussianHMM(K * D, covariance_type="diag", n_iter=1, tol=0.0, init_params="",
                                         implementation="scaling")
    reference.startprob_, reference.transmat_, reference.means_ = start, A, means
    reference.covars_ = np.ones((K * D, 2))
    reference_ll = reference.score(X)
    started = time.perf_counter()
    reference.fit(X)
    theirs = time.perf_counter() - started
    print(f"HSMM K={K} max_duration={D} T={T} frames, D_features=2")
    print(f"{'':28s}{'mixfit GaussianHSMM':>22s}{'hmmlearn expanded HMM':>24s}")
    print(f"{'states':28s}{K:>22d}{K * D:>24d}")
    print(f"{'ln p(X) at the start':28s}{first.lower_bounds_[0] * T:>22.4f}{reference_ll:>24.4f}")
    print(f"{'seconds per EM iteration':28s}{ours:>22.3f}{theirs:>24.3f}")
    print(f"ratio (hmmlearn / mixfit): {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
