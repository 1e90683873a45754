"""mixfit vs hmmlearn: seconds per Baum-Welch iteration and peak memory, same data, same start, one run.

Usage::

    python benchmarks/bench_hmm.py                    # 1000 x 1000 and 1 x 1e6 frames, K=10, D=8 (~5 min)
    python benchmarks/bench_hmm.py --quick            # 100 x 1000 and 1 x 1e5 frames (~1 min)
    python benchmarks/bench_hmm.py --cases long --cov diag --iters 6 --repeats 3
    python benchmarks/bench_hmm.py --hmmlearn scaling # leave out hmmlearn's slower 'log'

Cases: ``many`` (``--n-seq`` sequences of ``--seq-frames`` frames, default 1000 x 1000) and
``long`` (one sequence of ``--long-frames``, default 1e6). Every (case, covariance, library) runs
in a fresh subprocess (``--worker``), which imports the library, runs a tiny fit (imports,
numba's cache, hmmlearn's C extension), draws the data, resets the kernel's peak-RSS mark
(``/proc/self/clear_refs``) and then fits. Both libraries start from the same parameters (uniform
start and transitions, means drawn from the data, unit covariances) and run ``--iters``
iterations with tol=0; hmmlearn with its covariance prior switched off, in each implementation of
``--hmmlearn`` ('scaling', its faster, and 'log'). Printed per row:

- ``s/it``: seconds per iteration, the median of the intervals between the starts of
  consecutive E-steps (mixfit: ``SequenceSource.map_reduce``, hmmlearn: ``_do_estep``, both
  wrapped in the worker), over every iteration of every repeat: a whole iteration, E + M;
- ``ratio``: hmmlearn's faster implementation's s/it over mixfit's (> 1: mixfit is faster);
- ``MB``: the fit's peak RSS above the process with its data loaded (VmHWM after the fit minus
  VmRSS before it); ``data MB`` the frames' size.

The load average is printed before and after: on a shared machine, rerun when it is above ~1.5.
``--recursions numpy`` times mixfit with its numpy loops over frames (hmm_recursions.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

_BLOCK = 2**16  # frames drawn per block: the data are made without a temporary of their size


def _frames(n, n_features):
    """The same n frames in every worker: blocks from one seeded stream, written in place."""
    rng = np.random.default_rng(0)
    X = np.empty((n, n_features))
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        X[start:stop] = rng.normal(size=(stop - start, n_features))
        X[start:stop] += rng.integers(0, 4, size=(stop - start, 1))
    return X


def _status(field):
    """A field of /proc/self/status in MiB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak():
    """Set the peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _make(library, K, covariance_type, means, n_iter, recursions):
    D = means.shape[1]
    if library == "mixfit":
        from mixfit import GaussianHMM

        if recursions != "default":  # a benchmark-only switch: the fits read this module global
            from mixfit.kernels import hmm_inference
            from mixfit.kernels.hmm_recursions import RECURSIONS

            hmm_inference.DEFAULT_RECURSIONS = RECURSIONS[recursions]
        precisions = {"full": np.array([np.eye(D)] * K), "diag": np.ones((K, D))}[covariance_type]
        return GaussianHMM(K, covariance_type=covariance_type, tol=0, max_iter=n_iter, means_init=means,
                           precisions_init=precisions)
    from hmmlearn import hmm

    implementation = library.split(":")[1]
    model = hmm.GaussianHMM(K, covariance_type=covariance_type, n_iter=n_iter, tol=0, init_params="",
                            covars_prior=0, covars_weight=0, implementation=implementation)
    model.startprob_, model.transmat_, model.means_ = np.full(K, 1 / K), np.full((K, K), 1 / K), means
    model.covars_ = np.array([np.eye(D)] * K) if covariance_type == "full" else np.ones((K, D))
    return model


_STAMPS: list = []  # the start of every E-step of the worker's timed fits


def _timed(library, model):
    """Record the start of every E-step of ``model``'s fits in ``_STAMPS``."""
    if library == "mixfit":
        from mixfit.backends.sequences import SequenceSource

        if not getattr(SequenceSource.map_reduce, "timed", False):
            original = SequenceSource.map_reduce

            def map_reduce(self, *args, **kwargs):
                _STAMPS.append(time.perf_counter())
                return original(self, *args, **kwargs)

            map_reduce.timed = True
            SequenceSource.map_reduce = map_reduce
    else:
        original = model._do_estep

        def do_estep(*args, **kwargs):
            _STAMPS.append(time.perf_counter())
            return original(*args, **kwargs)

        model._do_estep = do_estep


def worker(args):
    """One (case, covariance, library) in this fresh process; prints one JSON line."""
    K, D = args.states, args.features
    n_seq, seq_frames = (args.n_seq, args.seq_frames) if args.case == "many" else (1, int(args.long_frames))
    warm = _frames(50 * K, D)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _make(args.library, K, args.cov, warm[:K], 2, args.recursions).fit(warm, [warm.shape[0]])
        X = _frames(n_seq * seq_frames, D)
        lengths = np.full(n_seq, seq_frames)
        means = X[np.random.default_rng(1).choice(X.shape[0], K, replace=False)]
        intervals, peaks = [], []
        for _ in range(args.repeats):
            model = _make(args.library, K, args.cov, means, args.iters, args.recursions)
            _STAMPS.clear()
            _timed(args.library, model)
            _reset_peak()
            before = _status("VmRSS")
            model.fit(X, lengths)
            peaks.append(_status("VmHWM") - before)
            intervals.extend(np.diff(_STAMPS))
    print(json.dumps({"s_per_it": statistics.median(intervals), "mb": max(peaks), "data_mb": X.nbytes / 2**20,
                      "intervals": len(intervals)}))


def _run_worker(args, case, cov, library):
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--case", case, "--cov", cov,
               "--library", library, "--states", str(args.states), "--features", str(args.features),
               "--n-seq", str(args.n_seq), "--seq-frames", str(args.seq_frames),
               "--long-frames", str(args.long_frames), "--iters", str(args.iters),
               "--repeats", str(args.repeats), "--recursions", args.recursions]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {case} {cov} {library} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _versions():
    import hmmlearn
    import numba

    import mixfit

    return f"mixfit {mixfit.__version__}, hmmlearn {hmmlearn.__version__}, numba {numba.__version__}, numpy {np.__version__}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 x 1000 and 1 x 1e5 frames")
    parser.add_argument("--n-seq", type=int, default=1000)
    parser.add_argument("--seq-frames", type=int, default=1000)
    parser.add_argument("--long-frames", type=float, default=1e6)
    parser.add_argument("--states", type=int, default=10)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--iters", type=int, default=4, help="iterations per fit (iters - 1 intervals timed)")
    parser.add_argument("--repeats", type=int, default=1, help="fits per worker; the median is over all")
    parser.add_argument("--recursions", choices=["default", "numpy", "numba"], default="default")
    parser.add_argument("--cov", nargs="+", default=["full", "diag"])
    parser.add_argument("--cases", nargs="+", choices=["many", "long"], default=["many", "long"])
    parser.add_argument("--hmmlearn", nargs="*", choices=["scaling", "log"], default=["scaling", "log"])
    parser.add_argument("--json", help="also write every number to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--library", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.cov = args.cov[0]
        return worker(args)
    if args.quick:
        args.n_seq, args.long_frames = 100, 1e5
    libraries = ["mixfit"] + [f"hmmlearn:{name}" for name in args.hmmlearn]
    print(_versions())
    print(f"K={args.states} D={args.features} iters={args.iters} repeats={args.repeats} "
          f"recursions={args.recursions} cores={len(os.sched_getaffinity(0))}; load average {os.getloadavg()}")
    labels = {"many": f"{args.n_seq} x {args.seq_frames}", "long": f"1 x {int(args.long_frames)}"}
    head = "".join(f"{name.replace('hmmlearn:', 'hl-'):>12}" for name in libraries)
    print(f"{'case':>12} {'cov':>5} |{head} s/it | {'ratio':>6} |{head} MB | {'data MB':>8}")
    rows = []
    for case in args.cases:
        for cov in args.cov:
            results = {library: _run_worker(args, case, cov, library) for library in libraries}
            ours = results["mixfit"]["s_per_it"]
            fastest = min((results[name]["s_per_it"] for name in libraries[1:]), default=np.nan)
            times = "".join(f"{results[name]['s_per_it']:12.3f}" for name in libraries)
            memory = "".join(f"{results[name]['mb']:12.0f}" for name in libraries)
            print(f"{labels[case]:>12} {cov:>5} |{times}      | {fastest / ours:6.2f} |{memory}    | "
                  f"{results['mixfit']['data_mb']:8.0f}", flush=True)
            rows.append({"case": labels[case], "cov": cov, "results": results, "ratio": fastest / ours})
    print(f"ratio = the faster hmmlearn implementation's s/it / mixfit's; load average {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"args": vars(args), "rows": rows, "load_average": os.getloadavg()}, out, indent=1)


if __name__ == "__main__":
    main()
