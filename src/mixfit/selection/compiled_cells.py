"""A cell of ``select_model`` from mclust's start, fitted and scored in one compiled call.

mclust's procedure (``init_params='mclust'``, ``hierarchical_start=False``) fits each cell
once, from the VVV tree cut at K, and the table then reads three things of the fit: its
log-likelihood, the entropy of its responsibilities (ICL) and, under mclust's rules, whether a
covariance collapsed (``degenerate.py``). Through the estimator each of these is a pass of
Python calls (the fit's checks and start, ``score_samples`` and ``predict_proba``, the
decomposition), several times the compiled EM of a small cell. Here one call
(``models.gaussian_em_compiled.compiled_mclust_cell``) runs the start's M-step, the EM and
the scoring pass, and the cell's estimator is written from its result with the estimator's own
``_set_fitted``: the fitted attributes are those ``fit`` writes inside
``engine.compiled_small_fits()`` (the same loop), to rounding.

The cells are independent, and the compiled call touches nothing but its arguments (numba
``nogil``): ``compiled_sweep`` runs the calls of a whole sweep on threads, keeping everything
else (the checks, the starts, the estimators, the warnings) on the calling thread in sweep order,
so that the table is the serial one to the bit.

Where this does not apply (another start, a prior, a repairing ``on_collapse``, weights with
zeros, large data, no numba) or a compiled M-step failed (a covariance not positive definite),
``compiled_cell`` returns None and the caller fits the cell through the estimator, as before:
near a collapse the numpy loop and the compiled one part by rounding (on iris, VEE at K = 5
fails in one and limps on in the other, and EVV at K = 5 collapses at iteration 57 in one and
58 in the other), so only the estimator's own fit gives its own result and NA reason.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..engine import FitResult, compiled_small_fits
from ..engine.criteria import information_criteria
from ..engine.mclust_hc import mclust_partition
from ..engine.small_em import SMALL_ROWS_X_COMPONENTS
from ..estimators import GaussianMixture
from ..estimators.checked_rows import checked_rows
from ..estimators.priors import check_prior_spec
from ..estimators.validation import check_hyperparameters, check_option
from ..exceptions import ConvergenceWarning
from ..families.registry import make_covariance
from ..models import GaussianEM
from ..models.gaussian_em_compiled import mclust_cell_arguments, mclust_cell_result, run_mclust_cell
from .degenerate import reason_from_extremes

# The estimator settings under which the compiled cell is the estimator's fit (anything else:
# the estimator fits the cell).
_PLAIN = {"init_params": "mclust", "n_init": 1, "prior": None, "on_collapse": "raise", "warm_start": False,
          "verbose": 0, "chunk_size": None, "weights_init": None, "means_init": None, "precisions_init": None}


def _differs(given, value) -> bool:
    if value is None:  # by identity: a given *_init is an array
        return given is not None
    return isinstance(given, np.ndarray) or given != value


def _applies(estimator, X, sample_weight) -> bool:
    if type(estimator) is not GaussianMixture or X.dtype != np.float64 or not isinstance(X, np.ndarray):
        return False
    if any(_differs(getattr(estimator, name), value) for name, value in _PLAIN.items()):
        return False
    if X.shape[0] * int(estimator.n_components) > SMALL_ROWS_X_COMPONENTS:
        return False
    return sample_weight is None or bool(np.all(sample_weight > 0))


@dataclass(frozen=True)
class _Pending:
    """A cell checked and started, its kernel's arguments ready (``prepared_cell``)."""

    start: str
    estimator: object
    record: object
    covariance: object
    model: GaussianEM
    X: np.ndarray
    arguments: tuple


def prepared_cell(start: str, estimator, X, sample_weight, relative: bool) -> _Pending | None:
    """``estimator``'s fit from mclust's start, checked and ready for its compiled call (with
    ``relative``, mclust's convergence rule), or None where the caller must fit it through the
    estimator. Runs on the calling thread."""
    if not _applies(estimator, X, sample_weight):
        return None
    try:  # fit's own checks, in its order: a bad value is the estimator's error, as its reason
        check_hyperparameters(estimator, estimator._HYPERPARAMETERS)
        covariance = make_covariance(estimator.covariance_type)
        check_option(estimator.on_collapse, "on_collapse", ("raise",))
        check_prior_spec(estimator.prior)
        with checked_rows(X):
            X, weights, record = estimator._check_fit_input(X, sample_weight, covariance)
    except ValueError:
        return None
    model = GaussianEM(covariance, estimator.reg_covar, X.dtype)
    source = estimator._source(X, weights, covariance)
    if source.n_samples > source.chunk_size:  # the numpy loop would spread the rows over threads
        return None
    with compiled_small_fits():  # a sweep: mclust's tree by the compiled loop too (mclust_hc.py)
        labels = mclust_partition(X, int(estimator.n_components))
    arguments = mclust_cell_arguments(model, X, weights, labels, float(estimator.tol), relative,
                                      int(estimator.max_iter))
    if arguments is None:
        return None
    return _Pending(start, estimator, record, covariance, model, X, arguments)


def finished_cell(pending: _Pending, output: tuple, n: float, criterion: str, convention: str, mclust_rules: bool,
                  cell):
    """The fitted ``cell`` from the compiled call's ``output`` (``run_mclust_cell``), its
    estimator written; None where the compiled M-step failed and the caller must fit the cell
    through the estimator. Runs on the calling thread (it writes the estimator and warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # an inner cap: as the estimator's fit in the sweep
        fitted = mclust_cell_result(pending.model, output)
    if fitted.failed:  # the estimator's fit: its repair, or its reason
        return None
    K = fitted.params.means.shape[0]
    estimator = pending.estimator
    if mclust_rules:  # a collapsed fit is not ranked (degenerate.py)
        reason = reason_from_extremes(fitted.eigen_extremes[:, 0], fitted.eigen_extremes[:, 1],
                                      float(estimator.reg_covar))
        if reason is not None:
            return cell.__class__(cell.n_components, cell.covariance_type, reason=f"{pending.start} start: {reason}")
    estimator._set_fitted(FitResult(fitted.params, fitted.converged, fitted.n_iter, fitted.lower_bounds[-1],
                                    fitted.lower_bounds, []), pending.record, pending.covariance)
    p = pending.model.n_parameters(K, pending.X.shape[1])
    values = information_criteria(fitted.log_likelihood, p, n, fitted.entropy, convention)
    return cell.__class__(cell.n_components, cell.covariance_type, criterion=values[criterion],
                          log_likelihood=fitted.log_likelihood, n_parameters=int(p), converged=fitted.converged,
                          n_iter=fitted.n_iter, start=pending.start, values=values, estimator=estimator)


def compiled_cell(start: str, estimator, X, sample_weight, n: float, criterion: str, convention: str,
                  mclust_rules: bool, cell):
    """The fitted ``cell`` (a ``Cell`` with K and the covariance type) of ``estimator``'s fit
    from mclust's start, or None where the caller must fit it through the estimator."""
    pending = prepared_cell(start, estimator, X, sample_weight, mclust_rules)
    if pending is None:
        return None
    return finished_cell(pending, run_mclust_cell(pending.arguments), n, criterion, convention, mclust_rules, cell)


def compiled_sweep(tasks, n_threads: int, n: float, criterion: str, convention: str, mclust_rules: bool):
    """``compiled_cell`` of each task ((start, estimator, X, sample_weight, cell), or None: no
    compiled call), yielded in order, with the compiled calls on ``n_threads`` threads.

    The cells are independent and the compiled call touches nothing but its arguments (numba
    ``nogil``): the checks, the start's partition, the writing of the estimator and the warnings
    stay on the calling thread, in sweep order, so the cells are those of the serial loop to the
    bit. The calling thread prepares every cell first (the threads start on the first at once),
    then finishes them in order; a None is yielded for a task the caller must fit through the
    estimator, which it can do while the threads go on with the later cells."""
    if n_threads <= 1:
        for task in tasks:
            yield None if task is None else compiled_cell(task[0], task[1], task[2], task[3], n, criterion,
                                                          convention, mclust_rules, task[4])
        return
    executor = ThreadPoolExecutor(n_threads, thread_name_prefix="mixfit-cells")
    try:
        pending, futures = [], []
        for task in tasks:
            ready = None if task is None else prepared_cell(*task[:4], mclust_rules)
            pending.append(ready)
            futures.append(None if ready is None else executor.submit(run_mclust_cell, ready.arguments))
        for task, ready, future in zip(tasks, pending, futures):
            yield None if ready is None else finished_cell(ready, future.result(), n, criterion, convention,
                                                           mclust_rules, task[4])
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
