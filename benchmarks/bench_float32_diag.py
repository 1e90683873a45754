"""float32 against float64 for diag / spherical EM at large K: CPU seconds of one pass's E-step
and moments on one core, the two dtypes alternated in one process.

Usage::

    python benchmarks/bench_float32_diag.py            # (1e5, 60, 512) and (2e5, 60, 2048), diag
    python benchmarks/bench_float32_diag.py --quick    # (2e4, 60, 512), a few seconds
    python benchmarks/bench_float32_diag.py --cases 1e6,32,16 --cov spherical --repeats 9

What is measured, and how
-------------------------
Data: ``bench_em``'s known mixture (cached under --data-dir), float64 and float32 copies of the
same rows; parameters: one float64 EM step from the generating mixture over the whole data (as a
fit's second iteration sees them). For each dtype, ``GaussianEM.accumulate`` runs over the
chunks of its default size (the estimators' ``default_chunk_size``; the first ``--chunks``, by
default all: a whole pass) on one BLAS thread, as one pass of the fitting loop runs them
(``float32_pass.settled_sum``: the float32 moments' rounding guard checked on the pass's sums, a
second pass where it fails), and the thread's CPU time (``time.thread_time``) per row is scaled
to N: a pass's work on one core. The two dtypes alternate ``--repeats`` times and the best of each is
printed with the ratio float64 / float32 (the issue 17 bar: at least 1.7). CPU time rather than
wall time: on a shared machine other processes' work inflates wall time, not this thread's CPU
time (their cache traffic still shows up: compare within one run). ``float64 share`` is the
share of (chunk, component) pairs whose float32 moment sums the rounding guard sent to the
float64 path (kernels/row_features.py).
"""

from __future__ import annotations

import argparse
import functools
import operator
import os
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_em

from mixfit import GaussianMixture
from mixfit.backends.memory import default_chunk_size
from mixfit.families.registry import make_covariance

try:
    from mixfit.kernels import float32_pass
except ImportError:  # a mixfit before the pass-level guard (bench_commits): each chunk checks its own
    float32_pass = None
from mixfit.models.gaussian_em import GaussianEM, GaussianParams

CASES = [(100_000, 60, 512), (200_000, 60, 2048)]
QUICK_CASES = [(20_000, 60, 512)]


def _fitted_params(n, d, k, cov, data_dir):
    """One float64 EM step over the whole data from the generating mixture: the parameters a
    fit's second pass sees (the first pass of a fit from unfitted parameters may need a second,
    kernels/float32_pass.py)."""
    weights, means, precisions = bench_em.initial_params(d, k, cov)
    X = np.load(bench_em.ensure_data(data_dir, n, d, k, "float64"), mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=1: not converged
        fit = GaussianMixture(k, covariance_type=cov, max_iter=1, tol=0, weights_init=weights,
                              means_init=means, precisions_init=precisions).fit(X)
    return GaussianParams(fit.weights_, fit.means_, fit.precisions_cholesky_)


def _setup(n, d, k, cov, dtype, data_dir, n_chunks, params):
    """The model, the params and the first chunks of the data in ``dtype``."""
    covariance = make_covariance(cov)
    dtype = np.dtype(dtype)
    rows = default_chunk_size(d, k, dtype.itemsize, covariance.workspace_columns(d, k), covariance.chunk_bytes)
    X = np.load(bench_em.ensure_data(data_dir, n, d, k, dtype.name), mmap_mode="r")
    count = -(-n // rows) if n_chunks <= 0 else min(n_chunks, -(-n // rows))
    chunks = [np.array(X[i * rows:(i + 1) * rows]) for i in range(count)]
    return GaussianEM(covariance, 1e-6, dtype), params.astype(dtype), chunks


def _one_pass(model, params, chunks):
    """The chunks' statistics as one pass of the fitting loop sums them."""
    def map_reduce(accumulate):
        return functools.reduce(operator.add, (accumulate(chunk, None) for chunk in chunks))

    if float32_pass is None:
        return map_reduce(lambda X, w: model.accumulate(X, params, w))
    return float32_pass.settled_sum(map_reduce, lambda X, w: model.accumulate(X, params, w))


def _shares(model, params, chunks):
    """The share of components the pass sums in float64 from its first chunk, and the number
    its check sent to a second pass."""
    if float32_pass is None:
        return float("nan"), 0
    seen = []
    original = float32_pass.pass_unkept

    def counting(sums):
        unkept = original(sums)
        seen.append((0.0 if sums.predicted is None else sums.predicted.mean(),
                     0 if unkept is None else int(unkept.sum())))
        return unkept

    float32_pass.pass_unkept = counting
    try:
        _one_pass(model, params, chunks)
    finally:
        float32_pass.pass_unkept = original
    return seen[0] if seen else (0.0, 0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--cases", nargs="+", type=bench_em.parse_case)
    p.add_argument("--cov", nargs="+", default=["diag"], choices=["diag", "spherical"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--chunks", type=int, default=0,
                   help="chunks timed per dtype and repeat (0: all, a whole pass; the pass's rounding "
                        "check of fewer chunks sees their few rows of each component, not the pass's)")
    p.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "mixfit_bench_data"))
    args = p.parse_args(argv)
    cases = args.cases or (QUICK_CASES if args.quick else CASES)
    repeats = 2 if args.quick else args.repeats
    print(f"# one core, CPU seconds per pass (scaled to N), best of {repeats}; load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{'(N, D, K)':<18} {'cov':<9} {'float64':>8} {'float32':>8} {'ratio':>6} {'float64 share':>13} {'2nd':>4}")
    for n, d, k in cases:
        for cov in args.cov:
            params = _fitted_params(n, d, k, cov, args.data_dir)
            setups = {dtype: _setup(n, d, k, cov, dtype, args.data_dir, args.chunks, params)
                      for dtype in ("float64", "float32")}
            best = {}
            with threadpool_limits(1, "blas"):
                for model, params, chunks in setups.values():
                    _one_pass(model, params, chunks[:1])  # warm: memos, buffers
                for _ in range(repeats):
                    for dtype, (model, params, chunks) in setups.items():
                        start = time.thread_time()
                        _one_pass(model, params, chunks)
                        per_row = (time.thread_time() - start) / sum(len(c) for c in chunks)
                        best[dtype] = min(best.get(dtype, np.inf), per_row * n)
                share, second = _shares(*setups["float32"])
            print(f"{bench_em.fmt_case(n, d, k):<18} {cov:<9} {best['float64']:>8.3f} {best['float32']:>8.3f} "
                  f"{best['float64'] / best['float32']:>6.2f} {share:>13.2f} {second:>4}", flush=True)
    print(f"# load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
