"""The boundary for rows with missing values (NaN) in prediction: infinity is refused as
everywhere, and so is a row with nothing observed, naming it (its density is not defined)."""

from __future__ import annotations

import numpy as np


def check_observed_rows(X: np.ndarray, start: int = 0) -> None:
    """Raise, naming X and the row (counted from ``start``), if a row holds infinity or is all NaN.

    Parameters
    ----------
    X : ndarray of shape (n, D)
        Rows (a chunk of them, the first being row ``start`` of the whole array).
    start : int, default=0
        The index of X's first row in the whole array.
    """
    if np.isfinite(X.sum()):  # no NaN and no infinity (one pass, no temporary; the common case)
        return
    infinite = np.isinf(X)
    if infinite.any():
        row = start + int(np.flatnonzero(infinite.any(axis=1))[0])
        raise ValueError(f"Input X contains infinity or a value too large for {X.dtype!r}. (first at row {row}; "
                         "NaN marks a missing value, infinity is not one)")
    empty = np.isnan(X).all(axis=1)
    if empty.any():
        row = start + int(np.flatnonzero(empty)[0])
        raise ValueError(f"X row {row} has no observed value (every entry is NaN); expected at least one "
                         "observed feature per row")
