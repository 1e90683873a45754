"""The numba-compiled centring of a chunk (imported on first use, never by ``import mixfit``;
scratch.py's ``centred_if_complete`` asks for it only where numba is loaded already). Cached on
disk; releases the GIL, so an ArraySource's threads run chunks in parallel."""

from __future__ import annotations

import math

import numba


@numba.njit(cache=True, nogil=True)
def centred_into(X, centre, out):
    """out = X - centre (n, D), and the number of NaN entries of X, in one read of X."""
    n, D = X.shape
    missing = 0
    for i in range(n):
        for d in range(D):
            x = X[i, d]
            missing += math.isnan(x)
            out[i, d] = x - centre[d]
    return missing
