"""The M-steps of mclust's fourteen covariance families as numba loops (imported on first use,
never by ``import mixfit``; cached on disk, ``cache=True``).

Each function is the same mathematics, with the same inner rules (start, update order,
tolerance, cap), as ``families.mclust_msteps`` (and, for VVV, VVI, VII, EEE, the scikit-learn
families of ``families/full.py``, ``diag.py``, ``spherical.py``, ``tied.py``), written so that
``kernels.mclust_em_compiled`` can run a whole EM fit in one compiled call: only the order of
some sums differs (rounding). The derivations live in ``families/mclust_msteps.py`` and
docs/families.md; here the comments only say which function each loop mirrors.

Every covariance is returned dense, (K, D, D) (zero off the diagonal for the diagonal
families; the same matrix K times for the equal ones), so one E-step serves all fourteen.
``covariances`` returns (inner iterations, cap hit); it writes NaN where the numpy M-step
would have produced a non-finite or non-positive variance, which the caller reports as a
failed M-step.

Family codes: the position of the name in mclust's order (``FAMILY_CODES``).
"""

from __future__ import annotations

import numba
import numpy as np

from .orientation_compiled import common_orientation, pooled_into
from .small_dense_compiled import (
    _geometric_mean,
    _moved,
    _sandwich,
    eigh_carried,
    inverse_into,
    log_det_into,
)

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")

FAMILY_CODES = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV = range(14)
# families.mclust_msteps._FLAT: a plane where the orientation objective is flat to rounding
_FLAT = 64 * np.finfo(np.float64).eps


# ---- the diagonal families (variances (K, D)) --------------------------------------------------------


@_jit
def _vei(variances, mass, tol, max_iter):
    """``mclust_msteps.vei``: volumes and a common diagonal shape, alternated."""
    dim = variances.shape[1]
    scatter = mass[:, None] * variances
    shape = scatter.sum(axis=0)
    shape = shape / _geometric_mean(shape)
    volume = (scatter / shape).sum(axis=1) / (dim * mass)
    moved = True
    iteration = 0
    for iteration in range(1, max_iter + 1):
        new_shape = (scatter / volume[:, None]).sum(axis=0)
        new_shape = new_shape / _geometric_mean(new_shape)
        new_volume = (scatter / new_shape).sum(axis=1) / (dim * mass)
        moved = _moved(new_shape, shape, tol) or _moved(new_volume, volume, tol)
        shape, volume = new_shape, new_volume
        if not moved:
            break
    return volume[:, None] * shape, iteration, moved


@_jit
def _diagonal(code, variances, mass, tol, max_iter):
    """EEI, VEI, EVI, VVI from the ridged variances (K, D): the constrained variances (K, D)."""
    K, dim = variances.shape
    if code == EEI:  # mclust_msteps.eei
        pooled = (mass[:, None] * variances).sum(axis=0) / mass.sum()
        out = np.empty((K, dim))
        for k in range(K):
            out[k] = pooled
        return out, 0, False
    if code == EVI:  # mclust_msteps.evi
        scatter = mass[:, None] * variances
        root = np.empty(K)
        for k in range(K):
            root[k] = _geometric_mean(scatter[k])
        return (root.sum() / mass.sum()) * scatter / root[:, None], 0, False
    if code == VEI:
        return _vei(variances, mass, tol, max_iter)
    return variances.copy(), 0, False  # VVI: free


# ---- the general families (covariances (K, D, D)) ---------------------------------------------------


@_jit
def _scatter(covariances, mass, scatter):
    """W_k = N_k S_k into ``scatter`` (K, D, D)."""
    K, dim = covariances.shape[0], covariances.shape[1]
    for k in range(K):
        for i in range(dim):
            for j in range(dim):
                scatter[k, i, j] = mass[k] * covariances[k, i, j]


@_jit
def _eigh_each(covariances, mass, scatter, vectors, warm, eig, scratch_a, scratch_b, scratch_c):
    """Each W_k's decreasing eigendecomposition (W_k into ``scatter``): the eigenvalues into
    ``eig`` (K, D), the vectors into ``vectors`` (K, D, D), started from the previous M-step's
    there where ``warm[0]`` (``small_dense_compiled.eigh_carried``). The workspace's arrays are
    passed one by one, not as its tuple (whose arrays each call would count references of)."""
    _scatter(covariances, mass, scatter)
    for k in range(covariances.shape[0]):
        eigh_carried(scatter[k], vectors[k], warm[0] == 1, eig[k], scratch_a, scratch_b, scratch_c)
    warm[0] = 1


@_jit
def _eev(vectors, eig, mass, out):
    """``mclust_msteps.eev`` into ``out``: each W_k's eigenvectors with the pooled eigenvalues
    (``_eigh_each``'s)."""
    common = eig.sum(axis=0) / mass.sum()
    for k in range(vectors.shape[0]):
        _sandwich(vectors[k], common, out[k])


@_jit
def _evv(covariances, mass, scatter, lu, order, out):
    """``mclust_msteps.evv`` into ``out``: W_k / |W_k|^(1/D), times the pooled volume (W_k into
    ``scatter``; ``lu``, ``order``: ``log_det_into``'s buffers)."""
    K, dim = covariances.shape[0], covariances.shape[1]
    _scatter(covariances, mass, scatter)
    root = np.empty(K)
    for k in range(K):
        root[k] = np.exp(log_det_into(scatter[k], lu, order) / dim)
    volume = root.sum() / mass.sum()
    for k in range(K):
        for i in range(dim):
            for j in range(dim):
                out[k, i, j] = volume * scatter[k, i, j] / root[k]


@_jit
def _vev(vectors, eig, mass, tol, max_iter, shape, new_shape, volume, new_volume, out):
    """``mclust_msteps.vev`` into ``out``: volumes and a common shape in each W_k's eigenbasis
    (``_eigh_each``'s), alternated on the workspace's buffers; returns (iterations, moved)."""
    K, dim = eig.shape
    for i in range(dim):
        shape[i] = 0.0
        for k in range(K):
            shape[i] += eig[k, i]
    _normalise(shape)
    _volumes(eig, shape, mass, volume)
    moved = True
    iteration = 0
    for iteration in range(1, max_iter + 1):
        for i in range(dim):
            new_shape[i] = 0.0
            for k in range(K):
                new_shape[i] += eig[k, i] / volume[k]
        _normalise(new_shape)
        _volumes(eig, new_shape, mass, new_volume)
        moved = _moved(new_shape, shape, tol) or _moved(new_volume, volume, tol)
        shape[:] = new_shape
        volume[:] = new_volume
        if not moved:
            break
    for k in range(K):
        for i in range(dim):
            new_shape[i] = volume[k] * shape[i]
        _sandwich(vectors[k], new_shape, out[k])
    return iteration, moved


@_jit
def _normalise(shape):
    """shape / its geometric mean, in place."""
    root = _geometric_mean(shape)
    for i in range(shape.shape[0]):
        shape[i] /= root


@_jit
def _volumes(eig, shape, mass, volume):
    """lambda_k = sum_i eig_ki / shape_i / (D N_k) into ``volume`` (K,)."""
    K, dim = eig.shape
    for k in range(K):
        total = 0.0
        for i in range(dim):
            total += eig[k, i] / shape[i]
        volume[k] = total / (dim * mass[k])


@_jit
def _vee(covariances, mass, tol, max_iter, scatter, volume, new_volume, buffers, out):
    """``mclust_msteps.vee`` into ``out``: volumes and a common C = D A D^T (|C| = 1), alternated
    on the workspace's buffers (the same operations in the same order as with fresh arrays);
    returns (iterations, moved)."""
    K, dim = covariances.shape[0], covariances.shape[1]
    common, new_common, lu, order, inverse, column = buffers
    _scatter(covariances, mass, scatter)
    pooled_into(scatter, common)
    _normalise_det(common, lu, order)
    _vee_volumes(common, scatter, mass, volume, lu, order, column, inverse)
    moved = True
    iteration = 0
    for iteration in range(1, max_iter + 1):
        if not _all_positive(volume):  # a W_k of zero trace: collapsed (``mclust_msteps.vee``)
            moved = False
            break
        for i in range(dim):
            for j in range(dim):
                value = 0.0
                for k in range(K):
                    value += scatter[k, i, j] / volume[k]
                new_common[i, j] = value
        _normalise_det(new_common, lu, order)
        _vee_volumes(new_common, scatter, mass, new_volume, lu, order, column, inverse)
        change = 0.0
        size = 0.0
        finite = True  # np.max's NaN: the old test compares NaN, False
        for i in range(dim):
            for j in range(dim):
                gap = abs(new_common[i, j] - common[i, j])
                finite = finite and not np.isnan(gap) and not np.isnan(common[i, j])
                change = max(change, gap)
                size = max(size, abs(common[i, j]))
        moved = _moved(new_volume, volume, tol) or (finite and change > tol * size)
        common[:] = new_common
        volume[:] = new_volume
        if not moved:
            break
    for k in range(K):
        for i in range(dim):
            for j in range(dim):
                out[k, i, j] = volume[k] * common[i, j]
    return iteration, moved


@_jit
def _all_positive(values):
    """np.all(values > 0.0) (False at a NaN)."""
    for i in range(values.shape[0]):
        if not values[i] > 0.0:
            return False
    return True


@_jit
def _normalise_det(matrix, lu, order):
    """C / |C|^(1/D), in place."""
    root = np.exp(log_det_into(matrix, lu, order) / matrix.shape[0])
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            matrix[i, j] /= root


@_jit
def _vee_volumes(common, scatter, mass, volume, lu, order, column, inverse):
    """lambda_k = tr(C^{-1} W_k) / (D N_k) into ``volume`` (K,)."""
    K, dim = scatter.shape[0], scatter.shape[1]
    inverse_into(common, lu, order, column, inverse)
    for k in range(K):
        trace = 0.0
        for i in range(dim):
            for j in range(dim):
                trace += inverse[i, j] * scatter[k, j, i]
        volume[k] = trace / (dim * mass[k])


@_jit
def workspace(K, dim):
    """The buffers of one fit's M-steps (``covariances_in``), allocated once a fit: the ridged
    covariances and the scatters W_k, each W_k's eigenvectors (EEV, VEV) and the pooled W's
    (EVE, VVE) carried from one M-step to the next (the warm starts; ``warm`` says which hold a
    previous M-step's), and the inner loops' scratch."""
    vectors, rotated, inner = np.empty((dim, dim)), np.empty((dim, dim)), np.empty((dim, dim))
    return (np.empty((K, dim, dim)),  # 0 free: S_k + reg_covar I
            np.empty((K, dim, dim)),  # 1 scatter W_k = N_k S_k
            np.empty((K, dim, dim)),  # 2 each W_k's eigenvectors, carried
            np.empty((dim, dim)),  # 3 the pooled W's eigenvectors, carried
            np.zeros(2, dtype=np.int64),  # 4 warm: 2, 3 hold a previous M-step's
            np.empty((K, dim)),  # 5 each W_k's eigenvalues
            vectors, rotated, inner,  # 6-8 eigh_carried's scratch
            np.empty(dim), np.empty(dim), np.empty(K), np.empty(K),  # 9-12 VEV's shapes, VEV's and VEE's volumes
            (np.empty((dim, dim)), np.empty((dim, dim)), np.empty(dim), vectors, rotated, inner,  # 13
             np.empty((K, dim, dim)), np.empty((K, dim, dim)), np.empty((K, dim, dim)), np.empty((K, dim)),
             np.empty((K, dim))),  # orientation_compiled.common_orientation's buffers
            (np.empty((dim, dim)), np.empty((dim, dim)), np.empty((dim, dim)), np.empty(dim, dtype=np.int64),
             np.empty((dim, dim)), np.empty(dim)))  # 14 VEE's C, new C, LU, its row order, C^{-1}, a column


# ---- the M-step of the covariances from the moments --------------------------------------------------


@_jit
def covariances(code, mass, first, scatter, reg_covar, tol, max_iter, out):
    """The family's M-step into ``out`` (K, D, D) from the masses N_k (floored), the first
    moments and scatters about the shifts (K, D), (K, D, D); ``reg_covar`` added before the
    constraint (families/mclust.py). Returns (inner iterations, cap hit)."""
    return covariances_in(code, mass, first, scatter, reg_covar, tol, max_iter, out,
                          workspace(first.shape[0], first.shape[1]))


@_jit
def covariances_in(code, mass, first, scatter, reg_covar, tol, max_iter, out, work):
    """``covariances`` on the buffers ``work`` (``workspace(K, D)``), which carry the
    eigenvectors from one call to the next: an EM loop passes the same ``work`` to every M-step."""
    K, dim = first.shape
    d = first / mass[:, None]  # d_k: the new mean relative to the shift
    out[:] = 0.0
    if code == EII or code == VII:  # spherical.from_moments, then the ridge, then eii or nothing
        spread = np.empty(K)
        for k in range(K):
            trace = 0.0
            shift2 = 0.0
            for j in range(dim):
                trace += scatter[k, j, j]
                shift2 += d[k, j] * d[k, j]
            spread[k] = (trace / mass[k] - shift2) / dim + reg_covar
        if code == EII:
            spread[:] = (mass * spread).sum() / mass.sum()
        for k in range(K):
            for j in range(dim):
                out[k, j, j] = spread[k]
        return 0, False
    if code == EEI or code == VEI or code == EVI or code == VVI:  # diag.from_moments + ridge
        variances = np.empty((K, dim))
        for k in range(K):
            for j in range(dim):
                variances[k, j] = scatter[k, j, j] / mass[k] - d[k, j] * d[k, j] + reg_covar
        constrained, iterations, cap_hit = _diagonal(code, variances, mass, tol, max_iter)
        for k in range(K):
            for j in range(dim):
                out[k, j, j] = constrained[k, j]
        return iterations, cap_hit
    if code == EEE:  # tied.from_moments: the within-component scatter pooled, + ridge
        pooled = np.zeros((dim, dim))
        for k in range(K):
            for i in range(dim):
                for j in range(dim):
                    pooled[i, j] += scatter[k, i, j] - mass[k] * d[k, i] * d[k, j]
        pooled = pooled / mass.sum()
        for k in range(K):
            out[k] = pooled
            for j in range(dim):
                out[k, j, j] += reg_covar
        return 0, False
    free = work[0]  # full.from_moments + ridge: S_k + reg_covar I
    for k in range(K):
        for i in range(dim):
            for j in range(dim):
                free[k, i, j] = scatter[k, i, j] / mass[k] - d[k, i] * d[k, j]
            free[k, i, i] += reg_covar
    iterations, cap_hit = 0, False
    if code == VVV:
        out[:] = free
    elif code == EEV or code == VEV:
        _eigh_each(free, mass, work[1], work[2], work[4], work[5], work[6], work[7], work[8])
        if code == EEV:
            _eev(work[2], work[5], mass, out)
        else:
            iterations, cap_hit = _vev(work[2], work[5], mass, tol, max_iter, work[9], work[10], work[11], work[12],
                                       out)
    elif code == EVV:
        vee_buffers = work[14]  # its (D, D) LU and (D,) row order serve EVV's determinants
        _evv(free, mass, work[1], vee_buffers[2], vee_buffers[3], out)
    elif code == VEE:
        iterations, cap_hit = _vee(free, mass, tol, max_iter, work[1], work[11], work[12], work[14], out)
    else:  # EVE, VVE: mclust_msteps.common_orientation
        _scatter(free, mass, work[1])
        result, iterations, cap_hit = common_orientation(work[1], mass, code == EVE, tol, max_iter, _FLAT, work[3],
                                                         work[4][1] == 1, work[13])
        work[4][1] = 1
        out[:] = result
    return iterations, cap_hit
