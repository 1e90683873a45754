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
from concurrent.futures import Future, ThreadPoolExecutor
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


class _Handed:
    """The future of a call that ``warm`` handed to the calling thread (``_warming``): ``result()``
    as a ``Future``'s, and once it has returned or raised, ``read`` is set."""

    __slots__ = ("future", "read")

    def __init__(self, future: Future, read: threading.Event):
        self.future, self.read = future, read

    def result(self):
        try:
            return self.future.result()
        finally:
            self.read.set()


def _warming(executor, warm, ended):
    """``warm(submit)`` on one of ``executor``'s threads, returned (its future) once ``warm``
    has read the result of its first ``submit`` (or has ended), whose call runs here, on the
    calling thread, meanwhile; a later ``submit`` goes to ``executor``. ``ended()`` is called on
    ``warm``'s thread once ``warm`` has returned or raised.

    The calling thread's Python after this (the checks, a millisecond and more of it) holds the
    GIL, which ``warm`` needs at each step between its compiled calls (to enter one, to wait for
    another thread's): a thread waiting for the GIL gets it only at the switch interval (5 ms)
    or once the holder blocks, so a tree whose first table went to an idle cell thread while the
    checks ran here entered its own half, and later its merges, only after the checks (its two
    halves often ran one after the other). Here the calling thread takes the handed half itself
    (the mclust tree's later rows' share of its first table, ``engine.mclust_hc.spare_thread``)
    and returns only once ``warm`` has its result, so that its Python begins as ``warm`` enters
    its next compiled call (the merges, which the checks then overlap)."""
    entered, lock, handed, read = threading.Event(), threading.Lock(), [], threading.Event()

    def submit(function, *args):
        with lock:
            if not entered.is_set():  # the calling thread is waiting: it takes the call
                future = Future()
                handed.append((future, function, args))
                entered.set()
                return _Handed(future, read)
        return executor.submit(function, *args)

    def run():
        try:
            warm(submit)
        finally:
            with lock:
                entered.set()
            read.set()  # a handed result never read: nothing to wait for
            ended()

    warming = executor.submit(run)
    entered.wait()
    for future, function, args in handed:
        try:
            result = function(*args)
        except BaseException as error:  # warm's to raise, where it reads the result
            future.set_exception(error)
            if not isinstance(error, Exception):  # an interrupt is the calling thread's too
                raise
        else:
            future.set_result(result)
        read.wait()
    return warming


_WARMED = None  # the event that ``warm`` has ended, on the queue of ended calls


def threaded_cells(check, start, run, finish, tasks, n_threads: int, warm=None, cost=cell_cost, early=None):
    """``finish(task, pending, run(pending.arguments))`` of each ``pending = start(check(task))``,
    yielded in task order (None for a task, a check or a start that is None: the caller fits that
    cell).

    ``warm(submit)`` (mclust's tree, which every start at K >= 2 cuts) runs first on one of the
    threads, its first ``submit`` run by the calling thread, which waits until ``warm`` has read
    its result (``_warming``), a later one by the threads' executor (the others are idle:
    ``warm`` may use them); then, while ``warm`` goes on, the calling thread runs ``check`` on
    every task in task order (the cells' Python, which needs no tree) and ``start`` on each
    checked task that ``early`` passes (a start that needs nothing of ``warm``: mclust's K = 1),
    queuing their calls for the threads that ``warm`` leaves idle and finishing those that end;
    once ``warm`` has ended, ``start`` on each other task, in task order. The started calls are queued by ``cost`` (of their arguments;
    ``cell_cost``) in one batch each time, and ``n_threads`` threads take the costliest queued
    call each time they are free (``run`` must hold no lock and touch nothing but its
    arguments); ``finish`` runs on the calling thread as each call ends, and a value is yielded
    once every earlier one is and ``warm`` has ended (so every start is done before the caller
    resumes). A batch is queued whole before a thread is woken: a thread that took a call at
    once would wait for the GIL, which the calling thread holds while it starts the next cells,
    up to the switch interval. (Python's switch interval is left as it is: cut to 0.1 ms for the
    sweep, so that a thread whose call has ended need not wait up to 5 ms for the GIL while the
    calling thread runs Python, it cost 7-9 % of the sweep where another process held a core,
    and showed no gain where two were free.)"""
    heap, lock, done = [], threading.Lock(), SimpleQueue()

    def costliest():  # the queued calls, costliest first, until none is left
        while True:
            with lock:
                if not heap:
                    return
                _, index, pending = heapq.heappop(heap)
            try:
                done.put((index, pending, run(pending.arguments), None))
            except BaseException as error:  # noqa: BLE001 - re-raised on the calling thread, in task order
                done.put((index, pending, None, error))

    results = [None] * len(tasks)

    def started(indices, checked):
        """``start`` of each task in ``indices``, in order, their calls queued in one batch."""
        batch = []
        for index in indices:
            pending = start(checked[index])
            if pending is None:
                results[index] = _Finished(None, None, ())
            else:
                batch.append((-cost(pending.arguments), index, pending))
        with lock:
            for entry in batch:
                heapq.heappush(heap, entry)
        for _ in range(min(n_threads, len(batch))):  # a thread that finds the queue empty returns
            executor.submit(costliest)

    def ended(event, index=None):
        """Finish an ended call: as the serial sweep does where it is ``index``'s, else with its
        warnings kept for its turn."""
        at, pending, output, error = event
        if at == index and error is None:
            results[at] = _Finished(finish(tasks[at], pending, output), None, ())
        else:
            results[at] = (_finished(finish, tasks[at], pending, output) if error is None
                           else _Finished(None, error, ()))

    executor = ThreadPoolExecutor(n_threads, thread_name_prefix="mixfit-cells")
    try:
        warming = None if warm is None else _warming(executor, warm, lambda: done.put(_WARMED))
        checked = [None if task is None else check(task) for task in tasks]
        for index, ready in enumerate(checked):
            if ready is None:
                results[index] = _Finished(None, None, ())
        now = [index for index, ready in enumerate(checked) if ready is not None
               and (warming is None or (early is not None and early(ready)))]
        started(now, checked)
        if warming is not None:
            while (event := done.get()) is not _WARMED:  # the early calls finished while warm runs
                ended(event)
            warming.result()
            chosen = set(now)
            started([index for index, ready in enumerate(checked) if ready is not None and index not in chosen],
                    checked)
        del checked
        for index in range(len(tasks)):
            while results[index] is None:  # finish what has ended, in any order, until this one has
                ended(done.get(), index)
            yield results[index].result()
            results[index] = True  # yielded: the cell is the caller's
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
