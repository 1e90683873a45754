"""mixfit beside Apache Spark ML's GaussianMixture (and scikit-learn) on the same two cores.

    python benchmarks/bench_spark.py                      # (1e6, 8, 8) full, the issue's case
    python benchmarks/bench_spark.py --case 1e5,8,8 --iters 5

Optional: needs ``pyspark`` and a Java runtime (neither is a mixfit dependency); without them it
says so and exits 0. Spark ML fits full covariance only and takes no starting parameters, so the
per-iteration time is taken the same way for every library, from the public API only:
``(T(max_iter = 1 + m) - T(max_iter = 1)) / m`` with ``tol = 0`` (every fit runs all its
iterations; the difference removes initialisation and, for Spark, job planning), the best of
``--repeats`` pairs. mixfit and scikit-learn start from the generating mixture (``*_init``);
Spark from its own random start (its per-iteration cost does not depend on where it starts).
Spark runs on ``local[2]`` with the data cached in memory before timing; each library runs in
its own subprocess so that Spark's JVM never shares the cores with another library's fit.
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
from bench_em import ensure_data, initial_params


def _python_fit_seconds(library, X, k, max_iter):
    init = initial_params(X.shape[1], k, "full")
    if library == "mixfit":
        from mixfit import GaussianMixture
    else:
        from sklearn.mixture import GaussianMixture
    est = GaussianMixture(k, covariance_type="full", tol=0.0, max_iter=max_iter, weights_init=init[0],
                          means_init=init[1], precisions_init=init[2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        est.fit(X)
        return time.perf_counter() - started


def _spark_fit_seconds_factory(X, k):
    from pyspark.ml.clustering import GaussianMixture
    from pyspark.ml.linalg import Vectors
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("mixfit-bench")
             .config("spark.driver.memory", "8g").config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    rows = [(Vectors.dense(row),) for row in X]
    frame = spark.createDataFrame(rows, ["features"]).repartition(2).cache()
    frame.count()  # materialise the cache before any timing
    del rows

    def fit_seconds(max_iter):
        est = GaussianMixture(k=k, maxIter=max_iter, tol=0.0, seed=0)
        started = time.perf_counter()
        est.fit(frame)
        return time.perf_counter() - started

    return fit_seconds


def child(args):
    X = np.load(args.data)
    if args.library == "spark":
        fit_seconds = _spark_fit_seconds_factory(X, args.k)
    else:
        def fit_seconds(max_iter):
            return _python_fit_seconds(args.library, X, args.k, max_iter)
    fit_seconds(1)  # warm up (imports, JIT, Spark's first job)
    per_iteration = []
    for _ in range(args.repeats):
        one = fit_seconds(1)
        many = fit_seconds(1 + args.iters)
        per_iteration.append((many - one) / args.iters)
    print(json.dumps({"per_iteration": min(per_iteration)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="1e6,8,8", help="N,D,K")
    parser.add_argument("--iters", type=int, default=10, help="m: iterations between the two fits")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--libraries", nargs="+", default=["mixfit", "sklearn", "spark"])
    parser.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "mixfit_bench_data"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--library", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    libraries = list(args.libraries)
    if "spark" in libraries:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            print("# pyspark is not installed: Spark skipped")
            libraries.remove("spark")
        if subprocess.run(["java", "-version"], capture_output=True, check=False).returncode != 0 and "spark" in libraries:
            print("# no Java runtime: Spark skipped")
            libraries.remove("spark")
    n, d, k = (int(float(v)) for v in args.case.split(","))
    data = ensure_data(args.data_dir, n, d, k, "float64")
    print(f"# full covariance, ({n}, {d}, {k}) float64, per-iteration time = (T(1 + {args.iters}) - T(1)) / "
          f"{args.iters}, best of {args.repeats}; load {os.getloadavg()[0]:.2f}")
    results = {}
    for library in libraries:
        command = [sys.executable, __file__, "--child", "--library", library, "--data", data, "--k", str(k),
                   "--iters", str(args.iters), "--repeats", str(args.repeats)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[library] = json.loads(out.strip().splitlines()[-1])["per_iteration"]
        ratio = "" if library == "mixfit" or "mixfit" not in results else (
            f"   {results[library] / results['mixfit']:.2f}x mixfit's time")
        print(f"{library:<8}{results[library]:>9.3f} s/it{ratio}", flush=True)
    print(f"# load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
