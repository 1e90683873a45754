"""The full-covariance E-step and moments with numpy's pair products against numba's, in one run.

    python benchmarks/bench_pair_products.py           # (8, 4), (16, 8), (24, 12), (32, 16); float64, float32
    python benchmarks/bench_pair_products.py --quick   # (16, 8) float64, fewer repeats
    python benchmarks/bench_pair_products.py --fits    # also whole fits at (2e5, 16, 8), both paths

``GaussianEM.accumulate`` (the chunk's distances, normalisation and moments: the whole E-step of
a full-covariance pass) on 1e5 rows of a K-component mixture in D dimensions, in row chunks of
``--chunk`` rows on the calling thread, from two parameter sets: the fitted mixture (most rows
belong to one component: the moments from those pairs alone, ``sparse_moments``) and a start
where every component takes a share of every row (the dense moment product). Two paths,
alternated ``--repeats`` times, medians of the thread's CPU time and of the wall time per 1e5
rows: numpy's pair products by cyclic distance (``kernels/expanded.py``, ``write_pairs``) and
normalisation (``linalg._columns_in_order``) and centring, as a stream's step runs where numba is
not loaded (``kernels/numba_loading.py``) or not installed; and numba's loops
(``pairs_compiled``, ``normalize_compiled``, ``centred_compiled``), as everything else runs where
numba is installed. Both give the same numbers bit for bit. ``--fits``: whole fits (8 EM
iterations from one start, (2e5, 16, 8) full, the pool's threads) on either path, alternated,
medians of process CPU and wall time, and their lower bounds (equal). Needs numba.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread's work: the pass spreads chunks over threads

import numba  # noqa: F401  (loaded, as where a fit has loaded it)
import numpy as np

from mixfit import GaussianMixture
from mixfit.families.registry import make_covariance
from mixfit.kernels import expanded, linalg, scratch
from mixfit.models.gaussian_em import GaussianEM, GaussianParams


def use(path: str, block_bytes: int = expanded._BLOCK_BYTES) -> None:
    """numpy's loops (as a stream's step where numba is not loaded) or numba's (as wherever it
    is), with pair-product blocks of about ``block_bytes``."""
    compiled = path == "numba"
    expanded._BLOCK_BYTES = block_bytes
    expanded._compiled = lambda n_features: compiled  # the pair products
    linalg.compiled_loop = lambda: compiled  # the normalisation
    scratch.NUMBA = compiled  # the centring (scratch.centred_if_complete: numba's where loaded)


def mixture_rows(D, K, n, seed):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(K, D))
    labels = rng.integers(K, size=n)
    return means[labels] + rng.normal(size=(n, D)) @ np.linalg.cholesky(np.eye(D) * 0.5 + 0.5 / D).T


def time_pass(model, X, params, chunk):
    wall, cpu = time.perf_counter(), time.thread_time()
    for start in range(0, X.shape[0], chunk):
        model.accumulate(X[start:start + chunk], params, None)
    return time.thread_time() - cpu, time.perf_counter() - wall


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--fits", action="store_true")
    parser.add_argument("--chunk", type=int, default=10_082)  # the streaming benchmark's chunk at (16, 8)
    parser.add_argument("--block-kib", default=str(expanded._BLOCK_BYTES // 1024),
                        help="block sizes of pair products to alternate, KiB, comma-separated (e.g. 1024,512,256)")
    args = parser.parse_args()
    blocks = [int(b) * 1024 for b in args.block_kib.split(",")]
    cases = [(16, 8)] if args.quick else [(8, 4), (16, 8), (24, 12), (32, 16)]
    dtypes = [np.float64] if args.quick else [np.float64, np.float32]
    repeats = 5 if args.quick else args.repeats
    n = 100_000
    print(f"per 1e5 rows, chunks of {args.chunk}, one thread; medians of {repeats} alternations (ms): "
          "thread CPU / wall")
    for D, K in cases:
        X64 = mixture_rows(D, K, n, seed=D)
        fitted = GaussianMixture(K, covariance_type="full", random_state=0, max_iter=20).fit(X64[:20_000])
        for dtype in dtypes:
            X = X64.astype(dtype)
            model = GaussianEM(make_covariance("full"), 1e-6, dtype)
            sets = {
                "fitted": GaussianParams(fitted.weights_.astype(dtype), fitted.means_.astype(dtype),
                                         fitted.precisions_cholesky_.astype(dtype)),
                "spread": GaussianParams(fitted.weights_.astype(dtype), fitted.means_.astype(dtype),
                                         (fitted.precisions_cholesky_ / 3).astype(dtype)),
            }
            for name, params in sets.items():
                times = {(path, size): [] for size in blocks for path in ("numpy", "numba")}
                for path, size in times:  # warm: compile or load, and the scratch buffers
                    use(path, size)
                    time_pass(model, X, params, args.chunk)
                for _ in range(repeats):
                    for (path, size), taken in times.items():
                        use(path, size)
                        taken.append(time_pass(model, X, params, args.chunk))
                med = {key: np.median(np.array(t), axis=0) * 1e3 for key, t in times.items()}
                for size in blocks:
                    numpy_, numba_ = med["numpy", size], med["numba", size]
                    print(f"(D, K) = ({D:2d}, {K:2d}) {np.dtype(dtype).name} {name:6s} blocks of "
                          f"{max(expanded._MIN_BLOCK_ROWS, size // (D * (D + 3) // 2 * X.itemsize)):4d} rows: numpy {numpy_[0]:7.2f} / "
                          f"{numpy_[1]:7.2f}   numba {numba_[0]:7.2f} / {numba_[1]:7.2f}   "
                          f"numpy / numba CPU {numpy_[0] / numba_[0]:.3f}", flush=True)
    if args.fits:
        whole_fits(repeats)
    use("numpy")


def whole_fits(repeats, n=200_000, D=16, K=8):
    """Whole fits on either path, alternated: CPU and wall medians, and the lower bounds."""
    import warnings

    X = mixture_rows(D, K, n, seed=D)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration, and tol=0: never converged, on purpose
        start = GaussianMixture(K, covariance_type="full", random_state=0, max_iter=1).fit(X[:20_000])
    options = {"covariance_type": "full", "tol": 0, "max_iter": 8, "weights_init": start.weights_,
               "means_init": start.means_, "precisions_init": start.precisions_}

    def fit(path):
        use(path)
        wall, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = GaussianMixture(K, **options).fit(X)
        return time.process_time() - cpu, time.perf_counter() - wall, model.lower_bound_

    times = {"numpy": [], "numba": []}
    for path in times:
        fit(path)
    for _ in range(repeats):
        for path, taken in times.items():
            taken.append(fit(path))
    med = {p: np.median(np.array(t)[:, :2], axis=0) for p, t in times.items()}
    print(f"whole fits ({n:.0e}, {D}, {K}) full, 8 iterations: numpy {med['numpy'][0]:.3f} s CPU / "
          f"{med['numpy'][1]:.3f} s wall, numba {med['numba'][0]:.3f} / {med['numba'][1]:.3f}, "
          f"CPU ratio {med['numpy'][0] / med['numba'][0]:.3f}; lower bounds equal: "
          f"{times['numpy'][0][2] == times['numba'][0][2]}")


if __name__ == "__main__":
    main()
