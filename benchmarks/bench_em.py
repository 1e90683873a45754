"""mixfit vs scikit-learn: seconds per EM iteration and peak memory, side by side in one run.

Usage::

    python benchmarks/bench_em.py                   # default grid (a few minutes)
    python benchmarks/bench_em.py --quick           # tiny smoke grid (seconds)
    python benchmarks/bench_em.py --grid full       # the larger grid (tens of minutes)
    python benchmarks/bench_em.py --cases 1e6,32,16 1e5,2,5 --cov full diag --dtype float64
    python benchmarks/bench_em.py --repeats 5 --json results.json

What is measured, and how
-------------------------
Data: for each (N, D, K) a known mixture is drawn with a fixed seed (weights from a Dirichlet,
well separated means, random SPD covariances) and cached as ``.npy`` under ``--data-dir``.

Time per EM iteration: both libraries start from the *same given parameters* (the generating
mixture's weights, means and precisions, reduced to the covariance type being fitted) with
``tol=0``, so no initialisation runs and every fit does exactly ``max_iter = m`` iterations.

- ``--method hooks`` (default): one timestamp where each iteration's pass over the data starts
  (scikit-learn: its ``_e_step``, wrapped on the instance; it runs once per iteration and once
  more after the loop. mixfit: ``ArraySource.map_reduce``, wrapped in the worker process; it runs
  once per iteration). Consecutive starts bracket exactly one whole iteration (E-step, M-step,
  lower bound, bookkeeping); validation, parameter checks and the final E-step are outside. The
  reported time is the median over all iterations of all repeats.
- ``--method diff`` (public API only): in one process fit with ``max_iter=1`` and with
  ``max_iter=m`` and take ``(T_m - T_1) / (m - 1)``; the median over repeats.

``m`` shrinks with the size of the case (3 to 20). Where one scikit-learn iteration is expected
to take more than a few seconds (e.g. (1e6, 32, 16) full, ~7-8 s) scikit-learn gets a single fit
(``m = 3`` with hooks, ``m = 2`` with diff) and its time is marked ``*``.

Interleaved repeats: the two libraries are timed in turn, one repeat (one worker, one untimed
warm-up fit of the same case with ``max_iter=2``, then one timed fit or fit pair) at a time: mixfit, scikit-learn, mixfit, scikit-learn, ... (``--repeats`` rounds; a
library given a single fit runs in the first round only). A shared machine's speed moves by up
to 1.7x from one minute to the next, so a ratio of two medians timed minutes apart is mostly
that drift; two fits timed seconds apart see about the same machine. Besides the ratio of the
medians, ``pair`` is the median over rounds of each round's own ratio (scikit-learn's median
iteration in the round over mixfit's in the same round), and ``pairs`` its range. What is timed
is unchanged: each repeat is the same fit as before, in a fresh worker.

Peak memory: every (case, library) runs in a fresh subprocess (this script with ``--worker``).
The worker imports both libraries, runs a small warm-up matmul (so BLAS buffers exist), loads
the data with ``numpy.load`` and records ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the
high-water mark of the resident set, which now includes the data). After all its fits it reads
``ru_maxrss`` again; the difference is the peak RSS of the fits *above the data* ("peak MB").
Fits in one worker run one after another and free their memory in between, so this is the
peak of the largest single fit. ru_maxrss is exact (kernel-maintained), not sampled.

Machine reference: the same run times a square float64 matmul (2000 x 2000 by default, best of
several) and, for full covariance, prints mixfit's achieved rate for the model FLOPs
``4 N D^2 K`` per iteration (whitening 2 N D^2 K in the E-step, scatter 2 N D^2 K in the M-step)
and its share of the GEMM rate of the same dtype, measured in the worker just before and just
after its timed fits (the mean of the two; the header's rate, taken once at the start, is only
a guide: on a shared machine the rate drifts over a long run).

Columns: ``mixfit s/it``, ``sklearn s/it`` (medians over all rounds), ``ratio`` = sklearn /
mixfit of those medians (> 1: mixfit faster), ``pair`` and ``pairs`` (the per-round ratios: their
median and range), ``mixfit MB`` and ``sklearn MB`` (peak RSS above the data, the largest over
the rounds), ``data MB``, and for full covariance ``GF/s`` (mixfit) and ``%gemm``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

DEFAULT_CASES = [(1_000_000, 32, 16), (100_000, 2, 5)]
DEFAULT_COVS = ["full", "diag"]
DEFAULT_DTYPES = ["float64"]

FULL_CASES = [(1_000, 2, 3), (100_000, 2, 5), (1_000_000, 8, 8), (1_000_000, 32, 16), (200_000, 64, 32)]
FULL_COVS = ["full", "tied", "diag", "spherical"]
FULL_DTYPES = ["float64", "float32"]

QUICK_CASES = [(2_000, 2, 3), (20_000, 8, 4)]
QUICK_COVS = ["full", "tied", "diag", "spherical"]
QUICK_DTYPES = ["float64", "float32"]

SEED = 20240601
MIB = 2**20


# ---------------------------------------------------------------------------------------------
# data: a known mixture


def make_mixture(n_features, n_components, seed=SEED):
    """Generating parameters: weights (K,), means (K, D), covariances (K, D, D)."""
    rng = np.random.default_rng([seed, n_features, n_components])
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = rng.normal(scale=4.0, size=(n_components, n_features))
    covs = np.empty((n_components, n_features, n_features))
    for k in range(n_components):
        a = rng.normal(size=(n_features, n_features))
        covs[k] = a @ a.T / n_features + 0.5 * np.eye(n_features)
    return weights, means, covs


def make_data(n_samples, n_features, n_components, seed=SEED):
    weights, means, covs = make_mixture(n_features, n_components, seed)
    rng = np.random.default_rng([seed, n_samples, n_features, n_components, 1])
    counts = rng.multinomial(n_samples, weights)
    X = np.empty((n_samples, n_features))
    start = 0
    for k, count in enumerate(counts):
        lower = np.linalg.cholesky(covs[k])
        X[start:start + count] = means[k] + rng.standard_normal((count, n_features)) @ lower.T
        start += count
    X = X[rng.permutation(n_samples)]
    return X


def data_path(data_dir, n, d, k, dtype):
    return os.path.join(data_dir, f"mix_n{n}_d{d}_k{k}_s{SEED}_{dtype}.npy")


def ensure_data(data_dir, n, d, k, dtype):
    path = data_path(data_dir, n, d, k, dtype)
    if not os.path.exists(path):
        os.makedirs(data_dir, exist_ok=True)
        X = make_data(n, d, k).astype(dtype)
        tmp = path + f".tmp{os.getpid()}.npy"
        np.save(tmp, X)
        os.replace(tmp, path)
    return path


def initial_params(n_features, n_components, cov_type):
    """The generating mixture reduced to ``cov_type``: (weights, means, precisions) as
    ``sklearn.mixture.GaussianMixture`` takes them in ``*_init``."""
    weights, means, covs = make_mixture(n_features, n_components)
    if cov_type == "full":
        precisions = np.linalg.inv(covs)
        precisions = (precisions + precisions.transpose(0, 2, 1)) / 2
    elif cov_type == "tied":
        pooled = np.einsum("k,kij->ij", weights, covs)
        precisions = np.linalg.inv(pooled)
        precisions = (precisions + precisions.T) / 2
    elif cov_type == "diag":
        precisions = 1.0 / np.diagonal(covs, axis1=1, axis2=2)
    elif cov_type == "spherical":
        precisions = 1.0 / np.diagonal(covs, axis1=1, axis2=2).mean(axis=1)
    else:
        raise ValueError(cov_type)
    return weights, means, np.ascontiguousarray(precisions)


# ---------------------------------------------------------------------------------------------
# how many iterations, how many repeats


def model_flops(n, d, k, cov):
    """Rough FLOPs of one EM iteration (used for the full-cov rate and to size the runs)."""
    if cov in ("full", "tied"):
        return 4.0 * n * d * d * k
    return 8.0 * n * d * k


def sklearn_seconds_estimate(n, d, k, cov):
    # sklearn: ~7.8 GFLOP/s on the full-cov kernel; elementwise-bound otherwise.
    if cov in ("full", "tied"):
        return model_flops(n, d, k, cov) / 7e9 + n * k * 4e-8
    return n * k * (d * 1.2e-9 + 4e-8)


def plan(n, d, k, cov, repeats, library, method):
    """(m, repeats) for one (case, library): max_iter per fit and fits (or fit pairs)."""
    est = sklearn_seconds_estimate(n, d, k, cov)  # an upper-ish bound for mixfit too
    if library == "sklearn" and est > 3.0:
        return (2 if method == "diff" else 3), 1
    m = int(min(20, max(3, 2.0 / max(est, 1e-6))))
    if library == "mixfit":
        m = max(m, 3)
    return m, repeats


# ---------------------------------------------------------------------------------------------
# worker: one (case, library) in a fresh process


def _estimator(library, k, cov, init, max_iter):
    weights, means, precisions = init
    kwargs = {
        "n_components": k, "covariance_type": cov, "tol": 0.0, "max_iter": max_iter,
        "weights_init": weights, "means_init": means, "precisions_init": precisions,
    }
    if library == "mixfit":
        from mixfit import GaussianMixture
    else:
        from sklearn.mixture import GaussianMixture
    return GaussianMixture(**kwargs)


def _fit_quietly(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X)


def _fit(est, X, max_iter):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X)
        elapsed = time.perf_counter() - t0
    if est.n_iter_ != max_iter:
        raise RuntimeError(f"{type(est).__module__} ran {est.n_iter_} iterations, expected {max_iter}")
    return elapsed


def _fit_seconds(library, X, k, cov, init, max_iter):
    """Wall time of one whole ``fit`` (public API only)."""
    return _fit(_estimator(library, k, cov, init, max_iter), X, max_iter)


def _iteration_seconds(library, X, k, cov, init, max_iter):
    """Seconds of each EM iteration of one ``fit``, from timestamps taken where each iteration's
    pass over the data starts: scikit-learn's ``_e_step`` (called once per iteration, and once
    more after the loop), mixfit's ``ArraySource.map_reduce`` (once per iteration; no init pass
    runs when all ``*_init`` are given). Consecutive starts bracket exactly one iteration
    (E-step, M-step, lower bound, convergence bookkeeping): max_iter values for scikit-learn,
    max_iter - 1 for mixfit."""
    est = _estimator(library, k, cov, init, max_iter)
    stamps = []
    if library == "sklearn":
        e_step = est._e_step

        def timed_e_step(*a, **kw):
            stamps.append(time.perf_counter())
            return e_step(*a, **kw)

        est._e_step = timed_e_step  # an instance attribute: sklearn's class is untouched
        _fit(est, X, max_iter)
    else:
        from mixfit.backends import memory

        map_reduce = memory.ArraySource.map_reduce

        def timed_map_reduce(self, *a, **kw):
            stamps.append(time.perf_counter())
            return map_reduce(self, *a, **kw)

        memory.ArraySource.map_reduce = timed_map_reduce  # this worker process only
        try:
            _fit(est, X, max_iter)
        finally:
            memory.ArraySource.map_reduce = map_reduce
    return [float(t) for t in np.diff(stamps)]


def worker(spec):
    import sklearn.mixture  # noqa: F401

    import mixfit

    a = np.ones((256, 256))
    a @ a  # BLAS threads and buffers exist before the baseline
    if spec["library"] == "mixfit":
        # A tiny fit of the same type and dtype first: the code numba loads on first use
        # (mixfit's compiled kernels, ~100 MB with LLVM) is the process's, not the fit's.
        dtype = np.load(spec["path"], mmap_mode="r").dtype
        small = np.random.default_rng(0).normal(size=(64, 2)).astype(dtype)
        small[32:] += 10
        _fit_quietly(mixfit.GaussianMixture(2, covariance_type=spec["cov"], max_iter=2, random_state=0), small)
    lib, k, cov, m = spec["library"], spec["k"], spec["cov"], spec["m"]
    # The machine's square-GEMM rate just before and just after the timed fits, in this worker
    # (the shared machine's speed drifts over a long grid: a rate taken minutes earlier is no
    # reference); only where the %gemm column is printed, and where X is larger than the
    # product's three matrices, which are freed before X is loaded: they then raise no
    # high-water mark above the data's (elsewhere the header's rate is used).
    header = np.load(spec["path"], mmap_mode="r")
    gemm = ([gemm_rate(dtype=header.dtype)] if lib == "mixfit" and cov == "full"
            and header.nbytes >= 3 * 2000**2 * header.dtype.itemsize else [])
    X = np.load(spec["path"])
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    init = initial_params(X.shape[1], k, cov)
    # One untimed fit of the same case first (either library): a fresh process's first iterations
    # pay first-touch page faults of its work arrays and the allocator's start (glibc maps large
    # blocks anew until its threshold adapts), which a long fit pays once, not per iteration.
    # Measured at (1e6, 32, 16) diag with one 3-iteration fit per worker: mixfit 0.29-0.34 s/it
    # cold against 0.12-0.16 warm (12 s of system time in 30 s); the timed fits are then warm.
    _fit_quietly(_estimator(lib, k, cov, init, 2), X)
    per_iter, fits = [], []
    for _ in range(spec["repeats"]):
        if spec["method"] == "diff":
            t1 = _fit_seconds(lib, X, k, cov, init, 1)
            tm = _fit_seconds(lib, X, k, cov, init, m)
            fits.append((t1, tm))
            per_iter.append((tm - t1) / (m - 1))
        else:
            per_iter.extend(_iteration_seconds(lib, X, k, cov, init, m))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if gemm:
        gemm.append(gemm_rate(dtype=X.dtype))
    return {"per_iter": per_iter, "fits": fits, "peak_above_data_mb": (peak_kb - base_kb) / 1024,
            "data_mb": X.nbytes / MIB, "gemm_flops": statistics.mean(gemm) if gemm else None}


def run_worker(spec):
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"worker failed for {spec}:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# machine reference


def gemm_rate(n=2000, dtype=np.float64, repeats=7):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(dtype)
    a @ b
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


# ---------------------------------------------------------------------------------------------
# driver


def parse_case(text):
    n, d, k = text.split(",")
    return int(float(n)), int(d), int(k)


def fmt_case(n, d, k):
    return f"({n:.0e}, {d}, {k})".replace("e+0", "e")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--grid", choices=["default", "full"], default="default")
    p.add_argument("--quick", action="store_true", help="tiny smoke grid")
    p.add_argument("--cases", nargs="+", type=parse_case, help="N,D,K triples, e.g. 1e6,32,16")
    p.add_argument("--cov", nargs="+", choices=FULL_COVS)
    p.add_argument("--dtype", nargs="+", choices=FULL_DTYPES)
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds (one fit per library each); default 3")
    p.add_argument("--method", choices=["hooks", "diff"], default="hooks",
                   help="per-iteration timing: timestamps per iteration (default) or "
                        "(T(max_iter=m) - T(max_iter=1)) / (m - 1)")
    p.add_argument("--libraries", nargs="+", default=["mixfit", "sklearn"], choices=["mixfit", "sklearn"])
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "mixfit_bench_data"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    if args.quick:
        cases, covs, dtypes = QUICK_CASES, QUICK_COVS, QUICK_DTYPES
    elif args.grid == "full":
        cases, covs, dtypes = FULL_CASES, FULL_COVS, FULL_DTYPES
    else:
        cases, covs, dtypes = DEFAULT_CASES, DEFAULT_COVS, DEFAULT_DTYPES
    cases = args.cases or cases
    covs = args.cov or covs
    dtypes = args.dtype or dtypes

    import sklearn
    import threadpoolctl

    import mixfit

    blas = [f"{i.get('internal_api')} {i.get('version')} x{i.get('num_threads')}"
            for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    print(f"# mixfit {getattr(mixfit, '__version__', '?')} | scikit-learn {sklearn.__version__} | "
          f"numpy {np.__version__} | BLAS {', '.join(blas)} | {platform.processor() or platform.machine()} "
          f"x{os.cpu_count()} cpus", flush=True)
    git = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "describe", "--always", "--dirty"],
                         capture_output=True, text=True, check=False).stdout.strip() or "?"
    print(f"# mixfit source: git {git} | load average at start: {os.getloadavg()[0]:.2f} "
          "(keep the machine idle: other work shows up in the timings)", flush=True)
    gemm64 = gemm_rate(dtype=np.float64)
    gemm32 = gemm_rate(dtype=np.float32)
    print(f"# square GEMM 2000x2000: float64 {gemm64 / 1e9:.1f} GFLOP/s, float32 {gemm32 / 1e9:.1f} GFLOP/s",
          flush=True)
    how = ("median over iterations (all rounds) of the time between consecutive iteration starts"
           if args.method == "hooks" else "median over repeats of (T(max_iter=m) - T(max_iter=1)) / (m-1)")
    print(f"# s/it = {how}; MB = peak RSS above the data (ru_maxrss)", flush=True)

    header = (f"{'case (N, D, K)':<18} {'cov':<9} {'dtype':<7} {'mixfit s/it':>11} {'sklearn s/it':>12} "
              f"{'ratio':>6} {'pair':>6} {'pairs':>9} {'mixfit MB':>9} {'sklearn MB':>10} {'data MB':>7} {'GF/s':>6} {'%gemm':>5}  m(mf/sk)")
    print(header)
    print("-" * len(header), flush=True)

    rows = []
    for n, d, k in cases:
        for dtype in dtypes:
            path = ensure_data(args.data_dir, n, d, k, dtype)
            for cov in covs:
                row = {"n": n, "d": d, "k": k, "cov": cov, "dtype": dtype}
                plans = {lib: plan(n, d, k, cov, args.repeats, lib, args.method) for lib in args.libraries}
                rounds = {lib: [] for lib in args.libraries}
                for r in range(max(reps for _, reps in plans.values())):  # interleaved: mf, sk, mf, sk, ...
                    for lib, (m, reps) in plans.items():
                        if r < reps:
                            rounds[lib].append(run_worker({"library": lib, "path": path, "k": k, "cov": cov,
                                                           "m": m, "repeats": 1, "method": args.method}))
                marks = []
                for lib, results in rounds.items():
                    m, reps = plans[lib]
                    per_iter = [t for res in results for t in res["per_iter"]]
                    gemm = [res["gemm_flops"] for res in results if res["gemm_flops"]]
                    row[lib] = {"s_per_iter": statistics.median(per_iter), "per_iter": per_iter,
                                "round_s_per_iter": [statistics.median(res["per_iter"]) for res in results],
                                "fits": [f for res in results for f in res["fits"]], "method": args.method,
                                "peak_above_data_mb": max(res["peak_above_data_mb"] for res in results),
                                "m": m, "repeats": reps, "gemm_flops": statistics.mean(gemm) if gemm else None}
                    row["data_mb"] = results[0]["data_mb"]
                    marks.append(f"{m}x{reps}")
                mf, sk = row.get("mixfit"), row.get("sklearn")
                pairs = []
                if mf and sk:
                    row["ratio"] = sk["s_per_iter"] / mf["s_per_iter"]
                    pairs = [b / a for a, b in zip(mf["round_s_per_iter"], sk["round_s_per_iter"])]
                    row["pair_ratios"] = pairs
                    row["pair_ratio"] = statistics.median(pairs)
                rate = share = None
                if mf and cov == "full":
                    rate = model_flops(n, d, k, cov) / mf["s_per_iter"]
                    share = rate / (mf["gemm_flops"] or (gemm64 if dtype == "float64" else gemm32))
                    row["mixfit_gflops"], row["gemm_share"] = rate / 1e9, share
                star = "*" if sk and sk["repeats"] == 1 and args.repeats > 1 else " "
                print(f"{fmt_case(n, d, k):<18} {cov:<9} {dtype:<7} "
                      f"{mf['s_per_iter'] if mf else float('nan'):>11.4g} "
                      f"{sk['s_per_iter'] if sk else float('nan'):>11.4g}{star} "
                      f"{row.get('ratio', float('nan')):>6.2f} {row.get('pair_ratio', float('nan')):>6.2f} "
                      f"{(f'{min(pairs):.1f}-{max(pairs):.1f}' if pairs else '-'):>9} "
                      f"{mf['peak_above_data_mb'] if mf else float('nan'):>9.1f} "
                      f"{sk['peak_above_data_mb'] if sk else float('nan'):>10.1f} "
                      f"{row['data_mb']:>7.1f} "
                      f"{rate / 1e9 if rate else float('nan'):>6.1f} "
                      f"{100 * share if share else float('nan'):>5.1f}  {'/'.join(marks)}", flush=True)
                rows.append(row)
    print("# ratio = sklearn s/it / mixfit s/it (>1: mixfit faster); pair / pairs = median / range of the "
          "per-round ratios (the libraries timed in turn: mf, sk, mf, sk, ...); * sklearn: one fit of m "
          "iterations (bounded run, one pair); GF/s = 4 N D^2 K per iteration / mixfit s/it")

    print(f"# load average at end: {os.getloadavg()[0]:.2f}")

    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"gemm_float64_flops": gemm64, "gemm_float32_flops": gemm32,
                       "numpy": np.__version__, "sklearn": sklearn.__version__, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
