"""The diag / spherical E product by the compiled vector loop (``diag_fused_compiled.
log_kernel_into``) against BLAS's product, alternated in one process.

Usage::

    python benchmarks/bench_diag_product.py                       # (1e6, 32, 16) diag
    python benchmarks/bench_diag_product.py --case 1e6,32,16 --cov spherical --rounds 6

What is measured, and how
-------------------------
Data and parameters: ``bench_em``'s known mixture (cached under --data-dir) and one float64 EM
step from its generating parameters (``bench_float32_diag._fitted_params``). The two paths are
the same code with ``row_features._COMPILED_MIN_COMPONENTS`` at 8 (the compiled loop) or above K
(BLAS's product, the code before), switched between calls in one process:

- ``product``: ``row_features.log_kernel_product`` on one chunk's features (the default chunk
  size; diag only), one BLAS thread, ``--calls`` calls of each alternated; p25 and median microseconds;
- ``accumulate``: ``GaussianEM.accumulate`` on that chunk, the same way (the chunk's whole
  E-step and moments);
- ``iteration``: whole fits from the generating parameters (``tol=0``, ``--iterations``
  iterations, the default threads), alternated ``--rounds`` times; per fit the median wall time
  of an iteration (from the starts of ``ArraySource.map_reduce``, as ``bench_em`` times them)
  and the process's CPU seconds per iteration (the whole fit's, over its iterations); medians
  over the rounds, and how many rounds the compiled loop was the faster of its pair.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_em
import bench_float32_diag

from mixfit import GaussianMixture
from mixfit.backends import memory
from mixfit.families import diag as diag_family
from mixfit.families.diag import _plan
from mixfit.kernels import row_features
from mixfit.kernels.diag_fused import centred_row_features
from mixfit.kernels.row_features import log_kernel_product

COMPILED = row_features._COMPILED_MIN_COMPONENTS
PATHS = {"blas": 2**62, "compiled": COMPILED}
SIZE = {"blas": row_features._COMPILED_MIN_PRODUCT, "compiled": row_features._COMPILED_MIN_PRODUCT}


ONE_PASS = {"blas": True, "compiled": True}
_centred_log_kernel = diag_family.centred_log_kernel


def _two_calls(X, centre, coefficients):
    """``centred_log_kernel``'s results by ``centred_row_features`` then ``log_kernel_product``
    (the code before the one pass)."""
    features = centred_row_features(X, centre)
    return None if features is None else (log_kernel_product(features, coefficients), features)


def _use(path):
    row_features._COMPILED_MIN_COMPONENTS = PATHS[path]
    row_features._COMPILED_MIN_PRODUCT = SIZE[path]
    diag_family.centred_log_kernel = _centred_log_kernel if ONE_PASS[path] else _two_calls


def _alternated(calls, work):
    """{path: [seconds per call]}, the two paths alternated call by call."""
    times = {path: [] for path in PATHS}
    for _ in range(calls):
        for path in PATHS:
            _use(path)
            start = time.perf_counter()
            work()
            times[path].append(time.perf_counter() - start)
    _use("compiled")
    return times


def _report(name, times):
    p25 = {path: np.percentile(t, 25) * 1e6 for path, t in times.items()}
    med = {path: np.median(t) * 1e6 for path, t in times.items()}
    print(f"{name:<10} blas p25 {p25['blas']:8.1f} us median {med['blas']:8.1f} | compiled p25 "
          f"{p25['compiled']:8.1f} us median {med['compiled']:8.1f} | ratio of medians "
          f"{med['compiled'] / med['blas']:.3f}", flush=True)


def _fit_iteration(X, k, cov, init, iterations):
    """(median wall seconds per iteration, CPU seconds per iteration) of one fit."""
    weights, means, precisions = init
    est = GaussianMixture(k, covariance_type=cov, tol=0.0, max_iter=iterations, weights_init=weights,
                          means_init=means, precisions_init=precisions)
    stamps = []
    map_reduce = memory.ArraySource.map_reduce

    def timed(self, *a, **kw):
        stamps.append(time.perf_counter())
        return map_reduce(self, *a, **kw)

    memory.ArraySource.map_reduce = timed
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tol=0: not converged
            cpu = time.process_time()
            est.fit(X)
            cpu = time.process_time() - cpu
    finally:
        memory.ArraySource.map_reduce = map_reduce
    return float(np.median(np.diff(stamps))), cpu / iterations


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", default="1e6,32,16")
    p.add_argument("--cov", default="diag", choices=["diag", "spherical"])
    p.add_argument("--calls", type=int, default=400)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--iterations", type=int, default=8)
    p.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "mixfit_bench_data"))
    p.add_argument("--blas-min-product", type=int, default=row_features._COMPILED_MIN_PRODUCT,
                   help="the 'blas' side: the compiled loop from this many entries of ln rho, with no "
                        "minimum of components (to time a change of that threshold alone)")
    p.add_argument("--one-pass", action="store_true",
                   help="the 'blas' side: the compiled product after the features' own pass (the "
                        "diag family's features and product in two calls, to time the one pass alone)")
    args = p.parse_args(argv)
    if args.one_pass:
        PATHS["blas"], ONE_PASS["blas"] = COMPILED, False
    if args.blas_min_product != row_features._COMPILED_MIN_PRODUCT:
        PATHS["blas"], SIZE["blas"] = COMPILED, args.blas_min_product
    n, d, k = bench_em.parse_case(args.case)
    print(f"# ({n}, {d}, {k}) {args.cov} float64; load average {os.getloadavg()[0]:.2f}", flush=True)
    params = bench_float32_diag._fitted_params(n, d, k, args.cov, args.data_dir)
    model, params, chunks = bench_float32_diag._setup(n, d, k, args.cov, np.float64, args.data_dir, 1, params)
    chunk = chunks[0]
    centre, means_c, constant = model._terms(params, d)
    with threadpool_limits(1):
        if args.cov == "diag":  # the product alone, on the diag features and coefficients
            features = centred_row_features(chunk, centre).copy()
            coefficients = _plan(np.float64, means_c, params.prec_chol, constant)[0]
            print(f"# chunk of {chunk.shape[0]} rows; features {features.shape}")
            _report("product", _alternated(args.calls, lambda: log_kernel_product(features, coefficients)))
        _report("accumulate", _alternated(args.calls, lambda: model.accumulate(chunk, params, None)))
    X = np.load(bench_em.ensure_data(args.data_dir, n, d, k, "float64"))
    init = bench_em.initial_params(d, k, args.cov)
    rows = {path: [] for path in PATHS}
    for _ in range(args.rounds):
        for path in PATHS:
            _use(path)
            rows[path].append(_fit_iteration(X, k, args.cov, init, args.iterations))
    _use("compiled")
    wins = sum(c[0] < b[0] for b, c in zip(rows["blas"], rows["compiled"]))
    for path, values in rows.items():
        wall = [v[0] * 1e3 for v in values]
        cpu = [v[1] * 1e3 for v in values]
        print(f"iteration  {path:<8} wall ms median {statistics.median(wall):7.1f} "
              f"({' '.join(f'{w:.1f}' for w in wall)}) | CPU ms median {statistics.median(cpu):7.1f} "
              f"({' '.join(f'{c:.1f}' for c in cpu)})")
    print(f"# compiled below its pair in {wins} of {args.rounds} rounds; load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
