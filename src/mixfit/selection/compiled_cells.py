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
``nogil``): ``compiled_sweep`` runs the calls of a whole sweep on threads, costliest first, and
mclust's tree on one of them, keeping everything else (the checks, the starts, the estimators)
on the calling thread and the cells and their warnings in sweep order, so that the table is
the serial one to the bit.

Where this does not apply (another start, a prior, a repairing ``on_collapse``, weights with
zeros, large data, no numba) or the start's M-step failed, ``compiled_cell`` returns None and
the caller fits the cell through the estimator. Where an EM M-step of the compiled run fails
(a covariance not positive definite), that run is the cell's fit of record: the cell is NA with
the numpy loop's kind of reason (``collapse_reason``: the words of ``engine.collapse`` under
``on_collapse='raise'``, the component, mass, distinct rows and iteration of the compiled run).
Near a collapse the two loops part by rounding (the compiled E-step gives a row held alone
exact zero moments where numpy's leaves 1e-47), so the iteration or the component may differ
from a numpy fit of the same cell; on iris the compiled sweep's NA cells are exactly R mclust's
(VEE at K = 5, 7, 9, EVV at K = 5, 6), where the numpy loop fits VEE at K = 5 (docs/families.md).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..engine import FitResult, compiled_small_fits
from ..engine.collapse import explain_collapse  # the numpy loop's own words
from ..engine.criteria import information_criteria
from ..engine.mclust_hc import mclust_partition, spare_thread
from ..engine.small_em import SMALL_ROWS_X_COMPONENTS
from ..estimators import GaussianMixture
from ..estimators.checked_rows import checked_rows
from ..estimators.priors import check_prior_spec
from ..estimators.validation import check_hyperparameters, check_option
from ..exceptions import CollapsedComponentError, ConvergenceWarning
from ..families.compiled import compiled_code, stored_covariances
from ..families.registry import MCLUST_MODEL_NAMES, make_covariance
from ..models import GaussianEM
from ..models.gaussian_em_compiled import (
    inner_cap_hit,
    mclust_cell_arguments,
    mclust_cell_result,
    run_mclust_cell,
)
from .cell_threads import threaded_cells
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
    source: object
    arguments: tuple


class SweepChecks:
    """The checks of a sweep's cells, each done once per distinct input: the hyper-parameter
    ranges per tuple of their values (with their types: an int and the equal float apart), the fit's
    input checks (X, ``sample_weight``, the rows against K) per K. Each is a pure function of
    that key (the estimator's class is ``GaussianMixture`` itself, ``warm_start`` False:
    ``_applies``), so a memoised pass or failure is the check's own; the validation record is
    only read by ``_set_fitted``, so the cells of one K share it; and mclust's cut of the rows
    per K (``partition``). The sweep's X and weights are the same objects for every cell
    (``compiled_sweep``'s tasks)."""

    def __init__(self):
        self._passed: set = set()
        self._inputs: dict = {}
        self._cuts: dict = {}

    def hyperparameters(self, estimator) -> None:
        table = estimator._HYPERPARAMETERS
        key = tuple((type(value), value) for value in (getattr(estimator, name) for name in table))
        try:
            if key in self._passed:
                return
        except TypeError:  # an unhashable value: checked every time
            key = None
        check_hyperparameters(estimator, table)
        if key is not None:
            self._passed.add(key)

    def fit_input(self, estimator, X, sample_weight, covariance):
        key = (id(X), id(sample_weight), int(estimator.n_components))
        if key not in self._inputs:
            try:
                with checked_rows(X):
                    self._inputs[key] = estimator._check_fit_input(X, sample_weight, covariance), None
            except ValueError as error:
                self._inputs[key] = None, error
        checked, error = self._inputs[key]
        if error is not None:
            raise error
        return checked

    def partition(self, X, n_clusters: int) -> np.ndarray:
        """mclust's starting partition of the checked rows X at K (``mclust_partition``, read-only),
        once per K: the cells of a K share it. At K = 1 every row in group 0, the tree cut at one
        group whatever its merges, so no tree is needed (the cells of K = 1 start while it is
        built); read-only as every cut, so that the compiled cell takes one type of labels."""
        key = (id(X), n_clusters)
        if key not in self._cuts:
            if n_clusters == 1:
                labels = np.zeros(X.shape[0], dtype=np.int64)
                labels.setflags(write=False)
            else:
                with compiled_small_fits():  # a sweep: mclust's tree by the compiled loop too (mclust_hc.py)
                    labels = mclust_partition(X, n_clusters)
            self._cuts[key] = X, labels  # X held: its id is not reused while the key is
        return self._cuts[key][1]


def checked_cell(start: str, estimator, X, sample_weight, checks: SweepChecks | None = None):
    """The checks and settings half of ``prepared_cell`` (everything but mclust's partition):
    (start, estimator, record, covariance, model, X, weights, source), or None where the caller
    must fit the cell through the estimator. Runs on the calling thread."""
    if not _applies(estimator, X, sample_weight):
        return None
    checks = SweepChecks() if checks is None else checks
    try:  # fit's own checks, in its order: a bad value is the estimator's error, as its reason
        checks.hyperparameters(estimator)
        covariance = make_covariance(estimator.covariance_type)
        check_option(estimator.on_collapse, "on_collapse", ("raise",))
        check_prior_spec(estimator.prior)
        X, weights, record = checks.fit_input(estimator, X, sample_weight, covariance)
    except ValueError:
        return None
    model = GaussianEM(covariance, estimator.reg_covar, X.dtype)
    source = estimator._source(X, weights, covariance)
    if source.n_samples > source.chunk_size:  # the numpy loop would spread the rows over threads
        return None
    return start, estimator, record, covariance, model, X, weights, source


def started_cell(checked, relative: bool, checks: SweepChecks | None = None) -> _Pending | None:
    """The partition half of ``prepared_cell``: ``checked_cell``'s tuple with mclust's partition
    at K (``SweepChecks.partition``: ``checks``' memo) and the kernel's arguments, or None (as
    ``prepared_cell``)."""
    start, estimator, record, covariance, model, X, weights, source = checked
    checks = SweepChecks() if checks is None else checks
    labels = checks.partition(X, int(estimator.n_components))
    arguments = mclust_cell_arguments(model, X, weights, labels, float(estimator.tol), relative,
                                      int(estimator.max_iter))
    if arguments is None:
        return None
    return _Pending(start, estimator, record, covariance, model, X, source, arguments)


def prepared_cell(start: str, estimator, X, sample_weight, relative: bool,
                  checks: SweepChecks | None = None) -> _Pending | None:
    """``estimator``'s fit from mclust's start, checked and ready for its compiled call (with
    ``relative``, mclust's convergence rule), or None where the caller must fit it through the
    estimator. ``checks``: the sweep's memoised checks. Runs on the calling thread."""
    checks = SweepChecks() if checks is None else checks
    checked = checked_cell(start, estimator, X, sample_weight, checks)
    return None if checked is None else started_cell(checked, relative, checks)


def _collapse_error(model, fitted) -> CollapsedComponentError:
    """The error the numpy M-step raises for the covariances the compiled one could not factor:
    the family's own ``precision_chol`` on them, in its stored form (so its wording and the
    component it names). Where that factorisation passes (the compiled Cholesky's last pivot
    was rounding-size; numpy's LAPACK summed in another order), the same call on the failed
    component's covariance set to zero, which names it."""
    code = compiled_code(model.covariance)
    stored = stored_covariances(code, fitted.covariances)
    try:
        model.covariance.precision_chol(stored)
    except CollapsedComponentError as error:
        return error
    if MCLUST_MODEL_NAMES[code] == "EEE":
        stored[...] = 0.0  # the tied family: its one covariance
    else:
        stored[fitted.failed_component] = 0.0
    try:
        model.covariance.precision_chol(stored)
    except CollapsedComponentError as error:
        return error
    raise AssertionError("a zero covariance was factored")  # pragma: no cover


def collapse_reason(pending: _Pending, fitted) -> str:
    """The NA reason of a cell whose compiled EM M-step failed (``fitted``: a failed
    ``CompiledCell`` with ``failed_iteration`` > 0), in the numpy loop's words
    (``engine.collapse``'s message under ``on_collapse='raise'``: the component, its mass and the
    distinct rows it held under the E-step's params, the iteration, the fixes), from the compiled
    run: its iteration, component and mass, which near a collapse may differ from the numpy
    loop's by an iteration or a component (docs/families.md)."""
    error = _collapse_error(pending.model, fitted)
    stats = _Masses(fitted.mass)
    text = explain_collapse(pending.model, pending.source, stats, fitted.params, error, fitted.failed_iteration)
    return f"{pending.start} start: {' '.join(text.split())}"


@dataclass(frozen=True)
class _Masses:
    """What ``explain_collapse`` reads of an E-step's statistics after the first M-step."""

    mass: np.ndarray


def finished_cell(pending: _Pending, output: tuple, n: float, criterion: str, convention: str, mclust_rules: bool,
                  cell):
    """The fitted ``cell`` from the compiled call's ``output`` (``run_mclust_cell``), its
    estimator written; an NA cell with the collapse's reason where an EM M-step failed; None where
    the start's M-step failed and the caller must fit the cell through the estimator. Runs on
    the calling thread (it writes the estimator and warns)."""
    if inner_cap_hit(output):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # an inner cap: as the estimator's fit in the sweep
            fitted = mclust_cell_result(pending.model, output)
    else:
        fitted = mclust_cell_result(pending.model, output)
    if fitted.failed:
        if fitted.failed_iteration > 0:  # the compiled run's collapse is the cell's (module note)
            return cell.__class__(cell.n_components, cell.covariance_type, reason=collapse_reason(pending, fitted))
        return None  # the start's M-step: the estimator's fit, its repair or its reason
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
                  mclust_rules: bool, cell, checks: SweepChecks | None = None):
    """The fitted ``cell`` (a ``Cell`` with K and the covariance type) of ``estimator``'s fit
    from mclust's start, or None where the caller must fit it through the estimator."""
    pending = prepared_cell(start, estimator, X, sample_weight, mclust_rules, checks)
    if pending is None:
        return None
    return finished_cell(pending, run_mclust_cell(pending.arguments), n, criterion, convention, mclust_rules, cell)


def compiled_sweep(tasks, n_threads: int, n: float, criterion: str, convention: str, mclust_rules: bool):
    """``compiled_cell`` of each task ((start, estimator, X, sample_weight, cell), or None: no
    compiled call), yielded in order, with the compiled calls on ``n_threads`` threads.

    The cells are independent and the compiled call touches nothing but its arguments (numba
    ``nogil``): the checks, the start's partition, the writing of the estimator and the warnings
    stay on the calling thread, and the cells come out in sweep order, so that they are those of
    the serial loop to the bit. On threads (``cell_threads.threaded_cells``) mclust's tree is
    built on one of them while the calling thread checks every cell (``SweepChecks``: once per
    distinct input); then each cell's start is queued, the threads taking the costliest queued
    call first (``cell_threads.cell_cost``), and the calling thread finishes each cell as its
    call ends, in any order, yielding in sweep order (a cell's warnings re-issued there). A None
    is yielded for a task the caller must fit through the estimator, which it can do while the
    threads go on with the later cells."""
    checks = SweepChecks()
    if n_threads <= 1:
        for task in tasks:
            yield None if task is None else compiled_cell(task[0], task[1], task[2], task[3], n, criterion,
                                                          convention, mclust_rules, task[4], checks)
        return
    yield from threaded_cells(lambda task: checked_cell(*task[:4], checks),
                              lambda checked: started_cell(checked, mclust_rules, checks), run_mclust_cell,
                              lambda task, ready, output: finished_cell(ready, output, n, criterion, convention,
                                                                        mclust_rules, task[4]),
                              tasks, n_threads, lambda submit: _warm_tree(tasks, submit), early=_needs_no_tree)


def _needs_no_tree(checked) -> bool:
    """Whether ``started_cell`` of ``checked_cell``'s tuple cuts no tree (K = 1): its call may
    start while the tree is built."""
    return int(checked[1].n_components) == 1


def _warm_tree(tasks, submit) -> None:
    """mclust's tree of the sweep's rows, built (and cached: ``engine.mclust_hc``) on a cell
    thread while the calling thread checks the cells, where a cell will cut it (the first task
    of mclust's start that the compiled cell may fit: ``_applies``); a tree that cannot be built
    is left to the cells' own starts, which raise or refuse as they would. ``submit``:
    ``threaded_cells``', whose first call runs on the calling thread, which waits for this
    thread to read its result before it checks the cells."""
    try:  # anything it cannot do is the cells' own to raise or refuse
        task = next((task for task in tasks if task is not None and int(task[1].n_components) >= 2
                     and _applies(task[1], task[2], task[3])), None)
        if task is not None:  # n_components <= n_samples: _compiled_task
            with compiled_small_fits(), spare_thread(submit):  # the compiled tree, as started_cell's,
                mclust_partition(task[2], 2)  # its first table shared with the calling thread
    except (ValueError, TypeError, np.linalg.LinAlgError):
        return
