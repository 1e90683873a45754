"""The full selection table (14 families x K = 1..9) from mclust's start, mixfit beside R.

    PYTHONPATH=src python benchmarks/bench_mclust.py [--quick]

mixfit: one GaussianMixture(K, covariance_type=family, init_params="mclust", tol=1e-6 per
sample (``--tol``), reg_covar=0) per cell (the tree is built once per data set and cached); a cell whose fit
fails is NA, as mclust reports it.
R: ``Mclust(X, G = 1:9)`` timed inside R with system.time (R's start-up excluded), when
Rscript and mclust exist. Prints both times and their ratio.
"""

import argparse
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

from mixfit import GaussianMixture
from mixfit.datasets import load_faithful
from mixfit.families.registry import MCLUST_MODEL_NAMES


def mixfit_table(X, ks, tol=1e-6):
    table = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in ks:
            for family in MCLUST_MODEL_NAMES:
                try:
                    gm = GaussianMixture(k, covariance_type=family, init_params="mclust", tol=tol,
                                         max_iter=1000, reg_covar=0.0).fit(X)
                    table[k, family] = -gm.bic(X)
                except (ValueError, np.linalg.LinAlgError):  # a degenerate cell: mclust reports NA
                    table[k, family] = np.nan
    return table


def r_time(X, ks):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.csv"
        np.savetxt(path, X, delimiter=",")
        script = (f'suppressPackageStartupMessages(library(mclust)); X <- as.matrix(read.csv("{path}", header=FALSE));'
                  f' t <- system.time(Mclust(X, G = {min(ks)}:{max(ks)}, verbose = FALSE))[["elapsed"]]; cat(t)')
        out = subprocess.run(["Rscript", "-e", script], check=False, capture_output=True, text=True)
        return float(out.stdout.strip()) if out.returncode == 0 else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="K = 1..3 only")
    parser.add_argument("--tol", type=float, default=1e-6,
                        help="EM tol per sample (select_model's SWEEP_TOL; mclust's relative 1e-5 is "
                             "about 1e-5 x |mean log-likelihood| per sample, ~4e-5 on faithful)")
    args = parser.parse_args()
    ks = range(1, 4) if args.quick else range(1, 10)
    for name, X in [("faithful", load_faithful()[0]), ("iris", load_iris().data)]:
        start = time.perf_counter()
        table = mixfit_table(X, ks, args.tol)
        ours = time.perf_counter() - start
        theirs = r_time(X, ks)
        finite = sum(np.isfinite(v) for v in table.values())
        best = max((v, k) for k, v in table.items() if np.isfinite(v))
        line = f"{name} {X.shape}: mixfit {ours:.2f} s ({finite}/{len(table)} finite cells, best {best[1]})"
        if theirs is not None:
            line += f"; R Mclust {theirs:.2f} s; R / mixfit = {theirs / ours:.2f}"
        print(line)


if __name__ == "__main__":
    main()
