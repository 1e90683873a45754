"""The numba-compiled observed-data E-step of rows with missing entries, sharing the work of a
pattern across its rows (imported on first use, never by ``import mixfit``; models/missing.py's
``observed_sums`` asks for it only where numba is installed).

Rows are centred on a point g and their missing entries filled with it: x_c = x - g on the
observed coordinates o, 0 on the missing ones m. Then r_k = x_c - (mu_k - g) is the residual of
the filled row (its m entries -(mu_k - g)_m) and t_k = Lambda_k r_k comes from a matrix product,
x_c [Lambda_1 ... Lambda_K] less Lambda_k (mu_k - g). With the partitioned precision
(docs/math/conditional.md#em-with-missing-values), per pattern and component (``pattern_factors``):

    Lambda_mm = L L^T,  ln |Lambda_mm|^(1/2) = sum_a ln L_aa

With v = Lambda_mo r_o = t_m + Lambda_mm (mu_k - g)_m and C = Lambda_mm^{-1} = L^{-T} L^{-1} (the
conditional covariance (2.82)), C Lambda_mm = I makes the terms in mu_k - g cancel, and per row
(``observed_log_rho``), with y = L^{-1} t_m:

    quad = r_o^T Lambda_oo r_o - v^T C v = r^T t - t_m^T C t_m = r^T t - y^T y

(= r_o^T Sigma_oo^{-1} r_o, the Schur complement), and the conditional mean (2.81), for the pairs
that carry weight (``completed_rows``): delta = E[x_m | x_o, k] - mu_k,m = -C v = r_m - L^{-T} y.
``completed_rows`` writes the completed row x_hat_nk - mu_k of each such (row, component) pair,
for one rank update per component (the caller); ``add_conditional_covariances`` adds
sum_n wr_nk C_pk once per pattern and component that carries weight.

The components are worked W at a time (the innermost loops run over W of them, which the compiler
unrolls): a small factorisation or triangular solve is a chain of dependent operations, and W
independent chains fill the time one of them waits. Cached on disk; releases the GIL, so an
ArraySource's threads run chunks in parallel.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
# Below or above these, a product of the diagonal of L is not trusted to a normal number: the
# pattern's log-determinant is summed from logarithms instead (and its product entry set to NaN).
_TINY, _HUGE = 1e-290, 1e290
# Components are worked W at a time, side by side (the innermost loops of W iterations, which
# the compiler unrolls): a small factorisation or triangular solve is a chain of dependent
# operations, and W independent chains fill the time one of them waits. K is padded to a
# multiple of W by the caller.
W = 4


@_jit
def centred_rows(X, order, centre, xc):
    """xc[j] = X[order[j]] - centre with 0 for NaN (float64, in place)."""
    n, D = xc.shape
    for j in range(n):
        i = order[j]
        for d in range(D):
            x = X[i, d]
            xc[j, d] = 0.0 if math.isnan(x) else x - centre[d]


@_jit
def pattern_factors(patterns, precision, offsets, factor, det, log_det):
    """Per pattern p (P, D) and component k = W kb + j, written in place: the Cholesky factor of
    Lambda_k,mm = L L^T, its entries below the diagonal L_ab and on it 1 / L_aa (entry (a, b) at
    factor[offsets[p] + ((kb m + a) m + b) W + j]), det (P, K) = |Lambda_k,mm|^(1/2) =
    prod_a L_aa, or NaN and log_det (P, K) its logarithm where that product leaves the normal
    range. precision (KB, D, D, W). Returns False where a block is not positive definite."""
    P, D = patterns.shape
    KB = precision.shape[0]
    idx = np.empty(D, dtype=np.int64)
    s = np.empty(W)
    prod = np.empty(W)
    for p in range(P):
        m = _indices(patterns, p, idx)
        for kb in range(KB):
            base = offsets[p] + kb * m * m * W
            for j in range(W):
                prod[j] = 1.0
            for a in range(m):  # Cholesky-Banachiewicz, W blocks side by side
                ia = idx[a]
                for b in range(a + 1):
                    for j in range(W):
                        s[j] = precision[kb, ia, idx[b], j]
                    for c in range(b):
                        ac = base + (a * m + c) * W
                        bc = base + (b * m + c) * W
                        for j in range(W):
                            s[j] -= factor[ac + j] * factor[bc + j]
                    ab = base + (a * m + b) * W
                    if a == b:
                        for j in range(W):
                            root = math.sqrt(s[j])  # NaN where not positive definite
                            factor[ab + j] = 1.0 / root
                            prod[j] *= root
                    else:
                        bb = base + (b * m + b) * W
                        for j in range(W):
                            factor[ab + j] = s[j] * factor[bb + j]
            for j in range(W):
                k = kb * W + j
                det[p, k] = prod[j]
                if prod[j] > _TINY and prod[j] < _HUGE:
                    continue
                total = 0.0
                for a in range(m):
                    total -= math.log(factor[base + (a * m + a) * W + j])
                if not (total > -np.inf and total < np.inf):  # NaN or a zero pivot
                    return False
                det[p, k] = np.nan
                log_det[p, k] = total
    return True


@_jit
def _indices(patterns, p, idx):
    """idx[:m] = the missing coordinates of pattern p; returns m."""
    m = 0
    for d in range(patterns.shape[1]):
        if patterns[p, d]:
            idx[m] = d
            m += 1
    return m


@_jit
def observed_log_rho(xc, pattern, patterns, stacked, block, shifted, shifted_quad, offsets, factor, constant, yoffsets,
                      ys, log_rho):
    """log_rho (n, K) = constant[p, k] - quad / 2 per row n (of pattern p) and component k, with
    quad = r^T t - y^T y = r_o^T Sigma_k,oo^{-1} r_o (at least 0), y = L^{-1} t_m (so that
    y^T y = t_m^T C t_m) from the pattern's factor of ``pattern_factors``; y (row n's m entries
    for k = W kb + j at ys[yoffsets[n] + (kb m + a) W + j]) written for ``completed_rows``.

    xc (n, D) x - g, 0 on the missing entries; pattern (n,) each row's pattern in ``patterns``;
    stacked (D, KB D W + KB W): the products of a block of rows with it, (Lambda_k x_c)_d at
    (kb D + d) W + j and s_k^T x_c at KB D W + kb W + j, are taken into ``block`` a few hundred rows
    at a time, each block read while it is in the core's cache; shifted (KB, D, W) s_k =
    Lambda_k (mu_k - g), shifted_quad (KB, W) (mu_k - g)^T s_k; constant (P, K). With
    r = x_c - (mu_k - g) and t = Lambda_k x_c - s_k:

        r^T t = x_c^T Lambda_k x_c - 2 s_k^T x_c + (mu_k - g)^T s_k

    (the expanded form, whose rounding the caller bounds). Every row misses at least one entry."""
    n, D = xc.shape
    KB = shifted.shape[0]
    K = log_rho.shape[1]
    linear = KB * D * W  # where the s_k^T x_c begin in a row of products
    idx = np.empty(D, dtype=np.int64)
    q = np.empty(W)
    s = np.empty(W)
    y = np.empty((D, W))
    rows = block.shape[0]
    m = 0
    for i in range(n):
        if i % rows == 0:
            np.dot(xc[i:min(i + rows, n)], stacked, block[:min(rows, n - i)])
        products = block[i % rows]
        p = pattern[i]
        if i == 0 or p != pattern[i - 1]:  # the rows of a pattern are consecutive
            m = _indices(patterns, p, idx)
        for kb in range(KB):
            for j in range(W):  # r^T t, r = x_c - (mu_k - g), t = Lambda_k r
                q[j] = shifted_quad[kb, j] - 2.0 * products[linear + kb * W + j]
            row = kb * D * W
            for d in range(D):
                x = xc[i, d]
                for j in range(W):
                    q[j] += x * products[row + d * W + j]
            base = offsets[p] + kb * m * m * W
            ybase = yoffsets[i] + kb * m * W
            for a in range(m):  # y = L^{-1} t_m
                ia = idx[a]
                for j in range(W):
                    s[j] = products[row + ia * W + j] - shifted[kb, ia, j]
                for c in range(a):
                    for j in range(W):
                        s[j] -= factor[base + (a * m + c) * W + j] * y[c, j]
                for j in range(W):
                    y[a, j] = s[j] * factor[base + (a * m + a) * W + j]
                    q[j] -= y[a, j] * y[a, j]
                    ys[ybase + a * W + j] = y[a, j]
            for j in range(min(W, K - kb * W)):
                log_rho[i, kb * W + j] = constant[p, kb * W + j] - 0.5 * max(q[j], 0.0)


@_jit
def kept_pairs(wresp, weight, floor, counts):
    """counts (K,) += the number of rows n with wr_nk > floor w_n, per component (in place)."""
    n, K = wresp.shape
    for i in range(n):
        for k in range(K):
            if wresp[i, k] > floor * weight[i]:
                counts[k] += 1


@_jit
def completed_rows(xc, pattern, patterns, means_c, offsets, factor, yoffsets, ys, wresp, weight, floor, cursor, mass,
                   rows, flat):
    """For each (row, component) pair with wr_nk > floor w_n, in the order of the rows: the
    completed row about mu_k, z = x_hat_nk - mu_k (x_o - mu_k,o, and delta = r_m - C t_m on m,
    C t_m = L^{-T} y), written to rows[cursor[k]] and its place k n + i in the (K, n) layout to
    flat[cursor[k]] (then cursor[k] += 1), and mass (P, K) += wr_nk per pattern (the conditional
    covariances are added per pattern by ``add_conditional_covariances``). Arguments as
    ``observed_log_rho``; wresp (n, K); rows (pairs, >= D)."""
    n, D = xc.shape
    K = wresp.shape[1]
    idx = np.empty(D, dtype=np.int64)
    x = np.empty(D)
    for i in range(n):
        p = pattern[i]
        m = -1
        for k in range(K):
            wr = wresp[i, k]
            if not (wr > floor * weight[i]):
                continue
            if m < 0:
                m = _indices(patterns, p, idx)
            kb, j = k // W, k % W
            base = offsets[p] + kb * m * m * W + j
            ybase = yoffsets[i] + kb * m * W + j
            mass[p, k] += wr
            out = cursor[k]
            cursor[k] += 1
            flat[out] = k * n + i
            for d in range(D):  # r = x_c - (mu_k - g): x_o - mu_k,o, and -(mu_k - g)_m on m
                rows[out, d] = xc[i, d] - means_c[kb, d, j]
            for a in range(m - 1, -1, -1):  # x = L^{-T} y = C t_m; delta = r_m - x
                s = ys[ybase + a * W]
                for c in range(a + 1, m):
                    s -= factor[base + (c * m + a) * W] * x[c]
                x[a] = s * factor[base + (a * m + a) * W]
                rows[out, idx[a]] -= x[a]


@_jit
def add_conditional_covariances(patterns, offsets, factor, mass, scatter):
    """scatter[k][m, m] += mass_pk C_pk for every pattern p and component k with mass,
    C = Lambda_mm^{-1} = L^{-T} L^{-1} from the factor of ``pattern_factors``."""
    P, D = patterns.shape
    K = mass.shape[1]
    idx = np.empty(D, dtype=np.int64)
    inv = np.zeros((D, D))
    for p in range(P):
        m = _indices(patterns, p, idx)
        for k in range(K):
            if not mass[p, k] > 0.0:
                continue
            kb, j = k // W, k % W
            base = offsets[p] + kb * m * m * W + j
            for b in range(m):  # L^{-1}, lower triangular, column by column
                inv[b, b] = factor[base + (b * m + b) * W]
                for a in range(b + 1, m):
                    s = 0.0
                    for c in range(b, a):
                        s -= factor[base + (a * m + c) * W] * inv[c, b]
                    inv[a, b] = s * factor[base + (a * m + a) * W]
            weight = mass[p, k]
            for a in range(m):  # C_ab = sum_c L^{-1}_ca L^{-1}_cb, c >= a >= b; symmetric
                for b in range(a + 1):
                    s = 0.0
                    for c in range(a, m):
                        s += inv[c, a] * inv[c, b]
                    scatter[k, idx[a], idx[b]] += weight * s
                    if b != a:
                        scatter[k, idx[b], idx[a]] += weight * s


@_jit
def unsort_rows(order, wresp, log_norm, out_wresp, out_log_norm):
    """out_wresp[order[j]] = wresp[j] and out_log_norm[order[j]] = log_norm[j] (in place)."""
    for j in range(order.shape[0]):
        i = order[j]
        out_log_norm[i] = log_norm[j]
        for k in range(wresp.shape[1]):
            out_wresp[i, k] = wresp[j, k]
