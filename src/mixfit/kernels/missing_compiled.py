"""The numba-compiled per-row blocks of the observed-data E-step (imported on first use, never by
``import mixfit``; models/missing.py asks for it only where numba is installed).

At 20 % missing over 16 coordinates almost every row has its own missingness pattern, so grouping
rows by pattern (numpy's path) shares nothing and pays a batched call per pattern. Here one loop
over rows and components does, for row n with missing coordinates m and component k, on the
small block Lambda_k,mm (docs/math/conditional.md#em-with-missing-values):

    Lambda_mm = L L^T                       (Cholesky, in place, m x m)
    y = L^{-1} v,  v = (Lambda_k r0_nk)_m    quad_nk -= y^T y         (= v^T Lambda_mm^{-1} v)
    delta_nk = -L^{-T} y                     (2.81, precision form)
    ln |Lambda_mm|^(1/2) = sum_i ln L_ii
    C_nk = Lambda_mm^{-1} = L^{-T} L^{-1}    (2.82), kept packed for the moments

the same numbers as the batched numpy path up to rounding. ``add_conditional_covariances`` adds
sum_n wr_nk C_nk into each component's scatter once the responsibilities are known. Cached on
disk; releases the GIL, so an ArraySource's threads run chunks in parallel.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
def conditional_blocks(x0, missing, means, precision, z, quad, log_det_mm, cond, offsets):
    """Per row n and component k, written in place: z[k, n] (K, n, D) = x_hat_nk - mu_k (x_o - mu_o
    and delta), quad (the Mahalanobis distance over the observed coordinates, r0^T Lambda r0 - v^T C v),
    log_det_mm (ln |Lambda_mm|^(1/2)) and C (row-major m x m, at cond[offsets[n] + k m^2]).
    x0 (n, D) is X with 0 for NaN. A block that is not positive definite leaves NaN in log_det_mm."""
    n, D = x0.shape
    K = means.shape[0]
    idx = np.empty(D, dtype=np.int64)
    r = np.empty(D)
    u = np.empty(D)
    lower = np.zeros((D, D))
    inv = np.zeros((D, D))
    y = np.empty(D)
    dinv = np.empty(D)
    x = np.empty(D)
    for i in range(n):
        m = 0
        for d in range(D):
            if missing[i, d]:
                idx[m] = d
                m += 1
        for k in range(K):
            for d in range(D):  # r0 = x - mu_k on the observed coordinates, 0 on the missing
                r[d] = 0.0 if missing[i, d] else x0[i, d] - means[k, d]
                z[k, i, d] = r[d]
            q = 0.0
            for a in range(D):  # u = Lambda_k r0, q = r0^T Lambda_k r0 (over the observed coordinates)
                s = 0.0
                for b in range(D):
                    s += precision[k, a, b] * r[b]
                u[a] = s
                q += r[a] * s
            ok = True
            for a in range(m):  # Cholesky-Banachiewicz: Lambda_mm = L L^T
                for b in range(a + 1):
                    s = precision[k, idx[a], idx[b]]
                    for c in range(b):
                        s -= lower[a, c] * lower[b, c]
                    if a == b:
                        if not s > 0.0:
                            ok = False
                            s = np.nan
                        lower[a, a] = math.sqrt(s)
                        dinv[a] = 1.0 / lower[a, a]  # multiplications below, not divisions
                    else:
                        lower[a, b] = s * dinv[b]
            det = 1.0
            for a in range(m):
                det *= lower[a, a]
            if det > 0.0 and det < np.inf:  # one logarithm; by the sum of logarithms where it over/underflows
                log_det = math.log(det)
            else:
                log_det = 0.0
                for a in range(m):
                    log_det += math.log(lower[a, a])
            log_det_mm[i, k] = log_det if ok else np.nan
            for a in range(m):  # y = L^{-1} v
                s = u[idx[a]]
                for c in range(a):
                    s -= lower[a, c] * y[c]
                y[a] = s * dinv[a]
                q -= y[a] * y[a]
            quad[i, k] = q
            for a in range(m - 1, -1, -1):  # x = L^{-T} y = Lambda_mm^{-1} v; delta = -x
                s = y[a]
                for c in range(a + 1, m):
                    s -= lower[c, a] * x[c]
                x[a] = s * dinv[a]
                z[k, i, idx[a]] = -x[a]
            for b in range(m):  # L^{-1}, lower triangular, column by column
                inv[b, b] = dinv[b]
                for a in range(b + 1, m):
                    s = 0.0
                    for c in range(b, a):
                        s -= lower[a, c] * inv[c, b]
                    inv[a, b] = s * dinv[a]
            base = offsets[i] + k * m * m
            for a in range(m):  # C = L^{-T} L^{-1}, symmetric
                for b in range(a + 1):
                    s = 0.0
                    for c in range(a, m):
                        s += inv[c, a] * inv[c, b]
                    cond[base + a * m + b] = s
                    cond[base + b * m + a] = s


@numba.njit(cache=True, nogil=True)
def add_conditional_covariances(missing, wresp, cond, offsets, scatter):
    """scatter[k][m, m] += sum_n wr_nk C_nk, C as ``conditional_blocks`` packed it, in place."""
    n, K = wresp.shape
    D = missing.shape[1]
    idx = np.empty(D, dtype=np.int64)
    for i in range(n):
        m = 0
        for d in range(D):
            if missing[i, d]:
                idx[m] = d
                m += 1
        for k in range(K):
            w = wresp[i, k]
            base = offsets[i] + k * m * m
            for a in range(m):
                for b in range(m):
                    scatter[k, idx[a], idx[b]] += w * cond[base + a * m + b]
