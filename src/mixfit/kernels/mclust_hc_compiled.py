"""mclust's VVV agglomeration (``engine.mclust_hc.merge_tree``) as numba loops (imported on
first use, never by ``import mixfit``; cached on disk, ``cache=True``).

The same greedy merges with the same arithmetic, term by term in numpy's order (the merged
scatter, its trace and ``np.linalg.det``, which numba computes as numpy does, at D = 2 by
``_det`` to the bit, the criterion), so that every cost, and with it every merge, is the numpy
tree's; only the search of the
cheapest pair differs: instead of an argmin over the whole n x n table at each of the n - 1
steps, each row keeps its cheapest partner, and only the rows whose partner was one of the two
merged groups are searched again. The first minimum in row-major order is the one taken, as
``np.argmin`` takes it. A NaN cost (which ``np.argmin`` would take first) is reported, and the
caller builds the tree in numpy.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
_TINY = np.finfo(np.float64).tiny


@_jit
def _det(W):
    """``np.linalg.det(W)`` to the bit; at D = 2 without its LAPACK call (a copy, a pivot array and
    getrf's entry, some 20x the arithmetic, on each of the tree's ~n^2 costs): the same LU with
    partial pivoting (the multiplier times the pivot's reciprocal, as getf2 scales), then numpy's
    and numba's sign and exp(sum of ln|u_jj|), 0 for a zero pivot. Equal to numba's
    ``np.linalg.det`` on 3e5 random, scaled and singular integer 2 x 2 matrices. Other D, and a
    matrix that is not finite (which ``np.linalg.det`` refuses), go to ``np.linalg.det``."""
    if W.shape[0] != 2 or not (np.isfinite(W[0, 0]) and np.isfinite(W[0, 1]) and np.isfinite(W[1, 0])
                               and np.isfinite(W[1, 1])):
        return np.linalg.det(W)
    a00, a01, a10, a11 = W[0, 0], W[0, 1], W[1, 0], W[1, 1]
    sign = 1.0
    if abs(a10) > abs(a00):  # the larger pivot of column 0 (the first of equals)
        a00, a01, a10, a11 = a10, a11, a00, a01
        sign = -1.0
    if a00 == 0.0:
        return 0.0
    low = a10 * (1.0 / a00) if abs(a00) >= _TINY else a10 / a00
    u11 = a11 - low * a01
    if u11 == 0.0:
        return 0.0
    if a00 < 0.0:
        sign = -sign
        a00 = -a00
    if u11 < 0.0:
        sign = -sign
        u11 = -u11
    log_det = 0.0 + np.log(a00)
    log_det = log_det + np.log(u11)
    return sign * np.exp(log_det)


@_jit
def _cost(m, trace, det, omega, p, beta):
    # engine.mclust_hc._cost, in its order of operations; m ** 1 is m (pow is exact where the
    # result is a double), without pow's call at D = 2
    power = m if p == 2.0 else m ** (p - 1)
    return m * p * np.log((trace + omega + det / (beta * power)) / m)


@_jit
def _merged_cost(i, k, size, mean, scatter, own, omega, beta, W):
    """``merge_tree.merged_with(i, [k])``: the change of the criterion if groups i and k merge."""
    p = mean.shape[1]
    f = size[i] * size[k] / (size[i] + size[k])
    for a in range(p):
        for b in range(p):  # scatter[ks] + scatter[i] + f d d^T, numpy's association
            W[a, b] = (scatter[k, a, b] + scatter[i, a, b]) + (f * (mean[k, a] - mean[i, a])) * (
                mean[k, b] - mean[i, b])
    trace = 0.0
    for a in range(p):
        trace += W[a, a]
    m = size[i] + size[k]
    g = _cost(m, trace, _det(W), omega, float(p), beta)
    return g - own[i] - own[k]


@_jit
def _row_minimum(delta, r):
    """(the smallest entry of row r, its first column)."""
    best = np.inf
    where = -1
    for c in range(delta.shape[1]):
        if delta[r, c] < best:
            best = delta[r, c]
            where = c
    return best, where


@_jit
def pair_costs(Z, omega, beta, delta, first_row, end_row):
    """The singletons' merge costs of rows ``first_row <= i < end_row`` with every later row,
    written into ``delta`` at (i, k) and (k, i), each pair's two entries by this call alone, so
    that two calls on disjoint bands can run at once (numba ``nogil``); False where a cost was
    NaN. ``merge_tree``'s first table, the same costs to the bit."""
    n, p = Z.shape
    size = np.ones(n)
    mean = Z.copy()
    scatter = np.zeros((n, p, p))
    own = np.empty(n)
    own[:] = _cost(1.0, 0.0, 0.0, omega, float(p), beta)
    W = np.empty((p, p))
    for i in range(first_row, end_row):
        for k in range(i + 1, n):
            value = _merged_cost(i, k, size, mean, scatter, own, omega, beta, W)
            if np.isnan(value):
                return False
            delta[i, k] = value
            delta[k, i] = value
    return True


@_jit
def merge_tree(Z, omega, beta):
    """(ok, pairs (n - 1, 2)): the greedy VVV merges of the rows of Z given ``omega``
    (``merge_tree``'s alpha term, computed by the caller as numpy does); ok False where a
    cost was NaN."""
    n = Z.shape[0]
    delta = np.full((n, n), np.inf)
    if not pair_costs(Z, omega, beta, delta, 0, n):
        return False, np.zeros((0, 2), dtype=np.int64)
    return merges(Z, omega, beta, delta)


@_jit
def merges(Z, omega, beta, delta):
    """``merge_tree`` from its first table ``delta`` (n, n) (``pair_costs`` of every row, inf on
    the diagonal), which it overwrites."""
    n, p = Z.shape
    size = np.ones(n)
    mean = Z.copy()
    scatter = np.zeros((n, p, p))
    first = np.arange(n)
    alive = np.ones(n, dtype=np.bool_)
    own = np.empty(n)
    own[:] = _cost(1.0, 0.0, 0.0, omega, float(p), beta)
    W = np.empty((p, p))
    row_min = np.empty(n)
    row_arg = np.empty(n, dtype=np.int64)
    for r in range(n):
        row_min[r], row_arg[r] = _row_minimum(delta, r)
    pairs = np.empty((n - 1, 2), dtype=np.int64)
    for step in range(n - 1):
        i = -1
        best = np.inf
        for r in range(n):  # the first row holding the smallest entry: np.argmin's flat order
            if alive[r] and row_min[r] < best:
                best = row_min[r]
                i = r
        j = row_arg[i]  # i < j: the first minimum of a symmetric table lies above the diagonal
        pairs[step, 0] = min(first[i], first[j])
        pairs[step, 1] = max(first[i], first[j])
        f = size[i] * size[j] / (size[i] + size[j])
        for a in range(p):
            for b in range(p):  # scatter[i] + scatter[j] + f * np.outer(d, d)
                scatter[i, a, b] = (scatter[i, a, b] + scatter[j, a, b]) + f * (
                    (mean[j, a] - mean[i, a]) * (mean[j, b] - mean[i, b]))
        for a in range(p):
            mean[i, a] = (size[i] * mean[i, a] + size[j] * mean[j, a]) / (size[i] + size[j])
        size[i] += size[j]
        first[i] = min(first[i], first[j])
        trace = 0.0
        for a in range(p):
            trace += scatter[i, a, a]
        own[i] = _cost(size[i], trace, _det(scatter[i]), omega, float(p), beta)
        alive[j] = False
        row_min[j] = np.inf
        for c in range(n):
            delta[j, c] = np.inf
            delta[c, j] = np.inf
        for k in range(n):
            if alive[k] and k != i:
                value = _merged_cost(i, k, size, mean, scatter, own, omega, beta, W)
                if np.isnan(value):
                    return False, pairs
                delta[i, k] = value
                delta[k, i] = value
        row_min[i], row_arg[i] = _row_minimum(delta, i)
        for r in range(n):
            if not alive[r] or r == i:
                continue
            if row_arg[r] == i or row_arg[r] == j:
                row_min[r], row_arg[r] = _row_minimum(delta, r)
            elif delta[r, i] < row_min[r] or (delta[r, i] == row_min[r] and i < row_arg[r]):
                row_min[r] = delta[r, i]
                row_arg[r] = i
    return True, pairs
