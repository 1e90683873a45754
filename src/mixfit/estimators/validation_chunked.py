"""The boundary for data read in chunks: out-of-core arrays and dask arrays.

An in-memory ndarray goes through scikit-learn's ``validate_data`` (``validation.validate_X``).
Anything else that offers ``shape``, ``dtype`` and row slicing (a ``numpy.memmap``, a zarr array,
an h5py dataset) or a ``dask.array`` is never converted whole: its shape and dtype are checked
from metadata, the feature bookkeeping (``n_features_in_``, ``feature_names_in_``) is scikit-
learn's own (``validate_data(..., skip_check_array=True)``), and the values are checked by one
chunked pass whose summary (``RowScan``) adds like the models' statistics, so any backend
computes it with its ``map_reduce``. Predictions check each chunk as it is read, in the pass that
predicts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import validate_data

from ..backends.inputs import RowReader, is_dask_array

# The dtypes a fit runs in: float32 stays float32, float64 stays float64, integers and booleans
# become float64 chunk by chunk (as scikit-learn converts them whole).
_KEPT = (np.dtype(np.float64), np.dtype(np.float32))


def fit_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype in _KEPT:
        return dtype
    if dtype.kind in "biuf":
        return np.dtype(np.float64)
    kind = "complex" if dtype.kind == "c" else "non-numeric"
    raise ValueError(f"X has {kind} dtype {dtype}; expected real numbers (float, integer or bool)")


def check_chunked_X(estimator, X, *, reset: bool, min_samples: int = 1, dtype=None):
    """Metadata checks and feature bookkeeping of a chunked X, reading no value. Returns what the
    backends read: a dask array in the fit's dtype (lazily cast), or a ``RowReader``. ``dtype``:
    the float dtype to read real X as (None: float32 stays float32, the rest float64)."""
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(f"X has shape {shape}; expected a 2-D array (n_samples, n_features)")
    if any(isinstance(n, float) and np.isnan(n) for n in shape):
        raise ValueError("X is a dask array with unknown chunk sizes; expected known row blocks "
                         "(call X.compute_chunk_sizes() first)")
    kept = fit_dtype(X.dtype)  # refuses complex and non-numeric X
    dtype = kept if dtype is None else np.dtype(dtype)
    n_samples, n_features = (int(n) for n in shape)
    if n_samples < min_samples:
        raise ValueError(f"X has n_samples = {n_samples} rows (shape {shape}); expected at least "
                         f"{min_samples}")
    if n_features < 1:
        raise ValueError(f"X has shape {shape}; expected at least 1 feature")
    validate_data(estimator, X, skip_check_array=True, reset=reset)
    if is_dask_array(X):
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})  # a row block holds whole rows
        return X.astype(dtype, copy=False)
    return RowReader(X, dtype)


def _nonfinite_message(X: np.ndarray) -> str:
    """scikit-learn's wording, so that every backend raises the same error."""
    if np.isnan(X).any():
        return "Input X contains NaN."
    return f"Input X contains infinity or a value too large for {X.dtype!r}."


def check_finite_chunk(X: np.ndarray, start: int = 0) -> None:
    """Raise, naming X, if the chunk holds NaN or infinity (the rows start at ``start``)."""
    if not np.isfinite(X).all():
        row = start + int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise ValueError(f"{_nonfinite_message(X)} (first at row {row})")


@dataclass(frozen=True, eq=False)
class RowScan:
    """What one chunked pass learns about X (and its weights): the first non-finite row and its
    kind, the per-feature range (D,), and the weights' bad entries, positive count and sum.
    ``+`` merges two scans of disjoint row ranges, in either order."""

    bad_row: float  # first row holding NaN or infinity; inf if none
    bad_message: str
    low: np.ndarray  # (D,) float64 min over rows
    high: np.ndarray  # (D,) float64 max over rows
    weight_bad: int  # weights that are NaN, infinite or negative
    weight_positive: int
    weight_sum: float
    n_missing: int = 0  # NaN entries, counted when they are allowed (missing values)

    def __add__(self, other: RowScan) -> RowScan:
        first = self if self.bad_row <= other.bad_row else other
        return RowScan(first.bad_row, first.bad_message, np.minimum(self.low, other.low),
                       np.maximum(self.high, other.high), self.weight_bad + other.weight_bad,
                       self.weight_positive + other.weight_positive, self.weight_sum + other.weight_sum,
                       self.n_missing + other.n_missing)


def scan_chunk(X: np.ndarray, w: np.ndarray | None, start: int, allow_missing: bool = False) -> RowScan:
    """``allow_missing``: NaN marks a missing entry; a row is bad if it holds infinity or
    observes nothing (the error of ``validation_missing.check_observed_rows``)."""
    bad_row, message = np.inf, ""
    if allow_missing:
        infinite, empty = np.isinf(X).any(axis=1), np.isnan(X).all(axis=1)
        finite = ~(infinite | empty)
        if not finite.all():
            bad_row = start + int(np.flatnonzero(~finite)[0])
            message = (f"Input X contains infinity or a value too large for {X.dtype!r}." if infinite.any()
                       and bad_row - start == int(np.flatnonzero(infinite)[0]) else
                       f"X row {bad_row} has no observed value (every entry is NaN); expected at least "
                       "one observed feature per row.")
    else:
        finite = np.isfinite(X).all(axis=1)  # (n,)
        if not finite.all():
            bad_row = start + int(np.flatnonzero(~finite)[0])
            message = _nonfinite_message(X)
    rows = X if bad_row == np.inf else X[finite]
    if allow_missing and rows.shape[0]:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a column missing in every row of the chunk
            low, high = np.nanmin(rows, axis=0), np.nanmax(rows, axis=0)
        low, high = np.where(np.isnan(low), np.inf, low), np.where(np.isnan(high), -np.inf, high)
    elif rows.shape[0]:
        low, high = rows.min(axis=0), rows.max(axis=0)
    else:
        low, high = np.full(X.shape[1], np.inf), np.full(X.shape[1], -np.inf)
    weight_bad = weight_positive = 0
    weight_sum = float(X.shape[0])
    if w is not None:
        ok = np.isfinite(w) & (w >= 0)
        weight_bad = int(w.shape[0] - np.count_nonzero(ok))
        weight_positive = int(np.count_nonzero(ok & (w > 0)))
        weight_sum = float(np.where(ok, w, 0).sum(dtype=np.float64))
    n_missing = int(np.count_nonzero(np.isnan(X))) if allow_missing else 0
    return RowScan(bad_row, message, low.astype(np.float64), high.astype(np.float64),
                   weight_bad, weight_positive, weight_sum, n_missing)


def scan_rows(source, allow_missing: bool = False) -> RowScan:
    """One pass over the source's rows (each read once); ``allow_missing``: NaN is a missing entry."""
    return source.map_reduce(lambda X, w, start: scan_chunk(X, w, start, allow_missing), offsets=True)


@dataclass(frozen=True, eq=False)
class EntryScan:
    """A ``RowScan`` and the first entry (row, column, value) that fails a model's own check of
    the values (binary for Bernoulli, integer symbols for categorical); row inf if none."""

    rows: RowScan
    bad_row: float
    bad_column: int
    bad_value: object

    def __add__(self, other: EntryScan) -> EntryScan:
        first = self if self.bad_row <= other.bad_row else other
        return EntryScan(self.rows + other.rows, first.bad_row, first.bad_column, first.bad_value)


def first_bad_entry(X: np.ndarray, entry_ok, start: int = 0):
    """(row, column, value) of the first entry of the chunk where ``entry_ok(X)`` (a boolean
    array of X's shape) is False, the row counted from ``start``; None if there is none."""
    bad = np.argwhere(~entry_ok(X))
    if not bad.size:
        return None
    r, c = bad[0]
    return start + int(r), int(c), X[r, c].item()


def scan_entries(source, entry_ok=None) -> EntryScan:
    """One pass: the ``RowScan`` and the first entry failing ``entry_ok`` (None: no such check)."""

    def accumulate(X, w, start):
        bad = None if entry_ok is None else first_bad_entry(X, entry_ok, start)
        return EntryScan(scan_chunk(X, w, start), *((np.inf, -1, None) if bad is None else bad))

    return source.map_reduce(accumulate, offsets=True)


def check_dask_sample_weight(sample_weight, n_samples: int):
    """Metadata checks of dask sample weights; their values are checked by the scan."""
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n_samples:
        raise ValueError(f"sample_weight has shape {sample_weight.shape}; expected (n_samples,) = "
                         f"({n_samples},)")
    if sample_weight.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight has dtype {sample_weight.dtype}; expected real numbers")
    return sample_weight


def check_scan(scan: RowScan, n_components: int, weighted: bool) -> None:
    """The errors of the in-memory path, from a scan: X finite, weights valid, enough positive
    weights (the scan's weights are checked here only when they were not checked in memory)."""
    if np.isfinite(scan.bad_row):
        raise ValueError(f"{scan.bad_message} (first at row {int(scan.bad_row)})")
    if not weighted:
        return
    if scan.weight_bad:
        raise ValueError(f"sample_weight has {scan.weight_bad} entries that are NaN, infinite or "
                         "negative; expected finite weights >= 0")
    if not scan.weight_sum > 0:
        raise ValueError("sample_weight is zero for every row; expected at least one positive weight")
    if scan.weight_positive < n_components:
        raise ValueError(f"sample_weight has {scan.weight_positive} positive entries; expected at least "
                         f"n_components = {n_components}")
