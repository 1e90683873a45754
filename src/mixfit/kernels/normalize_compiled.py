"""The numba-compiled passes of ``linalg.normalize_log_rows`` around numpy's exponential
(imported on first use, never by ``import mixfit``; linalg.py asks for it only where numba is
loaded already and the array is large).

The log weights a_nk of the E-step come column-major (each component's column contiguous, the
layout of the diag, spherical and packed kernels' products), so these loops run over the
columns: ``shift_columns`` forms each row's largest term m_n, then a_nk - m_n raised to the
floor, in one call (numpy: a column loop for the maxima, a broadcast subtraction, a maximum and
a ``where``); numpy's vectorised exponential follows (numba's is a scalar call per entry, ~4x
slower here); ``scale_columns`` sums each row and divides the row by its sum, in one more call;
numpy's vectorised logarithm forms ln p(x_n) = m_n + ln sum_k e^(a_nk - m_n) (7 us for 7281 rows;
numba's scalar one 26 us). The arithmetic is numpy's, entry by entry;
only the order of each row's sum may differ (BLAS's matrix-vector product against a loop), by
rounding. Cached on disk; releases the GIL, so an ArraySource's threads run chunks in parallel.
"""

from __future__ import annotations

import math

import numba

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def shift_columns(at, floor, peak, shift):
    """at (K, n), the transpose of the (n, K) log weights: peak[n] = max_k a_nk (NaN propagates,
    as numpy's maximum), shift[n] = peak[n] where finite else 0, and at[k, n] = max(a_nk -
    shift[n], floor) in place (a NaN stays NaN)."""
    K, n = at.shape
    for i in range(n):
        peak[i] = at[0, i]
    for k in range(1, K):
        for i in range(n):
            v = at[k, i]
            if v > peak[i] or math.isnan(v):
                peak[i] = v
    for i in range(n):
        p = peak[i]
        shift[i] = p if p - p == 0 else 0  # p - p is 0 only for a finite p
    for k in range(K):
        for i in range(n):
            v = at[k, i] - shift[i]
            at[k, i] = floor if v < floor else v  # noqa: FURB136 (a NaN v stays NaN)


@_jit
def scale_columns(at, total):
    """at (K, n) of e^(a_nk - shift[n]): total[n] = each row's sum s_n, and the row divided by it
    in place (the caller forms ln p(x_n) = shift[n] + ln s_n with numpy's vectorised log)."""
    K, n = at.shape
    for i in range(n):
        total[i] = 0
    for k in range(K):
        for i in range(n):
            total[i] += at[k, i]
    for k in range(K):
        for i in range(n):
            at[k, i] /= total[i]
