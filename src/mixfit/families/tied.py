"""The tied covariance family: one covariance shared by every component, Sigma (D, D) (mclust's
EEE). Stored as the upper Cholesky factor of the precision, as the full family's."""

from __future__ import annotations

import numpy as np

from ..kernels.expanded import fold, reference_moments
from ..stats import GaussianStats, shift_scatter_pooled
from .full import FullCovariance
from .precisions_init import upper_factor_of


class TiedCovariance:
    """One covariance shared by every component: Sigma (D, D)."""

    name = "tied"
    chunk_bytes = 8 * 2**20  # the working set a chunk's rows are sized to (see full.FullCovariance)
    # The scatter about another shift (GaussianStats.reshift), exact: their sum over components.
    shift_scatter = staticmethod(shift_scatter_pooled)

    def workspace_columns(self, n_features, n_components):
        return n_features  # the whitened rows y = x P

    def shape(self, n_components, n_features):
        return (n_features, n_features)

    def n_parameters(self, n_components, n_features):
        return n_features * (n_features + 1) // 2

    def mahalanobis(self, Xc, means_c, prec_chol):
        y = Xc @ prec_chol  # (n, D)
        b = means_c @ prec_chol  # (K, D)
        # |y_n - b_k|^2 = |y_n|^2 - 2 y_n.b_k + |b_k|^2, one (n, D) @ (D, K) product.
        maha = (y * y).sum(axis=1)[:, None] - 2 * (y @ b.T) + (b * b).sum(axis=1)[None, :]
        return np.maximum(maha, 0, out=maha)

    def log_det_half(self, prec_chol, n_features):
        return np.log(np.diagonal(prec_chol)).sum()

    def e_step(self, Xc, means_c, prec_chol, centre=None):
        return self.mahalanobis(Xc, means_c, prec_chol), None

    def log_kernel(self, Xc, means_c, prec_chol, centre, constant, per_point=True):
        return fold(self.mahalanobis(Xc, means_c, prec_chol), constant), None

    def moments(self, X, wresp, shift, workspace=None):
        # The kernel keeps no workspace: the moments are one pass over the rows.
        _, delta, mass, s1, Xr, w64 = reference_moments(X, wresp, shift)
        xs = np.multiply(Xr, np.sqrt(w64.sum(axis=1))[:, None], out=Xr)  # sqrt(sum_k wr_nk) (x_n - ref)
        # sum_k sum_n wr_nk (x_n - c_k)(x_n - c_k)^T with x - c_k = (x - ref) - delta_k
        cross = s1.T @ delta  # sum_k s1_k delta_k^T
        scatter = xs.T @ xs - cross - cross.T + (delta * mass[:, None]).T @ delta
        return s1 - mass[:, None] * delta, scatter

    def fold_scatter(self, dense):
        """The scatter in this family's form from per-component matrices (K, D, D): their sum."""
        return dense.sum(axis=0)

    def from_moments(self, stats: GaussianStats, mass):
        d = stats.first / mass[:, None]
        # (1/N) sum_k [scatter_k - N_k d_k d_k^T], the within-component scatter pooled.
        between = (d * mass[:, None]).T @ d
        return (stats.scatter - between) / mass.sum()

    add_ridge = FullCovariance.add_ridge
    precision_chol = FullCovariance.precision_chol

    def select(self, shared, keep):
        # One covariance for all: dropping a component leaves the shared factor and the pooled
        # scatter as they are (a dropped component's share of it is what it held: nothing).
        return shared

    def insert_copy(self, shared, position, source):
        return shared
    covariance = FullCovariance.covariance
    precision = FullCovariance.precision
    # One shared Sigma: its block and its Schur complement are shared too (B (a, b)), so both stay tied.
    marginal = FullCovariance.marginal

    def dense_covariance(self, prec_chol, n_components, n_features):
        return np.broadcast_to(self.covariance(prec_chol), (n_components, n_features, n_features))

    conditional = FullCovariance.conditional

    def draw(self, rng, mean, prec_chol, k, n):
        z = rng.standard_normal((n, mean.shape[0]))
        return mean + np.linalg.solve(prec_chol.T, z.T).T

    def check_precisions(self, precisions, n_components, n_features):
        precisions = np.asarray(precisions, dtype=np.float64)
        expected = self.shape(n_components, n_features)
        if precisions.shape != expected:
            raise ValueError(f"precisions_init: The parameter 'tied precision' should have the shape of "
                             f"{expected}, but got {precisions.shape}")
        if not np.all(np.isfinite(precisions)):
            raise ValueError("precisions_init: 'tied precision' should be finite")
        return upper_factor_of(precisions, "the tied precision", self.name)
