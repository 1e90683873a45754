"""Gaussian emissions of frames with missing entries (NaN), missing at random
(docs/math/hmm.md#missing-frames).

Notation   code        shape        meaning
o, m       -           -            a frame's observed and missing coordinates
gamma_tk   gamma       (n, K)       p(z_t = k | X), from forward-backward over the observed densities
xhat_tk    -           (D,)         (x_o, E[x_m | x_o, z_t = k]): the frame completed under state k (2.81)
C_tk       -           (m, m)       Cov[x_m | x_o, z_t = k] (2.82)

A state's emission density of a frame is its marginal over the frame's observed coordinates,
N(x_t,o | mu_k,o, Sigma_k,oo) (2.98 observed), so forward-backward (13.33), (13.43) runs over
p(X_o), the observed-data likelihood, unchanged. A frame that observes nothing has the empty
marginal: density 1 (ln 0) under every state, so the chain passes through it carried by A alone.
The emission statistics of (13.20), (13.21) are the mixture's expected complete-data moments of
models/missing.py with r_nk = gamma_tk: the completed frame xhat_tk, and C_tk added to the
scatter's missing block; a frame that observes nothing completes to mu_k with C_tk = Sigma_k. So
the M-step is the complete-data one, and Baum-Welch still raises p(X_o) (EM with z and x_m latent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..stats import GaussianStats, gaussian_statistics
from .missing import dense_precision, observed_e_step, observed_moments


@dataclass(frozen=True, eq=False)
class ObservedFrames:
    """What the density pass over frames with NaN entries keeps for their statistics: the frames
    that observe every entry (``complete``, (n,) bool) and none (``empty``), and of the others
    (``partial``) the completed frames z (J, n_partial, D) = xhat_tj - mu_j (2.81) and their
    conditional covariances C (2.82) (``extra``), or None where no frame is partial. Kept for
    one block of frames: O(n J D) floats (the price of computing them once)."""

    complete: np.ndarray
    empty: np.ndarray
    z: np.ndarray | None = None
    extra: object | None = None

    @property
    def partial(self) -> np.ndarray:
        return ~(self.complete | self.empty)


def observed_pass(mixture, X, params, n_states: int) -> tuple[np.ndarray, ObservedFrames]:
    """ln(K pi_j) + ln N(x_t,o | mu_j,o, Sigma_j,oo) (n, J) of frames with NaN entries, for the
    emission's ``GaussianEM`` over J components with weights pi_j (``params``) and K states: the
    mixing the emission adds, ln pi_j, with the ln K its weights took out given back (J = K and
    pi_j = 1/K for one Gaussian per state, J = K M and pi_j = c_km / K for a mixture per state).
    A frame that observes nothing has the empty marginal, density 1: ln(K pi_j) alone. Also
    returns the ``ObservedFrames`` that ``observed_statistics`` of the same frames reuses: the
    observed-data E-step of a frame (its Cholesky blocks, quadratic forms and conditional
    moments) is computed once per iteration, not once for the density and again for the
    statistics."""
    missing = np.isnan(X)
    complete = ~missing.any(axis=1)
    empty = missing.all(axis=1)
    partial = ~(complete | empty)
    with np.errstate(divide="ignore"):  # a weight of exactly 0: an impossible component
        out = np.broadcast_to(np.log(n_states * np.asarray(params.weights, dtype=np.float64)),
                              (X.shape[0], params.means.shape[0])).copy()
    if complete.any():
        # the mixture's ln pi_j + ln N of complete frames (its kernel), plus ln K
        out[complete] = mixture.log_prob_components(X[complete], params) + np.log(n_states)
    z = extra = None
    if partial.any():
        precision, log_det_half = dense_precision(mixture.covariance, params.prec_chol, *params.means.shape)
        # ln pi_j + ln N over the observed coordinates, and z = xhat - mu_j and the C's (models/missing.py)
        log_rho, z, extra = observed_e_step(X[partial], params.weights, np.asarray(params.means, dtype=np.float64),
                                            precision, log_det_half)
        out[partial] = log_rho + np.log(n_states)
    return out, ObservedFrames(complete, empty, z, extra)


def observed_log_density(mixture, X, params, n_states: int) -> np.ndarray:
    """The log densities of ``observed_pass``, without what it keeps."""
    return observed_pass(mixture, X, params, n_states)[0]


def observed_statistics(covariance, X, gamma, frame_weight, params, kept: ObservedFrames | None = None) -> GaussianStats:
    """The emission statistics (13.20), (13.21) of frames with NaN entries, about c_k = mu_k: the
    complete frames' as they are, the others' expected complete-data moments given x_o. ``gamma``
    (n, J) weighs the J components of ``params`` (the states, or the (state, mixture) pairs).
    ``kept``: what ``observed_pass`` of the same X and params kept (else the partial frames'
    E-step is computed here)."""
    n, D = X.shape
    K = params.means.shape[0]
    means = np.asarray(params.means, dtype=np.float64)
    if kept is None:
        missing = np.isnan(X)
        kept = ObservedFrames(~missing.any(axis=1), missing.all(axis=1))
    complete, empty, partial = kept.complete, kept.empty, kept.partial
    w = np.ones(n) if frame_weight is None else np.asarray(frame_weight, dtype=np.float64)
    wgamma = gamma * w[:, None]  # (n, K) w_t gamma_tk
    total = None
    if complete.any():
        total = gaussian_statistics(covariance, X[complete], gamma[complete],
                                    None if frame_weight is None else w[complete], means)
    first = np.zeros((K, D))
    dense = np.zeros((K, D, D))
    if partial.any():
        z, extra = kept.z, kept.extra
        if z is None:
            precision, log_det_half = dense_precision(covariance, params.prec_chol, K, D)
            # only z = xhat - mu_k and the C's are used: the responsibilities are gamma, not these rows' own
            _, z, extra = observed_e_step(X[partial], np.full(K, 1.0 / K), means, precision, log_det_half)
        first, dense = observed_moments(z, wgamma[partial], extra, D)
    if empty.any():
        # xhat = mu_k (z = 0, no first moment) and C = Sigma_k: sum_t w_t gamma_tk Sigma_k
        sigma = np.asarray(covariance.dense_covariance(np.asarray(params.prec_chol, dtype=np.float64), K, D),
                           dtype=np.float64)  # (K, D, D)
        dense = dense + wgamma[empty].sum(axis=0)[:, None, None] * sigma
    rest = GaussianStats(shift=means, mass=wgamma[~complete].sum(axis=0), first=first,
                         scatter=covariance.fold_scatter(dense), log_norm=0.0,
                         weight_sum=float(w[~complete].sum()))
    return rest if total is None else total + rest
