"""Rows from an in-memory array or a numpy.memmap, served as chunk views (no copies)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator

import numpy as np

# The working set of one chunk: the rows themselves plus the (rows x K*D) whitened block of
# the full-covariance E-step. 8 MiB keeps it inside a last-level cache share while the BLAS
# calls stay long enough to run near peak.
_WORKING_SET_BYTES = 8 * 2**20
_MIN_CHUNK_ROWS = 256


def default_chunk_size(n_features: int, n_components: int, itemsize: int) -> int:
    """Rows per chunk so that one chunk's working set stays near ``_WORKING_SET_BYTES``."""
    per_row = itemsize * (n_features * (n_components + 2) + 3 * n_components)
    return max(_MIN_CHUNK_ROWS, _WORKING_SET_BYTES // per_row)


class ArraySource:
    """A 2-D array (or memmap) and optional per-row weights, read in row chunks."""

    def __init__(self, X: np.ndarray, sample_weight: np.ndarray | None, chunk_size: int):
        self.X = X
        self.sample_weight = sample_weight
        self.chunk_size = int(chunk_size)

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def dtype(self):
        return self.X.dtype

    def chunks(self, size: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        size = self.chunk_size if size is None else int(size)
        weights = self.sample_weight
        for start in range(0, self.n_samples, size):
            stop = min(start + size, self.n_samples)
            yield self.X[start:stop], None if weights is None else weights[start:stop]

    def map_reduce(self, accumulate: Callable, size: int | None = None):
        """sum over chunks of accumulate(X_chunk, w_chunk), with the values' own ``+``."""
        return functools.reduce(operator.add, (accumulate(X, w) for X, w in self.chunks(size)))
