"""Rows that come as batches from a re-iterable stream: ``mixfit.batches(factory)``.

``factory()`` returns a fresh iterator of 2-D arrays (files, Parquet row groups, a database
cursor) and is called once per pass. ``Batches`` presents the concatenation of the batches as an
array-like with ``shape``, ``dtype`` and row slicing, so the out-of-core path that reads memmaps
and zarr arrays (``inputs.RowReader`` and ``memory.ArraySource``) reads it unchanged: every pass
of a fit (the scan of the values, the start, each E-step) iterates the factory once, sums each
chunk's statistics and keeps nothing of the rows but the batch being read.

This is the memoized (incremental) mode of Neal and Hinton (1998) with each pass replacing every
batch's statistics: the sum of the per-batch statistics under the same params is the statistics
of all rows, so the M-step sees exactly the batch fit's statistics and the fit reaches the batch
fit's optimum from the same start (to rounding), in memory O(batch + K D^2).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import numpy as np


class Batches:
    """The rows of the batches ``factory()`` yields, read sequentially (one pass per ``factory()``).

    The first access to ``shape`` or ``dtype`` runs one pass that counts the rows and checks each
    batch (2-D, the same number of columns). Slices are served in increasing order from the
    current pass; a slice before the current batch starts a new pass. Every later pass must
    yield the same number of rows. Reads hold a lock, and ``sequential`` tells the backends to
    read it on one thread (``backends.as_source``).
    """

    out_of_core = True
    sequential = True
    ndim = 2

    def __init__(self, factory: Callable[[], Iterable]):
        if not callable(factory):
            raise TypeError(f"factory must be a callable returning an iterator of arrays, not "
                            f"{type(factory).__name__}")
        self.factory = factory
        self._shape = None
        self._dtype = None
        self._lock = threading.Lock()
        self._iterator = None
        self._start = 0  # first row of the buffered batch
        self._batch = np.empty((0, 0))

    def _batches(self):
        for i, batch in enumerate(self.factory()):
            batch = np.asarray(batch)
            if batch.ndim != 2:
                raise ValueError(f"batch {i} has shape {batch.shape}; expected a 2-D array (n_rows, n_features)")
            if self._shape is not None and batch.shape[1] != self._shape[1]:
                raise ValueError(f"batch {i} has n_features = {batch.shape[1]}; the first batch has "
                                 f"n_features = {self._shape[1]}")
            yield batch

    def _count(self) -> None:
        n_rows, n_features, dtypes = 0, None, []
        for i, batch in enumerate(self._batches()):
            if n_features is None:
                n_features = batch.shape[1]
            elif batch.shape[1] != n_features:
                raise ValueError(f"batch {i} has n_features = {batch.shape[1]}; the first batch has "
                                 f"n_features = {n_features}")
            n_rows += batch.shape[0]
            dtypes.append(batch.dtype)
        if n_features is None:
            raise ValueError("factory() yielded no batch; expected at least one 2-D array")
        self._shape = (n_rows, n_features)
        self._dtype = np.result_type(*dtypes)

    @property
    def shape(self) -> tuple[int, int]:
        if self._shape is None:
            self._count()
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        if self._dtype is None:
            self._count()
        return self._dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows):
        with self._lock:
            if isinstance(rows, slice):
                start, stop, stride = rows.indices(self.shape[0])
                if stride != 1:
                    return self._read(0, self.shape[0])[rows]
                return self._read(start, max(start, stop))
            if isinstance(rows, (int, np.integer)):
                return self._read(int(rows), int(rows) + 1)[0]
            return self._take(np.asarray(rows))

    def _restart(self) -> None:
        self._iterator = self._batches()
        self._start, self._batch = 0, self._next(0)

    def _next(self, needed: int) -> np.ndarray:
        try:
            return next(self._iterator)
        except StopIteration:
            raise ValueError(f"factory() yielded fewer rows than on its first pass ({self.shape[0]}); row "
                             f"{needed} is missing. Each call must yield the same batches") from None

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop-1, from the current pass if it has not passed ``start``."""
        if self._iterator is None or start < self._start:
            self._restart()
        while self._start + self._batch.shape[0] <= start < stop:
            self._start += self._batch.shape[0]
            self._batch = self._next(start)
        pieces, row = [], start
        while row < stop:
            local = row - self._start
            piece = self._batch[local : local + (stop - row)]
            pieces.append(piece)
            row += piece.shape[0]
            if row < stop:
                self._start += self._batch.shape[0]
                self._batch = self._next(row)
        if not pieces:
            return np.empty((0, self.shape[1]), dtype=self.dtype)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _take(self, index: np.ndarray) -> np.ndarray:
        """The rows of an integer index (any order), in one pass."""
        order = np.argsort(index, kind="stable")
        out = np.empty((index.shape[0], self.shape[1]), dtype=self.dtype)
        self._restart()
        for position in order:
            out[position] = self._read(int(index[position]), int(index[position]) + 1)[0]
        return out


def batches(factory: Callable[[], Iterable]) -> Batches:
    """Rows that come as batches, for ``fit``, ``predict`` and ``score_samples``.

    ``fit(mixfit.batches(factory))`` fits on the concatenation of the batches without holding it:
    each pass over the data calls ``factory()`` once and reads its batches in order, so every
    E-step replaces each batch's statistics (the memoized mode) and the fit reaches the batch
    fit's optimum from the same start, in memory of about one batch. Predictions over the same
    object return one array for all rows, computed batch by batch.

    Parameters
    ----------
    factory : callable
        ``factory()`` returns a new iterator of 2-D arrays of shape (n_rows_i, n_features),
        the same ones in the same order on every call.

    Returns
    -------
    X : Batches
        An array-like of shape (sum of n_rows_i, n_features), read sequentially.
    """
    return Batches(factory)
