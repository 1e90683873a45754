"""The rows of a chunk grouped by missingness pattern, remembered across the iterations of a fit.

``observed_sums`` (models/missing.py) works a chunk's rows sorted by their number of missing
entries, then by pattern, so that a pattern's factors are made once and read by consecutive rows.
That grouping depends on the chunk's mask alone, which an in-memory fit presents unchanged at
every iteration (and every start): made afresh it was ~6 % of an iteration at (1e5, 16, 8) with
20 % missing. ``sorted_patterns`` keeps the last few groupings, keyed by the mask's content (a
128-bit BLAKE2b digest of its packed bits, then the packed bits compared in full), so a hit is
exactly the grouping the mask would give, whatever array, view or copy carries it. The memo is
bounded (``_CACHE_BYTES`` in all, least recently used first out): a source larger than that
(a memmap or a stream of many chunks) misses and pays a digest per chunk (~1 % of the grouping).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

# The memo's size: ~26 bytes a row with D = 16, so about 1.3e6 rows' groupings.
_CACHE_BYTES = 32 * 2**20
_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHED = {"bytes": 0}


class Grouping(NamedTuple):
    """A chunk's rows sorted by their number of missing entries, then by pattern.

    order (n,): the rows of X in that order; pattern (n,): the pattern of each row of X[order];
    patterns (P, D) bool; counts (P,): missing entries per pattern; then the starts of each
    pattern's block for one component (``offsets``, m^2 values) and of each row's (``yoffsets``,
    m values), (P + 1,) and (n + 1,): for Kp components, Kp times these.
    """

    order: np.ndarray
    pattern: np.ndarray
    patterns: np.ndarray
    counts: np.ndarray
    offsets: np.ndarray
    yoffsets: np.ndarray


def sorted_patterns(missing: np.ndarray) -> Grouping:
    """The ``Grouping`` of a boolean mask (n, D), from the memo where the same mask was seen."""
    packed = np.packbits(missing, axis=None)
    key = (missing.shape, hashlib.blake2b(packed, digest_size=16).digest())
    with _CACHE_LOCK:
        entry = _CACHE.get(key)
        if entry is not None:
            _CACHE.move_to_end(key)
    if entry is not None and np.array_equal(entry[0], packed):
        return entry[1]
    grouping = _grouping(missing)
    size = packed.nbytes + sum(a.nbytes for a in grouping)
    if size <= _CACHE_BYTES // 4:
        with _CACHE_LOCK:
            old = _CACHE.pop(key, None)
            _CACHED["bytes"] += size - (0 if old is None else old[2])
            _CACHE[key] = (packed, grouping, size)
            while _CACHED["bytes"] > _CACHE_BYTES:
                _CACHED["bytes"] -= _CACHE.popitem(last=False)[1][2]
    return grouping


def _grouping(missing):
    order, pattern, patterns = _sort(missing)
    counts = patterns.sum(axis=1)
    grouping = Grouping(order, pattern, patterns, counts, _offsets(counts * counts), _offsets(counts[pattern]))
    for array in grouping:  # shared by the callers that meet the same mask: never written
        array.flags.writeable = False
    return grouping


def _offsets(sizes):
    """(len + 1,) int64 starts of consecutive blocks of these sizes."""
    out = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


def _sort(missing):
    """(order (n,), the pattern of each row of X[order] (n,), patterns (P, D) bool): the rows of a
    boolean mask sorted by their number of missing entries, then (where D <= 46, one int64 key per
    row) by pattern."""
    n, D = missing.shape
    if D > 46:
        order = np.argsort(missing.sum(axis=1), kind="stable")
        pattern, patterns = unsorted_patterns(missing[order])
        return order, pattern, patterns
    # key = count 2^D + sum_d 2^d [d missing] = sum_d [d missing] (2^D + 2^d): one product, exact
    # in float64 (below 2^52 for D <= 46)
    key = (missing @ (np.ldexp(1.0, D) + np.ldexp(1.0, np.arange(D)))).astype(np.int64)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.empty(n, dtype=bool)
    starts[:1] = True
    np.not_equal(key[1:], key[:-1], out=starts[1:])
    return order, np.cumsum(starts) - 1, missing[order[starts]]


def unsorted_patterns(missing: np.ndarray):
    """(pattern id per row (n,), patterns (P, D) bool) of a boolean mask."""
    if missing.shape[1] <= 62:  # one int64 code per row: a 1-D unique, much faster than by rows
        codes = missing.astype(np.int64) @ (np.int64(1) << np.arange(missing.shape[1], dtype=np.int64))
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    else:
        packed = np.packbits(missing, axis=1)
        _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    return inverse.reshape(-1), missing[first]
