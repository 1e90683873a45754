"""Hidden Markov models by EM (Baum-Welch, PRML 13.2), composed rather than inherited.

An HMM is three parts, each with its own statistics and M-step (STYLE rule 10, dynamax's
split): an initial distribution pi, a transition matrix A and an emission model
(models/hmm_emissions.py). The model's ``accumulate`` runs forward-backward over a batch of
whole sequences (kernels/hmm_inference.py) and returns one additive ``HMMStats``; ``maximize`` hands
each part its own share.

Notation  code                 shape     public attribute
pi_k      startprob            (K,)      startprob_
A_jk      transmat             (K, K)    transmat_
gamma_tk  gamma                (n, K)    predict_proba
xi        stats.transitions    (K, K)    -  sum_b w_b sum_t xi_t(j, k)                    (13.43)
-         stats.start          (K,)      -  sum_b w_b gamma_1k                            (13.18)
w_b       sequence weight      (B,)      -  multiplies every term of sequence b

Forbidden transitions stay forbidden: xi(j, k) carries the factor A_jk (13.43), so a zero of A
(or of pi) gives a zero count and a zero in the update.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels.hmm_inference import SequenceBatch, forward_backward_flat, viterbi_flat
from ..protocols import Emission, PassEmission, require
from .hmm_emissions import dirichlet_mode

# Bytes of one block of frames in the emission's density and statistics, sized as if each frame
# needed K (D + 2) floats of workspace (the full-covariance E-step's is of that order). Blocks of
# this size keep the workspace within a cache share (at K = 10, D = 8 the full-covariance
# density runs ~1.3x faster than on 65536-frame blocks, ~2x than on 1e6) and keep one long
# sequence's extra memory O(T K), not O(T K D): a chunk is whole sequences, a block need not be.
_BLOCK_BYTES = 8 * 2**20
_MIN_BLOCK_FRAMES = 256
# The most bytes, per batch, of what a PassEmission's density pass keeps for the statistics
# (protocols.PassEmission: the conditional moments of frames with holes), sized as the blocks
# are, K (D + 2) floats a frame. The blocks past it keep nothing and their statistics compute the
# E-step again (as an emission without a pass does): a long sequence with holes keeps O(T K)
# extra memory beyond this bound, not O(T K D), at the price of a second E-step there only.
_KEPT_BYTES = 256 * 2**20


@dataclass(frozen=True, eq=False)
class HMMParams:
    startprob: np.ndarray  # (K,)
    transmat: np.ndarray  # (K, K)
    emission: object  # the emission model's params


@dataclass(frozen=True, eq=False)
class HMMStats:
    start: np.ndarray  # (K,) sum_b w_b gamma_b,1k
    transitions: np.ndarray  # (K, K) sum_b w_b sum_t xi_b,t(j, k)
    emission: object  # the emission model's statistics of gamma
    log_likelihood: float  # sum_b w_b ln p(X_b)
    weight_sum: float  # sum_b w_b T_b, the weighted number of frames

    def __add__(self, other: HMMStats) -> HMMStats:
        return HMMStats(self.start + other.start, self.transitions + other.transitions,
                        self.emission + other.emission, self.log_likelihood + other.log_likelihood,
                        self.weight_sum + other.weight_sum)

    def scale(self, factor: float) -> HMMStats:
        return HMMStats(self.start * factor, self.transitions * factor, self.emission.scale(factor),
                        self.log_likelihood * factor, self.weight_sum * factor)


class InitialDistribution:
    """pi: its statistics are the expected first states; ``fixed`` keeps it as it is; ``prior``
    (Dirichlet concentrations (K,), or None) makes the M-step the posterior mode."""

    def __init__(self, fixed=False, prior=None):
        self.fixed = fixed
        self.prior = prior

    def maximize(self, start, startprob):
        if self.fixed:
            return startprob
        if self.prior is not None:
            mode = dirichlet_mode(start, self.prior, startprob > 0)  # (13.18) with a Dirichlet prior
            return startprob if np.isnan(mode).any() else mode
        return start / start.sum()  # (13.18)

    def n_parameters(self, n_components) -> int:
        return 0 if self.fixed else n_components - 1


class TransitionMatrix:
    """A: its statistics are the expected transition counts; ``fixed`` keeps it as it is;
    ``prior`` (Dirichlet concentrations of each row (K, K), or None) makes the M-step the
    posterior mode."""

    def __init__(self, fixed=False, prior=None):
        self.fixed = fixed
        self.prior = prior

    def maximize(self, transitions, transmat):
        if self.fixed:
            return transmat
        if self.prior is not None:
            mode = dirichlet_mode(transitions, self.prior, transmat > 0)  # (13.19) with a Dirichlet prior
            return np.where(np.isnan(mode), transmat, mode)  # a row with no mass keeps its values
        total = transitions.sum(axis=1, keepdims=True)  # (K, 1)
        # (13.19) A_jk = sum_t xi(j, k) / sum_l sum_t xi(j, l); a state never left keeps its row
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, transitions / total, transmat)

    def n_parameters(self, n_components) -> int:
        return 0 if self.fixed else n_components * (n_components - 1)


class HMM:
    """Baum-Welch on the seam: E-step per batch of whole sequences, M-step per part."""

    def __init__(self, initial: InitialDistribution, transition: TransitionMatrix, emission):
        require(emission, Emission, role="emission")
        self.initial = initial
        self.transition = transition
        self.emission = emission
        # whether the density pass keeps what the statistics reuse (protocols.PassEmission): read once
        self._passes = isinstance(emission, PassEmission)

    def log_prob_components(self, X, params: HMMParams) -> np.ndarray:
        """ln p(x_t | z_t = k) for each frame (n, K)."""
        return self.emission.log_density(X, params.emission)

    def _blocks(self, X, n_components):
        """Row slices of X in blocks of about ``_BLOCK_BYTES`` of emission workspace."""
        n, n_features = X.shape
        size = max(_MIN_BLOCK_FRAMES, _BLOCK_BYTES // (8 * n_components * (n_features + 2)))
        return [slice(start, min(start + size, n)) for start in range(0, n, size)]

    def _log_emission(self, batch: SequenceBatch, params: HMMParams, keep: bool = False):
        """ln p(x_t | z_t = k) (n, K), the emission's density taken block by block. At a frame of
        known state s_t (``batch.states`` >= 0) every other state's term is -inf (13.42 clamped):
        the forward-backward then runs over the paths through the known states only, its gamma is
        one-hot there and its ln p is ln p(X, z_t = s_t at the known frames). Returned with what a
        ``PassEmission``'s density pass kept of each block for its statistics, where ``keep`` asks
        for it, within ``_KEPT_BYTES`` (else None: the statistics compute it again)."""
        X = batch.X
        K = params.startprob.shape[0]
        log_emit = np.empty((X.shape[0], K))
        blocks = self._blocks(X, K)
        kept = [None] * len(blocks)
        kept_frames = _KEPT_BYTES // (8 * K * (X.shape[1] + 2)) if keep and self._passes else 0
        for i, block in enumerate(blocks):
            if block.stop <= kept_frames:
                log_emit[block], kept[i] = self.emission.density_pass(X[block], params.emission)
            else:
                log_emit[block] = self.emission.log_density(X[block], params.emission)
        if batch.states is not None:
            known = np.flatnonzero(batch.states >= 0)
            other = np.arange(K)[None, :] != batch.states[known][:, None]  # (n_known, K)
            log_emit[known] = np.where(other, -np.inf, log_emit[known])
        return log_emit, kept

    def _posteriors(self, batch: SequenceBatch, params: HMMParams, sequence_weight=None, keep: bool = False):
        """forward-backward on the flat frames of the batch (hmm_inference.FramePosteriors), and
        what the emission's density pass kept of each block (``_log_emission``)."""
        log_emit, kept = self._log_emission(batch, params, keep)
        post = forward_backward_flat(params.startprob, params.transmat, log_emit, batch.lengths, sequence_weight)
        impossible = np.flatnonzero(~np.isfinite(post.log_likelihood))
        if impossible.size:
            clamped = "" if batch.states is None else " or contradicts the known states"
            raise ValueError(
                f"sequence {impossible[0]} of the batch has probability 0 under the current parameters "
                f"(every path through it uses a forbidden start, transition or emission{clamped}); expected "
                "sequences the model can generate")
        return post, kept

    def accumulate(self, batch: SequenceBatch, params: HMMParams, sequence_weight) -> HMMStats:
        """E-step on whole sequences: forward-backward, then each part's statistics (the emission's
        from what its density pass kept, where it is a ``PassEmission``)."""
        post, kept = self._posteriors(batch, params, sequence_weight, keep=True)
        gamma = post.gamma  # (n, K)
        first_frames = np.cumsum(batch.lengths) - batch.lengths  # (B,) where each sequence starts
        if sequence_weight is None:
            frame_weight = None
            start = gamma[first_frames].sum(axis=0)
            log_likelihood = float(post.log_likelihood.sum())
            weight_sum = float(batch.lengths.sum())
        else:
            frame_weight = np.repeat(sequence_weight, batch.lengths)  # (n,) w_b on each of its frames
            start = sequence_weight @ gamma[first_frames]
            log_likelihood = float(sequence_weight @ post.log_likelihood)
            weight_sum = float(sequence_weight @ batch.lengths)
        emission = None
        for block, memo in zip(self._blocks(batch.X, gamma.shape[1]), kept):  # additive, block by block
            weight = None if frame_weight is None else frame_weight[block]
            part = (self.emission.pass_statistics(memo, batch.X[block], gamma[block], weight, params.emission)
                    if self._passes else
                    self.emission.statistics(batch.X[block], gamma[block], weight, params.emission))
            emission = part if emission is None else emission + part
        return HMMStats(start, post.transitions, emission, log_likelihood, weight_sum)

    def maximize(self, stats: HMMStats, params: HMMParams) -> HMMParams:
        """M-step (13.18), (13.19) and the emission's own, from summed statistics."""
        return HMMParams(self.initial.maximize(stats.start, params.startprob),
                         self.transition.maximize(stats.transitions, params.transmat),
                         self.emission.maximize(stats.emission, params.emission))

    def objective(self, stats: HMMStats, params: HMMParams) -> float:
        """ln p(X) (13.42) of the params the statistics were taken under, summed over sequences
        with their weights; with an emission prior, plus its log density (MAP)."""
        return stats.log_likelihood + self.emission.log_prior(params.emission)

    def posteriors(self, batch: SequenceBatch, params: HMMParams):
        """(ln p(X_b) (B,), gamma (n, K))."""
        post, _ = self._posteriors(batch, params)
        return post.log_likelihood, post.gamma

    def viterbi(self, batch: SequenceBatch, params: HMMParams):
        """(ln p(X_b, Z_b*) (B,), the best path of every frame (n,))."""
        return viterbi_flat(params.startprob, params.transmat, self._log_emission(batch, params)[0], batch.lengths)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters of the parts that are not fixed."""
        return (self.initial.n_parameters(n_components) + self.transition.n_parameters(n_components)
                + self.emission.n_parameters(n_components, n_features))
