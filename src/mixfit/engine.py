"""The fitting loop: restarts, map-reduce of the E-step, the M-step, convergence.

It knows no formula: the model supplies ``accumulate`` / ``maximize`` / ``objective``, the
source supplies ``map_reduce``, the caller supplies how to start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FitOptions:
    tol: float
    max_iter: int
    n_init: int = 1
    verbose: int = 0
    verbose_interval: int = 10


@dataclass(frozen=True)
class FitResult:
    params: object
    converged: bool
    n_iter: int
    lower_bound: float  # per sample, of the params before the last M-step (as scikit-learn)
    lower_bounds: list = field(default_factory=list)
    events: list = field(default_factory=list)  # what a collapse policy did, in order


class PlainStep:
    """The M-step as the model defines it; a collapse propagates as the model raised it."""

    def step(self, model, source, stats, params, iteration):
        return model.maximize(stats, params), []


def run(model, source, params, options: FitOptions, report: Callable[[str], None] = print,
        policy=None) -> FitResult:
    """Iterate E (map-reduce) and M steps from ``params`` until the per-sample objective moves
    by less than ``tol`` or ``max_iter`` passes are done. ``policy.step`` performs the M-step
    and may repair a collapsed component (see collapse.py); after a repair the objective of the
    next pass is not comparable with the last, so convergence is not tested across it."""
    policy = PlainStep() if policy is None else policy
    events = []
    lower_bounds = []
    previous = -np.inf
    converged = False
    n_iter = 0
    started = time.perf_counter()
    for n_iter in range(1, options.max_iter + 1):
        current = params
        stats = source.map_reduce(lambda X, w: model.accumulate(X, current, w))
        lower_bound = model.objective(stats, current) / stats.weight_sum
        params, repairs = policy.step(model, source, stats, current, n_iter)
        lower_bounds.append(lower_bound)
        change = lower_bound - previous
        if options.verbose >= 2 and n_iter % options.verbose_interval == 0:
            report(f"  Iteration {n_iter}\t time lapse {time.perf_counter() - started:.5f}s\t "
                   f"ll change {change:.5f}")
        if repairs:
            events.extend(repairs)
            previous = -np.inf
            continue
        if abs(change) < options.tol:
            converged = True
            break
        previous = lower_bound
    final = lower_bounds[-1] if lower_bounds else -np.inf
    if options.verbose >= 1:
        state = "converged" if converged else "did not converge"
        report(f"Initialization {state}. time lapse {time.perf_counter() - started:.5f}s\t "
               f"lower bound {final:.5f}")
    return FitResult(params, converged, n_iter, final, lower_bounds, events)


def fit(model, source, start: Callable[[np.random.Generator], object], options: FitOptions,
        rng: np.random.Generator, report: Callable[[str], None] = print,
        make_policy: Callable[[], object] = PlainStep) -> FitResult:
    """Best of ``n_init`` runs by final lower bound; run i starts from ``start(child_i)``, the
    children being independent streams spawned from ``rng``; each run gets a fresh policy."""
    best = None
    for i, child in enumerate(rng.spawn(options.n_init)):
        if options.verbose >= 1:
            report(f"Initialization {i}")
        result = run(model, source, start(child), options, report, make_policy())
        if best is None or result.lower_bound > best.lower_bound:
            best = result
    return best
