"""The numba-compiled centring of a chunk (imported on first use, never by ``import mixfit``;
scratch.py's ``centred_if_complete`` asks for it only where numba is loaded already). Cached on
disk; releases the GIL, so an ArraySource's threads run chunks in parallel."""

from __future__ import annotations

import math

import numba


@numba.njit(cache=True, nogil=True, inline="always")
def centre_row_into(X, i, centre, out, offset):
    """out[i, offset + d] = X[i, d] - centre[d] for every d, rounded to out's dtype; the number of
    NaN entries of the row X[i] (inlined into each loop that calls it)."""
    missing = 0
    for d in range(X.shape[1]):
        x = X[i, d]
        missing += math.isnan(x)
        out[i, offset + d] = x - centre[d]
    return missing


@numba.njit(cache=True, nogil=True)
def centred_into(X, centre, out):
    """out = X - centre (n, D), and the number of NaN entries of X, in one read of X."""
    missing = 0
    for i in range(X.shape[0]):
        missing += centre_row_into(X, i, centre, out, 0)
    return missing
