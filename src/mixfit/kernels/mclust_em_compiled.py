"""A whole EM fit of a Gaussian mixture on small in-memory data in one compiled call (numba;
imported on first use, never by ``import mixfit``; cached on disk, ``cache=True``).

The same iteration as ``engine.loop.run`` with ``models.gaussian_em.GaussianEM`` (maximum
likelihood, no prior) and any of mclust's fourteen families: the E-step (PRML 9.23: the
per-component Cholesky log-densities, the row log-sum-exp, the responsibilities), the moments
about the current means (``stats.gaussian_statistics``), the M-step (9.24)-(9.26) with the
family's constrained covariances (``kernels.mclust_msteps_compiled``), the convergence test.
What the numpy path spends per iteration is Python's call overhead, not arithmetic; here one
call runs every iteration. Sums run in another order than numpy's, so results agree to
rounding, not to the bit.

numba's on-disk cache of ``em_fit`` is keyed on this file only: after an edit of
``mclust_msteps_compiled.py``, ``small_dense_compiled.py``, ``orientation_compiled.py`` or
``vector_exp.py`` alone,
delete this module's cache files (``kernels/__pycache__/mclust_em_compiled.*.nb[ic]``), or
``em_fit`` keeps the old code.

Notation as in ``models/gaussian_em.py``; P_k is the upper-triangular precision factor
(Lambda_k = P_k P_k^T), dense (K, D, D) for every family.
"""

from __future__ import annotations

import numba
import numpy as np

from .mclust_msteps_compiled import covariances_in, workspace
from .small_dense_compiled import precision_factor
from .vector_exp import exp_inplace, log_inplace

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
# the moments' sums over the rows reassociated (LLVM then keeps several partial sums in SIMD
# lanes, added at the end): another rounding than the row-by-row order, the same each run
_jit_sums = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})

_LOG_2PI = np.log(2 * np.pi)
# models.gaussian_em._MASS_FLOOR: added to every N_k before dividing
_MASS_FLOOR = 10 * np.finfo(np.float64).eps

# status codes of ``em_fit``
OK = 0
FAILED = 1  # an M-step gave a covariance that is not positive definite (or not finite)


@_jit
def _e_step(X, columns, sample_weight, weights, means, factors, mass, first, scatter, rows, peak, norm, bits,
            work):
    """One E-step: the moments about the current means into ``mass`` (K,), ``first`` (K, D),
    ``scatter`` (K, D, D); returns sum_n w_n ln sum_k rho_nk (9.28). ``columns``: X.T (D, n),
    contiguous; ``rows`` (K, n): scratch, ln rho_nk and then w_n r_nk; ``peak``, ``norm``,
    ``bits``, ``work``: ``_responsibilities``' scratch.

    Laid out by component (each pass runs down the rows of one component, its constants in
    registers) and, at D = 2 and 4, with the loops over D written out and the data read by
    column, so that LLVM vectorises the log-densities across rows; the moments' sums are
    reassociated (several partial sums in SIMD lanes) and the exponentials and logarithms are
    ``kernels.vector_exp``'s: the same numbers as the row-by-row loop to rounding."""
    K, dim = means.shape
    if dim == 2:
        _log_rho_2(columns, weights, means, factors, rows)
    elif dim == 4:
        _log_rho_4(columns, weights, means, factors, rows)
    else:
        _log_rho(X, weights, means, factors, rows)
    total = _responsibilities(sample_weight, rows, peak, norm, bits, work)
    if dim == 2:
        _moments_2(columns, means, rows, mass, first, scatter)
    elif dim == 4:
        _moments_4(columns, means, rows, mass, first, scatter)
    else:
        _moments(X, means, rows, mass, first, scatter)
    for k in range(K):  # the scatters' upper halves
        for j in range(dim):
            for m in range(j + 1, dim):
                scatter[k, j, m] = scatter[k, m, j]
    return total


@_jit
def _log_constant(weights, factors, k, dim):
    """ln pi_k + ln|Lambda_k|^(1/2) - D/2 ln 2 pi   (2.43)"""
    log_det_half = 0.0
    for j in range(dim):
        log_det_half += np.log(factors[k, j, j])
    return np.log(weights[k]) + log_det_half - 0.5 * dim * _LOG_2PI


@_jit
def _log_rho(X, weights, means, factors, rows):
    """ln rho_nk into ``rows`` (K, n): (x - mu_k)^T Lambda_k (x - mu_k) = |(x - mu_k) P_k|^2."""
    n, dim = X.shape
    residual = np.empty(dim)
    for k in range(weights.shape[0]):
        constant = _log_constant(weights, factors, k, dim)
        for i in range(n):
            for j in range(dim):
                residual[j] = X[i, j] - means[k, j]
            quadratic = 0.0
            for j in range(dim):  # P_k upper triangular
                value = 0.0
                for m in range(j + 1):
                    value += residual[m] * factors[k, m, j]
                quadratic += value * value
            rows[k, i] = constant - 0.5 * quadratic


@_jit
def _log_rho_2(columns, weights, means, factors, rows):
    """``_log_rho`` at D = 2, its loops written out (the same sums in the same order)."""
    for k in range(weights.shape[0]):
        constant = _log_constant(weights, factors, k, 2)
        mean0, mean1 = means[k, 0], means[k, 1]
        p00, p01, p11 = factors[k, 0, 0], factors[k, 0, 1], factors[k, 1, 1]
        for i in range(columns.shape[1]):
            residual0 = columns[0, i] - mean0
            residual1 = columns[1, i] - mean1
            value0 = 0.0 + residual0 * p00
            value1 = 0.0 + residual0 * p01 + residual1 * p11
            rows[k, i] = constant - 0.5 * (0.0 + value0 * value0 + value1 * value1)


@_jit
def _log_rho_4(columns, weights, means, factors, rows):
    """``_log_rho`` at D = 4, its loops written out (the same sums in the same order)."""
    for k in range(weights.shape[0]):
        constant = _log_constant(weights, factors, k, 4)
        mean0, mean1, mean2, mean3 = means[k, 0], means[k, 1], means[k, 2], means[k, 3]
        p00, p01, p02, p03 = factors[k, 0, 0], factors[k, 0, 1], factors[k, 0, 2], factors[k, 0, 3]
        p11, p12, p13 = factors[k, 1, 1], factors[k, 1, 2], factors[k, 1, 3]
        p22, p23, p33 = factors[k, 2, 2], factors[k, 2, 3], factors[k, 3, 3]
        for i in range(columns.shape[1]):
            residual0 = columns[0, i] - mean0
            residual1 = columns[1, i] - mean1
            residual2 = columns[2, i] - mean2
            residual3 = columns[3, i] - mean3
            value0 = 0.0 + residual0 * p00
            value1 = 0.0 + residual0 * p01 + residual1 * p11
            value2 = 0.0 + residual0 * p02 + residual1 * p12 + residual2 * p22
            value3 = 0.0 + residual0 * p03 + residual1 * p13 + residual2 * p23 + residual3 * p33
            rows[k, i] = constant - 0.5 * (0.0 + value0 * value0 + value1 * value1 + value2 * value2
                                           + value3 * value3)


@_jit
def shift_by_peak(rows, peak):
    """Each row's maximum over k into ``peak`` (n,), subtracted from ``rows`` (K, n) in place;
    each loop runs down the rows, so that LLVM vectorises it."""
    K, n = rows.shape
    for i in range(n):
        peak[i] = rows[0, i]
    for k in range(1, K):
        for i in range(n):
            value = rows[k, i]
            peak[i] = value if value > peak[i] else peak[i]  # noqa: FURB136 (a select, vectorised)
    for k in range(K):
        for i in range(n):
            rows[k, i] -= peak[i]


@_jit
def _responsibilities(sample_weight, rows, peak, norm, bits, work):
    """ln rho_nk -> w_n r_nk in place (9.23), by the shifted exponentials of each row (nothing
    overflows); returns sum_n w_n ln sum_k rho_nk. ``peak``, ``norm`` (n,), ``bits`` (2 K n,
    int64) and ``work`` (3 n): scratch.

    Pass by pass over the whole (K, n) block, each loop running down the rows (so that LLVM
    vectorises it): the rows' maxima, the shift, one vectorised exponential of the block
    (``vector_exp.exp_inplace``: numba's ``np.exp`` is a scalar call), the rows' sums (over k in
    increasing order, as the row-by-row loop), their logarithms (``vector_exp.log_inplace``), and
    w_n / sum_k once per row."""
    K, n = rows.shape
    shift_by_peak(rows, peak)
    exp_inplace(rows.reshape(K * n), bits)
    for i in range(n):
        norm[i] = rows[0, i]
    for k in range(1, K):
        for i in range(n):
            norm[i] += rows[k, i]
    logs = work[:n]
    logs[:] = norm
    log_inplace(logs, work[n:3 * n])
    total = 0.0
    for i in range(n):
        total += sample_weight[i] * (peak[i] + logs[i])
    for i in range(n):
        norm[i] = sample_weight[i] / norm[i]
    for k in range(K):
        for i in range(n):
            rows[k, i] *= norm[i]
    return total


@_jit
def _moments(X, means, rows, mass, first, scatter):
    """N_k, the first moments and the scatters' lower halves about the current means, from
    ``rows`` = w_n r_nk (K, n) (``stats.gaussian_statistics``)."""
    n, dim = X.shape
    residual = np.empty(dim)
    mass[:] = 0.0
    first[:] = 0.0
    scatter[:] = 0.0
    for k in range(means.shape[0]):
        for i in range(n):
            wr = rows[k, i]
            mass[k] += wr
            for j in range(dim):
                residual[j] = X[i, j] - means[k, j]
                first[k, j] += wr * residual[j]
            for j in range(dim):
                for m in range(j + 1):
                    scatter[k, j, m] += wr * residual[j] * residual[m]


@_jit_sums
def _moments_2(columns, means, rows, mass, first, scatter):
    """``_moments`` at D = 2, its sums in registers (the same sums in the same order)."""
    for k in range(means.shape[0]):
        mean0, mean1 = means[k, 0], means[k, 1]
        total = first0 = first1 = s00 = s10 = s11 = 0.0
        for i in range(columns.shape[1]):
            wr = rows[k, i]
            residual0 = columns[0, i] - mean0
            residual1 = columns[1, i] - mean1
            total += wr
            first0 += wr * residual0
            first1 += wr * residual1
            s00 += wr * residual0 * residual0
            s10 += wr * residual1 * residual0
            s11 += wr * residual1 * residual1
        mass[k] = total
        first[k, 0], first[k, 1] = first0, first1
        scatter[k, 0, 0], scatter[k, 1, 0], scatter[k, 1, 1] = s00, s10, s11

@_jit_sums
def _moments_4(columns, means, rows, mass, first, scatter):
    """``_moments`` at D = 4, its sums in registers (the same sums in the same order)."""
    for k in range(means.shape[0]):
        mean0, mean1, mean2, mean3 = means[k, 0], means[k, 1], means[k, 2], means[k, 3]
        total = first0 = first1 = first2 = first3 = 0.0
        s00 = s10 = s11 = s20 = s21 = s22 = s30 = s31 = s32 = s33 = 0.0
        for i in range(columns.shape[1]):
            wr = rows[k, i]
            residual0 = columns[0, i] - mean0
            residual1 = columns[1, i] - mean1
            residual2 = columns[2, i] - mean2
            residual3 = columns[3, i] - mean3
            total += wr
            first0 += wr * residual0
            first1 += wr * residual1
            first2 += wr * residual2
            first3 += wr * residual3
            s00 += wr * residual0 * residual0
            s10 += wr * residual1 * residual0
            s11 += wr * residual1 * residual1
            s20 += wr * residual2 * residual0
            s21 += wr * residual2 * residual1
            s22 += wr * residual2 * residual2
            s30 += wr * residual3 * residual0
            s31 += wr * residual3 * residual1
            s32 += wr * residual3 * residual2
            s33 += wr * residual3 * residual3
        mass[k] = total
        first[k, 0], first[k, 1], first[k, 2], first[k, 3] = first0, first1, first2, first3
        scatter[k, 0, 0], scatter[k, 1, 0], scatter[k, 1, 1] = s00, s10, s11
        scatter[k, 2, 0], scatter[k, 2, 1], scatter[k, 2, 2] = s20, s21, s22
        scatter[k, 3, 0], scatter[k, 3, 1], scatter[k, 3, 2], scatter[k, 3, 3] = s30, s31, s32, s33


@_jit
def em_fit(X, sample_weight, weights, means, factors, code, reg_covar, tol, relative, max_iter,
           inner_tol, inner_max_iter, initial_bound):
    """EM from (weights (K,), means (K, D), factors P_k (K, D, D)) until the change of the
    objective is below ``tol`` (per unit of weight: ``engine.loop.run``'s rule; ``relative``:
    mclust's, |L - L_old| <= tol (1 + |L|) on the total L) or ``max_iter`` passes.

    Returns (status, weights, means, factors, covariances, n_iter, converged, lower_bounds
    (n_iter,), per unit of weight, the params before each M-step, inner_iterations (n_iter,),
    cap_hits (n_iter,), mass (K,): the last E-step's N_k, unfloored; failed_component). With
    status FAILED the last M-step (iteration n_iter) failed: the params are those before it (the
    E-step's), ``covariances`` its result and ``failed_component`` the first k whose covariance
    is not positive definite (-1 with status OK); ``em_fit``'s caller reruns the fit in numpy,
    which raises or repairs as its policy says, ``cell_fit``'s reports the failure as the cell's.
    """
    K, dim = means.shape
    weights = weights.copy()
    means = means.copy()
    factors = factors.copy()
    cov = np.zeros((K, dim, dim))
    new_factors = np.empty((K, dim, dim))
    lower = np.empty((dim, dim))
    mass = np.empty(K)
    first = np.empty((K, dim))
    scatter = np.empty((K, dim, dim))
    rows = np.empty((K, X.shape[0]))  # the E-step's ln rho_nk, then w_n r_nk
    peak = np.empty(X.shape[0])
    norm = np.empty(X.shape[0])
    bits = np.empty(2 * K * X.shape[0], dtype=np.int64)
    work = np.empty(3 * X.shape[0])
    columns = np.ascontiguousarray(X.T)  # (D, n): the D = 2, 4 loops read each column contiguously
    buffers = workspace(K, dim)  # the M-steps' buffers, their eigenvectors carried between M-steps
    lower_bounds = np.empty(max_iter)
    inner = np.zeros(max_iter, dtype=np.int64)
    cap_hits = np.zeros(max_iter, dtype=np.bool_)
    weight_sum = sample_weight.sum()
    previous = initial_bound
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        total = _e_step(X, columns, sample_weight, weights, means, factors, mass, first, scatter, rows, peak, norm,
                        bits, work)
        lower_bound = total / weight_sum
        # M-step (9.24)-(9.26): N_k floored, weights, means c_k + d_k, the family's covariances
        mass += _MASS_FLOOR
        iterations, cap_hit = covariances_in(code, mass, first, scatter, reg_covar, inner_tol, inner_max_iter, cov,
                                            buffers)
        for k in range(K):
            if not precision_factor(cov[k], new_factors[k], lower):
                return (FAILED, weights, means, factors, cov, n_iter, False, lower_bounds[:n_iter - 1],
                        inner[:n_iter - 1], cap_hits[:n_iter - 1], mass - _MASS_FLOOR, k)
        weights = mass / mass.sum()
        means = means + first / mass[:, None]
        factors[:] = new_factors
        lower_bounds[n_iter - 1] = lower_bound
        inner[n_iter - 1] = iterations
        cap_hits[n_iter - 1] = cap_hit
        change = abs(lower_bound - previous)
        if relative:
            done = change * weight_sum <= tol * (1.0 + abs(total))
        else:
            done = change < tol
        if done:
            converged = True
            break
        previous = lower_bound
    return (OK, weights, means, factors, cov, n_iter, converged, lower_bounds[:n_iter], inner[:n_iter],
            cap_hits[:n_iter], mass - _MASS_FLOOR, -1)
