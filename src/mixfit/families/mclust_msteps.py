"""The constrained M-steps of mclust's covariance families (Celeux and Govaert 1995).

Each family writes Sigma_k = lambda_k D_k A_k D_k^T (volume lambda_k = |Sigma_k|^(1/D), shape A_k
diagonal with |A_k| = 1, orientation D_k orthogonal) and constrains some of the three to be
Equal across components, Variable, or the Identity. The M-step minimises, over the constrained
Sigma_k, the covariance part of the negative expected complete-data log-likelihood

    F = sum_k [ N_k ln|Sigma_k| + tr(W_k Sigma_k^{-1}) ]                   (Celeux and Govaert 1995)

with W_k = N_k S_k the scatter of component k about its new mean. Here every function takes
the per-component covariances S_k (the unconstrained M-step, PRML 9.25) and the masses N_k.

Notation  code      shape         meaning
N_k       mass      (K,)          the responsibility mass of component k
W_k       scatter   (K, D, D)     N_k S_k; its diagonal (K, D) for the diagonal families
omega_k   eig       (K, D)        eigenvalues of W_k, decreasing
lambda_k  volume    (K,)          |Sigma_k|^(1/D)
A_k       shape     (K, D)        the diagonal of A_k, product 1

Closed forms: EII, EEI, EVI, EEV, EVV (and the four of scikit-learn). VEI, VEE and VEV
alternate between the volumes and the common shape (or shape matrix), each step the exact
minimiser of F given the other, so F never increases; EVE and VVE add a common orientation,
updated by sweeps of exact plane rotations (the Jacobi-type step of Flury's common principal
components; Browne and McNicholas 2014 use a majorisation-minimisation step instead, which
converges far more slowly on elongated data), which also never increase F. The inner loops
stop when no parameter (for EVE and VVE: no covariance entry) moves by more than ``tol``
relative (mclust's emControl tol[2], sqrt(eps)), or at ``max_iter`` (reported in the
``InnerResult``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Where numba is used, the sweep runs kernels.orientation_compiled's loops (the same arithmetic).
from ..kernels.numba_switch import NUMBA as _COMPILED

INNER_TOL = float(np.sqrt(np.finfo(np.float64).eps))  # mclust's emControl()$tol[2]
# mclust's own cap is .Machine$integer.max (none in effect); a finite cap makes "the cap was
# hit" a recordable event. The fixtures' fits need at most a few dozen inner iterations.
INNER_MAX_ITER = 1000


@dataclass(frozen=True)
class InnerResult:
    """An iterative M-step's covariances and how its inner loop ended.

    ``objective`` holds F after each inner iteration (non-increasing: the tests check it).
    """

    covariances: np.ndarray
    iterations: int
    cap_hit: bool
    objective: tuple


def geometric_mean(values, axis=-1):
    """exp(mean(ln values)): the volume |diag|^(1/D) of a diagonal (or eigenvalues)."""
    return np.exp(np.mean(np.log(values), axis=axis))


def _root_det(matrices):
    """|M|^(1/D) of symmetric positive definite matrices, through ln|M| (no overflow)."""
    return np.exp(np.linalg.slogdet(matrices)[1] / matrices.shape[-1])


def _decreasing_eigh(matrices):
    """Eigenvalues (decreasing) and eigenvectors (columns, in that order) of symmetric matrices."""
    values, vectors = np.linalg.eigh(matrices)
    return values[..., ::-1], vectors[..., ::-1]


def covariance_objective(covariances, scatter, mass):
    """F = sum_k N_k ln|Sigma_k| + tr(W_k Sigma_k^{-1}) for full (K, D, D) or diagonal (K, D)
    covariances, with the scatter W_k in the same form."""
    if covariances.ndim == 2:
        return float((mass * np.log(covariances).sum(axis=1)).sum() + (scatter / covariances).sum())
    log_det = np.linalg.slogdet(covariances)[1]
    traces = np.trace(np.linalg.solve(covariances, scatter), axis1=1, axis2=2)  # tr(Sigma_k^{-1} W_k)
    return float((mass * log_det).sum() + traces.sum())


def _moved(new, old, tol):
    return np.max(np.abs(new - old) / np.maximum(np.abs(old), np.finfo(np.float64).tiny)) > tol


# ---- the diagonal families: S_k given by its diagonal s_k (K, D) -----------------------------------

def eii(variances, mass):
    """EII: lambda I, lambda = sum_k tr(W_k) / (N D); ``variances`` are tr(S_k) / D (K,)."""
    return np.full_like(variances, (mass * variances).sum() / mass.sum())


def eei(variances, mass):
    """EEI: one diagonal Sigma = sum_k diag(W_k) / N for every component."""
    pooled = (mass[:, None] * variances).sum(axis=0) / mass.sum()
    return np.broadcast_to(pooled, variances.shape).copy()


def evi(variances, mass):
    """EVI: lambda A_k with A_k = diag(W_k) / |diag(W_k)|^(1/D), lambda = sum_k |diag W_k|^(1/D) / N."""
    scatter = mass[:, None] * variances
    root = geometric_mean(scatter)  # (K,)
    return (root.sum() / mass.sum()) * scatter / root[:, None]


def vei(variances, mass, tol=INNER_TOL, max_iter=INNER_MAX_ITER):
    """VEI: lambda_k A, A diagonal; alternates lambda_k = tr(W_k A^{-1}) / (D N_k) and
    A = diag(sum_k W_k / lambda_k) normalised to |A| = 1, from EEI's shape."""
    scatter = mass[:, None] * variances  # (K, D)
    dim = variances.shape[1]
    shape = scatter.sum(axis=0)
    shape = shape / geometric_mean(shape)
    volume = (scatter / shape).sum(axis=1) / (dim * mass)
    trace = []
    for iteration in range(1, max_iter + 1):
        new_shape = (scatter / volume[:, None]).sum(axis=0)
        new_shape /= geometric_mean(new_shape)
        new_volume = (scatter / new_shape).sum(axis=1) / (dim * mass)  # given A, exact
        moved = _moved(new_shape, shape, tol) or _moved(new_volume, volume, tol)
        shape, volume = new_shape, new_volume
        trace.append(covariance_objective(volume[:, None] * shape, scatter, mass))
        if not moved:
            break
    return InnerResult(volume[:, None] * shape, iteration, moved, tuple(trace))


# ---- the general families: S_k (K, D, D) -------------------------------------------------------------

def eev(covariances, mass):
    """EEV: lambda D_k A D_k^T with D_k the eigenvectors of W_k (decreasing), and
    lambda A = sum_k Omega_k / N, Omega_k W_k's eigenvalues (decreasing)."""
    eig, vectors = _decreasing_eigh(mass[:, None, None] * covariances)
    common = eig.sum(axis=0) / mass.sum()  # (D,) lambda A
    return np.einsum("kij,j,klj->kil", vectors, common, vectors)


def evv(covariances, mass):
    """EVV: lambda C_k, C_k = W_k / |W_k|^(1/D), lambda = sum_k |W_k|^(1/D) / N."""
    scatter = mass[:, None, None] * covariances
    root = _root_det(scatter)  # (K,)
    return (root.sum() / mass.sum()) * scatter / root[:, None, None]


def vev(covariances, mass, tol=INNER_TOL, max_iter=INNER_MAX_ITER):
    """VEV: lambda_k D_k A D_k^T. Given A with decreasing entries the best D_k are W_k's
    eigenvectors in decreasing order (von Neumann's trace inequality), whatever lambda_k, so
    the loop alternates lambda_k = sum_j omega_kj / a_j / (D N_k) and
    A = sum_k Omega_k / lambda_k normalised, from EEV's shape; both keep A decreasing."""
    eig, vectors = _decreasing_eigh(mass[:, None, None] * covariances)
    dim = eig.shape[1]
    shape = eig.sum(axis=0)
    shape = shape / geometric_mean(shape)
    volume = (eig / shape).sum(axis=1) / (dim * mass)
    trace = []
    for iteration in range(1, max_iter + 1):
        new_shape = (eig / volume[:, None]).sum(axis=0)
        new_shape /= geometric_mean(new_shape)
        new_volume = (eig / new_shape).sum(axis=1) / (dim * mass)
        moved = _moved(new_shape, shape, tol) or _moved(new_volume, volume, tol)
        shape, volume = new_shape, new_volume
        # F in the eigenbasis: sum_k N_k D ln lambda_k + sum_j omega_kj / (lambda_k a_j)
        trace.append(float((mass * dim * np.log(volume)).sum() + (eig / (volume[:, None] * shape)).sum()))
        if not moved:
            break
    covariances = np.einsum("kij,kj,klj->kil", vectors, volume[:, None] * shape, vectors)
    return InnerResult(covariances, iteration, moved, tuple(trace))


def vee(covariances, mass, tol=INNER_TOL, max_iter=INNER_MAX_ITER):
    """VEE: lambda_k C with C = D A D^T, |C| = 1; alternates lambda_k = tr(W_k C^{-1}) / (D N_k)
    and C = M / |M|^(1/D) with M = sum_k W_k / lambda_k, from EEE's C (the pooled W normalised)."""
    scatter = mass[:, None, None] * covariances
    dim = scatter.shape[1]
    common = scatter.sum(axis=0)
    common = common / _root_det(common)
    volume = np.trace(np.linalg.solve(common, scatter), axis1=1, axis2=2) / (dim * mass)
    trace = []
    moved = False
    for iteration in range(1, max_iter + 1):
        # A component whose W_k has zero trace under C (a row of its own, held exactly: the
        # compiled E-step's moments give it exact zeros) has collapsed: lambda_k = 0, and
        # W_k / lambda_k would turn every covariance NaN. The loop stops with lambda_k = 0, so
        # that the factorisation fails on that component and names it.
        if not np.all(volume > 0):
            break
        new_common = (scatter / volume[:, None, None]).sum(axis=0)
        new_common /= _root_det(new_common)
        new_volume = np.trace(np.linalg.solve(new_common, scatter), axis1=1, axis2=2) / (dim * mass)
        moved = (_moved(new_volume, volume, tol)
                 or np.max(np.abs(new_common - common)) > tol * np.max(np.abs(common)))
        common, volume = new_common, new_volume
        # F with |C| = 1 and tr(W_k Sigma_k^{-1}) = tr(W_k C^{-1}) / lambda_k = D N_k (the volume
        # step is exact given C): sum_k N_k D (ln lambda_k + 1), without K more solves
        trace.append(float((mass * dim * (np.log(volume) + 1.0)).sum()))
        if not moved:
            break
    return InnerResult(volume[:, None, None] * common, iteration, moved, tuple(trace))


# A plane where f varies by less than this, relative to its terms, is flat: its rotation angle
# would be rounding noise (atan2 of two zeros is +-pi), so the columns are left as they are.
_FLAT = 64 * np.finfo(np.float64).eps


def _sweep(orientation, scatter, inverse_diagonals):
    """One orientation sweep: compiled where numba is installed, else ``_orientation_sweep``."""
    if not _COMPILED:
        return _orientation_sweep(orientation, scatter, inverse_diagonals)
    from ..kernels.orientation_compiled import orientation_sweep  # optional: numba, on first use

    return orientation_sweep(np.ascontiguousarray(orientation), np.ascontiguousarray(scatter),
                             np.ascontiguousarray(inverse_diagonals), _FLAT)


def _orientation_sweep(orientation, scatter, inverse_diagonals):
    """One cyclic sweep of plane rotations of the common orientation D (the Jacobi-type
    algorithm of Flury's common principal components): each pair of columns (u, v) is rotated
    by the angle that minimises f(D) = sum_k tr(D^T W_k D L_k), L_k = diag(inverse_diagonals[k]),
    exactly. With a_k = u^T W_k u, b_k = v^T W_k v, c_k = u^T W_k v and p_k, q_k the entries of
    L_k for u and v, f restricted to the rotation by t is
        const + cos 2t sum_k (p_k - q_k)(a_k - b_k) / 2 + sin 2t sum_k (p_k - q_k) c_k,
    minimised at 2t = atan2(-beta, -alpha); each rotation never increases f."""
    orientation = orientation.copy()
    dim = orientation.shape[0]
    for i in range(dim - 1):
        for j in range(i + 1, dim):
            u, v = orientation[:, i], orientation[:, j]
            wu = scatter @ u  # (K, D) W_k u
            a, b, c = wu @ u, np.einsum("d,kde,e->k", v, scatter, v), wu @ v
            weight = inverse_diagonals[:, i] - inverse_diagonals[:, j]  # p_k - q_k
            alpha, beta = (weight * (a - b)).sum() / 2, (weight * c).sum()
            if np.hypot(alpha, beta) <= _FLAT * (np.abs(weight) * (a + b)).sum():
                continue  # f is flat in this plane (to rounding): any angle is optimal, keep 0
            angle = np.arctan2(-beta, -alpha) / 2
            cos, sin = np.cos(angle), np.sin(angle)
            orientation[:, i], orientation[:, j] = cos * u + sin * v, cos * v - sin * u
    return orientation


def common_orientation(covariances, mass, equal_volume, tol=INNER_TOL, max_iter=INNER_MAX_ITER):
    """EVE (``equal_volume``: lambda D A_k D^T) and VVE (lambda_k D A_k D^T = D C_k D^T).

    Given D, the diagonals omega_k = diag(D^T W_k D) give the rest in closed form: VVE
    C_k = omega_k / N_k; EVE A_k = omega_k / |omega_k|^(1/D), lambda = sum_k |omega_k|^(1/D) / N.
    Given those, one sweep of exact plane rotations moves D (``_orientation_sweep``). The loop
    starts from EEE's orientation (the eigenvectors of the pooled W, decreasing)."""
    scatter = mass[:, None, None] * covariances
    orientation = _decreasing_eigh(scatter.sum(axis=0))[1]
    diagonals, _ = _given_orientation(orientation, scatter, mass, equal_volume)
    covariances = np.einsum("ij,kj,lj->kil", orientation, diagonals, orientation)
    trace = []
    for iteration in range(1, max_iter + 1):
        new_orientation = _sweep(orientation, scatter, 1.0 / diagonals)
        new_diagonals, omega = _given_orientation(new_orientation, scatter, mass, equal_volume)
        orientation, diagonals = new_orientation, new_diagonals
        new_covariances = np.einsum("ij,kj,lj->kil", orientation, diagonals, orientation)
        # Converged on the covariances, which are identified, not on D, which is not where
        # two entries of A_k coincide for every k (any rotation of that plane is optimal).
        moved = np.max(np.abs(new_covariances - covariances)) > tol * np.max(np.abs(new_covariances))
        covariances = new_covariances
        # F in the common eigenbasis (D orthogonal): sum_k N_k sum_j ln d_kj + omega_kj / d_kj,
        # covariance_objective of these covariances up to rounding, without K solves
        trace.append(float((mass[:, None] * np.log(diagonals)).sum() + (omega / diagonals).sum()))
        if not moved:
            break
    return InnerResult(covariances, iteration, moved, tuple(trace))


def _given_orientation(orientation, scatter, mass, equal_volume):
    """lambda_k a_k (K, D): the closed-form volumes and shapes for a fixed common orientation,
    and omega_k = diag(D^T W_k D) (K, D) they are computed from."""
    omega = np.einsum("ji,kjl,li->ki", orientation, scatter, orientation)  # diag(D^T W_k D)
    if not equal_volume:
        return omega / mass[:, None], omega
    root = geometric_mean(omega)
    return (root.sum() / mass.sum()) * omega / root[:, None], omega


# ---- the decomposition reported as mclust reports it -------------------------------------------------

def decompose(covariances):
    """(volumes (K,), shapes (K, D), orientations (K, D, D)) of Sigma_k = lambda_k D_k A_k D_k^T.

    Full covariances (K, D, D): eigenvalues decreasing, the orientation's columns in that order
    (mclust's convention for its ``*V`` models), each column's sign fixed so that its largest
    entry in absolute value is positive. Diagonal covariances (K, D): the shape in coordinate
    order and the identity as orientation (mclust's ``**I`` models).
    """
    covariances = np.asarray(covariances, dtype=np.float64)
    K, dim = covariances.shape[:2]
    if covariances.ndim == 2:
        volumes = geometric_mean(covariances)
        return volumes, covariances / volumes[:, None], np.broadcast_to(np.eye(dim), (K, dim, dim)).copy()
    eig, vectors = _decreasing_eigh(covariances)
    peak = np.take_along_axis(vectors, np.abs(vectors).argmax(axis=1)[:, None, :], axis=1)  # (K, 1, D)
    vectors = vectors * np.sign(peak)
    volumes = geometric_mean(eig)
    return volumes, eig / volumes[:, None], vectors
