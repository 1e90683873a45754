"""The numba-compiled fused E-step of rows with missing entries: responsibilities and their
weighted moments in one pass, with no (n, K, D) temporaries (imported on first use, never by
``import mixfit``; models/missing.py asks for it only where numba is installed).

Rows are centred on a point g and their missing entries filled with it: x_c = x - g on the
observed coordinates o, 0 on the missing ones m. Then r_k = x_c - (mu_k - g) is the residual of
the filled row (its m entries -(mu_k - g)_m), and t_k = Lambda_k r_k comes from one matrix product over the chunk, x_c [Lambda_1 ... Lambda_K], less Lambda_k (mu_k - g). From r, t and
the small block Lambda_mm, per row and component (the K components side by side, the innermost
loop: a small factorisation is a chain of dependent square roots and divisions, and K of them
interleave) (docs/math/conditional.md#em-with-missing-values):

    v = Lambda_mo r_o = t_m - Lambda_mm r_m
    r_o^T Lambda_oo r_o = r^T t - r_m^T (v + t_m)
    Lambda_mm = L L^T,  y = L^{-1} v
    quad = r_o^T Lambda_oo r_o - y^T y        (= r_o^T Sigma_oo^{-1} r_o, the Schur complement)
    ln |Lambda_mm|^(1/2) = sum_i ln L_ii
    delta = -L^{-T} y                        (2.81: E[x_m | x_o, k] - mu_k,m)
    C = Lambda_mm^{-1} = L^{-T} L^{-1}       (2.82)

``observed_distances`` returns the quadratic forms and the determinants (the caller takes
their logarithms and normalises the responsibilities, vectorised). The completed row about mu_k
is
z = p + e on m, with p = the filled row about mu_k and e = E[x_m | x_o, k] - g_m, so

    sum_n wr_nk z z^T = sum_n wr_nk p p^T + sum_n wr_nk (p e^T + e p^T + e e^T + C)

The first sum is the complete-data moments of the filled rows (the caller's matrix products);
``observed_pair_moments`` adds the second, and sum_n wr_nk e to the first moment, for the (row, component)
pairs whose responsibility is above ``floor`` (a negligible pair adds below float64's
rounding, as in kernels/expanded.py's sparse moments). Cached on disk; releases the GIL, so
an ArraySource's threads run chunks in parallel.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
# Below or above these, a product of the diagonal of L is not trusted to a normal number: the
# pattern's log-determinant is summed from logarithms instead (and its product entry set to NaN).
_TINY, _HUGE = 1e-290, 1e290


@_jit
def pattern_factors(patterns, precision, offsets, doffsets, lower, dinv, det, log_det):
    """Per pattern p (P, D) and component k, written in place: L of Lambda_k,mm = L L^T (entry
    (a, b) at lower[offsets[p] + (k m + a) m + b]), 1 / L_aa (at dinv[doffsets[p] + k m + a]),
    det (P, K) = |Lambda_k,mm|^(1/2) = prod_a L_aa, or NaN and log_det (P, K) its logarithm where
    that product leaves the normal range. precision (K, D, D). Returns False where a block is
    not positive definite."""
    P, D = patterns.shape
    K = precision.shape[0]
    idx = np.empty(D, dtype=np.int64)
    for p in range(P):
        m = _indices(patterns, p, idx)
        for k in range(K):
            base = offsets[p] + k * m * m
            dbase = doffsets[p] + k * m
            prod = 1.0
            for a in range(m):  # Cholesky-Banachiewicz
                ia = idx[a]
                for b in range(a + 1):
                    s = precision[k, ia, idx[b]]
                    for c in range(b):
                        s -= lower[base + a * m + c] * lower[base + b * m + c]
                    if a == b:
                        root = math.sqrt(s)  # NaN where not positive definite
                        lower[base + a * m + a] = root
                        dinv[dbase + a] = 1.0 / root
                        prod *= root
                    else:
                        lower[base + a * m + b] = s * dinv[dbase + b]
            det[p, k] = prod
            if prod > _TINY and prod < _HUGE:
                continue
            total = 0.0
            for a in range(m):
                total += math.log(lower[base + a * m + a])
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
def _solve_lower(i, k, m, idx, products, means_c, shifted, precision, lower, base, dinv, dbase, y):
    """y = L^{-1} v with v = t_m - Lambda_mm r_m (row i, component k); returns r_m^T (v + t_m)."""
    D = means_c.shape[1]
    correction = 0.0
    for a in range(m):
        ia = idx[a]
        t = products[i, k * D + ia] - shifted[k, ia]
        s = t
        for b in range(m):  # r_m = -(mu_k - g)_m
            s += precision[k, ia, idx[b]] * means_c[k, idx[b]]
        correction -= means_c[k, ia] * (s + t)
        for c in range(a):
            s -= lower[base + a * m + c] * y[c]
        y[a] = s * dinv[dbase + a]
    return correction


@_jit
def observed_distances(xc, pattern, patterns, products, means_c, shifted, precision, offsets, doffsets, lower,
                       dinv, quad):
    """quad (n, K) = r_o^T Sigma_k,oo^{-1} r_o per row n and component k, written in place, from
    the factors of ``pattern_factors``:

        r^T t - r_m^T (v + t_m) - y^T y,  y = L^{-1} v

    xc (n, D) x - g, 0 on the missing entries; pattern (n,) each row's pattern in ``patterns``;
    products (n, K D) = (Lambda_k x_c)_d at k D + d; means_c (K, D) mu_k - g; shifted (K, D)
    Lambda_k (mu_k - g); precision (K, D, D). Every row misses at least one entry."""
    n, D = xc.shape
    K = means_c.shape[0]
    idx = np.empty(D, dtype=np.int64)
    y = np.empty(D)
    for i in range(n):
        p = pattern[i]
        m = _indices(patterns, p, idx)
        for k in range(K):
            q = 0.0
            for d in range(D):  # r^T t, r = x_c - (mu_k - g), t = Lambda_k r
                q += (xc[i, d] - means_c[k, d]) * (products[i, k * D + d] - shifted[k, d])
            q -= _solve_lower(i, k, m, idx, products, means_c, shifted, precision, lower,
                              offsets[p] + k * m * m, dinv, doffsets[p] + k * m, y)
            for a in range(m):
                q -= y[a] * y[a]
            quad[i, k] = q


@_jit
def observed_pair_moments(xc, pattern, patterns, products, means_c, shifted, precision, offsets, doffsets,
                          lower, dinv, wresp, weight, floor, mass, first, acc):
    """For the (row, component) pairs with wr_nk > floor w_n: first (K, D) += sum_n wr_nk e_nk,
    acc (K, D, D) += sum_n wr_nk (e p^T + e e^T / 2) and mass (P, K) += wr_nk per pattern (the
    conditional covariances are added per pattern by ``add_conditional_covariances``), so that the
    scatter's part is acc + acc^T (the module's docstring). Arguments as ``observed_distances``."""
    n, D = xc.shape
    K = means_c.shape[0]
    idx = np.empty(D, dtype=np.int64)
    y = np.empty(D)
    e = np.empty(D)
    for i in range(n):
        p = pattern[i]
        m = -1
        for k in range(K):
            wr = wresp[i, k]
            if not (wr > floor * weight[i]):
                continue
            if m < 0:
                m = _indices(patterns, p, idx)
            base = offsets[p] + k * m * m
            dbase = doffsets[p] + k * m
            mass[p, k] += wr
            _solve_lower(i, k, m, idx, products, means_c, shifted, precision, lower, base, dinv, dbase, y)
            for a in range(m - 1, -1, -1):  # L^{-T} L^{-1} v = -delta, in place
                s = y[a]
                for c in range(a + 1, m):
                    s -= lower[base + c * m + a] * y[c]
                y[a] = s * dinv[dbase + a]
            for a in range(m):  # e = (mu_k - g)_m + delta
                e[a] = means_c[k, idx[a]] - y[a]
                first[k, idx[a]] += wr * e[a]
            for a in range(m):
                we = wr * e[a]
                ia = idx[a]
                for d in range(D):  # e p^T, p = the filled row about mu_k
                    acc[k, ia, d] += we * (xc[i, d] - means_c[k, d])
                for b in range(m):  # e e^T / 2
                    acc[k, ia, idx[b]] += 0.5 * we * e[b]


@_jit
def add_conditional_covariances(patterns, offsets, doffsets, lower, dinv, mass, acc):
    """acc[k][m, m] += mass_pk / 2 C_pk for every pattern p and component k with mass,
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
            base = offsets[p] + k * m * m
            dbase = doffsets[p] + k * m
            for b in range(m):  # L^{-1}, lower triangular, column by column
                inv[b, b] = dinv[dbase + b]
                for a in range(b + 1, m):
                    s = 0.0
                    for c in range(b, a):
                        s -= lower[base + a * m + c] * inv[c, b]
                    inv[a, b] = s * dinv[dbase + a]
            half = 0.5 * mass[p, k]
            for a in range(m):
                for b in range(m):
                    s = 0.0
                    for c in range(max(a, b), m):
                        s += inv[c, a] * inv[c, b]
                    acc[k, idx[a], idx[b]] += half * s
