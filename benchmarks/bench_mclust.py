"""The full selection table (14 families x K = 1..9) from mclust's start, mixfit beside R.

    PYTHONPATH=src python benchmarks/bench_mclust.py [--quick] [--cold] [--repeat N]

mixfit, two ways, each timed once warm (after one small fit has loaded the compiled EM):
- ``table``: one GaussianMixture(K, covariance_type=family, init_params="mclust", tol=1e-6 per
  sample (``--tol``), reg_covar=0) per cell (the tree is built once per data set and cached); a
  cell whose fit fails is NA, as mclust reports it;
- ``select_model``: select_model(X, K, "all", init_params="mclust", convention="mclust",
  hierarchical_start=False), mclust's procedure: its start, its relative convergence rule
  (tol 1e-5), degenerate cells NA, each cell's start, EM and scores in one compiled call
  (selection/compiled_cells.py), the compiled calls on one thread per core (``n_jobs=None``),
  and again on one thread (``n_jobs=1``); with ``--repeat N`` the best of N runs of each.
The first compiled fits' and cells' time is printed apart (a load from numba's on-disk cache; with
``--cold``, an empty cache directory: the compilation itself). For each iterative family the
number of M-steps whose inner loop hit its cap is printed (the bar: none).
R: ``Mclust(X, G = 1:9)`` timed inside R with system.time (R's start-up excluded), when
Rscript and mclust exist. Prints both times and their ratio, and the NA cells of each
(``select_model``'s and R's BIC table's, as K and family).

``--timeline``: after the timings, one more threaded ``select_model`` per data set with its
pieces timed (selection/compiled_cells.py's functions wrapped): mclust's tree (which thread,
when), the calling thread's checks, starts and finishes (total, first, last), each cell
thread's compiled calls (count, busy and idle time between its first start and last end, its
CPU time by ``time.thread_time``), and the wall time after the last call ended.
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

ITERATIVE = ("VEI", "VEE", "EVE", "VVE", "VEV")


def mixfit_table(X, ks, tol=1e-6, inner=None):
    """{(K, family): mclust-sign BIC or NaN}; ``inner``: a dict that collects, per iterative
    family, [M-steps, cap hits, most inner iterations of one M-step]."""
    from mixfit import GaussianMixture
    from mixfit.engine import compiled_small_fits
    from mixfit.families.mclust_msteps import INNER_MAX_ITER
    from mixfit.families.registry import MCLUST_MODEL_NAMES

    table = {}
    with warnings.catch_warnings(), compiled_small_fits():  # a sweep: as select_model's cells
        warnings.simplefilter("ignore")
        for k in ks:
            for family in MCLUST_MODEL_NAMES:
                try:
                    gm = GaussianMixture(k, covariance_type=family, init_params="mclust", tol=tol,
                                         max_iter=1000, reg_covar=0.0).fit(X)
                    table[k, family] = -gm.bic(X)
                except (ValueError, np.linalg.LinAlgError):  # a degenerate cell: mclust reports NA
                    table[k, family] = np.nan
                    continue
                if inner is not None and family in ITERATIVE:
                    counts = gm._covariance.inner_iterations  # the strategy's record, one per M-step
                    entry = inner.setdefault(family, [0, 0, 0])
                    entry[0] += len(counts)
                    entry[1] += sum(c >= INNER_MAX_ITER for c in counts)
                    entry[2] = max([entry[2], *counts])
    return table


def forget_trees():
    """Empty the cache of mclust's trees and their cuts (engine/mclust_hc.py)."""
    from mixfit.engine import mclust_hc

    mclust_hc._tree_of.cache_clear()
    mclust_hc._cut_of.cache_clear()


def mixfit_select(X, ks, n_jobs=None):
    from mixfit import select_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return select_model(X, ks, "all", init_params="mclust", convention="mclust", hierarchical_start=False,
                            reg_covar=0.0, n_jobs=n_jobs)


def timeline(X, ks):
    """One threaded select_model with its pieces timed (``--timeline``): printed lines."""
    from mixfit.engine import mclust_hc
    from mixfit.selection import compiled_cells

    events, origin = [], time.perf_counter()

    def timed(name, function, kernel=False):
        def wrapper(*args, **kwargs):
            cpu, start = time.thread_time(), time.perf_counter()
            out = function(*args, **kwargs)
            events.append((name, threading.current_thread().name, start - origin, time.perf_counter() - origin,
                           time.thread_time() - cpu))
            return out
        return wrapper

    names = ("checked_cell", "started_cell", "finished_cell", "run_mclust_cell")
    saved = {name: getattr(compiled_cells, name) for name in names}
    tree = mclust_hc.compiled_merge_tree
    try:
        for name in names:
            setattr(compiled_cells, name, timed(name, saved[name]))
        mclust_hc.compiled_merge_tree = timed("tree", tree)
        forget_trees()
        origin = time.perf_counter()
        mixfit_select(X, ks)
        wall = time.perf_counter() - origin
    finally:
        for name in names:
            setattr(compiled_cells, name, saved[name])
        mclust_hc.compiled_merge_tree = tree
    ms = 1e3
    lines = [f"  timeline: wall {wall * ms:.1f} ms"]
    for name in ("tree", "checked_cell", "started_cell", "finished_cell"):
        part = [e for e in events if e[0] == name]
        if part:
            lines.append(f"    {name} on {part[0][1]}: {len(part)} calls, {sum(e[3] - e[2] for e in part) * ms:.1f} ms, "
                         f"first at {part[0][2] * ms:.1f}, last ends {part[-1][3] * ms:.1f} ms")
    calls = [e for e in events if e[0] == "run_mclust_cell"]
    for thread in sorted({e[1] for e in calls}):
        mine = [e for e in calls if e[1] == thread]
        first, last = min(e[2] for e in mine), max(e[3] for e in mine)
        busy = sum(e[3] - e[2] for e in mine)
        lines.append(f"    {thread}: {len(mine)} calls, busy {busy * ms:.1f} ms (CPU {sum(e[4] for e in mine) * ms:.1f}), "
                     f"idle {(last - first - busy) * ms:.1f} ms, first starts {first * ms:.1f}, last ends {last * ms:.1f}")
    if calls:
        lines.append(f"    after the last call: {(wall - max(e[3] for e in calls)) * ms:.1f} ms")
    return lines


def r_time(X, ks):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.csv"
        np.savetxt(path, X, delimiter=",")
        script = (f'suppressPackageStartupMessages(library(mclust)); X <- as.matrix(read.csv("{path}", header=FALSE));'
                  f' t <- system.time(m <- Mclust(X, G = {min(ks)}:{max(ks)}, verbose = FALSE))[["elapsed"]];'
                  ' na <- which(is.na(m$BIC), arr.ind = TRUE);'
                  ' cat(t, paste0(rownames(m$BIC)[na[, 1]], colnames(m$BIC)[na[, 2]]), sep = " ")')
        out = subprocess.run(["Rscript", "-e", script], check=False, capture_output=True, text=True)
        if out.returncode != 0:
            return None
        seconds, *na = out.stdout.split()
        return float(seconds), sorted(na)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="K = 1..3 only")
    parser.add_argument("--cold", action="store_true",
                        help="compile the EM afresh (an empty numba cache directory) to time the compilation")
    parser.add_argument("--tol", type=float, default=1e-6,
                        help="the table's EM tol per sample (select_model's line uses mclust's relative rule, "
                             "1e-5 x (1 + |L|) on the total L: about 4e-5 per sample on faithful)")
    parser.add_argument("--timeline", action="store_true",
                        help="time one more threaded select_model's pieces (the tree, the cells' calls per thread)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time select_model this many times and print the best (a shared machine's noise)")
    args = parser.parse_args()
    if args.cold:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp()  # read when numba is first imported
    from mixfit.datasets import load_faithful

    ks = range(1, 4) if args.quick else range(1, 10)
    data = [("faithful", load_faithful()[0]), ("iris", load_iris().data)]
    start = time.perf_counter()
    mixfit_table(data[1][1][:20], [1])  # the first compiled fits: numba's compile or cache load
    mixfit_select(data[1][1][:80], [1, 2])  # the first compiled cells and split tree (>= 64 rows)
    print(f"first fits (numba {'compile' if args.cold else 'cache load'} + imports): "
          f"{time.perf_counter() - start:.2f} s")
    inner = {}
    for name, X in data:
        forget_trees()  # each timing builds its tree, as R's includes its hc
        start = time.perf_counter()
        table = mixfit_table(X, ks, args.tol, inner)
        ours = time.perf_counter() - start
        swept, serial = np.inf, np.inf
        for _ in range(args.repeat):  # the best of --repeat runs, each building its tree
            forget_trees()
            start = time.perf_counter()
            result = mixfit_select(X, ks)
            swept = min(swept, time.perf_counter() - start)
            forget_trees()
            start = time.perf_counter()
            mixfit_select(X, ks, n_jobs=1)
            serial = min(serial, time.perf_counter() - start)
        theirs = r_time(X, ks)
        ours_na = sorted(f"{c.n_components}{c.covariance_type}" for c in result.cells if c.is_na)
        finite = sum(np.isfinite(v) for v in table.values())
        best = max((v, k) for k, v in table.items() if np.isfinite(v))
        line = (f"{name} {X.shape}: mixfit table {ours:.3f} s ({finite}/{len(table)} finite cells, best {best[1]}); "
                f"select_model {swept:.3f} s (n_jobs=1: {serial:.3f} s; best {result.best.n_components}, "
                f"{result.best.covariance_type})")
        line += f"; select_model NA: {' '.join(ours_na) or 'none'}"
        if theirs is not None:
            theirs, r_na = theirs
            line += (f"; R Mclust {theirs:.3f} s (NA: {' '.join(r_na) or 'none'}); R / table = {theirs / ours:.1f}, "
                     f"R / select_model = {theirs / swept:.1f} (n_jobs=1: {theirs / serial:.1f})")
        print(line)
        if args.timeline:
            print("\n".join(timeline(X, ks)))
    for family, (steps, hits, most) in inner.items():
        print(f"  {family}: {steps} M-steps, {hits} inner-cap hits, at most {most} inner iterations")


if __name__ == "__main__":
    main()
