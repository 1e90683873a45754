"""mixfit BayesianGaussianMixture vs scikit-learn's, and mixfit's EM: seconds per iteration.

Usage::

    python benchmarks/bench_vb.py            # (1e5, 2, 5) and (1e6, 32, 16), full, float64 (~5 min)
    python benchmarks/bench_vb.py --quick    # a small grid (seconds)
    python benchmarks/bench_vb.py --cases 2e5,64,32,3 --cov full tied diag spherical

How it is measured. Data: a known mixture drawn with a fixed seed. All fits use the same explicit
priors (the data mean and covariance), so no fit makes a pass over the data for its defaults.

- mixfit VB and EM: a fit with ``max_iter=0`` runs the k-means initialisation only; the timed
  fit is then ``warm_start=True, max_iter=m, tol=0`` from that state.
- scikit-learn VB: a fit with ``max_iter=1`` sets its priors; its posterior is then replaced by
  mixfit's initial one (the same state), and the timed fit is ``warm_start=True, max_iter=m,
  tol=0``.

Per-iteration time: a timestamp where each pass over the data starts (mixfit:
``ArraySource.map_reduce``; scikit-learn: its ``_e_step``, which runs once per iteration and once
more after the loop), plus one when the fit returns (mixfit). Consecutive timestamps bracket one
whole iteration (E-step, M-step, bound). The figure is the median over the iterations of all
repeats; validation and initialisation are outside.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBGM

import mixfit
from mixfit import BayesianGaussianMixture, GaussianMixture
from mixfit.backends import ArraySource

DEFAULT_CASES = [(100_000, 2, 5, 10), (1_000_000, 32, 16, 3)]  # (N, D, K, iterations per fit)
QUICK_CASES = [(20_000, 2, 5, 10), (50_000, 8, 4, 5)]
SEED = 20240601

_STAMPS: list[float] = []


def _stamp(method):
    def wrapped(*args, **kwargs):
        _STAMPS.append(time.perf_counter())
        return method(*args, **kwargs)

    return wrapped


ArraySource.map_reduce = _stamp(ArraySource.map_reduce)


def make_data(n, d, k, seed=SEED):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(k, d))
    labels = rng.choice(k, size=n, p=rng.dirichlet(np.full(k, 5.0)))
    X = means[labels] + rng.standard_normal((n, d)) * rng.uniform(0.5, 1.5, size=(k, d))[labels]
    return X


def per_iteration(fit):
    """Seconds between consecutive pass starts of one fit (plus the end)."""
    _STAMPS.clear()
    fit()
    stamps = _STAMPS + [time.perf_counter()]
    return list(np.diff(stamps))


def covariance_prior(X, cov):
    """The data's covariance in the shape scikit-learn's ``covariance_prior`` takes per type."""
    if cov in ("full", "tied"):
        return np.cov(X.T)
    variances = X.var(axis=0)
    return variances if cov == "diag" else float(variances.mean())


def bench(n, d, k, m, repeats, cov="full"):
    X = make_data(n, d, k)
    kw = {"n_components": k, "covariance_type": cov, "tol": 0.0, "random_state": 0, "mean_prior": X.mean(axis=0),
          "covariance_prior": covariance_prior(X, cov)}
    start = BayesianGaussianMixture(max_iter=0, **kw).fit(X)
    em_start = GaussianMixture(k, covariance_type=cov, tol=0.0, max_iter=0, random_state=0).fit(X)
    sk = SkBGM(max_iter=1, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X)
    times = {"mixfit VB": [], "sklearn VB": [], "mixfit EM": []}
    for _ in range(repeats):
        ours = copy.deepcopy(start).set_params(warm_start=True, max_iter=m)
        em = copy.deepcopy(em_start).set_params(warm_start=True, max_iter=m)
        theirs = copy.deepcopy(sk).set_params(warm_start=True, max_iter=m)
        theirs.weight_concentration_ = copy.deepcopy(start.weight_concentration_)
        for name in ("mean_precision_", "means_", "covariances_", "precisions_cholesky_"):
            setattr(theirs, name, np.copy(getattr(start, name)))
        # mixfit's tied q has one shared dof; scikit-learn keeps one per component
        theirs.degrees_of_freedom_ = np.broadcast_to(start.degrees_of_freedom_, (k,)).copy()
        theirs.lower_bound_ = -np.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            times["mixfit VB"] += per_iteration(lambda est=ours: est.fit(X))
            times["mixfit EM"] += per_iteration(lambda est=em: est.fit(X))
            _STAMPS.clear()
            theirs._e_step = _stamp(theirs._e_step)
            theirs.fit(X)
            times["sklearn VB"] += list(np.diff(_STAMPS))
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small grid")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cases", nargs="+", help="N,D,K,iterations per fit, e.g. 2e5,64,32,3")
    parser.add_argument("--cov", nargs="+", default=["full"], choices=("full", "tied", "diag", "spherical"))
    args = parser.parse_args()
    cases = QUICK_CASES if args.quick else DEFAULT_CASES
    if args.cases:
        cases = [tuple(int(float(v)) for v in case.split(",")) for case in args.cases]
    print(f"mixfit {mixfit.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}; "
          f"float64; median seconds per iteration; load {os.getloadavg()[0]:.2f}")
    print(f"{'N':>9} {'D':>3} {'K':>3} {'cov':>10} {'mixfit VB':>10} {'sklearn VB':>11} {'mixfit EM':>10} "
          f"{'sk/mixfit VB':>13} {'VB/EM':>7}")
    for n, d, k, m in cases:
        for cov in args.cov:
            r = bench(n, d, k, m, args.repeats, cov)
            print(f"{n:>9} {d:>3} {k:>3} {cov:>10} {r['mixfit VB']:>10.4f} {r['sklearn VB']:>11.4f} "
                  f"{r['mixfit EM']:>10.4f} {r['sklearn VB'] / r['mixfit VB']:>13.2f} "
                  f"{r['mixfit VB'] / r['mixfit EM']:>7.2f}", flush=True)
    print(f"# load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
