"""Moments of a full-covariance chunk from the (row, component) pairs that carry weight: one
rank update per component over its own rows, where a row belongs to one or a few components
(the dense moment product of ``expanded`` otherwise). The derivation: docs/math/em.md.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .linalg import FLOAT32_PRODUCT_ROWS, row_sum
from .scratch import scratch

# ---- moments from the rows that carry weight (full covariance) ------------------------------
#
# After a few iterations most responsibilities of a mixture with more than a few components are
# negligible: a row belongs to one component, or to the few that overlap where it lies. A
# responsibility r_nk <= NEGLIGIBLE_RESPONSIBILITY (2^-64, ln r < -44) adds at most that share of
# the row's weight to component k's sums: over a whole data set, below float64's rounding of
# those sums (and the row's moments are tempered by the same exponential, so a far row cannot
# make up for it). Leaving those terms out turns the dense moment product, 2 n K (M + D)
# FLOPs, into one rank-n_k update per component over its own rows, 2 D^2 sum_k n_k: about K
# times less work where rows belong to one component. Above SPARSE_SHARE of the (row,
# component) pairs the dense product is the faster one, and is used.
NEGLIGIBLE_RESPONSIBILITY = 2.0**-64
SPARSE_SHARE = 0.25


def sparse_moments(X, wresp, shift):
    """first_k and scatter_k about c_k = shift[k] (float64) from the rows whose responsibility
    for k is above NEGLIGIBLE_RESPONSIBILITY, from the rows as given (no centring rounding); or
    None where more than SPARSE_SHARE of the (row, component) pairs count, for the dense
    product. float32 rows are worked in float32 about c_k (which a float32 fit's shifts are
    exactly), their products over at most FLOAT32_PRODUCT_ROWS rows added in float64; other
    rows in float64. The mass N_k is not computed here: the caller sums every responsibility."""
    kept = _kept_pairs(wresp)
    if kept is None:
        return None
    flat, component, rows = kept
    D = X.shape[1]
    shift = np.asarray(shift, dtype=np.float64)
    work = np.dtype(np.float32) if X.dtype == np.float32 and np.array_equal(
        shift.astype(np.float32), shift) else np.dtype(np.float64)
    gathered = np.take(X, rows, axis=0, out=scratch("sparse_rows", (flat.shape[0], D), X.dtype), mode="clip")
    aug = _augmented(flat, D, work)
    shift = shift.astype(work)
    K = shift.shape[0]
    if K <= _GROUP_LOOP_MAX:
        # x_n - c_k over each component's consecutive pairs: the same subtraction as below,
        # without gathering a (P, D) array of shifts; at 10 082 rows and D = 16 that array is
        # more than a megabyte a thread, and one pass fewer over it
        ends = np.searchsorted(flat, np.arange(1, K + 1) * X.shape[0]).tolist()
        for k, (low, high) in enumerate(zip([0, *ends[:-1]], ends)):
            np.subtract(gathered[low:high], shift[k], out=aug[low:high, :D], casting="same_kind")
    else:
        shifts = np.take(shift, component, axis=0, out=scratch("sparse_shifts", (flat.shape[0], D), work),
                         mode="clip")
        np.subtract(gathered, shifts, out=aug[:, :D], casting="same_kind")  # x_n - c_k
    return _rank_updates(aug, wresp, flat)


# Components up to which ``sparse_moments`` subtracts each component's shift from its own pairs,
# one call a component (~1 us each), instead of gathering the shifts row by row.
_GROUP_LOOP_MAX = 64


def sparse_diagonal_moments(X, wresp, shift, weight, per_dimension: bool):
    """first_k (K, D) and the scatter about c_k = shift[k], per dimension (K, D) or summed (K,),
    float64, from the rows whose responsibility for k is above NEGLIGIBLE_RESPONSIBILITY times
    the row's ``weight`` w_n (n,), from the rows as given, in float64; or None where more than
    SPARSE_SHARE of the (row, component) pairs count. For the diag and spherical float32
    chunks' components that float32 sums would not keep (``row_features``)."""
    n, K = wresp.shape
    floor = (NEGLIGIBLE_RESPONSIBILITY * np.asarray(weight, dtype=np.float64)).astype(wresp.dtype)  # (n,)
    flat = np.flatnonzero(wresp.T > floor)  # (P,) the kept pairs, grouped by component
    if flat.shape[0] > SPARSE_SHARE * n * K:
        return None
    component, rows = np.divmod(flat, n)
    D = X.shape[1]
    width = D if per_dimension else 1
    terms = np.empty((flat.shape[0], D + width))  # (P, D + width): [w r z, w r z^2] per pair
    z = np.subtract(X[rows], shift[component], dtype=np.float64)  # (P, D) x_n - c_k
    np.multiply(z, wresp.T.ravel()[flat][:, None] if wresp.flags.f_contiguous else
                wresp[rows, component][:, None], out=terms[:, :D])  # w_n r_nk (x_n - c_k)
    if per_dimension:
        np.multiply(terms[:, :D], z, out=terms[:, D:])
    else:
        np.einsum("pd,pd->p", terms[:, :D], z, out=terms[:, D])
    # Each component's pairs are consecutive: their sums are one product with the (K, P) matrix
    # whose row k holds ones at component k's pairs (a sparse product: numpy's reduceat over
    # the groups cost 6x as much, a microsecond per group, at (1222 rows, 512 components)).
    groups = sparse.csr_array((np.ones(flat.shape[0]), np.arange(flat.shape[0]),
                               np.searchsorted(flat, np.arange(K + 1) * n)), shape=(K, flat.shape[0]))
    sums = groups @ terms  # (K, D + width)
    return sums[:, :D], (sums[:, D:] if per_dimension else sums[:, D])


def sparse_whitened_moments(y, wresp):
    """sum_n wr_nk y_nk and sum_n wr_nk y_nk y_nk^T (K, D), (K, D, D), float64, over the pairs
    whose responsibility is above NEGLIGIBLE_RESPONSIBILITY, from the whitened residuals
    y (n, K, D), worked in y's precision as ``sparse_moments``; or None, as it."""
    kept = _kept_pairs(wresp)
    if kept is None:
        return None
    flat, component, rows = kept
    n, K, D = y.shape
    aug = _augmented(flat, D, np.float32 if y.dtype == np.float32 else np.float64)
    np.take(y.reshape(n * K, D), rows * K + component, axis=0, out=aug[:, :D], mode="clip")  # y_nk
    return _rank_updates(aug, wresp, flat)


def _kept_pairs(wresp):
    """The (component, row) pairs with r_nk above the floor, grouped by component, as flat
    positions in the (K, n) layout, components and rows; None above SPARSE_SHARE of them."""
    n, K = wresp.shape
    weight = row_sum(wresp)  # (n,) w_n: the responsibilities of a row sum to one
    keep = wresp.T > NEGLIGIBLE_RESPONSIBILITY * weight  # (K, n): r_nk above the floor
    flat = np.flatnonzero(keep)  # (P,) grouped by component, rows in order within each
    if flat.shape[0] > SPARSE_SHARE * n * K:
        return None
    component, rows = np.divmod(flat, n)
    return flat, component, rows


def _augmented(flat, D, dtype):
    """This thread's (P, D + 1) buffer for [z_nk, 1] rows."""
    return scratch("sparse_augmented", (flat.shape[0], D + 1), dtype)


# Above this padding (the stacked groups' rows over the kept pairs) the per-component loop is
# used instead of the stacked product: with K components of a few rows each in a chunk, the
# loop's K small products cost ~7 us each of call overhead (at (1e5, 32, 128) full, 0.2 s of a
# 0.9 s iteration on one core), the stacked product one call.
_MOST_PADDING = 4


def _rank_updates(aug, wresp, flat):
    """Given aug = [z_nk, .] (P, D + 1) for the kept pairs: scale each row by sqrt(wr_nk), set
    the last column to it, and return sum_n wr_nk z_nk (K, D) and sum_n wr_nk z_nk z_nk^T
    (K, D, D) in float64, one rank update per component (its last column gives the first
    moment); in float32, over at most FLOAT32_PRODUCT_ROWS rows per product. Where every
    component's rows fit one product and padding them to the largest group costs little, the
    K updates are one stacked product of the zero-padded groups (K, G, D + 1)."""
    n, K = wresp.shape
    D = aug.shape[1] - 1
    aug[:, D] = 1.0
    aug *= np.sqrt(np.take(wresp.T, flat).astype(aug.dtype, copy=False))[:, None]
    ends = np.searchsorted(flat, np.arange(1, K + 1) * n)  # (K,) where each component's pairs end
    starts = np.concatenate([[0], ends[:-1]])
    most = FLOAT32_PRODUCT_ROWS if aug.dtype == np.float32 else max(flat.shape[0], 1)
    group = int((ends - starts).max(initial=0))
    if 0 < group <= most and K * group <= _MOST_PADDING * flat.shape[0]:
        stacked = np.zeros((K, group, D + 1), dtype=aug.dtype)  # each group's rows, zero rows after
        component = np.repeat(np.arange(K), ends - starts)
        stacked[component, np.arange(flat.shape[0]) - starts[component]] = aug
        products = np.matmul(stacked.transpose(0, 2, 1), stacked).astype(np.float64, copy=False)
    else:
        products = np.zeros((K, D + 1, D + 1))
        for k in range(K):
            for low in range(starts[k], ends[k], most):
                block = aug[low:min(low + most, ends[k])]
                products[k] += block.T @ block  # A^T A: numpy hands this to SYRK
    return products[:, :D, D].copy(), np.ascontiguousarray(products[:, :D, :D])


rank_updates = _rank_updates  # the moments of given completed rows (models/missing.py)
