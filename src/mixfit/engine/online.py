"""Online EM and stochastic VB: one step of the stepwise update on one batch of rows.

Notation  code        meaning
s_t       running     the running statistics after t steps, per unit of sample weight
s(B_t)    unit        the statistics of batch t under the current params, per unit of weight
rho_t     rho         the step size (t + t0)^(-kappa), t0 = learning_offset, kappa = learning_decay
N         scale       the size of the stream the statistics stand for (total_samples, or the
                      summed weight seen so far)

The step (Cappe and Moulines 2009; Hoffman et al. 2013 for VB):

    s_t = (1 - rho_t) s_{t-1} + rho_t s(B_t),      params_t = maximize(N s_t)

``maximize`` is the model's own M-step, so EM, MAP EM and VB are the same step. For ML EM the
scale N cancels in every ratio of the M-step; for MAP and VB it sets how much the statistics
weigh against the prior, and N s_t plus the prior is the blended natural parameter of SVI
(docs/streaming.md). Gaussian statistics are moments about a shift, which moves with the means:
s_{t-1} is re-expressed about the batch's shift (``reshift``, an exact identity) before the two
are added. The engine knows no formula: the blend is ``scale`` and ``+`` of the statistics values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..protocols import Model, ShiftedStats, require


def step_size(step: int, learning_offset: float, learning_decay: float) -> float:
    """rho_t = (t + t0)^(-kappa); with kappa in (0.5, 1], sum rho = inf and sum rho^2 < inf."""
    return float((step + learning_offset) ** (-learning_decay))


def blend(running, unit, rho: float, model):
    """(1 - rho) running + rho unit, both per unit of weight; Gaussian moments are first taken
    about the batch's shift (exactly, ``ShiftedStats.reshift``) so that the two can be added."""
    if isinstance(running, ShiftedStats):
        running = running.reshift(unit.shift, model.covariance)
    return running.scale(1.0 - rho) + unit.scale(rho)


@dataclass(frozen=True)
class OnlineState:
    """What a stream has learnt: params, the running statistics (None before the first step), the
    steps taken and the summed weight seen."""

    params: object
    running: object = None
    n_steps: int = 0
    n_seen: float = 0.0


@dataclass(frozen=True)
class StepResult:
    state: OnlineState
    lower_bound: float  # the batch's objective per unit of weight, scaled to N, before the step
    events: list  # what the collapse policy did in this step


class _Stream:
    """The batch's rows as the policy sees them: counted as the N the statistics stand for, so
    that the collapse policies' 'mass below a thousandth of a row' keeps its meaning."""

    def __init__(self, source, n_samples: int):
        self._source = source
        self.n_samples = n_samples

    def __getattr__(self, name):
        return getattr(self._source, name)


def step(model, source, state: OnlineState, rho: float, total_samples: float | None, policy) -> StepResult:
    """One stepwise update on the batch ``source``: its E-step under ``state.params``, the blend
    (the first step takes the batch's statistics whole), the M-step of the scaled running
    statistics through ``policy``. A component that the policy drops leaves the running statistics
    with it (``select_stats``); a reseed re-takes them from this batch under the repaired params
    (the running average restarts there, consistent with the new component; one extra pass over
    the batch, on a reseed only)."""
    require(model, Model)
    params = state.params
    batch = source.map_reduce(lambda X, w: model.accumulate(X, params, w))
    weight = batch.weight_sum
    unit = batch.scale(1.0 / weight)
    running = unit if state.running is None else blend(state.running, unit, rho, model)
    n_seen = state.n_seen + weight
    scale = n_seen if total_samples is None else float(total_samples)
    lower_bound = model.objective(unit.scale(scale), params) / scale
    represented = max(1, round(scale * source.n_samples / weight))
    before = len(policy.events)
    new_params = policy.step(model, _Stream(source, represented), running.scale(scale), params, state.n_steps + 1)
    events = list(policy.events[before:])
    for event in events:
        if event.action == "drop":
            keep = np.delete(np.arange(running.mass.shape[0]), event.component)
            running = model.select_stats(running, keep)
    if any(event.action == "reseed" for event in events):
        retaken = source.map_reduce(lambda X, w: model.accumulate(X, new_params, w))
        running = retaken.scale(1.0 / retaken.weight_sum)
    return StepResult(OnlineState(new_params, running, state.n_steps + 1, n_seen), lower_bound, events)
