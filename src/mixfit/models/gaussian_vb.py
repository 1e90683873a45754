"""Variational Bayes for Gaussian mixtures (PRML 10.2), on the same seam as EM.

Notation  code              shape            public attribute
alpha_k   concentration     (K,) | (2, K)    weight_concentration_ (Dirichlet | stick Betas)
beta_k    mean_precision    (K,)             mean_precision_
m_k       means             (K, D)           means_
nu_k      dof               (K,) | ()        degrees_of_freedom_ (() for tied)
P_k       prec_chol         per type         precisions_cholesky_, P_k P_k^T = nu_k W_k = E[Lambda_k]
ln rho_nk log_rho           (n, K)           -  (10.46)
r_nk      resp              (n, K)           -  (10.49)
N_k       stats.mass        (K,)             -  (10.51), with sample weights w_n

``accumulate`` returns the very GaussianStats EM returns (10.51-10.53 are the EM moments of the
responsibilities); only ln rho differs. ``maximize`` turns the summed moments into q(theta) and
needs no previous params. The weight prior (``weights``) and the precision prior (``precision``)
are strategy objects; nothing here reads a type string.

The ELBO identity used by ``objective``. With q(Z) the optimum for q(theta) (10.49),
r_nk = rho_nk / sum_j rho_nj, where ln rho_nk = E[ln pi_k] + E[ln N(x_n | mu_k, Lambda_k)]
(10.46) carries every constant (including -D/2 ln 2 pi). The Z-dependent part of the bound,
E[ln p(X | Z, mu, Lambda)] + E[ln p(Z | pi)] - E[ln q(Z)] (10.71, 10.72, 10.75), is
sum_n w_n sum_k r_nk (ln rho_nk - ln r_nk) = sum_n w_n sum_k r_nk ln sum_j rho_nj
= sum_n w_n ln sum_j rho_nj, because sum_k r_nk = 1. The rest, E[ln p(theta)] - E[ln q(theta)]
(10.73, 10.74, 10.76, 10.77), is -KL(q(theta) || p(theta)). Hence

    ELBO = stats.log_norm - KL(q(pi) || p(pi)) - sum_k KL(q(mu_k, Lambda_k) || p(mu_k, Lambda_k)),

evaluated at the q(theta) the statistics were taken under: the full bound with its constants,
the same number PRML's (10.70) gives term by term (tests/oracles/gaussian_vb.py checks this).
Coordinate ascent (E: q(Z), M: q(theta)) never lowers it; ``reg_covar`` > 0 moves the M-step off
the exact optimum by O(reg_covar) (scikit-learn's ridge on S_k), so the guarantee is exact at
``reg_covar=0`` and holds to O(reg_covar^2) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..families.full import FullCovariance
from ..families.registry import mixture_parameters
from ..kernels.linalg import normalize_log_rows
from ..kernels.scratch import centred
from ..protocols import CovarianceFamily, require
from ..stats import GaussianStats, gaussian_statistics
from . import missing_vb

_FULL = FullCovariance()  # the data's moments are one full scatter

_LOG_2PI = np.log(2 * np.pi)
# Added to every N_k, as scikit-learn does (and GaussianEM), so that an empty component keeps a
# finite xbar_k (its shift) instead of 0/0; 10 ulps of 1, invisible for a component with data.
_MASS_FLOOR = 10 * np.finfo(np.float64).eps


@dataclass(frozen=True, eq=False)
class VBParams:
    """q(theta): q(pi) by its concentration, q(mu_k, Lambda_k) by (beta_k, m_k, nu_k, P_k)."""

    concentration: np.ndarray  # (K,) | (2, K)
    mean_precision: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    dof: np.ndarray  # (K,) | ()
    prec_chol: np.ndarray  # (K, D, D) | (D, D) | (K, D) | (K,)

    def astype(self, dtype) -> VBParams:
        return VBParams(*(np.asarray(a).astype(dtype, copy=False) for a in (
            self.concentration, self.mean_precision, self.means, self.dof, self.prec_chol)))


@dataclass(frozen=True, eq=False)
class NormalPrecisionPosterior:
    """q(mu_k, Lambda_k) of every component alone (10.59), without q(pi): the part a model whose
    mixing lives elsewhere (an HMM's chain, models/hmm_vb.py) holds. ``VBParams`` has the same
    fields, so GaussianVB's component methods take either."""

    mean_precision: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    dof: np.ndarray  # (K,) | ()
    prec_chol: np.ndarray  # (K, D, D) | (D, D) | (K, D) | (K,)


class GaussianVB:
    """VB E-step / M-step / ELBO of a Gaussian mixture with conjugate priors (PRML 10.2).

    The component part (what does not involve the mixing weights) is public on its own, for
    models that hand it other posteriors than the responsibilities (an HMM's gamma):
    ``expected_log_gauss`` (10.46 without E[ln pi_k]), ``component_posterior`` (10.60)-(10.63)
    and ``component_kl``. ``weights`` may then be None.
    """

    def __init__(self, covariance, weights, precision, prior, reg_covar: float, dtype=np.float64):
        require(covariance, CovarianceFamily, role="covariance family")
        self.covariance = covariance  # shape maths: moments, Mahalanobis, factors
        self.weights = weights  # q(pi): DirichletWeights | StickBreakingWeights
        self.precision = precision  # q(Lambda): precision_priors.WishartFull | WishartTied | GammaDiag | ...
        self.prior = prior  # conjugate.NormalPrecisionPrior (beta_0, m_0, nu_0, W_0^{-1})
        self.reg_covar = reg_covar
        self.dtype = np.dtype(dtype)  # of the data, and so of the params ``maximize`` returns

    def expected_weights(self, params: VBParams) -> np.ndarray:
        return self.weights.expected(params.concentration.astype(np.float64))

    def log_prob_components(self, X: np.ndarray, params: VBParams) -> np.ndarray:
        """ln rho_nk (10.46), (n, K): the numerator of the responsibilities (10.49); a row with
        NaN entries: (V2) over its observed coordinates (models/missing_vb.py)."""
        return _by_rows(X, params.means.shape[0], lambda Y: self._log_rho(Y, params, per_point=True)[0],
                        lambda Y: missing_vb.log_rho_observed(self, Y, params)[0])

    def _log_rho(self, X, params: VBParams, per_point=False):
        """ln rho (n, K) and the covariance strategy's E-step workspace (or None)."""
        concentration = np.asarray(params.concentration, dtype=np.float64)
        e_log_pi = self.weights.expected_log(concentration)  # (K,) (10.66) or its stick-breaking form
        centre = self.weights.expected(concentration) @ params.means  # (D,) g
        return self.expected_log_gauss(X, params, centre, e_log_pi, per_point)  # (10.46)

    def expected_log_gauss(self, X, q, centre, e_log_pi=None, per_point=True):
        """E[ln N(x_n | mu_k, Lambda_k^{-1})] under q(mu_k, Lambda_k), (n, K): (10.46) without
        E[ln pi_k] (or with it, given ``e_log_pi`` (K,)), every constant kept; and the covariance
        strategy's E-step workspace. ``q`` is a VBParams or a NormalPrecisionPosterior; ``centre``
        (D,) is where the chunk is centred (a point among the means keeps the stacked products
        small)."""
        dim = X.shape[1]
        mean_precision, dof = (np.asarray(a, dtype=np.float64) for a in (q.mean_precision, q.dof))
        e_log_det = self.precision.expected_log_det(dof, q.prec_chol.astype(np.float64), dim)  # (10.65)
        centre = np.asarray(centre).astype(X.dtype)
        # (10.46) less E[ln pi_k]: 1/2 E[ln|Lambda_k|] - D/2 ln 2pi - 1/2 E[(x - mu_k)^T Lambda_k (x - mu_k)],
        # where (10.64) E[(x - mu_k)^T Lambda_k (x - mu_k)] = D / beta_k + nu_k (x - m_k)^T W_k (x - m_k),
        # the distance under the factor of nu_k W_k; the strategy folds the constants into its kernel
        constant = 0.5 * e_log_det - 0.5 * dim * _LOG_2PI - 0.5 * dim / mean_precision
        if e_log_pi is not None:
            constant = constant + e_log_pi
        return self.covariance.log_kernel(centred(X, centre), q.means - centre, q.prec_chol, centre, constant,
                                          per_point)

    def accumulate(self, X, params: VBParams, sample_weight) -> GaussianStats:
        """E-step on one chunk: responsibilities (10.49), then their weighted moments (10.51-10.53).
        Rows with NaN entries (missing at random) take the E-step of models/missing_vb.py (V1)-(V4);
        a chunk without any takes this path unchanged."""
        incomplete = np.isnan(X).any(axis=1)
        if incomplete.any():
            return missing_vb.accumulate(self, X, params, sample_weight, incomplete)
        log_rho, workspace = self._log_rho(X, params)  # (n, K)
        # (10.49) r_nk = rho_nk / sum_j rho_nj; log_norm = ln sum_k rho_nk, the row's share of the ELBO
        resp, log_norm = normalize_log_rows(log_rho)
        return gaussian_statistics(self.covariance, X, resp, sample_weight, params.means, log_norm, workspace)

    def statistics(self, X, resp, sample_weight, shift, log_norm=None) -> GaussianStats:
        return gaussian_statistics(self.covariance, X, resp, sample_weight, shift, log_norm)

    def maximize(self, stats: GaussianStats, params: VBParams | None) -> VBParams:
        """q(theta) from summed statistics (10.58)-(10.63); float64 maths, data-dtype params."""
        concentration = self.weights.posterior(stats.mass + _MASS_FLOOR)  # (10.58), or the stick Betas
        q = self.component_posterior(stats)
        return VBParams(concentration, q.mean_precision, q.means, q.dof, q.prec_chol).astype(self.dtype)

    def component_posterior(self, stats: GaussianStats) -> NormalPrecisionPosterior:
        """q(mu_k, Lambda_k) from summed statistics (10.60)-(10.63), float64."""
        prior = self.prior
        mass = stats.mass + _MASS_FLOOR  # N_k (10.51)
        mean_precision = prior.mean_precision + mass  # (10.60) beta_k = beta_0 + N_k
        d = stats.first / mass[:, None]  # (K, D) xbar_k - c_k, (10.52) about the shift
        diff = (stats.shift - prior.mean) + d  # (K, D) xbar_k - m_0
        # (10.61) m_k = (beta_0 m_0 + N_k xbar_k) / beta_k, written about the shift c_k
        means = stats.shift + (mass[:, None] * d + prior.mean_precision * (prior.mean - stats.shift)) / (
            mean_precision[:, None])
        # (10.53) S_k about xbar_k, plus reg_covar on the diagonal as scikit-learn does
        cov = self.covariance.add_ridge(self.covariance.from_moments(stats, mass), self.reg_covar)
        dof, prec_chol = self.precision.posterior(prior, mass, cov, diff, mean_precision)  # (10.62), (10.63)
        return NormalPrecisionPosterior(mean_precision, means, np.asarray(dof), prec_chol)

    def objective(self, stats: GaussianStats, params: VBParams) -> float:
        """The full ELBO of q(theta) = params with q(Z) optimal: log_norm - KL (module note)."""
        p = params.astype(np.float64)
        kl_weights = self.weights.kl(p.concentration)  # (10.76) - (10.73), or the stick Betas
        return stats.log_norm - kl_weights - self.component_kl(p)

    def component_kl(self, q) -> float:
        """sum_k KL(q(mu_k, Lambda_k) || p(mu_k, Lambda_k)), the mean and precision factors of
        (10.77) - (10.74); ``q`` a VBParams or a NormalPrecisionPosterior (float64)."""
        prior = self.prior
        p = NormalPrecisionPosterior(*(np.asarray(a, dtype=np.float64)
                                       for a in (q.mean_precision, q.means, q.dof, q.prec_chol)))
        dim = p.means.shape[1]
        ratio = prior.mean_precision / p.mean_precision  # beta_0 / beta_k
        # E_Lambda KL(N(m_k, (beta_k Lambda_k)^{-1}) || N(m_0, (beta_0 Lambda_k)^{-1})), the mean
        # factors of (10.77) - (10.74): D/2 (beta_0/beta_k - 1 - ln(beta_0/beta_k))
        # + beta_0/2 nu_k (m_k - m_0)^T W_k (m_k - m_0)
        spread = self.covariance.mahalanobis(np.zeros((1, dim)), p.means - prior.mean, p.prec_chol)[0]  # (K,)
        kl_means = dim / 2 * np.sum(ratio - 1 - np.log(ratio)) + prior.mean_precision / 2 * spread.sum()
        kl_precision = self.precision.kl(prior, p.dof, p.prec_chol, dim)  # Wishart / Gamma factors
        return float(kl_means) + kl_precision

    def log_predictive_components(self, X: np.ndarray, params: VBParams) -> np.ndarray:
        """ln E[pi_k] + ln St_k(x_n) (10.81), (n, K): logsumexp over k is the posterior
        predictive density, a normalised mixture of Student-t (of Student-t products for diag). A
        row with NaN entries: the marginal over its observed coordinates (V6, models/missing_vb.py)."""
        return _by_rows(X, params.means.shape[0], lambda Y: self._log_predictive(Y, params),
                        lambda Y: missing_vb.log_predictive_observed(self, Y, params))

    def _log_predictive(self, X, params: VBParams) -> np.ndarray:
        p = params.astype(np.float64)
        weights = self.weights.expected(p.concentration)  # (K,) E[pi_k], summing to one
        centre = weights @ p.means
        out = self.precision.log_predictive(X.astype(np.float64) - centre, p.means - centre,
                                            p.mean_precision, p.dof, p.prec_chol)
        with np.errstate(divide="ignore"):
            out += np.log(weights)
        return out.astype(X.dtype, copy=False)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters of the point estimate: K - 1 weights, K D means, the covariance's own."""
        return mixture_parameters(self.covariance, n_components, n_features)


def _by_rows(X, n_components, complete, incomplete):
    """(n, K) in X's dtype: ``complete(X)`` when no entry is NaN (today's path, the same bits),
    else the complete rows by it and the rows with NaN by ``incomplete``."""
    holes = np.isnan(X).any(axis=1)
    if not holes.any():
        return complete(X)
    out = np.empty((X.shape[0], n_components), dtype=X.dtype)
    if not holes.all():
        out[~holes] = complete(X[~holes])
    out[holes] = incomplete(X[holes])
    return out


def data_statistics(X: np.ndarray, sample_weight, shift: np.ndarray) -> GaussianStats:
    """One chunk's share of the data's moments: one full-covariance component holding every row
    (responsibility 1), its scatter about ``shift`` (1, D). ``engine.starts.data_moments`` sums
    these over a pass; ``data_mean_covariance`` turns the sum into the prior's defaults."""
    return gaussian_statistics(_FULL, X, np.ones((X.shape[0], 1), dtype=X.dtype), sample_weight, shift)


def data_mean_covariance(stats: GaussianStats) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean (D,) and covariance (D, D) from ``data_statistics`` summed over all rows: the
    defaults of ``mean_prior`` and ``covariance_prior``. Weights are frequency weights (integer
    weights give the moments of repeated rows): the covariance divides by sum w - 1 (``np.cov``'s
    ddof=1), or by sum w where that is <= 1 and the unbiased form is undefined."""
    total = stats.weight_sum
    d = stats.first[0] / total  # mean - shift
    scatter = stats.scatter[0] - total * np.outer(d, d)  # about the mean
    return stats.shift[0] + d, scatter / (total - 1 if total > 1 else total)
