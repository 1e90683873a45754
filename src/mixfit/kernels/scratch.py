"""Per-thread scratch arrays for the E-step's large temporaries.

A chunk's E-step makes several arrays of the chunk's size (the centred rows, the packed pair
products, squared rows). Allocated afresh for every chunk, each of them is a new mapping from the
operating system (glibc serves blocks over its mmap threshold that way) whose pages are faulted in
and zeroed on first touch: measured on this project's benchmarks, that cost up to half of an
iteration (spherical covariance at (2e5, 64, 32): 0.19 s against 0.08 s with the allocator told
to keep its memory). Reusing one buffer per thread and use site removes it, without changing the
process's allocator policy.

Only temporaries that never leave the call that made them go here: the next chunk on the same
thread overwrites them. An in-memory source's worker threads outlive a pass (``backends.pool``),
so the source drops every thread's buffers at the end of each pass (``release_all``); the calling
thread's alone go with ``release``. The threads of dask's scheduler keep one chunk's worth each.
"""

from __future__ import annotations

import sys
import threading
import weakref
from math import prod

import numpy as np

from .numba_switch import NUMBA

_LOCAL = threading.local()
# Every thread's pool, by thread, for ``release_all``; a thread's entry goes when the thread ends.
_POOLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_POOLS_LOCK = threading.Lock()


def scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``, reused by this thread for
    every later call with the same ``name`` (a buffer grows to the largest request)."""
    pool = getattr(_LOCAL, "pool", None)
    if pool is None:
        pool = _LOCAL.pool = {}
        with _POOLS_LOCK:
            _POOLS[threading.current_thread()] = pool
    dtype = np.dtype(dtype)
    nbytes = prod(shape) * dtype.itemsize
    buffer = pool.get(name)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = pool[name] = np.empty(max(nbytes, 1), dtype=np.uint8)
    return buffer[:nbytes].view(dtype).reshape(shape)


def release() -> None:
    """Drop this thread's buffers."""
    pool = getattr(_LOCAL, "pool", None)
    if pool is not None:
        pool.clear()


def release_all() -> None:
    """Drop every thread's buffers (called between passes: an array a thread still holds stays
    valid, as the pool only loses its reference)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
    for pool in pools:
        pool.clear()


def centred(X: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """X - centre in this thread's scratch buffer, in X's dtype (the E-step's first temporary)."""
    return np.subtract(X, centre, out=scratch("centred", X.shape, X.dtype), casting="same_kind")


# Rows from which ``centred_if_complete`` takes its compiled loop, where numba is used
# (numba_switch.py) and loaded already by a family's kernels: the loop gives the same numbers as
# numpy's, so which one runs changes only the time, and it never brings numba's import into a
# process without it.
_COMPILED_MIN_ROWS = 1024


def centred_if_complete(X: np.ndarray, centre: np.ndarray) -> np.ndarray | None:
    """``centred(X, centre)``, or None where X has a NaN entry: one read of X where numba is
    loaded (numpy: the minimum as the NaN check, then the subtraction; the same numbers). Measured on
    chunks of (7281, 32) float64 read from memory, one thread: 85 us against numpy's 210 us."""
    if X.shape[0] >= _COMPILED_MIN_ROWS and X.dtype.kind == "f" and NUMBA and sys.modules.get("numba") is not None:
        from .centred_compiled import centred_into  # optional: numba, loaded already

        out = scratch("centred", X.shape, X.dtype)
        return None if centred_into(X, np.asarray(centre), out) else out
    # X.min() is NaN exactly where an entry is (NaN propagates): one read with no (n, D) mask,
    # 19 against 55 us on a (10 082, 16) float64 chunk
    if X.size and np.isnan(X.min()):
        return None
    return centred(X, centre)
