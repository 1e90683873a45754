"""Many small data sets as stacked blocks: the source of ``mixfit.fit_many``.

The B data sets (each (n_b, D), with its row weights) are sorted by size and cut into blocks of
consecutive sets whose padded working set stays near ``block_bytes``; a block holds its sets as
one (B_block, N_block, D) array, each set padded to the block's largest with rows of weight 0
(copies of its first row, so that every number stays finite; a weight of 0 adds an exact 0 to
every sum). Sorting keeps the padding small when sizes differ. ``map_blocks`` runs a function
on every block, on ``n_threads`` threads (the process's shared pool, ``backends.pool``) each with a
single-threaded BLAS (numpy releases the GIL), and returns the outputs in block order: the result
does not depend on the thread count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .memory import available_cores, single_threaded_blas
from .pool import in_worker, settle, shared_pool

# A block's working set: its padded rows, their features and the (K, N) responsibilities, a few
# times the rows. Blocks of ~16 MB keep the stacked products in the last-level cache's reach
# while each numpy call still covers enough problems that its fixed cost is shared.
_BLOCK_BYTES = 16 * 2**20


@dataclass(frozen=True, eq=False)
class StackedBlock:
    """Problems ``index`` (B,) of the source, as padded rows X (B, N, D) and weights w (B, N)."""

    index: np.ndarray
    X: np.ndarray
    weights: np.ndarray


class StackedSource:
    """B data sets of the same number of features, in blocks of stacked, padded problems.

    ``datasets``: a sequence of float64 arrays (n_b, D); ``sample_weight``: a matching sequence of
    (n_b,) arrays, or None for weights of 1; ``row_columns``: values per row of the fit's working
    set (features and responsibilities), to size the blocks.
    """

    def __init__(self, datasets, sample_weight, row_columns: int, block_bytes: int = _BLOCK_BYTES,
                 n_threads: int | None = None):
        self.datasets = list(datasets)
        self.sample_weight = sample_weight
        self.n_threads = available_cores() if n_threads is None else int(n_threads)
        sizes = np.array([X.shape[0] for X in self.datasets])
        order = np.argsort(sizes, kind="stable")
        self.blocks = _cut(order, sizes, max(1, row_columns) * 8, block_bytes, self.n_threads)

    @property
    def n_problems(self) -> int:
        return len(self.datasets)

    def block(self, index: np.ndarray) -> StackedBlock:
        """The padded block of problems ``index``."""
        sets = [self.datasets[i] for i in index]
        N, D = max(X.shape[0] for X in sets), sets[0].shape[1]
        X = np.empty((len(sets), N, D))
        w = np.zeros((len(sets), N))
        for j, (i, rows) in enumerate(zip(index, sets)):
            n = rows.shape[0]
            X[j, :n] = rows
            X[j, n:] = rows[0]  # padding: finite, weight 0
            w[j, :n] = 1.0 if self.sample_weight is None or self.sample_weight[i] is None else self.sample_weight[i]
        return StackedBlock(np.asarray(index), X, w)

    def map_blocks(self, fn) -> list:
        """[fn(block) for every block], in block order, blocks on ``n_threads`` threads."""
        if self.n_threads <= 1 or len(self.blocks) <= 1 or in_worker():
            return [fn(self.block(index)) for index in self.blocks]
        futures = []
        try:
            with single_threaded_blas():
                pool = shared_pool(self.n_threads)
                futures = [pool.submit(lambda index: fn(self.block(index)), index) for index in self.blocks]
                return [future.result() for future in futures]
        finally:
            settle(futures, release_scratch=False)  # on an error the blocks not started are not run


def _cut(order, sizes, row_bytes, block_bytes, n_threads) -> list[np.ndarray]:
    """Consecutive runs of ``order`` whose padded size (count x largest n x ``row_bytes``) stays
    under ``block_bytes``, and at least ``n_threads`` runs where there are that many problems."""
    total = int(sizes.sum()) * row_bytes
    budget = min(block_bytes, max(row_bytes, total // max(1, n_threads)))
    blocks, start = [], 0
    for end in range(1, order.size + 1):
        largest = sizes[order[end - 1]]
        if end - start > 1 and (end - start) * largest * row_bytes > budget:
            blocks.append(order[start:end - 1])
            start = end - 1
    blocks.append(order[start:])
    return blocks
