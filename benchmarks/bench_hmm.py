"""mixfit vs hmmlearn: seconds per Baum-Welch iteration, same data, same start, one run.

Usage::

    python benchmarks/bench_hmm.py                         # 1e6 frames, K=10, D=8 (minutes)
    python benchmarks/bench_hmm.py --frames 100000 --long-frames 20000   # quick
    python benchmarks/bench_hmm.py --cases long --long-frames 100000 --cov diag --iters 11 --repeats 3

Cases: many sequences (``--n-seq`` of equal length, default 1000 x 1000 frames) and one long
sequence (``--long-frames``). Both libraries start from the same parameters (uniform start and
transitions, means drawn from the data, unit covariances) and run ``--iters`` iterations with
tol=0; the time per iteration is (T_iters - T_1) / (iters - 1), which leaves out validation and
the first fit's setup (each T the fastest of ``--repeats`` fits). hmmlearn runs its faster
implementation, 'scaling', with its covariance prior switched off. ``--recursions numpy`` times
mixfit with its numpy loops over frames instead of the compiled ones (hmm_recursions.py). The
load average is printed with the figures: on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np


def _time_fit(make, X, lengths, iters, repeats):
    """Seconds per iteration; each fit timed ``repeats`` times and the fastest kept (on a shared
    machine the minimum is the least disturbed run)."""
    times = []
    for n in (1, iters):
        best = np.inf
        for _ in range(repeats):
            model = make(n)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X, lengths)
            best = min(best, time.perf_counter() - start)
        times.append(best)
    return (times[1] - times[0]) / (iters - 1)


def bench(X, lengths, K, covariance_type, iters, repeats, rng):
    from hmmlearn import hmm

    from mixfit import GaussianHMM

    D = X.shape[1]
    means = X[rng.choice(X.shape[0], K, replace=False)]
    precisions = {"full": np.array([np.eye(D)] * K), "diag": np.ones((K, D))}[covariance_type]

    def ours(n):
        return GaussianHMM(K, covariance_type=covariance_type, tol=0, max_iter=n, means_init=means,
                           precisions_init=precisions)

    def theirs(n):
        model = hmm.GaussianHMM(K, covariance_type=covariance_type, n_iter=n, tol=0, init_params="",
                                covars_prior=0, covars_weight=0, implementation="scaling")
        model.startprob_, model.transmat_, model.means_ = np.full(K, 1 / K), np.full((K, K), 1 / K), means
        model.covars_ = np.array([np.eye(D)] * K) if covariance_type == "full" else np.ones((K, D))
        return model

    return _time_fit(ours, X, lengths, iters, repeats), _time_fit(theirs, X, lengths, iters, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=float, default=1e6)
    parser.add_argument("--n-seq", type=int, default=1000)
    parser.add_argument("--long-frames", type=float, default=1e6)
    parser.add_argument("--states", type=int, default=10)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--recursions", choices=["default", "numpy", "numba"], default="default")
    parser.add_argument("--repeats", type=int, default=1, help="fits per timing; the fastest is kept")
    parser.add_argument("--cov", nargs="+", default=["full", "diag"])
    parser.add_argument("--cases", nargs="+", choices=["many", "long"], default=["many", "long"])
    args = parser.parse_args(argv)
    from mixfit import hmm_inference
    from mixfit.hmm_recursions import RECURSIONS

    if args.recursions != "default":  # a benchmark-only switch: the fits read this module global
        hmm_inference.DEFAULT_RECURSIONS = RECURSIONS[args.recursions]
    rng = np.random.default_rng(0)
    n = max(int(args.frames), int(args.long_frames))
    X = rng.normal(size=(n, args.features)) + rng.integers(0, 4, size=(n, 1))
    many = int(args.frames)
    cases = {"many": (f"{args.n_seq} x {many // args.n_seq}", X[: many - many % args.n_seq],
                      np.full(args.n_seq, many // args.n_seq)),
             "long": (f"1 x {int(args.long_frames)}", X[: int(args.long_frames)], None)}
    cases = [cases[name] for name in args.cases]
    print(f"K={args.states} D={args.features} recursions={hmm_inference.DEFAULT_RECURSIONS.name}; "
          f"load average {os.getloadavg()}")
    print(f"{'case':>14} {'cov':>5} {'mixfit s/it':>12} {'hmmlearn s/it':>14} {'ratio':>6}")
    for label, data, lengths in cases:
        for cov in args.cov:
            ours, theirs = bench(data, lengths, args.states, cov, args.iters, args.repeats, rng)
            print(f"{label:>14} {cov:>5} {ours:12.3f} {theirs:14.3f} {theirs / ours:6.2f}")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
