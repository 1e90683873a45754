"""float32 against float64 for diag / spherical EM at large K: CPU seconds of one pass's E-step
and moments on one core, the two dtypes alternated in one process.

Usage::

    python benchmarks/bench_float32_diag.py            # (1e5, 60, 512) and (2e5, 60, 2048), diag
    python benchmarks/bench_float32_diag.py --quick    # (2e4, 60, 512), a few seconds
    python benchmarks/bench_float32_diag.py --cases 1e6,32,16 --cov spherical --repeats 9

What is measured, and how
-------------------------
Data: ``bench_em``'s known mixture (cached under --data-dir), float64 and float32 copies of the
same rows; parameters: the generating mixture's. For each dtype, ``GaussianEM.accumulate`` runs
over the first ``--chunks`` chunks of its default size (the estimators' ``default_chunk_size``)
on one BLAS thread, and the thread's CPU time (``time.thread_time``) per row is scaled to N: a
pass's work on one core. The two dtypes alternate ``--repeats`` times and the best of each is
printed with the ratio float64 / float32 (the issue 17 bar: at least 1.7). CPU time rather than
wall time: on a shared machine other processes' work inflates wall time, not this thread's CPU
time (their cache traffic still shows up: compare within one run). ``float64 share`` is the
share of (chunk, component) pairs whose float32 moment sums the rounding guard sent to the
float64 path (kernels/row_features.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_em

from mixfit.backends.memory import default_chunk_size
from mixfit.families.registry import make_covariance
from mixfit.kernels import row_features
from mixfit.models.gaussian_em import GaussianEM, GaussianParams

CASES = [(100_000, 60, 512), (200_000, 60, 2048)]
QUICK_CASES = [(20_000, 60, 512)]


def _setup(n, d, k, cov, dtype, data_dir, n_chunks):
    """The model, the params and the first chunks of the data in ``dtype``."""
    covariance = make_covariance(cov)
    dtype = np.dtype(dtype)
    rows = default_chunk_size(d, k, dtype.itemsize, covariance.workspace_columns(d, k), covariance.chunk_bytes)
    X = np.load(bench_em.ensure_data(data_dir, n, d, k, dtype.name), mmap_mode="r")
    chunks = [np.array(X[i * rows:(i + 1) * rows]) for i in range(min(n_chunks, -(-n // rows)))]
    weights, means, precisions = bench_em.initial_params(d, k, cov)
    params = GaussianParams(weights, means, np.sqrt(precisions)).astype(dtype)
    return GaussianEM(covariance, 1e-6, dtype), params, chunks


def _unkept_share(model, params, chunks):
    """The share of (chunk, component) pairs the float32 guard sends to float64."""
    counted = []
    original = row_features.unkept_components

    def counting(*args, **kwargs):
        unkept = original(*args, **kwargs)
        counted.append(unkept.mean())
        return unkept

    row_features.unkept_components = counting
    try:
        for chunk in chunks:
            model.accumulate(chunk, params, None)
    finally:
        row_features.unkept_components = original
    return float(np.mean(counted)) if counted else 0.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--cases", nargs="+", type=bench_em.parse_case)
    p.add_argument("--cov", nargs="+", default=["diag"], choices=["diag", "spherical"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--chunks", type=int, default=8, help="chunks timed per dtype and repeat")
    p.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "mixfit_bench_data"))
    args = p.parse_args(argv)
    cases = args.cases or (QUICK_CASES if args.quick else CASES)
    repeats = 2 if args.quick else args.repeats
    print(f"# one core, CPU seconds per pass (scaled to N), best of {repeats}; load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{'(N, D, K)':<18} {'cov':<9} {'float64':>8} {'float32':>8} {'ratio':>6} {'float64 share':>13}")
    for n, d, k in cases:
        for cov in args.cov:
            setups = {dtype: _setup(n, d, k, cov, dtype, args.data_dir, args.chunks)
                      for dtype in ("float64", "float32")}
            best = {}
            with threadpool_limits(1, "blas"):
                for model, params, chunks in setups.values():
                    model.accumulate(chunks[0], params, None)  # warm: memos, buffers
                for _ in range(repeats):
                    for dtype, (model, params, chunks) in setups.items():
                        start = time.thread_time()
                        for chunk in chunks:
                            model.accumulate(chunk, params, None)
                        per_row = (time.thread_time() - start) / sum(len(c) for c in chunks)
                        best[dtype] = min(best.get(dtype, np.inf), per_row * n)
                share = _unkept_share(*setups["float32"])
            print(f"{bench_em.fmt_case(n, d, k):<18} {cov:<9} {best['float64']:>8.3f} {best['float32']:>8.3f} "
                  f"{best['float64'] / best['float32']:>6.2f} {share:>13.2f}", flush=True)
    print(f"# load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
