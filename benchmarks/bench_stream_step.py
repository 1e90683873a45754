"""One partial_fit step against a batch EM pass, per 1e5 rows, in one process (issue 19's
throughput bar, taken apart).

    python benchmarks/bench_stream_step.py            # 1e5-row steps, passes over 1e6 rows, 7 rounds
    python benchmarks/bench_stream_step.py --quick    # passes over 2e5 rows, 3 rounds

(D, K) = (16, 8), full covariance, on rows of the mixture of bench_streaming.py. First with numba
not imported, as in a stream's process (kernels/numba_loading.py): the stream's steps and a
batch EM pass that runs inside ``no_numba_import`` (numpy's loops, the same numbers), alternated
round by round; the step's time outside its pass (validation, decoding the running statistics,
the blend, the M-step, the fitted attributes) is timed apart. Then numba is imported and the
same two run numba's loops, as a batch fit runs them. Printed: medians of the rounds' wall
and process CPU time per 1e5 rows, and the ratios the bar reads (a step's rows per second over
a pass's). The machine's load moves the wall times; compare within one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_streaming import draw, make_mixture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="passes over 2e5 rows, 3 rounds")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rounds, pass_rows = (3, 200_000) if args.quick else (args.rounds, 1_000_000)

    from mixfit import GaussianMixture
    from mixfit.backends import memory
    from mixfit.kernels.numba_loading import no_numba_import

    D, K, batch = 16, 8, 100_000
    mixture = make_mixture(D, K, seed=0)
    rng = np.random.default_rng(1)
    batches = [draw(mixture, batch, rng) for _ in range(4)]
    X = draw(mixture, pass_rows, np.random.default_rng(3))
    stream = GaussianMixture(K, covariance_type="full", random_state=0)
    for B in batches:
        stream.partial_fit(B)
    timed = GaussianMixture(K, covariance_type="full", tol=0.0, max_iter=3, weights_init=stream.weights_,
                            means_init=stream.means_, precisions_init=stream.precisions_)

    inside = []  # the step's pass: ArraySource.map_reduce, timed around
    original = memory.ArraySource.map_reduce

    def map_reduce(self, *a, **k):
        tick = time.perf_counter()
        try:
            return original(self, *a, **k)
        finally:
            inside.append(time.perf_counter() - tick)

    def steps(n=10):
        wall, cpu, outside = [], [], []
        memory.ArraySource.map_reduce = map_reduce
        try:
            for i in range(n):
                inside.clear()
                w, c = time.perf_counter(), time.process_time()
                stream.partial_fit(batches[i % 4])
                wall.append(time.perf_counter() - w)
                cpu.append(time.process_time() - c)
                outside.append(wall[-1] - sum(inside))
        finally:
            memory.ArraySource.map_reduce = original
        return np.median(wall), np.median(cpu), np.median(outside)

    def batch_pass(numpy_loops):
        w, c = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tol=0 never converges, on purpose
            if numpy_loops:
                with no_numba_import():
                    timed.fit(X)
            else:
                timed.fit(X)
        per = batch / (timed.max_iter * X.shape[0])
        return (time.perf_counter() - w) * per, (time.process_time() - c) * per, 0.0

    def compare(label, numpy_loops):
        rows = {"stream step": [], "batch EM pass": []}
        for _ in range(rounds):
            rows["stream step"].append(steps())
            rows["batch EM pass"].append(batch_pass(numpy_loops))
        medians = {k: np.median(np.array(v), axis=0) * 1e3 for k, v in rows.items()}
        print(label)
        for name, (wall, cpu, outside) in medians.items():
            extra = f", of which outside its pass {outside:.2f} ms wall" if name == "stream step" else ""
            print(f"  {name:<16} per 1e5 rows: wall {wall:6.2f} ms, CPU {cpu:6.2f} ms{extra}")
        return medians

    print(f"(D, K) = ({D}, {K}) full; steps of {batch} rows, passes over {pass_rows:.0e} rows; medians of "
          f"{rounds} rounds (10 steps, 3 passes each), alternated")
    plain = compare("numba not imported (a stream's process): numpy's loops on both sides", True)
    assert "numba" not in sys.modules, "numba was imported by the stream's part"
    import numba  # noqa: F401  (what a batch fit loads where numba is installed)

    compiled = compare("numba imported (a batch fit's process): numba's loops on both sides", False)
    step, same, reference = plain["stream step"], plain["batch EM pass"], compiled["batch EM pass"]
    print("ratios, rows/s of the step over a pass's (wall; CPU)")
    print(f"  step, numpy's loops / pass, numpy's loops   {same[0] / step[0]:.2f}; {same[1] / step[1]:.2f}"
          "   (the step's own costs)")
    print(f"  step, numpy's loops / pass, numba's loops   {reference[0] / step[0]:.2f}; "
          f"{reference[1] / step[1]:.2f}   (the in-stream bar's comparison)")
    print(f"  step, numba's loops / pass, numba's loops   {reference[0] / compiled['stream step'][0]:.2f}; "
          f"{reference[1] / compiled['stream step'][1]:.2f}   (back to back)")


if __name__ == "__main__":
    main()
