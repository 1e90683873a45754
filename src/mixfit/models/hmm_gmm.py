"""Gaussian-mixture emissions of a hidden Markov model (hmmlearn's GMMHMM): each state k emits
from its own mixture of M Gaussians, p(x | k) = sum_m c_km N(x | mu_km, Sigma_km).

The K M (state, mixture) pairs are the components of one flat Gaussian mixture, so the density,
the statistics and the M-step are GaussianEM's and the covariance family's, called, not copied:
the flat mixing weights are c_km / K, whose log-densities are ln c_km + ln N - ln K; adding ln K
back and taking a log-sum-exp over each state's M columns gives the state's density (13.9 gmm).
The statistics are ``GaussianStats`` of the joint posteriors gamma_tkm = gamma_tk r_tkm
(13.33 gmm), taken about the current means, so the means and covariances update as the flat
mixture's (9.24 gmm), (9.25 gmm), and each state's weights are its components' masses
normalised within the state (9.26 gmm). hmmlearn's 'tied' shares one covariance among the M
components of each state (not among all states): the flat family is then 'full', and the
M-step pools each state's M scatters (9.25 tiedstate).

Notation  code            shape                    public attribute
c_km      weights         (K, M)                   weights_
mu_km     means           (K, M, D)                means_
P_km      prec_chol       the flat family's, K M   precisions_cholesky_ (reshaped to (K, M, ...))
r_tkm     within          (n, K, M)                -  c_km N_km / sum_m' c_km' N_km'
gamma_tkm joint           (n, K M)                 -  gamma_tk r_tkm
N_km      stats.mass      (K M,)                   -  sum_t w_t gamma_tkm
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..kernels.linalg import normalize_log_rows
from ..stats import GaussianStats, gaussian_statistics
from .gaussian_em import GaussianEM, GaussianParams
from .hmm_missing import observed_pass, observed_statistics

# Added to every N_km before dividing, as GaussianEM does: an empty (state, mixture) pair keeps
# its mean (the shift) instead of 0/0; 10 ulps of 1 changes nothing that holds data.
_MASS_FLOOR = 10 * np.finfo(np.float64).eps


@dataclass(frozen=True, eq=False)
class StateMixtureParams:
    weights: np.ndarray  # (K, M) c_km, each row summing to 1
    means: np.ndarray  # (K, M, D)
    prec_chol: np.ndarray  # the flat family's shape over K M components, pair (k, m) at k M + m


class GaussianMixtureEmission:
    """sum_m c_km N(x | mu_km, Sigma_km) per state, on a flat ``GaussianEM`` of K M components.

    ``pool_states``: one covariance per state, shared by its M components (hmmlearn's 'tied';
    the mixture's family is then 'full' and every pair of a state holds the state's factor).
    ``fixed_*`` keep those params at their current values; with fixed means the covariances are
    the maximum-likelihood ones about them (zeroing the first moment, as ``GaussianEmission``).
    """

    def __init__(self, mixture: GaussianEM, n_mix: int, pool_states=False, fixed_weights=False, fixed_means=False,
                 fixed_covariances=False):
        self.mixture = mixture
        self.n_mix = n_mix
        self.covariance = mixture.covariance
        self.pool_states = pool_states
        self.fixed_weights = fixed_weights
        self.fixed_means = fixed_means
        self.fixed_covariances = fixed_covariances

    @staticmethod
    def flat(params: StateMixtureParams) -> GaussianParams:
        """The K M pairs as one mixture with weights c_km / K (summing to 1)."""
        K, M, D = params.means.shape
        return GaussianParams(params.weights.reshape(K * M) / K, params.means.reshape(K * M, D), params.prec_chol)

    def _log_pairs(self, X, params: StateMixtureParams) -> np.ndarray:
        """ln c_km + ln N(x_t | mu_km, Sigma_km) (n K, M): one row per (frame, state)."""
        return self._pairs_pass(X, params)[0]

    def _pairs_pass(self, X, params: StateMixtureParams):
        """``_log_pairs``, and with NaN entries what the observed-data E-step kept for the
        statistics (hmm_missing.py), else None."""
        K, M, _ = params.means.shape
        if np.isnan(X).any():  # NaN: missing entries, ln c_km + the observed marginal (hmm_missing.py)
            log_pairs, frames = observed_pass(self.mixture, X, self.flat(params), K)
            return log_pairs.reshape(X.shape[0] * K, M), frames
        log_pairs = self.mixture.log_prob_components(X, self.flat(params))  # (n, K M) ln (c_km / K) + ln N
        log_pairs += np.log(K)
        return log_pairs.reshape(X.shape[0] * K, M), None

    def density_pass(self, X, params: StateMixtureParams):
        """``log_density``, keeping the within-state responsibilities r_tkm and, with NaN entries,
        the observed-data E-step: its statistics then compute neither again."""
        log_pairs, frames = self._pairs_pass(X, params)
        # (13.9 gmm) ln p(x_t | k) = ln sum_m c_km N(x_t | mu_km, Sigma_km), a log-sum-exp per state,
        # and r_tkm (9.23) within state k, (n K, M)
        within, log_density = normalize_log_rows(log_pairs)
        return log_density.reshape(X.shape[0], -1), (within, frames)  # (n, K)

    def log_density(self, X, params: StateMixtureParams) -> np.ndarray:
        return self.density_pass(X, params)[0]

    def pass_statistics(self, kept, X, gamma, frame_weight, params: StateMixtureParams) -> GaussianStats:
        within, frames = self.density_pass(X, params)[1] if kept is None else kept  # None: nothing kept
        n, K = gamma.shape
        joint = (within.reshape(n, K, -1) * gamma[:, :, None]).reshape(n, -1)  # (13.33 gmm) gamma_tkm, (n, K M)
        if frames is not None:  # NaN: the expected moments given the observed entries (hmm_missing.py)
            return observed_statistics(self.covariance, X, joint, frame_weight, self.flat(params), frames)
        # (9.24)-(9.27) moments of the flat mixture with r_nj = gamma_tkm, about the current means
        return gaussian_statistics(self.covariance, X, joint, frame_weight, self.flat(params).means)

    def statistics(self, X, gamma, frame_weight, params: StateMixtureParams) -> GaussianStats:
        return self.pass_statistics(None, X, gamma, frame_weight, params)

    def maximize(self, stats: GaussianStats, params: StateMixtureParams) -> StateMixtureParams:
        K, M, D = params.means.shape
        if self.fixed_means:
            stats = replace(stats, first=np.zeros_like(stats.first))  # covariances about c = mu_km
        mass = stats.mass.reshape(K, M)  # (K, M) N_km
        state_mass = mass.sum(axis=1, keepdims=True)  # (K, 1) N_k = sum_t gamma_tk
        # (9.26 gmm) c_km = N_km / N_k; a state with no expected visits keeps its weights
        with np.errstate(invalid="ignore", divide="ignore"):
            weights = np.where(state_mass > 0, mass / state_mass, params.weights)
        if self.pool_states:
            means, prec_chol = self._pooled_step(stats, K, M)
        else:
            new = self.mixture.maximize(stats, self.flat(params))  # (9.24 gmm), (9.25 gmm) with reg_covar
            means, prec_chol = new.means, new.prec_chol
        return StateMixtureParams(params.weights if self.fixed_weights else weights,
                                  params.means if self.fixed_means else means.reshape(K, M, D),
                                  params.prec_chol if self.fixed_covariances else prec_chol)

    def _pooled_step(self, stats: GaussianStats, K: int, M: int):
        """Means (9.24 gmm) and one covariance per state pooled over its M pairs (9.25 tiedstate),
        each pair's scatter about its own new mean; the factors repeated over each state's pairs."""
        mass = stats.mass + _MASS_FLOOR  # (K M,)
        means = stats.shift + stats.first / mass[:, None]  # (9.24 gmm) c + d, (K M, D)
        cov = self.covariance.from_moments(stats, mass)  # (K M, D, D) (9.25 gmm), about the new means
        D = means.shape[1]
        scatter = (mass[:, None, None] * cov).reshape(K, M, D, D).sum(axis=1)  # (K, D, D)
        pooled = scatter / mass.reshape(K, M).sum(axis=1)[:, None, None]  # (9.25 tiedstate)
        pooled = self.covariance.add_ridge(pooled, self.mixture.reg_covar)
        return means, np.repeat(self.covariance.precision_chol(pooled), M, axis=0)

    def log_prior(self, params: StateMixtureParams) -> float:
        return 0.0

    def n_parameters(self, n_components, n_features) -> int:
        K, M, D = n_components, self.n_mix, n_features
        weights = 0 if self.fixed_weights else K * (M - 1)
        means = 0 if self.fixed_means else K * M * D
        if self.fixed_covariances:
            covariances = 0
        elif self.pool_states:
            covariances = self.covariance.n_parameters(K, D)  # one full matrix per state
        else:
            covariances = self.covariance.n_parameters(K * M, D)
        return weights + means + covariances

    def draw(self, rng, params: StateMixtureParams, states) -> np.ndarray:
        _, M, D = params.means.shape
        cumulative = np.cumsum(params.weights[states], axis=1)  # (n, M)
        mix = np.minimum((rng.random(states.shape[0])[:, None] > cumulative).sum(axis=1), M - 1)
        pair = states * M + mix  # (n,) the flat component of each frame
        flat = self.flat(params)
        X = np.empty((states.shape[0], D))
        for j in np.unique(pair):
            rows = pair == j
            X[rows] = self.covariance.draw(rng, flat.means[j], flat.prec_chol, j, int(rows.sum()))
        return X
