"""One EM iteration with 20 % of the entries missing at random, beside the complete-data iteration
and a reference, for GaussianHMM and StudentMixture (issues 18 and 21: NaN frames and rows).

Usage::

    python benchmarks/bench_missing_hmm_student.py            # HMM 200 x 1000 frames, t mixture 1e5 rows
    python benchmarks/bench_missing_hmm_student.py --quick    # 40 x 1000 frames, 2e4 rows

Timed, from the same parameters (a short fit of the complete data), median of --repeat runs:

- GaussianHMM (K = 5, D = 8, full): ``HMM.accumulate`` over the sequences in chunks of whole
  sequences + ``maximize`` (one Baum-Welch iteration), on the complete frames and on the frames
  with holes; the reference is hmmlearn 0.3's iteration on the complete frames (it refuses NaN,
  hmmlearn #327), from the same parameters (``init_params=''``, n_iter=1, its covariance prior off).
- StudentMixture (D = 16, K = 8, full): ``StudentEM.accumulate`` over row chunks + ``maximize``
  on the complete rows and on the rows with holes; the reference is a literal per-row loop (numpy:
  per row and component, the Cholesky factor of Sigma_k,oo, the t marginal, u, E[ln u], the
  conditional mean and covariance) on --loop-rows rows, scaled to N, checked against mixfit's
  log-likelihood on those rows.

On a shared machine BLAS threads contend: the numbers vary with the load, printed first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
from scipy.special import digamma, gammaln

import mixfit
from mixfit.backends.sequences import SequenceSource

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_missing import mcar, one_iteration, timed


def bench_hmm(n_seq, repeat, rate):
    K, D, T = 5, 8, 1000
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3.0, size=(K, D))
    states = np.repeat(rng.integers(K, size=n_seq * T // 50), 50)
    X = centres[states] + rng.normal(size=(n_seq * T, D))
    Y = mcar(X, rate, rng)[1]
    lengths = np.full(n_seq, T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hmm = mixfit.GaussianHMM(K, covariance_type="full", random_state=0, max_iter=3).fit(X, lengths)
    model, params = hmm._model(), hmm._params()

    def iteration(data):
        source = SequenceSource(data, lengths, None, hmm._chunk_frames())
        stats = source.map_reduce(lambda batch, w: model.accumulate(batch, params, w))
        return model.maximize(stats, params)

    complete = timed(lambda: iteration(X), repeat)
    missing = timed(lambda: iteration(Y), repeat)
    print(f"GaussianHMM, {n_seq} x {T} frames, K = {K}, D = {D}, full, {rate:.0%} MCAR")
    print(f"  {'one Baum-Welch iteration':<44}{'seconds':>10}{'ratio':>10}")
    print(f"  {'mixfit, complete frames':<44}{complete:>10.3f}{'1.00x':>10}")
    print(f"  {'mixfit, frames with holes':<44}{missing:>10.3f}{missing / complete:>9.2f}x")
    try:
        from hmmlearn.hmm import GaussianHMM as Reference
    except ImportError:
        print("  (hmmlearn not installed: no reference row)")
        return
    reference = Reference(K, covariance_type="full", n_iter=1, tol=0, init_params="", covars_prior=0,
                          covars_weight=0, implementation="scaling")
    reference.startprob_, reference.transmat_ = hmm.startprob_, hmm.transmat_
    reference.means_, reference.covars_ = hmm.means_, hmm.covars_
    ref = timed(lambda: reference.fit(X, lengths), repeat)
    print(f"  {'hmmlearn 0.3 (scaling), complete frames':<44}{ref:>10.3f}{ref / complete:>9.2f}x   "
          "(it refuses NaN)")


def per_row_t(X, weights, means, covs, dof):
    """The t mixture's observed-data E-step sums (ln L, N, U, T, first, scatter), row by row."""
    K, D = means.shape
    total = 0.0
    N, U, Ts = np.zeros(K), np.zeros(K), np.zeros(K)
    first, scatter = np.zeros((K, D)), np.zeros((K, D, D))
    for x in X:
        o, m = np.flatnonzero(~np.isnan(x)), np.flatnonzero(np.isnan(x))
        p = o.size
        log_rho, us, log_us, zs, conds = np.empty(K), [], [], [], []
        for k in range(K):
            s = covs[k]
            lower = np.linalg.cholesky(s[np.ix_(o, o)])
            r = np.linalg.solve(lower, x[o] - means[k, o])
            delta = r @ r
            log_rho[k] = (np.log(weights[k]) + gammaln((dof[k] + p) / 2) - gammaln(dof[k] / 2)
                          - p / 2 * np.log(dof[k] * np.pi) - np.log(np.diag(lower)).sum()
                          - (dof[k] + p) / 2 * np.log1p(delta / dof[k]))
            half = np.linalg.solve(lower, s[np.ix_(o, m)])
            z = np.zeros(D)
            z[o] = x[o] - means[k, o]
            z[m] = half.T @ r
            cond = np.zeros((D, D))
            cond[np.ix_(m, m)] = s[np.ix_(m, m)] - half.T @ half
            us.append((dof[k] + p) / (dof[k] + delta))
            log_us.append(digamma((dof[k] + p) / 2) - np.log((dof[k] + delta) / 2))
            zs.append(z)
            conds.append(cond)
        peak = log_rho.max()
        resp = np.exp(log_rho - peak)
        total += peak + np.log(resp.sum())
        resp /= resp.sum()
        for k in range(K):
            N[k] += resp[k]
            U[k] += resp[k] * us[k]
            Ts[k] += resp[k] * (log_us[k] - us[k])
            first[k] += resp[k] * us[k] * zs[k]
            scatter[k] += resp[k] * (us[k] * np.outer(zs[k], zs[k]) + conds[k])
    return total, N, U, Ts, first, scatter


def bench_student(n, repeat, rate, loop_rows):
    K, D = 8, 16
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=4.0, size=(K, D))
    X = centres[rng.integers(K, size=n)] + rng.standard_t(5, size=(n, D)) @ rng.normal(size=(D, D)) / 3
    Y = mcar(X, rate, rng)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = mixfit.StudentMixture(K, random_state=0, max_iter=3).fit(X)
    model, params = sm._model(), sm._params()
    iteration = one_iteration(sm, model, params)

    complete = timed(lambda: iteration(X), repeat)
    missing = timed(lambda: iteration(Y), repeat)
    subset = Y[:loop_rows]
    dense = np.asarray(sm._covariance.dense_covariance(sm.precisions_cholesky_, K, D))
    start = time.perf_counter()
    total = per_row_t(subset, sm.weights_, sm.means_, dense, sm.degrees_of_freedom_)[0]
    loop = (time.perf_counter() - start) * n / subset.shape[0]
    ours = model.accumulate(subset, params, None).log_norm
    print(f"\nStudentMixture, ({n}, {D}, {K}) full, {rate:.0%} MCAR; log-likelihood check on {loop_rows} rows: "
          f"mixfit {ours:.8f} loop {total:.8f}")
    print(f"  {'one EM iteration':<44}{'seconds':>10}{'ratio':>10}")
    print(f"  {'mixfit, complete rows':<44}{complete:>10.3f}{'1.00x':>10}")
    print(f"  {'mixfit, rows with holes':<44}{missing:>10.3f}{missing / complete:>9.2f}x")
    print(f"  {'per-row loop, rows with holes (scaled)':<44}{loop:>10.3f}{loop / missing:>9.1f}x   "
          "(slower than mixfit by)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loop-rows", type=int, default=300)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    bench_hmm(40 if args.quick else 200, args.repeat, args.rate)
    bench_student(20_000 if args.quick else 100_000, args.repeat, args.rate, args.loop_rows)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
