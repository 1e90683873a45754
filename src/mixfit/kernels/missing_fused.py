"""The numba-compiled observed-data E-step of rows with missing entries, sharing the work of a
pattern across its rows (imported on first use, never by ``import mixfit``; models/missing.py's
``observed_sums`` asks for it only where numba is installed).

Rows are centred on a point g and their missing entries filled with it: x_c = x - g on the
observed coordinates o, 0 on the missing ones m. Then r_k = x_c - (mu_k - g) is the residual of
the filled row (its m entries -(mu_k - g)_m) and t_k = Lambda_k r_k comes from a matrix product,
x_c [Lambda_1 ... Lambda_K] less Lambda_k (mu_k - g). With the partitioned precision
(docs/math/conditional.md#em-with-missing-values), per pattern and component (``pattern_factors``):

    Lambda_mm = L L^T,  ln |Lambda_mm|^(1/2) = sum_a ln L_aa,  c = Lambda_mm (mu_k - g)_m

and per row (``observed_log_rho``), with v = Lambda_mo r_o = t_m + c and y = L^{-1} v:

    quad = r_o^T Lambda_oo r_o - y^T y = r^T t + 2 (mu_k - g)_m^T t_m + (mu_k - g)_m^T c - y^T y

(= r_o^T Sigma_oo^{-1} r_o, the Schur complement). The conditional mean and covariance (2.81),
(2.82) follow from the same factor: delta = E[x_m | x_o, k] - mu_k,m = -L^{-T} y and
C = Lambda_mm^{-1} = L^{-T} L^{-1}. ``completed_rows`` writes the completed row x_hat_nk - mu_k of
each (row, component) pair that carries weight, for one rank update per component (the caller);
``add_conditional_covariances`` adds sum_n wr_nk C_pk once per pattern.

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
def pattern_factors(patterns, precision, means_c, offsets, doffsets, lower, dinv, gain, base_quad, det, log_det):
    """Per pattern p (P, D) and component k = W kb + j, written in place: L of Lambda_k,mm =
    L L^T (entry (a, b) at lower[offsets[p] + ((kb m + a) m + b) W + j]), 1 / L_aa and
    c = Lambda_mm (mu_k - g)_m (at dinv[doffsets[p] + (kb m + a) W + j], gain[...]),
    base_quad (P, K) = (mu_k - g)_m^T c, det (P, K) = |Lambda_k,mm|^(1/2) = prod_a L_aa, or NaN
    and log_det (P, K) its logarithm where that product leaves the normal range. precision
    (KB, D, D, W), means_c (KB, D, W). Returns False where a block is not positive definite."""
    P, D = patterns.shape
    KB = precision.shape[0]
    idx = np.empty(D, dtype=np.int64)
    s = np.empty(W)
    prod = np.empty(W)
    for p in range(P):
        m = _indices(patterns, p, idx)
        for kb in range(KB):
            base = offsets[p] + kb * m * m * W
            dbase = doffsets[p] + kb * m * W
            for j in range(W):
                prod[j] = 1.0
                base_quad[p, kb * W + j] = 0.0
            for a in range(m):  # c = Lambda_mm (mu_k - g)_m and (mu_k - g)_m^T c: the rows' v = t_m + c
                ia = idx[a]
                for j in range(W):
                    s[j] = 0.0
                for b in range(m):
                    ib = idx[b]
                    for j in range(W):
                        s[j] += precision[kb, ia, ib, j] * means_c[kb, ib, j]
                for j in range(W):
                    gain[dbase + a * W + j] = s[j]
                    base_quad[p, kb * W + j] += means_c[kb, ia, j] * s[j]
            for a in range(m):  # Cholesky-Banachiewicz, W blocks side by side
                ia = idx[a]
                for b in range(a + 1):
                    ib = idx[b]
                    for j in range(W):
                        s[j] = precision[kb, ia, ib, j]
                    for c in range(b):
                        ac = base + (a * m + c) * W
                        bc = base + (b * m + c) * W
                        for j in range(W):
                            s[j] -= lower[ac + j] * lower[bc + j]
                    ab = base + (a * m + b) * W
                    if a == b:
                        for j in range(W):
                            root = math.sqrt(s[j])  # NaN where not positive definite
                            lower[ab + j] = root
                            dinv[dbase + a * W + j] = 1.0 / root
                            prod[j] *= root
                    else:
                        for j in range(W):
                            lower[ab + j] = s[j] * dinv[dbase + b * W + j]
            for j in range(W):
                k = kb * W + j
                det[p, k] = prod[j]
                if prod[j] > _TINY and prod[j] < _HUGE:
                    continue
                total = 0.0
                for a in range(m):
                    total += math.log(lower[base + (a * m + a) * W + j])
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
def observed_log_rho(xc, pattern, patterns, stacked, block, means_c, shifted, offsets, doffsets, lower, dinv, gain,
                     base_quad, constant, yoffsets, ys, log_rho, weight, floor, log_norm, counts):
    """log_rho (n, K) = constant[p, k] - quad / 2 per row n (of pattern p) and component k, with
    quad = r_o^T Sigma_k,oo^{-1} r_o (at least 0), and y = L^{-1} v (row
    n's m entries for k = W kb + j at ys[yoffsets[n] + (kb m + a) W + j]), written in place, from
    the pattern's factors of ``pattern_factors`` (r_m = -(mu_k - g)_m, so -Lambda_mm r_m = c):

        v = t_m + c,  quad = r^T t - r_m^T (v + t_m) - y^T y = r^T t + 2 (mu_k - g)_m^T t_m + base_quad - y^T y

    xc (n, D) x - g, 0 on the missing entries; pattern (n,) each row's pattern in ``patterns``;
    stacked (D, KB D W): the products of a block of rows with it, (Lambda_k x_c)_d at
    (kb D + d) W + j, are taken into ``block`` (B, KB D W) a few hundred rows at a time, each
    block read while it is in the core's cache; means_c and shifted (KB, D, W):
    mu_k - g and Lambda_k (mu_k - g); constant (P, K). Every row misses at least one entry.

    Then each row's ln rho is normalised in place (``normalize_row``): log_rho becomes
    w_n r_nk, log_norm (n,) ln sum_k rho_nk, and counts (K,) += the pairs with w_n r_nk > floor w_n
    (weight (n,): w_n)."""
    n, D = xc.shape
    KB = means_c.shape[0]
    K = log_rho.shape[1]
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
            for j in range(W):
                q[j] = base_quad[p, kb * W + j]
            row = kb * D * W
            for d in range(D):  # r^T t, r = x_c - (mu_k - g), t = Lambda_k r
                x = xc[i, d]
                for j in range(W):
                    q[j] += (x - means_c[kb, d, j]) * (products[row + d * W + j] - shifted[kb, d, j])
            base = offsets[p] + kb * m * m * W
            dbase = doffsets[p] + kb * m * W
            ybase = yoffsets[i] + kb * m * W
            for a in range(m):
                ia = idx[a]
                for j in range(W):
                    t = products[row + ia * W + j] - shifted[kb, ia, j]
                    s[j] = t + gain[dbase + a * W + j]  # v
                    q[j] += 2.0 * means_c[kb, ia, j] * t
                for c in range(a):  # y = L^{-1} v
                    for j in range(W):
                        s[j] -= lower[base + (a * m + c) * W + j] * y[c, j]
                for j in range(W):
                    y[a, j] = s[j] * dinv[dbase + a * W + j]
                    q[j] -= y[a, j] * y[a, j]
                    ys[ybase + a * W + j] = y[a, j]
            for j in range(min(W, K - kb * W)):
                log_rho[i, kb * W + j] = constant[p, kb * W + j] - 0.5 * max(q[j], 0.0)
        log_norm[i] = normalize_row(log_rho[i], weight[i], floor, counts)


@_jit
def normalize_row(a, weight, floor, counts):
    """(9.23) a (K,) = ln rho_k becomes w r_k = w rho_k / sum_j rho_j, in place, as
    kernels/linalg.py's ``normalize_log_rows`` (the exponents floored at -700, a row whose peak is
    not finite keeps it as its ln sum); counts (K,) += [w r_k > floor w]. Returns ln sum_j rho_j."""
    K = a.shape[0]
    peak = a[0]
    for k in range(1, K):  # NaN propagates, as np.maximum
        if math.isnan(a[k]) or a[k] > peak:
            peak = a[k]
    finite = -np.inf < peak < np.inf
    shift = peak if finite else 0.0
    total = 0.0
    for k in range(K):
        e = a[k] - shift
        if e < -700.0:  # noqa: PLR1730 (a NaN passes, as through np.maximum)
            e = -700.0
        a[k] = math.exp(e)
        total += a[k]
    for k in range(K):
        a[k] = a[k] / total * weight
        if a[k] > floor * weight:
            counts[k] += 1
    return shift + math.log(total) if finite else peak


@_jit
def completed_rows(xc, pattern, patterns, means_c, offsets, doffsets, lower, dinv, yoffsets, ys, wresp, weight,
                   floor, cursor, mass, rows, flat):
    """For each (row, component) pair with wr_nk > floor w_n, in the order of the rows: the
    completed row about mu_k, z = x_hat_nk - mu_k (x_o - mu_k,o, and delta = -L^{-T} y on m),
    written to rows[cursor[k]] and its place k n + i in the (K, n) layout to flat[cursor[k]] (then
    cursor[k] += 1), and mass (P, K) += wr_nk per pattern (the
    conditional covariances are added per pattern by ``add_conditional_covariances``). Arguments
    as ``observed_log_rho``; wresp (n, K); rows (pairs, >= D)."""
    n, D = xc.shape
    K = wresp.shape[1]
    idx = np.empty(D, dtype=np.int64)
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
            dbase = doffsets[p] + kb * m * W + j
            ybase = yoffsets[i] + kb * m * W + j
            mass[p, k] += wr
            out = cursor[k]
            cursor[k] += 1
            flat[out] = k * n + i
            for d in range(D):  # x_o - mu_k,o (the filled entries are overwritten below)
                rows[out, d] = xc[i, d] - means_c[kb, d, j]
            for a in range(m - 1, -1, -1):  # L^{-T} y = -delta
                s = ys[ybase + a * W]
                for c in range(a + 1, m):
                    s += lower[base + (c * m + a) * W] * rows[out, idx[c]]
                rows[out, idx[a]] = -s * dinv[dbase + a * W]


@_jit
def add_conditional_covariances(patterns, offsets, doffsets, lower, dinv, mass, scatter):
    """scatter[k][m, m] += mass_pk C_pk for every pattern p and component k with mass,
    C = Lambda_mm^{-1} = L^{-T} L^{-1} from the factors of ``pattern_factors``."""
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
            dbase = doffsets[p] + kb * m * W + j
            for b in range(m):  # L^{-1}, lower triangular, column by column
                inv[b, b] = dinv[dbase + b * W]
                for a in range(b + 1, m):
                    s = 0.0
                    for c in range(b, a):
                        s -= lower[base + (a * m + c) * W] * inv[c, b]
                    inv[a, b] = s * dinv[dbase + a * W]
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
