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
    workers = set(seen)
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
