"""What every sequence estimator shares, HMM or HSMM: the one fit's frame (the checks of X,
``lengths``, ``sample_weight`` and ``states``, ``engine.fit`` and its warnings), and scoring,
decoding, sampling and the information criteria over batches of whole sequences.

A sequence estimator supplies only what differs: its model (``_model``, ``_params``: Baum-Welch's
forward-backward or the semi-Markov recursions, and their parameter counts), the parts of its
fit (``_fit_plan``, checked before the data are read, and ``_fit_parts``), the frames it accepts
(``_check_frames``), its emission (``_emission_model``, ``_emission_params``) and how a sampled
sequence's states are drawn (``_draw_states``). estimators/_hmm_base.py and hsmm_base.py are the
two abstract kinds; each estimator is a small final class of one of them.
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
from .hmm_checks import check_fixed, check_lengths, check_states
from .hmm_parts import DEFAULT_CHUNK_FRAMES, HMMParts, Sequences, sequence_source
from .persistence import save_estimator
from .validation import as_generator, check_hyperparameters, check_option, check_sample_weight

DECODERS = ("viterbi", "map")


class _SequenceBase(BaseEstimator, metaclass=ABCMeta):
    """Abstract: the fit's frame, scoring, decoding, sampling and criteria of sequence estimators.

    A subclass declares ``_HYPERPARAMETERS`` (the scalar checks) and ``_FIXABLE`` (the names
    ``fixed`` may hold), and the hooks below.
    """

    _FIXABLE: tuple = ()

    @abstractmethod
    def _check_frames(self, X, reset: bool):
        """(frames, validation record): one of the checks of hmm_checks.py."""

    @abstractmethod
    def _emission_model(self, fixed: frozenset = frozenset()):
        """The point emission (models/hmm_emissions.py) that decoding, scoring and sampling use."""

    @abstractmethod
    def _emission_params(self):
        """The fitted params of ``_emission_model()``."""

    @abstractmethod
    def _model(self, fixed: frozenset = frozenset()):
        """The point model (``models.hmm.HMM`` or ``models.hsmm.HSMM``) of the fitted parameters."""

    @abstractmethod
    def _params(self):
        """The fitted params of ``_model()``."""

    @abstractmethod
    def _fit_plan(self):
        """What ``_fit_parts`` needs of the hyper-parameters, checked before the data are read."""

    @abstractmethod
    def _fit_parts(self, data: Sequences, plan) -> tuple[HMMParts, engine.FitOptions]:
        """The parts of a fit on the checked ``data`` and the loop's options."""

    @abstractmethod
    def _draw_states(self, rng, n_samples: int, currstate):
        """The states (n_samples,) of one sampled sequence."""

    def _chunk_frames(self) -> int:
        return self.chunk_size or DEFAULT_CHUNK_FRAMES

    def _fixed(self) -> frozenset:
        return check_fixed(self.fixed, self._FIXABLE)

    def _n_states(self) -> int:
        """K of the fitted parameters."""
        return self.startprob_.shape[0]

    def _fitted_features(self) -> int:
        return self.n_features_in_

    def _check(self) -> None:
        """Check that the estimator holds parameters (fitted or assigned) before they are used."""
        check_is_fitted(self, "startprob_")

    def _check_hyperparameters(self) -> None:
        check_hyperparameters(self, self._HYPERPARAMETERS)

    def _check_currstate(self, currstate) -> None:
        """Check ``sample``'s ``currstate`` before any draw (ValueError naming it)."""

    def _fit_sequences(self, X, lengths, sample_weight, states=None):
        """The one fit: check the input into ``Sequences``, run ``engine.fit`` on the estimator's
        parts, warn, and write the fitted attributes (``parts.set_fitted``). A failed fit leaves
        the estimator unchanged."""
        self._check_hyperparameters()
        check_option(self.algorithm, "algorithm", DECODERS)
        plan = self._fit_plan()
        X, record = self._check_frames(X, reset=True)
        lengths = check_lengths(lengths, X.shape[0])
        weights = check_sample_weight(sample_weight, lengths.shape[0], np.float64, unit="n_sequences")
        states = check_states(states, X.shape[0], self.n_components)
        chunk = self._chunk_frames()
        data = Sequences(X, lengths, weights, record, chunk, sequence_source(X, lengths, weights, chunk, states))
        parts, options = self._fit_parts(data, plan)
        warm = parts.warm
        if warm is not None and record.n_features_in_ != self.n_features_in_:
            raise ValueError(f"X has {record.n_features_in_} features, but {type(self).__name__} was fitted with "
                             f"{self.n_features_in_} and warm_start=True")
        start = parts.start if warm is None else (lambda rng, policy=None: warm.params)
        result = engine.fit(parts.model, data.source, start, options, as_generator(self.random_state),
                            make_policy=parts.policy, initial_bound=-np.inf if warm is None else warm.bound)
        if not result.converged and options.max_iter > 0:
            warnings.warn(f"Best performing initialization did not converge in max_iter={options.max_iter} "
                          f"iterations (tol={options.tol}); increase max_iter or tol", ConvergenceWarning,
                          stacklevel=3)
        for event in result.events:
            done = {"drop": "dropped", "reseed": "reseeded"}[event.action]
            warnings.warn(f"state {event.component} was {done} at iteration {event.iteration} ({event.reason})",
                          CollapseWarning, stacklevel=3)
        parts.set_fitted(result)
        return self

    # ---- decoding and scoring, chunk by chunk of whole sequences ------------------------------

    def _batches(self, X, lengths):
        """The batches of whole sequences of X, after the checks (run at once, not lazily)."""
        self._check()
        X, _ = self._check_frames(X, reset=False)
        lengths = check_lengths(lengths, X.shape[0])
        return (batch for batch, _ in sequence_source(X, lengths, None, self._chunk_frames()).chunks())

    def score_samples(self, X, lengths=None):
        """Log-likelihood of X and the posterior state probabilities of its frames.

        hmmlearn's meaning: ln p(X) is summed over the sequences. (Unlike a mixture's
        ``score_samples``, which is a density per row: the frames of a sequence are not
        independent.) For a semi-Markov model the last segment of each sequence is
        right-censored.

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
        batches = self._batches(X, lengths)  # first: NotFittedError before any fitted attribute is read
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

        'viterbi': the most probable path (for a semi-Markov model, segmentation: states and
        durations, in O(n_samples n_components max_duration)) and its log joint probability with
        X, summed over sequences; 'map': each frame's most probable state and the sum over frames
        of ln max_k p(z_t = k | X) (the path need not be possible as a whole).

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
        batches = self._batches(X, lengths)
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

        For a semi-Markov model, segments of a state and a duration drawn from
        ``duration_pmf_``, the next state from ``transmat_``, the last segment cut at
        ``n_samples``.

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
        self._check_currstate(currstate)
        rng = as_generator(self.random_state if random_state is None else random_state)
        states = self._draw_states(rng, n_samples, currstate)
        return self._emission_model().draw(rng, self._emission_params(), states), states

    def _n_parameters(self) -> int:
        return self._model(self._fixed()).n_parameters(self._n_states(), self._fitted_features())

    def bic(self, X, lengths=None):
        """Bayesian information criterion: -2 ln p(X) + p ln n_samples (lower is better).

        p counts the free (not fixed) parameters, the durations of a semi-Markov model included.

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

