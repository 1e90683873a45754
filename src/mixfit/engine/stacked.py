"""The fitting loop of many independent problems at once: ``loop.run`` with a problem axis.

Each block of the source (backends/stacked.py) is advanced by the stacked model's E-step and
M-step, every problem by the rules of ``loop.run``: it stops when its own per-sample objective
moves by less than ``tol`` (the total objective, with ``options.tol_on_total``) or after
``max_iter`` passes, and a stopped problem leaves the block (it is frozen: later passes neither
compute nor change it). A problem also leaves, without a result, when its M-step fails (a
collapsed component) or when the model finds the stacked form's rounding unsuitable for its
parameters: the caller fits those alone, by the single-problem path, from their start. The loop
knows no formula.
"""

from __future__ import annotations

import numpy as np

from .loop import _PROGRESS, FitOptions, FitResult, run


def run_stacked(model, source, starts: list, options: FitOptions) -> list[FitResult | None]:
    """One ``FitResult`` per problem of ``source`` (None: left to the single path), each problem
    run from its start ``starts[b]`` (the model's params of one problem)."""
    results: list[FitResult | None] = [None] * source.n_problems

    def fit_block(block):
        rows = model.rows(block.X, block.weights)
        params = model.stack_params([starts[b] for b in block.index])
        for b, result in zip(block.index, _run_block(model, rows, params, options)):
            results[b] = result

    source.map_blocks(fit_block)
    return results


def fit_restarts(model, source, start, options: FitOptions, rng: np.random.Generator, make_policy,
                 stacked_model, stacked_source) -> FitResult:
    """``loop.fit``'s best of ``n_init`` runs of one problem, runs 2..n_init advanced together:
    ``stacked_source`` holds the problem's rows once for each of them. The starts are drawn
    first, in order, from the same spawned streams and policies as ``loop.fit`` draws them (a
    start never depends on an earlier run). The first run is ``loop.run``'s, so that the best of
    n_init is never below the fit of n_init = 1 from the same seed, not even by rounding
    (scikit-learn's test_init); a run the stacked path gives back is run alone from its start;
    the first best is kept. A progress callback (``loop.progress``) sees each stacked run's
    bounds once its result is in."""
    policies = [make_policy() for _ in range(options.n_init)]
    starts = [start(child, policy) for child, policy in zip(rng.spawn(options.n_init), policies)]
    results = [run(model, source, starts[0], options, policy=policies[0])]
    results += run_stacked(stacked_model, stacked_source, starts[1:], options)
    observer = _PROGRESS.get()
    best = None
    for i, (params, policy, result) in enumerate(zip(starts, policies, results)):
        if result is None:
            result = run(model, source, params, options, policy=policy)
        elif observer is not None and i > 0:
            for n_iter, lower_bound in enumerate(result.lower_bounds, start=1):
                observer(n_iter, lower_bound)
        if best is None or result.lower_bound > best.lower_bound:
            best = result
    return best


def _run_block(model, rows, params, options: FitOptions) -> list[FitResult | None]:
    n_problems = rows.weight_sum.shape[0]
    results: list[FitResult | None] = [None] * n_problems
    active = np.arange(n_problems)  # the block's problems still running, in rows' order
    previous = np.full(n_problems, -np.inf)
    history = np.empty((options.max_iter, n_problems))  # the lower bound of each pass
    for n_iter in range(1, options.max_iter + 1):
        suitable = model.suitable(rows, params)
        stats = model.accumulate(rows, params)
        lower_bound = model.objective(stats, params) / stats.weight_sum  # (B,) per sample
        params, failed = model.maximize(stats, rows)
        history[n_iter - 1, active] = lower_bound
        scale = stats.weight_sum if options.tol_on_total else 1.0
        converged = np.abs(lower_bound - previous) * scale < options.tol
        stopped = (converged | (n_iter == options.max_iter)) & suitable & ~failed
        for i in np.flatnonzero(stopped):
            b = active[i]
            results[b] = FitResult(model.problem(params, i), bool(converged[i]), n_iter, float(lower_bound[i]),
                                   history[:n_iter, b].tolist())
        running = ~stopped & suitable & ~failed
        if not running.all():
            active, rows, params = active[running], rows.take(running), params.take(running)
            lower_bound = lower_bound[running]
        if active.size == 0:
            break
        previous = lower_bound
    return results
