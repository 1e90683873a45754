"""The diagonal covariance family: a diagonal covariance per component, variances (K, D)
(mclust's VVI). Stores 1 / sigma per dimension, as scikit-learn does."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..exceptions import SKLEARN_COLLAPSE_MESSAGE, CollapsedComponentError
from ..kernels.diag_fused import centred_row_features, squared_row_features
from ..kernels.expanded import reference_moments
from ..kernels.float32_pass import predicted_unkept
from ..kernels.row_features import (
    RowFeatures,
    centred_log_kernel,
    compiled_product,
    log_kernel_product,
    remembered,
)
from ..kernels.scratch import scratch
from ..stats import GaussianStats, shift_scatter_diagonal
from .full import FullCovariance
from .precisions_init import check_positive_precisions


def _plan(dtype, means_c, prec_chol, constant):
    """The coefficients (2D + 1, K) of the features, in ``dtype``; and for float32, the
    components whose moments a pass sums in float64 (``float32_pass.predicted_unkept``)."""
    precision = np.asarray(prec_chol, dtype=np.float64) ** 2  # (K, D)
    means_c = np.asarray(means_c, dtype=np.float64)
    spread = means_c**2 * precision  # (K, D) (mu_kd - g_d)^2 lambda_kd
    coefficients = np.concatenate([-0.5 * precision.T, (means_c * precision).T,
                                   (constant - 0.5 * spread.sum(axis=1))[None, :]])
    unkept = predicted_unkept(spread.max(axis=1)) if dtype == np.float32 else None
    return coefficients.astype(dtype), unkept


def _planned(name, dtype, means_c, prec_chol, constant):
    """``_plan``'s coefficients and float32 prediction, remembered for the last parameters."""
    return remembered((name, dtype), functools.partial(_plan, dtype),
                      np.asarray(means_c), np.asarray(prec_chol), np.asarray(constant))


def _log_kernel(name, features, means_c, prec_chol, centre, constant):
    """ln rho (n, K) from the features [(x - g)^2, x - g, 1] and the workspace that keeps them;
    a function, so that a family borrowing ``log_kernel`` (families/mclust.py) finds it."""
    coefficients, unkept = _planned(name, features.dtype, means_c, prec_chol, constant)  # (., K)
    log_rho = log_kernel_product(features, coefficients)  # (n, K)
    return log_rho, _workspace(features, centre, unkept)


def _workspace(features, centre, unkept):
    """The E-step workspace that keeps the chunk's features for ``moments``."""
    return DiagFeatures(RowFeatures(features, centre, per_dimension=True, predicted=unkept))


@dataclass(frozen=True, eq=False)
class DiagFeatures:
    """The diag E-step workspace: the kernel's row features [(x - g)^2, x - g, 1]."""

    features: RowFeatures

    def moments(self, X, wresp, shift):
        return self.features.moments(wresp, shift, X)

    def mass_of(self, wresp):
        return self.features.mass_of(wresp)


class DiagCovariance:
    """A diagonal covariance per component: variances (K, D)."""

    name = "diag"
    chunk_bytes = 8 * 2**20  # the working set a chunk's rows are sized to (see full.FullCovariance)
    # The scatter about another shift (GaussianStats.reshift), exact: their diagonals.
    shift_scatter = staticmethod(shift_scatter_diagonal)

    def workspace_columns(self, n_features, n_components):
        return n_features  # the squared rows

    def shape(self, n_components, n_features):
        return (n_components, n_features)

    def n_parameters(self, n_components, n_features):
        return n_components * n_features

    def mahalanobis(self, Xc, means_c, prec_chol):
        precision = prec_chol**2  # (K, D)
        # sum_d (x_d - mu_kd)^2 lambda_kd expanded into two (n, D) @ (D, K) products.
        squares = np.multiply(Xc, Xc, out=scratch("squares", Xc.shape, Xc.dtype))
        maha = squares @ precision.T
        maha -= 2 * (Xc @ (means_c * precision).T)
        maha += (means_c**2 * precision).sum(axis=1)[None, :]
        return np.maximum(maha, 0, out=maha)

    def log_det_half(self, prec_chol, n_features):
        return np.log(prec_chol).sum(axis=1)

    def e_step(self, Xc, means_c, prec_chol, centre=None):
        return self.mahalanobis(Xc, means_c, prec_chol), None

    def log_kernel(self, Xc, means_c, prec_chol, centre, constant, per_point=True):
        """constant_k - sum_d lambda_kd (x_d - mu_kd)^2 / 2: one product of [(x - g)^2, x - g, 1]
        with [-lambda_k / 2; mu_k lambda_k; constant_k - sum_d lambda_kd mu_kd^2 / 2], the
        features kept for ``moments`` (kernels/row_features.py)."""
        features = squared_row_features(Xc)  # [(x - g)^2, x - g, 1], one pass (kernels/diag_fused.py)
        return _log_kernel(self.name, features, means_c, prec_chol, centre, constant)

    def log_kernel_rows(self, X, means_c, prec_chol, centre, constant):
        """``log_kernel(X - centre, ...)`` for a fit's chunk (not per point), the features formed
        from the rows as given in one pass; None where X has a NaN entry (the caller's
        missing-value path). The same numbers as centring first."""
        if X.dtype == np.float64 and compiled_product(X.shape[0], len(constant), X.dtype) and X.flags.c_contiguous:
            # the features and the product in one pass (kernels/row_features.py)
            coefficients, unkept = _planned(self.name, X.dtype, means_c, prec_chol, constant)
            kernel = centred_log_kernel(X, centre, coefficients)
            if kernel is None:
                return None
            log_rho, features = kernel
            return log_rho, _workspace(features, centre, unkept)
        features = centred_row_features(X, centre)  # kernels/diag_fused.py
        return None if features is None else _log_kernel(self.name, features, means_c, prec_chol, centre, constant)


    def moments(self, X, wresp, shift, workspace=None):
        if workspace is not None:  # the DiagFeatures of ``log_kernel``
            return workspace.moments(X, wresp, shift)
        _, delta, mass, s1, Xr, w64 = reference_moments(X, wresp, shift)
        squares = np.multiply(Xr, Xr, out=scratch("squares", Xr.shape, Xr.dtype))
        s2 = w64.T @ squares  # (K, D) sum_n wr_nk (x_nd - ref_d)^2
        # (x - c_k)^2 = (x - ref)^2 - 2 delta_k (x - ref) + delta_k^2, summed with weights wr_nk
        return s1 - mass[:, None] * delta, s2 - 2 * delta * s1 + mass[:, None] * delta**2

    def fold_scatter(self, dense):
        """The scatter in this family's form from per-component matrices (K, D, D): diagonals."""
        return np.diagonal(dense, axis1=1, axis2=2).copy()

    def from_moments(self, stats: GaussianStats, mass):
        d = stats.first / mass[:, None]
        return stats.scatter / mass[:, None] - d * d

    def add_ridge(self, cov, reg_covar):
        return cov + reg_covar

    select = FullCovariance.select
    insert_copy = FullCovariance.insert_copy

    def precision_chol(self, cov):
        bad = np.flatnonzero(~(cov > 0).all(axis=-1)) if cov.ndim == 2 else np.flatnonzero(~(cov > 0))
        if bad.size:
            raise CollapsedComponentError(
                f"{SKLEARN_COLLAPSE_MESSAGE} (The variance of component {bad[0]} is not positive: it "
                "has collapsed onto a point.)",
                component=int(bad[0]),
            )
        return 1.0 / np.sqrt(cov)

    def covariance(self, prec_chol):
        return 1.0 / prec_chol**2

    def precision(self, prec_chol):
        return prec_chol**2

    def draw(self, rng, mean, prec_chol, k, n):
        return mean + rng.standard_normal((n, mean.shape[0])) / prec_chol[k]

    def marginal(self, prec_chol, features):
        """The marginal over ``features`` keeps their variances: 1 / sigma_kf."""
        return prec_chol[:, features]

    def dense_covariance(self, prec_chol, n_components, n_features):
        return self.covariance(prec_chol)[:, :, None] * np.eye(n_features)  # (K, D, D) diag(sigma_k^2)

    def conditional(self, prec_chol, given, other):
        """(None: B = 0, the coordinates are independent within a component; the other
        coordinates' own variances, Sigma_bb, as the Schur complement with Sigma_ab = 0)."""
        return None, prec_chol[:, other]

    def check_precisions(self, precisions, n_components, n_features):
        return np.sqrt(check_positive_precisions(precisions, self.name, self.shape(n_components, n_features)))
