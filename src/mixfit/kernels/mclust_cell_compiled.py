"""One cell of mclust's selection table in one compiled call (numba; imported on first use,
never by ``import mixfit``; cached on disk, ``cache=True``).

``cell_fit`` runs what a ``GaussianMixture(K, covariance_type=family, init_params="mclust")``
fit and the table's scoring of it run, as loops: the first M-step from mclust's partition at K
(``engine.mclust_hc.mclust_stats``: the groups' unweighted means as the shift, the weighted
moments about them, then the family's M-step), the whole EM (``mclust_em_compiled.em_fit``),
then one more pass at the fitted params for the table's columns: the log-likelihood
sum_n w_n ln p(x_n) (``score_samples``), the classification entropy -sum_n w_n sum_k r_nk ln r_nk
(``predict_proba``, ICL) and each component's extreme covariance eigenvalues (the degeneracy
test, ``selection.degenerate``). Sums run in another order than numpy's: results agree to
rounding, not to the bit.

numba's on-disk cache of ``cell_fit`` is keyed on this file: after an edit of
``mclust_em_compiled.py``, ``mclust_msteps_compiled.py``, ``small_dense_compiled.py``,
``orientation_compiled.py`` or ``vector_exp.py`` alone,
delete this module's cache files too (``kernels/__pycache__/mclust_cell_compiled.*.nb[ic]``).
"""

from __future__ import annotations

import numba
import numpy as np

from .mclust_em_compiled import FAILED, OK, _log_rho, _log_rho_2, _log_rho_4, em_fit, shift_by_peak
from .mclust_msteps_compiled import covariances
from .small_dense_compiled import eigh_2x2, eigh_jacobi, precision_factor
from .vector_exp import exp_inplace, log_inplace

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")

_MASS_FLOOR = 10 * np.finfo(np.float64).eps  # models.gaussian_em._MASS_FLOOR

# where ``cell_fit`` failed (status FAILED): at the start the caller reruns the cell in numpy;
# in EM the failure is the cell's (selection/compiled_cells.py)
FAILED_AT_START = 1
FAILED_IN_EM = 2


@_jit
def partition_start(X, sample_weight, labels, K, code, reg_covar, inner_tol, inner_max_iter):
    """The M-step from the hard partition ``labels`` (n,) in 0..K-1: (ok, weights, means,
    factors (K, D, D), inner iterations, cap hit); ok False where a covariance is not
    positive definite."""
    n, dim = X.shape
    counts = np.zeros(K)
    shift = np.zeros((K, dim))  # the groups' unweighted means (mclust_stats' shift)
    for i in range(n):
        k = labels[i]
        counts[k] += 1.0
        for j in range(dim):
            shift[k, j] += X[i, j]
    for k in range(K):
        for j in range(dim):
            shift[k, j] /= counts[k]
    mass = np.zeros(K)
    first = np.zeros((K, dim))
    scatter = np.zeros((K, dim, dim))
    residual = np.empty(dim)
    for i in range(n):
        k = labels[i]
        w = sample_weight[i]
        mass[k] += w
        for j in range(dim):
            residual[j] = X[i, j] - shift[k, j]
            first[k, j] += w * residual[j]
        for j in range(dim):
            for m in range(j + 1):
                scatter[k, j, m] += w * residual[j] * residual[m]
    for k in range(K):
        for j in range(dim):
            for m in range(j + 1, dim):
                scatter[k, j, m] = scatter[k, m, j]
    mass += _MASS_FLOOR  # GaussianEM.maximize
    cov = np.zeros((K, dim, dim))
    iterations, cap_hit = covariances(code, mass, first, scatter, reg_covar, inner_tol, inner_max_iter, cov)
    factors = np.empty((K, dim, dim))
    lower = np.empty((dim, dim))
    for k in range(K):
        if not precision_factor(cov[k], factors[k], lower):
            return False, mass, shift, factors, iterations, cap_hit
    weights = mass / mass.sum()
    means = shift + first / mass[:, None]
    return True, weights, means, factors, iterations, cap_hit


@_jit
def score(X, sample_weight, weights, means, factors):
    """(sum_n w_n ln p(x_n), -sum_n w_n sum_k r_nk ln r_nk) at the params (0 ln 0 = 0).

    Pass by pass over the (K, n) block as the E-step (``mclust_em_compiled._e_step``): the
    log-densities (written out at D = 2 and 4), the rows' maxima, one vectorised exponential of
    the shifted block and one logarithm of the rows' sums (``vector_exp``: numba's ``np.exp`` and
    ``np.log`` are scalar calls), then r_nk = e_nk / sum_k e_nk and ln r_nk = (ln rho_nk - peak_n)
    - ln sum_k e_nk."""
    n, dim = X.shape
    K = weights.shape[0]
    rows = np.empty((K, n))
    if dim == 2 or dim == 4:
        columns = np.ascontiguousarray(X.T)
        if dim == 2:
            _log_rho_2(columns, weights, means, factors, rows)
        else:
            _log_rho_4(columns, weights, means, factors, rows)
    else:
        _log_rho(X, weights, means, factors, rows)
    peak = np.empty(n)
    shift_by_peak(rows, peak)
    shifted = rows.copy()
    exp_inplace(rows.reshape(K * n), np.empty(2 * K * n, dtype=np.int64))
    norm = np.empty(n)
    for i in range(n):
        norm[i] = rows[0, i]
    for k in range(1, K):
        for i in range(n):
            norm[i] += rows[k, i]
    logs = norm.copy()
    log_inplace(logs, np.empty(2 * n))
    log_likelihood = 0.0
    for i in range(n):
        log_likelihood += sample_weight[i] * (peak[i] + logs[i])
    entropy = 0.0
    for i in range(n):
        row = 0.0
        for k in range(K):
            r = rows[k, i] / norm[i]
            if r > 0.0:
                row += r * (shifted[k, i] - logs[i])
        entropy -= sample_weight[i] * row
    return log_likelihood, entropy


@_jit
def eigen_extremes(cov):
    """Each covariance's smallest and largest eigenvalue, (K, 2): at D = 2 in closed form, at
    D <= 8 by Jacobi rotations (``small_dense_compiled.eigh_jacobi``), else LAPACK's."""
    K = cov.shape[0]
    out = np.empty((K, 2))
    if cov.shape[1] == 2:  # in closed form, without LAPACK's call
        values = np.empty(2)
        vectors = np.empty((2, 2))
        for k in range(K):
            eigh_2x2(cov[k, 0, 0], cov[k, 1, 0], cov[k, 1, 1], values, vectors)
            out[k, 0] = values[1]
            out[k, 1] = values[0]
        return out
    dim = cov.shape[1]
    values = np.empty(dim)
    vectors = np.empty((dim, dim))
    for k in range(K):
        if dim <= 8 and eigh_jacobi(cov[k], values, vectors):  # decreasing, without LAPACK's call
            out[k, 0] = values[dim - 1]
            out[k, 1] = values[0]
            continue
        lapack = np.linalg.eigvalsh(cov[k])
        out[k, 0] = lapack[0]
        out[k, 1] = lapack[-1]
    return out


@_jit
def cell_fit(X, sample_weight, labels, K, code, reg_covar, tol, relative, max_iter, inner_tol, inner_max_iter):
    """mclust's start at K, EM, and the table's columns, for one cell.

    Returns (status: OK, FAILED_AT_START or FAILED_IN_EM; weights, means, factors (K, D, D);
    n_iter, converged, lower_bounds (n_iter,); inner iterations and cap hits of every M-step,
    the start's first (n_iter + 1,); log-likelihood, entropy; eigenvalue extremes (K, 2);
    failed_component, mass (K,), covariances (K, D, D)). With FAILED_IN_EM the M-step of EM
    iteration n_iter failed: the params are those of its E-step, ``mass`` that E-step's N_k,
    ``covariances`` the M-step's result and ``failed_component`` the first k whose covariance is
    not positive definite, the cell's diagnosis
    (``selection.compiled_cells``); -1 otherwise.
    """
    dim = X.shape[1]
    ok, weights, means, factors, start_inner, start_cap = partition_start(
        X, sample_weight, labels, K, code, reg_covar, inner_tol, inner_max_iter)
    empty_inner = np.zeros(0, dtype=np.int64)
    empty_caps = np.zeros(0, dtype=np.bool_)
    if not ok:
        return (FAILED_AT_START, weights, means, factors, 0, False, np.zeros(0), empty_inner, empty_caps, np.nan,
                np.nan, np.zeros((K, 2)), -1, np.zeros(K), np.zeros((K, dim, dim)))
    status, weights, means, factors, cov, n_iter, converged, bounds, inner, caps, mass, failed = em_fit(
        X, sample_weight, weights, means, factors, code, reg_covar, tol, relative, max_iter, inner_tol,
        inner_max_iter, -np.inf)
    if status == FAILED:
        return (FAILED_IN_EM, weights, means, factors, n_iter, False, bounds, empty_inner, empty_caps, np.nan,
                np.nan, np.zeros((K, 2)), failed, mass, cov)
    all_inner = np.empty(inner.shape[0] + 1, dtype=np.int64)
    all_caps = np.empty(inner.shape[0] + 1, dtype=np.bool_)
    all_inner[0] = start_inner
    all_caps[0] = start_cap
    all_inner[1:] = inner
    all_caps[1:] = caps
    log_likelihood, entropy = score(X, sample_weight, weights, means, factors)
    extremes = eigen_extremes(cov) if dim > 0 else np.zeros((K, 2))
    return (OK, weights, means, factors, n_iter, converged, bounds, all_inner, all_caps, log_likelihood, entropy,
            extremes, -1, mass, cov)
