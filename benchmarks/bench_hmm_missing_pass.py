"""GaussianHMM with NaN frames: one Baum-Welch iteration whose observed-data E-step is computed once
(the density pass keeps the conditional moments its statistics reuse, protocols.PassEmission)
beside the same iteration computing it twice (once for the densities, once for the statistics:
the emission seen through its plain ``Emission`` methods), and the complete-data iteration
(issue 18's remainder); and GMMHMM's, whose density pass also keeps the within-state
responsibilities (so its complete frames are timed once and twice too).

Usage::

    python benchmarks/bench_hmm_missing_pass.py            # one sequence, T = 2e4, D = 8, K = 4, 20 % MCAR
    python benchmarks/bench_hmm_missing_pass.py --quick    # T = 5e3

Timed: ``HMM.accumulate`` over the sequence + ``maximize``, from the same parameters (a short fit
of the complete frames), for 'full' and 'diag' covariances, and GMMHMM (n_mix = 2, 'diag'). The three variants run interleaved,
--repeat rounds, and the median of each is printed; the two missing-data variants' new
parameters are checked to be equal.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

import mixfit
from mixfit.backends.sequences import SequenceSource
from mixfit.models.hmm import HMM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_missing import mcar


class TwoPasses:
    """The emission through its ``Emission`` methods only: the E-step of a frame with holes runs
    for ``log_density`` and again for ``statistics`` (the path before the change)."""

    def __init__(self, emission):
        self.emission = emission

    def log_density(self, X, params):
        return self.emission.log_density(X, params)

    def statistics(self, X, gamma, frame_weight, params):
        return self.emission.statistics(X, gamma, frame_weight, params)

    def maximize(self, stats, params):
        return self.emission.maximize(stats, params)

    def log_prior(self, params):
        return self.emission.log_prior(params)

    def n_parameters(self, n_components, n_features):
        return self.emission.n_parameters(n_components, n_features)


def bench(T, D, K, rate, covariance_type, repeat, n_mix=None):
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3.0, size=(K, D))
    states = np.repeat(rng.integers(K, size=T // 50 + 1), 50)[:T]
    X = centres[states] + rng.normal(size=(T, D))
    Y = mcar(X, rate, rng)[1]
    lengths = np.array([T])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hmm = (mixfit.GaussianHMM(K, covariance_type=covariance_type, random_state=0, max_iter=3) if n_mix is None
               else mixfit.GMMHMM(K, n_mix=n_mix, covariance_type=covariance_type, random_state=0, max_iter=3))
        hmm.fit(X, lengths)
    once, params = hmm._model(), hmm._params()
    twice = HMM(once.initial, once.transition, TwoPasses(once.emission))

    def iteration(model, data):
        source = SequenceSource(data, lengths, None, hmm._chunk_frames())
        return model.maximize(source.map_reduce(lambda batch, w: model.accumulate(batch, params, w)), params)

    variants = {"complete frames": (once, X), "holes, E-step once": (once, Y), "holes, E-step twice": (twice, Y)}
    if n_mix is not None:  # GMMHMM's pass also keeps r_tkm: complete frames once and twice too
        variants["complete, pass twice"] = (twice, X)
    times = {name: [] for name in variants}
    for _ in range(repeat):
        for name, (model, data) in variants.items():
            start = time.perf_counter()
            iteration(model, data)
            times[name].append(time.perf_counter() - start)
    a, b = iteration(once, Y), iteration(twice, Y)
    same = all(np.array_equal(x, y) for x, y in ((a.startprob, b.startprob), (a.transmat, b.transmat),
                                                   (a.emission.means, b.emission.means),
                                                   (a.emission.prec_chol, b.emission.prec_chol)))
    name = "GaussianHMM" if n_mix is None else f"GMMHMM (n_mix = {n_mix})"
    print(f"{name}, one sequence of T = {T} frames, D = {D}, K = {K}, {covariance_type}, {rate:.0%} MCAR "
          f"(median of {repeat}); E-step once == twice to the bit: {same}")
    print(f"  {'one Baum-Welch iteration':<28}{'seconds':>10}{'vs twice':>10}")
    twice_time = statistics.median(times["holes, E-step twice"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<28}{median:>10.4f}{median / twice_time:>9.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 5e3 frames")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    T = 5000 if args.quick else 20000
    for covariance_type in ("full", "diag"):
        bench(T, 8, 4, 0.2, covariance_type, args.repeat)
    bench(T, 8, 4, 0.2, "diag", args.repeat, n_mix=2)


if __name__ == "__main__":
    main()
