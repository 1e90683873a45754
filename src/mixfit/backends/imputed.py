"""A mean-imputed view of a source's rows: what the starts read when X has missing entries (NaN).

A start (k-means, k-means++, random, random_from_data, hierarchical, the data moments of a
prior's defaults) must not see NaN as a number. It reads each missing entry as its column's
weighted mean over the rows that observe it; EM then runs on the rows as they are (the
observed-data E-step). The view is lazy for memmaps, out-of-core arrays and dask; in memory it
is one filled copy, held only while the start runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import as_source
from .inputs import is_dask_array


@dataclass(frozen=True, eq=False)
class _ColumnSums:
    total: np.ndarray  # (D,) sum_n w_n x_nd over observed entries
    weight: np.ndarray  # (D,) sum_n w_n over observed entries
    n_missing: int

    def __add__(self, other: _ColumnSums) -> _ColumnSums:
        return _ColumnSums(self.total + other.total, self.weight + other.weight, self.n_missing + other.n_missing)


def _column_sums(X, w) -> _ColumnSums:
    X = np.asarray(X, dtype=np.float64)
    observed = ~np.isnan(X)
    weights = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    return _ColumnSums(np.where(observed, X, 0.0).T @ weights, observed.T @ weights,
                       int(X.size - np.count_nonzero(observed)))


class _FilledRows:
    """Row slices of X with NaN replaced by ``fill`` (D,), read as they are asked for."""

    out_of_core = True

    def __init__(self, X, fill):
        self.X, self.fill = X, fill
        self.shape, self.dtype, self.ndim = tuple(X.shape), np.dtype(X.dtype), 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows):
        chunk = np.asarray(self.X[rows])
        return np.where(np.isnan(chunk), self.fill, chunk).astype(self.dtype, copy=False)


def mean_imputed(source, chunk_size: int):
    """``source`` itself when no entry is missing, else a source of the same rows and weights
    with each NaN replaced by its column's weighted mean over the observed entries (one pass)."""
    X = source.X
    if source.in_memory and not is_dask_array(X) and not np.isnan(X).any():
        return source
    sums = source.map_reduce(_column_sums)
    if sums.n_missing == 0:
        return source
    # a column with no positive-weight observed entry: 0 (no value to prefer)
    fill = np.where(sums.weight > 0, sums.total / np.where(sums.weight > 0, sums.weight, 1), 0.0).astype(X.dtype)
    if is_dask_array(X):
        import dask.array as da  # optional: dask

        filled = da.where(da.isnan(X), fill, X)
    elif source.in_memory:
        filled = np.where(np.isnan(X), fill, X).astype(X.dtype, copy=False)
    else:
        filled = _FilledRows(X, fill)
    return as_source(filled, source.sample_weight, chunk_size)
