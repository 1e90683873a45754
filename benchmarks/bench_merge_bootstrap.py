"""Merging components and bootstrapping parameters: mixfit beside R mclust, in one run.

For Old Faithful (mclust's BIC choice EEE, G = 3) and iris (VEV, G = 2): mclust fits the model
once (``Mclust``), then times ``clustCombi`` and ``MclustBootstrap(nboot = B, type = "bs" |
"wlbs")``; mixfit starts a GaussianMixture of the same family from mclust's parameters (the
same optimum, mclust's stopping rule as ``tol``), then times ``merge_components`` and
``bootstrap(n_boot=B, kind="nonparametric" | "weighted")``, and prints the bootstrap standard
errors of the weights from both. R is optional: without ``Rscript`` only mixfit's side runs
(its fits then start from mixfit's own EM fit).

    python benchmarks/bench_merge_bootstrap.py [--quick] [--n-boot 999]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from mixfit import GaussianMixture, bootstrap, merge_components

INPUTS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mclust" / "inputs"
CASES = {"faithful": ("EEE", 3), "iris": ("VEV", 2)}
R_SCRIPT = r"""
suppressPackageStartupMessages(library(mclust)); library(jsonlite)
args <- commandArgs(trailingOnly = TRUE)
X <- as.matrix(read.csv(args[1])); dimnames(X) <- NULL
fit <- Mclust(X, G = as.integer(args[3]), modelNames = args[2], verbose = FALSE)
nboot <- as.integer(args[4]); set.seed(1)
t_combi <- system.time(clustCombi(fit))[["elapsed"]]
t_bs <- system.time(bs <- MclustBootstrap(fit, nboot = nboot, type = "bs", verbose = FALSE))[["elapsed"]]
t_wl <- system.time(wl <- MclustBootstrap(fit, nboot = nboot, type = "wlbs", verbose = FALSE))[["elapsed"]]
cat(toJSON(list(loglik = fit$loglik, pro = fit$parameters$pro,
                mean = lapply(seq_len(fit$G), function(k) fit$parameters$mean[, k]),
                sigma = lapply(seq_len(fit$G), function(k) unname(fit$parameters$variance$sigma[, , k])),
                t_combi = t_combi, t_bs = t_bs, t_wl = t_wl,
                se_bs = summary(bs, what = "se")$pro, se_wl = summary(wl, what = "se")$pro),
           auto_unbox = TRUE, digits = NA))
"""


def run_r(path, model, G, n_boot):
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as handle:
        handle.write(R_SCRIPT)
    out = subprocess.run(["Rscript", handle.name, str(path), model, str(G), str(n_boot)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def timed(function):
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="99 replicates instead of --n-boot")
    parser.add_argument("--n-boot", type=int, default=999)
    args = parser.parse_args()
    n_boot = 99 if args.quick else args.n_boot
    has_r = shutil.which("Rscript") is not None
    print(f"B = {n_boot} replicates; R mclust {'found' if has_r else 'not found (mixfit only)'}")
    print(f"{'data':9s} {'step':22s} {'mixfit s':>9s} {'mclust s':>9s} {'ratio':>6s}  SE(weights) mixfit | mclust")
    for name, (model, G) in CASES.items():
        path = INPUTS / f"{name}.csv"
        X = np.loadtxt(path, delimiter=",", skiprows=1)
        r = run_r(path, model, G, n_boot) if has_r else None
        if r is not None:
            precisions = np.linalg.inv(np.array(r["sigma"]))
            start = {"weights_init": np.array(r["pro"]), "means_init": np.array(r["mean"]),
                     "precisions_init": precisions[0] if model == "EEE" else precisions}
            tol = 1e-5 * (1 + abs(r["loglik"])) / X.shape[0]  # mclust's relative rule, per row
        else:
            start, tol = {"n_init": 3, "random_state": 0}, 1e-5
        fit = GaussianMixture(G, covariance_type=model, reg_covar=0.0, tol=tol, max_iter=1000, **start).fit(X)
        rows = [("merge_components", partial(merge_components, fit, X), "t_combi", None),
                ("bootstrap nonparam.", partial(bootstrap, fit, X, n_boot=n_boot, random_state=0), "t_bs", "se_bs"),
                ("bootstrap weighted", partial(bootstrap, fit, X, n_boot=n_boot, kind="weighted", random_state=0),
                 "t_wl", "se_wl")]
        for label, function, r_time, r_se in rows:
            seconds, value = timed(function)
            r_seconds = r[r_time] if r else float("nan")
            se = "" if r_se is None else (np.array2string(value.standard_errors()["weights"], precision=4)
                                          + " | " + (np.array2string(np.array(r[r_se]), precision=4) if r else "-"))
            print(f"{name:9s} {label:22s} {seconds:9.3f} {r_seconds:9.3f} {r_seconds / seconds:6.1f}  {se}")


if __name__ == "__main__":
    main()
