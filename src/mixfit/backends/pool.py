"""One thread pool per thread count, kept for the life of the process (or until a fork).

A pass over an in-memory source runs its chunks on worker threads. Starting and joining those
threads for every pass cost ~8 ms of a 64 ms ``partial_fit`` step of 1e5 rows (cProfile,
issue 19): a stream of short passes pays it on every call, a batch fit on every iteration. The
pools here are made on first use and reused. A task that itself runs a pass (a source whose
chunks map over another source) runs that inner pass on its own thread (``in_worker``), so a
pool's workers never wait on tasks queued behind them. The worker threads' E-step scratch
buffers are dropped at the end of each pass (``kernels.scratch.release_all``), as they were
when the workers ended with the pass.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ..kernels.scratch import release_all as release_all_scratch

_POOLS: dict[int, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()
_WORKER = threading.local()


def _mark_worker() -> None:
    _WORKER.active = True


def in_worker() -> bool:
    """Whether the calling thread is one of these pools' workers."""
    return getattr(_WORKER, "active", False)


def shared_pool(n_threads: int) -> ThreadPoolExecutor:
    """The process's pool of ``n_threads`` worker threads, made on first use."""
    with _LOCK:
        pool = _POOLS.get(n_threads)
        if pool is None:
            pool = _POOLS[n_threads] = ThreadPoolExecutor(n_threads, thread_name_prefix="mixfit",
                                                          initializer=_mark_worker)
        return pool


def settle(futures, release_scratch: bool = True) -> None:
    """End a pass's tasks, after its results or an error: the tasks not yet started are not run,
    the running ones are waited for (they read the pass's rows), and with ``release_scratch`` the
    workers' scratch buffers are dropped (``kernels.scratch.release_all``)."""
    for future in futures:
        future.cancel()
    for future in futures:
        if not future.cancelled():
            future.exception()
    if release_scratch:
        release_all_scratch()


def _forget_pools() -> None:
    """In a forked child the parent's worker threads do not exist: start afresh."""
    global _LOCK
    _POOLS.clear()
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)
