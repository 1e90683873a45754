"""The boundary of an HMM whose frames may miss entries (NaN, missing at random;
docs/math/hmm.md#missing-frames): real frames where NaN marks a missing entry and infinity is
refused. Unlike a mixture's row, a frame may miss every entry: the chain passes through it."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from ..backends import as_source
from ..backends.imputed import mean_imputed
from ..backends.inputs import is_chunked
from ._base import _check_moments_representable
from .validation import validate_X
from .validation_chunked import check_chunked_X


def _count_missing(X: np.ndarray, start: int = 0) -> int:
    """The NaN entries of a chunk of frames (the first being frame ``start``); ValueError naming X
    and the frame if one holds infinity."""
    infinite = np.isinf(X)
    if infinite.any():
        row = start + int(np.flatnonzero(infinite.any(axis=1))[0])
        raise ValueError(f"Input X contains infinity or a value too large for {X.dtype!r}. (first at row {row}; "
                         "NaN marks a missing value, infinity is not one)")
    return int(np.count_nonzero(np.isnan(X)))


def check_frames_with_missing(estimator, X, reset: bool, chunk_size: int):
    """float64 frames (n, D), NaN entries allowed: (what the sources read, the validation record).

    A memmap, chunked array-like or dask X is checked in one chunked pass and read as it is
    needed, never whole. On ``reset`` the record (a clone) holds ``_has_missing``, whether any
    entry is NaN, which ``start_frames`` reads."""
    record = clone(estimator) if reset else estimator
    if is_chunked(X):
        frames = check_chunked_X(record, X, reset=reset, dtype=np.float64)
        n_missing = as_source(frames, None, chunk_size).map_reduce(
            lambda chunk, w, start: _count_missing(np.asarray(chunk), start), offsets=True)
    else:
        frames = validate_X(record, X, dtype=np.float64, reset=reset, ensure_all_finite="allow-nan")
        if reset:  # as the mixtures: a scatter that overflows is refused, not reported as a collapse
            _check_moments_representable(frames)
        n_missing = _count_missing(frames)
    if reset:
        record._has_missing = n_missing > 0
    return frames, record


def start_frames(data):
    """The frames the emission's start reads (k-means and the others, a prior's data moments):
    with missing entries, each read as its column's weighted mean (backends/imputed.py), so that no
    start sees NaN as a number; Baum-Welch then reads the frames as they are."""
    frames = data.frames()
    return mean_imputed(frames, data.chunk_frames) if data.record._has_missing else frames
