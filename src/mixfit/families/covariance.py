"""Covariance strategies: one small object per covariance type.

``make_covariance(name)`` is the only place the string is read; everything downstream calls the
strategy's methods. Each strategy owns, for its shape of covariance:

- the E-step kernel: Mahalanobis distances of a chunk to every component, and log det;
- the chunk moments about a shift (the seam's ``first`` and ``scatter``);
- the M-step: the maximum-likelihood covariance from summed moments (PRML 9.25 and its
  tied / diagonal / spherical analogues);
- the one stored parametrisation, the Cholesky factor of the precision, and what derives from
  it (covariances, precisions, samples).

Conventions follow scikit-learn: the precision factor P is upper triangular with
precision = P P^T; diag and spherical store 1 / sigma. Mahalanobis distances are formed on data
centred at a common point g (the mixture mean) so that the stacked products never see the raw
offset of the data from the origin.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import SKLEARN_COLLAPSE_MESSAGE, CollapsedComponentError
from ..kernels.expanded import (
    PackedRows,
    RowFeatures,
    fold,
    packed_e_step,
    packed_plan,
    packed_products,
    per_component_moments,
    reference_moments,
    row_features,
    sparse_moments,
    sparse_whitened_moments,
)
from ..kernels.linalg import covariance_from_precision_chol, precision_chol_from_covariance
from ..kernels.scratch import scratch
from ..stats import GaussianStats
from .precisions_init import check_positive_precisions, upper_factor_of


class FullCovariance:
    """A free covariance per component: Sigma_k (K, D, D)."""

    name = "full"
    # The working set a chunk's rows are sized to: twice the others', as a chunk has more fixed
    # cost (a rank update per component); at (1e6, 32, 16) float64 ~12 % faster than 8 MiB.
    chunk_bytes = 16 * 2**20
    _last_plan = None  # (prec_chol, dtype, means_c, plan) of the last ``_plan`` call

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
        the packed quadratic form (``PackedRows``: one product of the chunk's pair products
        x_i x_j, i <= j, with the precisions, then one with the responsibilities for the
        scatter; about half the FLOPs of whitening, in two large matrix products), or the
        whitened residuals y_nk = (x_n - mu_k) P_k (n, K, D), exact to rounding whatever the
        geometry. ``centre``: the point g the rows were centred at (Xc = X - g), which the
        packed moments need to refer the scatter back to the shifts; None: no moments wanted.
        """
        plan = None if centre is None else self._plan(Xc.dtype, means_c, prec_chol)
        if plan is not None:
            return packed_e_step(Xc, plan, centre)
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
        return np.einsum("nkd,nkd->nk", y, y), y  # |y_nk|^2 = (x_n - mu_k)^T Lambda_k (x_n - mu_k)

    def log_kernel(self, Xc, means_c, prec_chol, centre, constant, per_point=True):
        """constant_k - (x_n - mu_k)^T Lambda_k (x_n - mu_k) / 2 (n, K) and the workspace of
        ``e_step``; the packed form folds both into its product. ``per_point``: the values are
        returned per row (predictions, scores), not only summed into a fit, which may allow
        the packed form more rounding (``expanded_forms.PACKED_FIT_LIMIT``)."""
        plan = self._plan(Xc.dtype, means_c, prec_chol, per_point)
        if plan is None:
            maha, workspace = self.e_step(Xc, means_c, prec_chol)
            return fold(maha, constant), workspace
        coefficients, offsets = plan
        log_rho, workspace = packed_products(Xc, -0.5 * coefficients, centre)  # (n, K), column-major
        log_rho += (np.asarray(constant, dtype=np.float64) - 0.5 * offsets).astype(Xc.dtype, copy=False)
        return log_rho, workspace

    def _plan(self, dtype, means_c, prec_chol, per_point=True):
        """``packed_plan``, remembered for the last parameters: every chunk of a pass asks it
        with the same factors."""
        last = self._last_plan
        if (last is not None and last[0] is prec_chol and last[1] == (np.dtype(dtype), per_point)
                and np.array_equal(last[2], means_c)):
            return last[3]
        plan = packed_plan(dtype, means_c, prec_chol, per_point)
        self._last_plan = (prec_chol, (np.dtype(dtype), per_point), np.array(means_c), plan)
        return plan

    def mahalanobis(self, Xc, means_c, prec_chol):
        return self.e_step(Xc, means_c, prec_chol)[0]

    def log_det_half(self, prec_chol, n_features):
        # ln |Lambda_k|^(1/2) = sum_d ln P_k,dd
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)

    def moments(self, X, wresp, shift, whitened=None, prec_chol=None):
        """first_k and scatter_k about c_k = shift[k]. With the packed workspace of ``e_step``:
        one product of its pair products with the responsibilities, referred from g to c_k.
        With ``whitened`` (from ``e_step``, taken about c_k with factors ``prec_chol``; consumed)
        the scatter is formed in whitened
        coordinates, M_k = sum_n wr_nk y_nk y_nk^T, and mapped back, P_k^{-T} M_k P_k^{-1}: the
        accumulation sees well-conditioned numbers (also in float32) and X is not read again."""
        if isinstance(whitened, PackedRows):
            sparse = sparse_moments(X, wresp, shift)  # the rows that carry weight, where they are few
            return whitened.moments(wresp, shift) if sparse is None else sparse
        if whitened is not None:
            return self._whitened_moments(wresp, whitened, prec_chol)
        K, D = shift.shape
        first = np.empty((K, D))
        scatter = np.empty((K, D, D))
        for k, z, w in per_component_moments(X, wresp, shift):
            first[k] = w @ z
            zs = z * np.sqrt(w)[:, None]
            scatter[k] = zs.T @ zs  # A^T A: numpy hands this to SYRK, half the FLOPs of GEMM
        return first, scatter

    @staticmethod
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
        factor_t = np.swapaxes(np.asarray(prec_chol, dtype=np.float64), 1, 2)  # P_k^T
        # x - c_k = y P_k^{-1}: first_k = t_k P_k^{-1} = (P_k^{-T} t_k^T)^T and the scatter is
        # P_k^{-T} M_k P_k^{-1}, by solves against P_k^T (any invertible factor; no inverse formed)
        first = np.linalg.solve(factor_t, first_w[:, :, None])[:, :, 0]
        half = np.linalg.solve(factor_t, scatter_w)  # P^{-T} M
        return first, np.swapaxes(np.linalg.solve(factor_t, np.swapaxes(half, 1, 2)), 1, 2)

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


class TiedCovariance:
    """One covariance shared by every component: Sigma (D, D)."""

    name = "tied"
    chunk_bytes = 8 * 2**20  # the working set a chunk's rows are sized to (see FullCovariance)

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

    def moments(self, X, wresp, shift, whitened=None, prec_chol=None):
        _, delta, mass, s1, Xr, w64 = reference_moments(X, wresp, shift)
        xs = np.multiply(Xr, np.sqrt(w64.sum(axis=1))[:, None], out=Xr)  # sqrt(sum_k wr_nk) (x_n - ref)
        # sum_k sum_n wr_nk (x_n - c_k)(x_n - c_k)^T with x - c_k = (x - ref) - delta_k
        cross = s1.T @ delta  # sum_k s1_k delta_k^T
        scatter = xs.T @ xs - cross - cross.T + (delta * mass[:, None]).T @ delta
        return s1 - mass[:, None] * delta, scatter

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


class DiagCovariance:
    """A diagonal covariance per component: variances (K, D)."""

    name = "diag"
    chunk_bytes = 8 * 2**20  # the working set a chunk's rows are sized to (see FullCovariance)

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
        """constant_k - sum_d lambda_kd (x_d - mu_kd)^2 / 2: for float64 one product of
        [(x - g)^2, x - g] with [-lambda_k / 2; mu_k lambda_k] plus the constants, the features
        kept for ``moments``; otherwise the distances, folded."""
        if Xc.dtype != np.float64:
            return fold(self.mahalanobis(Xc, means_c, prec_chol), constant), None
        precision = prec_chol**2  # (K, D)
        coefficients = np.concatenate([-0.5 * precision.T, (means_c * precision).T])  # (2D, K)
        features = row_features(Xc, Xc.shape[1])
        np.multiply(Xc, Xc, out=features[:, :Xc.shape[1]])
        log_rho = (coefficients.T @ features.T).T  # (n, K), column-major, as the packed form's
        log_rho += constant - 0.5 * (means_c**2 * precision).sum(axis=1)
        return log_rho, RowFeatures(features, np.asarray(centre, dtype=np.float64), per_dimension=True)

    def moments(self, X, wresp, shift, whitened=None, prec_chol=None):
        if whitened is not None:  # the features of ``log_kernel``
            return whitened.moments(wresp, shift)
        _, delta, mass, s1, Xr, w64 = reference_moments(X, wresp, shift)
        squares = np.multiply(Xr, Xr, out=scratch("squares", Xr.shape, Xr.dtype))
        s2 = w64.T @ squares  # (K, D) sum_n wr_nk (x_nd - ref_d)^2
        # (x - c_k)^2 = (x - ref)^2 - 2 delta_k (x - ref) + delta_k^2, summed with weights wr_nk
        return s1 - mass[:, None] * delta, s2 - 2 * delta * s1 + mass[:, None] * delta**2

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

    def check_precisions(self, precisions, n_components, n_features):
        return np.sqrt(check_positive_precisions(precisions, self.name, self.shape(n_components, n_features)))


class SphericalCovariance:
    """One variance per component: sigma_k^2 (K,)."""

    name = "spherical"
    chunk_bytes = 8 * 2**20  # the working set a chunk's rows are sized to (see FullCovariance)

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
        """constant_k - lambda_k |x_n - mu_k|^2 / 2: for float64 one product of [|x - g|^2, x - g]
        with [-lambda_k / 2; mu_k lambda_k] plus the constants, the features kept for ``moments``;
        otherwise the distances, folded."""
        if Xc.dtype != np.float64:
            return fold(self.mahalanobis(Xc, means_c, prec_chol), constant), None
        precision = prec_chol**2  # (K,)
        coefficients = np.concatenate([-0.5 * precision[None, :], (means_c * precision[:, None]).T])  # (1 + D, K)
        features = row_features(Xc, 1)
        np.einsum("nd,nd->n", Xc, Xc, out=features[:, 0])
        log_rho = (coefficients.T @ features.T).T  # (n, K), column-major, as the packed form's
        log_rho += constant - 0.5 * (means_c**2).sum(axis=1) * precision
        return log_rho, RowFeatures(features, np.asarray(centre, dtype=np.float64), per_dimension=False)

    def moments(self, X, wresp, shift, whitened=None, prec_chol=None):
        if whitened is not None:  # the features of ``log_kernel``
            return whitened.moments(wresp, shift)
        _, delta, mass, s1, Xr, w64 = reference_moments(X, wresp, shift)
        s2 = w64.T @ (Xr * Xr).sum(axis=1)  # (K,) sum_n wr_nk |x_n - ref|^2
        return s1 - mass[:, None] * delta, s2 - 2 * (delta * s1).sum(axis=1) + mass * (delta**2).sum(axis=1)

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

    def check_precisions(self, precisions, n_components, n_features):
        return np.sqrt(check_positive_precisions(precisions, self.name, self.shape(n_components, n_features)))


_STRATEGIES = {
    "full": FullCovariance,
    "tied": TiedCovariance,
    "diag": DiagCovariance,
    "spherical": SphericalCovariance,
}
COVARIANCE_TYPES = tuple(_STRATEGIES)


def make_covariance(name: str):
    """The covariance strategy for ``name``: the only place a covariance-type string is read."""
    try:
        return _STRATEGIES[name]()
    except (KeyError, TypeError):
        raise ValueError(f"covariance_type={name!r} is not one of {list(COVARIANCE_TYPES)}") from None
