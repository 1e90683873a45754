"""What every HMM estimator shares: the one fit (Baum-Welch or variational, through
``engine.fit``), and decoding, scoring and sampling over batches of sequences.

An HMM estimator is a small final class: its hyper-parameters in ``__init__``, the frames it
accepts (``_check_frames``, one of the checks of hmm_checks.py), the parts of its fit
(``_parts``: an ``HMMParts`` of hmm_parts.py naming the model, the start, the collapse policy
and the writer of its fitted attributes) and the point emission that decoding uses
(``_emission_model``, ``_emission_params``).
"""

from __future__ import annotations

import numbers
import warnings
from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..engine import criteria
from ..exceptions import CollapseWarning, ConvergenceWarning
from ..kernels.linalg import rows_summing_to_one
from ..models.hmm import HMM, HMMParams
from . import hmm_compat
from .hmm_checks import check_fixed, check_lengths, check_states, check_stochastic
from .hmm_parts import DEFAULT_CHUNK_FRAMES, HMMParts, Sequences, point_chain, sequence_source
from .persistence import save_estimator
from .validation import as_generator, check_hyperparameters, check_option, check_sample_weight

DECODERS = ("viterbi", "map")


class _HMMBase(hmm_compat.HmmlearnAttributes, BaseEstimator, metaclass=ABCMeta):
    """Abstract: the fit, decoding, scoring and sampling shared by the HMM estimators.

    A subclass declares ``_HYPERPARAMETERS`` (the scalar checks), ``_FIXABLE`` (the names
    ``fixed`` may hold, or None where it has no ``fixed``) and the hooks ``_check_frames``,
    ``_parts``, ``_emission_model`` and ``_emission_params``.
    """

    _FIXABLE: tuple | None = None
    _INIT_METHODS: tuple = ()  # mixfit's names of how the emission starts (init_params)

    @abstractmethod
    def _check_frames(self, X, reset: bool):
        """(frames, validation record): one of the checks of hmm_checks.py."""

    @abstractmethod
    def _parts(self, data: Sequences, chain: tuple, fixed: frozenset) -> HMMParts:
        """The model, start, collapse policy and fitted-attribute writer of a fit on ``data``;
        ``chain`` holds the checked (startprob_init, transmat_init)."""

    @abstractmethod
    def _emission_model(self, fixed: frozenset = frozenset()):
        """The point emission (models/hmm_emissions.py) that decoding, scoring and sampling use."""

    @abstractmethod
    def _emission_params(self):
        """The fitted params of ``_emission_model()``."""

    def _fixed(self) -> frozenset:
        frozen = hmm_compat.frozen_by_params(self)
        if self._FIXABLE is None:
            if frozen:
                raise ValueError(f"params={self.params!r}: a variational HMM updates every parameter; expected "
                                 f"all of {''.join(self._LETTERS)!r}")
            return frozenset()
        return check_fixed(self.fixed, self._FIXABLE) | frozen

    def _assigned(self, attribute: str):
        """The value of a parameter attribute set on the estimator (by the user or a fit), or None."""
        try:
            return getattr(self, attribute)
        except AttributeError:
            return None

    def _chunk_frames(self) -> int:
        return self.chunk_size or DEFAULT_CHUNK_FRAMES

    def _model(self, fixed: frozenset = frozenset()) -> HMM:
        return HMM(*point_chain(fixed), self._emission_model(fixed))

    def _params(self) -> HMMParams:
        return HMMParams(np.asarray(self.startprob_, dtype=np.float64), np.asarray(self.transmat_, dtype=np.float64),
                         self._emission_params())

    def _n_states(self) -> int:
        """K of the parameters: ``n_components``, less any state a fit dropped (``on_collapse``)."""
        return len(self.startprob_) if "collapse_events_" in vars(self) else self.n_components

    def _check(self):
        """Check the parameters set on the estimator (assigned, or fitted) before they are used:
        hmmlearn's name for it. Raises ValueError naming the attribute."""
        check_is_fitted(self, "startprob_")
        K = self._n_states()
        check_stochastic(self.startprob_, "startprob_", (K,))
        check_stochastic(self.transmat_, "transmat_", (K, K))
        self._check_emission(K)

    def _check_emission(self, n_states: int) -> None:
        """Check the assigned emission parameters of ``n_states`` states (ValueError naming them)."""

    def _emission_features(self) -> int | None:
        """The number of features the assigned emission parameters imply, or None."""
        return None

    def fit(self, X, lengths=None, sample_weight=None, states=None):
        """Estimate the model parameters from sequences of frames.

        Baum-Welch (EM), or variational Bayes for the ``Variational*`` estimators. A failed fit leaves the estimator unchanged.
        With ``states``, partially labelled sequences: the E-step runs over the paths through the
        known states only (forward-backward clamped at the known frames), and ``lower_bound_`` is
        ln p(X, known states) (the ELBO of that for VB).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other; a ``numpy.memmap``, an array-like
            with ``shape``, ``dtype`` and row slicing, or a dask array is read chunk by chunk.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence (they sum to n_samples); None: X is one sequence.
        sample_weight : array-like of shape (n_sequences,), default=None
            One weight per sequence; None: every sequence weighs 1.
        states : array-like of int of shape (n_samples,), default=None
            The known state of each frame, -1 where it is unknown (semi-supervised fitting); None:
            no frame's state is known. A state is a row of ``transmat_``: label k means state k.

        Returns
        -------
        object
            The fitted estimator (``self``).
        """
        # hmmlearn's verbose is a bool: accepted as 0 / 1; tol=None: the loop's default
        check_hyperparameters(self, {name: kind for name, kind in self._HYPERPARAMETERS.items()
                                     if not (name == "verbose" and isinstance(self.verbose, bool))
                                     and not (name == "tol" and self.tol is None)})
        check_option(self.algorithm, "algorithm", DECODERS)
        hmm_compat.check_implementation(self)
        n_iter = hmm_compat.max_iter(self)
        fixed = self._fixed()
        letters, init_method = hmm_compat.init_letters(self, self._INIT_METHODS)
        X, record = self._check_frames(X, reset=True)
        lengths = check_lengths(lengths, X.shape[0])
        weights = check_sample_weight(sample_weight, lengths.shape[0], np.float64, unit="n_sequences")
        K = self.n_components
        states = check_states(states, X.shape[0], K)
        starts = hmm_compat.assigned_starts(self, letters)
        chain = tuple(check_stochastic(starts.get(name, getattr(self, name)), name, shape)
                      for name, shape in (("startprob_init", (K,)), ("transmat_init", (K, K))))
        chunk = self._chunk_frames()
        data = Sequences(X, lengths, weights, record, chunk, sequence_source(X, lengths, weights, chunk, states),
                         starts, init_method)
        parts = self._parts(data, chain, fixed)
        warm = parts.warm
        tol, tol_on_total = hmm_compat.tolerance(self, parts.tol_on_total)
        options = engine.FitOptions(tol, n_iter, self.n_init if warm is None else 1, int(self.verbose),
                                    self.verbose_interval, tol_on_total)
        start = parts.start if warm is None else (lambda rng, policy=None: warm.params)
        result = engine.fit(parts.model, data.source, start, options, as_generator(self.random_state),
                            make_policy=parts.policy, initial_bound=-np.inf if warm is None else warm.bound)
        if not result.converged and n_iter > 0:
            warnings.warn(f"Best performing initialization did not converge in max_iter={n_iter} "
                          f"iterations (tol={tol}); increase max_iter or tol", ConvergenceWarning,
                          stacklevel=2)
        for event in result.events:
            done = {"drop": "dropped", "reseed": "reseeded"}[event.action]
            warnings.warn(f"state {event.component} was {done} at iteration {event.iteration} ({event.reason})",
                          CollapseWarning, stacklevel=2)
        total = float(np.sum(lengths if weights is None else weights * lengths))
        parts.set_fitted(result)
        self._monitor = hmm_compat.monitor_from(self, result, total, tol, tol_on_total)
        return self

    # ---- decoding and scoring, chunk by chunk of whole sequences ------------------------------

    def _batches(self, X, lengths):
        self._check()
        X, _ = self._check_frames(X, reset=False)
        lengths = check_lengths(lengths, X.shape[0])
        return X, (batch for batch, _ in sequence_source(X, lengths, None, self._chunk_frames()).chunks())

    def score_samples(self, X, lengths=None):
        """Log-likelihood of X and the posterior state probabilities of its frames.

        hmmlearn's meaning: ln p(X) is summed over the sequences. (Unlike a mixture's
        ``score_samples``, which is a density per row: an HMM's frames are not independent.)

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence; None: X is one sequence.

        Returns
        -------
        log_prob : float
            The log-likelihood ln p(X), summed over the sequences.
        posteriors : ndarray of shape (n_samples, n_components)
            The probability p(z_t = k | X) of each state k at each frame t.
        """
        _, batches = self._batches(X, lengths)  # first: NotFittedError before any fitted attribute is read
        model, params = self._model(), self._params()
        results = [model.posteriors(batch, params) for batch in batches]
        gamma = np.concatenate([gamma for _, gamma in results])  # (n, K)
        # (13.64) sums to 1 only up to the rounding of the recursions; rescaled to the last ulps
        return float(sum(log_lik.sum() for log_lik, _ in results)), rows_summing_to_one(gamma, gamma.dtype)

    def score(self, X, lengths=None):
        """Log-likelihood of X under the model.

        hmmlearn's meaning (the sum over sequences), not the per-row mean of scikit-learn's
        mixtures.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence; None: X is one sequence.

        Returns
        -------
        float
            The log-likelihood ln p(X), summed over the sequences.
        """
        return self.score_samples(X, lengths)[0]

    def predict_proba(self, X, lengths=None):
        """Posterior state probabilities of each frame.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence; None: X is one sequence.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            The probability p(z_t = k | X) of each state k at each frame t.
        """
        return self.score_samples(X, lengths)[1]

    def decode(self, X, lengths=None, algorithm=None):
        """The most probable states of X and their log probability.

        'viterbi': the most probable path and ln p(X, Z*) summed over sequences; 'map': each
        frame's most probable state and the sum over frames of ln max_k p(z_t = k | X) (the path
        need not be possible as a whole).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence; None: X is one sequence.
        algorithm : {'viterbi', 'map'}, default=None
            The decoder; None: the estimator's ``algorithm``.

        Returns
        -------
        log_prob : float
            The log probability of the decoded states, as above.
        states : ndarray of shape (n_samples,)
            The decoded state of each frame.
        """
        algorithm = self.algorithm if algorithm is None else algorithm
        check_option(algorithm, "algorithm", DECODERS)
        if algorithm == "map":
            _, gamma = self.score_samples(X, lengths)
            with np.errstate(divide="ignore"):
                return float(np.log(gamma.max(axis=1)).sum()), gamma.argmax(axis=1)
        _, batches = self._batches(X, lengths)
        model, params = self._model(), self._params()
        results = [model.viterbi(batch, params) for batch in batches]
        return float(sum(lp.sum() for lp, _ in results)), np.concatenate([s for _, s in results])

    def predict(self, X, lengths=None):
        """The decoded state of each frame, by the estimator's ``algorithm``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence; None: X is one sequence.

        Returns
        -------
        ndarray of shape (n_samples,)
            The decoded state of each frame.
        """
        return self.decode(X, lengths)[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Draw one sequence of frames and its states from the fitted model.

        Parameters
        ----------
        n_samples : int, default=1
            The number of frames.
        random_state : int, numpy.random.Generator, RandomState or None, default=None
            Seeds this call only; None: the estimator's ``random_state``.
        currstate : int, default=None
            The first state; None: drawn from ``startprob_``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The frames.
        states : ndarray of shape (n_samples,)
            The state of each frame.
        """
        self._check()
        if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples={n_samples!r}; expected an integer >= 1")
        rng = as_generator(self.random_state if random_state is None else random_state)
        params = self._params()
        K = params.startprob.shape[0]  # n_components, less any state on_collapse='drop' removed
        states = np.empty(n_samples, dtype=np.intp)
        states[0] = rng.choice(K, p=params.startprob) if currstate is None else int(currstate)
        cumulative = np.cumsum(params.transmat, axis=1)
        u = rng.random(n_samples)
        for t in range(1, n_samples):  # (13.10): z_t ~ A_{z_{t-1}, .}
            states[t] = min(int(np.searchsorted(cumulative[states[t - 1]], u[t], side="right")), K - 1)
        X = self._emission_model().draw(rng, self._emission_params(), states)
        return X, states

    def _n_parameters(self) -> int:
        return self._model(self._fixed()).n_parameters(self._n_states(), self.n_features)

    def bic(self, X, lengths=None):
        """Bayesian information criterion: -2 ln p(X) + p ln n_samples (lower is better).

        p counts the free (not fixed) parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence; None: X is one sequence.

        Returns
        -------
        float
            The criterion; lower is better.
        """
        n = np.shape(X)[0]  # a memmap or an array-like: its shape, no read
        return criteria.bic(self.score(X, lengths), self._n_parameters(), n)

    def aic(self, X, lengths=None):
        """Akaike information criterion: -2 ln p(X) + 2 p (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence; None: X is one sequence.

        Returns
        -------
        float
            The criterion; lower is better.
        """
        return criteria.aic(self.score(X, lengths), self._n_parameters())

    def save(self, path, *, metadata=None) -> None:
        """Write this fitted model to a model file; read it back with ``mixfit.load``.

        Parameters
        ----------
        path : str or path-like
            Where to write the file.
        metadata : dict, default=None
            JSON-serialisable notes stored with the model.

        Returns
        -------
        None
            The file is written at ``path``.
        """
        save_estimator(self, path, metadata)
