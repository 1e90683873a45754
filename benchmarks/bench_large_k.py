"""Large K: mixfit and scikit-learn seconds per EM / VB iteration, beside the roofline.

Usage::

    python benchmarks/bench_large_k.py                  # the issue 17 grid (tens of minutes here)
    python benchmarks/bench_large_k.py --quick          # N / 5, scikit-learn on 1e4 rows (minutes)
    python benchmarks/bench_large_k.py --rows 1e5,60,512 --cov diag --methods em --dtypes float64
    python benchmarks/bench_large_k.py --sk-rows 0      # mixfit and the roofline only
    python benchmarks/bench_large_k.py --repeats 5      # five interleaved rounds (default 3)

Rows (N, D, K): (1e5, 60, 512) and (2e5, 60, 2048) diag and spherical, (1e5, 32, 128) full; each
EM and VB, float64 and float32. Data: ``bench_em``'s known mixture (cached under --data-dir).

What is measured, and how
-------------------------
mixfit: per-iteration time from timestamps where each iteration's statistics start
(``engine.loop``'s ``settled_sum``: the pass over the data, and the second one that a float32
pass whose rounding check fails runs, kernels/float32_pass.py), consecutive starts bracketing
one whole iteration (E-step, M-step, bound); the median over ``--iters - 1`` intervals. EM starts from the generating mixture
(``*_init``, no initialisation pass); VB from a ``max_iter=0`` fit with
``init_params='random_from_data'`` and explicit priors, continued with ``warm_start``.

scikit-learn: one iteration, bracketed the same way (its ``_e_step``, wrapped on the instance: a
``max_iter=1`` fit runs it for the iteration and once more at the end), EM from the same
``*_init``, VB from its own ``'random_from_data'`` start with the same priors. Its (n, K)
temporaries make it memory-bound and large (several GB at K = 2048), so it runs on the first
``--sk-rows`` rows (at least 20 K, so that its M-step has rows for every component) and its
time is scaled by N / rows (an iteration is linear in N; marked ``~`` where scaled). Where its
M-step still refuses a collapsed component (an error in scikit-learn), the time up to there is
printed, marked ``!``.

Roofline: the model's work at the measured rates of this machine, in the same run, just before
each mixfit fit: the two large products of an iteration (diag: (n x 2D) @ (2D x K) for ln rho and
(K x n) @ (n x 2D) for the moments, 8 n D K FLOPs; spherical: 4 n (D + 1) K; full, the packed
form's, 4 n (D(D + 1)/2 + D) K) over the square-GEMM rate of the dtype (2000 x 2000, BLAS on all
cores), plus n K exponentials over numpy's exp rate (an (n, K)-sized array of exponents in
[-700, 0], one chunk per core on a thread each, as a fit runs them). ``share`` = roofline /
mixfit s/it: the fraction of the machine's peak for this work that an iteration achieves.

Interleaved repeats: a shared machine's speed moves by up to 1.7x from one minute to the next, so
a ratio of two timings taken minutes apart is mostly that drift. Each (row, cov, method) runs
``--repeats`` rounds, and a round times everything its ratios compare within seconds of each
other: for each dtype in turn, the rates, mixfit, then scikit-learn (float64 rates, mixfit,
scikit-learn, float32 rates, mixfit, scikit-learn; the next round again). Printed per dtype: the
medians over rounds of each side's time, ``ratio`` = the median of the per-round ratios
scikit-learn / mixfit, ``share`` = the median of the per-round roofline / mixfit; and after the
dtypes, ``float32 / float64``: the median (and range) of the per-round ratios of mixfit's float64
to its float32 time. What is timed is unchanged: each is the same fit as before.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_em

ROWS = [((100_000, 60, 512), ("diag", "spherical")), ((200_000, 60, 2048), ("diag", "spherical")),
        ((100_000, 32, 128), ("full",))]
_STAMPS: list[float] = []


def _stamped(method):
    def wrapped(*args, **kwargs):
        _STAMPS.append(time.perf_counter())
        return method(*args, **kwargs)

    return wrapped


# ---- the machine's rates ------------------------------------------------------------------------

def exp_rate(dtype, threads: int, size: int = 2**22, repeats: int = 5) -> float:
    """Exponentials per second: ``threads`` threads each exponentiating its own array."""
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(-700, 0, size).astype(dtype) for _ in range(threads)]
    outs = [np.empty_like(a) for a in arrays]
    best = np.inf
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(pool.map(lambda pair: np.exp(pair[0], out=pair[1]), zip(arrays, outs)))
            best = min(best, time.perf_counter() - t0)
    return threads * size / best


def model_flops(n, d, k, cov) -> float:
    """The FLOPs of an iteration's two large products (see the module docstring)."""
    if cov == "diag":
        return 8.0 * n * d * k
    if cov == "spherical":
        return 4.0 * n * (d + 1) * k
    return 4.0 * n * (d * (d + 1) // 2 + d) * k


# ---- the fits -----------------------------------------------------------------------------------

def vb_priors(X, cov):
    variances = X.var(axis=0, dtype=np.float64)
    return {"mean_prior": X.mean(axis=0, dtype=np.float64),
            "covariance_prior": np.cov(X.T.astype(np.float64)) if cov == "full" else (
                variances if cov == "diag" else float(variances.mean()))}


def mixfit_seconds(X, k, cov, method, iters):
    import mixfit
    from mixfit.engine import loop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "em":
            weights, means, precisions = bench_em.initial_params(X.shape[1], k, cov)
            est = mixfit.GaussianMixture(k, covariance_type=cov, tol=0.0, max_iter=iters, weights_init=weights,
                                         means_init=means, precisions_init=precisions)
        else:
            est = mixfit.BayesianGaussianMixture(n_components=k, covariance_type=cov, tol=0.0, max_iter=0,
                                                 init_params="random_from_data", random_state=0, **vb_priors(X, cov))
            est.fit(X)
            est.set_params(warm_start=True, max_iter=iters)
        original = loop.settled_sum
        loop.settled_sum = _stamped(original)
        _STAMPS.clear()
        try:
            est.fit(X)
        finally:
            loop.settled_sum = original
    return statistics.median(np.diff(_STAMPS))


def sklearn_seconds(X, k, cov, method):
    from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "em":
            weights, means, precisions = bench_em.initial_params(X.shape[1], k, cov)
            est = GaussianMixture(k, covariance_type=cov, tol=0.0, max_iter=1, init_params="random",
                                  weights_init=weights, means_init=means, precisions_init=precisions)
        else:
            est = BayesianGaussianMixture(n_components=k, covariance_type=cov, tol=0.0, max_iter=1,
                                          init_params="random_from_data", random_state=0, **vb_priors(X, cov))
        est._e_step = _stamped(est._e_step)  # an instance attribute: the class is untouched
        _STAMPS.clear()
        try:
            est.fit(X)
        except ValueError:  # its M-step refused a collapsed component: the iteration up to there
            return time.perf_counter() - _STAMPS[0], "!"
    return _STAMPS[1] - _STAMPS[0], ""


# ---- driver ---------------------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="N / 5 and scikit-learn on at most 1e4 rows")
    p.add_argument("--rows", nargs="+", type=bench_em.parse_case, help="N,D,K triples (default: the grid's)")
    p.add_argument("--cov", nargs="+", choices=("full", "diag", "spherical"))
    p.add_argument("--methods", nargs="+", default=["em", "vb"], choices=("em", "vb"))
    p.add_argument("--dtypes", nargs="+", default=["float64", "float32"], choices=("float64", "float32"))
    p.add_argument("--iters", type=int, default=4, help="mixfit iterations per fit (iters - 1 timed)")
    p.add_argument("--sk-rows", type=float, default=5e4, help="rows scikit-learn runs on (0: skip it)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds per row (see the docstring)")
    p.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "mixfit_bench_data"))
    args = p.parse_args(argv)
    sk_rows = int(min(args.sk_rows, 1e4) if args.quick else args.sk_rows)
    grid = [(case, covs) for case, covs in ROWS]
    if args.rows:
        grid = [(case, tuple(args.cov or ("diag", "spherical", "full"))) for case in args.rows]
    threads = bench_em_cores()

    import sklearn

    import mixfit

    head = os.popen(f"git -C {os.path.dirname(os.path.abspath(__file__))} describe --always --dirty").read().strip()
    print(f"# mixfit {mixfit.__version__} (git {head}) | scikit-learn {sklearn.__version__} | numpy {np.__version__}"
          f" | {threads} cores | load average {os.getloadavg()[0]:.2f}")
    print("# s/it: median over rounds of the median seconds per iteration; ratio, share: medians of the "
          "per-round ratios (sides timed in turn, seconds apart)")
    print("# ~: scikit-learn timed on its first rows, scaled to N; roofline: "
          "two products / GEMM rate + n K exp / exp rate (rates measured before each fit); share = roofline / mixfit")
    header = (f"{'(N, D, K)':<17} {'cov':<9} {'method':<6} {'dtype':<7} {'mixfit':>8} {'sklearn':>9} {'ratio':>6} "
              f"{'roofline':>8} {'share':>6} {'GF/s':>6} {'Gexp/s':>6}")
    print(header)
    print("-" * len(header), flush=True)
    for (n, d, k), covs in grid:
        n = n // 5 if args.quick else n
        data = {dtype: np.load(bench_em.ensure_data(args.data_dir, n, d, k, dtype)) for dtype in args.dtypes}
        for cov in covs:
            if args.cov and cov not in args.cov:
                continue
            for method in args.methods:
                rows = min(n, max(sk_rows, 20 * k)) if sk_rows else 0  # ~20 rows a component at least
                timed = {dtype: [] for dtype in args.dtypes}
                for _ in range(args.repeats):  # interleaved: each round times every side within seconds
                    for dtype in args.dtypes:
                        gemm = bench_em.gemm_rate(dtype=np.dtype(dtype))
                        exps = exp_rate(np.dtype(dtype), threads)
                        roofline = model_flops(n, d, k, cov) / gemm + n * k / exps
                        ours = mixfit_seconds(data[dtype], k, cov, method, args.iters)
                        theirs, failed = (sklearn_seconds(data[dtype][:rows], k, cov, method) if rows
                                          else (float("nan"), ""))
                        timed[dtype].append((ours, theirs * n / max(rows, 1), failed, roofline, gemm, exps))
                for dtype, rounds in timed.items():
                    ours, theirs, failed, roofline, gemm, exps = zip(*rounds)
                    mark = "!" if any(failed) else ("~" if 0 < rows < n else " ")
                    ratio = statistics.median(b / a for a, b in zip(ours, theirs))
                    share = statistics.median(r / a for a, r in zip(ours, roofline))
                    print(f"{bench_em.fmt_case(n, d, k):<17} {cov:<9} {method:<6} {dtype:<7} "
                          f"{statistics.median(ours):>8.3f} {mark}{statistics.median(theirs):>8.3f} {ratio:>6.1f} "
                          f"{statistics.median(roofline):>8.3f} {share:>6.0%} {statistics.median(gemm) / 1e9:>6.1f} "
                          f"{statistics.median(exps) / 1e9:>6.2f}", flush=True)
                if {"float64", "float32"} <= set(timed):
                    speedups = [a[0] / b[0] for a, b in zip(timed["float64"], timed["float32"])]
                    print(f"{'':<17} {cov:<9} {method:<6} float32 / float64: {statistics.median(speedups):.2f}x "
                          f"faster (rounds {min(speedups):.2f}-{max(speedups):.2f})", flush=True)
        del data
    print(f"# load average at end {os.getloadavg()[0]:.2f}")
    return 0


def bench_em_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
