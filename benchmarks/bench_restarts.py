"""GaussianMixture.fit with n_init restarts: stacked (small in-memory data) beside one after
another, and scikit-learn's, from one run.

Usage::

    python benchmarks/bench_restarts.py            # a grid of small shapes, n_init = 10
    python benchmarks/bench_restarts.py --quick    # two shapes, one repeat

Each case fits ``GaussianMixture(K, covariance_type, n_init, init_params=--init (default
'kmeans'), random_state=0)`` (default tol and max_iter) on data drawn from a K-component mixture (bench_em's
generator). mixfit runs twice: as released (the restarts stacked where
``estimators/restarts.py`` routes them) and with the stacked path switched off
(``_MAX_STACKED_VALUES = 0``: engine.fit's restarts one after another). Printed: median seconds
of ``--repeats`` fits each, the stacked speed-up, scikit-learn's seconds (one fit) and the ratio
to it, and the largest difference of the fitted means, weights and lower bound between the two
mixfit paths (the bar: 1e-10; components put in one order first, as two restarts reaching one
optimum in another order tie to rounding).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_em import make_data

GRID = [(200, 2, 2, "full"), (400, 2, 3, "full"), (1000, 3, 4, "diag"), (2000, 5, 4, "full"),
        (5000, 8, 5, "full"), (20_000, 10, 5, "full"), (50_000, 4, 4, "diag")]
QUICK = [(400, 2, 3, "full"), (5000, 8, 5, "full")]


def timed_fit(cls, params, X, repeats):
    times, fit = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        fit = cls(**params).fit(X)
        times.append(time.perf_counter() - start)
    return statistics.median(times), fit


def ordered(fit):
    order = np.lexsort(fit.means_.T[::-1])
    return fit.means_[order], fit.weights_[order]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--init", default="kmeans", help="init_params of every fit")
    args = parser.parse_args()
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from mixfit import GaussianMixture
    from mixfit.estimators import restarts

    repeats = 1 if args.quick else args.repeats
    print(f"# n_init={args.n_init}, init_params={args.init!r}, median of {repeats}; load {os.getloadavg()[0]:.2f}")
    print(f"{'n':>7}{'D':>4}{'K':>4}{'cov':>6}{'stacked s':>11}{'serial s':>10}{'speed-up':>10}{'sklearn s':>11}"
          f"{'sk/stacked':>12}{'max diff':>10}")
    limit = restarts._MAX_STACKED_VALUES
    for n, d, k, cov in QUICK if args.quick else GRID:
        X = make_data(n, d, k)
        params = {"n_components": k, "covariance_type": cov, "n_init": args.n_init, "random_state": 0,
                  "init_params": args.init}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stacked_s, stacked = timed_fit(GaussianMixture, params, X, repeats)
            restarts._MAX_STACKED_VALUES = 0
            serial_s, serial = timed_fit(GaussianMixture, params, X, repeats)
            restarts._MAX_STACKED_VALUES = limit
            sk_s, _ = timed_fit(SkGaussianMixture, params, X, 1)
        diff = max(np.abs(a - b).max() for a, b in zip(ordered(stacked), ordered(serial)))
        diff = max(diff, abs(stacked.lower_bound_ - serial.lower_bound_))
        routed = args.n_init * X.size <= limit
        print(f"{n:>7}{d:>4}{k:>4}{cov:>6}{stacked_s:>11.3f}{serial_s:>10.3f}{serial_s / stacked_s:>10.2f}"
              f"{sk_s:>11.3f}{sk_s / stacked_s:>12.2f}{diff:>10.1e}{'' if routed else '  (not routed: serial both)'}",
              flush=True)
    print(f"# load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
