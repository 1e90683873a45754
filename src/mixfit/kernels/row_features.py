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
the data's dtype.

The moments' rounding: about g, the sums that the second product forms are larger than the
scatter about the new mean that the M-step keeps, and the referral cancels the difference. For
component k and dimension d (sigma^2 the E-step's variance, delta = mu_k - g, N_k the mass):
the sum of the terms' magnitudes is at most S + 2 |delta| sqrt(N_k S) (Cauchy-Schwarz on the
first moment's terms), S = sum_n r_nk (x_d - g_d)^2 ~ N_k a^2 with a^2 = sigma^2 + delta^2,
against the kept scatter N_k sigma^2. Their ratio

    R_kd = a (a + 2 |delta|) / sigma^2       (spherical: sigma^2 -> D sigma_k^2, delta^2 -> |delta|^2)

bounds the rounding of a float32 sum relative to the scatter kept: about u32 R_kd, u32 = 2^-24
(a dot product's rounding relative to the sum of its terms' magnitudes, in the probabilistic
analysis of Higham and Mary, 2019, grows as sqrt(m) u for m terms; measured on the benchmark
mixtures, a whole pass's variances deviate from the float64 sums' by at most 2 u32 R_kd, with
the products over at most FLOAT32_PRODUCT_ROWS rows added in float64, as ``expanded``'s). The
guard: a float32 chunk sums the moments of component k in float32 where max_d R_kd <=
FLOAT32_MOMENT_LIMIT = 2^10 (14 bits of the variance kept by the estimate; the benchmark
mixtures, components 4 units apart at unit variance in 32 to 64 dimensions, have R <= 730), and
in float64 otherwise: a component far from g in its own standard deviations, or collapsing onto
a point (sigma^2 falling towards the floor reg_covar, which the variance includes), takes the
float64 sums, which round relative to eps64 R. float32 rows give those float64 features from the
E-step's float32 rows x - g (rounded at most by half an ulp of |x - g|: a perturbation of the
data that every moment carries alike, so the algebra stays exact for it) with the squares formed
exactly in float64. The guard reads the parameters the E-step runs under: a component that
collapses within one iteration has that iteration's moments summed in float32 (rounded relative
to its previous variance), the next ones in float64.
"""

from __future__ import annotations

import numpy as np

from .linalg import column_sum
from .scratch import scratch
from .sparse_moments import FLOAT32_PRODUCT_ROWS

FLOAT32_MOMENT_LIMIT = 2.0**10  # the largest R_kd whose moments a float32 chunk sums in float32


def narrow_components(means_c, variance) -> np.ndarray:
    """(K,) bool: the components whose float32 moment sums keep the scatter, max_d R_kd <=
    FLOAT32_MOMENT_LIMIT (see above); ``means_c`` (K, D) mu_k - g, ``variance`` (K, D) per
    dimension or (K,) one per component (spherical)."""
    means_c = np.asarray(means_c, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    if variance.ndim == 1:  # spherical: the squares summed over the D dimensions
        spread = np.sqrt((means_c**2).sum(axis=1))  # |delta_k|
        kept = means_c.shape[1] * variance  # D sigma_k^2
    else:
        spread, kept = np.abs(means_c), variance
    a = np.sqrt(kept + spread**2)
    ratio = a * (a + 2 * spread) / kept  # R_kd
    worst = ratio.max(axis=1) if ratio.ndim == 2 else ratio
    return worst <= FLOAT32_MOMENT_LIMIT  # False where NaN (a variance of 0)


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
    """The diag / spherical E-step workspace: the features of ``row_features`` (n, m + D + 1),
    the centre g, and for float32 features the components whose moments may be summed in
    float32 (``narrow_components``; None: all in float64)."""

    def __init__(self, features, centre, per_dimension: bool, narrow=None):
        self.features = features
        self.centre = np.asarray(centre, dtype=np.float64)
        self.per_dimension = per_dimension
        self.narrow = narrow

    def moments(self, wresp, shift):
        """first_k and the scatter about c_k (per dimension or summed), float64."""
        features = self.features[:, :-1]  # (n, m + D): the constant column is not needed here
        delta = np.asarray(shift, dtype=np.float64) - self.centre  # c_k - g
        mass = column_sum(wresp)  # N_k
        if features.dtype == np.float64:
            return self._refer(wresp.T @ features, mass, delta)  # (K, m + D)
        narrow = np.zeros(wresp.shape[1], dtype=bool) if self.narrow is None else self.narrow
        if narrow.all():
            return self._refer(float32_sums(wresp, features), mass, delta)
        wide = self._wide(features)
        if not narrow.any():
            return self._refer(np.asarray(wresp, dtype=np.float64).T @ wide, mass, delta)
        sums = np.empty((wresp.shape[1], features.shape[1]))  # (K, m + D)
        sums[narrow] = float32_sums(wresp[:, narrow], features)
        sums[~narrow] = np.asarray(wresp[:, ~narrow], dtype=np.float64).T @ wide
        return self._refer(sums, mass, delta)

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


def float32_sums(wresp, features) -> np.ndarray:
    """wresp^T @ features (K, L) from float32 products over at most FLOAT32_PRODUCT_ROWS rows
    each, added in float64."""
    n = features.shape[0]
    sums = np.asarray(wresp[:FLOAT32_PRODUCT_ROWS].T @ features[:FLOAT32_PRODUCT_ROWS], dtype=np.float64)
    for start in range(FLOAT32_PRODUCT_ROWS, n, FLOAT32_PRODUCT_ROWS):
        stop = start + FLOAT32_PRODUCT_ROWS
        sums += wresp[start:stop].T @ features[start:stop]
    return sums
