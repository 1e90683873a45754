"""hmmlearn's M-step for Gaussian-mixture emissions (its ``GMMHMM``'s Dirichlet, Normal and
inverse-Wishart / inverse-Gamma priors), on the mixture emission's statistics.

hmmlearn's ``GMMHMM._do_mstep`` updates each (state, mixture) pair from sums taken about the
E-step's means (the current ones: the statistics of ``GaussianMixtureEmission`` are taken about
them), with defaults that make every type but 'spherical' maximum likelihood about those means.

Notation  code            shape (hmmlearn's)        hmmlearn
a_km      weights_prior   (K, M)                    weights_prior
m_0km     means_prior     (K, M, D)                 means_prior
lam_km    means_weight    (K, M)                    means_weight
Psi, nu   covars_prior / covars_weight, per type:   full (K, M, D, D) / (K, M); tied (K, D, D) / (K,);
                                                    diag (K, M, D) / (K, M, D); spherical (K, M) / (K, M)
N_km      mass            (K, M)                    stats['post_mix_sum'];  N_k = sum_m N_km
C_km      scatter         per type                  stats['c_n']: sum_t gamma_tkm (x_t - mu'_km)(..)^T
                                                    about the E-step's means mu'_km

c_km  = (N_km + a_km - 1) / (N_k + sum_m (a_km - 1))
mu_km = (lam_km m_0km + sum_t gamma_tkm x_t) / (lam_km + N_km)
E_km  = lam_km (mu_km - m_0km)(mu_km - m_0km)^T
full      Sigma_km = (Psi_km^T + E_km + C_km) / (N_km + nu_km + D + 2)
tied      Sigma_k  = (Psi_k^T + sum_m (E_km + C_km)) / (N_k + M + nu_k + D + 1)
diag      sigma_kmd^2 = (E_km,dd + 2 nu_kmd + C_km,dd) / (N_km + 2 Psi_kmd + 3)
spherical sigma_km^2  = (tr E_km + 2 nu_km + tr C_km) / (D (N_km + 1) + 2 (Psi_km + 1))

(for diag and spherical hmmlearn names the Gamma shape alpha = ``covars_prior`` and its rate
beta = ``covars_weight``). Defaults (None): full Psi = 0, nu = -(D + 2); tied Psi = 0,
nu = -(M + D + 1); diag alpha = -3/2, beta = 0; spherical alpha = -(M + 2) / 2, beta = 0.
``reg_covar`` is added to the diagonal after the division (0: hmmlearn's update exactly). The
objective stays ln p(X), hmmlearn's ``monitor_``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..stats import GaussianStats
from .hmm_gmm import GaussianMixtureEmission, StateMixtureParams


def _outer(x):
    return x[..., :, None] * x[..., None, :]


def _transposed(psi):
    return np.swapaxes(psi, -1, -2)


# Per covariance type: the shapes Psi and nu broadcast to ((K, M, D) -> shape), their defaults
# ((M, D) -> value), and the update ((E (K, M, D, D), C in the family's form, N (K, M), Psi, nu)
# -> covariances in the flat family's form: (K M, ...) or, for tied, (K, D, D)).
def _full(outer, scatter, mass, psi, nu):
    K, M, D = mass.shape + (outer.shape[-1],)
    return ((_transposed(psi) + outer + scatter.reshape(K, M, D, D))
            / (mass + 1 + nu + D + 1)[..., None, None]).reshape(K * M, D, D)


def _tied(outer, scatter, mass, psi, nu):
    K, M, D = mass.shape + (outer.shape[-1],)
    total = outer.sum(axis=1) + _transposed(psi) + scatter.reshape(K, M, D, D).sum(axis=1)  # (K, D, D)
    return total / (mass.sum(axis=1) + M + nu + D + 1)[:, None, None]


def _diag(outer, scatter, mass, psi, nu):
    K, M, D = mass.shape + (outer.shape[-1],)
    spread = np.diagonal(outer, axis1=-2, axis2=-1) + 2 * nu + scatter.reshape(K, M, D)
    return (spread / (mass[..., None] + 1 + 2 * (psi + 1))).reshape(K * M, D)


def _spherical(outer, scatter, mass, psi, nu):
    K, M, D = mass.shape + (outer.shape[-1],)
    spread = np.trace(outer, axis1=-2, axis2=-1) + 2 * nu + scatter.reshape(K, M)
    return (spread / (D * (mass + 1) + 2 * (psi + 1))).reshape(K * M)


@dataclass(frozen=True)
class _Rule:
    psi_shape: object
    nu_shape: object
    psi_default: object
    nu_default: object
    update: object


_RULES = {
    "full": _Rule(lambda K, M, D: (K, M, D, D), lambda K, M, D: (K, M), lambda M, D: 0.0,
                  lambda M, D: -(1.0 + D + 1.0), _full),
    "tied": _Rule(lambda K, M, D: (K, D, D), lambda K, M, D: (K,), lambda M, D: 0.0,
                  lambda M, D: -(M + D + 1.0), _tied),
    "diag": _Rule(lambda K, M, D: (K, M, D), lambda K, M, D: (K, M, D), lambda M, D: -1.5,
                  lambda M, D: 0.0, _diag),
    "spherical": _Rule(lambda K, M, D: (K, M), lambda K, M, D: (K, M), lambda M, D: -(M + 2.0) / 2.0,
                       lambda M, D: 0.0, _spherical),
}


def prior_shapes(covariance_type: str, n_components: int, n_mix: int, n_features: int) -> dict:
    """The shape each of hmmlearn's ``GMMHMM`` priors broadcasts to."""
    rule = _RULES[covariance_type]
    K, M, D = n_components, n_mix, n_features
    return {"weights_prior": (K, M), "means_prior": (K, M, D), "means_weight": (K, M),
            "covars_prior": rule.psi_shape(K, M, D), "covars_weight": rule.nu_shape(K, M, D)}


def prior_defaults(covariance_type: str, n_mix: int, n_features: int) -> tuple:
    """hmmlearn's (covars_prior, covars_weight) for None."""
    rule = _RULES[covariance_type]
    return rule.psi_default(n_mix, n_features), rule.nu_default(n_mix, n_features)


@dataclass(frozen=True, eq=False)
class HmmlearnMixturePrior:
    """hmmlearn's ``GMMHMM`` hyper-parameters, broadcast to their shapes (``prior_shapes``)."""

    weights_prior: np.ndarray
    means_prior: np.ndarray
    means_weight: np.ndarray
    covars_prior: np.ndarray
    covars_weight: np.ndarray
    reg_covar: float = 0.0


class HmmlearnMixtureEmission(GaussianMixtureEmission):
    """``GaussianMixtureEmission`` whose M-step is hmmlearn's (see the module docstring)."""

    def __init__(self, mixture, n_mix: int, covariance_type: str, prior: HmmlearnMixturePrior, pool_states=False,
                 fixed_weights=False, fixed_means=False, fixed_covariances=False):
        super().__init__(mixture, n_mix, pool_states, fixed_weights, fixed_means, fixed_covariances)
        self.prior = prior
        self.rule = _RULES[covariance_type]

    def maximize(self, stats: GaussianStats, params: StateMixtureParams) -> StateMixtureParams:
        K, M, D = params.means.shape
        prior = self.prior
        mass = stats.mass.reshape(K, M)  # N_km
        weights, means, prec_chol = params.weights, params.means, params.prec_chol
        if not self.fixed_weights:
            excess = prior.weights_prior - 1.0  # (K, M) a_km - 1
            weights = (mass + excess) / (mass.sum(axis=1) + excess.sum(axis=1))[:, None]
        if not self.fixed_means:
            lam = prior.means_weight  # (K, M)
            # lam m_0 + sum_t gamma_tkm x_t, the sum in the shifted form N (c + d)
            numerator = lam[..., None] * prior.means_prior + (mass[..., None] * stats.shift.reshape(K, M, D)
                                                               + stats.first.reshape(K, M, D))
            denominator = mass + lam
            # hmmlearn: a pair of zero weight with nothing to its mean divides by 1 (its mean is 0)
            denominator = np.where((params.weights == 0) & np.all(numerator == 0, axis=-1), 1.0, denominator)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = numerator / denominator[..., None]
        if not self.fixed_covariances:
            # E_km about the new means; C_km as accumulated, about the E-step's (stats.shift)
            outer = prior.means_weight[..., None, None] * _outer(means - prior.means_prior)  # (K, M, D, D)
            with np.errstate(invalid="ignore", divide="ignore"):
                cov = self.rule.update(outer, stats.scatter, mass, prior.covars_prior, prior.covars_weight)
            cov = self.covariance.add_ridge(cov, prior.reg_covar)
            prec_chol = self.covariance.precision_chol(cov)
            if self.pool_states:
                prec_chol = np.repeat(prec_chol, M, axis=0)
        return StateMixtureParams(weights, means, prec_chol)
