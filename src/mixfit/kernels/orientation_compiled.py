"""The common-orientation sweep of mclust's EVE and VVE M-steps, compiled by numba (imported on
first use, never by ``import mixfit``; cached on disk, ``cache=True``).

``orientation_sweep`` is ``families.mclust_msteps._orientation_sweep`` as loops: one cyclic sweep
of exact plane rotations of the common orientation D, each pair of columns (u, v) rotated by the
angle that minimises sum_k tr(D^T W_k D L_k) (the derivation is in that function's docstring).
The arithmetic is the same; only the order of the sums inside a pair may differ (rounding).

``common_orientation`` is the whole inner loop of the compiled EVE and VVE M-steps
(``mclust_msteps_compiled``): the start from the pooled scatter's eigenvectors, then sweeps of
``rotate_products``, which keeps D^T W_k D beside D instead of recomputing W_k D each pair.
"""

from __future__ import annotations

import numba
import numpy as np

from .small_dense_compiled import _geometric_mean, _sandwich, eigh_carried

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def _plane_rotation(alpha, beta, scale, flat):
    """(rotate?, cos, sin) of the pair's minimising angle, arctan2(-beta, -alpha) / 2; no
    rotation where hypot(alpha, beta) <= flat * scale (the plane is flat to rounding)."""
    if np.hypot(alpha, beta) <= flat * scale:
        return False, 1.0, 0.0
    angle = np.arctan2(-beta, -alpha) / 2.0
    return True, np.cos(angle), np.sin(angle)


@_jit
def _rotate_columns(orientation, i, j, cos, sin):
    """Columns (u, v) = (i, j) of ``orientation`` <- (cos u + sin v, cos v - sin u), in place."""
    for r in range(orientation.shape[0]):
        u = orientation[r, i]
        v = orientation[r, j]
        orientation[r, i] = cos * u + sin * v
        orientation[r, j] = cos * v - sin * u


@_jit
def pooled_into(scatter, pooled):
    """sum_k W_k of ``scatter`` (K, D, D) into ``pooled`` (D, D), k in increasing order."""
    K, dim = scatter.shape[0], scatter.shape[1]
    for i in range(dim):
        for j in range(dim):
            value = 0.0
            for k in range(K):
                value += scatter[k, i, j]
            pooled[i, j] = value


@_jit
def orientation_sweep(orientation, scatter, inverse_diagonals, flat):
    """One sweep over the pairs (i < j) of ``orientation`` (D, D) given ``scatter`` (K, D, D) and
    ``inverse_diagonals`` (K, D); returns the rotated copy. ``flat``: the relative size below
    which a plane is left unrotated."""
    orientation = orientation.copy()
    dim = scatter.shape[1]
    rotate_in_place(orientation, scatter, inverse_diagonals, flat, np.empty(dim), np.empty(dim))
    return orientation


@_jit
def rotate_in_place(orientation, scatter, inverse_diagonals, flat, wu, wv):
    """``orientation_sweep`` on ``orientation`` itself (each pair's rotation reads the columns
    the previous ones wrote, as in the copy); ``wu``, ``wv`` (D,): scratch."""
    K, dim = scatter.shape[0], scatter.shape[1]
    for i in range(dim - 1):
        for j in range(i + 1, dim):
            alpha = 0.0
            beta = 0.0
            scale = 0.0
            for k in range(K):
                for r in range(dim):
                    su = 0.0
                    sv = 0.0
                    for s in range(dim):
                        su += scatter[k, r, s] * orientation[s, i]
                        sv += scatter[k, r, s] * orientation[s, j]
                    wu[r] = su
                    wv[r] = sv
                a = 0.0
                b = 0.0
                c = 0.0
                for r in range(dim):
                    a += wu[r] * orientation[r, i]
                    b += wv[r] * orientation[r, j]
                    c += wu[r] * orientation[r, j]
                weight = inverse_diagonals[k, i] - inverse_diagonals[k, j]
                alpha += weight * (a - b)
                beta += weight * c
                scale += abs(weight) * (a + b)
            rotated, cos, sin = _plane_rotation(alpha / 2.0, beta, scale, flat)
            if not rotated:
                continue
            _rotate_columns(orientation, i, j, cos, sin)


@_jit
def rotate_products(orientation, products, inverse_diagonals, flat):
    """``rotate_in_place`` with the products M_k = D^T W_k D (K, D, D) kept beside D: a pair's
    a = u^T W_k u, b = v^T W_k v, c = u^T W_k v are read from M_k, and each rotation J of the
    plane (i, j) is applied to them as M_k <- J^T M_k J (rows and columns i, j), O(K D) a pair
    where recomputing W_k u and W_k v costs O(K D^2). The same angles as ``rotate_in_place`` to
    rounding (M_k is the rotated product, not recomputed: it drifts from D^T W_k D by a few ulps
    of |W_k| a sweep); the caller builds M_k from D once per M-step."""
    K, dim = products.shape[0], products.shape[1]
    for i in range(dim - 1):
        for j in range(i + 1, dim):
            alpha = 0.0
            beta = 0.0
            scale = 0.0
            for k in range(K):
                a = products[k, i, i]
                b = products[k, j, j]
                weight = inverse_diagonals[k, i] - inverse_diagonals[k, j]
                alpha += weight * (a - b)
                beta += weight * products[k, i, j]
                scale += abs(weight) * (a + b)
            rotated, cos, sin = _plane_rotation(alpha / 2.0, beta, scale, flat)
            if not rotated:
                continue
            _rotate_columns(orientation, i, j, cos, sin)
            for k in range(K):
                a = products[k, i, i]
                b = products[k, j, j]
                c = products[k, i, j]
                for r in range(dim):
                    if r != i and r != j:
                        u = products[k, r, i]
                        v = products[k, r, j]
                        products[k, r, i] = cos * u + sin * v
                        products[k, r, j] = cos * v - sin * u
                        products[k, i, r] = products[k, r, i]
                        products[k, j, r] = products[k, r, j]
                products[k, i, i] = cos * cos * a + 2.0 * cos * sin * c + sin * sin * b
                products[k, j, j] = sin * sin * a - 2.0 * cos * sin * c + cos * cos * b
                off = cos * sin * (b - a) + (cos * cos - sin * sin) * c
                products[k, i, j] = off
                products[k, j, i] = off


@_jit
def _given_orientation(products, mass, equal_volume, omega):
    """``mclust_msteps._given_orientation``: lambda_k a_k into ``omega`` (K, D) for a fixed common D,
    from the products M_k = D^T W_k D (K, D, D) (their diagonals)."""
    K, dim = products.shape[0], products.shape[1]
    for k in range(K):
        for i in range(dim):
            omega[k, i] = products[k, i, i]
    if not equal_volume:
        for k in range(K):
            for i in range(dim):
                omega[k, i] /= mass[k]
        return
    root = np.empty(K)
    root_sum = 0.0
    mass_sum = 0.0
    for k in range(K):  # the sums in numpy's order (from 0, k increasing): the same bits
        root[k] = _geometric_mean(omega[k])
        root_sum += root[k]
        mass_sum += mass[k]
    factor = root_sum / mass_sum
    for k in range(K):
        for i in range(dim):
            omega[k, i] = factor * omega[k, i] / root[k]


@_jit
def _products(orientation, scatter, products):
    """M_k = D^T W_k D into ``products`` (K, D, D)."""
    K, dim = scatter.shape[0], scatter.shape[1]
    for k in range(K):
        for i in range(dim):
            for j in range(i + 1):
                value = 0.0
                for a in range(dim):
                    row = 0.0
                    for b in range(dim):
                        row += scatter[k, a, b] * orientation[b, j]
                    value += orientation[a, i] * row
                products[k, i, j] = value
                products[k, j, i] = value


@_jit
def common_orientation(scatter, mass, equal_volume, tol, max_iter, flat, start, warm, buffers):
    """``mclust_msteps.common_orientation`` (EVE, VVE) from the scatters W_k = N_k S_k (K, D, D):
    returns (the covariances (K, D, D), inner iterations, moved). The start D is the pooled
    W's decreasing eigenvectors, taken from ``start`` (D, D) where ``warm`` (the previous
    M-step's, ``small_dense_compiled.eigh_carried``) and left there for the next M-step; then
    sweeps of ``rotate_products`` until the covariances move by at most ``tol`` relative.
    ``buffers``: (pooled, orientation, values, vectors, rotated, inner, products, out,
    new_out, diagonals, inverse) of shapes (D, D) x 2, (D,), (D, D) x 3, (K, D, D) x 3,
    (K, D) x 2, allocated once per fit; the result is one of the two ``out`` buffers."""
    K, dim = scatter.shape[0], scatter.shape[1]
    pooled, orientation, values, vectors, rotated, inner = buffers[0], buffers[1], buffers[2], buffers[3], \
        buffers[4], buffers[5]
    products, out, new_out, diagonals, inverse = buffers[6], buffers[7], buffers[8], buffers[9], buffers[10]
    pooled_into(scatter, pooled)
    eigh_carried(pooled, start, warm, values, vectors, rotated, inner)
    orientation[:] = start
    _products(orientation, scatter, products)
    _given_orientation(products, mass, equal_volume, diagonals)
    for k in range(K):
        _sandwich(orientation, diagonals[k], out[k])
    moved = True
    iteration = 0
    for iteration in range(1, max_iter + 1):
        for k in range(K):
            for i in range(dim):
                inverse[k, i] = 1.0 / diagonals[k, i]
        rotate_products(orientation, products, inverse, flat)
        _given_orientation(products, mass, equal_volume, diagonals)
        change = 0.0
        size = 0.0
        for k in range(K):
            _sandwich(orientation, diagonals[k], new_out[k])
            for i in range(dim):
                for j in range(dim):
                    change = max(change, abs(new_out[k, i, j] - out[k, i, j]))
                    size = max(size, abs(new_out[k, i, j]))
        moved = change > tol * size
        out, new_out = new_out, out
        if not moved:
            break
    return out, iteration, moved
