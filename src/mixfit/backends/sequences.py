"""Frames of many sequences, served in chunks of whole sequences (never cut inside one).

X holds the frames of every sequence one after another; ``lengths`` says where each ends (as
hmmlearn's ``lengths``). A chunk is a ``SequenceBatch`` of consecutive whole sequences holding
about ``chunk_size`` frames (one sequence longer than that is a chunk of its own), with the
sequences' weights. X may be a memmap: chunks are views.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator

import numpy as np

from ..kernels.hmm_inference import SequenceBatch
from ..kernels.scratch import release as release_scratch
from .memory import available_cores, single_threaded_blas
from .pool import in_worker, settle, shared_pool


class SequenceSource:
    """``chunks()`` and ``map_reduce(accumulate)`` over batches of whole sequences.

    As ``ArraySource``: the chunks run on ``n_threads`` threads (the process's shared pool of that
    size, ``backends.pool``; a pass started on one of its workers runs on that thread) with a
    single-threaded BLAS, and their values are added in chunk order, so the result does not
    depend on the thread count.
    """

    def __init__(self, X: np.ndarray, lengths: np.ndarray, sequence_weight: np.ndarray | None,
                 chunk_size: int, n_threads: int | None = None, states: np.ndarray | None = None):
        self.X = X
        self.states = states  # (n,) known state per frame, -1 unknown; or None
        self.lengths = np.asarray(lengths, dtype=np.intp)
        self.sequence_weight = sequence_weight
        self.chunk_size = int(chunk_size)
        self.n_threads = available_cores() if n_threads is None else int(n_threads)
        self._ends = np.cumsum(self.lengths)  # (B,) one past each sequence's last frame

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def dtype(self):
        return self.X.dtype

    def _cuts(self, size: int) -> list[tuple[int, int]]:
        """(first, last + 1) sequence index of each chunk: greedy, at least one sequence each.
        Each chunk ends at the first sequence that brings it to ``size`` frames, found by
        bisection on the frame ends (O(chunks log B), not a Python step per sequence)."""
        cuts, first, n_sequences = [], 0, self.lengths.shape[0]
        while first < n_sequences:
            begin = 0 if first == 0 else int(self._ends[first - 1])
            last = int(np.searchsorted(self._ends, begin + size, side="left"))  # ends[last] >= begin + size
            stop = max(first + 1, min(last + 1, n_sequences))
            cuts.append((first, stop))
            first = stop
        return cuts

    def chunks(self, size: int | None = None) -> Iterator[tuple[SequenceBatch, np.ndarray | None]]:
        size = self.chunk_size if size is None else int(size)
        weights = self.sequence_weight
        for first, stop in self._cuts(size):
            begin, end = 0 if first == 0 else int(self._ends[first - 1]), int(self._ends[stop - 1])
            states = None if self.states is None else self.states[begin:end]
            batch = SequenceBatch(self.X[begin:end], self.lengths[first:stop], states)
            yield batch, None if weights is None else weights[first:stop]

    def map_reduce(self, accumulate: Callable, size: int | None = None):
        """sum over chunks of accumulate(batch, w_batch), added in chunk order."""
        size = self.chunk_size if size is None else int(size)
        chunks = list(self.chunks(size))
        if self.n_threads <= 1 or len(chunks) <= 1 or in_worker():
            try:
                return functools.reduce(operator.add, (accumulate(b, w) for b, w in chunks))
            finally:
                if not in_worker():
                    release_scratch()  # this thread's E-step buffers
        futures = []
        try:
            with single_threaded_blas():
                futures = [shared_pool(self.n_threads).submit(accumulate, *chunk) for chunk in chunks]
                return functools.reduce(operator.add, (future.result() for future in futures))
        finally:
            settle(futures)  # on an error the chunks not started are not run; the workers' buffers freed
