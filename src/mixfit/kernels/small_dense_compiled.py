"""Small dense linear algebra (D x D) as numba loops, for the compiled mclust M-steps and EM
(kernels/mclust_msteps_compiled.py, mclust_em_compiled.py, mclust_cell_compiled.py): Cholesky,
LU with ln|det| and the inverse as numpy's ``slogdet`` / ``solve`` compute them, V diag(d) V^T,
the decreasing eigendecomposition (cold, or warm from the previous M-step's eigenvectors), and
the inner loops' convergence test. At D of a few, numba's
``@`` and LAPACK calls cost more than the arithmetic; imported on first use, cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
_TINY = np.finfo(np.float64).tiny
_HALF_EPS = 0.5 * np.finfo(np.float64).eps
_HUGE = 1e150
_JACOBI_MAX_DIM = 8  # above, LAPACK's O(D^3) beats the sweeps' call-free loops
_JACOBI_SWEEPS = 30


@_jit
def cholesky_lower(matrix, lower):
    """L with L L^T = matrix into ``lower`` (D, D); False where a pivot is not positive (or NaN):
    the M-step failed, and the caller leaves the fit to the numpy path, which raises or repairs.
    (numba's np.linalg.cholesky raises instead, which a compiled loop cannot report as a value.)"""
    dim = matrix.shape[0]
    for j in range(dim):
        pivot = matrix[j, j]
        for m in range(j):
            pivot -= lower[j, m] * lower[j, m]
        if not (pivot > 0.0) or not np.isfinite(pivot):
            return False
        lower[j, j] = np.sqrt(pivot)
        for i in range(j + 1, dim):
            value = matrix[i, j]
            for m in range(j):
                value -= lower[i, m] * lower[j, m]
            lower[i, j] = value / lower[j, j]
        for i in range(j):
            lower[i, j] = 0.0
    return True


@_jit
def precision_factor(covariance, factor, lower):
    """Upper-triangular P = L^{-T} with P P^T = covariance^{-1} (``linalg.precision_chol_from_covariance``),
    by forward substitution L Z = I; False where the covariance is not positive definite."""
    if not cholesky_lower(covariance, lower):
        return False
    dim = covariance.shape[0]
    for c in range(dim):  # column c of Z = L^{-1}, written as row c of P = Z^T
        for i in range(dim):
            if i < c:
                factor[c, i] = 0.0
                continue
            value = 1.0 if i == c else 0.0
            for m in range(c, i):
                value -= lower[i, m] * factor[c, m]
            factor[c, i] = value / lower[i, i]
    return True


@_jit
def lu_into(matrix, lu, order):
    """LU with partial pivoting of a square matrix (LAPACK getrf's rule: the largest pivot of
    each column) into the buffers ``lu`` (D, D: unit lower L below the diagonal, U on and above
    it) and ``order`` (D,) int (the row order). A zero pivot is left in place (a singular
    matrix)."""
    dim = matrix.shape[0]
    for i in range(dim):
        order[i] = i
        for j in range(dim):
            lu[i, j] = matrix[i, j]
    for j in range(dim):
        pivot_row = j
        largest = abs(lu[j, j])
        for i in range(j + 1, dim):
            if abs(lu[i, j]) > largest:
                largest = abs(lu[i, j])
                pivot_row = i
        if pivot_row != j:
            for m in range(dim):
                lu[j, m], lu[pivot_row, m] = lu[pivot_row, m], lu[j, m]
            order[j], order[pivot_row] = order[pivot_row], order[j]
        pivot = lu[j, j]
        if pivot == 0.0:
            continue
        for i in range(j + 1, dim):
            lu[i, j] /= pivot
            factor = lu[i, j]
            for m in range(j + 1, dim):
                lu[i, m] -= factor * lu[j, m]


@_jit
def log_det_into(matrix, lu, order):
    """ln|det matrix| through its LU factors (``lu_into``'s buffers, overwritten), as
    ``np.linalg.slogdet(matrix)[1]`` that the numpy M-steps take (``mclust_msteps._root_det``):
    -inf for a singular matrix, NaN for a non-finite one."""
    lu_into(matrix, lu, order)
    total = 0.0
    for j in range(matrix.shape[0]):
        total += np.log(abs(lu[j, j]))
    return total


@_jit
def inverse_into(matrix, lu, order, column, inverse):
    """matrix^{-1} into ``inverse`` (D, D) through its LU factors (the buffers ``lu``, ``order``
    of ``lu_into``, and ``column`` (D,)), as the numpy M-steps' ``np.linalg.solve`` (inf or NaN
    entries for a singular matrix, which the caller's factorisation then reports)."""
    dim = matrix.shape[0]
    lu_into(matrix, lu, order)
    for c in range(dim):
        for i in range(dim):  # forward: L y = P e_c
            value = 1.0 if order[i] == c else 0.0
            for m in range(i):
                value -= lu[i, m] * column[m]
            column[i] = value
        for i in range(dim - 1, -1, -1):  # back: U x = y
            value = column[i]
            for m in range(i + 1, dim):
                value -= lu[i, m] * column[m]
            column[i] = value / lu[i, i]
        for i in range(dim):
            inverse[i, c] = column[i]


@_jit
def _sandwich(vectors, diagonal, out):
    """out = V diag(d) V^T (D, D) as loops (``(vectors * diagonal) @ vectors.T``; numba's ``@``
    calls BLAS, whose call costs more than a D x D product's arithmetic)."""
    dim = vectors.shape[0]
    for i in range(dim):
        for j in range(i + 1):
            value = 0.0
            for m in range(dim):
                value += vectors[i, m] * diagonal[m] * vectors[j, m]
            out[i, j] = value
            out[j, i] = value


@_jit
def _decreasing_eigh(matrix):
    """``mclust_msteps._decreasing_eigh`` of one matrix: eigenvalues decreasing, vectors in columns.
    At D = 2 in closed form (``eigh_2x2``), at D <= 8 by Jacobi rotations (``eigh_jacobi``), else
    (or where the rotations fail) numba's LAPACK eigh."""
    dim = matrix.shape[0]
    values = np.empty(dim)
    vectors = np.empty((dim, dim))
    if dim == 2:
        eigh_2x2(matrix[0, 0], matrix[1, 0], matrix[1, 1], values, vectors)
        return values, vectors
    if dim <= _JACOBI_MAX_DIM and eigh_jacobi(matrix, values, vectors):
        return values, vectors
    values, vectors = np.linalg.eigh(matrix)
    return values[::-1].copy(), vectors[:, ::-1].copy()


@_jit
def eigh_warm(matrix, start, values, vectors, rotated, inner):
    """The decreasing eigendecomposition of the symmetric ``matrix`` (D, D) started from the
    orthogonal ``start`` (D, D) (the previous M-step's eigenvectors): Jacobi rotations
    (``eigh_jacobi``) on B = start^T matrix start, nearly diagonal where ``start`` nearly
    diagonalises the matrix (one or two sweeps instead of four or five), then
    ``vectors`` = start Q. ``rotated``, ``inner`` (D, D): scratch. B carries rounding of
    eps |matrix| (as LAPACK's eigh, not the relative accuracy of Jacobi on the matrix itself).
    False where the rotations failed (``vectors`` then undefined): the caller decomposes cold."""
    dim = matrix.shape[0]
    for i in range(dim):  # inner = matrix start
        for j in range(dim):
            value = 0.0
            for m in range(dim):
                value += matrix[i, m] * start[m, j]
            inner[i, j] = value
    for i in range(dim):  # rotated = start^T inner (its lower half)
        for j in range(i + 1):
            value = 0.0
            for m in range(dim):
                value += start[m, i] * inner[m, j]
            rotated[i, j] = value
    if not eigh_jacobi(rotated, values, inner):
        return False
    for i in range(dim):
        for j in range(dim):
            value = 0.0
            for m in range(dim):
                value += start[i, m] * inner[m, j]
            vectors[i, j] = value
    return True


@_jit
def eigh_carried(matrix, carried, warm, values, vectors, rotated, inner):
    """``_decreasing_eigh`` of ``matrix`` into ``values`` (D,) and ``carried`` (D, D), without its
    allocations, started from ``carried`` itself where ``warm`` and 2 < D <= 8 (the previous
    M-step's eigenvectors: ``eigh_warm``); cold where not warm or where the warm rotations failed
    (at D = 2 the closed form, which costs less than a warm start; above 8, LAPACK's).
    ``vectors``, ``rotated``, ``inner`` (D, D): scratch."""
    dim = matrix.shape[0]
    if dim == 2:
        eigh_2x2(matrix[0, 0], matrix[1, 0], matrix[1, 1], values, carried)
        return
    if dim <= _JACOBI_MAX_DIM:
        if warm and eigh_warm(matrix, carried, values, vectors, rotated, inner):
            for i in range(dim):
                for j in range(dim):
                    carried[i, j] = vectors[i, j]
            return
        if eigh_jacobi(matrix, values, carried):
            return
    cold_values, cold_vectors = _decreasing_eigh(matrix)
    values[:] = cold_values
    carried[:] = cold_vectors


@_jit
def eigh_jacobi(matrix, values, vectors):
    """The eigendecomposition of the symmetric ``matrix`` (D, D) (its lower half read) by cyclic
    Jacobi rotations, into ``values`` (D,), decreasing, and ``vectors`` (D, D), unit columns;
    False (outputs undefined) where it did not converge in ``_JACOBI_SWEEPS`` sweeps or met a
    value that is not finite, and the caller takes LAPACK's. At D of a few, numba's LAPACK
    eigh (copies, work arrays, the call) costs several times these loops.

    Each rotation zeroes the pair (p, q) with t = tan phi the smaller root of
    t^2 + 2 t theta - 1 = 0, theta = (a_qq - a_pp) / (2 a_pq) (Golub and Van Loan, Matrix
    Computations, section 8.5: the symmetric Schur decomposition), the other entries updated with
    tau = s / (1 + c) (Rutishauser's form: A' = J^T A J, V' = V J, rounding kept small). A pair
    is left alone once |a_pq| <= eps / 2 sqrt(|a_pp a_qq|), the relative rule that keeps a
    small eigenvalue of a positive semi-definite matrix to its own relative precision (Demmel
    and Veselic 1992), or |a_pq| is below the tiniest normal times the matrix' largest diagonal
    entry (an indefinite or zero diagonal); the sweeps stop when no pair moved."""
    dim = matrix.shape[0]
    a = np.empty((dim, dim))
    for i in range(dim):
        for j in range(i + 1):
            a[i, j] = matrix[i, j]
            a[j, i] = matrix[i, j]
        for j in range(dim):
            vectors[i, j] = 1.0 if i == j else 0.0
    converged = False
    for _ in range(_JACOBI_SWEEPS):
        largest = 0.0
        for i in range(dim):
            largest = max(largest, abs(a[i, i]))
        floor = _TINY * largest
        rotated = False
        for p in range(dim - 1):
            for q in range(p + 1, dim):
                apq = a[p, q]
                if not np.isfinite(apq):
                    return False
                if abs(apq) <= _HALF_EPS * np.sqrt(abs(a[p, p] * a[q, q])) or abs(apq) <= floor:
                    continue
                rotated = True
                theta = (a[q, q] - a[p, p]) / (2.0 * apq)
                if abs(theta) > _HUGE:  # theta^2 would overflow: t = 1 / (2 theta)
                    t = 0.5 / theta
                else:
                    t = 1.0 / (abs(theta) + np.sqrt(theta * theta + 1.0))
                    t = t if theta >= 0.0 else -t
                c = 1.0 / np.sqrt(t * t + 1.0)
                s = t * c
                tau = s / (1.0 + c)
                a[p, p] -= t * apq
                a[q, q] += t * apq
                a[p, q] = 0.0
                a[q, p] = 0.0
                for r in range(dim):
                    if r != p and r != q:
                        g = a[r, p]
                        h = a[r, q]
                        a[r, p] = g - s * (h + g * tau)
                        a[r, q] = h + s * (g - h * tau)
                        a[p, r] = a[r, p]
                        a[q, r] = a[r, q]
                    g = vectors[r, p]
                    h = vectors[r, q]
                    vectors[r, p] = g - s * (h + g * tau)
                    vectors[r, q] = h + s * (g - h * tau)
        if not rotated:
            converged = True
            break
    if not converged:
        return False
    for i in range(dim):
        values[i] = a[i, i]
    for i in range(dim - 1):  # decreasing: selection of the largest, columns swapped with it
        best = i
        for j in range(i + 1, dim):
            if values[j] > values[best]:
                best = j
        if best != i:
            values[i], values[best] = values[best], values[i]
            for r in range(dim):
                vectors[r, i], vectors[r, best] = vectors[r, best], vectors[r, i]
    return True


@_jit
def eigh_2x2(a, b, c, values, vectors):
    """The eigendecomposition of the symmetric [[a, b], [b, c]] into ``values`` (2,), decreasing,
    and ``vectors`` (2, 2), unit columns, without a LAPACK call (whose call costs more than
    these few operations at D = 2).

    The eigenvalues are m +- r with m = (a + c) / 2 and r = hypot((a - c) / 2, b); the one of
    the larger magnitude is taken so, the other as det / it = (a c - b^2) / it, which keeps a
    small eigenvalue to its own relative precision where m - r would cancel (a variance of 1e-47
    beside one of 1e-2: LAPACK's 2 x 2 rule, dlaev2, does the same). The first vector is
    (cos t, sin t) with t = atan2(2 b, a - c) / 2 (the Jacobi rotation that diagonalises the
    matrix: it belongs to m + r), the second (-sin t, cos t). Where the eigenvalues are equal
    (b = 0, a = c) every unit vector is one and t = 0 gives the identity, as LAPACK does; the
    signs of the columns may differ from LAPACK's (an eigenvector's sign is free)."""
    mean = 0.5 * (a + c)
    radius = np.hypot(0.5 * (a - c), b)
    det = a * c - b * b
    if mean > 0.0:
        large = mean + radius
        small = det / large
    elif mean < 0.0:
        small = mean - radius
        large = det / small
    else:
        large, small = radius, -radius
    values[0] = large
    values[1] = small
    angle = 0.5 * np.arctan2(2.0 * b, a - c)
    cos, sin = np.cos(angle), np.sin(angle)
    vectors[0, 0] = cos
    vectors[1, 0] = sin
    vectors[0, 1] = -sin
    vectors[1, 1] = cos


@_jit
def _moved(new, old, tol):
    """``mclust_msteps._moved``: some entry moved by more than ``tol`` relative."""
    for i in range(new.shape[0]):
        if abs(new[i] - old[i]) / max(abs(old[i]), _TINY) > tol:
            return True
    return False


@_jit
def _geometric_mean(values):
    """exp(mean(ln values)) of a vector, without the temporary array of ``np.exp(np.mean(np.log(values)))``:
    the same sum in the same order (numba's ``np.mean`` adds from 0 in index order), so the same bits."""
    total = 0.0
    for i in range(values.shape[0]):
        total += np.log(values[i])
    return np.exp(total / values.shape[0])
