"""The diag E-step's row features [(x - g)^2, x - g, 1] (``row_features``) in one pass over the
centred rows.

numpy writes them in three: a copy of the centred rows into the feature buffer, the squares
from that copy, and the column of ones; each a strided write into the (n, 2D + 1) buffer.
Where numba is installed, one compiled loop reads each centred row once and writes its 2D + 1
features together (``features_into``, in diag_fused_compiled.py): measured at (7281, 32)
float64 on one thread, 136 us against numpy's 180 us (the rows already centred). The
numbers are the same: each square is the one product x_d * x_d in the rows' dtype. In a fit's
float64 chunks where the compiled E product runs (``row_features.compiled_product``), the
features are formed inside that product's pass instead (``row_features.centred_log_kernel``),
with the same numbers.

The moments about g, wr^T @ features (K, L), are one product over every (row, component) pair;
in a well separated mixture most pairs carry no weight worth adding (the benchmark's (1e6, 32,
16): one component per row). ``moment_sums`` then adds, per component, only the rows whose
weight exceeds 2^-64 of the component's mass in the chunk N_k (``sparse_sums_into``): what it
leaves out is less than n 2^-64 N_k of mass (~4e-16 N_k for a chunk of 7281 rows, below
float64's rounding of the sum), times the rows' features, which the exponential decay of a
component's responsibilities with distance keeps smaller than the kept rows'. It falls back to
the product where more than an eighth of the pairs pass, or a mass is NaN (the product
propagates it). Measured at (7281, 32, 16), one thread, random pairs: 145 us at one pair in 16
and 310 us at one in 8, against the product's 430 us; 560 us at one in 5 (a mispredicted branch
per pair), hence the eighth. The loop runs row by row, so that each row's features are read once
and in order, into K accumulators of 2D values (8 KiB at D = 32, in the core's L1 cache), and
gives up after 128 rows where the pairs pass at more than 5/4 of an eighth (a dense chunk, told
from its first rows alone: ~2 us before the product). Each row's pairs are found first, by a pass along each component's
column that vectorises (how many pass in the row, and the last that does), so that a row with
one pair goes straight to its component: no compare per component in the row loop, and no
branch on which component it is, whose misprediction (about one a row in a well separated
mixture) was most of the loop's time. On the benchmark's chunks (one pair a row) the sums cost
~105 us against ~190 us when each row tested its K components (a whole chunk's E-step one thread:
1134 -> 1046 us, 500 alternations); the same sums bit for bit (tests/test_sparse_sums.py).
"""

from __future__ import annotations

import numpy as np

from .numba_switch import NUMBA as COMPILED
from .scratch import centred_if_complete, scratch

# Pairs below this fraction of their component's largest weight in the chunk are not added, and
# the sparse sums are taken where at most this share of the pairs is added (see above).
_SPARSE_RATIO = 2.0**-64
_SPARSE_SHARE = 1 / 8
# Rows from which the compiled loops are used: below it numpy's three calls cost microseconds, and
# a small fit does not import numba for them.
_COMPILED_MIN_ROWS = 1024


def squared_row_features(Xc: np.ndarray) -> np.ndarray:
    """This thread's (n, 2D + 1) feature buffer (``row_features.row_features``'s, by name) in
    Xc's dtype, filled with [Xc^2, Xc, 1]."""
    n, D = Xc.shape
    features = scratch("row_features", (n, 2 * D + 1), Xc.dtype)
    if COMPILED and n >= _COMPILED_MIN_ROWS and Xc.dtype.kind == "f":
        from .diag_fused_compiled import features_into  # optional: numba, imported on first use

        features_into(Xc, features)
        return features
    features[:, D:2 * D] = Xc
    features[:, -1] = 1
    np.multiply(Xc, Xc, out=features[:, :D])
    return features


def centred_row_features(X: np.ndarray, centre: np.ndarray) -> np.ndarray | None:
    """``squared_row_features(X - centre)``, or None where X has a NaN entry: where the compiled
    loops are used, one read of X that writes the features without the centred rows in between
    (``centred_features_into``: measured at (7281, 32) float64 on one thread, 173 us against 220
    us for ``centred_into`` then ``features_into``); the same numbers."""
    n, D = X.shape
    if COMPILED and n >= _COMPILED_MIN_ROWS and X.dtype.kind == "f":
        from .diag_fused_compiled import centred_features_into  # optional: numba, imported on first use

        features = scratch("row_features", (n, 2 * D + 1), X.dtype)
        return None if centred_features_into(X, np.asarray(centre), features) else features
    Xc = centred_if_complete(X, centre)
    return None if Xc is None else squared_row_features(Xc)


def moment_sums(wresp: np.ndarray, features: np.ndarray, width: int, mass: np.ndarray) -> np.ndarray:
    """wresp^T @ features[:, :width], (K, width) float64, for float64 weighted responsibilities
    (n, K), their column sums ``mass`` (K,) and features (n, >= width): from the pairs that carry
    weight where they are few (see above), else the product."""
    n, K = wresp.shape
    if (COMPILED and n >= _COMPILED_MIN_ROWS and wresp.dtype == np.float64 and features.dtype == np.float64
            and wresp.flags.f_contiguous and features.flags.c_contiguous):
        from .diag_fused_compiled import sparse_sums_into  # optional: numba

        out = np.empty((K, width))
        if sparse_sums_into(wresp.T, features, mass, _SPARSE_RATIO, int(n * K * _SPARSE_SHARE), out):
            return out
    return wresp.T @ features[:, :width]
