"""Rows from an in-memory array or a numpy.memmap, served as chunk views (no copies)."""

from __future__ import annotations

import functools
import operator
import os
import sys
from collections.abc import Callable, Iterator

import numpy as np
from threadpoolctl import ThreadpoolController

from ..kernels.scratch import release as release_scratch
from .pool import fold_in_order, in_worker

# The working set of one chunk: the rows, the covariance type's E-step workspace (for full
# covariance the pair products or the whitened residuals, ~K*D values a row) and a few (rows x K)
# arrays. 8 MiB keeps it inside a last-level cache share while the BLAS calls stay long enough to
# run near peak; fewer, larger chunks where the workspace is small keep Python's per-chunk cost
# small against the arithmetic.
_WORKING_SET_BYTES = 8 * 2**20
_MIN_CHUNK_ROWS = 256
# float32 chunks take at least this many rows where that holds their working set within four
# times ``working_set`` (at large K: (2e5, 60, 2048) diag, 1024 rows rather than 331). A chunk
# pays a fixed cost in (K, D) passes whatever its rows: the moments' referral, the statistics'
# additions, the float32 guard's pass sums, the memoised parameters' checks, about 1500 us per
# chunk at K D = 1.2e5 on one thread. float32's products run at twice float64's rate, so at 331
# rows that fixed cost was a fifth of a float32 chunk (docs/performance.md: float32 at large K).
_FLOAT32_CHUNK_ROWS = 1024


def default_chunk_size(n_features: int, n_components: int, itemsize: int,
                       workspace_columns: int | None = None, working_set: int = _WORKING_SET_BYTES) -> int:
    """Rows per chunk so that one chunk's working set stays near ``working_set`` bytes;
    ``workspace_columns``: the E-step workspace's values per row (None: K * D)."""
    workspace = n_components * n_features if workspace_columns is None else workspace_columns
    per_row = itemsize * (2 * n_features + workspace + 3 * n_components)
    rows = working_set // per_row
    if itemsize == 4 and rows < _FLOAT32_CHUNK_ROWS:  # float32: up to 4 working sets, for the rows
        rows = max(rows, min(_FLOAT32_CHUNK_ROWS, 4 * working_set // per_row))
    return max(_MIN_CHUNK_ROWS, rows)


_BLAS = {"controller": None, "modules": -1}


def single_threaded_blas():
    """``threadpool_limits(1, "blas")`` with threadpoolctl's scan of the loaded libraries (a read
    of /proc/self/maps, some milliseconds) done again only after a module has been imported: a
    stream of small passes (``partial_fit``) would pay the scan on every pass."""
    if _BLAS["controller"] is None or _BLAS["modules"] != len(sys.modules):
        _BLAS["controller"], _BLAS["modules"] = ThreadpoolController(), len(sys.modules)
    return _BLAS["controller"].limit(limits=1, user_api="blas")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ArraySource:
    """A 2-D array (or memmap) and optional per-row weights, read in row chunks.

    ``map_reduce`` runs the chunks on ``n_threads`` threads (the process's pool of that size,
    reused by every pass: ``backends.pool``), each with a single-threaded BLAS:
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

    @property
    def in_memory(self) -> bool:
        """False for a memmap or an out-of-core reader: such rows are only ever read in chunks."""
        return not (isinstance(self.X, np.memmap) or getattr(self.X, "out_of_core", False))

    def _chunk(self, start: int, stop: int):
        weights = self.sample_weight
        return self.X[start:stop], None if weights is None else weights[start:stop]

    def _bounds(self, size: int) -> list[tuple[int, int]]:
        return [(start, min(start + size, self.n_samples)) for start in range(0, self.n_samples, size)]

    def chunks(self, size: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        size = self.chunk_size if size is None else int(size)
        for start, stop in self._bounds(size):
            yield self._chunk(start, stop)

    def take(self, rows) -> np.ndarray:
        """The given rows (sorted indices), as an array; one small read per row out of core."""
        rows = np.sort(np.asarray(rows))
        if self.in_memory:
            return self.X[rows]
        return np.concatenate([np.asarray(self.X[i : i + 1]) for i in rows])

    def map_reduce(self, accumulate: Callable, size: int | None = None, offsets: bool = False):
        """sum over chunks of accumulate(X_chunk, w_chunk), with the values' own ``+``, added
        in chunk order; with ``offsets``, accumulate(X_chunk, w_chunk, first_row).

        Each chunk is read inside its task and at most ``2 * n_threads`` are in flight, so an
        out-of-core array is read once per pass and never held whole."""
        size = self.chunk_size if size is None else int(size)
        bounds = self._bounds(size)

        def task(start, stop):
            X, w = self._chunk(start, stop)
            return accumulate(X, w, start) if offsets else accumulate(X, w)

        if self.n_threads <= 1 or len(bounds) <= 1 or in_worker():
            try:
                return functools.reduce(operator.add, (task(*b) for b in bounds))
            finally:
                if not in_worker():
                    release_scratch()  # this thread's E-step buffers
        with single_threaded_blas():  # the chunks folded in order by the workers (backends/pool.py)
            return fold_in_order(self.n_threads, len(bounds), lambda i: task(*bounds[i]), operator.add,
                                 window=2 * self.n_threads)
