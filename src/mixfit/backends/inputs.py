"""What kind of input a source reads: dask arrays, out-of-core arrays, in-memory arrays."""

from __future__ import annotations

import sys

import numpy as np
from scipy import sparse


def is_dask_array(X) -> bool:
    """True for a dask.array.Array; never imports dask (if it is not imported, X is not one)."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def is_chunked(X) -> bool:
    """True for input read in chunks: a memmap, a dask array, or a non-numpy array-like with
    ``shape``, a numpy ``dtype`` and ``__getitem__`` (zarr, h5py). Lists, ndarrays, sparse
    matrices and data frames (no single ``dtype``) take the in-memory path."""
    if isinstance(X, np.memmap) or is_dask_array(X):
        return True
    if isinstance(X, np.ndarray) or sparse.issparse(X) or not hasattr(X, "__getitem__"):
        return False
    try:
        np.dtype(X.dtype)
    except (AttributeError, TypeError):
        return False
    return hasattr(X, "shape")


class RowReader:
    """Row slices of an out-of-core array, converted to the fit's float dtype as they are read.

    ``reader[a:b]`` reads rows a..b-1 (one read of the underlying array); a memmap of the right
    dtype comes back as a view of the mapping, so nothing is copied.
    """

    out_of_core = True

    def __init__(self, data, dtype):
        self.data = data
        self.shape = tuple(int(n) for n in data.shape)
        self.dtype = np.dtype(dtype)
        self.ndim = 2
        self.sequential = bool(getattr(data, "sequential", False))  # read in order, one thread (batches.py)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows):
        return np.asarray(self.data[rows], dtype=self.dtype)
