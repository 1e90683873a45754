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

from .loop import FitOptions, FitResult


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
