"""The full covariance family: a free covariance per component, Sigma_k (K, D, D) (mclust's VVV).

The strategy owns, for its shape of covariance: the E-step kernel (Mahalanobis distances of a
chunk to every component, and log det), the chunk moments about a shift (the seam's ``first``
and ``scatter``), the M-step from summed moments (PRML 9.25), and the one stored
parametrisation, the Cholesky factor of the precision, and what derives from it (covariances,
precisions, samples). Conventions follow scikit-learn: the precision factor P is upper
triangular with precision = P P^T. Mahalanobis distances are formed on data centred at a common
point g (the mixture mean) so that the stacked products never see the raw offset of the data
from the origin. The E-step's workspace is one of this module's two types (``FullPacked``,
``FullWhitened``), made by the kernel and read only by ``FullCovariance.moments``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels.expanded import (
    PackedRows,
    fold,
    packed_e_step,
    packed_products,
    per_component_moments,
    remembered_plan,
)
from ..kernels.linalg import (
    covariance_from_precision_chol,
    precision_chol_from_covariance,
    remembered_factor_inverse,
)
from ..kernels.partitioned import block, schur_blocks
from ..kernels.sparse_moments import sparse_moments, sparse_whitened_moments
from ..stats import GaussianStats, shift_scatter_full
from .precisions_init import upper_factor_of


@dataclass(frozen=True, eq=False)
class FullPacked:
    """The packed form's E-step workspace: the kernel's ``PackedRows`` (valid within the
    chunk's accumulate)."""

    rows: PackedRows

    def moments(self, X, wresp, shift):
        """One product of the pair products with the responsibilities, referred from g to c_k;
        or, where few (row, component) pairs carry weight, the moments of those rows alone."""
        sparse = sparse_moments(X, wresp, shift)
        return self.rows.moments(wresp, shift) if sparse is None else sparse


@dataclass(frozen=True, eq=False)
class FullWhitened:
    """The whitened form's E-step workspace: y_nk = (x_n - mu_k) P_k (n, K, D), taken about
    c_k with the factors ``prec_chol``; consumed (scaled in place) by ``moments``."""

    y: np.ndarray
    prec_chol: np.ndarray

    def moments(self, X, wresp, shift):
        """The scatter formed in whitened coordinates, M_k = sum_n wr_nk y_nk y_nk^T, and mapped
        back, P_k^{-T} M_k P_k^{-1}: the accumulation sees well-conditioned numbers (also in
        float32) and X is not read again."""
        return _whitened_moments(wresp, self.y, self.prec_chol)


class FullCovariance:
    """A free covariance per component: Sigma_k (K, D, D)."""

    name = "full"
    # The working set a chunk's rows are sized to: twice the others', as a chunk has more fixed
    # cost (a rank update per component); at (1e6, 32, 16) float64 ~12 % faster than 8 MiB.
    chunk_bytes = 16 * 2**20
    # The scatter about another shift (GaussianStats.reshift), exact: per-component matrices.
    shift_scatter = staticmethod(shift_scatter_full)

    def workspace_columns(self, n_features, n_components):
        """Values per row of the E-step's workspace (either form), for sizing chunks."""
        return max(n_features * (n_features + 3) // 2, n_components * n_features)

    def shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def n_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def e_step(self, Xc, means_c, prec_chol, centre=None):
        """Mahalanobis distances (n, K) and a workspace that ``moments`` turns into the chunk's
        moments without another pass over X.

        Two forms of the same numbers, chosen by their rounding (see ``_packed_form_fits``):
        the packed quadratic form (``FullPacked``: one product of the chunk's pair products
        x_i x_j, i <= j, with the precisions, then one with the responsibilities for the
        scatter; about half the FLOPs of whitening, in two large matrix products), or the
        whitened residuals y_nk = (x_n - mu_k) P_k (n, K, D) (``FullWhitened``), exact to rounding whatever the
        geometry. ``centre``: the point g the rows were centred at (Xc = X - g), which the
        packed moments need to refer the scatter back to the shifts; None: no moments wanted.
        """
        plan = None if centre is None else remembered_plan(Xc.dtype, means_c, prec_chol)
        if plan is not None:
            maha, rows = packed_e_step(Xc, plan, centre)
            return maha, FullPacked(rows)
        n, D = Xc.shape
        K = means_c.shape[0]
        # One stacked product whitens the chunk for every component, the shift folded in as a
        # row: [x_n - g, 1] @ [[P_1 ... P_K], [-(mu_1 - g) P_1 ... -(mu_K - g) P_K]].
        stacked = np.empty((D + 1, K * D), dtype=Xc.dtype)
        stacked[:D] = prec_chol.transpose(1, 0, 2).reshape(D, K * D)
        stacked[D] = -np.einsum("kd,kde->ke", means_c, prec_chol).reshape(K * D)
        augmented = np.empty((n, D + 1), dtype=Xc.dtype)
        augmented[:, :D] = Xc
        augmented[:, D] = 1
        y = (augmented @ stacked).reshape(n, K, D)  # (n, K, D)
        return np.einsum("nkd,nkd->nk", y, y), FullWhitened(y, prec_chol)  # |y_nk|^2 = (x_n - mu_k)^T Lambda_k (x_n - mu_k)

    def log_kernel(self, Xc, means_c, prec_chol, centre, constant, per_point=True):
        """constant_k - (x_n - mu_k)^T Lambda_k (x_n - mu_k) / 2 (n, K) and the workspace of
        ``e_step``; the packed form folds both into its product. ``per_point``: the values are
        returned per row (predictions, scores), not only summed into a fit, which may allow
        the packed form more rounding (``expanded_forms.PACKED_FIT_LIMIT``)."""
        plan = remembered_plan(Xc.dtype, means_c, prec_chol, per_point)
        if plan is None:
            maha, workspace = self.e_step(Xc, means_c, prec_chol)
            return fold(maha, constant), workspace
        coefficients, offsets = plan
        log_rho, rows = packed_products(Xc, -0.5 * coefficients, centre)  # (n, K), column-major
        log_rho += (np.asarray(constant, dtype=np.float64) - 0.5 * offsets).astype(Xc.dtype, copy=False)
        return log_rho, FullPacked(rows)

    def mahalanobis(self, Xc, means_c, prec_chol):
        return self.e_step(Xc, means_c, prec_chol)[0]

    def log_det_half(self, prec_chol, n_features):
        # ln |Lambda_k|^(1/2) = sum_d ln P_k,dd
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)

    def moments(self, X, wresp, shift, workspace=None):
        """first_k and scatter_k about c_k = shift[k]: from the E-step's ``workspace`` (a
        ``FullPacked`` or ``FullWhitened`` of this family's kernel) without another pass over X,
        or, with None, from the rows: those that carry weight for k alone where they are few (a
        start's hard partition: N rows, not K N), else one rank update per component."""
        if workspace is not None:
            return workspace.moments(X, wresp, shift)
        sparse = sparse_moments(X, wresp, shift)
        if sparse is not None:
            return sparse
        K, D = shift.shape
        first = np.empty((K, D))
        scatter = np.empty((K, D, D))
        for k, z, w in per_component_moments(X, wresp, shift):
            first[k] = w @ z
            zs = z * np.sqrt(w)[:, None]
            scatter[k] = zs.T @ zs  # A^T A: numpy hands this to SYRK, half the FLOPs of GEMM
        return first, scatter

    def fold_scatter(self, dense):
        """The scatter in this family's form from per-component matrices (K, D, D): themselves."""
        return dense

    def from_moments(self, stats: GaussianStats, mass):
        d = stats.first / mass[:, None]  # d_k, the new mean relative to the shift
        # (9.25) about the shift: S_k = scatter_k / N_k - d_k d_k^T
        return stats.scatter / mass[:, None, None] - d[:, :, None] * d[:, None, :]

    def add_ridge(self, cov, reg_covar):
        return cov + reg_covar * np.eye(cov.shape[-1])

    def select(self, per_component, keep):
        """The components ``keep`` of a per-component array (precision factors or scatter)."""
        return per_component[keep]

    def insert_copy(self, per_component, position, source):
        """A per-component array with a copy of entry ``source`` inserted at ``position``."""
        return np.insert(per_component, position, per_component[source], axis=0)

    def precision_chol(self, cov):
        return precision_chol_from_covariance(cov)

    def covariance(self, prec_chol):
        return covariance_from_precision_chol(prec_chol)

    def precision(self, prec_chol):
        return prec_chol @ np.swapaxes(prec_chol, -1, -2)

    def draw(self, rng, mean, prec_chol, k, n):
        z = rng.standard_normal((n, mean.shape[0]))
        # x = mu + z P^{-1}: cov(x) = P^{-T} P^{-1} = Sigma; P^{-T} z^T by one solve against P^T.
        return mean + np.linalg.solve(prec_chol[k].T, z.T).T

    def marginal(self, prec_chol, features):
        """The precision factor of the marginal over ``features``: Sigma_ff (2.98), refactorised."""
        return precision_chol_from_covariance(block(self.covariance(prec_chol), features))

    def dense_covariance(self, prec_chol, n_components, n_features):
        """Each component's covariance as a (K, D, D) matrix."""
        return self.covariance(prec_chol)

    def conditional(self, prec_chol, given, other):
        """(B (K, a, b), the precision factor of the Schur complement (2.82)): x_other given x_given."""
        coef, schur = schur_blocks(self.covariance(prec_chol), given, other)
        return coef, precision_chol_from_covariance(schur)

    def check_precisions(self, precisions, n_components, n_features):
        precisions = np.asarray(precisions, dtype=np.float64)
        expected = self.shape(n_components, n_features)
        if precisions.shape != expected:
            raise ValueError(f"precisions_init: The parameter 'full precision' should have the shape of "
                             f"{expected}, but got {precisions.shape}")
        if not np.all(np.isfinite(precisions)):
            raise ValueError("precisions_init: 'full precision' should be finite")
        for k in range(n_components):
            upper_factor_of(precisions[k], f"component {k}", self.name)
        return upper_factor_of(precisions, "a component", self.name)


def _whitened_moments(wresp, y, prec_chol):
    _, K, D = y.shape
    sparse = sparse_whitened_moments(y, wresp)  # the pairs that carry weight, where they are few
    if sparse is not None:
        first_w, scatter_w = sparse
    else:
        root = np.sqrt(wresp)  # (n, K)
        y *= root[:, :, None]  # sqrt(wr_nk) y_nk, in place
        first_w = np.empty((K, D))
        scatter_w = np.empty((K, D, D))
        for k in range(K):
            yk = y[:, k, :]  # (n, D), a strided view: BLAS reads it in place
            first_w[k] = root[:, k] @ yk  # sum_n wr_nk y_nk
            scatter_w[k] = yk.T @ yk  # sum_n wr_nk y_nk y_nk^T
    inverse = remembered_factor_inverse(prec_chol)  # Q_k = P_k^{-1}, once per pass
    # x - c_k = y P_k^{-1}: first_k = t_k Q_k and the scatter is Q_k^T M_k Q_k (two stacked
    # products; the factor's inverse from solves against it, P_k Q_k = I, as the covariance's)
    first = np.einsum("kd,kde->ke", first_w, inverse)
    return first, np.swapaxes(inverse, 1, 2) @ scatter_w @ inverse
