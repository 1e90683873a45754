"""Quadratic forms expanded into matrix products: the E-step kernels whose terms are products of
the centred row's entries rather than whitened residuals.

Full covariance (float64; float32 within tighter limits): the packed form, linear in the
D(D+1)/2 pair products of the row (diag and spherical have theirs in ``row_features``), written
and consumed a block of rows at a time. Rebuilt the same way, they give the chunk's first and
second moments about the centre g in one more product, referred to the shifts c_k by exact
algebra; where few (row, component)
pairs carry weight, the moments come instead from those rows alone (``sparse_moments``). The
full family chooses between this and its whitened form; nothing here reads a covariance type. Derivation and rounding: docs/math/em.md, "The packed quadratic
form".
"""

from __future__ import annotations

import functools
import weakref

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .linalg import column_sum, covariance_from_precision_chol
from .numba_loading import compiled_loop
from .scratch import scratch
from .sparse_moments import FLOAT32_PRODUCT_ROWS

# ---- the packed quadratic form (full covariance) ----------------------------------------------
#
# (x - mu)^T Lambda (x - mu) = sum_{i<=j} c_ij x_i x_j - 2 (Lambda mu)^T x + mu^T Lambda mu, with
# c_ii = Lambda_ii and c_ij = 2 Lambda_ij: linear in the D(D+1)/2 pair products q(x) = (x_i x_j),
# i <= j (in ``pair_order``'s order), and in x. So one (n, M + D) @ (M + D, K) product gives
# every component's distance, and one (M + D, n) @ (n, K) product gives every component's second and first moments: 2 n D^2 K
# FLOPs per iteration in two large products, where whitening takes 3 n D^2 K (a (n, D) @ (D, K D)
# product and K rank-n updates of D x D, which run far below the BLAS's peak at D ~ 32).
#
# The price is rounding: the terms are of the size of |x - g|^T |Lambda_k| |x - g|, not of the
# distance itself. A dot product of L terms rounds by about u sqrt(L) times the sum of its terms'
# magnitudes (u the unit roundoff); for a row of component k that sum is about 4 B_k with
# B_k = |mu_k - g|^T |Lambda_k| |mu_k - g| + sum_ij |Lambda_k,ij| Sigma_k,ij (the second term is
# the expectation of |x - mu_k|^T |Lambda_k| |x - mu_k| under the component). So the packed form
# is used while 4 u sqrt(L) max_k B_k stays below the dtype's limit: measured on the benchmark
# mixtures, that estimate exceeds the actual largest error by 2x to 60x. Components far from the
# centre g in their own standard deviations, or nearly singular ones, get the whitened form,
# which rounds like the distance itself.
#
# The moments have a rounding of their own: the scatter about g that the second product sums is
# up to F_k = max_i (mu_k,i - g_i)^2 / Sigma_k,ii times the scatter about c_k it is referred to,
# so the accumulation loses about log2 F_k of the dtype's bits. In float64 that is harmless
# under the distance limit; in float32 (24 bits) it decides the fitted covariances, so float32
# also needs F_k <= 2^8 (16 bits kept), and sums its products over at most
# FLOAT32_PRODUCT_ROWS rows at a time, in float64 across them (an accumulation over a whole
# chunk of tens of thousands of rows lost up to 5 more bits). Limits measured on a sweep of
# mixtures (D = 4 to 64, components 5 to 100 units apart, condition numbers to ~200, fitted
# float32 against float64 from the same start; docs/math/em.md): within them the float32
# packed fit's means and weights agree with the float64 fit as closely as the whitened float32
# fit's do, its covariances to ~1e-5 of their scale at worst (1-20x the whitened fit's
# deviation: 20x on a few thousand rows in one chunk, ~1x on a million rows, where the chunks'
# roundings average out); at F ~ 1000 the covariances drift to ~2e-5, at F ~ 10^4 to ~2e-4.
# The float32 distance limit 3e-2 bounds a point's log-density rounding by ~1.5e-2 by the
# estimate (the benchmark mixture: estimate 9e-3, largest measured distance error 5e-4): the
# limit for values returned per row (score_samples, predict_proba). Inside a fit the distances
# only weight rows and sum into the bound, and the sweep measured the fitted parameters
# unaffected by the distance rounding up to estimates of ~1 (F decides them) and the lower
# bound within ~1e-6 (relative) of float64 up to 1e-1: the fit's limit (PACKED_FIT_LIMIT).
PACKED_ROUNDING_LIMIT = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 3e-2}
PACKED_FIT_LIMIT = {np.dtype(np.float32): 1e-1}
PACKED_SCATTER_LIMIT = {np.dtype(np.float32): 2.0**8}


def packed_plan(dtype, means_c, prec_chol, per_point=True):
    """The packed form's coefficients (M + D, K) and constants (K,) for these parameters, or
    None where its rounding estimates (see above) exceed the limits for ``dtype``;
    ``per_point``: the distances are returned per row, not only summed into a fit."""
    dtype = np.dtype(dtype)
    limit = PACKED_ROUNDING_LIMIT.get(dtype)
    if limit is None:
        return None
    if not per_point:
        limit = max(limit, PACKED_FIT_LIMIT.get(dtype, limit))
    means = np.asarray(means_c, dtype=np.float64)  # mu_k - g
    factors = np.asarray(prec_chol, dtype=np.float64)
    K, D = means.shape
    precision = factors @ np.swapaxes(factors, 1, 2)  # Lambda_k = P_k P_k^T
    covariance = covariance_from_precision_chol(factors)
    magnitude = np.abs(precision)
    bound = (np.einsum("kd,kde,ke->k", np.abs(means), magnitude, np.abs(means))
             + (magnitude * covariance).sum(axis=(1, 2)))  # B_k
    upper = pair_order(D)
    terms = upper[0].shape[0] + D + 1  # L
    if not 4 * np.finfo(dtype).eps / 2 * np.sqrt(terms) * bound.max() <= limit:
        return None
    scatter_limit = PACKED_SCATTER_LIMIT.get(dtype)
    if scatter_limit is not None and not (
            means**2 / np.diagonal(covariance, axis1=1, axis2=2)).max() <= scatter_limit:  # F_k
        return None
    coefficients = np.empty((K, terms - 1))  # (K, M + D): K rows on the left runs fastest
    coefficients[:, :-D] = precision[:, upper[0], upper[1]] * np.where(upper[0] == upper[1], 1.0, 2.0)
    coefficients[:, -D:] = -2 * np.einsum("kde,ke->kd", precision, means)  # -2 Lambda_k mu_k
    constant = (np.einsum("kd,kde->ke", means, factors) ** 2).sum(axis=1)  # mu_k^T Lambda_k mu_k
    return coefficients.astype(dtype), constant.astype(dtype)


# The plan of the last factors asked for, per (dtype, per_point): every chunk of a pass asks with
# the same factors, and rebuilding it per chunk (K inverses and products of D x D) would cost a
# share of each iteration. A memo of a pure function, like ``symmetric_index``'s, so the families
# that ask stay stateless: keyed by the factors' identity (held weakly: a freed array's reused id
# cannot match) and the means' values; each entry is replaced whole, so a thread reads an old or
# a new entry, never a mix of both.
_REMEMBERED_PLANS: dict = {}


def remembered_plan(dtype, means_c, prec_chol, per_point=True):
    """``packed_plan``, remembered for the last factors asked for with this dtype and
    ``per_point``."""
    key = (np.dtype(dtype), per_point)
    last = _REMEMBERED_PLANS.get(key)
    if last is not None and last[0]() is prec_chol and np.array_equal(last[1], means_c):
        return last[2]
    plan = packed_plan(dtype, means_c, prec_chol, per_point)
    _REMEMBERED_PLANS[key] = (weakref.ref(prec_chol), np.array(means_c), plan)
    return plan


@functools.lru_cache(maxsize=8)
def pair_order(n_features: int) -> tuple:
    """(M,) and (M,): the entries (i, j) of the M = D(D+1)/2 pair products x_i x_j in the order
    they are written, by cyclic distance s = (j - i) mod D: for s = 0 .. (D - 1) // 2 every i with
    j = (i + s) mod D, then, where D is even, s = D/2 for i < D/2. Each unordered pair once, and
    each distance's products x_i x_{i+s} one broadcast of the rows against the rows shifted by
    s (``write_pairs``): the whole block in one or two numpy calls, not one per row i."""
    D = n_features
    rows = np.arange(D)
    first = [rows] * ((D + 1) // 2)
    second = [(rows + s) % D for s in range((D + 1) // 2)]
    if D % 2 == 0:
        first.append(rows[: D // 2])
        second.append(rows[: D // 2] + D // 2)
    return np.concatenate(first), np.concatenate(second)


@functools.lru_cache(maxsize=8)
def symmetric_index(n_features: int) -> np.ndarray:
    """(D * D,) the packed position (``pair_order``) of every entry (i, j) of a D x D matrix."""
    first, second = pair_order(n_features)
    index = np.empty((n_features, n_features), dtype=np.intp)
    index[first, second] = np.arange(first.shape[0])
    index[second, first] = index[first, second]
    return index.ravel()


def write_pairs(rows, block, shifted=None) -> None:
    """block[:M] = the pair products of the centred rows (m, D) in ``pair_order``'s order,
    block[M:M + D] = the rows x_i, transposed (every row of ``block`` written contiguously);
    block (M + 2D, m): its last D rows are the workspace (the rows x_i again, as far as
    s + i reaches, so that the rows shifted cyclically by s are one strided view). Three numpy calls and, for even D, a fourth.
    ``shifted``: that view, ``cyclic_view`` of this block's workspace (made once for a buffer
    that serves many blocks: as_strided costs ~3 us, a tenth of the products' time at D = 16).
    """
    m, D = rows.shape
    M = D * (D + 1) // 2
    full = (D + 1) // 2  # the distances s whose products take every i
    doubled = block[M:M + 2 * D]  # (2D, m): x_0 .. x_{D-1}, x_0 .. x_{full-2} (read up to i + s)
    doubled[:D] = rows.T
    doubled[D:D + full - 1] = doubled[:full - 1]
    if shifted is None:
        shifted = cyclic_view(doubled)
    np.multiply(doubled[None, :D], shifted, out=block[:full * D].reshape(full, D, m))
    if D % 2 == 0:  # s = D/2: i and i + D/2 are the same pair, taken once (i < D/2)
        np.multiply(doubled[: D // 2], doubled[D // 2:D], out=block[full * D:M])


def cyclic_view(doubled):
    """(full, D, m) read-only view [s, i] = x_{i+s} of the workspace ``doubled`` (2D, m), the
    rows x_0 .. x_{D-1} twice; its [:, :, :k] is the view of ``doubled[:, :k]``."""
    D = doubled.shape[0] // 2
    step, item = doubled.strides
    return as_strided(doubled, shape=((D + 1) // 2, D, doubled.shape[1]), strides=(step, step, item),
                      writeable=False)


def _block_writer(compiled: bool, block, n_features: int):
    """The function (rows, features) that writes a block of ``block``'s (L + D, rows) columns:
    numba's loop, or numpy's broadcasts with the strided view of ``block``'s workspace (its last
    2D rows) made once for all the blocks."""
    if compiled:
        return _pair_writer(True)
    view = cyclic_view(block[block.shape[0] - 2 * n_features:])

    def write(rows, features):
        write_pairs(rows, features, view[:, :, : rows.shape[0]])

    return write


def pair_products(Xc, out=None) -> np.ndarray:
    """(M + D, n): rows x_i x_j for i <= j (``pair_order``), then the rows x_i, of the centred
    chunk; transposed so that every row is written contiguously. Into ``out`` (a (M + 2D, n)
    view, see ``write_pairs``) where given, else a fresh array."""
    n, D = Xc.shape
    L = D * (D + 1) // 2 + D
    block = np.empty((L + D, n), dtype=Xc.dtype) if out is None else out
    write_pairs(Xc, block)
    return block[:L]


def packed_e_step(Xc, plan, centre):
    coefficients, constant = plan
    features = pair_products(Xc)
    maha = np.ascontiguousarray((coefficients @ features).T)  # (n, K)
    maha += constant
    np.maximum(maha, 0, out=maha)  # a distance; rounding may take a point at a mean below 0
    return maha, PackedRows(Xc, np.asarray(centre, dtype=np.float64), features)


# Rows per block of pair products: a block of about this many bytes stays in a core's (2 MiB) L2
# cache between being written and being read by the product; measured at D = 32 (numba's loop):
# 256-row blocks make the distances ~1.6x (float64) to ~1.7x (float32) faster than the whole
# chunk's features written first. At least _MIN_BLOCK_ROWS rows keep the product efficient.
# Half a MiB rather than one (benchmarks/bench_pair_products.py --block-kib 1024,512,256, whole
# accumulate per 1e5 rows in 10 082-row chunks, one thread's CPU, medians of 7 alternations on
# the shared 2-core machine): at (16, 8) float64 on the fitted mixture numpy's writer 35.4 ->
# 33.2 ms and numba's 31.8 -> 26.1, at (24, 12) 67.5 -> 61.3 and 61.4 -> 52.8, float32 and the
# spread start 3-15 % faster; (8, 4) and (32, 16) within the noise (+-5 %). Both writers take
# the same blocks, so their numbers stay equal bit for bit.
_BLOCK_BYTES = 2**19
_MIN_BLOCK_ROWS = 64

# numba's loop (``pairs_compiled``) wherever numba is used and may be loaded (numba_loading.py:
# not by a stream's step, which keeps it out of a process that has not loaded it), numpy's
# broadcasts by cyclic distance (``write_pairs``: three or four calls a block) otherwise. The two
# write the same numbers, so the choice changes only the time. Measured per 1e5 rows in 10 082-row
# chunks, one thread, the whole accumulate (benchmarks/bench_pair_products.py): numpy's take
# 1.01x to 1.45x numba's CPU time at (D, K) = (8, 4) to (32, 16), whole fits at (2e5, 16, 8)
# 1.09x to 1.19x; numpy's writes run at ~0.55x the speed of numba's loop: per 1e5 rows at D = 16,
# 5 850 us against 3 220, with the strided view made once per buffer (``cyclic_view``). The products
# with the coefficients are the same BLAS calls (docs/streaming.md).


def _compiled(n_features: int) -> bool:
    return compiled_loop()


def _block_rows(L: int, itemsize: int) -> int:
    """Rows per block of pair products: a block of about _BLOCK_BYTES."""
    return max(_MIN_BLOCK_ROWS, _BLOCK_BYTES // (L * itemsize))


def _pair_writer(compiled: bool):
    """The function that writes a block's pair products: numba's (``pairs_compiled``) or
    numpy's broadcasts (``write_pairs``), the same numbers in the same order."""
    if not compiled:
        return write_pairs
    from .pairs_compiled import pair_products_into  # optional: numba, imported on first use

    return pair_products_into


def packed_products(Xc, coefficients, centre):
    """coefficients @ [q(x_n), x_n] for every row of the centred chunk: (n, K), column-major
    (each component's column contiguous), and the moments' workspace. The pair products of a
    few hundred rows at a time (numba's loop, or numpy's broadcasts in a stream), each block's product
    taken while it is in the core's cache, and none kept: the chunk's workspace is one block,
    not (M + D) values a row, and the dense moments, which are rarely needed
    (``sparse_moments``), rebuild them block by block."""
    centre = np.asarray(centre, dtype=np.float64)
    n, D = Xc.shape
    K, L = coefficients.shape
    rows = _block_rows(L, Xc.dtype.itemsize)
    block = scratch("pair_block", (L + D, rows), Xc.dtype)  # the features and D rows of workspace
    write = _block_writer(_compiled(D), block, D)
    out = np.empty((K, n), dtype=Xc.dtype)  # (K, n): its transpose is the column-major (n, K)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        features = block[:, : stop - start]
        write(Xc[start:stop], features)
        np.matmul(coefficients, features[:L], out=out[:, start:stop])
    return out.T, PackedRows(Xc, centre)


class PackedRows:
    """The packed form's E-step workspace: the centred chunk, the centre g, and the chunk's pair
    products where they were kept (else they are rebuilt from the rows if the dense moments are
    needed). The rows are the E-step's scratch buffer: valid within the chunk's accumulate."""

    def __init__(self, rows, centre, features=None):
        self.rows = rows  # (n, D) x_n - g
        self.centre = centre  # (D,)
        self.features = features  # (M + D, n) or None

    def moments(self, wresp, shift):
        """first_k and scatter_k about c_k = shift[k]: the moments about g from one product,
        then x - c_k = (x - g) - delta_k with delta_k = c_k - g, by exact algebra in float64."""
        D = self.centre.shape[0]
        M = D * (D + 1) // 2
        sums = row_sums(self.features, wresp) if self.features is not None else _blocked_row_sums(self.rows, wresp)
        mass = column_sum(wresp)  # N_k
        s1 = sums[M:].T  # (K, D) sum_n wr_nk (x_n - g)
        K = mass.shape[0]
        # sum_n wr_nk (x_n - g)(x_n - g)^T, unpacked
        second = sums[:M].T[:, symmetric_index(D)].reshape(K, D, D)
        delta = np.asarray(shift, dtype=np.float64) - self.centre  # (K, D)
        cross = s1[:, :, None] * delta[:, None, :]  # s1_k delta_k^T
        scatter = second - cross - np.swapaxes(cross, 1, 2) + mass[:, None, None] * (
            delta[:, :, None] * delta[:, None, :])
        return s1 - mass[:, None] * delta, scatter


def _blocked_row_sums(rows, wresp):
    """[q(x_n), x_n] @ wresp (M + D, K) in float64, the pair products rebuilt a block of rows at
    a time (in this thread's block buffer) and each block's product added in float64."""
    n, D = rows.shape
    L = D * (D + 1) // 2 + D
    size = _block_rows(L, rows.dtype.itemsize)
    if rows.dtype == np.float32:
        size = FLOAT32_PRODUCT_ROWS  # float32 products over this many rows, as ``row_sums`` blocks them
    block = scratch("pair_block", (L + D, size), rows.dtype)
    write = _block_writer(_compiled(D), block, D)
    sums = np.zeros((L, wresp.shape[1]))
    for start in range(0, n, size):
        stop = min(start + size, n)
        features = block[:, : stop - start]
        write(rows[start:stop], features)
        sums += row_sums(features[:L], wresp[start:stop])
    return sums



def row_sums(features, wresp):
    """features @ wresp (L, n) @ (n, K), in float64. float32 products run over at most
    FLOAT32_PRODUCT_ROWS rows each (one batched product) and are added in float64: the
    accumulation inside one product is what rounds (see above)."""
    L, n = features.shape
    blocks = n // FLOAT32_PRODUCT_ROWS
    if features.dtype != np.float32 or blocks < 2:
        return np.asarray(features @ wresp, dtype=np.float64)
    cut = blocks * FLOAT32_PRODUCT_ROWS
    sums = np.asarray(features[:, cut:] @ wresp[cut:], dtype=np.float64)  # the last part block
    left = features[:, :cut].reshape(L, blocks, FLOAT32_PRODUCT_ROWS).transpose(1, 0, 2)
    if wresp.flags.f_contiguous:  # ln rho's column-major layout: block the columns in place
        right = wresp.T[:, :cut].reshape(-1, blocks, FLOAT32_PRODUCT_ROWS).transpose(1, 2, 0)
    else:
        right = wresp[:cut].reshape(blocks, FLOAT32_PRODUCT_ROWS, -1)
    parts = np.matmul(left, right).reshape(blocks, -1)  # (blocks, L * K), float32
    sums += (parts.T.astype(np.float64) @ np.ones(blocks)).reshape(sums.shape)
    return sums


def fold(maha, constant):
    """constant_k - maha_nk / 2 in place: ln rho from the distances, two passes."""
    maha *= -0.5
    maha += np.asarray(constant).astype(maha.dtype, copy=False)
    return maha


# ---- moments about one reference point (diag, tied, spherical; any dtype) ------------------

def per_component_moments(X, wresp, means):
    """first_k = sum_n wr_nk (x_n - c_k) and the centred rows, with c_k = means[k]."""
    for k in range(means.shape[0]):
        yield k, X - means[k], wresp[:, k]


def reference_moments(X, wresp, shift):
    """Moments about one reference point, in float64, by (K, n) @ (n, D) products.

    Returns (ref, delta, mass, s1, Xr): ref = the mean of the shifts (D,), delta_k = c_k - ref,
    N_k, s1_k = sum_n wr_nk (x_n - ref) and the float64 rows x_n - ref. The per-component
    moments about c_k then follow by exact algebra; the cancellation this leaves is
    eps64 |c_k - ref|^2 / sigma_k^2, far below float32 precision for any mixture whose
    components lie within 1e4 standard deviations of each other.
    """
    shift = np.asarray(shift, dtype=np.float64)  # the algebra below in float64, whatever the data
    ref = shift.mean(axis=0)  # (D,)
    Xr = np.subtract(X, ref, out=scratch("reference_rows", X.shape, np.float64))  # (n, D), float64
    w64 = np.asarray(wresp, dtype=np.float64)  # (n, K)
    return ref, shift - ref, w64.sum(axis=0), w64.T @ Xr, Xr, w64
