"""The fitting loop: restarts, map-reduce of the E-step, the M-step, convergence.

It knows no formula: the model supplies ``accumulate`` / ``maximize`` / ``objective``, the
source supplies ``map_reduce``, the caller supplies how to start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

import numpy as np

from ..kernels.float32_pass import settled_sum
from ..protocols import Model, require
from . import small_em


@dataclass(frozen=True)
class FitOptions:
    tol: float
    max_iter: int
    n_init: int = 1
    verbose: int = 0
    verbose_interval: int = 10
    # Which change ``tol`` bounds: False, the objective per unit of sample weight (scikit-learn's
    # EM rule, whose lower bound is a mean); True, the total objective, the per-unit change times
    # the summed weight (scikit-learn's BayesianGaussianMixture and hmmlearn sum their bounds).
    tol_on_total: bool = False
    # mclust's rule instead (emControl tol[1]): converged when |L - L_old| <= tol (1 + |L|), L the
    # total objective (the per-unit one times the summed weight)
    relative_tol: bool = False


@dataclass(frozen=True)
class FitResult:
    params: object
    converged: bool
    n_iter: int
    lower_bound: float  # per sample, of the params before the last M-step (as scikit-learn)
    lower_bounds: list = field(default_factory=list)
    events: list = field(default_factory=list)  # what a collapse policy did, in order


# Who watches the fits in this context (see ``progress``); None: nobody.
_PROGRESS: ContextVar[Callable[[int, float], None] | None] = ContextVar("mixfit_progress", default=None)


@contextmanager
def progress(callback: Callable[[int, float], None]):
    """Within the block, every iteration of every fit calls ``callback(n_iter, lower_bound)``
    (n_iter starts again at 1 with each of the n_init runs). A context rather than an argument, so
    that a progress bar needs no estimator parameter and the estimators pass nothing through."""
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


# Whether the fits in this context stop by mclust's relative rule (see ``relative_tolerance``).
_RELATIVE: ContextVar[bool] = ContextVar("mixfit_relative_tolerance", default=False)


@contextmanager
def relative_tolerance():
    """Within the block, every fit stops by mclust's rule (emControl's tol[1]): converged when
    |L - L_old| <= tol (1 + |L|), L the total objective, instead of the change per unit of
    weight. A context, as ``progress``, so that ``select_model(convention='mclust')`` sets it
    around its cells without an estimator parameter."""
    token = _RELATIVE.set(True)
    try:
        yield
    finally:
        _RELATIVE.reset(token)


# Whether the fits in this context may run whole in one compiled call (see ``compiled_small_fits``).
_COMPILED_SMALL: ContextVar[bool] = ContextVar("mixfit_compiled_small_fits", default=False)


@contextmanager
def compiled_small_fits():
    """Within the block, a fit of small in-memory data may run whole in one compiled call
    (``small_em.py``: numba, the numpy loop's result to rounding). Set by the callers that run
    many small fits (``select_model``'s cells, ``bootstrap``'s replicates), where the compile
    (tens of seconds on the first call of an install, cached on disk after it) is paid once for
    many fits; a lone ``fit`` stays in numpy, so a user's first small fit never waits for it."""
    token = _COMPILED_SMALL.set(True)
    try:
        yield
    finally:
        _COMPILED_SMALL.reset(token)


class PlainStep:
    """The M-step as the model defines it; a collapse propagates as the model raised it."""

    name = "plain"
    requires: tuple = ()  # the protocols a model must meet beyond Model

    def __init__(self):
        self.events = []

    def step(self, model, source, stats, params, iteration):
        return model.maximize(stats, params)


def run(model, source, params, options: FitOptions, report: Callable[[str], None] = print,
        policy=None, initial_bound: float = -np.inf) -> FitResult:
    """Iterate E (map-reduce) and M steps from ``params`` until the per-sample objective moves
    by less than ``tol`` (the total objective, with ``options.tol_on_total``) or ``max_iter``
    passes are done. ``policy.step`` performs the M-step
    and may repair a collapsed component (see collapse.py); after a repair the objective of the
    next pass is not comparable with the last, so convergence is not tested across it.
    ``initial_bound``: the objective a warm start continues from (scikit-learn's convention), so
    that a warm-started fit of one iteration can detect convergence."""
    require(model, Model)
    policy = PlainStep() if policy is None else policy
    lower_bounds = []
    previous = initial_bound
    converged = False
    n_iter = 0
    started = time.perf_counter()
    observer = _PROGRESS.get()
    if _RELATIVE.get() and not options.relative_tol:
        options = replace(options, relative_tol=True)
    if _COMPILED_SMALL.get() and observer is None and options.verbose == 0:  # many small fits: compiled
        compiled = small_em.try_run(model, source, params, options, policy, initial_bound)
        if compiled is not None:
            fitted, converged, n_iter, final, lower_bounds = compiled
            return FitResult(fitted, converged, n_iter, final, lower_bounds, [])
    for n_iter in range(1, options.max_iter + 1):
        current = params
        # float32 diag / spherical moments: their rounding guard checked once per pass (kernels/float32_pass.py)
        stats = settled_sum(source.map_reduce, lambda X, w, params=current: model.accumulate(X, params, w))
        lower_bound = model.objective(stats, current) / stats.weight_sum
        repairs_before = len(policy.events)
        params = policy.step(model, source, stats, current, n_iter)
        lower_bounds.append(lower_bound)
        if observer is not None:
            observer(n_iter, lower_bound)
        change = lower_bound - previous
        if options.verbose >= 2 and n_iter % options.verbose_interval == 0:
            report(f"  Iteration {n_iter}\t time lapse {time.perf_counter() - started:.5f}s\t "
                   f"ll change {change:.5f}")
        if len(policy.events) > repairs_before:
            previous = -np.inf
            continue
        scale = stats.weight_sum if options.tol_on_total else 1.0
        if options.relative_tol:
            total = lower_bound * stats.weight_sum
            done = abs(change) * stats.weight_sum <= options.tol * (1.0 + abs(total))
        else:
            done = abs(change) * scale < options.tol
        if done:
            converged = True
            break
        previous = lower_bound
    final = lower_bounds[-1] if lower_bounds else -np.inf
    if options.verbose >= 1:
        state = "converged" if converged else "did not converge"
        report(f"Initialization {state}. time lapse {time.perf_counter() - started:.5f}s\t "
               f"lower bound {final:.5f}")
    return FitResult(params, converged, n_iter, final, lower_bounds, list(policy.events))


def fit(model, source, start: Callable[[np.random.Generator], object], options: FitOptions,
        rng: np.random.Generator, report: Callable[[str], None] = print,
        make_policy: Callable[[], object] | None = None, initial_bound: float = -np.inf) -> FitResult:
    """Best of ``n_init`` runs by final lower bound; run i starts from ``start(child_i)``, the
    children being independent streams spawned from ``rng``. With ``make_policy``, each run gets
    a fresh M-step policy, which ``start(child_i, policy)`` may use for the first M-step too."""
    require(model, Model)
    best = None
    for i, child in enumerate(rng.spawn(options.n_init)):
        if options.verbose >= 1:
            report(f"Initialization {i}")
        if make_policy is None:
            policy, params = PlainStep(), start(child)
        else:
            policy = make_policy()
            require(model, *policy.requires, role=f"model (with the {policy.name} collapse policy)")
            params = start(child, policy)
        result = run(model, source, params, options, report, policy, initial_bound)
        if best is None or result.lower_bound > best.lower_bound:
            best = result
    return best
