"""The common-orientation sweep of mclust's EVE and VVE M-steps, compiled by numba (imported on
first use, never by ``import mixfit``; cached on disk, ``cache=True``).

``orientation_sweep`` is ``families.mclust_msteps._orientation_sweep`` as loops: one cyclic sweep
of exact plane rotations of the common orientation D, each pair of columns (u, v) rotated by the
angle that minimises sum_k tr(D^T W_k D L_k) (the derivation is in that function's docstring).
The arithmetic is the same; only the order of the sums inside a pair may differ (rounding).
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


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
            alpha /= 2.0
            if np.hypot(alpha, beta) <= flat * scale:
                continue
            angle = np.arctan2(-beta, -alpha) / 2.0
            cos, sin = np.cos(angle), np.sin(angle)
            for r in range(dim):
                u = orientation[r, i]
                v = orientation[r, j]
                orientation[r, i] = cos * u + sin * v
                orientation[r, j] = cos * v - sin * u
