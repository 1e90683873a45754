"""Rows from a dask array: accumulate mapped over row blocks, the values tree-summed.

One pass is one graph: the function (a model's ``accumulate`` closed over this iteration's
params) enters the graph once, as a data node every block task depends on, so the scheduler
ships it to each worker once per pass, not once per block. Each block task runs it over
sub-chunks of ``chunk_size`` rows (so a worker's memory stays that of one chunk whatever the
block size) and returns the block's value; the values are summed ``_FAN_IN`` at a time, a tree
of depth ceil(log_4(blocks)), never a chain; the client receives one value. Works with any
scheduler: the default threaded one, or a ``dask.distributed`` client if one is active.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Callable, Iterator

import dask
import dask.array as da
import numpy as np

from .sequences import SequenceSource

# Values summed per reduction task: each level divides the number of values in flight by this,
# and a task holds this many statistics values (each O(K D^2)) at once.
_FAN_IN = 4


class _Carried:
    """A function held as data, so that the graph treats it as a value to ship, not a task."""

    def __init__(self, fn):
        self.fn = fn


def _carry(fn) -> dask.delayed:
    return dask.delayed(_Carried(fn), name=f"mixfit-fn-{uuid.uuid4().hex}", traverse=False)


def _block_value(carried: _Carried, X, w, start: int, size: int, offsets: bool):
    """sum over the block's sub-chunks of fn(X_chunk, w_chunk[, first_row]), in row order."""
    fn, total = carried.fn, None
    for a in range(0, X.shape[0], size):
        args = (X[a : a + size], None if w is None else w[a : a + size])
        value = fn(*args, start + a) if offsets else fn(*args)
        total = value if total is None else total + value
    return total


def _sum_values(*values):
    return functools.reduce(operator.add, values)


def _block_rows(X, carried: _Carried, size: int):
    """fn over the block's sub-chunks, concatenated: a block of per-row outputs."""
    return np.concatenate([carried.fn(X[a : a + size]) for a in range(0, max(X.shape[0], 1), size)])


def _block_rows_at(X, carried: _Carried, size: int, block_info=None):
    """As ``_block_rows``, calling fn(X_chunk, first_row) with the row counted in the whole array
    (dask's ``block_info``; None when dask probes the function on empty metadata)."""
    start = 0 if block_info is None else int(block_info[0]["array-location"][0][0])
    return np.concatenate([carried.fn(X[a : a + size], start + a) for a in range(0, max(X.shape[0], 1), size)])


class _DaskFrames:
    """What every dask source says of its array ``X``."""

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def dtype(self):
        return self.X.dtype


class DaskSource(_DaskFrames):
    """A 2-D dask array (whole rows per block) and optional per-row weights, a dask array with
    the same row blocks or a numpy array (cut to them)."""

    def __init__(self, X, sample_weight, chunk_size: int):
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        if sample_weight is not None:
            if not isinstance(sample_weight, da.Array):
                sample_weight = da.from_array(np.asarray(sample_weight), chunks=(X.chunks[0],))
            elif sample_weight.chunks[0] != X.chunks[0]:
                sample_weight = sample_weight.rechunk((X.chunks[0],))
        self.X = X
        self.sample_weight = sample_weight
        self.chunk_size = int(chunk_size)
        self.in_memory = False
        self._starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int)

    @property
    def n_blocks(self) -> int:
        return len(self.X.chunks[0])

    def _blocks(self):
        xs = self.X.to_delayed().ravel()
        ws = [None] * len(xs) if self.sample_weight is None else self.sample_weight.to_delayed().ravel()
        return xs, ws

    def map_reduce(self, accumulate: Callable, size: int | None = None, offsets: bool = False):
        """sum over blocks (and their sub-chunks) of accumulate(X_chunk, w_chunk[, first_row]),
        computed as one graph with a tree of ``+``; returns the value on the client."""
        size = self.chunk_size if size is None else int(size)
        carried = _carry(accumulate)
        xs, ws = self._blocks()
        block = dask.delayed(_block_value, pure=True)
        values = [block(carried, x, w, int(start), size, offsets) for x, w, start in zip(xs, ws, self._starts)]
        while len(values) > 1:
            combine = dask.delayed(_sum_values, pure=True)
            values = [combine(*values[i : i + _FAN_IN]) for i in range(0, len(values), _FAN_IN)]
        return dask.compute(values[0])[0]

    def chunks(self, size: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Row chunks on the client, one block computed at a time (for the rare driver-side
        passes, such as a collapse diagnosis)."""
        size = self.chunk_size if size is None else int(size)
        xs, ws = self._blocks()
        for x, w in zip(xs, ws):
            X, W = dask.compute(x, w)
            for a in range(0, X.shape[0], size):
                yield X[a : a + size], None if W is None else W[a : a + size]

    def take(self, rows) -> np.ndarray:
        return np.asarray(self.X[np.sort(np.asarray(rows))].compute())

    def map_rows(self, fn: Callable, tail: tuple, dtype, offsets: bool = False) -> da.Array:
        """fn(X_chunk) -> per-row output (n, *tail), lazily over the blocks: a dask array with X's
        row blocks. fn enters the graph once, as in ``map_reduce``. With ``offsets``,
        fn(X_chunk, first_row) (so that an error can name the row)."""
        size = self.chunk_size
        block = _block_rows_at if offsets else _block_rows
        if tail:
            return self.X.map_blocks(block, _carry(fn), size, dtype=dtype, chunks=(self.X.chunks[0], tail))
        return self.X.map_blocks(block, _carry(fn), size, dtype=dtype, drop_axis=1, chunks=(self.X.chunks[0],))


# ---- whole sequences (the HMMs) ---------------------------------------------------------------


def _sequence_block_value(carried: _Carried, X, lengths, weights, size: int):
    """sum of fn(batch, w_batch) over the block's chunks of whole sequences, in order."""

    source = SequenceSource(X, lengths, weights, size, n_threads=1)
    return functools.reduce(operator.add, (carried.fn(batch, w) for batch, w in source.chunks()))


class DaskSequenceSource(_DaskFrames):
    """Frames of many sequences in a dask array: ``map_reduce`` over blocks of whole sequences.

    Forward-backward needs each sequence whole in one task, and ``lengths`` need not follow X's
    row blocks: so every block boundary is moved forward to the end of the sequence it falls in
    (a sequence longer than a block makes its block longer) and X is rechunked to those
    boundaries, a lazy step that moves only the rows of the sequences that straddled a
    boundary. Each block task then runs the model over chunks of about ``chunk_size`` frames of
    whole sequences (``SequenceSource``), and the block values are tree-summed as ``DaskSource``
    sums row blocks. The lengths and sequence weights of a block travel with its task (numpy,
    O(sequences)).
    """

    def __init__(self, X, lengths: np.ndarray, sequence_weight: np.ndarray | None, chunk_size: int):
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        self.lengths = np.asarray(lengths, dtype=np.intp)
        self.sequence_weight = sequence_weight
        self.chunk_size = int(chunk_size)
        ends = np.cumsum(self.lengths)  # (B,) one past each sequence's last frame
        # the first sequence end at or after each of X's block boundaries
        boundaries = np.cumsum(X.chunks[0])[:-1]
        snapped = np.unique(ends[np.minimum(np.searchsorted(ends, boundaries, side="left"), len(ends) - 1)])
        stops = np.union1d(snapped, [int(ends[-1])])  # block ends, each a sequence end
        self._sequence_stops = np.searchsorted(ends, stops, side="right")  # (blocks,) sequences up to each
        self.X = X.rechunk((tuple(np.diff(np.concatenate([[0], stops])).tolist()), X.chunks[1]))
        self.in_memory = False

    def _block_sequences(self):
        """(lengths, weights) of each block's sequences, numpy."""
        firsts = np.concatenate([[0], self._sequence_stops[:-1]])
        weights = self.sequence_weight
        return [(self.lengths[a:b], None if weights is None else weights[a:b])
                for a, b in zip(firsts, self._sequence_stops)]

    def map_reduce(self, accumulate: Callable, size: int | None = None):
        """sum over blocks (and their chunks of whole sequences) of accumulate(batch, w_batch), as
        one graph with a tree of ``+``; returns the value on the client."""
        size = self.chunk_size if size is None else int(size)
        carried = _carry(accumulate)
        block = dask.delayed(_sequence_block_value, pure=True)
        values = [block(carried, x, lengths, weights, size)
                  for x, (lengths, weights) in zip(self.X.to_delayed().ravel(), self._block_sequences())]
        while len(values) > 1:
            combine = dask.delayed(_sum_values, pure=True)
            values = [combine(*values[i : i + _FAN_IN]) for i in range(0, len(values), _FAN_IN)]
        return dask.compute(values[0])[0]

    def chunks(self, size: int | None = None):
        """Chunks of whole sequences on the client, one block computed at a time (decoding and
        scoring, whose outputs are per frame and returned as numpy arrays)."""

        size = self.chunk_size if size is None else int(size)
        for x, (lengths, weights) in zip(self.X.to_delayed().ravel(), self._block_sequences()):
            yield from SequenceSource(np.asarray(x.compute()), lengths, weights, size, n_threads=1).chunks()
