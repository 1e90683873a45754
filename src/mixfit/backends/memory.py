"""Rows from an in-memory array or a numpy.memmap, served as chunk views (no copies)."""

from __future__ import annotations

import functools
import operator
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

# The working set of one chunk: the rows themselves plus the (rows x K*D) whitened block of
# the full-covariance E-step. 8 MiB keeps it inside a last-level cache share while the BLAS
# calls stay long enough to run near peak.
_WORKING_SET_BYTES = 8 * 2**20
_MIN_CHUNK_ROWS = 256


def default_chunk_size(n_features: int, n_components: int, itemsize: int) -> int:
    """Rows per chunk so that one chunk's working set stays near ``_WORKING_SET_BYTES``."""
    per_row = itemsize * (n_features * (n_components + 2) + 3 * n_components)
    return max(_MIN_CHUNK_ROWS, _WORKING_SET_BYTES // per_row)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ArraySource:
    """A 2-D array (or memmap) and optional per-row weights, read in row chunks.

    ``map_reduce`` runs the chunks on ``n_threads`` threads, each with a single-threaded BLAS:
    numpy and BLAS release the GIL, so every step of the E-step (the products, and the
    elementwise passes that BLAS threading leaves on one core) runs in parallel. The values are
    summed in chunk order whatever the thread count, so the result does not depend on it.
    """

    def __init__(self, X: np.ndarray, sample_weight: np.ndarray | None, chunk_size: int,
                 n_threads: int | None = None):
        self.X = X
        self.sample_weight = sample_weight
        self.chunk_size = int(chunk_size)
        self.n_threads = available_cores() if n_threads is None else int(n_threads)

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
        """sum over chunks of accumulate(X_chunk, w_chunk), with the values' own ``+``, added
        in chunk order."""
        size = self.chunk_size if size is None else int(size)
        n_chunks = -(-self.n_samples // size)
        if self.n_threads <= 1 or n_chunks <= 1:
            return functools.reduce(operator.add, (accumulate(X, w) for X, w in self.chunks(size)))
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(self.n_threads) as pool:
            return functools.reduce(operator.add, pool.map(lambda chunk: accumulate(*chunk), self.chunks(size)))
