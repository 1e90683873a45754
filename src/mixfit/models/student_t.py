"""Maximum likelihood for mixtures of multivariate Student-t distributions by EM (Peel and
McLachlan 2000; derivation and equation anchors: docs/math/student.md).

Notation  code            shape     public attribute
pi_k      weights         (K,)      weights_
mu_k      means           (K, D)    means_
P_k       prec_chol       per type  precisions_cholesky_  (Sigma_k^{-1} = P_k P_k^T; Sigma_k the scale)
nu_k      dof             (K,)      degrees_of_freedom_
delta_nk  maha            (n, K)    -  (x_n - mu_k)^T Sigma_k^{-1} (x_n - mu_k), the family's kernel
r_nk      resp            (n, K)    -  the responsibilities (T.4)
u_nk      scale           (n, K)    -  E[u_n | x_n, z_nk = 1] = (nu_k + D) / (nu_k + delta_nk)  (T.5)
N_k       stats.mass      (K,)      -  sum_n w_n r_nk
U_k       moments.mass    (K,)      -  sum_n w_n r_nk u_nk
T_k       log_scale       (K,)      -  sum_n w_n r_nk (E[ln u_nk] - u_nk)  (T.7)
kappa_P   prior.mean_precision  ()  -  MAP only: the prior of GaussianMixture(prior=...) on (mu_k, Sigma_k)

Each row carries a latent scale u_n ~ Gamma(nu_k/2, nu_k/2) given its component, and
x_n | u_n, z_nk = 1 ~ N(mu_k, Sigma_k / u_n). Given r_nk and u_nk, the complete-data expectation is
a Gaussian mixture's with the moments weighted by w_n r_nk u_nk: the families' kernels and moments
are used as they are, with ``wresp = w r u``. The M-step of nu needs one more scalar per component,
T_k. Every step maximises the expectation exactly (the nu equation does not involve mu, Sigma), so
this is EM proper and the log-likelihood never decreases. With the conjugate prior the
M-step of (mu_k, Sigma_k) is its posterior mode given u (T.15)-(T.16), and the log posterior
(T.17) never decreases.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import digamma

from ..families.registry import mixture_parameters
from ..kernels.linalg import column_sum, normalize_log_rows, probabilities_from_log
from ..kernels.scratch import centred
from ..protocols import CovarianceFamily, require
from ..stats import GaussianStats
from .gaussian_em import _MASS_FLOOR, GaussianEM, GaussianParams
from .student_dof import log_t_constant
from .student_missing import ObservedRows, per_row


@dataclass(frozen=True, eq=False)
class StudentParams:
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    prec_chol: np.ndarray  # (K, D, D) | (D, D) | (K, D) | (K,), of the scale matrices Sigma_k
    dof: np.ndarray  # (K,) nu_k, float64 whatever the data

    def astype(self, dtype) -> StudentParams:
        return StudentParams(self.weights.astype(dtype, copy=False), self.means.astype(dtype, copy=False),
                             self.prec_chol.astype(dtype, copy=False), np.asarray(self.dof, dtype=np.float64))


@dataclass(frozen=True, eq=False)
class StudentStats:
    """The additive statistics of a t mixture: the Gaussian moments weighted by w r u (their
    ``mass`` is U_k), N_k and T_k. ``log_norm`` and ``weight_sum`` live in ``moments``."""

    moments: GaussianStats  # weighted by w_n r_nk u_nk
    mass: np.ndarray  # (K,) N_k = sum_n w_n r_nk
    log_scale: np.ndarray  # (K,) T_k

    def __add__(self, other: StudentStats) -> StudentStats:
        return StudentStats(self.moments + other.moments, self.mass + other.mass, self.log_scale + other.log_scale)

    def scale(self, factor: float) -> StudentStats:
        return StudentStats(self.moments.scale(factor), self.mass * factor, self.log_scale * factor)

    @property
    def weight_sum(self) -> float:
        return self.moments.weight_sum

    @property
    def log_norm(self) -> float:
        return self.moments.log_norm

    @property
    def shift(self) -> np.ndarray:
        return self.moments.shift

    @property
    def first(self) -> np.ndarray:
        return self.moments.first


class StudentEM:
    """E-step / M-step of a Student-t mixture; the covariance strategy owns the scale matrices'
    shape maths and the degrees-of-freedom rule (``student_dof``) the nu step."""

    def __init__(self, covariance, reg_covar: float, dof_rule, dtype=np.float64, prior=None, precision=None):
        require(covariance, CovarianceFamily, role="covariance family")
        self.covariance = covariance
        self.reg_covar = reg_covar
        self.dof_rule = dof_rule
        self.dtype = np.dtype(dtype)
        # MAP: a NormalPrecisionPrior and the family's precision-prior strategy, as GaussianEM
        # takes them (None: maximum likelihood). The prior is on (mu_k, Sigma_k) only, so its
        # log density is the Gaussian mixture's: that model computes it (``objective``).
        self.prior = prior
        self.precision = precision
        self._gaussian = None if prior is None else GaussianEM(covariance, reg_covar, dtype, prior, precision)

    # ---- the E-step ------------------------------------------------------------------------

    def _distances(self, X, params: StudentParams, per_point: bool):
        """delta_nk (n, K) in X's dtype and the family's workspace for ``moments``: the Gaussian
        kernel asked with zero constants returns -delta / 2."""
        centre = params.weights @ params.means  # (D,) g, as GaussianEM: keeps the products small
        K = params.weights.shape[0]
        half, workspace = self.covariance.log_kernel(centred(X, centre), params.means - centre, params.prec_chol,
                                                     centre, np.zeros(K), per_point)
        half *= -2.0
        return np.maximum(half, 0, out=half), workspace  # rounding may take a distance below 0

    def _log_rho(self, X, params: StudentParams, per_point=False):
        """ln rho_nk = ln pi_k + ln t(x_n | mu_k, Sigma_k, nu_k) (T.2), ln(1 + delta/nu)
        (n, K) and the workspace. ``log1p`` keeps the Gaussian limit: (nu + D)/2 ln(1 + delta/nu)
        -> delta / 2 as nu -> inf, to rounding."""
        n_features = X.shape[1]
        maha, workspace = self._distances(X, params, per_point)
        dof = params.dof.astype(maha.dtype)
        log1p_ratio = np.log1p(maha / dof)  # (n, K) ln(1 + delta_nk / nu_k)
        with np.errstate(divide="ignore"):  # a weight of exactly 0 is an impossible component
            constant = (np.log(params.weights.astype(np.float64)) + log_t_constant(params.dof, n_features)
                        + self.covariance.log_det_half(params.prec_chol, n_features))  # (K,)
        log_rho = log1p_ratio * (-(dof + n_features) / 2)
        log_rho += constant.astype(maha.dtype)
        return log_rho, maha, log1p_ratio, workspace

    def log_prob_components(self, X, params: StudentParams) -> np.ndarray:
        """ln rho_nk (n, K): the numerator of the responsibilities (T.4); a row with NaN entries:
        over its observed coordinates (models/student_missing.py)."""
        if np.isnan(X).any():
            return per_row(X, lambda rows: self._log_rho(rows, params, per_point=True)[0],
                           lambda rows: ObservedRows(self.covariance, rows, params).log_rho)
        return self._log_rho(X, params, per_point=True)[0]

    def accumulate(self, X, params: StudentParams, sample_weight) -> StudentStats:
        """E-step on one chunk: r_nk (T.4), u_nk (T.5), E[ln u_nk] (T.6), then the
        moments weighted by w_n r_nk u_nk and the sums N_k, T_k. Rows with NaN entries (missing
        at random) take the observed-data E-step of models/student_missing.py (T.18), (T.19)."""
        incomplete = np.isnan(X).any(axis=1)
        if incomplete.any():
            return self._accumulate_missing(X, params, sample_weight, incomplete)
        n_features = X.shape[1]
        log_rho, maha, log1p_ratio, workspace = self._log_rho(X, params)
        resp, log_norm = normalize_log_rows(log_rho)  # (n, K), exponentiating once
        dof = params.dof.astype(maha.dtype)
        # (T.5) u_nk = (nu_k + D) / (nu_k + delta_nk), written over maha's buffer
        scale = np.add(maha, dof, out=maha)
        np.divide(dof + n_features, scale, out=scale)
        wresp = resp if sample_weight is None else resp * sample_weight[:, None]  # w_n r_nk
        mass = column_sum(wresp)  # N_k
        # (T.6) E[ln u_nk] = psi((nu_k + D)/2) - ln((nu_k + delta_nk)/2)
        #                      = [psi((nu_k + D)/2) - ln(nu_k / 2)] - ln(1 + delta_nk / nu_k)
        half = (params.dof + n_features) / 2
        log_u_constant = digamma(half) - np.log(params.dof / 2)  # (K,)
        wru = np.multiply(wresp, scale, out=scale)  # w_n r_nk u_nk
        log_scale = (log_u_constant * mass - _weighted_column_sum(wresp, log1p_ratio)
                     - column_sum(wru))  # T_k (T.7)
        moments = self._moments(X, wru, params.means, log_norm, sample_weight, workspace)
        return StudentStats(moments, mass, log_scale)

    def _accumulate_missing(self, X, params: StudentParams, sample_weight, incomplete) -> StudentStats:
        """The complete rows by the family's kernel, the others over their observed coordinates;
        the two sums add (both about mu_k)."""
        w = None if sample_weight is None else np.asarray(sample_weight)
        stats = StudentStats(*ObservedRows(self.covariance, X[incomplete], params).statistics(
            None if w is None else w[incomplete], self.covariance))
        if incomplete.all():
            return stats
        return self.accumulate(X[~incomplete], params, None if w is None else w[~incomplete]) + stats

    def _moments(self, X, wru, shift, log_norm, sample_weight, workspace) -> GaussianStats:
        first, scatter = self.covariance.moments(X, wru, shift, workspace)
        if sample_weight is None:
            weight_sum, total = float(X.shape[0]), float(log_norm.sum(dtype=np.float64))
        else:
            weight_sum = float(sample_weight.sum(dtype=np.float64))
            total = float(log_norm.astype(np.float64) @ sample_weight)
        return GaussianStats(np.asarray(shift, dtype=np.float64), column_sum(wru), first, scatter, total, weight_sum)

    def statistics(self, X, resp, sample_weight, shift, log_norm=None) -> StudentStats:
        """The statistics of given responsibilities with u_nk = 1 (the Gaussian limit): what the
        starts turn into first parameters. T_k = -N_k there, which ``maximize`` ignores when it
        has no previous parameters (the first nu is ``dof_init``)."""
        wresp = resp if sample_weight is None else resp * sample_weight[:, None]
        rows = np.zeros(X.shape[0]) if log_norm is None else log_norm
        moments = self._moments(X, np.array(wresp), shift, rows, sample_weight, None)
        return StudentStats(moments, moments.mass.copy(), -moments.mass)

    # ---- the M-step ------------------------------------------------------------------------

    def maximize(self, stats: StudentStats, params: StudentParams | None) -> StudentParams:
        """M-step from summed statistics (T.8)-(T.11), or with a prior the posterior mode
        (T.15), (T.16); without previous params (a start) nu is the rule's initial value."""
        mass = stats.mass + _MASS_FLOOR  # N_k
        weighted = stats.moments.mass + _MASS_FLOOR  # U_k
        weights = mass / mass.sum()  # (T.8) N_k / N
        # (T.10) Sigma_k = sum_n w r u (x - mu_k)(x - mu_k)^T / N_k: the family's M-step of
        # moments whose mass is N_k and whose first moment is first_k sqrt(N_k / U_k); then
        # d'_k d'_k^T = first_k first_k^T / (N_k U_k), so scatter_k / N_k - d'_k d'_k^T is the
        # u-weighted scatter about the new mean over N_k, in every family's form (for tied the
        # pooled sum_k, over sum_k N_k), without a branch on the family.
        rescaled = GaussianStats(stats.shift, mass, stats.first * np.sqrt(mass / weighted)[:, None],
                                 stats.moments.scatter, stats.log_norm, stats.weight_sum)
        cov = self.covariance.add_ridge(self.covariance.from_moments(rescaled, mass), self.reg_covar)
        if self.prior is None:
            means = stats.shift + stats.first / weighted[:, None]  # (T.9), shifted form c_k + d_k
            prec_chol = self.covariance.precision_chol(cov)
        else:
            means, prec_chol = self._posterior_mode(stats, mass, weighted, cov)
        K = mass.shape[0]
        dof = self.dof_rule.initial(K) if params is None else self.dof_rule.update(
            stats.mass, stats.log_scale, np.asarray(params.dof, dtype=np.float64))
        return StudentParams(weights, means, prec_chol, dof).astype(self.dtype)

    def _posterior_mode(self, stats: StudentStats, mass, weighted, cov):
        """MAP M-step: the mode in (mu_k, Sigma_k) of the expected complete-data log posterior.

        Given u, the data enter as a Gaussian's with weights w r u, except that the log-determinant
        counts N_k, not U_k (each row's ln|Sigma_k / u_n| has one ln|Sigma_k|). So the mean is
        (M.1) with the u-weighted mass and mean (T.15), and the scale matrix is (M.2)'s numerator
        with the u-weighted scatter over nu_0 + N_k + the family's offset (T.16). GaussianEM's
        route (the Normal-precision posterior asked with nu_0 + offset) gives both if it is handed
        N_k as the mass: ``cov`` is already the u-weighted scatter over N_k (T.10), and the
        shrinkage term kappa N_k / (kappa + U_k) diff diff^T becomes kappa U_k / (kappa + U_k)
        (xbar^u_k - m_0)(.)^T with diff = (xbar^u_k - m_0) sqrt(U_k / N_k). Tied pools both sums
        over k as the precision prior's posterior does: nu_0 + N, sum_k of the scatters.
        """
        prior = self.prior
        d = stats.first / weighted[:, None]  # (K, D) xbar^u_k - c_k
        diff = (stats.shift - prior.mean) + d  # (K, D) xbar^u_k - m_0
        mean_precision = prior.mean_precision + weighted  # kappa_P + U_k
        # (T.15) mu_k = (U_k xbar^u_k + kappa_P m_0) / (U_k + kappa_P), about the shift c_k
        means = stats.shift + (weighted[:, None] * d + prior.mean_precision * (prior.mean - stats.shift)) / (
            mean_precision[:, None])
        offset = self.precision.mode_offset(mass.shape[0], d.shape[1])
        mode_prior = replace(prior, dof=prior.dof + offset)
        scaled_diff = diff * np.sqrt(weighted / mass)[:, None]
        _, prec_chol = self.precision.posterior(mode_prior, mass, cov, scaled_diff, mean_precision)  # (T.16)
        return means, prec_chol

    def objective(self, stats: StudentStats, params: StudentParams) -> float:
        """The weighted log-likelihood (T.3), sum_n w_n ln sum_k pi_k t(x_n | ...), of the params
        the statistics were taken under; with a prior, plus ln p(mu, Sigma) (T.17)."""
        if self.prior is None:
            return stats.log_norm
        return stats.log_norm + self._gaussian.log_prior(GaussianParams(params.weights, params.means, params.prec_chol))

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """K - 1 weights, K D means, the family's scale parameters and the rule's nu."""
        return mixture_parameters(self.covariance, n_components, n_features) + self.dof_rule.n_parameters(
            n_components)

    # ---- the collapse policies' hooks ------------------------------------------------------

    def select_stats(self, stats: StudentStats, keep) -> StudentStats:
        m = stats.moments
        moments = GaussianStats(m.shift[keep], m.mass[keep], m.first[keep], self.covariance.select(m.scatter, keep),
                                m.log_norm, m.weight_sum)
        return StudentStats(moments, stats.mass[keep], stats.log_scale[keep])

    def select_params(self, params: StudentParams, keep) -> StudentParams:
        weights = params.weights[keep]
        return StudentParams(weights / weights.sum(), params.means[keep], self.covariance.select(params.prec_chol, keep),
                             params.dof[keep])

    def insert_component(self, params: StudentParams, k: int, row, donor: int) -> StudentParams:
        """A component at position k: mean ``row``, the scale matrix and nu of ``donor``, weight 1/K."""
        n_components = params.weights.shape[0] + 1
        weights = np.insert(params.weights, k, 1.0 / n_components)
        row = np.where(np.isnan(row), params.means[donor], row)  # a missing entry: the donor's mean
        return StudentParams(weights / weights.sum(), np.insert(params.means, k, row, axis=0),
                             self.covariance.insert_copy(params.prec_chol, k, donor),
                             np.insert(params.dof, k, params.dof[donor]))

    # ---- per-row quantities for users ------------------------------------------------------

    def expected_scale(self, X, params: StudentParams) -> np.ndarray:
        """E[u_n | x_n] = sum_k r_nk u_nk (n,) (T.14): below 1 for rows in the tails, ~0 for outliers;
        over the observed coordinates of a row with NaN entries."""
        if np.isnan(X).any():
            return per_row(X, lambda rows: self.expected_scale(rows, params),
                           lambda rows: ObservedRows(self.covariance, rows, params).expected_scale())
        log_rho, maha, _, _ = self._log_rho(X, params, per_point=True)
        resp = probabilities_from_log(log_rho)
        dof = params.dof.astype(maha.dtype)
        return (resp * ((dof + X.shape[1]) / (dof + maha))).sum(axis=1)

    def assigned_distance(self, X, params: StudentParams) -> np.ndarray:
        """delta_{n, k(n)} (n,): the squared Mahalanobis distance to the most probable component (T.13);
        over the observed coordinates of a row with NaN entries."""
        if np.isnan(X).any():
            return per_row(X, lambda rows: self.assigned_distance(rows, params),
                           lambda rows: ObservedRows(self.covariance, rows, params).assigned_distance())
        log_rho, maha, _, _ = self._log_rho(X, params, per_point=True)
        return np.take_along_axis(maha, log_rho.argmax(axis=1)[:, None], axis=1)[:, 0]

    def draw(self, rng: np.random.Generator, params: StudentParams, counts) -> np.ndarray:
        """counts[k] rows of each component: x = mu_k + z / sqrt(u), z ~ N(0, Sigma_k), u ~
        Gamma(nu_k/2, rate nu_k/2) (T.1), rows grouped by component, float64."""
        D = params.means.shape[1]
        means = params.means.astype(np.float64)
        prec_chol = params.prec_chol.astype(np.float64)
        parts = []
        for k, count in enumerate(counts):
            z = self.covariance.draw(rng, np.zeros(D), prec_chol, k, int(count))  # (count, D)
            u = rng.gamma(params.dof[k] / 2, 2 / params.dof[k], size=int(count))  # shape nu/2, scale 2/nu
            parts.append(means[k] + z / np.sqrt(u)[:, None])
        return np.vstack(parts)


def _weighted_column_sum(wresp, values) -> np.ndarray:
    """sum_n wresp_nk values_nk (K,), in float64."""
    return column_sum(wresp * values)
