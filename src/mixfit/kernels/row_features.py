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
scatter about each component's mean that the M-step keeps, and the referral cancels the
difference. For component k and dimension d in one chunk (N the chunk's mass of k, S = sum_n
r_nk (x_d - g_d)^2, s1 = sum_n r_nk (x_d - g_d), delta = c_k - g): the referral's terms have
magnitudes summing to at most S + 2 |delta| sqrt(N S) <= 2 S + N delta^2 (Cauchy-Schwarz, then
2ab <= a^2 + b^2), against the chunk's own scatter about the component's weighted mean, W = S -
s1^2 / N. float64 sums round by eps64 times the former, harmless. float32 sums (the product in
float32 over at most FLOAT32_PRODUCT_ROWS rows, added in float64) round by about u32 = 2^-24
times it (a dot product's rounding relative to its terms' magnitudes; the probabilistic bound
of Higham and Mary, 2019, grows as sqrt(m) u32 for m terms); for a component far from g in its
own standard deviations, or collapsing onto a point, that decides the variance. The guard keeps
the float32 sums of component k where

    u32 (2 S + N delta^2) <= FLOAT32_MOMENT_TOLERANCE W  (= 2^-14 W, every d; spherical: summed over d)

and recomputes the others in float64 from the rows as given, about c_k, over the rows whose
responsibility is above 2^-64 of their weight (``sparse_moments.sparse_diagonal_moments``; the
dense float64 product of the features where those are many). Where it is checked:

- In a pass of the fitting loop (``float32_pass.settled_sum``), once, on the pass's sums: the
  chunks' bounds add up to the pass's (delta is the same in every chunk), and the pass's W is
  what the M-step keeps. The components whose parameters predict a ratio above half the
  tolerance (``float32_pass.predicted_unkept``, the pass's scatter taken as N_k sigma_k^2) are
  summed in float64 in every chunk; a component the check fails even so (its scatter fell by
  half or more within the iteration: a collapse) takes a second pass's float64 sums.
- Elsewhere (a chunk's moments computed alone: online EM, the collapse diagnosis), on the
  chunk's own sums: the chunks' scatters about their own means add up to at most the pass's
  (the parallel-axis theorem), so this is the stricter check, and at large K it sends most
  components to float64 (a component with one row in a chunk has no scatter of its own there),
  about one pair per row.

Either way the kept float32 sums round the scatter the M-step keeps by at most 2^-14 of it, by
this estimate, whatever the parameters (docs/performance.md, "float32 moments": why 2^-14).

float32 rows give the float64 features of the dense fallback from the E-step's float32 rows
x - g (rounded at most by half an ulp of |x - g|: a perturbation of the data that every moment
carries alike) with the squares formed exactly in float64.
"""

from __future__ import annotations

import functools
import weakref

import numpy as np

from . import float32_pass
from .diag_fused import _COMPILED_MIN_ROWS, moment_sums
from .float32_pass import FLOAT32_MOMENT_TOLERANCE, unkept_components  # noqa: F401 (the guard's home)
from .linalg import FLOAT32_PRODUCT_ROWS, column_sum, row_sum
from .numba_switch import NUMBA as COMPILED
from .scratch import scratch
from .sparse_moments import sparse_diagonal_moments

# The coefficients of the last parameters asked for, per family and dtype:
# every chunk of a pass asks with the same parameters, and at large K with small chunks the
# rebuild (strided transposes of (K, D) arrays) cost more than the chunk's product itself:
# measured at (2e5, 60, 2048) float32, 331-row chunks, 5800 us against the product's 2100 us. A
# memo of a pure function, as ``expanded.remembered_plan``'s: a hit is the same arrays (held
# weakly) or arrays of equal values; each entry is replaced whole, so a thread reads an old or a
# new entry, never a mix of both.
_REMEMBERED: dict = {}
# (K, D) entries from which the diag referral (``RowFeatures._refer``) runs as one compiled pass
# where numba is used: eight numpy passes over (K, D) arrays, ~3 ms of a (256, 60, 2048) chunk's
# ~28 ms under cProfile; below it (small K) numpy's passes cost microseconds and a small fit does
# not import numba for them.
_COMPILED_MIN_ENTRIES = 2**12
# ... or from diag_fused's row count on (its compiled loops formed the features: numba is loaded
# already): at (7281, 32, 16) the numpy passes take ~10 us of a chunk's time holding the GIL,
# against ~2 us for the compiled pass
# Components from which the E product of a float64 chunk runs as ``diag_fused_compiled.
# log_kernel_into`` where numba is used: each row's K sums in vector registers, PRODUCT_LANES
# components a group, with no packing of the (n, L) features. Measured on one thread (an AVX-512
# host, 8 rows a block; numpy's OpenBLAS runs its AVX2 'Haswell' kernels), p25 of 100-400 calls:
# (7281 x 65) @ (65 x 16) 132 us against 347 us; (65 x 12) 130 against 324; (7281 x 129) @
# (129 x 32) 570 against 1231; (611 x 121) @ (121 x 512) 643 against 1284. With 4 rows a block
# and the sums copied through a buffer (the first version): 166 us at K = 16, 151 against 208 at
# K = 8, and (7281 x 17) @ (17 x 5) 61 against 49 us: below 8 components most of a group's lanes
# are wasted. The sums are BLAS's to the bit at K = 6, 8, 12, 16, 32, 64, 512, 2048 (OpenBLAS
# adds the inner dimension in order with fused multiply-adds, where it fits one panel); at K = 7
# and 9 (its edge kernels) they differ in the last bits (2e-14 on entries of ~1e2).
_COMPILED_MIN_COMPONENTS = 8
# float32, 32 lanes a group (the same registers): one thread, p25 of 200 calls, against numpy's
# OpenBLAS sgemm: (611 x 121) @ (121 x 512) 321 us against 609; (256 x 121) @ (121 x 2048) 590
# against 1027; (7281 x 65) @ (65 x 16) 122 against 168; (2048 x 65) @ (65 x 8) 34 against 32
# (three lanes in four idle). The sums are not sgemm's to the bit (its kernels split the inner
# dimension here): each differs by float32 rounding (largest 4.7e-7 of the largest entry).
_FLOAT32_MIN_COMPONENTS = 16
# ... and from this many entries of ln rho (n K): 1024 rows at K = 16, as diag_fused's loops; the
# large-K chunks too ((611, 60, 512) and (256, 60, 2048) diag, where the referral's compiled pass
# has loaded numba already); a small fit does not import numba for it.
_COMPILED_MIN_PRODUCT = 2**14


def remembered(key, build, *arrays):
    """build(*arrays), remembered for the last arrays given under ``key``."""
    last = _REMEMBERED.get(key)
    if last is not None and len(last[0]) == len(arrays) and all(
            ref() is a or (copy.dtype == a.dtype and np.array_equal(copy, a))
            for ref, copy, a in zip(last[0], last[1], arrays)):
        return last[2]
    value = build(*arrays)
    _REMEMBERED[key] = (tuple(weakref.ref(a) for a in arrays), tuple(np.array(a) for a in arrays), value)
    return value


def row_features(Xc: np.ndarray, width: int) -> np.ndarray:
    """This thread's (n, width + D + 1) feature buffer in Xc's dtype: ``width`` columns left for
    the squares, x - g in the next D, 1 in the last."""
    n, D = Xc.shape
    features = scratch("row_features", (n, width + D + 1), Xc.dtype)
    features[:, width:width + D] = Xc
    features[:, -1] = 1
    return features


def compiled_product(n: int, K: int, dtype) -> bool:
    """Whether the E product of n rows and K components in ``dtype`` runs as the compiled loop
    (see _COMPILED_MIN_COMPONENTS): where the host does vector fused multiply-adds itself."""
    if dtype == np.float64:
        fewest = _COMPILED_MIN_COMPONENTS
    elif dtype == np.float32:
        fewest = _FLOAT32_MIN_COMPONENTS
    else:
        return False
    return COMPILED and n * K >= _COMPILED_MIN_PRODUCT and K >= fewest and _native_fma()


@functools.cache
def _native_fma() -> bool:
    """``diag_fused_compiled.NATIVE_FMA``, asked once (the import loads numba)."""
    from .diag_fused_compiled import NATIVE_FMA  # optional: numba

    return NATIVE_FMA


def log_kernel_product(features: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """features @ coefficients (n, K), column-major (each component's column contiguous, as the
    packed form's), in the features' dtype. float64 and float32 chunks of many entries, where
    numba is used: ``diag_fused_compiled.log_kernel_into``, each entry's terms in BLAS's order
    (see _COMPILED_MIN_COMPONENTS)."""
    n, K = features.shape[0], coefficients.shape[1]
    coefficients = coefficients.astype(features.dtype, copy=False)
    if compiled_product(n, K, features.dtype) and features.flags.c_contiguous:
        from .diag_fused_compiled import log_kernel_into  # optional: numba

        out = np.empty((K, n), dtype=features.dtype)
        log_kernel_into(features, remembered("grouped_coefficients", _grouped, coefficients), out)
        return out.T
    return (coefficients.T @ features.T).T


def centred_log_kernel(X: np.ndarray, centre: np.ndarray, coefficients: np.ndarray):
    """(ln rho (n, K), the features [(x - g)^2, x - g, 1] (n, 2D + 1)) of the float64 rows X as
    given, C-contiguous, where ``compiled_product`` holds, in one pass
    (``diag_fused_compiled.centred_log_kernel_into``): the numbers of ``centred_row_features``
    then ``log_kernel_product``; None where X has a NaN entry."""
    n, D = X.shape
    from .diag_fused_compiled import centred_log_kernel_into  # optional: numba

    features = scratch("row_features", (n, 2 * D + 1), np.float64)
    out = np.empty((coefficients.shape[1], n))
    grouped = remembered("grouped_coefficients", _grouped, coefficients)
    if centred_log_kernel_into(X, np.ascontiguousarray(centre, dtype=np.float64), features, grouped, out):
        return None
    return out.T, features


def _grouped(coefficients):
    """The coefficients (L, K) as groups of PRODUCT_LANES components (G, L, PRODUCT_LANES) in
    their dtype (FLOAT32_PRODUCT_LANES for float32), the last group's unused columns 0."""
    from .diag_fused_compiled import FLOAT32_PRODUCT_LANES, PRODUCT_LANES  # optional: numba

    lanes = FLOAT32_PRODUCT_LANES if coefficients.dtype == np.float32 else PRODUCT_LANES
    L, K = coefficients.shape
    groups = -(-K // lanes)
    grouped = np.zeros((groups, L, lanes), dtype=coefficients.dtype)
    for g in range(groups):
        part = coefficients[:, g * lanes:(g + 1) * lanes]
        grouped[g, :, :part.shape[1]] = part
    return grouped


class RowFeatures:
    """The diag / spherical E-step workspace: the features of ``row_features`` (n, m + D + 1)
    and the centre g."""

    def __init__(self, features, centre, per_dimension: bool, predicted=None):
        self.features = features
        self.centre = np.asarray(centre, dtype=np.float64)
        self.per_dimension = per_dimension
        # float32: the components the parameters predict a pass's check would not keep
        # (``float32_pass.predicted_unkept``), summed in float64 inside ``settled_sum``
        self.predicted = predicted
        self._mass = None  # (wresp, its column sums): the last ``moments``' (see ``mass_of``)

    def mass_of(self, wresp):
        """column_sum(wresp), as the last ``moments`` formed it for this same array (a copy of
        it), else None: the chunk's statistics need the masses too, and at K = 16 a second
        column sum is 27 us of a chunk's ~1100 us."""
        last = self._mass
        return last[1].copy() if last is not None and last[0] is wresp else None

    def moments(self, wresp, shift, X=None):
        """first_k and the scatter about c_k (per dimension or summed), float64. float32
        features: summed in float32 (``float32_sums``); the components the rounding bound does
        not keep (``float32_pass.unkept_components``: on this chunk's sums, or, inside
        ``float32_pass.settled_sum``, on the pass's) recomputed in float64 from the chunk's rows
        ``X``: from the rows that carry their weight (``sparse_moments.sparse_diagonal_moments``),
        or from the features in float64 where those are many."""
        features = self.features[:, :-1]  # (n, m + D): the constant column is not needed here
        shift, delta = remembered("row_features_delta", _delta, np.asarray(shift), self.centre)  # c_k, c_k - g
        mass = column_sum(wresp)  # N_k
        self._mass = (wresp, mass)
        if features.dtype == np.float64:  # (K, m + D), from the pairs that carry weight where few
            return self._refer(moment_sums(wresp, self.features, features.shape[1], mass), mass, delta)[:2]
        sums = float32_sums(wresp, features)
        first, scatter, mass_delta2 = self._refer(sums, mass, delta)
        mode = float32_pass.mode()
        if isinstance(mode, float32_pass.PassSums):  # the guard is the pass's: collect the sums
            unkept = np.zeros(sums.shape[0], dtype=bool) if self.predicted is None else self.predicted
            mode.add(sums, mass, delta, self.per_dimension, unkept)
        elif mode is None:  # this chunk's own guard
            unkept = unkept_components(sums, mass, mass_delta2, delta, self.per_dimension)
        else:  # a second pass: the components the first one's check sent back
            unkept = mode.unkept
        if not unkept.any():
            return first, scatter
        some = wresp[:, unkept]  # (n, U)
        exact = None if X is None else sparse_diagonal_moments(X, some, shift[unkept], row_sum(wresp),
                                                                 self.per_dimension)
        if exact is None:  # many rows carry these components' weight: their float64 product
            exact = self._refer(np.asarray(some, dtype=np.float64).T @ self._wide(features), mass[unkept],
                                delta[unkept])[:2]
        first[unkept], scatter[unkept] = exact
        return first, scatter

    def _refer(self, sums, mass, delta):
        """first_k and the scatter about c_k from the sums about g, by exact algebra, and N_k
        delta_k^2 (per dimension, or summed); a few passes over (K, D), written in place."""
        K, D = delta.shape
        if self.per_dimension and COMPILED and (K * D >= _COMPILED_MIN_ENTRIES
                                                or self.features.shape[0] >= _COMPILED_MIN_ROWS):
            from .diag_fused_compiled import refer_into  # optional: numba

            first, scatter = np.empty((K, D)), np.empty((K, D))
            mass_delta2 = scratch("mass_delta2", delta.shape, np.float64)
            refer_into(sums, mass, delta, first, scatter, mass_delta2)
            return first, scatter, mass_delta2
        second, s1 = sums[:, :-D], sums[:, -D:]  # sum_n wr_nk (x_n - g)^2 (per dimension or summed), (x_n - g)
        first = np.multiply(delta, mass[:, None])
        np.subtract(s1, first, out=first)  # s1 - N delta
        if not self.per_dimension:
            mass_delta2 = mass * np.einsum("kd,kd->k", delta, delta)
            return first, second[:, 0] - 2 * np.einsum("kd,kd->k", delta, s1) + mass_delta2, mass_delta2
        scatter = np.multiply(delta, s1)
        scatter *= -2
        scatter += second  # S - 2 delta s1
        mass_delta2 = np.multiply(delta, delta, out=scratch("mass_delta2", delta.shape, np.float64))
        mass_delta2 *= mass[:, None]
        scatter += mass_delta2  # + N delta^2
        return first, scatter, mass_delta2

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


def _delta(shift, centre):
    """The shifts c_k in float64 and c_k - g (K, D)."""
    shift = np.asarray(shift, dtype=np.float64)
    return shift, shift - centre


def float32_sums(wresp, features) -> np.ndarray:
    """wresp^T @ features (K, L) from float32 products over at most FLOAT32_PRODUCT_ROWS rows
    each, added in float64."""
    n = features.shape[0]
    sums = np.asarray(wresp[:FLOAT32_PRODUCT_ROWS].T @ features[:FLOAT32_PRODUCT_ROWS], dtype=np.float64)
    for start in range(FLOAT32_PRODUCT_ROWS, n, FLOAT32_PRODUCT_ROWS):
        stop = start + FLOAT32_PRODUCT_ROWS
        sums += wresp[start:stop].T @ features[start:stop]
    return sums
