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

Where numba is installed the blocks are done row by row in one compiled loop
(kernels/missing_compiled.py): at 20 % missing over 16 coordinates nearly every row has its own
pattern, so grouping shares nothing; without numba, by groups of patterns as above.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from ..kernels.expanded import NEGLIGIBLE_RESPONSIBILITY, PACKED_ROUNDING_LIMIT, PackedRows, sparse_moments
from ..kernels.linalg import normalize_log_rows

# Whether numba can be imported, found without importing it (its import costs ~0.2 s).
COMPILED = importlib.util.find_spec("numba") is not None

_LOG_2PI = np.log(2 * np.pi)


def _patterns(missing: np.ndarray):
    """(pattern id per row (n,), patterns (P, D) bool) of a boolean mask."""
    if missing.shape[1] <= 62:  # one int64 code per row: a 1-D unique, much faster than by rows
        codes = missing.astype(np.int64) @ (np.int64(1) << np.arange(missing.shape[1], dtype=np.int64))
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    else:
        packed = np.packbits(missing, axis=1)
        _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    return inverse.reshape(-1), missing[first]


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

    Every row of X must miss at least one entry and observe at least one.
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
    """The E-step of rows that each miss at least one entry and observe at least one, with its
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
    from ..kernels import missing_fused as fused  # optional: numba, imported on first use

    K = means.shape[0]
    missing = np.isnan(X)
    # the rows sorted by their number of missing entries, then by pattern: the compiled loops'
    # trip counts change a few times per chunk instead of every row, and a pattern's factors
    # are read by consecutive rows
    order, pattern, patterns = _sorted_patterns(missing)
    missing, w = missing[order], w[order]
    m = patterns.sum(axis=1)
    offsets = np.zeros(m.size + 1, dtype=np.int64)
    np.cumsum(K * m * m, out=offsets[1:])
    doffsets = np.zeros(m.size + 1, dtype=np.int64)
    np.cumsum(K * m, out=doffsets[1:])
    lower, dinv = np.empty(offsets[-1]), np.empty(doffsets[-1])
    det, log_det_mm = np.empty((m.size, K)), np.empty((m.size, K))
    if not fused.pattern_factors(patterns, precision, offsets, doffsets, lower, dinv, det, log_det_mm):
        raise np.linalg.LinAlgError("a missing block of the precision is not positive definite")
    log_det_mm = np.log(det, out=log_det_mm, where=~np.isnan(det))  # elsewhere the kernel's sum of logarithms
    xc = np.where(missing, 0.0, X[order].astype(np.float64) - centre)  # x - g, the missing entries filled with g
    # (Lambda_k x_c)_d at column k D + d: one (n, D) @ (D, K D) product
    blocks = (xc, pattern, patterns, xc @ precision.transpose(1, 0, 2).reshape(D, K * D), means_c,
              np.einsum("kde,ke->kd", precision, means_c), precision, offsets, doffsets, lower, dinv)
    quad = np.empty((n, K))
    fused.observed_distances(*blocks, quad)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(weights, dtype=np.float64))
    # ln pi_k + ln N(x_o | mu_o, Sigma_oo), as observed_e_step
    log_rho = ((log_w + log_det_half) - (0.5 * _LOG_2PI) * (D - m)[:, None] - log_det_mm)[pattern]
    log_rho -= 0.5 * np.maximum(quad, 0)
    resp, log_norm = normalize_log_rows(log_rho)
    wresp = resp if sample_weight is None else resp * w[:, None]
    mass, first, acc = np.zeros((m.size, K)), np.zeros((K, D)), np.zeros((K, D, D))
    fused.observed_pair_moments(*blocks, wresp, w, NEGLIGIBLE_RESPONSIBILITY, mass, first, acc)
    fused.add_conditional_covariances(patterns, offsets, doffsets, lower, dinv, mass, acc)
    # the filled rows' moments about mu_k (the complete-data products of kernels/expanded.py)
    moments = sparse_moments(xc + centre, wresp, means)
    if moments is None:
        moments = PackedRows(xc, centre).moments(wresp, means)
    rows_wresp, rows_log_norm = np.empty_like(wresp), np.empty_like(log_norm)
    rows_wresp[order], rows_log_norm[order] = wresp, log_norm  # back in the order of X
    return rows_wresp, rows_log_norm, moments[0] + first, moments[1] + acc + np.swapaxes(acc, 1, 2)


def _sorted_patterns(missing):
    """(order (n,), the pattern of each row of X[order] (n,), patterns (P, D) bool): the rows of a
    boolean mask sorted by their number of missing entries, then (where D <= 56, one int64 key per
    row) by pattern."""
    n, D = missing.shape
    count = missing.sum(axis=1)
    if D > 56:
        order = np.argsort(count, kind="stable")
        pattern, patterns = _patterns(missing[order])
        return order, pattern, patterns
    key = (count.astype(np.int64) << D) | (missing.astype(np.int64) @ (np.int64(1) << np.arange(D, dtype=np.int64)))
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.empty(n, dtype=bool)
    starts[:1] = True
    np.not_equal(key[1:], key[:-1], out=starts[1:])
    return order, np.cumsum(starts) - 1, missing[order[starts]]


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
    pattern_of_row, patterns = _patterns(missing)
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
