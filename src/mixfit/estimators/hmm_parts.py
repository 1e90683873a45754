"""What a sequence estimator's fit is made of, and the two ways of forming an HMM's parts.

``_SequenceBase._fit_sequences`` (_sequence_base.py) checks the input into ``Sequences``, asks
the estimator for its ``HMMParts`` (the model, the start, the collapse policy, the writer of
fitted attributes, the warm start: an HSMM's too, hsmm_base.py) and runs ``engine.fit`` on them. ``baum_welch_parts`` forms the parts of an EM HMM (models/hmm.py),
``variational_parts`` those of a variational one (models/hmm_vb.py); each estimator brings only
its emission: the model, its start and the attributes its params map to.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..backends import as_source
from ..backends.inputs import is_dask_array
from ..backends.sequences import SequenceSource
from ..engine.collapse_hmm import drop_state
from ..models.hmm import HMM, HMMParams, InitialDistribution, TransitionMatrix
from ..models.hmm_vb import DirichletRows, VariationalHMM, VariationalHMMParams
from ._fitted import set_feature_attributes, set_loop_attributes

# Frames per chunk of whole sequences. Without numba, forward-backward takes one Python step per
# frame of the longest sequence of a chunk, whatever the chunk's width, so chunks are wide (many
# sequences): 2^16 frames keep the per-step numpy overhead small against the (B, K) work, and the
# chunk's (frames x K) arrays (about ten of them) near 50 MB for K = 10.
DEFAULT_CHUNK_FRAMES = 2**16


def sequence_source(X, lengths: np.ndarray, weights: np.ndarray | None, chunk_frames: int, states=None):
    """Chunks of whole sequences of X: in memory or a reader, or a dask array (its blocks moved to
    sequence ends); ``states`` (n,) the known states that clamp the E-step, or None."""
    if is_dask_array(X):
        if states is not None:
            raise ValueError("states cannot be combined with a dask array X yet; pass X as a numpy array or "
                             "a memmap (the states stay in memory)")
        from ..backends.dask import DaskSequenceSource  # optional: dask

        return DaskSequenceSource(X, lengths, weights, chunk_frames)
    return SequenceSource(X, lengths, weights, chunk_frames, states=states)


@dataclass(frozen=True)
class Sequences:
    """The checked input of one fit: frames X (n, D) cut into sequences by ``lengths`` (B,), one
    weight per sequence (or None), the validation ``record`` (a clone holding the feature
    bookkeeping), ``source``, the sequences chunk by chunk of whole sequences, ``starts``, the
    ``*_init`` values taken from assigned attributes (estimators/hmm_compat.py), and
    ``init_method``, how the emission starts where it is initialised from the data."""

    X: object
    lengths: np.ndarray
    weights: np.ndarray | None
    record: object
    chunk_frames: int
    source: object
    starts: dict = field(default_factory=dict)
    init_method: str = "kmeans"

    def start(self, estimator, name: str):
        """The starting value named ``name`` (a ``*_init`` argument): from an assigned attribute
        where ``init_params`` left it out, else the argument itself."""
        return self.starts.get(name, getattr(estimator, name))

    def frames(self):
        """The frames as a mixture sees them, each with its sequence's weight: what the emission
        starts cluster (engine.starts)."""
        frame_weight = None if self.weights is None else np.repeat(self.weights, self.lengths)
        return as_source(self.X, frame_weight, self.chunk_frames)


@dataclass(frozen=True)
class Warm:
    """A warm start: the previous fit's params, and the objective the new fit continues from."""

    params: object
    bound: float = -np.inf


@dataclass(frozen=True)
class HMMParts:
    """The parts one sequence estimator names for a fit.

    model : the model ``engine.fit`` runs (``models.hmm.HMM``, ``models.hmm_vb.VariationalHMM`` or
        ``models.hsmm.HSMM``)
    start : the fresh start, ``start(rng)``, or ``start(rng, policy)`` where ``policy`` is given
    set_fitted : ``set_fitted(result)`` writes the fitted attributes from an ``engine.FitResult``
    policy : a factory of one run's collapse policy (``engine.collapse_hmm.StatePolicy``), or None
        (the model's M-step as it is)
    warm : where ``warm_start`` continues a previous fit, that fit (then one run, from it)
    tol_on_total : ``tol`` bounds the change of the total objective over all frames, not of its
        per-frame mean (``engine.FitOptions``): the variational HMMs, as hmmlearn's
    """

    model: object
    start: Callable
    set_fitted: Callable
    policy: Callable | None = None
    warm: Warm | None = None
    tol_on_total: bool = False


# ---- Baum-Welch (EM) ------------------------------------------------------------------------


def point_chain(fixed: frozenset = frozenset(), estimator=None) -> tuple:
    """The initial distribution and transition matrix of an EM HMM, frozen where ``fixed`` says,
    with the Dirichlet priors ``startprob_prior`` and ``transmat_prior`` of ``estimator`` (hmmlearn's
    hyper-parameters; 1 everywhere, their default, is no prior)."""
    K = None if estimator is None else estimator.n_components
    return (InitialDistribution("startprob" in fixed, _chain_prior(estimator, "startprob_prior", (K,))),
            TransitionMatrix("transmat" in fixed, _chain_prior(estimator, "transmat_prior", (K, K))))


def _chain_prior(estimator, name: str, shape: tuple):
    """Dirichlet concentrations of ``shape`` from a scalar or an array, or None for no prior."""
    value = getattr(estimator, name, None)
    if value is None:
        return None
    try:
        prior = np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} has shape {np.shape(value)}; expected a number or an array of shape {shape}") from None
    if not np.all(np.isfinite(prior)) or np.any(prior <= 0):
        raise ValueError(f"{name} must hold finite Dirichlet concentrations > 0")
    return None if np.all(prior == 1.0) else prior


def baum_welch_parts(estimator, data: Sequences, chain: tuple, model: HMM, emission_start: Callable,
                     set_emission: Callable, policy: Callable | None = None) -> HMMParts:
    """The parts of an EM HMM: its ``model``; a start from the given (or uniform) ``chain``
    (startprob, transmat) and ``emission_start(rng)`` (``emission_start(rng, policy)`` with a
    ``policy``); fitted attributes through ``set_emission(params, record)``."""
    warm = Warm(estimator._params()) if bool(estimator.warm_start) and "startprob_" in vars(estimator) else None
    K = estimator.n_components
    startprob, transmat = chain

    def start(rng, policy=None):
        pi = np.full(K, 1.0 / K) if startprob is None else startprob
        A = np.full((K, K), 1.0 / K) if transmat is None else transmat
        if policy is None:
            return HMMParams(pi, A, emission_start(rng))
        first = emission_start(rng, policy)  # the start's M-step goes through the policy
        for k in policy.dropped_at_start():
            pi, A = drop_state(pi, A, k)
        return HMMParams(pi, A, first)

    return HMMParts(model, start, partial(_set_baum_welch, estimator, data.record, set_emission), policy, warm)


def _set_baum_welch(estimator, record, set_emission: Callable, result) -> None:
    """The only place an EM HMM's fitted attributes are written."""
    params = result.params
    estimator.startprob_ = params.startprob
    estimator.transmat_ = params.transmat
    set_emission(params.emission, record)
    estimator.converged_ = result.converged
    estimator.n_iter_ = result.n_iter
    estimator.lower_bound_ = result.lower_bound
    estimator.lower_bounds_ = list(result.lower_bounds)
    estimator.collapse_events_ = [event.as_dict() for event in result.events]
    set_feature_attributes(estimator, record)


# ---- variational Bayes ----------------------------------------------------------------------


def check_concentration(value, name: str, shape: tuple, default: float, allowed=None) -> np.ndarray:
    """Dirichlet prior concentrations of ``shape`` (one distribution along the last axis): None
    takes ``default``; a number > 0 fills the shape; an array holds values >= 0, 0 meaning an entry
    outside the support (forbidden). ``allowed`` (bool, ``shape``): where a starting value is > 0;
    entries outside it are forbidden too. Every distribution must keep an allowed entry."""
    if value is None:
        prior = np.full(shape, float(default))
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name}={value!r}; expected a finite number > 0 or an array of shape {shape}")
        prior = np.full(shape, float(value))
    else:
        try:
            prior = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={value!r}; expected a number > 0 or an array of shape {shape}") from None
        if isinstance(value, bool) or prior.shape != shape:
            raise ValueError(f"{name} has shape {prior.shape}; expected a number > 0 or an array of shape {shape}")
        if not np.all(np.isfinite(prior)) or np.any(prior < 0):
            raise ValueError(f"{name} must hold finite Dirichlet concentrations >= 0 (0: a forbidden entry)")
    if allowed is not None:
        prior = np.where(allowed, prior, 0.0)
    empty = ~np.any(prior > 0, axis=-1)
    if np.any(empty):
        where = "" if prior.ndim == 1 else f" (row {int(np.flatnonzero(empty)[0])})"
        raise ValueError(f"{name} leaves no allowed entry{where} once the zeros of the starting values are "
                         "forbidden too; expected at least one concentration > 0 per distribution")
    return prior


def variational_chain(estimator, chain: tuple) -> tuple:
    """q(pi) and q(A) of a variational HMM from ``startprob_prior`` and ``transmat_prior``
    (default 1 / n_components); the zeros of the given ``chain`` (startprob, transmat) are
    forbidden entries."""
    K = estimator.n_components
    startprob, transmat = chain
    initial = DirichletRows(check_concentration(estimator.startprob_prior, "startprob_prior", (K,), 1.0 / K,
                                                None if startprob is None else startprob > 0))
    transition = DirichletRows(check_concentration(estimator.transmat_prior, "transmat_prior", (K, K), 1.0 / K,
                                                   None if transmat is None else transmat > 0))
    return initial, transition


def variational_parts(estimator, data: Sequences, chain: tuple, model: VariationalHMM, point_emission,
                      emission_start: Callable, set_emission: Callable) -> HMMParts:
    """The parts of a variational HMM: its ``model``; a start that is the VB M-step of one
    Baum-Welch E-step at point parameters (the given ``chain``, or the prior means, and
    ``emission_start(rng)``, params of ``point_emission``); fitted attributes through
    ``set_emission(q, mean, emission, record)``. A warm start continues from the previous q and
    its ELBO."""
    warm = None
    if bool(estimator.warm_start) and "startprob_posterior_" in vars(estimator):
        warm = Warm(VariationalHMMParams(estimator.startprob_posterior_, estimator.transmat_posterior_,
                                         estimator._emission_posterior()), estimator.lower_bound_)
    em = HMM(InitialDistribution(), TransitionMatrix(), point_emission)
    initial, transition = model.initial, model.transition
    startprob, transmat = chain
    chain_start = (initial.mean(initial.support.astype(np.float64)) if startprob is None else startprob,
                   transition.mean(transition.support.astype(np.float64)) if transmat is None else transmat)

    def start(rng):
        point = HMMParams(*chain_start, emission_start(rng))
        return model.maximize(data.source.map_reduce(lambda batch, w: em.accumulate(batch, point, w)), None)

    return HMMParts(model, start, partial(_set_variational, estimator, data.record, model, set_emission), None, warm,
                    tol_on_total=True)


def _set_variational(estimator, record, model: VariationalHMM, set_emission: Callable, result) -> None:
    """The only place a variational HMM's fitted attributes are written."""
    q = result.params
    mean = model.posterior_mean(q)
    estimator.startprob_posterior_ = q.startprob
    estimator.transmat_posterior_ = q.transmat
    estimator.startprob_prior_ = model.initial.prior
    estimator.transmat_prior_ = model.transition.prior
    estimator.startprob_ = mean.startprob
    estimator.transmat_ = mean.transmat
    set_emission(q.emission, mean.emission, model.emission, record)
    set_loop_attributes(estimator, result, record)
