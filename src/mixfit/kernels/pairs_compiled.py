"""The numba-compiled pair products of the packed quadratic form (imported on first use, never by
``import mixfit``; expanded_forms.py asks for it only where numba is installed).

``pair_products_into`` writes the (M + D, m) features of m centred rows, the same numbers in the
same order as ``expanded_forms.pair_products``: rows x_i x_j for i <= j (numpy's triu_indices
order), then the rows x_i. It is called on a few hundred rows at a time, so that the block it
writes is still in the core's cache when the product with the coefficients reads it (numpy's
D separate broadcasts write the whole chunk's features first, which then streams through
memory twice). Cached on disk; releases the GIL, so an ArraySource's threads run it in parallel.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def pair_products_into(rows, out):
    """out[:, :m] = the pair products and the entries of rows (m, D), transposed."""
    m, D = rows.shape
    XT = np.empty((D, m), dtype=rows.dtype)  # the rows transposed: every write below is contiguous
    for r in range(m):
        for i in range(D):
            XT[i, r] = rows[r, i]
    p = 0
    for i in range(D):
        for j in range(i, D):
            for r in range(m):
                out[p, r] = XT[i, r] * XT[j, r]
            p += 1
    for i in range(D):
        for r in range(m):
            out[p, r] = XT[i, r]
        p += 1
