"""The shared worker threads of in-memory passes (backends/pool.py): reused across passes, an
error in a chunk leaves them usable, an inner pass from a worker does not wait on the pool, and
the workers' scratch buffers go at the end of each pass."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mixfit.backends import ArraySource
from mixfit.backends.pool import in_worker, shared_pool
from mixfit.kernels import scratch as scratch_module


def _rows(n=1000, d=3):
    return np.arange(n * d, dtype=np.float64).reshape(n, d)


def test_passes_reuse_the_same_worker_threads():
    source = ArraySource(_rows(), None, chunk_size=50, n_threads=2)
    seen = []

    def accumulate(X, w):
        seen.append(threading.get_ident())
        return X.sum(axis=0)

    first = source.map_reduce(accumulate)
    # the pool's threads (a pass's items go to whichever worker is free: at 50 rows a chunk one
    # worker may take them all, so the first pass's threads need not be all of them)
    workers = _pool_threads(2)
    assert set(seen) <= workers
    threads_after_first = threading.active_count()
    seen.clear()
    second = source.map_reduce(accumulate)
    np.testing.assert_array_equal(first, _rows().sum(axis=0))  # the oracle: numpy's sum
    np.testing.assert_array_equal(second, first)
    assert set(seen) <= workers and threading.get_ident() not in workers
    assert threading.active_count() == threads_after_first
    assert shared_pool(2) is shared_pool(2)


def test_an_error_in_a_chunk_propagates_and_the_pool_stays_usable():
    source = ArraySource(_rows(), None, chunk_size=50, n_threads=2)

    def failing(X, w):
        if X[0, 0] >= 1500:  # the chunks from row 500 on
            raise ValueError("bad chunk")
        return X.sum(axis=0)

    with pytest.raises(ValueError, match="bad chunk"):
        source.map_reduce(failing)
    np.testing.assert_array_equal(source.map_reduce(lambda X, w: X.sum(axis=0)), _rows().sum(axis=0))


def test_an_inner_pass_from_a_worker_runs_on_that_worker():
    inner = ArraySource(_rows(40), None, chunk_size=10, n_threads=2)
    outer = ArraySource(_rows(200), None, chunk_size=10, n_threads=2)
    workers_seen = []

    def accumulate(X, w):
        workers_seen.append(in_worker())
        return inner.map_reduce(lambda Y, v: Y.sum()) + X.sum()  # every worker busy waiting: no deadlock

    total = outer.map_reduce(accumulate)
    assert total == pytest.approx(20 * _rows(40).sum() + _rows(200).sum(), rel=1e-15)
    assert all(workers_seen) and not in_worker()


def test_the_workers_scratch_buffers_go_at_the_end_of_a_pass():
    source = ArraySource(_rows(), None, chunk_size=50, n_threads=2)
    pools = []

    def accumulate(X, w):
        scratch_module.scratch("test_buffer", (50, 3), np.float64)
        pools.append(scratch_module._LOCAL.pool)
        return X.sum(axis=0)

    source.map_reduce(accumulate)
    assert pools and all("test_buffer" not in pool for pool in pools)


def _pool_threads(n_threads):
    """The worker threads of the shared pool of that size (each worker runs one task to say)."""
    barrier = threading.Barrier(n_threads)

    def ident():
        barrier.wait(timeout=10)  # every worker holds one task: each reports its own thread
        return threading.get_ident()

    pool = shared_pool(n_threads)
    return {f.result() for f in [pool.submit(ident) for _ in range(n_threads)]}


def test_sequence_passes_run_on_the_shared_pool():
    from mixfit.backends.sequences import SequenceSource

    X = _rows(300)
    lengths = np.full(30, 10)
    source = SequenceSource(X, lengths, None, chunk_size=40, n_threads=2)
    seen = []

    def accumulate(batch, w):
        seen.append(threading.get_ident())
        return batch.X.sum(axis=0)

    workers = _pool_threads(2)
    threads = threading.active_count()
    for _ in range(3):
        np.testing.assert_array_equal(source.map_reduce(accumulate), X.sum(axis=0))  # oracle: numpy's sum
    assert set(seen) <= workers and threading.active_count() == threads  # no new threads per pass


def test_an_error_in_a_sequence_chunk_propagates_and_the_pool_stays_usable():
    from mixfit.backends.sequences import SequenceSource

    X = _rows(300)
    source = SequenceSource(X, np.full(30, 10), None, chunk_size=40, n_threads=2)

    def failing(batch, w):
        if batch.X[0, 0] >= 450:  # the chunks from frame 150 on
            raise ValueError("bad chunk")
        return batch.X.sum(axis=0)

    with pytest.raises(ValueError, match="bad chunk"):
        source.map_reduce(failing)
    np.testing.assert_array_equal(source.map_reduce(lambda b, w: b.X.sum(axis=0)), X.sum(axis=0))


def test_stacked_blocks_run_on_the_shared_pool_in_block_order():
    from mixfit.backends.stacked import StackedSource

    rng = np.random.default_rng(0)
    datasets = [rng.normal(size=(n, 2)) for n in rng.integers(5, 40, size=40)]
    source = StackedSource(datasets, None, row_columns=4, block_bytes=2048, n_threads=2)
    assert len(source.blocks) > 2
    seen = []

    def fn(block):
        seen.append(threading.get_ident())
        return block.index

    workers = _pool_threads(2)
    threads = threading.active_count()
    order = source.map_blocks(fn)
    assert [list(i) for i in order] == [list(i) for i in source.blocks]  # block order, whatever the threads
    assert set(seen) <= workers and threading.active_count() == threads


def test_a_pass_adds_its_chunks_in_order_whatever_finishes_first():
    """The workers add the chunks' values themselves, in chunk order: list values (whose + is
    not commutative) come back in the order of the rows, with chunks finishing out of order."""
    import time

    source = ArraySource(_rows(400), None, chunk_size=10, n_threads=2)

    def accumulate(X, w, first_row):
        time.sleep(0.004 if (first_row // 10) % 3 == 0 else 0.0)  # every third chunk finishes late
        return [first_row]

    for _ in range(3):
        assert source.map_reduce(accumulate, offsets=True) == list(range(0, 400, 10))


def test_an_error_in_adding_two_values_propagates_and_the_pool_stays_usable():
    """A value whose + fails (statistics taken about different shifts) ends the pass with that
    error, the other workers stop waiting for it, and the next pass runs."""

    failing = [True]

    class Value:
        def __init__(self, row):
            self.row = row

        def __add__(self, other):
            if failing[0] and other.row == 200:
                raise ValueError("cannot add")
            return Value(other.row)

    source = ArraySource(_rows(400), None, chunk_size=10, n_threads=2)
    with pytest.raises(ValueError, match="cannot add"):
        source.map_reduce(lambda X, w, first_row: Value(first_row), offsets=True)
    failing[0] = False
    assert source.map_reduce(lambda X, w, first_row: Value(first_row), offsets=True).row == 390
