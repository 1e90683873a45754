"""Explicit-duration hidden semi-Markov models by EM (Yu 2010), composed as the HMM is.

An HSMM is an HMM whose states last an explicit number of frames: a segment of state k lasts d
frames with probability p_k(d), d = 1..D (a duration family, models/hsmm_durations.py), then the
chain moves to another state by A (zero diagonal: a segment is followed by a different state).
The parts are the HMM's initial distribution and transition matrix (models/hmm.py), a duration
family and any emission of models/hmm_emissions.py; only the E-step's recursion differs (the
segment forward-backward, kernels/hsmm_inference.py) and the durations have their own M-step.
Equation numbers (H..) are those of docs/math/hsmm.md.

Notation  code                 shape     public attribute
pi_k      startprob            (K,)      startprob_
A_jk      transmat             (K, K)    transmat_ (A_kk = 0)
p_k(d)    duration pmf         (K, D)    duration_pmf_
N_k(d)    stats.durations      (K, D)    -  expected segments of k lasting d frames     (H13c)
gamma_ik  gamma                (n, K)    predict_proba                                   (H12)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels.hmm_inference import SequenceBatch
from ..kernels.hsmm_inference import segment_forward_backward, segment_viterbi, survival
from ..protocols import Emission, PassEmission, require
from .hmm import InitialDistribution, TransitionMatrix


@dataclass(frozen=True, eq=False)
class HSMMParams:
    startprob: np.ndarray  # (K,)
    transmat: np.ndarray  # (K, K), zero diagonal
    durations: np.ndarray  # the duration family's params
    emission: object  # the emission model's params


@dataclass(frozen=True, eq=False)
class HSMMStats:
    start: np.ndarray  # (K,) sum_b w_b p(first segment in k | X_b)
    transitions: np.ndarray  # (K, K) expected segment-to-segment moves (H11)
    durations: np.ndarray  # (K, D) N_k(d), censored segments completed in expectation (H13c)
    emission: object  # the emission model's statistics of gamma
    log_likelihood: float  # sum_b w_b ln p(X_b)
    weight_sum: float  # sum_b w_b T_b

    def __add__(self, other: HSMMStats) -> HSMMStats:
        return HSMMStats(self.start + other.start, self.transitions + other.transitions,
                         self.durations + other.durations, self.emission + other.emission,
                         self.log_likelihood + other.log_likelihood, self.weight_sum + other.weight_sum)

    def scale(self, factor: float) -> HSMMStats:
        return HSMMStats(self.start * factor, self.transitions * factor, self.durations * factor,
                         self.emission.scale(factor), self.log_likelihood * factor, self.weight_sum * factor)


def completed_durations(counts, censored, pmf):
    """N_k(d) (H13c): the completed segments' counts plus each censored segment, seen for c
    frames, spread over d >= c in proportion p_k(d) / G_k(c): the E-step of its unseen end."""
    G = survival(pmf)  # (K, D)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(censored > 0, censored / G, 0.0)  # censored > 0 only where G_k(c) > 0
    return counts + pmf * np.cumsum(ratio, axis=1)  # sum_{c <= d} censored_k(c) p_k(d) / G_k(c)


class HSMM:
    """EM for an explicit-duration HSMM: segment forward-backward per batch of whole sequences,
    then each part's M-step."""

    def __init__(self, initial: InitialDistribution, transition: TransitionMatrix, durations, emission):
        require(emission, Emission, role="emission")
        self.initial = initial
        self.transition = transition
        self.durations = durations
        self.emission = emission
        # whether the density pass keeps what the statistics reuse (protocols.PassEmission): read once
        self._passes = isinstance(emission, PassEmission)

    def _posteriors(self, batch: SequenceBatch, params: HSMMParams, sequence_weight=None, keep: bool = False):
        """Segment forward-backward, and what a ``PassEmission``'s density pass kept for the
        statistics where ``keep`` asks for it (else None)."""
        if keep and self._passes:
            log_emit, kept = self.emission.density_pass(batch.X, params.emission)  # (n, K)
        else:
            log_emit, kept = self.emission.log_density(batch.X, params.emission), None
        post = segment_forward_backward(params.startprob, params.transmat, log_emit,
                                        self.durations.pmf(params.durations), batch.lengths, sequence_weight)
        impossible = np.flatnonzero(~np.isfinite(post.log_likelihood))
        if impossible.size:
            raise ValueError(
                f"sequence {impossible[0]} of the batch has probability 0 under the current parameters (every "
                "segmentation of it uses a forbidden start, transition, duration or emission, even in log "
                "space); expected sequences the model can generate")
        return post, kept

    def accumulate(self, batch: SequenceBatch, params: HSMMParams, sequence_weight) -> HSMMStats:
        """E-step on whole sequences: segment forward-backward, then each part's statistics (the
        emission's from what its density pass kept, where it is a ``PassEmission``)."""
        post, kept = self._posteriors(batch, params, sequence_weight, keep=True)
        pmf = self.durations.pmf(params.durations)
        if sequence_weight is None:
            frame_weight = None
            log_likelihood = float(post.log_likelihood.sum())
            weight_sum = float(batch.lengths.sum())
        else:
            frame_weight = np.repeat(sequence_weight, batch.lengths)  # (n,)
            log_likelihood = float(sequence_weight @ post.log_likelihood)
            weight_sum = float(sequence_weight @ batch.lengths)
        emission = (self.emission.pass_statistics(kept, batch.X, post.gamma, frame_weight, params.emission)
                    if self._passes else self.emission.statistics(batch.X, post.gamma, frame_weight, params.emission))
        return HSMMStats(post.first_state, post.transitions, completed_durations(post.counts, post.censored, pmf),
                         emission, log_likelihood, weight_sum)

    def maximize(self, stats: HSMMStats, params: HSMMParams) -> HSMMParams:
        """M-step: (H19) start, (H20) transitions (the zero diagonal stays zero: its counts are
        zero), the duration family's (H15n-H18) and the emission's own."""
        return HSMMParams(self.initial.maximize(stats.start, params.startprob),
                          self.transition.maximize(stats.transitions, params.transmat),
                          self.durations.maximize(stats.durations, params.durations),
                          self.emission.maximize(stats.emission, params.emission))

    def objective(self, stats: HSMMStats, params: HSMMParams) -> float:
        """ln p(X) (H7) of the params the statistics were taken under, plus an emission prior's
        log density (MAP)."""
        return stats.log_likelihood + self.emission.log_prior(params.emission)

    def log_prob_components(self, X, params: HSMMParams) -> np.ndarray:
        """ln p(x_i | z_i = k) (n, K)."""
        return self.emission.log_density(X, params.emission)

    def posteriors(self, batch: SequenceBatch, params: HSMMParams):
        """(ln p(X_b) (B,), gamma (n, K))."""
        post, _ = self._posteriors(batch, params)
        return post.log_likelihood, post.gamma

    def viterbi(self, batch: SequenceBatch, params: HSMMParams):
        """(ln p(X_b, best segmentation) (B,), its state at every frame (n,))."""
        return segment_viterbi(params.startprob, params.transmat, self.emission.log_density(batch.X, params.emission),
                               self.durations.pmf(params.durations), batch.lengths)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters of the parts that are not fixed: a transition row has K - 1 entries
        off its zero diagonal, summing to 1."""
        transitions = 0 if self.transition.fixed else n_components * (n_components - 2)
        return (self.initial.n_parameters(n_components) + transitions + self.durations.n_parameters(n_components)
                + self.emission.n_parameters(n_components, n_features))
