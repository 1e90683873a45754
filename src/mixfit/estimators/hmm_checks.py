"""The checks at an HMM estimator's boundary: sequence lengths, probability tables, the names of
frozen parameters, and the frames each emission accepts (real, integer symbols, binary).

Each frame check returns (what the sources read, the validation record): the record is a clone of
the estimator holding the feature bookkeeping of a fit (``reset``), or the estimator itself.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from ..backends import as_source
from ..backends.inputs import is_chunked
from .validation import validate_X
from .validation_binary import first_non_binary, is_binary, non_binary_message
from .validation_chunked import check_chunked_X, check_scan, scan_entries

# A row of startprob_init or transmat_init must sum to 1 to within this: they are probabilities
# typed by a user, and the fit renormalises nothing it is given.
_SUM_TOLERANCE = 1e-6


def check_lengths(lengths, n_samples: int) -> np.ndarray:
    """Sequence lengths (B,) of positive integers summing to n_samples; None is one sequence."""
    if lengths is None:
        return np.array([n_samples], dtype=np.intp)
    values = np.asarray(lengths)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"lengths has shape {values.shape}; expected a non-empty 1-D array of integers")
    if values.dtype.kind not in "iu" and not (
            values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values))):
        raise ValueError(f"lengths has dtype {values.dtype}; expected integers")
    values = values.astype(np.intp)
    if np.any(values < 1):
        bad = int(np.flatnonzero(values < 1)[0])
        raise ValueError(f"lengths[{bad}] = {values[bad]}; expected every sequence to hold at least one frame")
    if int(values.sum()) != n_samples:
        raise ValueError(f"lengths sum to {int(values.sum())}; expected the number of rows of X, {n_samples}")
    return values


def check_states(states, n_samples: int, n_components: int) -> np.ndarray | None:
    """Known states (n_samples,) of integers in -1 .. n_components - 1 (-1: unknown), or None.
    None when no frame is labelled (every entry -1): the fit is then the unsupervised one."""
    if states is None:
        return None
    values = np.asarray(states)
    if values.shape != (n_samples,):
        raise ValueError(f"states has shape {values.shape}; expected ({n_samples},), one entry per row of X")
    if values.dtype.kind not in "iu" and not (
            values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values))):
        raise ValueError(f"states has dtype {values.dtype}; expected integers (-1 where a frame's state is unknown)")
    values = values.astype(np.intp)
    bad = np.flatnonzero((values < -1) | (values >= n_components))
    if bad.size:
        raise ValueError(f"states[{int(bad[0])}] = {values[bad[0]]}; expected -1 (unknown) or a state in "
                         f"0 .. n_components - 1 = {n_components - 1}")
    return values if np.any(values >= 0) else None


def check_stochastic(values, name: str, shape: tuple) -> np.ndarray | None:
    """A probability vector or a row-stochastic matrix of ``shape``, or None."""
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    if values.shape != shape:
        raise ValueError(f"{name} has shape {values.shape}; expected {shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{name} must hold finite probabilities >= 0")
    sums = values.sum(axis=-1)
    if not np.allclose(sums, 1.0, rtol=0, atol=_SUM_TOLERANCE):
        raise ValueError(f"{name} must sum to 1 along its last axis; got sums {np.round(sums, 8)}")
    return values


def check_fixed(fixed, allowed: tuple) -> frozenset:
    """The names in ``fixed`` (one name or a tuple of them), each one of ``allowed``."""
    names = (fixed,) if isinstance(fixed, str) else tuple(fixed)
    for name in names:
        if name not in allowed:
            raise ValueError(f"fixed contains {name!r}; expected names from {list(allowed)}")
    return frozenset(names)


def check_enough_frames(X, n_components: int) -> None:
    """At least one frame per state: the emission starts cluster the frames."""
    if X.shape[0] < n_components:
        raise ValueError(f"X has n_samples = {X.shape[0]} frames but n_components = {n_components}; expected "
                         "n_samples >= n_components")


def check_lazy_frames(record, X, reset: bool, chunk_size: int, entry_ok=None):
    """Frames X given as a ``numpy.memmap``, an array-like with ``shape``, ``dtype`` and row
    slicing, or a dask array: the metadata checks and feature bookkeeping (no value read), then
    one chunked pass that checks every value is finite and passes ``entry_ok`` (entrywise, or
    None). Returns (what the sources read: a ``RowReader`` of float64 rows or a float64 dask
    array, the pass's ``EntryScan``); X is never loaded whole."""
    frames = check_chunked_X(record, X, reset=reset, dtype=np.float64)
    scan = scan_entries(as_source(frames, None, chunk_size), entry_ok)
    check_scan(scan.rows, 0, weighted=False)  # NaN or infinity: scikit-learn's message, with the row
    return frames, scan


def check_real_frames(estimator, X, reset: bool, chunk_size: int):
    """float64 frames (n, D). A memmap or array-like X is checked in one chunked pass and read as
    it is needed, never whole."""
    record = clone(estimator) if reset else estimator
    if is_chunked(X):
        return check_lazy_frames(record, X, reset, chunk_size)[0], record
    return validate_X(record, X, dtype=np.float64, reset=reset), record


def _is_symbol(X) -> np.ndarray:
    """Entrywise: is x an integer >= 0 (a categorical symbol)."""
    return (X >= 0) & (X == np.round(X))


def check_symbol_frames(estimator, X, reset: bool, chunk_size: int):
    """Integer symbols (n, 1), below the fitted ``n_symbols_`` unless ``reset``: an intp array, or
    for a memmap or array-like X a reader of float64 rows holding them (checked in one chunked
    pass, never loaded)."""
    record = clone(estimator) if reset else estimator
    # M: as fitted, or as the assigned emissionprob_ says (a model defined without fit)
    limit = None if reset else vars(estimator).get("n_symbols_", np.shape(estimator.emissionprob_)[-1])
    if is_chunked(X):
        if len(X.shape) == 2 and X.shape[1] != 1:
            raise ValueError(f"X has {X.shape[1]} columns; expected one column of integer symbols")
        reader, scan = check_lazy_frames(record, X, reset, chunk_size, _is_symbol)
        if np.isfinite(scan.bad_row):
            raise ValueError(f"X must hold integer symbols >= 0; X[{int(scan.bad_row)}, 0] = {scan.bad_value!r}")
        highest = int(scan.rows.high[0])
        if limit is not None and highest >= limit:
            raise ValueError(f"X holds symbol {highest}; expected symbols < n_symbols = {limit}")
        return reader, record
    values = validate_X(record, X, dtype=np.float64, reset=reset)
    if values.shape[1] != 1:
        raise ValueError(f"X has {values.shape[1]} columns; expected one column of integer symbols")
    if np.any(values < 0) or np.any(values != np.round(values)):
        raise ValueError("X must hold integer symbols >= 0")
    symbols = values.astype(np.intp)
    if limit is not None and symbols.max() >= limit:
        raise ValueError(f"X holds symbol {symbols.max()}; expected symbols < n_symbols = {limit}")
    return symbols, record


def check_n_symbols(X, n_symbols, chunk_size: int) -> int:
    """M: ``n_symbols``, or max(X) + 1 where it is None; every symbol of X must be below it.
    X holds validated symbols, in memory or behind a reader (one chunked pass)."""
    if isinstance(X, np.ndarray):
        highest = int(X.max())
    else:
        highest = max(int(chunk.max()) for chunk, _ in as_source(X, None, chunk_size).chunks())
    n_symbols = highest + 1 if n_symbols is None else n_symbols
    if highest >= n_symbols:
        raise ValueError(f"X holds symbol {highest}; expected symbols < n_symbols = {n_symbols}")
    return n_symbols


def check_binary_frames(estimator, X, reset: bool, chunk_size: int):
    """Binary frames as float64 (n, D) (a new array; the user's X is untouched)."""
    record = clone(estimator) if reset else estimator
    if is_chunked(X):  # a memmap or array-like: checked in one chunked pass, never loaded
        reader, scan = check_lazy_frames(record, X, reset, chunk_size, is_binary)
        if np.isfinite(scan.bad_row):
            bad = (int(scan.bad_row), scan.bad_column, scan.bad_value)
            raise ValueError(non_binary_message("a BernoulliHMM", bad, lazy=True))
        return reader, record
    values = validate_X(record, X, dtype="numeric", reset=reset)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"X has dtype {values.dtype}; expected binary data (bool, integer or float 0/1)")
    bad = first_non_binary(values)
    if bad is not None:
        row, column, value = bad
        raise ValueError(f"X must be binary (0/1) for a BernoulliHMM; X[{row}, {column}] = {value!r}. "
                         "Binarise it first (e.g. X > threshold)")
    return values.astype(np.float64), record
