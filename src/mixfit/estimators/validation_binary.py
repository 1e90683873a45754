"""Binary (0/1) input: the checks that name the first non-binary entry, in memory, sparse or chunk by
chunk, and ``binarize`` applied to X in memory or as lazily read X. Shared by BernoulliMixture and
BernoulliHMM."""

from __future__ import annotations

import numbers

import numpy as np
from scipy import sparse
from sklearn.base import clone

from ..backends.inputs import RowReader, is_chunked, is_dask_array
from .validation import (
    check_positive_weights,
    check_rows,
    check_sample_weight,
    check_warm_features,
    validate_X,
)
from .validation_chunked import (
    check_chunked_X,
    check_dask_sample_weight,
    check_finite_chunk,
    check_scan,
    first_bad_entry,
    scan_entries,
)

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


def check_binarize(value) -> None:
    """``binarize``: None or a finite threshold."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                              or not np.isfinite(value)):
        raise ValueError(f"binarize={value!r}; expected None or a finite threshold")


def working_dtype(X) -> np.dtype:
    """The dtype a Bernoulli fit runs in: float32 for float32 X, float64 otherwise."""
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


def binary_X(record, X, binarize, what: str, reset: bool, **kwargs):
    """Validated in-memory X: dense (dtype kept) or CSR, binary, or binarised when ``binarize`` is
    set; ``record`` takes the feature bookkeeping, ``what`` names the model in the errors."""
    X = validate_X(record, X, accept_sparse="csr", dtype="numeric", reset=reset, **kwargs)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X has dtype {X.dtype}; expected binary data (bool, integer or float 0/1)")
    if binarize is not None:
        if not sparse.issparse(X):
            return X > binarize  # a new bool array; the user's X is untouched
        if binarize < 0:
            raise ValueError(f"binarize={binarize!r} would turn the zeros of a sparse X into ones "
                             "(densifying it); expected a threshold >= 0 for sparse X")
        X = X.copy()
        X.data = X.data > binarize
        X.eliminate_zeros()
        return X
    bad = first_non_binary(X)
    if bad is not None:
        raise ValueError(non_binary_message(what, bad, lazy=False))
    return X


def lazy_binary_X(record, X, binarize, reset: bool):
    """Metadata checks of a memmap, array-like or dask X (no value read): dense, binary, or
    binarised chunk by chunk as it is read when ``binarize`` is set."""
    checked = check_chunked_X(record, X, reset=reset, min_samples=2 if reset else 1)
    if binarize is None:
        return checked
    if is_dask_array(checked):
        # x > t where x is finite; NaN and inf kept, so that the value check still names them
        return binarized_dask(checked, binarize)
    return RowReader(Binarized(X, binarize), np.float64)


def check_lazy_binary_values(X, sample_weight, n_components: int, make_source, what: str):
    """The values of lazy X (after ``lazy_binary_X``) and its weights, checked as the Gaussian
    mixtures check theirs: one chunked pass over ``make_source(X, weights)`` (finite, binary, dask
    weights valid) before anything else reads X. Returns (X, weights)."""
    n_samples = X.shape[0]
    lazy_weights = is_dask_array(sample_weight) and is_dask_array(X)
    if lazy_weights:
        weights = check_dask_sample_weight(sample_weight, n_samples).astype(X.dtype)
    else:
        weights = check_sample_weight(sample_weight, n_samples, X.dtype)
    scan = scan_entries(make_source(X, weights), is_binary)
    check_scan(scan.rows, n_components, weighted=lazy_weights)
    if np.isfinite(scan.bad_row):
        bad = (int(scan.bad_row), scan.bad_column, scan.bad_value)
        raise ValueError(non_binary_message(what, bad, lazy=True))
    return X, weights


def check_binary_fit_input(estimator, X, sample_weight, what: str):
    """X and sample_weight of a Bernoulli fit, checked without touching ``estimator``; returns
    (X, weights, record), ``record`` a clone holding the feature bookkeeping. In memory: binary
    (or binarised) dense or CSR X. Lazy X: the metadata, then one chunked pass over the values
    (``check_lazy_binary_values``) before anything else reads X."""
    record = clone(estimator)
    lazy = is_chunked(X)
    X = (lazy_binary_X(record, X, estimator.binarize, reset=True) if lazy
         else binary_X(record, X, estimator.binarize, what, reset=True, ensure_min_samples=2))
    n_samples, n_features = X.shape
    check_rows(n_samples, estimator.n_components)
    check_warm_features(estimator, n_features, estimator._is_warm())
    if lazy:  # the values (and dask weights), in one chunked pass
        X, weights = check_lazy_binary_values(X, sample_weight, estimator.n_components, estimator._source, what)
    else:
        weights = check_sample_weight(sample_weight, n_samples, working_dtype(X))
    if not is_dask_array(weights):
        check_positive_weights(weights, estimator.n_components)
    return X, weights, record
