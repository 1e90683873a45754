"""The spherical covariance family: one variance per component, sigma_k^2 (K,) (mclust's VII).
Stores 1 / sigma_k, as scikit-learn does."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..kernels.expanded import reference_moments
from ..kernels.float32_pass import predicted_unkept
from ..kernels.row_features import RowFeatures, log_kernel_product, remembered, row_features
from ..stats import GaussianStats, shift_scatter_trace
from .diag import DiagCovariance
from .full import FullCovariance
from .precisions_init import check_positive_precisions


def _plan(dtype, means_c, prec_chol, constant):
    """The coefficients (1 + D + 1, K) of the features, in ``dtype``; and for float32, the
    components whose moments a pass sums in float64 (``float32_pass.predicted_unkept``)."""
    precision = np.asarray(prec_chol, dtype=np.float64) ** 2  # (K,)
    means_c = np.asarray(means_c, dtype=np.float64)
    spread = (means_c**2).sum(axis=1)  # |mu_k - g|^2
    coefficients = np.concatenate([-0.5 * precision[None, :], (means_c * precision[:, None]).T,
                                   (constant - 0.5 * spread * precision)[None, :]])  # (1 + D + 1, K)
    unkept = predicted_unkept(spread * precision / means_c.shape[1]) if dtype == np.float32 else None
    return coefficients.astype(dtype), unkept


@dataclass(frozen=True, eq=False)
class SphericalFeatures:
    """The spherical E-step workspace: the kernel's row features [|x - g|^2, x - g, 1]."""

    features: RowFeatures

    def moments(self, X, wresp, shift):
        return self.features.moments(wresp, shift, X)

    def mass_of(self, wresp):
        return self.features.mass_of(wresp)


class SphericalCovariance:
    """One variance per component: sigma_k^2 (K,)."""

    name = "spherical"
    chunk_bytes = 8 * 2**20  # the working set a chunk's rows are sized to (see full.FullCovariance)
    # The scatter about another shift (GaussianStats.reshift), exact: their traces.
    shift_scatter = staticmethod(shift_scatter_trace)

    def workspace_columns(self, n_features, n_components):
        return n_features  # the squared rows

    def shape(self, n_components, n_features):
        return (n_components,)

    def n_parameters(self, n_components, n_features):
        return n_components

    def mahalanobis(self, Xc, means_c, prec_chol):
        maha = (Xc * Xc).sum(axis=1)[:, None] - 2 * (Xc @ means_c.T) + (means_c**2).sum(axis=1)[None, :]
        maha *= prec_chol[None, :] ** 2
        return np.maximum(maha, 0, out=maha)

    def log_det_half(self, prec_chol, n_features):
        return n_features * np.log(prec_chol)

    def e_step(self, Xc, means_c, prec_chol, centre=None):
        return self.mahalanobis(Xc, means_c, prec_chol), None

    def log_kernel(self, Xc, means_c, prec_chol, centre, constant, per_point=True):
        """constant_k - lambda_k |x_n - mu_k|^2 / 2: one product of [|x - g|^2, x - g, 1] with
        [-lambda_k / 2; mu_k lambda_k; constant_k - lambda_k |mu_k|^2 / 2], the features kept for
        ``moments`` (kernels/row_features.py)."""
        coefficients, unkept = remembered((self.name, Xc.dtype), functools.partial(_plan, Xc.dtype),
                                          np.asarray(means_c), np.asarray(prec_chol), np.asarray(constant))  # (., K)
        features = row_features(Xc, 1)
        np.einsum("nd,nd->n", Xc, Xc, out=features[:, 0])
        log_rho = log_kernel_product(features, coefficients)  # (n, K)
        return log_rho, SphericalFeatures(RowFeatures(features, centre, per_dimension=False, predicted=unkept))

    def moments(self, X, wresp, shift, workspace=None):
        if workspace is not None:  # the SphericalFeatures of ``log_kernel``
            return workspace.moments(X, wresp, shift)
        _, delta, mass, s1, Xr, w64 = reference_moments(X, wresp, shift)
        s2 = w64.T @ (Xr * Xr).sum(axis=1)  # (K,) sum_n wr_nk |x_n - ref|^2
        return s1 - mass[:, None] * delta, s2 - 2 * (delta * s1).sum(axis=1) + mass * (delta**2).sum(axis=1)

    def fold_scatter(self, dense):
        """The scatter in this family's form from per-component matrices (K, D, D): traces."""
        return np.trace(dense, axis1=1, axis2=2)

    def from_moments(self, stats: GaussianStats, mass):
        d = stats.first / mass[:, None]
        # The mean of the diagonal variances, as scikit-learn defines spherical.
        return (stats.scatter / mass - (d * d).sum(axis=1)) / d.shape[1]

    add_ridge = DiagCovariance.add_ridge
    select = FullCovariance.select
    insert_copy = FullCovariance.insert_copy
    precision_chol = DiagCovariance.precision_chol
    covariance = DiagCovariance.covariance
    precision = DiagCovariance.precision
    draw = DiagCovariance.draw

    def marginal(self, prec_chol, features):
        """sigma_k^2 I restricted to any coordinates is sigma_k^2 I: the factor is unchanged."""
        return prec_chol.copy()

    def dense_covariance(self, prec_chol, n_components, n_features):
        return self.covariance(prec_chol)[:, None, None] * np.eye(n_features)  # (K, D, D) sigma_k^2 I

    def conditional(self, prec_chol, given, other):
        """(None: B = 0; sigma_k^2 I over the other coordinates, the marginal's)."""
        return None, prec_chol.copy()

    def check_precisions(self, precisions, n_components, n_features):
        return np.sqrt(check_positive_precisions(precisions, self.name, self.shape(n_components, n_features)))
