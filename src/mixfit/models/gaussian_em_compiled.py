"""``GaussianEM``'s whole EM fit in one compiled call, where that is exact: maximum likelihood
(no prior), float64 rows in memory with nothing missing, and a family of mclust's fourteen.

``compiled_fit`` runs ``kernels.mclust_em_compiled.em_fit`` (the same E-step, M-step and
convergence test as ``engine.loop.run`` with this model, as loops) and returns the fitted
params in the family's stored form, or None where the fit is not one it runs (numba missing,
a prior, float32, missing values, a family it does not know): the caller then runs the numpy
loop. A failed M-step (a covariance not positive definite) is reported as such, so that the
caller reruns the fit in numpy, which raises or repairs as its collapse policy says.
``compiled_mclust_cell`` does the same for one cell of mclust's selection table, from the
start's M-step to the table's columns (``kernels.mclust_cell_compiled.cell_fit``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..families.compiled import compiled_code, dense_factors, record_inner_loops, stored_factors
from ..families.mclust_msteps import INNER_MAX_ITER, INNER_TOL
from ..kernels.numba_switch import NUMBA as _COMPILED
from .gaussian_em import GaussianEM, GaussianParams


@dataclass(frozen=True)
class CompiledFit:
    """What ``em_fit`` returned: ``failed`` (an M-step failed: rerun in numpy), the params after
    the last M-step, and the loop's record (per-unit-of-weight objective of each iteration)."""

    failed: bool
    params: GaussianParams | None
    converged: bool
    n_iter: int
    lower_bounds: list


def compiled_fit(model, X, sample_weight, params: GaussianParams, tol: float, relative: bool, max_iter: int,
                 initial_bound: float) -> CompiledFit | None:
    """EM from ``params`` on the rows ``X`` (n, D) with weights (n,) or None; ``tol`` on the
    change of the objective per unit of weight, or with ``relative`` mclust's relative rule on
    the total. None where this fit is not one the compiled loop runs exactly."""
    if not _COMPILED or type(model) is not GaussianEM or model.prior is not None:
        return None
    if model.dtype != np.float64 or X.dtype != np.float64 or max_iter < 1:
        return None
    code = compiled_code(model.covariance)
    if code is None or np.isnan(X).any():
        return None
    from ..kernels.mclust_em_compiled import FAILED, em_fit  # optional: numba, on first use

    K, dim = params.means.shape
    weights = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    status, pi, means, factors, _, n_iter, converged, bounds, inner, caps, _, _ = em_fit(
        np.ascontiguousarray(X), weights, np.asarray(params.weights, dtype=np.float64),
        np.ascontiguousarray(params.means, dtype=np.float64), dense_factors(code, params.prec_chol, K, dim),
        code, float(model.reg_covar), float(tol), bool(relative), int(max_iter), INNER_TOL, INNER_MAX_ITER,
        float(initial_bound))
    if status == FAILED:
        return CompiledFit(True, None, False, int(n_iter), [])
    record_inner_loops(model.covariance, code, inner, caps)
    fitted = GaussianParams(pi, means, stored_factors(code, factors))
    return CompiledFit(False, fitted, bool(converged), int(n_iter), bounds.tolist())


@dataclass(frozen=True)
class CompiledCell:
    """What ``kernels.mclust_cell_compiled.cell_fit`` returned for one cell of mclust's table:
    ``failed`` (the start's M-step failed: rerun the cell in numpy; or an EM M-step), the fitted params
    and the loop's record, the inner loops of every M-step (the start's first),
    the log-likelihood and classification entropy at the fitted params, and each component's
    smallest and largest covariance eigenvalue (K, 2). Where an EM M-step failed
    (``failed_iteration`` > 0), ``params`` are those of its E-step, ``mass`` that E-step's N_k,
    ``covariances`` the M-step's (K, D, D) and ``failed_component`` the first k not positive
    definite: the collapse's diagnosis (``failed_iteration`` 0: the start's M-step failed)."""

    failed: bool
    params: GaussianParams | None = None
    converged: bool = False
    n_iter: int = 0
    lower_bounds: list | None = None
    log_likelihood: float = np.nan
    entropy: float = np.nan
    eigen_extremes: np.ndarray | None = None
    failed_iteration: int = 0
    failed_component: int = -1
    mass: np.ndarray | None = None
    covariances: np.ndarray | None = None


def compiled_mclust_cell(model, X, sample_weight, labels, tol: float, relative: bool,
                         max_iter: int) -> CompiledCell | None:
    """EM from the M-step of the hard partition ``labels`` (n,) (mclust's start), and the
    table's columns at the fitted params, in one compiled call; None where the fit is not one
    the compiled loop runs exactly (as ``compiled_fit``). The inner loops' record goes on the
    model's covariance strategy, as the numpy M-steps keep it."""
    arguments = mclust_cell_arguments(model, X, sample_weight, labels, tol, relative, max_iter)
    if arguments is None:
        return None
    return mclust_cell_result(model, run_mclust_cell(arguments))


def mclust_cell_arguments(model, X, sample_weight, labels, tol: float, relative: bool, max_iter: int):
    """``compiled_mclust_cell`` in three steps, so that the compiled call (which holds no lock:
    numba ``nogil``) can run on another thread: the kernel's arguments (a tuple), or None where
    the fit is not one the compiled loop runs exactly; ``run_mclust_cell`` runs the kernel on
    them (touching nothing else); ``mclust_cell_result`` reads its output."""
    if not _COMPILED or type(model) is not GaussianEM or model.prior is not None:
        return None
    if model.dtype != np.float64 or X.dtype != np.float64 or max_iter < 1:
        return None
    code = compiled_code(model.covariance)
    if code is None:
        return None
    K = int(labels.max()) + 1 if labels.size else 0
    weights = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    return (X, weights, np.asarray(labels, dtype=np.int64), K, code, float(model.reg_covar), float(tol),
            bool(relative), int(max_iter), INNER_TOL, INNER_MAX_ITER)


def run_mclust_cell(arguments) -> tuple:
    """``kernels.mclust_cell_compiled.cell_fit`` on ``mclust_cell_arguments``' tuple."""
    from ..kernels.mclust_cell_compiled import cell_fit  # optional: numba, on first use

    return cell_fit(*arguments)


def inner_cap_hit(output: tuple) -> bool:
    """Whether an inner loop of ``run_mclust_cell``'s output hit its cap (so that
    ``mclust_cell_result`` warns)."""
    return bool(np.any(output[8]))


def mclust_cell_result(model, output: tuple) -> CompiledCell:
    """The ``CompiledCell`` of ``run_mclust_cell``'s output; the inner loops' record on the
    model's covariance strategy (and its warning on a cap hit)."""
    from ..kernels.mclust_cell_compiled import FAILED_IN_EM, OK  # optional: numba (loaded by run_mclust_cell)

    (status, pi, means, factors, n_iter, converged, bounds, inner, caps, log_likelihood, entropy,
     extremes, failed_component, mass, covariances) = output
    code = compiled_code(model.covariance)
    if status == FAILED_IN_EM:
        params = GaussianParams(pi, means, stored_factors(code, factors))
        return CompiledCell(True, params, False, int(n_iter), bounds.tolist(), failed_iteration=int(n_iter),
                            failed_component=int(failed_component), mass=mass, covariances=covariances)
    if status != OK:
        return CompiledCell(True)
    record_inner_loops(model.covariance, code, inner, caps)
    fitted = GaussianParams(pi, means, stored_factors(code, factors))
    return CompiledCell(False, fitted, bool(converged), int(n_iter), bounds.tolist(), float(log_likelihood),
                        float(entropy), extremes)
