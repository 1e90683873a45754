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
from collections.abc import Callable
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


class _OrderedFold:
    """The state of one ``fold_in_order`` pass, shared by its worker tasks under one lock."""

    def __init__(self, count: int, window: int, task: Callable, add: Callable):
        self.count, self.window, self.task, self.add = count, window, task, add
        self.lock = threading.Condition()
        self.taken = 0  # the items handed out so far, in order
        self.folded = 0  # the items added into ``total`` so far, in order
        self.done: dict = {}  # values computed but not yet added (an item ahead of a slower one)
        self.total = None
        self.folding = False  # whether a worker is adding values (only it touches ``total``)
        self.error: BaseException | None = None

    def run(self) -> None:
        """One worker: take the next item, compute it, add every value now next in order; an
        error (in an item or in an addition) stops the pass and wakes the waiting workers."""
        try:
            self._run()
        except BaseException as error:  # noqa: BLE001 (re-raised by the calling thread)
            self.stop(error)

    def _run(self) -> None:
        while True:
            with self.lock:
                while self.error is None and self.taken < self.count and self.taken >= self.folded + self.window:
                    self.lock.wait()
                if self.error is not None or self.taken >= self.count:
                    return
                index, self.taken = self.taken, self.taken + 1
            value = self.task(index)
            with self.lock:
                self.done[index] = value
                if self.folding:  # another worker is adding: it takes this value in its turn
                    continue
                self.folding = True
            self._fold()

    def _fold(self) -> None:
        """Add the values next in order, one worker at a time (``folding``), each addition
        outside the lock: a worker ending an item meanwhile only leaves its value."""
        while True:
            with self.lock:
                if self.error is not None or self.folded not in self.done:
                    self.folding = False
                    return
                value = self.done.pop(self.folded)
            self.total = value if self.total is None else self.add(self.total, value)
            with self.lock:
                self.folded += 1
                self.lock.notify_all()

    def stop(self, error: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = error
            self.lock.notify_all()


def fold_in_order(n_threads: int, count: int, task: Callable, add: Callable, window: int):
    """add(...add(task(0), task(1))..., task(count - 1)), the items computed on the process's pool
    of ``n_threads`` workers and added in item order (the same value whatever the thread count).

    Each worker takes the next item, computes it and adds the values that are next in order
    itself; at most ``window`` items are taken and not yet added. The calling thread only
    waits for the pass: it takes no part per item (waking it for each result and handing the
    next item out cost ~4 % of a (1e6, 32, 16) diag iteration's CPU time, with one chunk's
    fixed cost of a task's future). On an error no item is taken after it; the items running
    are waited for, the first error is raised, and the workers' scratch buffers are dropped.
    """
    state = _OrderedFold(count, window, task, add)
    pool = shared_pool(n_threads)
    futures = [pool.submit(state.run) for _ in range(min(n_threads, count))]
    try:
        for future in futures:
            future.result()
    except BaseException as error:  # an interrupt of the calling thread: no item is taken after it
        state.stop(error)
        raise
    finally:
        settle(futures)
    if state.error is not None:
        raise state.error
    return state.total


def _forget_pools() -> None:
    """In a forked child the parent's worker threads do not exist: start afresh."""
    global _LOCK
    _POOLS.clear()
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)
