"""mclust's start: model-based agglomerative clustering under VVV on the scaled-SVD data.

R's mclust starts EM at each K from ``hclass(hc(X, modelName="VVV", use="SVD"), K)``. Its
documentation (``?hc``, ``?hcVVV``, ``?mclust.options``; Fraley 1998; Scrucca and Raftery 2015)
says what is computed; the two facts it leaves implicit were measured by running R mclust 6.0.0
as a black box (the probes are described in docs/families.md, "mclust's start"); no mclust
source was read.

- **Transform** (``hcUse = "SVD"``, "scaled SVD"): the columns centred and scaled to unit
  standard deviation (``n - 1`` divisor), X_s = U D V^T, and the tree is built on Z = U D^{1/2}.
  This equals the ``data`` attribute of R's ``hc`` object to 1e-14.
- **Criterion** (the classification likelihood of VVV, Fraley 1998, regularised with mclust's
  ``alpha = beta = 1`` so that groups of fewer than D + 1 rows have a finite cost): a group of
  m rows with scatter W costs

      g(m, W) = m D ln[(tr W + omega + det W / (beta m^(D-1))) / m],
      omega = alpha tr(W_all) / (n D),

  W_all the scatter of all rows; each step merges the pair that least increases the sum of g.
  For a singular W (m <= D) this is the VII criterion with mclust's ``alpha`` term; the det
  term brings in the shape once the group spans the space. Measured: every one of some 60
  bisected decision boundaries of R's first merge (groups of 1 to 21 rows, D = 2 and 3, alpha
  in 0.01..10, beta in 0.1..10) lies where this g ties, to 1e-10.

Where we differ: from a given partition R's next merge is the greedy one above, but R's
agglomeration from singletons sometimes (a few steps in a few hundred) takes a merge other than
the least-cost one, as if a stored cost were stale; we do not reproduce that bookkeeping, so a
cut of the tree can differ from R's below the step where the two first part (the tests name it).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

import numpy as np

from ..kernels.numba_switch import NUMBA as _NUMBA
from . import loop

ALPHA = 1.0  # mclust's hcVVV defaults
BETA = 1.0


def scaled_svd(X: np.ndarray) -> np.ndarray:
    """mclust's ``hcUse = "SVD"`` transform: U D^{1/2} of the standardised columns (n, D)."""
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(axis=0, ddof=1)
    Xs = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    u, s, _ = np.linalg.svd(Xs, full_matrices=False)
    return u * np.sqrt(s)


def _cost(m, trace, det, omega, p, beta):
    return m * p * np.log((trace + omega + det / (beta * m ** (p - 1))) / m)


def merge_tree(Z: np.ndarray, alpha: float = ALPHA, beta: float = BETA) -> np.ndarray:
    """The greedy VVV merges of the rows of Z: (n - 1, 2) row indices, each the smallest row of
    the two groups merged at that step (R's ``hc`` pairs, 0-based)."""
    Z = np.asarray(Z, dtype=np.float64)
    n, p = Z.shape
    centred = Z - Z.mean(axis=0)
    omega = alpha * np.einsum("ij,ij->", centred, centred) / (n * p)
    size = np.ones(n)
    mean = Z.copy()
    scatter = np.zeros((n, p, p))
    first = np.arange(n)  # smallest row of each group
    alive = np.ones(n, dtype=bool)
    own = np.full(n, _cost(1.0, 0.0, 0.0, omega, p, beta))

    def merged_with(i, ks):
        """Cost change (len(ks),) of merging group i with each group in ks, and the merged W."""
        d = mean[ks] - mean[i]  # (k, p)
        f = size[i] * size[ks] / (size[i] + size[ks])
        W = scatter[ks] + scatter[i] + f[:, None, None] * d[:, :, None] * d[:, None, :]
        m = size[i] + size[ks]
        g = _cost(m, np.trace(W, axis1=1, axis2=2), np.linalg.det(W), omega, p, beta)
        return g - own[i] - own[ks]

    delta = np.full((n, n), np.inf)
    for i in range(n - 1):
        delta[i, i + 1:] = merged_with(i, np.arange(i + 1, n))
    delta = np.minimum(delta, delta.T)
    pairs = np.empty((n - 1, 2), dtype=np.int64)
    for step in range(n - 1):
        flat = int(np.argmin(delta))
        i, j = divmod(flat, n)
        i, j = min(i, j), max(i, j)
        pairs[step] = sorted((first[i], first[j]))
        d = mean[j] - mean[i]
        f = size[i] * size[j] / (size[i] + size[j])
        scatter[i] = scatter[i] + scatter[j] + f * np.outer(d, d)
        mean[i] = (size[i] * mean[i] + size[j] * mean[j]) / (size[i] + size[j])
        size[i] += size[j]
        first[i] = min(first[i], first[j])
        own[i] = _cost(size[i], np.trace(scatter[i]), np.linalg.det(scatter[i]), omega, p, beta)
        alive[j] = False
        delta[j, :] = delta[:, j] = np.inf
        others = np.flatnonzero(alive)
        others = others[others != i]
        if others.size:
            row = merged_with(i, others)
            delta[i, others] = delta[others, i] = row
    return pairs


def cut(pairs: np.ndarray, n_samples: int, n_clusters: int) -> np.ndarray:
    """Labels (n,) of the tree cut at ``n_clusters`` (R's ``hclass``): the first
    n - n_clusters merges applied; groups numbered 0.. by their first row."""
    if not 1 <= n_clusters <= n_samples:
        raise ValueError(f"n_clusters={n_clusters}; expected 1 <= n_clusters <= {n_samples}")
    # Each merge (a, b) joins the groups whose smallest rows are a < b: b's group takes a as its
    # smallest row, and b is never a group's smallest row again. So b -> a pointers, followed to
    # their end (pointer jumping: each pass halves every path), give each row its group's
    # smallest row; the groups are then numbered in the order of those rows.
    steps = pairs[: n_samples - n_clusters]
    root = np.arange(n_samples)
    root[steps[:, 1]] = steps[:, 0]
    while True:
        jumped = root[root]
        if np.array_equal(jumped, root):
            break
        root = jumped
    _, labels = np.unique(root, return_inverse=True)
    return labels


_SPARE_THREAD: ContextVar = ContextVar("mixfit_mclust_tree_spare_thread", default=None)
SPLIT_ROWS = 64  # from this many rows (at D = 2) a spare thread takes part of the first table


@contextmanager
def spare_thread(submit):
    """Within the block, ``compiled_merge_tree`` hands the later rows' share of its first table
    (the singletons' n (n - 1) / 2 merge costs, half of the tree's time; at D = 2, and a call
    with nothing to do otherwise) to another thread through ``submit`` (``submit(function,
    *args)`` runs the call on a thread free to take it at once and returns an object whose
    ``result()`` waits for it: in a selection sweep the calling thread,
    ``selection.cell_threads``), computing the rest itself."""
    token = _SPARE_THREAD.set(submit)
    try:
        yield
    finally:
        _SPARE_THREAD.reset(token)


def _nothing() -> bool:
    """The spare thread's share of a tree whose first table is not split (``compiled_merge_tree``)."""
    return True


def compiled_merge_tree(Z: np.ndarray, alpha: float = ALPHA, beta: float = BETA) -> np.ndarray | None:
    """``merge_tree`` by ``kernels.mclust_hc_compiled`` (numba): the same merges (each cost by
    the same operations; the cheapest pair found without a full search per step), or None
    where numba is missing or a cost was NaN. Inside ``spare_thread`` the first table is
    computed in two bands at once, the same costs to the bit, where D = 2; beyond, each cost's
    determinant is a call of LAPACK's getrf, and OpenBLAS's getrf on two threads at once takes
    longer than on one (measured on 4 x 4 matrices: two threads' calls at once took more than
    the same calls made in turn on one thread, where arithmetic without LAPACK took little more
    on two threads than half of it on one; docs/families.md), so the whole tree is built here,
    the spare thread handed nothing (``_nothing``: its owner learns that the tree's compiled
    part begins)."""
    if not _NUMBA:
        return None
    from ..kernels import mclust_hc_compiled as kernel  # optional: numba, on first use

    Z = np.ascontiguousarray(Z, dtype=np.float64)
    n, p = Z.shape
    centred = Z - Z.mean(axis=0)
    omega = float(alpha * np.einsum("ij,ij->", centred, centred) / (n * p))  # as merge_tree computes it
    submit = _SPARE_THREAD.get()
    if submit is not None and n >= SPLIT_ROWS and p != 2:
        submit(_nothing).result()
    if submit is None or n < SPLIT_ROWS or p != 2:
        ok, pairs = kernel.merge_tree(Z, omega, float(beta))
        return pairs if ok else None
    delta = np.full((n, n), np.inf)
    split = round(n * (1.0 - 0.5 ** 0.5))  # rows [0, split) hold half the pairs (i < k)
    other = submit(kernel.pair_costs, Z, omega, float(beta), delta, split, n)
    try:
        ok = kernel.pair_costs(Z, omega, float(beta), delta, 0, split)
    finally:
        ok = other.result() and ok  # delta is shared: never left while the other band writes it
    if not ok:
        return None
    ok, pairs = kernel.merges(Z, omega, float(beta), delta)
    return pairs if ok else None


@lru_cache(maxsize=4)
def _tree_of(data: bytes, shape: tuple) -> np.ndarray:
    # A sweep over K and the fourteen families asks for the same tree many times: build it once
    # per data (the key is the rows' bytes, so a changed array is a new tree). Inside
    # ``compiled_small_fits()`` (a sweep, which pays numba's compile once) by the compiled loop.
    Z = scaled_svd(np.frombuffer(data, dtype=np.float64).reshape(shape))
    pairs = compiled_merge_tree(Z) if loop._COMPILED_SMALL.get() else None
    return merge_tree(Z) if pairs is None else pairs


@lru_cache(maxsize=64)
def _cut_of(data: bytes, shape: tuple, n_clusters: int) -> np.ndarray:
    # ... and each of its cuts once (a sweep asks for every K once per family)
    labels = cut(_tree_of(data, shape), shape[0], n_clusters)
    labels.setflags(write=False)
    return labels


def mclust_partition(X, n_clusters: int) -> np.ndarray:
    """mclust's starting partition at ``n_clusters``: the VVV tree of the scaled-SVD rows cut
    (read-only: the array is shared by every call with the same rows and K)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    return _cut_of(X.tobytes(), X.shape, n_clusters)


def mclust_stats(model, source, n_components: int):
    """``starts.py``'s 'mclust' method: the statistics of mclust's partition of every row, taken
    about the groups' means (the M-step from them is mclust's first M-step)."""
    if not source.in_memory:
        raise ValueError("init_params='mclust' needs the rows in memory (the tree is O(n^2))")
    X = np.asarray(source.X)
    if X.shape[0] < n_components:
        raise ValueError(f"init_params='mclust' needs n_samples >= n_components = {n_components}")
    labels = mclust_partition(X, n_components)
    resp = np.zeros((X.shape[0], n_components), dtype=X.dtype)
    resp[np.arange(X.shape[0]), labels] = 1
    shift = (resp.T @ X) / resp.sum(axis=0)[:, None]
    w = None if source.sample_weight is None else np.asarray(source.sample_weight)
    return model.statistics(X, resp, w, shift.astype(X.dtype))
