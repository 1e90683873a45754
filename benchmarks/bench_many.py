"""Many small fits: ``mixfit.fit_many`` beside a loop of scikit-learn fits, from the same starts.

Usage::

    python benchmarks/bench_many.py              # 1000 problems of 400 x 2, K = 2, full, 100 iterations
    python benchmarks/bench_many.py --quick      # scikit-learn and the single-fit check on 100 of them
    python benchmarks/bench_many.py --problems 200 --rows 1000 --dim 3 --k 3 --cov diag

The issue 17 row: B independent problems of n x D rows, each a mixture of K Gaussians with its
own random means and covariances (seeded), K components of ``--cov`` covariance, a fixed 100 EM
iterations each (``tol=0``, ``max_iter=100``). Every problem starts from the same given
parameters in both libraries (``weights_init``, ``means_init``, ``precisions_init``: equal
weights, the generating means moved by a random offset, identity precisions), so no k-means is
timed and both run the same iterations.

Printed: seconds for all B problems (mixfit: median of ``--repeats`` runs of ``fit_many``;
scikit-learn: one loop of ``GaussianMixture(...).fit`` over the problems, or over the first
``--sk-problems`` of them with the time scaled by B / that, marked ``~``), the ratio, and the
largest difference of any fitted parameter (weights, means, precision factors) between
``fit_many`` and a loop of mixfit's own ``GaussianMixture`` fits on the checked problems (the
bar: 1e-10), and to scikit-learn's for reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np


def make_problems(n_problems, n_rows, dim, k, seed=0):
    """(datasets, starts): each problem a K-mixture with random means (spread 4) and random
    covariances; its start equal weights, the true means moved by N(0, 0.5^2), identity precisions."""
    rng = np.random.default_rng(seed)
    datasets, starts = [], []
    for _ in range(n_problems):
        means = rng.normal(0, 4, (k, dim))
        counts = rng.multinomial(n_rows, np.full(k, 1 / k))
        rows = []
        for j in range(k):
            root = rng.normal(0, 0.5, (dim, dim)) + np.eye(dim)
            rows.append(means[j] + rng.standard_normal((counts[j], dim)) @ root)
        datasets.append(np.vstack(rows))
        starts.append((np.full(k, 1 / k), means + rng.normal(0, 0.5, (k, dim))))
    return datasets, starts


def identity_precisions(cov, k, dim):
    return {"full": np.broadcast_to(np.eye(dim), (k, dim, dim)).copy(), "tied": np.eye(dim),
            "diag": np.ones((k, dim)), "spherical": np.ones(k)}[cov]


def params_of(est):
    return np.concatenate([est.weights_.ravel(), est.means_.ravel(), np.ravel(est.precisions_cholesky_)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--dim", type=int, default=2)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--cov", default="full", choices=["full", "tied", "diag", "spherical"])
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sk-problems", type=int, default=None,
                        help="scikit-learn (and the single-fit check) on the first this many problems")
    parser.add_argument("--quick", action="store_true", help="--sk-problems 100")
    args = parser.parse_args(argv)
    sk_problems = args.sk_problems if args.sk_problems is not None else (100 if args.quick else args.problems)
    sk_problems = min(sk_problems, args.problems)

    import sklearn
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    import mixfit
    from mixfit import GaussianMixture, fit_many

    datasets, starts = make_problems(args.problems, args.rows, args.dim, args.k)
    precisions = identity_precisions(args.cov, args.k, args.dim)
    shared = {"n_components": args.k, "covariance_type": args.cov, "tol": 0.0, "max_iter": args.iters}
    weights_init = [w for w, _ in starts]
    means_init = [m for _, m in starts]
    warnings.simplefilter("ignore")  # every fit stops at max_iter by design: ConvergenceWarning

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fits = fit_many(datasets, weights_init=weights_init, means_init=means_init,
                        precisions_init=[precisions] * args.problems, **shared)
        times.append(time.perf_counter() - t0)
    mixfit_s = statistics.median(times)

    t0 = time.perf_counter()
    sk_fits = [SkGaussianMixture(weights_init=w, means_init=m, precisions_init=precisions, **shared).fit(X)
               for X, (w, m) in zip(datasets[:sk_problems], starts[:sk_problems])]
    sk_s = (time.perf_counter() - t0) * args.problems / sk_problems
    singles = [GaussianMixture(weights_init=w, means_init=m, precisions_init=precisions, **shared).fit(X)
               for X, (w, m) in zip(datasets[:sk_problems], starts[:sk_problems])]
    to_single = max(np.abs(params_of(a) - params_of(b)).max() for a, b in zip(fits, singles))
    to_sklearn = max(np.abs(params_of(a) - params_of(b)).max() for a, b in zip(fits, sk_fits))
    iterations = {fit.n_iter_ for fit in fits}

    scaled = "~" if sk_problems < args.problems else " "
    print(f"# {args.problems} problems of {args.rows} x {args.dim}, K = {args.k}, {args.cov}, "
          f"{args.iters} EM iterations each (tol=0), same given starts; mixfit {mixfit.__version__}, "
          f"scikit-learn {sklearn.__version__}, {os.cpu_count()} CPUs")
    print(f"{'library':<28}{'seconds':>10}{'ms/problem':>12}")
    print(f"{'mixfit fit_many (median)':<28}{mixfit_s:>10.3f}{1e3 * mixfit_s / args.problems:>12.3f}")
    print(f"{'scikit-learn loop':<27}{scaled}{sk_s:>10.3f}{1e3 * sk_s / args.problems:>12.3f}")
    print(f"# scikit-learn loop / fit_many = {sk_s / mixfit_s:.1f}x (bar: 50x); iterations run: {sorted(iterations)}")
    print(f"# largest parameter difference on {sk_problems} problems: fit_many vs mixfit GaussianMixture "
          f"one at a time {to_single:.2e} (bar: 1e-10); vs scikit-learn {to_sklearn:.2e}")


if __name__ == "__main__":
    main()
