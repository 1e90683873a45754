"""The compiled calls of a sweep's cells on threads, costliest first (``compiled_cells.compiled_sweep``).

The cells of mclust's table differ some hundredfold in cost (EII at K = 1 takes two EM
iterations on K = 1 component; VVE at K = 9 a hundred, each with an inner loop over nine), so
the order in which two threads take them sets the sweep's wall time: taken in sweep order
(family by family, K = 1..9), the last calls to start are the last families' K = 9 cells, and
one thread works on alone while the other idles. Here the calls are taken costliest first by
a cost model (``cell_cost``: the longest-processing-time rule, whose last calls are the short
ones), and each output is read back (``finish``) as soon as it is there, in whatever order the
calls end, while the table, the warnings and any error come out in sweep order: a cell's
warnings are recorded as it is finished and re-issued when the sweep reaches it.

The model is a ranking, not a time: the EM's iterations per cell are not known before the
call, so it takes the typical count at K (two at K = 1, a few at K = 2, some fifty beyond) by
the work of one iteration (n rows by K components by D^2, more for the families whose M-step
has an inner loop or an eigendecomposition per component). Nothing is kept between sweeps.
"""

from __future__ import annotations

import heapq
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from queue import SimpleQueue

from ..families.registry import MCLUST_MODEL_NAMES

# The work of one EM iteration relative to the closed-form families', per family code: an inner
# loop (VEI, VEE, EVE, VVE, VEV) or an eigendecomposition per component (EEV, EVV).
_FAMILY_WEIGHT = tuple({"VEI": 2.0, "VEE": 2.0, "EVE": 3.0, "VVE": 3.0, "VEV": 3.0,
                        "EEV": 1.5, "EVV": 1.5}.get(name, 1.0) for name in MCLUST_MODEL_NAMES)
_TYPICAL_ITERATIONS = {1: 2.0, 2: 5.0}  # beyond: 50 (the tables of faithful and iris: 10-100)


def cell_cost(arguments) -> float:
    """The ranking cost of a cell's compiled call (``mclust_cell_arguments``' tuple): the typical
    EM iterations at K by one iteration's work."""
    X, K, code = arguments[0], arguments[3], arguments[4]
    n, D = X.shape
    return _TYPICAL_ITERATIONS.get(K, 50.0) * n * K * D * D * _FAMILY_WEIGHT[code]


class _Finished:
    """A cell finished out of sweep order: its value or error, and the warnings it raised."""

    __slots__ = ("caught", "error", "value")

    def __init__(self, value, error, caught):
        self.value, self.error, self.caught = value, error, caught

    def result(self):
        for caught in self.caught:  # re-issued where the sweep reaches the cell, through the filters
            warnings.warn_explicit(caught.message, caught.category, caught.filename, caught.lineno,
                                   source=caught.source)
        if self.error is not None:
            raise self.error
        return self.value


def _finished(finish, task, pending, output) -> _Finished:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # recorded here, filtered when re-issued
        try:
            return _Finished(finish(task, pending, output), None, caught)
        except Exception as error:  # noqa: BLE001 - raised in sweep order, by result()
            return _Finished(None, error, caught)


def _warming(executor, warm):
    """``warm(submit)`` on one of ``executor``'s threads, returned (its future) once ``warm``
    first submits or has ended: its Python before that (the tree's transform, its cache key) runs
    alone, and only its compiled part overlaps the calling thread's Python, which would otherwise
    share the GIL with it at every switch interval."""
    entered = threading.Event()

    def submit(function, *args):
        entered.set()
        return executor.submit(function, *args)

    def run():
        try:
            warm(submit)
        finally:
            entered.set()

    future = executor.submit(run)
    entered.wait()
    return future


def threaded_cells(check, start, run, finish, tasks, n_threads: int, warm=None, cost=cell_cost):
    """``finish(task, pending, run(pending.arguments))`` of each ``pending = start(check(task))``,
    yielded in task order (None for a task, a check or a start that is None: the caller fits that
    cell).

    ``warm(submit)`` (mclust's tree, which every start at K >= 2 cuts) runs first on one of the
    threads, ``submit`` the threads' executor's (the others are idle: ``warm`` may use them),
    the calling thread waiting until ``warm`` first submits (``_warming``),
    while the calling thread runs ``check`` on every task in task order (the cells' Python,
    which needs no tree); then ``start`` on each, in task order, each started call queued at once
    by ``cost`` (of its arguments; ``cell_cost``). ``n_threads`` threads take the costliest queued
    call each time they are free (``run`` must hold no lock and touch nothing but its
    arguments); ``finish`` runs on the calling thread as each call ends, and a value is yielded
    once every earlier one is. (Python's switch interval is left as it is: cut to 0.1 ms for the
    sweep, so that a thread whose call has ended need not wait up to 5 ms for the GIL while the
    calling thread runs Python, it cost 7-9 % of the sweep where another process held a core,
    and showed no gain where two were free.)"""
    heap, lock, done = [], threading.Lock(), SimpleQueue()

    def costliest():
        with lock:
            _, index, pending = heapq.heappop(heap)
        try:
            done.put((index, pending, run(pending.arguments), None))
        except BaseException as error:  # noqa: BLE001 - re-raised on the calling thread, in task order
            done.put((index, pending, None, error))

    results = [None] * len(tasks)
    executor = ThreadPoolExecutor(n_threads, thread_name_prefix="mixfit-cells")
    try:
        warming = None if warm is None else _warming(executor, warm)
        checked = [None if task is None else check(task) for task in tasks]
        if warming is not None:
            warming.result()
        for index, ready in enumerate(checked):
            pending = None if ready is None else start(ready)
            if pending is None:
                results[index] = _Finished(None, None, ())
                continue
            with lock:
                heapq.heappush(heap, (-cost(pending.arguments), index, pending))
            executor.submit(costliest)
        del checked
        for index in range(len(tasks)):
            while results[index] is None:  # finish what has ended, in any order, until this one has
                ended, pending, output, error = done.get()
                if ended == index and error is None:  # its turn: finished as the serial sweep does
                    results[index] = _Finished(finish(tasks[index], pending, output), None, ())
                else:  # ahead of its turn: its warnings kept for it
                    results[ended] = (_finished(finish, tasks[ended], pending, output) if error is None
                                      else _Finished(None, error, ()))
            yield results[index].result()
            results[index] = True  # yielded: the cell is the caller's
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
