"""BayesianGaussianMixture with 20 % of entries missing at random (issue 18, VB), beside
scikit-learn's BayesianGaussianMixture on the mean-imputed rows (it refuses NaN).

Usage::

    python benchmarks/bench_missing_vb.py            # quality at N = 5000; iteration at (1e5, 16, 8) full
    python benchmarks/bench_missing_vb.py --quick    # N = 2000; iteration at (2e4, 16, 8)

Quality: multimodal data (6 correlated clusters in D = 6), 20 % MCAR; each fit's plug-in mixture
(weights_, means_, covariances_) scored on held-out complete rows with scipy, the same function
for every fit: mixfit on the rows with holes, scikit-learn on the mean-imputed rows, and mixfit on
the complete rows (what the holes cost). Timed: one VB iteration (``GaussianVB.accumulate`` over
the chunks + ``maximize``) from the same q, complete vs 20 % MCAR, beside EM's (GaussianMixture)
from its own fit of the same data. Median of --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import mixfit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_missing import correlated_clusters, mcar, one_iteration, shape_arguments, timed


def plugin_log_likelihood(weights, means, covariances, X):
    """Mean over the rows of ln sum_k w_k N(x | mu_k, Sigma_k), by scipy."""
    per_component = np.stack([np.log(w) + multivariate_normal(m, c).logpdf(X)
                              for w, m, c in zip(weights, means, covariances)], axis=1)
    return float(logsumexp(per_component, axis=1).mean())


def quality(n, seed=0):
    from sklearn.impute import SimpleImputer
    from sklearn.mixture import BayesianGaussianMixture as Reference

    rng = np.random.default_rng(seed)
    K, D = 6, 6
    centres = rng.normal(scale=5.0, size=(K, D))
    mixing = rng.normal(size=(K, D, D)) / 2
    labels = rng.integers(K, size=2 * n)
    X = centres[labels] + np.einsum("nd,nde->ne", rng.normal(size=(2 * n, D)), mixing[labels])
    X, test = X[:n], X[n:]
    holes = rng.random(X.shape) < 0.2
    holes[holes.all(axis=1), 0] = False
    Y = np.where(holes, np.nan, X)
    kw = {"n_components": 8, "max_iter": 500, "random_state": 0, "n_init": 2}
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        fits["mixfit BGM, rows with holes"] = mixfit.BayesianGaussianMixture(**kw).fit(Y), time.perf_counter() - start
        start = time.perf_counter()
        ref = Reference(**kw).fit(SimpleImputer().fit_transform(Y))
        fits["sklearn BGM, mean-imputed rows"] = ref, time.perf_counter() - start
        start = time.perf_counter()
        fits["mixfit BGM, complete rows"] = mixfit.BayesianGaussianMixture(**kw).fit(X), time.perf_counter() - start
    print(f"quality: {n} x {D}, {K} clusters, 20 % MCAR; held-out mean ln p(x) of the plug-in mixture "
          f"({n} complete rows, scipy)")
    for name, (est, seconds) in fits.items():
        covariances = est.covariances_
        print(f"  {name:<36}{plugin_log_likelihood(est.weights_, est.means_, covariances, test):>10.4f}"
              f"{seconds:>10.2f} s")
    print("  (higher is better; the complete-row fit is the ceiling)")


def main():
    parser = argparse.ArgumentParser()
    shape_arguments(parser, repeat=3)
    args = parser.parse_args()
    quality(2000 if args.quick else 5000)
    n = 20_000 if args.quick else args.n
    rng = np.random.default_rng(0)
    X = correlated_clusters(n, args.d, args.k, rng)
    Y = mcar(X, args.rate, rng)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bgm = mixfit.BayesianGaussianMixture(n_components=args.k, random_state=0, max_iter=5).fit(X)
    model, params = bgm._model(), bgm._posterior

    iteration = one_iteration(bgm, model, params)
    gm = mixfit.GaussianMixture(args.k, random_state=0, max_iter=5).fit(X)
    em_iteration = one_iteration(gm, gm._model(), gm._params())

    rows = {"VB, complete data": timed(lambda: iteration(X), args.repeat),
            f"VB, {args.rate:.0%} MCAR": timed(lambda: iteration(Y), args.repeat),
            "EM, complete data": timed(lambda: em_iteration(X), args.repeat),
            f"EM, {args.rate:.0%} MCAR": timed(lambda: em_iteration(Y), args.repeat)}
    print(f"(N, D, K) = ({n}, {args.d}, {args.k}) full, {args.rate:.0%} MCAR: one iteration (E-step + M-step), "
          "mixfit")
    print(f"{'':<34}{'seconds':>10}{'x complete':>12}")
    for name, seconds in rows.items():
        base = rows["VB, complete data"] if name.startswith("VB") else rows["EM, complete data"]
        print(f"{name:<34}{seconds:>10.3f}{seconds / base:>11.2f}x")


if __name__ == "__main__":
    main()
