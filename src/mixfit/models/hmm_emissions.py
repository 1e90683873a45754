"""Emission models of a hidden Markov model: what p(x_t | z_t = k) is, and its M-step.

An emission is a mixture model's component part without the mixing weights: the HMM's E-step
hands it the posterior state probabilities gamma_tk (PRML 13.33) in the place of a mixture's
responsibilities, so its statistics are the mixture's statistics of gamma (13.20 for Gaussians,
13.23 for categorical, 9.57 and 9.58 for Bernoulli), and its M-step is the mixture's M-step. Each
emission offers

log_density(X, params) -> (n, K)     ln p(x_t | z_t = k)
statistics(X, gamma, w, params)      additive statistics of the frames for given gamma (n, K)
maximize(stats, params)              the new emission params (what is fixed kept)
log_prior(params), n_parameters(K, D), draw(rng, params, states)

``GaussianEmission`` also offers ``density_pass`` / ``pass_statistics`` (protocols.PassEmission):
with missing entries, the density pass keeps the conditional moments its statistics reuse.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..stats import BernoulliStats, GaussianStats, bernoulli_statistics, gaussian_statistics
from .bernoulli import BernoulliEM, BernoulliParams, log_bernoulli
from .gaussian_em import GaussianEM, GaussianParams
from .hmm_missing import observed_log_density, observed_pass, observed_statistics


class GaussianEmission:
    """N(x | mu_k, Sigma_k) per state: GaussianEM's kernels and M-step with unit mixing.

    The params are ``GaussianParams`` whose weights are uniform, 1/K: then GaussianEM centres the
    data at the mean of the means, and ln pi_k = -ln K is added back to give the pure density.
    ``fixed_means`` / ``fixed_covariances`` keep those params at their current values; with
    fixed means the covariance is the maximum-likelihood one about them (the statistics are
    taken about the current means, so zeroing the first moment d_k gives exactly that).
    """

    def __init__(self, mixture: GaussianEM, fixed_means=False, fixed_covariances=False):
        self.mixture = mixture
        self.covariance = mixture.covariance
        self.fixed_means = fixed_means
        self.fixed_covariances = fixed_covariances

    @staticmethod
    def params(means, prec_chol) -> GaussianParams:
        K = means.shape[0]
        return GaussianParams(np.full(K, 1.0 / K), np.asarray(means, dtype=np.float64),
                              np.asarray(prec_chol, dtype=np.float64))

    def log_density(self, X, params: GaussianParams) -> np.ndarray:
        if np.isnan(X).any():  # NaN: missing entries, the density of the observed ones (hmm_missing.py)
            return observed_log_density(self.mixture, X, params, params.weights.shape[0])
        # (2.43) per state: GaussianEM's ln pi_k + ln N with pi_k = 1/K, plus ln K
        log_density = self.mixture.log_prob_components(X, params)  # (n, K), a new array: added to in place
        log_density += np.log(params.weights.shape[0])
        return log_density

    def statistics(self, X, gamma, frame_weight, params: GaussianParams) -> GaussianStats:
        if np.isnan(X).any():  # NaN: the expected moments given the observed entries (hmm_missing.py)
            return observed_statistics(self.covariance, X, gamma, frame_weight, params)
        # (13.20), (13.21): the mixture moments of (9.24), (9.25) with r_nk = gamma_tk
        return gaussian_statistics(self.covariance, X, gamma, frame_weight, params.means)

    def density_pass(self, X, params: GaussianParams):
        """``log_density``, and with NaN entries the observed-data E-step its statistics reuse."""
        if np.isnan(X).any():
            return observed_pass(self.mixture, X, params, params.weights.shape[0])
        return self.log_density(X, params), None

    def pass_statistics(self, kept, X, gamma, frame_weight, params: GaussianParams) -> GaussianStats:
        if kept is None:  # no NaN: nothing was kept
            return self.statistics(X, gamma, frame_weight, params)
        return observed_statistics(self.covariance, X, gamma, frame_weight, params, kept)

    def maximize(self, stats: GaussianStats, params: GaussianParams) -> GaussianParams:
        if self.fixed_means:
            stats = replace(stats, first=np.zeros_like(stats.first))  # covariance about c_k = mu_k
        new = self.mixture.maximize(stats, params)
        means = params.means if self.fixed_means else new.means
        prec_chol = params.prec_chol if self.fixed_covariances else new.prec_chol
        return self.params(means, prec_chol)

    def log_prior(self, params: GaussianParams) -> float:
        return 0.0 if self.mixture.prior is None else self.mixture.log_prior(params)

    def n_parameters(self, n_components, n_features) -> int:
        means = 0 if self.fixed_means else n_components * n_features
        covariances = 0 if self.fixed_covariances else self.covariance.n_parameters(n_components, n_features)
        return means + covariances

    def draw(self, rng, params: GaussianParams, states) -> np.ndarray:
        X = np.empty((states.shape[0], params.means.shape[1]))
        for k in np.unique(states):
            rows = states == k
            X[rows] = self.covariance.draw(rng, params.means[k], params.prec_chol, k, int(rows.sum()))
        return X


@dataclass(frozen=True, eq=False)
class CategoricalStats:
    counts: np.ndarray  # (K, M) sum_t w_t gamma_tk [x_t = m]

    def __add__(self, other: CategoricalStats) -> CategoricalStats:
        return CategoricalStats(self.counts + other.counts)

    def scale(self, factor: float) -> CategoricalStats:
        return CategoricalStats(self.counts * factor)


def dirichlet_mode(counts, prior, allowed):
    """The mode of the Dirichlet posterior of each row: (counts + a - 1) normalised, each term
    floored at 0 (where a < 1 the density has no interior mode; hmmlearn's floor) and kept at 0
    outside ``allowed`` (a forbidden entry stays forbidden). A row with nothing left is NaN."""
    mass = np.where(allowed, np.maximum(counts + prior - 1.0, 0.0), 0.0)
    total = mass.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, mass / total, np.nan)


class CategoricalEmission:
    """A categorical distribution over M symbols per state: params ``emissionprob`` (K, M),
    frames X (n, 1) of integer symbols in [0, M); ``prior`` (Dirichlet concentrations (K, M), or
    None) makes the M-step the posterior mode of each row."""

    def __init__(self, n_symbols: int, fixed=False, prior=None):
        self.n_symbols = n_symbols
        self.fixed = fixed
        self.prior = prior

    def log_density(self, X, emissionprob) -> np.ndarray:
        with np.errstate(divide="ignore"):  # a symbol a state never emits: ln 0 = -inf
            return np.log(emissionprob)[:, X[:, 0].astype(np.intp)].T  # (n, K) ln mu_k,x_t

    def statistics(self, X, gamma, frame_weight, emissionprob) -> CategoricalStats:
        wgamma = gamma if frame_weight is None else gamma * frame_weight[:, None]
        onehot = np.zeros((X.shape[0], self.n_symbols))
        onehot[np.arange(X.shape[0]), X[:, 0].astype(np.intp)] = 1.0
        return CategoricalStats(wgamma.T @ onehot)  # (13.23) numerator, (K, M)

    def maximize(self, stats: CategoricalStats, emissionprob) -> np.ndarray:
        if self.fixed:
            return emissionprob
        if self.prior is not None:
            mode = dirichlet_mode(stats.counts, self.prior, emissionprob > 0)  # (13.23) with a Dirichlet prior
            return np.where(np.isnan(mode), emissionprob, mode)
        total = stats.counts.sum(axis=1, keepdims=True)  # (K, 1)
        # (13.23) mu_km = sum_t gamma_tk x_tm / sum_t gamma_tk; a state with no mass keeps its row
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, stats.counts / total, emissionprob)

    def log_prior(self, emissionprob) -> float:
        return 0.0

    def n_parameters(self, n_components, n_features) -> int:
        return 0 if self.fixed else n_components * (self.n_symbols - 1)

    def draw(self, rng, emissionprob, states) -> np.ndarray:
        cumulative = np.cumsum(emissionprob[states], axis=1)  # (n, M)
        u = rng.random(states.shape[0])[:, None]
        return np.minimum((u > cumulative).sum(axis=1), self.n_symbols - 1)[:, None]


class BernoulliEmission:
    """prod_i Bern(x_i | mu_ki) per state over binary frames (n, D): BernoulliEM's statistics and
    M-step (the posterior mode under its Beta prior) with unit mixing.

    The params are ``BernoulliParams`` whose weights are uniform, 1/K, so the mixture's M-step
    applies as it is; only its means are kept (an HMM's mixing is its start and transitions).
    """

    def __init__(self, mixture: BernoulliEM, fixed=False):
        self.mixture = mixture
        self.fixed = fixed

    @staticmethod
    def params(means) -> BernoulliParams:
        K = means.shape[0]
        return BernoulliParams(np.full(K, 1.0 / K), np.asarray(means, dtype=np.float64))

    def log_density(self, X, params: BernoulliParams) -> np.ndarray:
        return log_bernoulli(X, params.means)  # (9.48) per state, (n, K); exact at mu_ki = 0 or 1

    def statistics(self, X, gamma, frame_weight, params: BernoulliParams) -> BernoulliStats:
        # (9.57), (9.58) with r_nk = gamma_tk: N_k and N_k xbar_k of the frames
        return bernoulli_statistics(X, gamma, frame_weight)

    def maximize(self, stats: BernoulliStats, params: BernoulliParams) -> BernoulliParams:
        if self.fixed:
            return params
        # (9.59 map): the mixture's posterior mode of mu_k; its weights (9.60) are not used
        return self.params(self.mixture.maximize(stats, params).means)

    def log_prior(self, params: BernoulliParams) -> float:
        return self.mixture.log_prior(params)  # sum_ki ln Beta(mu_ki | a_0, b_0), (B.6)

    def n_parameters(self, n_components, n_features) -> int:
        return 0 if self.fixed else n_components * n_features

    def draw(self, rng, params: BernoulliParams, states) -> np.ndarray:
        return (rng.random((states.shape[0], params.means.shape[1])) < params.means[states]).astype(np.float64)
