"""Binary (0/1) input: the checks that name the first non-binary entry, in memory, sparse or chunk by
chunk, and ``binarize`` applied to lazily read X. Shared by BernoulliMixture and BernoulliHMM."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .validation_chunked import check_finite_chunk, first_bad_entry

# Rows per block when checking that dense X is binary (bounds the temporary boolean array).
_CHECK_BLOCK_ELEMENTS = 2**22


def is_binary(X: np.ndarray) -> np.ndarray:
    """Entrywise: is x 0 or 1 (False for NaN)."""
    return (X == 0) | (X == 1)


def non_binary_message(what: str, bad: tuple, lazy: bool) -> str:
    row, column, value = bad
    remedy = "" if lazy else " or pass binarize=threshold"
    return (f"X must be binary (0/1) for {what}; X[{row}, {column}] = {value!r}. Binarise it first "
            f"(e.g. X > threshold){remedy}")


def check_binary_chunk(X: np.ndarray, start: int, what: str) -> None:
    """A chunk of lazy X read at row ``start``: finite, then binary; the error names the row."""
    check_finite_chunk(X, start)
    bad = first_bad_entry(X, is_binary, start)
    if bad is not None:
        raise ValueError(non_binary_message(what, bad, lazy=True))


class Binarized:
    """Out-of-core X > t, thresholded as rows are read; a non-finite value is kept as it is, so
    that the chunk's finite check still names it (as the in-memory check would)."""

    def __init__(self, data, threshold):
        self.data = data
        self.threshold = threshold
        self.shape = tuple(data.shape)
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, rows):
        raw = np.asarray(self.data[rows])
        return np.where(np.isfinite(raw), raw > self.threshold, raw).astype(np.float64)


def binarized_dask(X, threshold):
    """The dask form of ``Binarized``: lazily, x > t where x is finite, else x (float64)."""
    import dask.array as da  # X is a dask array: dask is imported already

    return da.where(da.isfinite(X), X > threshold, X).astype(np.float64)


def first_non_binary(X):
    """(row, column, value) of the first entry of X that is not 0 or 1, or None."""
    if sparse.issparse(X):
        bad = np.flatnonzero((X.data != 0) & (X.data != 1))
        if not bad.size:
            return None
        row = int(np.searchsorted(X.indptr, bad[0], side="right") - 1)
        return row, int(X.indices[bad[0]]), X.data[bad[0]].item()
    if X.dtype.kind == "b":
        return None
    block = max(1, _CHECK_BLOCK_ELEMENTS // max(1, X.shape[1]))
    for start in range(0, X.shape[0], block):
        rows = X[start : start + block]
        bad = np.argwhere((rows != 0) & (rows != 1))
        if bad.size:
            r, c = bad[0]
            return start + int(r), int(c), rows[r, c].item()
    return None
