"""The HSMM's log-space forward-backward (the fallback of the sequences whose scaled pass
underflows) against the scaled pass, on the same frames, one run.

Usage::

    python benchmarks/bench_hsmm_logspace.py            # 200 sequences x 500 frames, K = 6, D = 50
    python benchmarks/bench_hsmm_logspace.py --quick    # 20 x 200 frames, K = 4, D = 20

Printed, seconds per segment_forward_backward call (numba-compiled loops; the median of
``--repeats`` calls after one warm-up call that loads numba's cache):

- ``scaled``: every sequence through the scaled pass (nothing underflows);
- ``log space``: every sequence forced through the log-space pass (``log_space=True``);
- ``one underflows``: the same batch with one sequence whose first frames put a state 2000 nats
  below the peak, so only that sequence runs again in log space;

and the ratios to ``scaled``. The log-space pass takes an exponential per (frame, state,
duration) term, the scaled pass a multiply-add: its ratio is the cost a sequence pays when it
falls back, and ``one underflows`` shows the rest of the batch keeps the scaled pass's speed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from mixfit.kernels.hsmm_inference import segment_forward_backward


def _time(call, repeats):
    call()  # numba's cache, first touch of the arrays
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n_seq, frames, K, D = (20, 200, 4, 20) if args.quick else (200, 500, 6, 50)
    rng = np.random.default_rng(0)
    A = rng.random((K, K))
    np.fill_diagonal(A, 0.0)
    A /= A.sum(axis=1, keepdims=True)
    pi = rng.dirichlet(np.ones(K))
    pmf = rng.dirichlet(np.ones(D), size=K)
    lengths = [frames] * n_seq
    log_emit = 3.0 * rng.normal(size=(n_seq * frames, K))
    hostile = log_emit.copy()
    hostile[: 2 * D, 1:] -= 2000.0  # state 0 must hand over within D frames: c_i = 0 in the scaled pass
    check = segment_forward_backward(pi, A, hostile, pmf, lengths)
    assert np.all(np.isfinite(check.log_likelihood)), "the fallback left a sequence at -inf"
    rows = {
        "scaled": _time(lambda: segment_forward_backward(pi, A, log_emit, pmf, lengths), args.repeats),
        "log space": _time(lambda: segment_forward_backward(pi, A, log_emit, pmf, lengths, log_space=True),
                           args.repeats),
        "one underflows": _time(lambda: segment_forward_backward(pi, A, hostile, pmf, lengths), args.repeats),
    }
    print(f"{n_seq} sequences x {frames} frames, K = {K}, D = {D}; median of {args.repeats}")
    print(f"{'pass':<16}{'s/call':>10}{'x scaled':>10}")
    for name, seconds in rows.items():
        print(f"{name:<16}{seconds:>10.4f}{seconds / rows['scaled']:>10.2f}")


if __name__ == "__main__":
    main()
