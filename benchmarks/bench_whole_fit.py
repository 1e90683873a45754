"""The whole fit, initialisation included: mixfit beside scikit-learn, both from their defaults.

    python benchmarks/bench_whole_fit.py                          # (1e6, 32, 16) full float64, EM
    python benchmarks/bench_whole_fit.py --case 1e5,2,5 --cov diag
    python benchmarks/bench_whole_fit.py --vb                     # BayesianGaussianMixture too

Each library fits ``GaussianMixture(K, covariance_type=..., n_init=1, init_params='kmeans',
random_state=0)`` (default tol 1e-3 and max_iter 100) on the same data (bench_em.py's cached
mixture) in a fresh subprocess. The same integer random_state gives both the same k-means start
(mixfit hands its legacy RandomState to scikit-learn's KMeans exactly as sklearn.mixture does),
so both run the same number of iterations unless rounding tips a convergence test. Printed per
library: the whole ``fit`` in seconds, the initialisation (from ``fit``'s start to the first EM
pass, timed at scikit-learn's ``_e_step`` and at mixfit's ``ArraySource.map_reduce``; mixfit's
first pass after the k-means labels is the partition's statistics), the iterations, the
median seconds per iteration, and the final lower bound.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_em import ensure_data


def child(args):
    X = np.load(args.data)
    K = args.k
    stamps = []
    kwargs = {"covariance_type": args.cov, "n_init": 1, "random_state": 0}
    if args.library == "mixfit":
        from mixfit import BayesianGaussianMixture, GaussianMixture
        from mixfit.backends import memory

        map_reduce = memory.ArraySource.map_reduce

        def timed(self, *a, **kw):
            stamps.append(time.perf_counter())
            return map_reduce(self, *a, **kw)

        memory.ArraySource.map_reduce = timed
    else:
        from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
    cls = BayesianGaussianMixture if args.vb else GaussianMixture
    est = cls(K, **kwargs)
    if args.library == "sklearn":
        e_step = est._e_step

        def timed_e_step(*a, **kw):
            stamps.append(time.perf_counter())
            return e_step(*a, **kw)

        est._e_step = timed_e_step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        est.fit(X)
        total = time.perf_counter() - start
    # sklearn: one _e_step per iteration, the first after the init. mixfit: one map_reduce for the
    # initial partition's statistics, then one per iteration (the init pass counts as init).
    first_iteration = stamps[0] if args.library == "sklearn" else stamps[1]
    per_iteration = np.diff(stamps[:est.n_iter_ + 1] if args.library == "sklearn" else stamps[1:])
    print(json.dumps({"total": total, "init": first_iteration - start, "n_iter": int(est.n_iter_),
                      "per_iteration": float(np.median(per_iteration)) if per_iteration.size else float("nan"),
                      "lower_bound": float(est.lower_bound_)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="1e6,32,16", help="N,D,K")
    parser.add_argument("--cov", default="full", choices=("full", "tied", "diag", "spherical"))
    parser.add_argument("--vb", action="store_true", help="BayesianGaussianMixture instead of EM")
    parser.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "mixfit_bench_data"))
    parser.add_argument("--libraries", nargs="+", default=["mixfit", "sklearn"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--library", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    n, d, k = (int(float(v)) for v in args.case.split(","))
    data = ensure_data(args.data_dir, n, d, k, "float64")
    kind = "BayesianGaussianMixture" if args.vb else "GaussianMixture"
    print(f"# whole fit of {kind}({k}, covariance_type={args.cov!r}, n_init=1, random_state=0) on "
          f"({n}, {d}) float64; load {os.getloadavg()[0]:.2f}")
    print(f"{'library':<9}{'fit s':>9}{'init s':>9}{'iters':>7}{'s/it':>9}{'lower bound':>16}")
    totals = {}
    for library in args.libraries:
        command = [sys.executable, __file__, "--child", "--library", library, "--data", data, "--k", str(k),
                   "--cov", args.cov] + (["--vb"] if args.vb else [])
        r = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        totals[library] = r["total"]
        print(f"{library:<9}{r['total']:>9.2f}{r['init']:>9.2f}{r['n_iter']:>7}{r['per_iteration']:>9.3f}"
              f"{r['lower_bound']:>16.8f}", flush=True)
    if len(totals) == 2:
        print(f"# whole fit: sklearn / mixfit = {totals['sklearn'] / totals['mixfit']:.2f}; "
              f"load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
