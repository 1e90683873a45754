"""Model-selection sweep on Old Faithful: mixfit.select_model beside scikit-learn's equivalent loop.

A full sweep K = 1..9 x {full, tied, diag, spherical} (36 cells). mixfit runs its default
selection: per cell, the model-based hierarchical start (one tree for the sweep) and 10 k-means
starts (with random_state=0, scikit-learn's own ten), the better kept, BIC/AIC/ICL computed.
scikit-learn's loop fits ``GaussianMixture(K, covariance_type=t, n_init=n)`` and calls ``bic``
per cell, once with n_init=1 (its default) and once with n_init=10 (the starts mixfit also runs). Each figure is the
median of ``--repeat`` runs after one warm-up; the load average is printed because the machine
is shared. The bar: mixfit's sweep under 2 s.

    python benchmarks/bench_selection.py [--repeat 5] [--jobs 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

from sklearn.mixture import GaussianMixture as SkGaussianMixture

from mixfit import select_model
from mixfit.datasets import load_faithful

TYPES = ("full", "tied", "diag", "spherical")
KS = range(1, 10)


def sklearn_sweep(X, n_init):
    best = None
    for covariance_type in TYPES:
        for k in KS:
            model = SkGaussianMixture(k, covariance_type=covariance_type, n_init=n_init, random_state=0).fit(X)
            bic = model.bic(X)
            if best is None or bic < best[0]:
                best = (bic, k, covariance_type)
    return best


def timed(fn, repeat):
    fn()  # warm-up: imports, thread pools, caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, _ = load_faithful()
    print(f"Old Faithful {X.shape}, K = 1..9 x {len(TYPES)} covariance types; load average {os.getloadavg()}")
    ours, ours_min, result = timed(lambda: select_model(X, KS, TYPES, random_state=0, n_jobs=args.jobs), args.repeat)
    best = result.best
    rows = [("mixfit select_model (hier. + 10 k-means starts)", ours, ours_min,
             f"K={best.n_components} {best.covariance_type} BIC {best.criterion:.2f}")]
    for n_init in (1, 10):
        median, fastest, (bic, k, t) = timed(lambda n_init=n_init: sklearn_sweep(X, n_init), args.repeat)
        rows.append((f"scikit-learn loop, n_init={n_init}", median, fastest, f"K={k} {t} BIC {bic:.2f}"))
    print(f"{'':48s} {'median s':>9s} {'min s':>7s} {'ratio':>6s}  best cell")
    for name, median, fastest, note in rows:
        print(f"{name:48s} {median:9.3f} {fastest:7.3f} {median / ours:6.2f}  {note}")
    print(f"bar (mixfit under 2 s): {'met' if ours < 2.0 else 'NOT met'}; load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
