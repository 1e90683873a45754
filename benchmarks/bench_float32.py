"""float32 against float64 for full covariance: speed per EM iteration and the fitted model.

Usage::

    python benchmarks/bench_float32.py                       # (1e6, 32, 16), about 3 minutes
    python benchmarks/bench_float32.py --case 2e5,64,32 --iterations 10

The issue's bar: float32 at least 1.8x faster than float64 for full covariance, with the same
fitted model to float32 precision. One run prints both halves:

- Speed: seconds per EM iteration (bench_em.py's hook timing: consecutive starts of the pass
  over the data, median) for float32, float64, and, for reference, float32 with the packed
  quadratic form switched off (whitened residuals, what float32 ran before). The fits are
  interleaved (float32, float64, float32 whitened, then again) so that a slow patch of the
  machine hits all of them. Start: the generating mixture (bench_em.py's data and start).
- Agreement: from the same start, ``--iterations`` EM iterations on the float32 data and on the
  same numbers in float64; the largest differences of the fitted means (in each component's
  standard deviations), covariances (in sd_i sd_j), weights (relative) and the lower bound
  (relative), for float32 and for float32 whitened. The float64 fit is the reference both are
  measured against.

The whitened reference switches the packed form off through mixfit's own
``expanded_forms.PACKED_ROUNDING_LIMIT`` (this process only).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_em  # (data, start and hook timing shared with the EM benchmark)


def whitened_only():
    """A context in which no dtype may use the packed form."""
    import contextlib

    import mixfit.kernels.expanded as forms

    @contextlib.contextmanager
    def scope():
        limits = dict(forms.PACKED_ROUNDING_LIMIT)
        forms.PACKED_ROUNDING_LIMIT.clear()
        try:
            yield
        finally:
            forms.PACKED_ROUNDING_LIMIT.update(limits)

    return scope()


def fit(X, k, init, iterations):
    from mixfit import GaussianMixture

    weights, means, precisions = init
    est = GaussianMixture(k, covariance_type="full", tol=0.0, max_iter=iterations, weights_init=weights,
                          means_init=means, precisions_init=precisions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X)
    return est


def agreement(fit32, fit64):
    sd = np.sqrt(np.diagonal(fit64.covariances_, axis1=1, axis2=2))
    return {
        "means/sd": np.abs((fit32.means_ - fit64.means_) / sd).max(),
        "cov/sd^2": np.abs((fit32.covariances_ - fit64.covariances_) / (sd[:, :, None] * sd[:, None, :])).max(),
        "weights rel": np.abs(fit32.weights_ / fit64.weights_ - 1).max(),
        "bound rel": abs(fit32.lower_bound_ - fit64.lower_bound_) / abs(fit64.lower_bound_),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="1e6,32,16", help="N,D,K (default 1e6,32,16)")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per variant (default 3)")
    parser.add_argument("--iterations", type=int, default=10, help="EM iterations for the agreement (default 10)")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "mixfit_bench_data"))
    args = parser.parse_args(argv)
    n, d, k = bench_em.parse_case(args.case)
    X32 = np.load(bench_em.ensure_data(args.data_dir, n, d, k, "float32"))
    X64 = X32.astype(np.float64)  # the same numbers: only the arithmetic differs
    init = bench_em.initial_params(d, k, "full")
    print(f"# case (N, D, K) = {bench_em.fmt_case(n, d, k)}, full covariance; load average {os.getloadavg()[0]:.2f}")
    print(f"# square GEMM 2000x2000: float64 {bench_em.gemm_rate(dtype=np.float64) / 1e9:.1f} GFLOP/s, "
          f"float32 {bench_em.gemm_rate(dtype=np.float32) / 1e9:.1f} GFLOP/s")

    seconds = {"float32": [], "float64": [], "float32 whitened": []}
    for _ in range(args.repeats):
        seconds["float32"] += bench_em._iteration_seconds("mixfit", X32, k, "full", init, 4)
        seconds["float64"] += bench_em._iteration_seconds("mixfit", X64, k, "full", init, 4)
        with whitened_only():
            seconds["float32 whitened"] += bench_em._iteration_seconds("mixfit", X32, k, "full", init, 4)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    print("\nspeed (median s per EM iteration)")
    for name, value in median.items():
        print(f"  {name:<17} {value:8.4f} s/it   float64 / this = {median['float64'] / value:5.2f}x"
              f"   ({len(seconds[name])} iterations)")

    t0 = time.perf_counter()
    fit64 = fit(X64, k, init, args.iterations)
    fit32 = fit(X32, k, init, args.iterations)
    with whitened_only():
        fit32w = fit(X32, k, init, args.iterations)
    print(f"\nagreement with the float64 fit after {args.iterations} iterations from the same start "
          f"({time.perf_counter() - t0:.0f} s)")
    for name, result in (("float32", fit32), ("float32 whitened", fit32w)):
        numbers = "  ".join(f"{key} {value:.1e}" for key, value in agreement(result, fit64).items())
        print(f"  {name:<17} {numbers}")
    print(f"  (float32 unit roundoff {np.finfo(np.float32).eps / 2:.1e}; lower bound {fit64.lower_bound_:.8f})")
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
