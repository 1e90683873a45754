"""The diag and spherical E-step as one matrix product, and the moments as one more.

ln rho_nk = constant_k - sum_d lambda_kd (x_d - mu_kd)^2 / 2 is linear in the row features
f(x) = [(x - g)^2 per dimension, x - g, 1] (diag; [|x - g|^2, x - g, 1] for spherical, where
lambda_kd = lambda_k): with coefficients [-lambda_k / 2; mu_k lambda_k; constant_k - sum_d
lambda_kd mu_kd^2 / 2] (mu_k written about g), one (n, 2D + 1) @ (2D + 1, K) product gives every
component's ln rho, the constant included, so no (n, K) pass adds it. The same features, kept,
give the chunk's moments about g in one (K, n) @ (n, 2D) product with the responsibilities,
referred to the shifts c_k by exact algebra: (x - c)^2 = (x - g)^2 - 2 delta (x - g) + delta^2,
delta = c - g. At large K these two products are an iteration's work (4 n D K FLOPs each way
for diag), with one exponential per (row, component) (``linalg.normalize_log_rows``).

Rounding. The product's terms are of the size of lambda_kd (x_d - g_d)^2, not of the distance:
the same expansion as ``mahalanobis`` (and scikit-learn's diag kernel), in one dot product, in
the data's dtype. The moments are summed in float64 whatever the data: about g, the scatter
that the product sums is F_k = max_d lambda_kd (mu_kd - g_d)^2 times the scatter about c_k it
is referred to, and for a component collapsing onto a point the M-step cancels what remains, so
float32 sums (which round relative to the former) would decide the fitted variances. float32
rows give float64 features from the E-step's float32 rows x - g (rounded at most by half an
ulp of |x - g|, exact where x is within a factor 2 of g: a perturbation of the data that every
moment carries alike, so the algebra above stays exact for it) with the squares formed exactly
in float64: float32 data pay a float64 moment product and one conversion of the
responsibilities (a fast float32 sum would need per-chunk guards against the cancellation,
which at large K, with a few rows per component in a chunk, reject most components).
"""

from __future__ import annotations

import numpy as np

from .linalg import column_sum
from .scratch import scratch


def row_features(Xc: np.ndarray, width: int) -> np.ndarray:
    """This thread's (n, width + D + 1) feature buffer in Xc's dtype: ``width`` columns left for
    the squares, x - g in the next D, 1 in the last."""
    n, D = Xc.shape
    features = scratch("row_features", (n, width + D + 1), Xc.dtype)
    features[:, width:width + D] = Xc
    features[:, -1] = 1
    return features


def log_kernel_product(features: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """features @ coefficients (n, K), column-major (each component's column contiguous, as the
    packed form's), in the features' dtype."""
    return (coefficients.astype(features.dtype, copy=False).T @ features.T).T


class RowFeatures:
    """The diag / spherical E-step workspace: the features of ``row_features`` (n, m + D + 1)
    and the centre g."""

    def __init__(self, features, centre, per_dimension: bool):
        self.features = features
        self.centre = np.asarray(centre, dtype=np.float64)
        self.per_dimension = per_dimension

    def moments(self, wresp, shift):
        """first_k and the scatter about c_k (per dimension or summed), float64."""
        features = self.features[:, :-1]  # (n, m + D): the constant column is not needed here
        if features.dtype != np.float64:
            features = self._wide(features)
            wresp = np.asarray(wresp, dtype=np.float64)
        sums = wresp.T @ features  # (K, m + D)
        delta = np.asarray(shift, dtype=np.float64) - self.centre  # c_k - g
        return self._refer(sums, column_sum(wresp), delta)

    def _refer(self, sums, mass, delta):
        """first_k and the scatter about c_k from the sums about g, by exact algebra."""
        D = delta.shape[1]
        second, s1 = sums[:, :-D], sums[:, -D:]  # sum_n wr_nk (x_n - g)^2 (per dimension or summed), (x_n - g)
        first = s1 - mass[:, None] * delta
        if self.per_dimension:
            return first, second - 2 * delta * s1 + mass[:, None] * delta**2
        return first, second[:, 0] - 2 * (delta * s1).sum(axis=1) + mass * (delta**2).sum(axis=1)

    def _wide(self, features):
        """The features (n, m + D) in float64 from the float32 rows x - g (exact in float64)."""
        n, L = features.shape
        D = self.centre.shape[0]
        wide = scratch("row_features64", (n, L), np.float64)
        rows = wide[:, L - D:]
        np.copyto(rows, features[:, L - D:])
        if self.per_dimension:
            np.multiply(rows, rows, out=wide[:, :D])
        else:
            np.einsum("nd,nd->n", rows, rows, out=wide[:, 0])
        return wide
