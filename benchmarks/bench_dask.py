"""One EM iteration on a dask LocalCluster, against the cost model of docs/scale.md.

    python benchmarks/bench_dask.py                        # 2 workers, 2 and 4 blocks per worker
    python benchmarks/bench_dask.py --rows 2e6 --features 16 --components 8

Measures, per configuration: the time of one E-step pass (map accumulate over the row blocks,
tree-sum, on the client: ``DaskSource.map_reduce``), the same pass in one process on the same
rows (``ArraySource`` with one thread: the compute term), the size of one statistics value as
pickled (what a block sends), and the tree depth; prints the model's prediction beside it.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import time

import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster, wait

from mixfit.backends import ArraySource
from mixfit.backends import dask as dask_backend
from mixfit.families.registry import make_covariance
from mixfit.models import GaussianEM, GaussianParams


def make_case(n_rows, D, K, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, D))
    cov = make_covariance("full")
    params = GaussianParams(np.full(K, 1 / K), rng.standard_normal((K, D)), np.repeat(np.eye(D)[None], K, axis=0))
    return X, GaussianEM(cov, 1e-6), params


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e6)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n, D, K, W = int(args.rows), args.features, args.components, args.workers
    X, model, params = make_case(n, D, K)

    def accumulate(Xc, w):
        return model.accumulate(Xc, params, w)

    stats_bytes = len(pickle.dumps(accumulate(X[:1000], None)))
    local = ArraySource(X, None, 8192, n_threads=1)
    t_compute = median_time(lambda: local.map_reduce(accumulate), args.repeats)
    print(f"N={n:,} D={D} K={K}: one process, one thread: {t_compute:.3f} s per pass "
          f"({n / t_compute / 1e6:.2f} M rows/s); one statistics value {stats_bytes} bytes")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with LocalCluster(n_workers=W, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        for per_worker in [2, 4]:
            blocks = W * per_worker
            Xd = da.from_array(X, chunks=(math.ceil(n / blocks), D)).persist()  # data resident on workers
            wait(Xd)
            source = dask_backend.DaskSource(Xd, None, 8192)
            source.map_reduce(accumulate)  # warm up: imports, function cache
            t_pass = median_time(lambda source=source: source.map_reduce(accumulate), args.repeats)
            depth = math.ceil(math.log(blocks, dask_backend._FAN_IN)) if blocks > 1 else 0
            tasks = blocks + sum(math.ceil(blocks / dask_backend._FAN_IN ** i)
                                 for i in range(1, depth + 1))
            print(f"{W} workers x {per_worker} blocks = {blocks} blocks: {t_pass:.3f} s per pass; "
                  f"compute alone / workers = {t_compute / W:.3f} s; tree depth {depth}, {tasks} tasks; "
                  f"overhead {t_pass - t_compute / W:.3f} s = {(t_pass - t_compute / W) / tasks * 1e3:.1f} ms "
                  "per task")
        print(f"client: {client}")


if __name__ == "__main__":
    main()
