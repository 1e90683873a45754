"""The four scikit-learn covariance families on a stack of B independent problems.

``mixfit.fit_many`` advances B small mixtures together: every array carries a leading problem
axis b, and one numpy call does the work of B. Each family here gives, for the rows of a problem
taken about its own centre m_b (the weighted data mean), the quadratic form of (2.43) as a
product of *row features* with *coefficients*:

    -1/2 (x - mu_k)^T Lambda_k (x - mu_k) = a_k . q(x) + (Lambda_k mu_k)^T x - 1/2 mu_k^T Lambda_k mu_k

with x, mu_k about m_b and q(x) the family's second-order features: the pair products x_i x_j,
i <= j (full and tied: ``kernels/expanded.py``'s packed form, a_ij = -Lambda_ii / 2 on the
diagonal and -Lambda_ij off it), the squares x_d^2 (diag: a_kd = -lambda_kd / 2), or |x|^2
(spherical: a_k = -lambda_k / 2). The same features, summed with the responsibilities, are the
moments of the M-step: sum_n r_nk q(x_n) is the second moment about m_b, from which (9.25)
follows as S_k = Q_k / N_k - d_k d_k^T with d_k = mean_k - m_b. That is the packed form's
rounding (``kernels/expanded.py``): harmless in float64 while the packed distance estimate stays
under a limit (``STACKED_ROUNDING_LIMIT``, checked by ``rounding_ok``; a problem that breaks it
is fitted alone, by the single path).

Each strategy is found from the single-problem strategy by its type (``stacked_family``), so a
family name is still read only in ``registry.py``; a family without a stacked form gives None.
"""

from __future__ import annotations

import numpy as np

from ..kernels.expanded import PACKED_ROUNDING_LIMIT
from ..kernels.linalg import covariance_from_precision_chol
from .diag import DiagCovariance
from .full import FullCovariance
from .spherical import SphericalCovariance
from .tied import TiedCovariance

_EPS = np.finfo(np.float64).eps


def _pairs(D):
    return np.triu_indices(D)


def _pair_matrix(second, D):
    """(..., D, D) symmetric matrices from their upper-triangle entries (..., D(D+1)/2)."""
    upper = _pairs(D)
    out = np.empty(second.shape[:-1] + (D, D))
    out[..., upper[0], upper[1]] = second
    out[..., upper[1], upper[0]] = second
    return out


def _factor_stack(cov):
    """Upper P with P P^T = cov^{-1} for a stack (..., D, D), and a mask (leading shape) of the
    matrices that are not positive definite (their factor is left as the identity)."""
    shape, D = cov.shape[:-2], cov.shape[-1]
    flat = cov.reshape(-1, D, D)
    failed = ~np.isfinite(flat).all(axis=(1, 2))
    work = np.where(failed[:, None, None], np.eye(D), flat)
    try:
        lower = np.linalg.cholesky(work)  # cov = L L^T
    except np.linalg.LinAlgError:  # rare: find the matrices that fail, one by one
        for i in range(work.shape[0]):
            try:
                np.linalg.cholesky(work[i])
            except np.linalg.LinAlgError:
                failed[i] = True
        work[failed] = np.eye(D)
        lower = np.linalg.cholesky(work)
    # cov^{-1} = L^{-T} L^{-1}, so P = L^{-T}: one batched solve against the factor
    eye = np.broadcast_to(np.eye(D), lower.shape)
    prec_chol = np.triu(np.swapaxes(np.linalg.solve(lower, eye), -1, -2))
    return prec_chol.reshape(shape + (D, D)), failed.reshape(shape)


# The stacked form's rounding limit: ``kernels/expanded.py``'s estimate of the packed distance
# rounding, 4 u sqrt(L) max_k B_k with B_k = |mu_k|^T |Lambda_k| |mu_k| + sum_ij |Lambda_k,ij| Sigma_k,ij
# (rows and means about m_b), held 100x under the single fit's float64 limit (1e-9). A problem is
# fitted by the stacked form while its estimate stays under it, so that its result stays within
# 1e-10 of the single fit's, which rounds differently (about another centre, or whitened). Measured
# on the benchmark's problems (bench_many.py: 300 problems of 400 x 2, K = 2, full): under the
# limit, the largest parameter difference to a single fit was 5e-11; the ~4 % of problems above it
# (a component that is thin, ~1e-4 of its variance along one direction, far from the data mean)
# differed by up to 6e-7, the single fit itself as far from scikit-learn's there. Those leave.
STACKED_ROUNDING_LIMIT = 1e-2 * PACKED_ROUNDING_LIMIT[np.dtype(np.float64)]


def _bound_ok(bound, n_terms):
    """(B,) whether 4 u sqrt(L) max_k B_k stays under ``STACKED_ROUNDING_LIMIT``; ``bound`` (B, K)."""
    return 4 * _EPS / 2 * np.sqrt(n_terms) * bound.max(axis=1) <= STACKED_ROUNDING_LIMIT


def _packed_bound(means_c, precision, covariance):
    """(B, K) B_k of dense precisions and covariances (B, K, D, D)."""
    magnitude = np.abs(precision)
    spread = np.abs(means_c)
    return np.einsum("bkd,bkde,bke->bk", spread, magnitude, spread) + (magnitude * covariance).sum(axis=(-2, -1))


class StackedFull:
    """Free covariances Sigma_bk (B, K, D, D)."""

    def n_second(self, D):
        return D * (D + 1) // 2

    def second_features(self, Xc):
        """q(x) = x_i x_j, i <= j: (B, N, D(D+1)/2)."""
        upper = _pairs(Xc.shape[-1])
        return Xc[..., upper[0]] * Xc[..., upper[1]]

    def precision(self, prec_chol):
        return prec_chol @ np.swapaxes(prec_chol, -1, -2)  # Lambda = P P^T

    def coefficients(self, means_c, prec_chol):
        """(a (B, K, M), Lambda mu (B, K, D), -mu^T Lambda mu / 2 (B, K)) of the quadratic form."""
        precision = self.precision(prec_chol)
        D = means_c.shape[-1]
        upper = _pairs(D)
        second = -precision[..., upper[0], upper[1]] * np.where(upper[0] == upper[1], 0.5, 1.0)
        linear = np.einsum("...de,...e->...d", precision, means_c)
        whitened = np.einsum("...d,...de->...e", means_c, prec_chol)  # (mu_k - m) P_k
        return second, linear, -0.5 * (whitened**2).sum(axis=-1)

    def log_det_half(self, prec_chol, D):
        return np.log(np.diagonal(prec_chol, axis1=-2, axis2=-1)).sum(axis=-1)  # (B, K) sum_d ln P_k,dd

    def covariance(self, second, d, mass, reg_covar):
        """(9.25) about the new means from the moments about m: Q_k / N_k - d_k d_k^T, + reg I."""
        D = d.shape[-1]
        cov = _pair_matrix(second, D) / mass[..., None, None] - d[..., :, None] * d[..., None, :]
        return cov + reg_covar * np.eye(D)

    def precision_chol(self, cov):
        """(P (B, K, D, D), failed (B,)): a problem fails where any component's factor fails."""
        prec_chol, failed = _factor_stack(cov)
        return prec_chol, failed.any(axis=1)

    def rounding_ok(self, means_c, prec_chol):
        precision = self.precision(prec_chol)
        bound = _packed_bound(means_c, precision, covariance_from_precision_chol(prec_chol))
        return _bound_ok(bound, self.n_second(means_c.shape[-1]) + means_c.shape[-1] + 1)


def _per_component(shared, K):
    """A tied problem's (B, D, D) factor seen as K equal ones, (B, K, D, D) (a view)."""
    return np.broadcast_to(shared[:, None], (shared.shape[0], K) + shared.shape[1:])


class StackedTied:
    """One covariance per problem, Sigma_b (B, D, D), shared by its K components."""

    n_second = StackedFull.n_second
    second_features = StackedFull.second_features
    precision = StackedFull.precision

    def coefficients(self, means_c, prec_chol):
        return StackedFull.coefficients(self, means_c, _per_component(prec_chol, means_c.shape[1]))

    def log_det_half(self, prec_chol, D):
        return np.log(np.diagonal(prec_chol, axis1=-2, axis2=-1)).sum(axis=-1)[:, None]  # (B, 1)

    def covariance(self, second, d, mass, reg_covar):
        """(1/N) sum_k [Q_k - N_k d_k d_k^T], the within-component scatter pooled, + reg I."""
        D = d.shape[-1]
        pooled = _pair_matrix(second.sum(axis=1), D)  # (B, D, D)
        between = np.einsum("bk,bkd,bke->bde", mass, d, d)
        return (pooled - between) / mass.sum(axis=1)[:, None, None] + reg_covar * np.eye(D)

    def precision_chol(self, cov):
        return _factor_stack(cov)

    def rounding_ok(self, means_c, prec_chol):
        K = means_c.shape[1]
        precision = _per_component(self.precision(prec_chol), K)  # (B, K, D, D)
        bound = _packed_bound(means_c, precision, _per_component(covariance_from_precision_chol(prec_chol), K))
        return _bound_ok(bound, self.n_second(means_c.shape[-1]) + means_c.shape[-1] + 1)


class StackedDiag:
    """Diagonal covariances, variances (B, K, D); stores 1 / sigma as the diag family."""

    def n_second(self, D):
        return D

    def second_features(self, Xc):
        return Xc * Xc  # (B, N, D)

    def coefficients(self, means_c, prec_chol):
        precision = prec_chol**2  # (B, K, D) lambda_kd
        return -0.5 * precision, precision * means_c, -0.5 * (precision * means_c**2).sum(axis=-1)

    def log_det_half(self, prec_chol, D):
        return np.log(prec_chol).sum(axis=-1)  # (B, K)

    def covariance(self, second, d, mass, reg_covar):
        return second / mass[..., None] - d * d + reg_covar  # (9.25), the diagonal

    def precision_chol(self, cov):
        good = np.isfinite(cov) & (cov > 0)  # (B, K, D)
        return 1.0 / np.sqrt(np.where(good, cov, 1.0)), ~good.all(axis=(1, 2))

    def rounding_ok(self, means_c, prec_chol):
        D = means_c.shape[-1]
        bound = ((prec_chol * means_c) ** 2).sum(axis=-1) + D  # sum_d lambda_kd mu_kd^2 + sum_d lambda_kd sigma_kd^2
        return _bound_ok(bound, 2 * D + 1)


class StackedSpherical:
    """One variance per component (B, K); stores 1 / sigma as the spherical family."""

    def rounding_ok(self, means_c, prec_chol):
        D = means_c.shape[-1]
        bound = prec_chol**2 * (means_c**2).sum(axis=-1) + D  # lambda_k |mu_k|^2 + D
        return _bound_ok(bound, D + 2)

    def n_second(self, D):
        return 1

    def second_features(self, Xc):
        return np.einsum("bnd,bnd->bn", Xc, Xc)[..., None]  # (B, N, 1) |x|^2

    def coefficients(self, means_c, prec_chol):
        precision = prec_chol**2  # (B, K)
        return (-0.5 * precision[..., None], precision[..., None] * means_c,
                -0.5 * precision * (means_c**2).sum(axis=-1))

    def log_det_half(self, prec_chol, D):
        return D * np.log(prec_chol)  # (B, K) ln (sigma_k^-2)^(D/2)

    def covariance(self, second, d, mass, reg_covar):
        # The mean of the diagonal variances, as scikit-learn defines spherical.
        return (second[..., 0] / mass - (d * d).sum(axis=-1)) / d.shape[-1] + reg_covar

    def precision_chol(self, cov):
        good = np.isfinite(cov) & (cov > 0)  # (B, K)
        return 1.0 / np.sqrt(np.where(good, cov, 1.0)), ~good.all(axis=1)


_STACKED = {FullCovariance: StackedFull, TiedCovariance: StackedTied, DiagCovariance: StackedDiag,
            SphericalCovariance: StackedSpherical}


def stacked_family(covariance):
    """The stacked form of a single-problem covariance strategy, or None where there is none
    (mclust's constrained families fit one problem at a time)."""
    kind = _STACKED.get(type(covariance))
    return None if kind is None else kind()
