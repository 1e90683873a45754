"""Prediction on many rows: time and peak memory of ``predict``, ``predict_proba`` and
``score_samples``, mixfit beside scikit-learn, with the same fitted parameters, in one run.

    python benchmarks/bench_predict.py                     # 1e7 x 32 rows, K = 16, full
    python benchmarks/bench_predict.py --n 1e6 --cov diag  # smaller, another covariance type

The data (float64, a K-component mixture) are written once to ``--dir`` as .npy (2.4 GiB at
1e7 x 32). A mixfit model is fitted on the first 1e5 rows and saved; scikit-learn's estimator gets
the very same weights, means and precision factors. Each (library, method) runs in a fresh
subprocess that loads X into memory (``numpy.load``, no memmap), resets the kernel's peak-RSS mark
(``/proc/self/clear_refs``, Linux; mixfit after one call on 64 rows, which loads numba's code),
calls the method once and reads the peak (VmHWM): "extra MB"
is that peak above the RSS before the call, minus the output array itself (what the method needed besides its answer), so that a bounded method
reads about its chunk working set whatever N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

METHODS = ("predict", "predict_proba", "score_samples")
_BLOCK_ROWS = 1_000_000


def write_data(path, n_rows, n_features, n_components, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(n_components, n_features))
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n_rows, n_features))
    for start in range(0, n_rows, _BLOCK_ROWS):
        stop = min(n_rows, start + _BLOCK_ROWS)
        labels = rng.integers(n_components, size=stop - start)
        X[start:stop] = means[labels] + rng.standard_normal((stop - start, n_features))
    X.flush()
    del X


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(args):
    """One (library, method): load X, fit-free prediction from the saved parameters."""
    X = np.load(args.data)
    params = np.load(args.params)
    if args.library == "mixfit":
        import mixfit

        model = mixfit.load(args.model)
        # The same method on a few rows first: the code numba loads on first use (mixfit's
        # compiled kernels, ~100 MB with LLVM) belongs to the process, not to this call.
        getattr(model, args.method)(X[:64])
    else:
        from sklearn.mixture import GaussianMixture

        model = GaussianMixture(int(params["weights"].shape[0]), covariance_type=args.cov)
        model.weights_, model.means_ = params["weights"], params["means"]
        model.precisions_cholesky_ = params["prec_chol"]
        model.covariances_, model.precisions_ = params["covariances"], params["precisions"]
        model.n_features_in_ = X.shape[1]
    with open("/proc/self/clear_refs", "w") as f:  # Linux: reset the peak (VmHWM) to the current RSS
        f.write("5")
    before = _status_bytes("VmRSS")
    started = time.perf_counter()
    out = getattr(model, args.method)(X)
    seconds = time.perf_counter() - started
    extra = _status_bytes("VmHWM") - before - out.nbytes
    print(json.dumps({"seconds": seconds, "extra_mb": extra / 2**20, "out_mb": out.nbytes / 2**20,
                      "checksum": float(np.asarray(out, dtype=np.float64)[:1000].sum())}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=1e7)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--cov", default="full", choices=("full", "tied", "diag", "spherical"))
    parser.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp"))
    parser.add_argument("--libraries", nargs="+", default=["mixfit", "sklearn"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--library", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    n = int(args.n)
    data = os.path.join(args.dir, f"mixfit_predict_{n}x{args.d}_k{args.k}.npy")
    if not os.path.exists(data):
        write_data(data, n, args.d, args.k)
    from mixfit import GaussianMixture

    X = np.load(data, mmap_mode="r")
    fitted = GaussianMixture(args.k, covariance_type=args.cov, max_iter=20, random_state=0).fit(
        np.asarray(X[:100_000]))
    params = os.path.join(args.dir, "mixfit_predict_params.npz")
    np.savez(params, weights=fitted.weights_, means=fitted.means_, prec_chol=fitted.precisions_cholesky_,
             covariances=fitted.covariances_, precisions=fitted.precisions_)
    model_file = os.path.join(args.dir, "mixfit_predict_model.mixfit")
    fitted.save(model_file)
    import sklearn

    import mixfit

    print(f"# mixfit {mixfit.__version__}, scikit-learn {sklearn.__version__}; X {n} x {args.d} float64 "
          f"({X.nbytes / 2**20:.0f} MiB in memory), K = {args.k}, {args.cov}; load {os.getloadavg()[0]:.2f}")
    print(f"{'method':<15}{'library':<9}{'seconds':>9}{'extra MB':>10}{'output MB':>11}")
    checks = {}
    for method in METHODS:
        for library in args.libraries:
            command = [sys.executable, __file__, "--child", "--library", library, "--method", method,
                       "--data", data, "--params", params, "--model", model_file, "--cov", args.cov]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            checks.setdefault(method, []).append(result["checksum"])
            print(f"{method:<15}{library:<9}{result['seconds']:>9.2f}{result['extra_mb']:>10.0f}"
                  f"{result['out_mb']:>11.0f}", flush=True)
    print("# extra MB = peak RSS (VmHWM) above the RSS before the call, less the output array")
    print(f"# first 1000 outputs summed per method (libraries agree): {checks}")


if __name__ == "__main__":
    main()
