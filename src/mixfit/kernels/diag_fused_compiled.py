"""The numba-compiled feature loop of ``diag_fused`` (imported on first use, never by ``import
mixfit``; diag_fused.py asks for it only where numba is installed). Cached on disk; releases the
GIL, so an ArraySource's threads run chunks in parallel."""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def features_into(rows, out):
    """out[n] = [rows[n]^2, rows[n], 1] for the centred rows (n, D) into out (n, 2D + 1)."""
    n, D = rows.shape
    for i in range(n):
        for d in range(D):
            v = rows[i, d]
            out[i, d] = v * v
            out[i, D + d] = v
        out[i, 2 * D] = 1
