"""StudentMixture vs GaussianMixture vs studenttmixture: robustness to gross outliers and the time
of one EM iteration, side by side in one run.

Usage::

    python benchmarks/bench_student.py                  # both parts (a few minutes)
    python benchmarks/bench_student.py --quick          # small sizes (seconds)
    python benchmarks/bench_student.py --part outliers  # or --part speed

Outliers: a 3-component mixture in D = 2 (means 8 apart, unit-scale covariances), 20000 clean rows
plus 5 % gross outliers drawn uniformly from a box centred on the clean data and 20 times their
standard deviation wide in every feature. Each library fits K = 3 (kmeans start, its defaults
otherwise; the t mixtures estimate nu per component); the fitted means are matched to the true
ones (Hungarian assignment on Euclidean distance) and the error is the mean distance of the
matched pairs. Printed per seed and as the median over ``--seeds`` seeds.

Speed: seconds per EM iteration at (N, D, K) = (1e6, 32, 16), full covariance, float64. mixfit's
two estimators start from the same given parameters (weights, means, precisions of the generating
mixture) with ``tol=0`` and are timed as (T_m - T_1) / (m - 1) over fits of 1 and m iterations
(the same start and validation cancel). studenttmixture has no given start: it is timed the same
way on its own kmeans start (fits of 1 and m iterations, ``tol=1e-300`` so that neither stops; it refuses 0), on
``--st-rows`` rows, and its time is scaled linearly to N (its E- and M-steps are O(N); marked ``*``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import statistics
import time
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment

import mixfit
from mixfit import GaussianMixture, StudentMixture

try:  # optional reference
    from studenttmixture import EMStudentMixture
except ImportError:  # pragma: no cover - reported in the output
    EMStudentMixture = None


def _quiet(fn, *args):
    """``fn(*args)`` with warnings and the reference's prints silenced."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return fn(*args)


# ---- outliers ------------------------------------------------------------------------------------


def outlier_data(seed, n_clean=20_000, share=0.05):
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [8.0, 0.0], [4.0, 7.0]])
    covs = [np.array([[1.0, 0.3], [0.3, 0.6]]), np.array([[0.5, 0.0], [0.0, 1.2]]), np.eye(2) * 0.8]
    labels = rng.integers(0, 3, n_clean)
    clean = np.vstack([rng.multivariate_normal(means[k], covs[k]) for k in labels])
    centre, sd = clean.mean(axis=0), clean.std(axis=0)
    n_out = round(share * n_clean / (1 - share))  # 5 % of all rows
    outliers = centre + (rng.random((n_out, 2)) - 0.5) * 20 * sd
    X = np.vstack([clean, outliers])
    return X[rng.permutation(X.shape[0])], means


def mean_error(fitted, truth):
    cost = np.linalg.norm(fitted[:, None, :] - truth[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def outlier_part(seeds, n_clean):
    print("== gross outliers: mean-estimation error (mean distance of matched means; lower is better)")
    print(f"{'seed':>5} {'StudentMixture':>15} {'GaussianMixture':>16} {'studenttmixture':>16}")
    rows = []
    for seed in range(seeds):
        X, truth = outlier_data(seed, n_clean)
        t = _quiet(StudentMixture(3, random_state=seed).fit, X)
        g = _quiet(GaussianMixture(3, random_state=seed).fit, X)
        errors = [mean_error(t.means_, truth), mean_error(g.means_, truth)]
        if EMStudentMixture is not None:
            ref = EMStudentMixture(n_components=3, fixed_df=False, random_state=seed)
            _quiet(ref.fit, X)  # its fit returns None; the instance holds the fit
            errors.append(mean_error(ref.location_, truth))
        rows.append(errors)
        print(f"{seed:>5} " + " ".join(f"{e:>15.4f}" for e in errors))
    med = np.median(np.array(rows, dtype=float), axis=0)
    print(f"{'median':>5} " + " ".join(f"{e:>15.4f}" for e in med))
    ratio = med[0] / med[1]
    print(f"StudentMixture / GaussianMixture error ratio: {ratio:.4f} (bar: <= 0.2)")
    if len(med) > 2:
        print(f"StudentMixture / studenttmixture error ratio: {med[0] / med[2]:.4f} (bar: <= 1)")


# ---- speed ---------------------------------------------------------------------------------------


def speed_data(n, d, k, seed=20240601):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=6.0, size=(k, d))
    weights = rng.dirichlet(np.full(k, 5.0))
    factors = rng.normal(size=(k, d, d)) / np.sqrt(d)
    covs = factors @ np.swapaxes(factors, 1, 2) + 0.5 * np.eye(d)
    labels = rng.choice(k, size=n, p=weights)
    X = np.empty((n, d))
    chol = np.linalg.cholesky(covs)
    for j in range(k):
        rows = labels == j
        X[rows] = means[j] + rng.standard_normal((rows.sum(), d)) @ chol[j].T
    return X, weights, means, np.linalg.inv(covs)


def _per_iteration(make, X, m, repeats):
    """median over repeats of (T_m - T_1) / (m - 1)."""
    times = []
    for _ in range(repeats):
        spans = []
        for iterations in (1, m):
            start = time.perf_counter()
            _quiet(make(iterations).fit, X)
            spans.append(time.perf_counter() - start)
        times.append((spans[1] - spans[0]) / (m - 1))
    return statistics.median(times)


def speed_part(n, d, k, m, repeats, st_rows):
    print(f"== one EM iteration, full covariance, float64, (N, D, K) = ({n}, {d}, {k}): seconds per iteration")
    X, weights, means, precisions = speed_data(n, d, k)
    given = {"weights_init": weights, "means_init": means, "precisions_init": precisions, "tol": 0.0}
    gm = _per_iteration(lambda it: GaussianMixture(k, max_iter=it, **given), X, m, repeats)
    tm = _per_iteration(lambda it: StudentMixture(k, max_iter=it, **given), X, m, repeats)
    print(f"  GaussianMixture (mixfit)   {gm:8.3f} s/it")
    print(f"  StudentMixture  (mixfit)   {tm:8.3f} s/it   ratio to GaussianMixture {tm / gm:.3f} (bar: <= 1.5)")
    if EMStudentMixture is None:
        print("  studenttmixture: not installed")
        return
    rows = min(st_rows, n)
    sub = X[:rows]
    st = _per_iteration(lambda it: EMStudentMixture(n_components=k, max_iter=it, tol=1e-300, fixed_df=False,
                                                    random_state=0), sub, m, 1)
    scaled = st * n / rows
    mark = "*" if rows < n else " "
    print(f"  studenttmixture            {scaled:8.3f} s/it{mark}  (measured {st:.3f} s/it on {rows} rows"
          f"{', scaled linearly to N' if rows < n else ''}); StudentMixture is {scaled / tm:.1f}x faster (bar: >= 5)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["outliers", "speed", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=4, help="m: the longer fit's iterations")
    parser.add_argument("--st-rows", type=int, default=100_000, help="rows studenttmixture is timed on")
    args = parser.parse_args()
    import numpy
    import sklearn
    versions = f"mixfit {mixfit.__version__}, numpy {numpy.__version__}, scikit-learn {sklearn.__version__}"
    if EMStudentMixture is not None:
        import importlib.metadata
        versions += f", studenttmixture {importlib.metadata.version('studenttmixture')}"
    print(f"{versions}; {platform.processor() or platform.machine()}")
    if args.part in ("outliers", "both"):
        outlier_part(2 if args.quick else args.seeds, 3000 if args.quick else 20_000)
    if args.part in ("speed", "both"):
        n, d, k = (20_000, 8, 4) if args.quick else (1_000_000, 32, 16)
        speed_part(n, d, k, args.iterations, 1 if args.quick else args.repeats, min(args.st_rows, n))


if __name__ == "__main__":
    main()
