"""mixfit's Bernoulli mixture vs a plain numpy/scipy EM: seconds per iteration and peak memory.

Usage::

    python benchmarks/bench_bernoulli.py            # N = 1e6, D = 100, K = 20, dense and sparse
    python benchmarks/bench_bernoulli.py --quick    # N = 1e5 (seconds)
    python benchmarks/bench_bernoulli.py --n 200000 --d 100 --k 20 --iters 5

Data: binary rows from a K-component Bernoulli mixture whose success probabilities are drawn
from Beta(0.5, 4) (about 11% ones, as in bag-of-words data), held as uint8 (dense) and as a
CSR matrix with uint8 values (sparse). Both implementations run EM from the same random
parameters for ``--iters`` iterations (tol = 0: every iteration runs).

- mixfit: ``BernoulliMixture(method='em', init_params='random')``, chunked E-step (sparse x
  dense products for CSR chunks), the data passed as they are (uint8 or CSR).
- numpy: the textbook whole-array EM: X as float64 (dense; the conversion is part of its memory)
  or the whole CSR matrix (sparse), (N, K) log-responsibilities, log-sum-exp, X^T R.

Time per iteration: mixfit, the gaps between the timestamps of ``engine.progress`` callbacks
(one per iteration); numpy, each iteration timed. The median is reported. Peak memory: each
(implementation, storage) runs in a fresh subprocess; the peak of ``tracemalloc`` (which sees
every numpy and scipy.sparse array) from after the data are loaded to the end of the fits is the
peak memory *above the data*. pomegranate
is not run (it would pull a torch build this machine does not have installed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp

SEED = 0


def make_data(n, d, k, path):
    rng = np.random.default_rng(SEED)
    means = rng.beta(0.5, 4.0, size=(k, d))
    labels = rng.integers(k, size=n)
    X = np.empty((n, d), dtype=np.uint8)
    for start in range(0, n, 100_000):
        rows = labels[start : start + 100_000]
        X[start : start + rows.size] = rng.random((rows.size, d)) < means[rows]
    np.save(os.path.join(path, "dense.npy"), X)
    sp.save_npz(os.path.join(path, "sparse.npz"), sp.csr_matrix(X), compressed=False)


def numpy_em(X, k, iters, rng):
    """Whole-array EM (PRML 9.56-9.60) with the add-one Beta(2, 2) mode, as mixfit's default."""
    if not sp.issparse(X):
        X = X.astype(np.float64)  # a plain implementation multiplies in float
    n = X.shape[0]
    weights = np.full(k, 1.0 / k)
    means = rng.uniform(0.25, 0.75, size=(k, X.shape[1]))
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        log_rho = np.asarray(X @ (np.log(means) - np.log1p(-means)).T)  # (N, K)
        log_rho += np.log1p(-means).sum(axis=1) + np.log(weights)
        peak = log_rho.max(axis=1, keepdims=True)
        resp = np.exp(log_rho - peak)
        total = resp.sum(axis=1, keepdims=True)
        resp /= total
        _ = float((peak + np.log(total)).sum())  # the log-likelihood
        mass = resp.sum(axis=0)
        first = np.asarray(X.T @ resp).T  # (K, D)
        weights = mass / n
        means = (first + 1.0) / (mass[:, None] + 2.0)
        times.append(time.perf_counter() - start)
    return times


def mixfit_em(X, k, iters):
    import warnings

    from mixfit import BernoulliMixture
    from mixfit.engine import progress

    stamps = []
    with progress(lambda i, lb: stamps.append(time.perf_counter())), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        BernoulliMixture(k, init_params="random", tol=0.0, max_iter=iters + 1, random_state=SEED).fit(X)
    return list(np.diff(stamps))


def worker(spec):
    path, impl, storage, k, iters = spec["path"], spec["impl"], spec["storage"], spec["k"], spec["iters"]
    np.ones((300, 300)) @ np.ones((300, 300))  # BLAS buffers exist before the baseline
    X = np.load(os.path.join(path, "dense.npy")) if storage == "dense" else sp.load_npz(os.path.join(path, "sparse.npz"))
    if impl == "mixfit":
        import mixfit  # noqa: F401  (imported before the measurement starts)
    tracemalloc.start()
    times = mixfit_em(X, k, iters) if impl == "mixfit" else numpy_em(X, k, iters, np.random.default_rng(SEED))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    data_mb = X.nbytes if storage == "dense" else X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    print(json.dumps({"s_per_it": statistics.median(times), "peak_mb": peak / 2**20,
                      "data_mb": data_mb / 2**20}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="N = 1e5")
    p.add_argument("--n", type=float, default=1e6)
    p.add_argument("--d", type=int, default=100)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    n = int(1e5 if args.quick else args.n)
    with tempfile.TemporaryDirectory() as path:
        make_data(n, args.d, args.k, path)
        print(f"Bernoulli mixture EM, N={n:.0e} D={args.d} K={args.k}, median of {args.iters} iterations")
        print(f"{'storage':8s} {'data MB':>8s} {'mixfit s/it':>12s} {'numpy s/it':>11s} {'ratio':>6s} "
              f"{'mixfit MB':>10s} {'numpy MB':>9s}")
        for storage in ("dense", "sparse"):
            out = {}
            for impl in ("mixfit", "numpy"):
                spec = json.dumps({"path": path, "impl": impl, "storage": storage, "k": args.k, "iters": args.iters})
                run = subprocess.run([sys.executable, __file__, "--worker", spec], capture_output=True, text=True,
                                     check=True)
                out[impl] = json.loads(run.stdout.strip().splitlines()[-1])
            m, q = out["mixfit"], out["numpy"]
            print(f"{storage:8s} {m['data_mb']:8.0f} {m['s_per_it']:12.3f} {q['s_per_it']:11.3f} "
                  f"{q['s_per_it'] / m['s_per_it']:6.2f} {m['peak_mb']:10.0f} {q['peak_mb']:9.0f}")


if __name__ == "__main__":
    main()
