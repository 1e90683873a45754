"""The E-step of a Gaussian mixture on rows with missing entries (NaN), missing at random
(Ghahramani and Jordan 1994; docs/math/conditional.md#em-with-missing-values).

Notation   code        shape          meaning
o, m       -           -              a row's observed and missing coordinates
Lambda_k   precision   (K, D, D)      Sigma_k^{-1}, dense, whatever the family's storage
r0_nk      r0          (n, K, D)      x_n - mu_k on o, 0 on m
u_nk       u           (n, K, D)      Lambda_k r0_nk
C_pk       cond_cov    (P, K, m, m)   Lambda_k,mm^{-1} = Sigma_k,mm - Sigma_k,mo Sigma_k,oo^{-1} Sigma_k,om (2.82)
delta_nk   delta       (n, K, m)      E[x_m | x_o, k] - mu_k,m = -C_pk (Lambda_k r0_nk)_m (2.81, precision form)

Everything follows from the precision's missing block, which is small (m of D coordinates):

    (x_o - mu_o)^T Sigma_oo^{-1} (x_o - mu_o) = r0^T Lambda r0 - v^T C v,  v = (Lambda r0)_m
    ln |Sigma_oo| = ln |Sigma| + ln |Lambda_mm|

(the Schur complement of Lambda_mm in Lambda is Sigma_oo^{-1}: the partitioned inverse of
PRML 2.3.1), so a pattern and a component need one Cholesky factor of Lambda_k,mm (m x m),
and the factorisations of every pattern of a chunk with the same number of missing entries
are one batched call.

The statistics of such a row are those of the completed row x_hat_nk (x_o, mu_k,m + delta_nk)
with C_pk added to the scatter's missing block (the expected scatter, E[(x - c)(x - c)^T | x_o, k]),
so ``maximize`` is unchanged. The rows run in float64 (deliberate: few rows, small blocks).

``observed_e_step`` (per-row values and completed rows: the other models' E-steps): where
numba is installed the blocks are done row by row in one compiled loop
(kernels/missing_compiled.py); without numba, by groups of patterns as above. ``observed_sums``
(the statistics of GaussianEM's fit) and ``observed_log_prob`` (its scores and predictions):
where numba is installed, the factors once per pattern and the rows' work in compiled loops with
no (n, K, D) temporaries (kernels/missing_fused.py), the chunk's grouping by pattern remembered
across iterations (models/missing_patterns.py); otherwise ``observed_e_step`` (then
``observed_moments``).
"""

from __future__ import annotations

import numpy as np

from ..kernels.expanded import PACKED_ROUNDING_LIMIT
from ..kernels.linalg import normalize_log_rows
from ..kernels.numba_switch import NUMBA as COMPILED
from ..kernels.scratch import scratch
from ..kernels.sparse_moments import NEGLIGIBLE_RESPONSIBILITY, rank_updates
from .missing_patterns import sorted_patterns, unsorted_patterns

_LOG_2PI = np.log(2 * np.pi)
# Rows per block of the products x_c [Lambda_1 ... Lambda_K] in the compiled loop: a block of
# about this many bytes stays in a core's cache between its product and its reading (as
# kernels/expanded.py's pair products).
_BLOCK_BYTES = 2**18
_MIN_BLOCK_ROWS = 16


def dense_precision(covariance, prec_chol, n_components, n_features):
    """Lambda_k (K, D, D) and ln |Lambda_k|^(1/2) (K,) of any family, from its dense covariances."""
    return dense_factors(covariance, prec_chol, n_components, n_features)[:2]


def dense_factors(covariance, prec_chol, n_components, n_features):
    """``dense_precision`` and the dense covariances Sigma_k (K, D, D) they came from."""
    cov = np.asarray(covariance.dense_covariance(np.asarray(prec_chol, dtype=np.float64), n_components,
                                                 n_features), dtype=np.float64)
    lower = np.linalg.cholesky(cov)  # Sigma_k = L L^T
    inv_lower = np.linalg.solve(lower, np.broadcast_to(np.eye(n_features), cov.shape))  # L^{-1}
    precision = np.swapaxes(inv_lower, 1, 2) @ inv_lower  # L^{-T} L^{-1}: a Gram matrix, symmetric
    return precision, -np.log(np.diagonal(lower, axis1=1, axis2=2)).sum(axis=1), cov


def observed_e_step(X, weights, means, precision, log_det_half):
    """ln rho_nk over each row's observed coordinates (n, K) and what the moments need.

    Every row of X must observe at least one entry (a complete row is a pattern with nothing missing).
    Returns (log_rho, z, extra): z (K, n, D) = x_hat_nk - mu_k; extra: the conditional
    covariances C, whose ``add_to(scatter, wresp)`` adds their weighted sum to the scatter.
    """
    n, D = X.shape
    K = means.shape[0]
    missing = np.isnan(X)
    observed = ~missing
    x0 = np.where(missing, 0.0, X.astype(np.float64))
    if COMPILED:
        z, quad, log_det_mm, extra = _row_blocks(x0, missing, means, precision)
    else:
        r0 = (x0[:, None, :] - means[None]) * observed[:, None, :]  # (n, K, D)
        # (n, K, D) Lambda_k r0_nk = x0 Lambda_k - (obs * mu_k) Lambda_k: two stacked (n, D) @ (D, K D) products
        stacked = precision.transpose(1, 0, 2).reshape(D, K * D)  # [Lambda_1 ... Lambda_K]
        shifted = (means[:, :, None] * precision).transpose(1, 0, 2).reshape(D, K * D)  # rows mu_kd Lambda_k[d]
        u = (x0 @ stacked - observed.astype(np.float64) @ shifted).reshape(n, K, D)
        quad = np.einsum("nkd,nkd->nk", r0, u)  # r0^T Lambda r0
        log_det_mm, extra = _pattern_blocks(missing, u, precision, r0, quad)  # r0's missing entries: delta
        z = np.ascontiguousarray(r0.transpose(1, 0, 2))
    n_obs = observed.sum(axis=1)  # (n,)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(weights, dtype=np.float64))
    # ln pi_k + ln N(x_o | mu_o, Sigma_oo): -d_o/2 ln 2pi - 1/2 ln|Sigma_oo| - q/2, with
    # -1/2 ln|Sigma_oo| = ln|Lambda|^(1/2) - ln|Lambda_mm|^(1/2)
    log_rho = (log_w[None] + log_det_half[None] - log_det_mm - 0.5 * n_obs[:, None] * _LOG_2PI
               - 0.5 * np.maximum(quad, 0))
    return log_rho, z, extra


def observed_moments(z, wresp, extra, n_features):
    """first_k (K, D) and the dense scatter (K, D, D) about mu_k of completed rows: sum_n wr_nk
    z_nk z_nk^T plus, on each pattern's missing block, sum_n wr_nk C_pk (the conditional
    covariance: E[(x - mu)(x - mu)^T | x_o, k] = z z^T + C on the missing block)."""
    K = wresp.shape[1]
    D = n_features
    first = np.empty((K, D))
    scatter = np.empty((K, D, D))
    for k in range(K):
        first[k] = wresp[:, k] @ z[k]
        scatter[k] = (z[k] * wresp[:, k, None]).T @ z[k]
    extra.add_to(scatter, wresp)
    return first, scatter


def observed_sums(X, sample_weight, weights, means, precision, log_det_half, covariances):
    """The E-step of rows that each observe at least one entry (a complete row is the pattern
    with nothing missing: the same numbers as the complete rows' kernel up to rounding), with its
    responsibilities normalised from ``observed_e_step``'s ln rho: (wresp (n, K), log_norm (n,),
    first (K, D), scatter (K, D, D)), the moments about mu_k as ``observed_moments`` returns them.

    ``covariances``: the dense Sigma_k (``dense_factors``). Where numba is installed and the
    rounding of the centred products is small (below), one compiled pass
    (kernels/missing_fused.py) after one matrix product over the chunk; otherwise
    ``observed_e_step`` then ``observed_moments``: the same numbers up to rounding.
    """
    n, D = X.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    centre = np.asarray(weights, dtype=np.float64) @ means  # g, as the complete rows' kernel
    means_c = means - centre
    if not (COMPILED and _centred_rounding_ok(means_c, precision, covariances)):
        log_rho, z, extra = observed_e_step(X, weights, means, precision, log_det_half)
        resp, log_norm = normalize_log_rows(log_rho)
        wresp = resp * w[:, None]
        first, scatter = observed_moments(z, wresp, extra, D)
        return wresp, log_norm, first, scatter
    fused, grouping, lanes, offsets, yoffsets, factor, xc, ys, log_rho = _fused_log_rho(
        X, weights, means_c, centre, precision, log_det_half)
    K = means.shape[0]
    order, pattern, patterns, m = grouping.order, grouping.pattern, grouping.patterns, grouping.counts
    w = w[order]
    resp, log_norm = normalize_log_rows(log_rho)  # (9.23), numpy's vectorised exp
    wresp = resp if sample_weight is None else resp * w[:, None]
    counts = np.zeros(K, dtype=np.int64)
    fused.kept_pairs(wresp, w, NEGLIGIBLE_RESPONSIBILITY, counts)  # the pairs that carry weight, per component
    # the completed rows z_nk = x_hat_nk - mu_k of the pairs that carry weight, grouped by
    # component, then their moments in one rank update per component (kernels/expanded.py)
    cursor = _starts(counts)  # where each component's pairs begin
    mass, rows = np.zeros((m.size, K)), scratch("missing_completed", (cursor[-1], D + 1), np.float64)
    flat = scratch("missing_flat", (cursor[-1],), np.int64)  # k n + i of each pair, as np.flatnonzero(wresp.T > ...)
    fused.completed_rows(xc, pattern, patterns, lanes[1], offsets, factor, yoffsets, ys, wresp, w,
                         NEGLIGIBLE_RESPONSIBILITY, cursor[:-1], mass, rows, flat)
    first, scatter = rank_updates(rows, wresp, flat)
    fused.add_conditional_covariances(patterns, offsets, factor, mass, scatter)  # sum wr C
    rows_wresp, rows_log_norm = np.empty_like(wresp), np.empty_like(log_norm)
    fused.unsort_rows(order, wresp, log_norm, rows_wresp, rows_log_norm)  # back in the order of X
    return rows_wresp, rows_log_norm, first, scatter


def _fused_log_rho(X, weights, means_c, centre, precision, log_det_half):
    """The compiled path's ln rho_nk of X's rows sorted by pattern (kernels/missing_fused.py) and
    what the moments read after it: (the kernel module, the ``Grouping``, the lanes, the
    offsets of the factors and of the rows' solves, the factors, the centred rows, the solves,
    log_rho (n, K) in the grouping's order), the arrays in this thread's scratch buffers."""
    from ..kernels import missing_fused as fused  # optional: numba, imported on first use

    n, D = X.shape
    K = means_c.shape[0]
    missing = np.isnan(X)
    # the rows sorted by their number of missing entries, then by pattern: the compiled loops'
    # trip counts change a few times per chunk instead of every row, and a pattern's factors
    # are read by consecutive rows
    # (the same mask at every iteration of an in-memory fit: remembered, models/missing_patterns.py)
    grouping = sorted_patterns(missing)
    order, pattern, patterns, m = grouping.order, grouping.pattern, grouping.patterns, grouping.counts
    lanes = _lanes(precision, means_c, fused.W)  # the components padded and worked W at a time
    Kp = lanes[0].shape[0] * fused.W
    offsets, yoffsets = Kp * grouping.offsets, Kp * grouping.yoffsets
    # the chunk-sized temporaries in this thread's reused buffers (kernels/scratch.py: no fresh pages)
    factor = scratch("missing_factor", (offsets[-1],), np.float64)  # L of Lambda_k,mm = L L^T per pattern
    det, log_det_mm = np.empty((m.size, Kp)), np.empty((m.size, Kp))
    if not fused.pattern_factors(patterns, lanes[0], offsets, factor, det, log_det_mm):
        raise np.linalg.LinAlgError("a missing block of the precision is not positive definite")
    log_det_mm = np.log(det, out=log_det_mm, where=~np.isnan(det))  # elsewhere the kernel's sum of logs
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(weights, dtype=np.float64))
    # ln pi_k + ln N(x_o | mu_o, Sigma_oo) = constant_pk - quad / 2, as observed_e_step
    constant = (log_w + log_det_half) - (0.5 * _LOG_2PI) * (D - m)[:, None] - log_det_mm[:, :K]
    xc = scratch("missing_rows", (n, D), np.float64)
    fused.centred_rows(X, order, centre, xc)  # x - g, the missing entries filled with g (0)
    ys, log_rho = scratch("missing_solves", (yoffsets[-1],), np.float64), scratch("missing_log_rho", (n, K), np.float64)
    width = lanes[3].shape[1]
    block = scratch("missing_products", (max(_MIN_BLOCK_ROWS, _BLOCK_BYTES // (8 * width)), width), np.float64)
    fused.observed_log_rho(xc, pattern, patterns, lanes[3], block, lanes[2], lanes[4], offsets, factor, constant,
                           yoffsets, ys, log_rho)
    return fused, grouping, lanes, offsets, yoffsets, factor, xc, ys, log_rho


def observed_log_prob(X, weights, means, precision, log_det_half, covariances):
    """ln rho_nk = ln pi_k + ln N(x_o | mu_k,o, Sigma_k,oo) (n, K) of rows that each miss at least
    one entry and observe at least one: ``observed_e_step``'s first value, by the compiled path
    of ``observed_sums`` where it runs (the factors once per pattern; no completed rows)."""
    centre = np.asarray(weights, dtype=np.float64) @ means
    means_c = means - centre
    if not (COMPILED and _centred_rounding_ok(means_c, precision, covariances)):
        return observed_e_step(X, weights, means, precision, log_det_half)[0]
    _, grouping, *_, log_rho = _fused_log_rho(X, weights, means_c, centre, precision, log_det_half)
    out = np.empty_like(log_rho)
    out[grouping.order] = log_rho  # back in the order of X
    return out


def _starts(counts):
    """(K + 1,) int64 starts of consecutive groups of these counts."""
    out = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _lanes(precision, means_c, width):
    """The components padded to a multiple of ``width`` (identity precisions, means at g: their
    results are dropped) and laid out with component k = width kb + j last: precision (KB, D, D, W),
    mu_k - g and s_k = Lambda_k (mu_k - g) (KB, D, W), (mu_k - g)^T s_k (KB, W), and the
    (D, KB D W + KB W) matrix [Lambda_1 ... Lambda_K, s_1 ... s_K] whose product with x_c gives
    Lambda_k x_c and s_k^T x_c."""
    K, D = means_c.shape
    pad = -K % width
    if pad:
        precision = np.concatenate([precision, np.broadcast_to(np.eye(D), (pad, D, D))])
        means_c = np.concatenate([means_c, np.zeros((pad, D))])
    blocks = (K + pad) // width
    shifted = np.einsum("kde,ke->kd", precision, means_c)
    by_lane = precision.reshape(blocks, width, D, D)
    stacked = np.concatenate([by_lane.transpose(3, 0, 2, 1).reshape(D, blocks * D * width), shifted.T], axis=1)
    return (np.ascontiguousarray(by_lane.transpose(0, 2, 3, 1)),
            np.ascontiguousarray(means_c.reshape(blocks, width, D).transpose(0, 2, 1)),
            np.ascontiguousarray(shifted.reshape(blocks, width, D).transpose(0, 2, 1)),
            np.ascontiguousarray(stacked),
            np.einsum("kd,kd->k", means_c, shifted).reshape(blocks, width))


def _centred_rounding_ok(means_c, precision, covariances):
    """Whether products of rows centred on g round well within the packed form's float64 limit
    (kernels/expanded.py: 4 u sqrt(L) max_k B_k, B_k = |mu_k - g|^T |Lambda_k| |mu_k - g| +
    sum_ij |Lambda_k,ij| Sigma_k,ij, the size of the terms a row of component k sums)."""
    magnitude = np.abs(precision)
    bound = (np.einsum("kd,kde,ke->k", np.abs(means_c), magnitude, np.abs(means_c))
             + (magnitude * covariances).sum(axis=(1, 2)))
    D = means_c.shape[1]
    terms = D * (D + 1) // 2 + D + 1
    return bool(2 * np.finfo(np.float64).eps * np.sqrt(terms) * bound.max()
                <= PACKED_ROUNDING_LIMIT[np.dtype(np.float64)])


def _row_blocks(x0, missing, means, precision):
    """The compiled loop over rows: z (K, n, D), quad (n, K), ln |Lambda_k,mm|^(1/2) (n, K) and
    the rows' C, packed."""
    from ..kernels.missing_compiled import conditional_blocks  # optional: numba, imported on first use

    n, K = x0.shape[0], means.shape[0]
    m = missing.sum(axis=1)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(K * m * m, out=offsets[1:])
    cond = np.empty(offsets[-1])
    z, quad, log_det_mm = np.empty((K, n, x0.shape[1])), np.empty((n, K)), np.empty((n, K))
    conditional_blocks(x0, missing, means, precision, z, quad, log_det_mm, cond, offsets)
    if not np.isfinite(log_det_mm).all():
        raise np.linalg.LinAlgError("a missing block of the precision is not positive definite")
    return z, quad, log_det_mm, _RowBlocks(missing, cond, offsets)


class _RowBlocks:
    """The conditional covariances C_nk of ``_row_blocks``, one per row and component."""

    def __init__(self, missing, cond, offsets):
        self.missing, self.cond, self.offsets = missing, cond, offsets

    def add_to(self, scatter, wresp):
        """scatter (K, D, D) += sum_n wr_nk C_nk on each row's missing block, in place."""
        from ..kernels.missing_compiled import add_conditional_covariances  # optional: numba, on first use

        add_conditional_covariances(self.missing, np.ascontiguousarray(wresp), self.cond, self.offsets, scatter)


def _pattern_blocks(missing, u, precision, z, quad):
    """numpy: the rows grouped by pattern, the patterns by their number m of missing entries, one
    batched factorisation per group; returns what ``_row_blocks`` returns."""
    n, K, _ = u.shape
    log_det_mm = np.zeros((n, K))  # ln |Lambda_k,mm|^(1/2) per row
    pattern_of_row, patterns = unsorted_patterns(missing)
    counts = patterns.sum(axis=1)
    groups = []
    for m in np.unique(counts):
        group = np.flatnonzero(counts == m)  # patterns with m missing entries
        idx = np.nonzero(patterns[group])[1].reshape(group.size, m)  # (P, m)
        block = precision[:, idx[:, :, None], idx[:, None, :]].transpose(1, 0, 2, 3)  # (P, K, m, m)
        lower = np.linalg.cholesky(block)  # Lambda_mm = L L^T
        # L^{-1} of an m x m triangle (batched; m is small): solves against the identity
        inv_lower = np.linalg.solve(lower, np.broadcast_to(np.eye(lower.shape[-1]), lower.shape))
        cond_cov = np.swapaxes(inv_lower, -1, -2) @ inv_lower  # C = Lambda_mm^{-1} (2.82)
        local = np.full(patterns.shape[0], -1)
        local[group] = np.arange(group.size)
        rows = np.flatnonzero(local[pattern_of_row] >= 0)
        p = local[pattern_of_row[rows]]  # (n_m,) pattern of each row within the group
        mis = idx[p]  # (n_m, m)
        v = np.take_along_axis(u[rows], mis[:, None, :], axis=2)  # (n_m, K, m) (Lambda r0)_m
        delta = -np.einsum("nkij,nkj->nki", cond_cov[p], v)  # (2.81), precision form
        quad[rows] += np.einsum("nki,nki->nk", v, delta)  # - v^T C v
        log_det_mm[rows] = np.log(np.diagonal(lower, axis1=2, axis2=3)).sum(axis=2)[p]
        zr = z[rows]
        np.put_along_axis(zr, mis[:, None, :], delta, axis=2)
        z[rows] = zr
        groups.append((rows, idx, p, cond_cov))
    return log_det_mm, _PatternBlocks(groups)


class _PatternBlocks:
    """The conditional covariances C_pk of ``_pattern_blocks``, one per pattern and component."""

    def __init__(self, groups):
        self.groups = groups  # per m: (rows, missing indices per pattern (P, m), pattern of each row, C)

    def add_to(self, scatter, wresp):
        """scatter (K, D, D) += sum_n wr_nk C_pk on each pattern's missing block, in place."""
        K, D, _ = scatter.shape
        flat = np.zeros(K * D * D)
        for rows, idx, p, cond_cov in self.groups:
            # a_pk = sum over the pattern's rows of wr_nk, (P, K)
            mass = np.stack([np.bincount(p, weights=wresp[rows, k], minlength=idx.shape[0]) for k in range(K)],
                            axis=1)
            values = mass[:, :, None, None] * cond_cov  # (P, K, m, m)
            where = (idx[:, None, :, None] * D + idx[:, None, None, :]) + (np.arange(K) * D * D)[None, :, None, None]
            flat += np.bincount(np.broadcast_to(where, values.shape).ravel(), weights=values.ravel(),
                                minlength=K * D * D)
        scatter += flat.reshape(K, D, D)
