"""The frames the count HMMs accept: non-negative integer counts (``PoissonHMM``), and counts
whose every frame sums to the same number of trials where one is given (``MultinomialHMM``).

Each check returns (what the sources read, the validation record), as those of hmm_checks.py.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from ..backends import as_source
from ..backends.inputs import is_chunked
from .hmm_checks import check_lazy_frames
from .validation import validate_X


def _is_count(X) -> np.ndarray:
    """Entrywise: is x an integer >= 0 (a count)."""
    return (X >= 0) & (X == np.round(X))


def _count_error(kind: str, row: int, column: int, value) -> ValueError:
    return ValueError(f"X must hold non-negative integer counts for a {kind}; X[{row}, {column}] = {value!r}")


def check_count_frames(estimator, X, reset: bool, chunk_size: int, kind: str):
    """Counts (n, D) as float64 (a new array; the user's X is untouched), or for a memmap or
    array-like X a reader of float64 rows holding them (checked in one chunked pass, never loaded).
    The error names the first entry that is not a non-negative integer."""
    record = clone(estimator) if reset else estimator
    if is_chunked(X):
        reader, scan = check_lazy_frames(record, X, reset, chunk_size, _is_count)
        if np.isfinite(scan.bad_row):
            raise _count_error(kind, int(scan.bad_row), scan.bad_column, scan.bad_value)
        return reader, record
    values = validate_X(record, X, dtype="numeric", reset=reset)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"X has dtype {values.dtype}; expected integer counts (integer, or float holding integers)")
    values = values.astype(np.float64)
    bad = np.argwhere(~_is_count(values))
    if bad.size:
        row, column = (int(i) for i in bad[0])
        raise _count_error(kind, row, column, values[row, column].item())
    return values, record


def _first_total_off(X, chunk_size: int, target):
    """(the first frame whose number of trials is not ``target`` (None: the first frame's), its
    total), or (None, target): one chunked pass where X is not in memory."""
    if isinstance(X, np.ndarray):
        chunks = [X]
    else:
        chunks = (chunk for chunk, _ in as_source(X, None, chunk_size).chunks())
    offset = 0
    for chunk in chunks:
        totals = np.asarray(chunk).sum(axis=1)  # (rows,) n_t
        if target is None:
            target = totals[0]
        off = np.flatnonzero(totals != target)
        if off.size:
            return offset + int(off[0]), int(totals[off[0]])
        offset += totals.shape[0]
    return None, int(target)


def check_trials(X, n_trials, chunk_size: int) -> int | None:
    """The frames' common number of trials: ``n_trials`` where given (every frame must sum to it),
    else the frames' own total where they share one, else None."""
    row, total = _first_total_off(X, chunk_size, n_trials)
    if n_trials is None:
        return total if row is None else None
    if row is not None:
        raise ValueError(f"n_trials={n_trials} but frame {row} of X sums to {total}; expected every frame of "
                         "counts to sum to n_trials (or n_trials=None)")
    return n_trials
