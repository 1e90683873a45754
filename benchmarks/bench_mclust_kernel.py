"""Per-iteration cost of the compiled mclust cell (``kernels.mclust_cell_compiled.cell_fit``).

    PYTHONPATH=src python benchmarks/bench_mclust_kernel.py [--quick] [--repeat N] [--save PATH]

Records the kernel's arguments of every cell of ``select_model``'s mclust table (14 families x
K = 1..9 on faithful and iris, ``reg_covar=0``, mclust's procedure as ``bench_mclust.py`` runs it),
then reruns all the cells of a data set on one thread, ``--repeat`` times, and prints the best
total, the EM iterations and the microseconds per iteration, with each family's share. ``--save``
writes every cell's output (an ``.npz``) to compare two versions of the kernel.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_iris


def record_cells(X, ks):
    """The argument tuples of the sweep's compiled cells, in sweep order."""
    from mixfit import select_model
    from mixfit.kernels import mclust_cell_compiled

    recorded = []
    original = mclust_cell_compiled.cell_fit

    def recording(*arguments):
        recorded.append(arguments)
        return original(*arguments)

    mclust_cell_compiled.cell_fit = recording
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            select_model(X, ks, "all", init_params="mclust", convention="mclust", hierarchical_start=False,
                         reg_covar=0.0, n_jobs=1)
    finally:
        mclust_cell_compiled.cell_fit = original
    return recorded


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="K = 1..4 and one repeat")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--save", default=None, help="write every cell's output to this .npz")
    args = parser.parse_args()
    from mixfit.datasets import load_faithful
    from mixfit.kernels.mclust_cell_compiled import cell_fit
    from mixfit.kernels.mclust_msteps_compiled import FAMILY_CODES

    ks = range(1, 5) if args.quick else range(1, 10)
    repeat = 1 if args.quick else args.repeat
    saved = {}
    for name, X in (("faithful", load_faithful()[0]), ("iris", load_iris().data)):
        X = np.ascontiguousarray(X, dtype=np.float64)
        cells = record_cells(X, ks)
        outputs = [cell_fit(*arguments) for arguments in cells]  # warm
        best = np.inf
        per_family = {}
        for _ in range(repeat):
            start = time.perf_counter()
            for arguments in cells:
                cell_fit(*arguments)
            best = min(best, time.perf_counter() - start)
        for arguments in cells:  # each family's share, best of three
            family = FAMILY_CODES[arguments[4]]
            times = []
            for _ in range(3):
                start = time.perf_counter()
                cell_fit(*arguments)
                times.append(time.perf_counter() - start)
            per_family[family] = per_family.get(family, 0.0) + min(times)
        iterations = sum(int(out[4]) for out in outputs)
        print(f"{name}: {len(cells)} cells, {iterations} EM iterations, best of {repeat} {best * 1e3:.1f} ms,"
              f" {best / iterations * 1e6:.2f} us an iteration (starts and scores included)")
        print("  " + ", ".join(f"{family} {seconds * 1e3:.1f}" for family, seconds in per_family.items()) + " ms")
        for i, out in enumerate(outputs):
            for j, value in enumerate(out):
                saved[f"{name}/{i}/{j}"] = np.asarray(value)
    if args.save:
        np.savez(args.save, **saved)


if __name__ == "__main__":
    main()
