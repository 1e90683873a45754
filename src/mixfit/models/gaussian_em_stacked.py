"""Maximum likelihood by EM for B independent Gaussian mixtures at once (PRML 9.2.2, stacked).

The same E-step and M-step as ``gaussian_em.GaussianEM``, each array with a leading problem
axis b, so that one numpy call serves B problems (``mixfit.fit_many``). The rows of problem b
are taken about its centre m_b (its weighted data mean) and enter as row features
phi(x) = [q(x - m_b), x - m_b, 1] (the family's second-order features q: ``families/stacked.py``):
then ln rho_bkn is one stacked product of coefficients with features, and the moments of the
M-step are one stacked product of the responsibilities with the weighted features.

Notation  code            shape             meaning
pi_bk     weights         (B, K)            -
mu_bk     means           (B, K, D)         -
P_bk      prec_chol       per family        (B, K, D, D) | (B, D, D) | (B, K, D) | (B, K)
m_b       centre          (B, D)            where problem b's rows and means are taken about
phi_bn    features        (B, L, N)         [q, x - m, 1], L = M + D + 1; padded rows weigh 0
rho_bkn   log_rho         (B, K, N)         ln pi_k + ln N(x_n | mu_k, Sigma_k), (9.23)'s numerator
N_bk      stats.mass      (B, K)            (9.27) with sample weights
-         stats.first     (B, K, D)         sum_n w_n r_nk (x_n - m_b)
-         stats.second    (B, K, M)         sum_n w_n r_nk q(x_n - m_b)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels.linalg import _EXP_FLOOR
from .gaussian_em import _MASS_FLOOR, GaussianParams

_LOG_2PI = np.log(2 * np.pi)
# Above this many components numpy's reduction over the K axis beats K whole-slice operations
# (``kernels.linalg.row_max``'s rule).
_SLICE_LOOP_MAX = 32


@dataclass(frozen=True, eq=False)
class StackedParams:
    weights: np.ndarray  # (B, K)
    means: np.ndarray  # (B, K, D)
    prec_chol: np.ndarray  # (B, ...) the family's shape per problem

    @classmethod
    def stack(cls, params: list[GaussianParams]) -> StackedParams:
        return cls(*(np.stack([np.asarray(getattr(p, name), dtype=np.float64) for p in params])
                     for name in ("weights", "means", "prec_chol")))

    def take(self, keep) -> StackedParams:
        return StackedParams(self.weights[keep], self.means[keep], self.prec_chol[keep])

    def problem(self, b: int) -> GaussianParams:
        return GaussianParams(self.weights[b].copy(), self.means[b].copy(), self.prec_chol[b].copy())


@dataclass(frozen=True, eq=False)
class StackedRows:
    features: np.ndarray  # (B, L, N) phi(x_n) as columns
    weighted: np.ndarray  # (B, N, L) w_n phi(x_n) as rows
    weights: np.ndarray  # (B, N) w_n, 0 on padding
    centre: np.ndarray  # (B, D) m_b
    weight_sum: np.ndarray  # (B,) sum_n w_n

    def take(self, keep) -> StackedRows:
        return StackedRows(self.features[keep], self.weighted[keep], self.weights[keep], self.centre[keep],
                           self.weight_sum[keep])


@dataclass(frozen=True, eq=False)
class StackedStats:
    mass: np.ndarray  # (B, K) N_bk
    first: np.ndarray  # (B, K, D) about m_b
    second: np.ndarray  # (B, K, M) about m_b
    log_norm: np.ndarray  # (B,) sum_n w_n ln sum_k rho_bkn
    weight_sum: np.ndarray  # (B,)


class StackedGaussianEM:
    """E-step / M-step of B Gaussian mixtures of one covariance family, stacked."""

    def __init__(self, stacked_family, reg_covar: float):
        self.family = stacked_family  # families/stacked.py
        self.reg_covar = reg_covar

    def stack_params(self, params: list[GaussianParams]) -> StackedParams:
        """The params of single problems, stacked."""
        return StackedParams.stack(params)

    def problem(self, params: StackedParams, b: int) -> GaussianParams:
        """The params of problem ``b`` alone."""
        return params.problem(b)

    def rows(self, X: np.ndarray, weights: np.ndarray) -> StackedRows:
        """The stacked rows of padded data X (B, N, D) with weights (B, N) (0: padding)."""
        weight_sum = weights.sum(axis=1)  # (B,)
        centre = np.einsum("bn,bnd->bd", weights, X) / weight_sum[:, None]  # (B, D) m_b
        Xc = X - centre[:, None, :]
        second = self.family.second_features(Xc)  # (B, N, M)
        B, N, D = X.shape
        M = second.shape[-1]
        weighted = np.empty((B, N, M + D + 1))
        weighted[..., :M] = second
        weighted[..., M:M + D] = Xc
        weighted[..., -1] = 1.0
        features = np.ascontiguousarray(np.swapaxes(weighted, 1, 2))  # (B, L, N)
        weighted *= weights[..., None]
        return StackedRows(features, weighted, weights, centre, weight_sum)

    def accumulate(self, rows: StackedRows, params: StackedParams) -> StackedStats:
        """E-step of every problem: responsibilities (9.23), then their weighted moments."""
        D = rows.centre.shape[1]
        means_c = params.means - rows.centre[:, None, :]  # (B, K, D) mu_k - m
        second, linear, offset = self.family.coefficients(means_c, params.prec_chol)
        log_det_half = self.family.log_det_half(params.prec_chol, D)  # ln |Lambda_k|^(1/2)
        with np.errstate(divide="ignore"):  # a weight of exactly 0 is an impossible component
            # (2.43) ln pi_k - D/2 ln 2pi + 1/2 ln |Lambda_k| - 1/2 mu_k^T Lambda_k mu_k
            constant = np.log(params.weights) + log_det_half - 0.5 * D * _LOG_2PI + offset  # (B, K)
        coefficients = np.concatenate([second, linear, constant[..., None]], axis=-1)  # (B, K, L)
        log_rho = coefficients @ rows.features  # (B, K, N)
        resp, log_norm = _normalize(log_rho)  # r_bkn (9.23) in place of ln rho; ln sum_k rho (B, N)
        moments = resp @ rows.weighted  # (B, K, L) sum_n w_n r_nk phi(x_n)
        M = second.shape[-1]
        return StackedStats(mass=moments[..., -1], first=moments[..., M:M + D], second=moments[..., :M],
                            log_norm=np.einsum("bn,bn->b", log_norm, rows.weights), weight_sum=rows.weight_sum)

    def objective(self, stats: StackedStats, params: StackedParams) -> np.ndarray:
        """(B,) the weighted log-likelihood (9.28) of each problem."""
        return stats.log_norm

    def maximize(self, stats: StackedStats, rows: StackedRows):
        """M-step of every problem: (params, failed (B,)), failed where a covariance is not positive
        definite (that problem's params are then placeholders)."""
        mass = stats.mass + _MASS_FLOOR  # as GaussianEM.maximize
        weights = mass / mass.sum(axis=1, keepdims=True)  # (9.26)
        d = stats.first / mass[..., None]  # (B, K, D) the new mean about m_b
        means = rows.centre[:, None, :] + d  # (9.24)
        cov = self.family.covariance(stats.second, d, mass, self.reg_covar)  # (9.25), + reg_covar
        prec_chol, failed = self.family.precision_chol(cov)
        return StackedParams(weights, means, prec_chol), failed

    def suitable(self, rows: StackedRows, params: StackedParams) -> np.ndarray:
        """(B,) whether the feature form rounds within the single fit's limit for these params."""
        return self.family.rounding_ok(params.means - rows.centre[:, None, :], params.prec_chol)


def _normalize(log_rho: np.ndarray):
    """Responsibilities (overwriting ``log_rho`` (B, K, N)) and ln sum_k exp (B, N), as
    ``kernels.linalg.normalize_log_rows`` does per row: less the row's largest term, exponents
    floored where they change no sum, exponentiated once."""
    K = log_rho.shape[1]
    if K > _SLICE_LOOP_MAX:
        raw_peak = log_rho.max(axis=1)
    else:
        raw_peak = log_rho[:, 0].copy()  # (B, N)
        for k in range(1, K):
            np.maximum(raw_peak, log_rho[:, k], out=raw_peak)
    finite = np.isfinite(raw_peak)
    peak = raw_peak if finite.all() else np.where(finite, raw_peak, 0)
    log_rho -= peak[:, None, :]
    np.maximum(log_rho, _EXP_FLOOR[np.dtype(np.float64)], out=log_rho)
    resp = np.exp(log_rho, out=log_rho)
    if K > _SLICE_LOOP_MAX:
        total = resp.sum(axis=1)
    else:
        total = resp[:, 0].copy()
        for k in range(1, K):
            total += resp[:, k]
    resp /= total[:, None, :]
    log_norm = peak + np.log(total)
    if not finite.all():  # a row no component can explain keeps ln p = -inf (or NaN)
        log_norm[~finite] = raw_peak[~finite]
    return resp, log_norm
