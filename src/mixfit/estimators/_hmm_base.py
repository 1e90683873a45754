"""What every HMM estimator shares: validation of sequences, the Baum-Welch fit through
``engine.fit``, fitted attributes, and decoding, scoring and sampling over batches of sequences.

The emission-specific parts (which emission model, how it starts, which fitted attributes hold
its params) are the subclass's: ``_emission_setup``, ``_emission_params``, ``_set_emission``,
``_check_frames``.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..backends import as_source
from ..backends.inputs import is_dask_array
from ..backends.sequences import SequenceSource
from ..engine import criteria
from ..engine.collapse_hmm import drop_state
from ..exceptions import CollapseWarning, ConvergenceWarning
from ..models.hmm import HMM, HMMParams, InitialDistribution, TransitionMatrix
from .persistence import save_estimator
from .validation import as_generator, check_hyperparameters, check_option, check_sample_weight
from .validation_chunked import check_chunked_X, check_scan, scan_entries

# Frames per chunk of whole sequences. Without numba, forward-backward takes one Python step per
# frame of the longest sequence of a chunk, whatever the chunk's width, so chunks are wide (many
# sequences): 2^16 frames keep the per-step numpy overhead small against the (B, K) work, and the
# chunk's (frames x K) arrays (about ten of them) near 50 MB for K = 10.
DEFAULT_CHUNK_FRAMES = 2**16
DECODERS = ("viterbi", "map")
# A row of startprob_init or transmat_init must sum to 1 to within this: they are probabilities
# typed by a user, and the fit renormalises nothing it is given.
_SUM_TOLERANCE = 1e-6


def check_lengths(lengths, n_samples: int) -> np.ndarray:
    """Sequence lengths (B,) of positive integers summing to n_samples; None is one sequence."""
    if lengths is None:
        return np.array([n_samples], dtype=np.intp)
    values = np.asarray(lengths)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"lengths has shape {values.shape}; expected a non-empty 1-D array of integers")
    if values.dtype.kind not in "iu" and not (
            values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values))):
        raise ValueError(f"lengths has dtype {values.dtype}; expected integers")
    values = values.astype(np.intp)
    if np.any(values < 1):
        bad = int(np.flatnonzero(values < 1)[0])
        raise ValueError(f"lengths[{bad}] = {values[bad]}; expected every sequence to hold at least one frame")
    if int(values.sum()) != n_samples:
        raise ValueError(f"lengths sum to {int(values.sum())}; expected the number of rows of X, {n_samples}")
    return values


def check_stochastic(values, name: str, shape: tuple) -> np.ndarray | None:
    """A probability vector or a row-stochastic matrix of ``shape``, or None."""
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    if values.shape != shape:
        raise ValueError(f"{name} has shape {values.shape}; expected {shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{name} must hold finite probabilities >= 0")
    sums = values.sum(axis=-1)
    if not np.allclose(sums, 1.0, rtol=0, atol=_SUM_TOLERANCE):
        raise ValueError(f"{name} must sum to 1 along its last axis; got sums {np.round(sums, 8)}")
    return values


def check_lazy_frames(record, X, reset: bool, chunk_size: int, entry_ok=None):
    """Frames X given as a ``numpy.memmap``, an array-like with ``shape``, ``dtype`` and row
    slicing, or a dask array: the metadata checks and feature bookkeeping (no value read), then
    one chunked pass that checks every value is finite and passes ``entry_ok`` (entrywise, or
    None). Returns (what the sources read: a ``RowReader`` of float64 rows or a float64 dask
    array, the pass's ``EntryScan``); X is never loaded whole."""
    frames = check_chunked_X(record, X, reset=reset, dtype=np.float64)
    scan = scan_entries(as_source(frames, None, chunk_size), entry_ok)
    check_scan(scan.rows, 0, weighted=False)  # NaN or infinity: scikit-learn's message, with the row
    return frames, scan


def check_fixed(fixed, allowed: tuple) -> frozenset:
    names = (fixed,) if isinstance(fixed, str) else tuple(fixed)
    for name in names:
        if name not in allowed:
            raise ValueError(f"fixed contains {name!r}; expected names from {list(allowed)}")
    return frozenset(names)


class _HMMBase(BaseEstimator):
    """Abstract: fit, decoding, scoring and sampling shared by the HMM estimators."""

    def _source(self, X, lengths, weights=None):
        if is_dask_array(X):  # blocks moved to sequence ends, then chunks of whole sequences
            from ..backends.dask import DaskSequenceSource  # optional: dask

            return DaskSequenceSource(X, lengths, weights, self._chunk_frames())
        return SequenceSource(X, lengths, weights, self._chunk_frames())

    def _chunk_frames(self) -> int:
        return self.chunk_size or DEFAULT_CHUNK_FRAMES

    def _model(self, fixed=frozenset(), emission=None):
        emission = self._emission_model(fixed) if emission is None else emission
        return HMM(InitialDistribution("startprob" in fixed), TransitionMatrix("transmat" in fixed), emission)

    def _params(self) -> HMMParams:
        return HMMParams(self.startprob_, self.transmat_, self._emission_params())

    def fit(self, X, lengths=None, sample_weight=None):
        """Estimate the parameters by Baum-Welch (EM); returns self. ``lengths`` (sum = n_samples)
        cuts X into sequences (None: one sequence); ``sample_weight`` has one weight per
        sequence. A failed fit leaves self unchanged."""
        check_hyperparameters(self, self._HYPERPARAMETERS)
        check_option(self.algorithm, "algorithm", DECODERS)
        fixed = check_fixed(self.fixed, self._FIXABLE)
        X, record = self._check_frames(X, reset=True)
        lengths = check_lengths(lengths, X.shape[0])
        # one weight per sequence
        weights = check_sample_weight(sample_weight, lengths.shape[0], np.float64, unit="n_sequences")
        K = self.n_components
        startprob = check_stochastic(self.startprob_init, "startprob_init", (K,))
        transmat = check_stochastic(self.transmat_init, "transmat_init", (K, K))
        frame_weight = None if weights is None else np.repeat(weights, lengths)
        emission, emission_start = self._emission_setup(X, frame_weight, fixed, record)
        model = self._model(fixed, emission)
        options = engine.FitOptions(self.tol, self.max_iter, self.n_init, self.verbose, self.verbose_interval)
        make_policy = self._collapse_policy()
        if bool(self.warm_start) and "startprob_" in vars(self):
            previous = self._params()
            options = engine.FitOptions(self.tol, self.max_iter, 1, self.verbose, self.verbose_interval)

            def start(rng, policy=None):
                return previous
        else:
            def start(rng, policy=None):
                chain = (np.full(K, 1.0 / K) if startprob is None else startprob,
                         np.full((K, K), 1.0 / K) if transmat is None else transmat)
                if policy is None:
                    return HMMParams(*chain, emission_start(rng))
                first = emission_start(rng, policy)  # the start's M-step goes through the policy
                for k in policy.dropped_at_start():
                    chain = drop_state(*chain, k)
                return HMMParams(*chain, first)

        result = engine.fit(model, self._source(X, lengths, weights), start, options,
                            as_generator(self.random_state), make_policy=make_policy)
        if not result.converged and self.max_iter > 0:
            warnings.warn(f"Best performing initialization did not converge in max_iter={self.max_iter} "
                          f"iterations (tol={self.tol}); increase max_iter or tol", ConvergenceWarning,
                          stacklevel=2)
        for event in result.events:
            done = {"drop": "dropped", "reseed": "reseeded"}[event.action]
            warnings.warn(f"state {event.component} was {done} at iteration {event.iteration} ({event.reason})",
                          CollapseWarning, stacklevel=2)
        self._set_fitted(result, record)
        return self

    def _collapse_policy(self):
        """A factory of the M-step policy of one run (``collapse_hmm.StatePolicy``), or None: the
        model's M-step as it is (emissions that cannot collapse; this default). With a policy, the
        emission start is called as ``start(rng, policy)``."""

    def _set_fitted(self, result: engine.FitResult, record) -> None:
        """The only place fitted attributes are written."""
        params = result.params
        self.startprob_ = params.startprob
        self.transmat_ = params.transmat
        self._set_emission(params.emission, record)
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.lower_bound_ = result.lower_bound
        self.lower_bounds_ = list(result.lower_bounds)
        self.collapse_events_ = [event.as_dict() for event in result.events]
        self.n_features_in_ = record.n_features_in_

    # ---- decoding and scoring, chunk by chunk of whole sequences ------------------------------

    def _batches(self, X, lengths):
        check_is_fitted(self, "startprob_")
        X, _ = self._check_frames(X, reset=False)
        lengths = check_lengths(lengths, X.shape[0])
        return X, (batch for batch, _ in self._source(X, lengths).chunks())

    def score_samples(self, X, lengths=None):
        """hmmlearn's meaning: (ln p(X), posteriors). ln p(X) is summed over the sequences;
        the posteriors p(z_t = k | X) are (n_samples, n_components). (Unlike a mixture's
        ``score_samples``, which is a density per row: an HMM's frames are not independent.)"""
        model, params = self._model(), self._params()
        _, batches = self._batches(X, lengths)
        results = [model.posteriors(batch, params) for batch in batches]
        return (float(sum(log_lik.sum() for log_lik, _ in results)),
                np.concatenate([gamma for _, gamma in results]))

    def score(self, X, lengths=None):
        """ln p(X), the log-likelihood summed over the sequences (hmmlearn's meaning, not the
        per-row mean of scikit-learn's mixtures)."""
        return self.score_samples(X, lengths)[0]

    def predict_proba(self, X, lengths=None):
        """Posterior state probabilities p(z_t = k | X), (n_samples, n_components)."""
        return self.score_samples(X, lengths)[1]

    def decode(self, X, lengths=None, algorithm=None):
        """(log probability, states (n_samples,)). 'viterbi': the most probable path and
        ln p(X, Z*) summed over sequences; 'map': each frame's most probable state and the sum
        over frames of ln max_k p(z_t = k | X) (the path need not be possible as a whole)."""
        algorithm = self.algorithm if algorithm is None else algorithm
        check_option(algorithm, "algorithm", DECODERS)
        if algorithm == "map":
            _, gamma = self.score_samples(X, lengths)
            with np.errstate(divide="ignore"):
                return float(np.log(gamma.max(axis=1)).sum()), gamma.argmax(axis=1)
        model, params = self._model(), self._params()
        _, batches = self._batches(X, lengths)
        results = [model.viterbi(batch, params) for batch in batches]
        return float(sum(lp.sum() for lp, _ in results)), np.concatenate([s for _, s in results])

    def predict(self, X, lengths=None):
        """The decoded state of each frame (by ``algorithm``), (n_samples,)."""
        return self.decode(X, lengths)[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """One sequence of ``n_samples`` frames and its states; ``random_state`` seeds this call
        only (None: the estimator's), ``currstate`` fixes the first state."""
        check_is_fitted(self, "startprob_")
        if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples={n_samples!r}; expected an integer >= 1")
        rng = as_generator(self.random_state if random_state is None else random_state)
        K = self.startprob_.shape[0]  # n_components, less any state on_collapse='drop' removed
        states = np.empty(n_samples, dtype=np.intp)
        states[0] = rng.choice(K, p=self.startprob_) if currstate is None else int(currstate)
        cumulative = np.cumsum(self.transmat_, axis=1)
        u = rng.random(n_samples)
        for t in range(1, n_samples):  # (13.10): z_t ~ A_{z_{t-1}, .}
            states[t] = min(int(np.searchsorted(cumulative[states[t - 1]], u[t], side="right")), K - 1)
        X = self._emission_model().draw(rng, self._emission_params(), states)
        return X, states

    def _n_parameters(self) -> int:
        fixed = check_fixed(self.fixed, self._FIXABLE)
        return self._model(fixed).n_parameters(self.startprob_.shape[0], self.n_features_in_)

    def bic(self, X, lengths=None):
        """-2 ln p(X) + p ln n_samples, p the free (not fixed) parameters (lower is better)."""
        n = np.shape(X)[0]  # a memmap or an array-like: its shape, no read
        return criteria.bic(self.score(X, lengths), self._n_parameters(), n)

    def aic(self, X, lengths=None):
        """-2 ln p(X) + 2 p (lower is better)."""
        return criteria.aic(self.score(X, lengths), self._n_parameters())

    def save(self, path, *, metadata=None) -> None:
        """Write this fitted model to ``path``; read it back with ``mixfit.load``."""
        save_estimator(self, path, metadata)
