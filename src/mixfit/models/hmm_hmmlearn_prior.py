"""hmmlearn's M-step for Gaussian emissions: its ``GaussianHMM``'s Normal / inverse-Wishart
(inverse-Gamma for diag and spherical) regularisation, on the Gaussian emission's statistics.

hmmlearn (``GaussianHMM._do_mstep``, after Huang, Acero and Hon, *Spoken Language Processing*,
pp. 443-445) updates each state's mean and covariance as below; ``GaussianHMM`` reproduces it so
that hmmlearn's parameters give hmmlearn's fit. hmmlearn's defaults (m_0 = 0, tau = 0,
Psi = 0.01, nu = 1) are maximum likelihood for the means and add 0.01 to every entry of each
state's scatter before dividing by N_k.

Notation  code           shape      hmmlearn
m_0k      means_prior    (K, D)     means_prior
tau       means_weight   ()         means_weight
Psi       covars_prior   per type   covars_prior: (K, D, D) full, (D, D) tied, (K, D) diag, spherical
nu        covars_weight  ()         covars_weight
N_k       stats.mass     (K,)       stats['post']
S_k       about.scatter  per type   c_n less its prior term: sum_t gamma_tk (x_t - mu_k)(x_t - mu_k)^T

mu_k      = (tau m_0k + sum_t gamma_tk x_t) / (tau + N_k)
B_k       = tau (mu_k - m_0k)(mu_k - m_0k)^T + S_k               (in the family's form: the matrix,
                                                                  its sum over k, diagonal or trace)
full      Sigma_k = (Psi_k + B_k) / (N_k + max(nu - D, 0))
tied      Sigma   = (Psi + sum_k B_k) / (sum_k N_k + max(nu - D, 0))
diag      sigma_kd^2 = (Psi_kd + B_k,dd) / max(N_k + max(nu - 1, 0), 1e-5)
spherical sigma_k^2 = mean_d (Psi_kd + B_k,dd) / max(N_k + max(nu - 1, 0), 1e-5)

With the means fixed, mu_k is the current mean (hmmlearn's ``self.means_``), and S_k the scatter
about it. ``reg_covar`` is added to the diagonal after the division (0: hmmlearn's update
exactly). The objective stays ln p(X) (hmmlearn's ``monitor_``): the update is not the mode of a
posterior whose log density could be added to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..stats import GaussianStats
from .gaussian_em import GaussianParams
from .hmm_emissions import GaussianEmission

# hmmlearn's floor on the diag and spherical denominators (``np.maximum(c_d, 1e-5)``).
_DENOMINATOR_FLOOR = 1e-5


@dataclass(frozen=True)
class _Rule:
    """How one covariance type reads hmmlearn's prior: Psi's shape, Psi in the family's form,
    what nu loses before it counts, whether the states pool, the denominator's floor."""

    prior_shape: object  # (K, D) -> the shape Psi broadcasts to
    fold_prior: object  # Psi (that shape) -> the family's form
    nu_offset: object  # D -> what max(nu - offset, 0) subtracts
    pooled: bool
    floor: float
    per_feature: bool  # spherical: the trace is a sum over D features, hmmlearn takes their mean
    spread: object  # (C (D, D), K) -> C given to every state, in the family's shape


_RULES = {
    "full": _Rule(lambda K, D: (K, D, D), lambda psi: psi, lambda D: D, False, 0.0, False,
                  lambda C, K: np.tile(C, (K, 1, 1))),
    "tied": _Rule(lambda K, D: (D, D), lambda psi: psi, lambda D: D, True, 0.0, False, lambda C, K: C.copy()),
    "diag": _Rule(lambda K, D: (K, D), lambda psi: psi, lambda D: 1, False, _DENOMINATOR_FLOOR, False,
                  lambda C, K: np.tile(np.diag(C), (K, 1))),
    # (hmmlearn's spherical start takes the mean of every entry of C; the mean variance here)
    "spherical": _Rule(lambda K, D: (K, D), lambda psi: psi.mean(axis=1), lambda D: 1, False, _DENOMINATOR_FLOOR,
                       True, lambda C, K: np.full(K, np.trace(C) / C.shape[0])),
}


def starting_covariance(covariance_type: str, data_cov: np.ndarray, min_covar: float, n_components: int):
    """hmmlearn's starting covariances: the data's covariance plus ``min_covar`` on its diagonal,
    the same for every state, in the family's shape."""
    return _RULES[covariance_type].spread(data_cov + min_covar * np.eye(data_cov.shape[0]), n_components)


def covars_prior_shape(covariance_type: str, n_components: int, n_features: int) -> tuple:
    """The shape hmmlearn's ``covars_prior`` broadcasts to for ``covariance_type``."""
    return _RULES[covariance_type].prior_shape(n_components, n_features)


@dataclass(frozen=True, eq=False)
class HmmlearnGaussianPrior:
    """hmmlearn's emission hyper-parameters, checked: ``means_prior`` and ``covars_prior`` as
    given (broadcast to the current number of states when used), the weights as numbers."""

    means_prior: np.ndarray  # broadcastable to (K, D)
    means_weight: float
    covars_prior: np.ndarray  # broadcastable to the type's shape
    covars_weight: float
    reg_covar: float = 0.0


class HmmlearnGaussianEmission(GaussianEmission):
    """``GaussianEmission`` whose M-step is hmmlearn's (see the module docstring); the density,
    statistics and draws are the Gaussian emission's."""

    def __init__(self, mixture, prior: HmmlearnGaussianPrior, fixed_means=False, fixed_covariances=False):
        super().__init__(mixture, fixed_means, fixed_covariances)
        self.prior = prior
        self.rule = _RULES[self.covariance.name]

    def maximize(self, stats: GaussianStats, params: GaussianParams) -> GaussianParams:
        prior, rule, covariance = self.prior, self.rule, self.covariance
        K, D = params.means.shape
        m0 = np.broadcast_to(prior.means_prior, (K, D))
        tau = prior.means_weight
        mass = stats.mass  # (K,) N_k
        if self.fixed_means:
            means = params.means
        else:
            observed = mass[:, None] * stats.shift + stats.first  # (K, D) sum_t gamma_tk x_t
            denominator = (tau + mass)[:, None]  # (K, 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                # a state with no mass and no prior weight keeps its mean (hmmlearn: 0 / 0)
                means = np.where(denominator > 0, (tau * m0 + observed) / denominator, params.means)
        if self.fixed_covariances:
            return self.params(means, params.prec_chol)
        about = stats.reshift(means, covariance)  # S_k about mu_k, in the family's form
        diff = means - m0  # (K, D)
        spread = covariance.fold_scatter(tau * diff[:, :, None] * diff[:, None, :]) + about.scatter  # B_k
        nu = max(prior.covars_weight - rule.nu_offset(D), 0.0)
        count = mass.sum() if rule.pooled else mass
        denominator = np.maximum(count + nu, rule.floor)
        psi = rule.fold_prior(np.broadcast_to(prior.covars_prior, rule.prior_shape(K, D)))
        if rule.per_feature:
            spread = spread / D
        shape = (-1,) + (1,) * (spread.ndim - 1) if not rule.pooled else ()
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = (psi + spread) / np.reshape(denominator, shape)
        cov = covariance.add_ridge(cov, prior.reg_covar)
        return self.params(means, covariance.precision_chol(cov))

    def log_prior(self, params: GaussianParams) -> float:
        return 0.0  # hmmlearn's objective is ln p(X)
