"""The whole fit, initialisation included: mixfit beside scikit-learn, both from their defaults.

    python benchmarks/bench_whole_fit.py                          # (1e6, 32, 16) full float64, EM
    python benchmarks/bench_whole_fit.py --case 1e5,2,5 --cov diag
    python benchmarks/bench_whole_fit.py --vb                     # BayesianGaussianMixture too
    python benchmarks/bench_whole_fit.py --init kmeans kmeans_subsample   # mixfit with each start
    python benchmarks/bench_whole_fit.py --quick                  # (1e5, 32, 16): a smoke run

Each library fits ``GaussianMixture(K, covariance_type=..., n_init=1, init_params='kmeans',
random_state=0)`` (default tol 1e-3 and max_iter 100) on the same data (bench_em.py's cached
mixture) in a fresh subprocess. The same integer random_state gives both the same k-means start
(mixfit hands its legacy RandomState to scikit-learn's KMeans exactly as sklearn.mixture does),
so both run the same number of iterations unless rounding tips a convergence test. ``--init``
fits mixfit once per start named (scikit-learn always from its default, 'kmeans'). Printed per
fit: the whole ``fit`` in seconds, the initialisation (from ``fit``'s start to the first EM pass,
timed at scikit-learn's ``_e_step`` and at mixfit's first ``ArraySource.map_reduce`` after
``engine.starts.initial_stats`` returned), its share of the whole, the iterations, the median
seconds per iteration, and the final lower bound.
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
    init_end = []
    kwargs = {"covariance_type": args.cov, "n_init": 1, "random_state": 0}
    if args.library == "mixfit":
        from mixfit import BayesianGaussianMixture, GaussianMixture
        from mixfit.backends import memory
        from mixfit.engine import starts

        kwargs["init_params"] = args.init[0]
        map_reduce, initial_stats = memory.ArraySource.map_reduce, starts.initial_stats

        def timed(self, *a, **kw):
            stamps.append(time.perf_counter())
            return map_reduce(self, *a, **kw)

        def timed_start(*a, **kw):
            stats = initial_stats(*a, **kw)
            init_end.append(time.perf_counter())
            return stats

        memory.ArraySource.map_reduce = timed
        starts.initial_stats = timed_start
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
    # sklearn: one _e_step per iteration, the first after the init. mixfit: the start's passes
    # (row sample, k-means passes, the partition's statistics), then one map_reduce per iteration.
    if args.library == "mixfit":
        stamps = [t for t in stamps if t > init_end[0]]
    first_iteration = stamps[0]
    per_iteration = np.diff(stamps[:est.n_iter_ + 1])
    print(json.dumps({"total": total, "init": first_iteration - start, "n_iter": int(est.n_iter_),
                      "per_iteration": float(np.median(per_iteration)) if per_iteration.size else float("nan"),
                      "lower_bound": float(est.lower_bound_)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="1e6,32,16", help="N,D,K")
    parser.add_argument("--cov", default="full", choices=("full", "tied", "diag", "spherical"))
    parser.add_argument("--vb", action="store_true", help="BayesianGaussianMixture instead of EM")
    parser.add_argument("--init", nargs="+", default=["kmeans"], help="mixfit's init_params, one fit each")
    parser.add_argument("--quick", action="store_true", help="(1e5, 32, 16) instead of --case")
    parser.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "mixfit_bench_data"))
    parser.add_argument("--libraries", nargs="+", default=["mixfit", "sklearn"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--library", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    n, d, k = (int(float(v)) for v in ("1e5,32,16" if args.quick else args.case).split(","))
    data = ensure_data(args.data_dir, n, d, k, "float64")
    kind = "BayesianGaussianMixture" if args.vb else "GaussianMixture"
    print(f"# whole fit of {kind}({k}, covariance_type={args.cov!r}, n_init=1, random_state=0) on "
          f"({n}, {d}) float64; load {os.getloadavg()[0]:.2f}")
    print(f"{'library':<9}{'init_params':<18}{'fit s':>9}{'init s':>9}{'init %':>8}{'iters':>7}{'s/it':>9}"
          f"{'lower bound':>16}")
    totals = {}
    runs = [(library, init) for library in args.libraries
            for init in (args.init if library == "mixfit" else ["kmeans"])]
    for library, init in runs:
        command = [sys.executable, __file__, "--child", "--library", library, "--data", data, "--k", str(k),
                   "--cov", args.cov, "--init", init] + (["--vb"] if args.vb else [])
        r = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        totals[library, init] = r["total"]
        print(f"{library:<9}{init:<18}{r['total']:>9.2f}{r['init']:>9.2f}{100 * r['init'] / r['total']:>8.1f}"
              f"{r['n_iter']:>7}{r['per_iteration']:>9.3f}{r['lower_bound']:>16.8f}", flush=True)
    if ("sklearn", "kmeans") in totals:
        for init in args.init if "mixfit" in args.libraries else []:
            print(f"# whole fit: sklearn / mixfit with init_params={init!r} = "
                  f"{totals['sklearn', 'kmeans'] / totals['mixfit', init]:.2f}")
    print(f"# load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
