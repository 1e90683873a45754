"""The numba-compiled pair products of the packed quadratic form (imported on first use, never by
``import mixfit``; expanded.py asks for it only where numba is used and D is large enough for
the loop to beat numpy's broadcasts, ``expanded._COMPILED_MIN_FEATURES``).

``pair_products_into`` writes the (M + D, m) features of m centred rows, the same numbers in the
same order as ``expanded.write_pairs``: the products x_i x_{(i+s) mod D} by cyclic distance s
(``expanded.pair_order``), then the rows x_i. It is called on a few hundred rows at a time, so
that the block it writes is still in the core's cache when the product with the coefficients
reads it. Cached on disk; releases the GIL, so an ArraySource's threads run it in parallel.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def pair_products_into(rows, out):
    """out[:M + D, :m] = the pair products and the entries of rows (m, D), transposed (out may
    have more rows, which are left as they are)."""
    m, D = rows.shape
    M = D * (D + 1) // 2
    XT = out[M:M + D]  # the rows transposed, written first: every write below is contiguous
    for r in range(m):
        for i in range(D):
            XT[i, r] = rows[r, i]
    full = (D + 1) // 2  # the distances s whose products take every i
    h = D // 2
    for i in range(D):  # row i of XT read from the core's cache for all its products
        for s in range(full):
            j = i + s - D if i + s >= D else i + s
            p = s * D + i
            for r in range(m):
                out[p, r] = XT[i, r] * XT[j, r]
        if D % 2 == 0 and i < h:  # s = D/2, taken once (i < D/2)
            p = full * D + i
            for r in range(m):
                out[p, r] = XT[i, r] * XT[i + h, r]
