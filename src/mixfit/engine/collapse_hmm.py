"""collapse.py's policies for the states of a hidden Markov model with Gaussian emissions.

A state's emission can collapse as a mixture component does (PRML 9.2.1: its frames share a value,
its covariance goes singular), or the state can lose all its expected visits. The policies of
collapse.py are reused, not copied: this adapter shows them the HMM as a mixture of states.

model   ``States``: accumulate / maximize are the HMM's; log_prob_components of frames is the
        emission density ln p(x_t | z_t = k); select / insert act on the chain and the emission
stats   ``StateStats``: mass = the expected visits sum_t w_t gamma_tk (13.20's denominator),
        weight_sum = the weighted number of frames
params  ``StateParams``: weights = each state's share of the expected visits (the donor of a
        reseed is the most visited state), and the params before a removal (``before``), whose
        zeros say which starts and transitions are allowed
source  ``Frames``: chunks of frames with their sequence's weight (for the diagnosis and the
        worst-explained frame); map_reduce is the sequences' own (whole sequences)

What drop and reseed do to the chain (pi, A):

drop    remove state k: pi_k, row k and column k of A; pi and each row renormalised, so that every
        zero stays a zero (a forbidden start or transition stays forbidden). The next M-step runs on
        the others' statistics, whose rows (13.19) renormalise the same way. A row (or pi) whose
        only allowed move was into k takes k's own row instead: the paths that went through k go
        on as k's did; if k could only stay in itself, the drop is refused (CollapsedComponentError).
reseed  the emission of k restarts at the frame worst explained by the other states, with the
        covariance of the most visited one (as a mixture's component). Its row becomes uniform over
        the transitions it was allowed (the zeros of its row before stay zeros), and every state j
        allowed to move into k (and pi, if k may start) gives it the share 1/K of its row, the rest
        scaled by 1 - 1/K: the reseeded state is reachable wherever the structure allows it, as a
        uniform start would make it. Fixed parts (``fixed=('startprob', ...)``) keep their values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import CollapsedComponentError
from ..models.hmm import HMMParams, HMMStats
from .collapse import Terms, make_policy

STATE_TERMS = Terms(component="state", mass="expected visits", row="frame")


def _visit_shares(mass) -> np.ndarray:
    total = mass.sum()
    return mass / total if total > 0 else np.full(mass.shape[0], 1.0 / mass.shape[0])


@dataclass(frozen=True, eq=False)
class StateStats:
    hmm: HMMStats

    @property
    def mass(self) -> np.ndarray:
        return self.hmm.emission.mass  # (K,) expected visits

    @property
    def weight_sum(self) -> float:
        return self.hmm.weight_sum

    @property
    def shift(self) -> np.ndarray:
        return self.hmm.emission.shift

    @property
    def first(self) -> np.ndarray:
        return self.hmm.emission.first


@dataclass(frozen=True, eq=False)
class StateParams:
    hmm: HMMParams
    weights: np.ndarray  # (K,) share of the expected visits
    before: HMMParams  # the params before a removal (itself when none): the allowed moves


def state_params(params: HMMParams, mass) -> StateParams:
    return StateParams(params, _visit_shares(mass), params)


def _renormalised(rows, fallback, k: int, what: str) -> np.ndarray:
    """Rows (..., K-1) scaled to sum to 1; an all-zero row takes ``fallback`` (k's own row without
    k) instead, or the drop is refused."""
    rows = np.array(rows, dtype=np.float64)
    total = rows.sum(axis=-1, keepdims=True)
    empty = (total <= 0)[..., 0]
    if np.any(empty):
        if not fallback.sum() > 0:
            raise CollapsedComponentError(
                f"dropping state {k} would leave {what} with no allowed move (its only move was into state "
                f"{k}, which only stays in itself); use on_collapse='reseed', prior='default' or a larger "
                "reg_covar", component=k)
        rows[empty] = fallback
        total = rows.sum(axis=-1, keepdims=True)
    return rows / total


def drop_state(startprob, transmat, k: int):
    """pi and A without state k, renormalised (see the module's note on 'drop')."""
    keep = np.delete(np.arange(startprob.shape[0]), k)
    through_k = transmat[k, keep]  # (K-1,) where a path that entered k went next
    start = _renormalised(startprob[keep], through_k, k, "the start distribution")
    rows = transmat[np.ix_(keep, keep)]
    empty = np.flatnonzero(rows.sum(axis=1) <= 0)
    what = f"state {int(keep[empty[0]])}" if empty.size else ""
    return start, _renormalised(rows, through_k, k, what)


class States:
    """The HMM seen by collapse.py as a mixture of its states (see the module docstring)."""

    def __init__(self, hmm):
        self.hmm = hmm
        self.emission = hmm.emission  # a GaussianEmission
        self.mixture = hmm.emission.mixture

    def accumulate(self, batch, params: StateParams, sequence_weight) -> StateStats:
        return StateStats(self.hmm.accumulate(batch, params.hmm, sequence_weight))

    def maximize(self, stats: StateStats, params: StateParams) -> StateParams:
        return state_params(self.hmm.maximize(stats.hmm, params.hmm), stats.mass)

    def log_prob_components(self, X, params: StateParams) -> np.ndarray:
        return self.emission.log_density(X, params.hmm.emission)  # (n, K) ln p(x_t | z_t = k)

    def select_stats(self, stats: StateStats, keep) -> StateStats:
        s = stats.hmm
        (k,) = np.setdiff1d(np.arange(s.start.shape[0]), keep)
        # Were every expected first state the dropped one, (13.18) would be 0/0: the first states
        # are then spread as the expected moves out of k were (the paths through k go on as k's did).
        start = s.start.sum() * _renormalised(s.start[keep], s.transitions[k, keep], int(k), "the start distribution")
        return StateStats(HMMStats(start, s.transitions[np.ix_(keep, keep)],
                                   self.mixture.select_stats(s.emission, keep), s.log_likelihood,
                                   s.weight_sum))

    def select_params(self, params: StateParams, keep) -> StateParams:
        (k,) = np.setdiff1d(np.arange(params.weights.shape[0]), keep)
        startprob, transmat = drop_state(params.hmm.startprob, params.hmm.transmat, int(k))
        emission = self.mixture.select_params(params.hmm.emission, keep)
        shares = params.weights[keep]
        return StateParams(HMMParams(startprob, transmat, self.emission.params(emission.means, emission.prec_chol)),
                           _visit_shares(shares), params.hmm)

    def insert_component(self, others: StateParams, k: int, row, donor: int) -> StateParams:
        before = others.before
        K = before.startprob.shape[0]
        emission = self.mixture.insert_component(others.hmm.emission, k, row, donor)
        emission = self.emission.params(emission.means, emission.prec_chol)  # unit mixing, weights 1/K
        share = 1.0 / K
        startprob = np.insert(others.hmm.startprob, k, 0.0)
        if before.startprob[k] > 0:  # k may start: it gets the share 1/K
            startprob = (1 - share) * startprob
            startprob[k] = share
        transmat = np.insert(np.insert(others.hmm.transmat, k, 0.0, axis=1), k, 0.0, axis=0)  # (K, K)
        into_k = before.transmat[:, k] > 0  # (K,) the states allowed to move into k
        into_k[k] = False
        transmat[into_k] *= 1 - share
        transmat[into_k, k] = share
        allowed = before.transmat[k] > 0  # (K,) k's own allowed moves
        transmat[k] = allowed / allowed.sum()
        if self.hmm.initial.fixed:
            startprob = before.startprob
        if self.hmm.transition.fixed:
            transmat = before.transmat
        weights = np.insert(others.weights, k, share)
        return StateParams(HMMParams(startprob, transmat, emission), weights / weights.sum(), before)


class Frames:
    """A SequenceSource seen as rows: chunks of frames with their sequence's weight per frame."""

    def __init__(self, source):
        self.source = source

    @property
    def n_samples(self) -> int:
        return self.source.n_samples

    def chunks(self):
        for batch, weights in self.source.chunks():
            yield batch.X, None if weights is None else np.repeat(weights, batch.lengths)

    def map_reduce(self, accumulate):
        return self.source.map_reduce(accumulate)


class StatePolicy:
    """An engine M-step policy for an HMM: collapse.py's policy of that name, run on the adapter.
    ``initial_step`` runs the same policy on the emission's mixture of the frames (the start's
    M-step, iteration 0); both share one list of events."""

    requires: tuple = ()  # the policy works on the States adapter, built from any HMM

    def __init__(self, name: str):
        self.name = name
        self._states = make_policy(name, STATE_TERMS)
        self._start = make_policy(name, STATE_TERMS)
        self._start.events = self._states.events

    @property
    def events(self) -> list:
        return self._states.events

    def step(self, model, source, stats: HMMStats, params: HMMParams, iteration: int) -> HMMParams:
        states = States(model)
        mass = stats.emission.mass
        result = self._states.step(states, Frames(source), StateStats(stats), state_params(params, mass), iteration)
        return result.hmm

    def initial_step(self, mixture, frames, stats):
        """The start's mixture M-step over the frames (an ``ArraySource``), through the policy."""
        return self._start.step(mixture, frames, stats, None, 0)

    def dropped_at_start(self) -> list[int]:
        """The states dropped by ``initial_step``, in order (indices at the time of each drop)."""
        return [event.component for event in self.events if event.iteration == 0 and event.action == "drop"]
