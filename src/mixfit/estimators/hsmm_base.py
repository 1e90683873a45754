"""What every HSMM estimator shares: the one EM fit (through ``engine.fit``), and decoding,
scoring and sampling over batches of whole sequences.

An HSMM estimator is a small final class: its hyper-parameters, the frames it accepts
(``_check_frames``: one of hmm_checks.py's), its emission (``_emission_model``,
``_emission_params``, ``_emission_start``, ``_set_emission``). The chain (start, transitions with
a zero diagonal) and the durations are handled here, the same for every emission.
"""

from __future__ import annotations

import numbers
import warnings
from abc import ABCMeta, abstractmethod
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..engine import criteria
from ..exceptions import ConvergenceWarning
from ..kernels.linalg import rows_summing_to_one
from ..models.hmm import InitialDistribution, TransitionMatrix
from ..models.hsmm import HSMM, HSMMParams
from ..models.hsmm_durations import DURATIONS, FixedDurations, make_durations
from ._hmm_base import DECODERS, _HMMBase, sequence_source
from .hmm_checks import check_fixed, check_lengths, check_stochastic
from .validation import (
    INTEGER_AT_LEAST_1,
    LOOP_HYPERPARAMETERS,
    as_generator,
    check_hyperparameters,
    check_option,
    check_sample_weight,
)

HSMM_HYPERPARAMETERS = {**LOOP_HYPERPARAMETERS, "max_duration": INTEGER_AT_LEAST_1}


def check_durations_init(value, family, n_components: int):
    """The duration family's starting params: rates (K,) > 0 ('poisson'); rows (r, p) (K, 2) with
    r > 0, 0 < p <= 1 ('negative_binomial'); a table (K, max_duration) of rows summing to 1
    ('nonparametric'); or None."""
    if value is None:
        return None
    K, D = n_components, family.max_duration
    if family.name == "nonparametric":
        return check_stochastic(value, "durations_init", (K, D))
    shape = (K,) if family.name == "poisson" else (K, 2)
    values = np.asarray(value, dtype=np.float64)
    if values.shape != shape:
        raise ValueError(f"durations_init has shape {values.shape}; expected {shape} for duration={family.name!r}")
    if family.name == "poisson":
        ok = np.all(np.isfinite(values)) and np.all(values > 0)
        expected = "rates > 0 of d - 1"
    else:
        ok = np.all(np.isfinite(values)) and np.all(values[:, 0] > 0) and np.all((values[:, 1] > 0) & (values[:, 1] <= 1))
        expected = "rows (r, p) with r > 0 and 0 < p <= 1"
    if not ok:
        raise ValueError(f"durations_init must hold {expected}")
    return values


class _HSMMBase(BaseEstimator, metaclass=ABCMeta):
    """Abstract: the fit, decoding, scoring and sampling shared by the HSMM estimators."""

    _FIXABLE: tuple = ()
    _HYPERPARAMETERS: ClassVar[dict] = HSMM_HYPERPARAMETERS

    @abstractmethod
    def _check_frames(self, X, reset: bool):
        """(frames, validation record)."""

    @abstractmethod
    def _emission_model(self, fixed: frozenset = frozenset()):
        """The emission (models/hmm_emissions.py) the model uses."""

    @abstractmethod
    def _emission_params(self):
        """The fitted params of ``_emission_model()``."""

    @abstractmethod
    def _fit_emission(self, X, fixed: frozenset):
        """The emission a fit on the checked frames X uses (before any fitted attribute)."""

    @abstractmethod
    def _emission_start(self, X, lengths, weights, rng, emission):
        """Starting params of ``emission`` for a fit on these frames."""

    @abstractmethod
    def _set_emission(self, params, record) -> None:
        """Writes the emission's fitted attributes."""

    _chunk_frames = _HMMBase._chunk_frames

    def _durations(self):
        check_option(self.duration, "duration", tuple(DURATIONS))
        return make_durations(self.duration, self.max_duration)

    def _model(self, fixed: frozenset = frozenset()) -> HSMM:
        return HSMM(InitialDistribution("startprob" in fixed), TransitionMatrix("transmat" in fixed),
                    FixedDurations(self._durations()) if "durations" in fixed else self._durations(),
                    self._emission_model(fixed))

    def _params(self) -> HSMMParams:
        return HSMMParams(self.startprob_, self.transmat_, self.durations_, self._emission_params())

    @property
    def duration_pmf_(self):
        """p_k(d) (n_components, max_duration): the probability that a segment of state k lasts
        d = 1 .. max_duration frames (column d - 1), derived from ``durations_``."""
        check_is_fitted(self, "durations_")
        return self._durations().pmf(self.durations_)

    def _check_chain(self, K):
        startprob = check_stochastic(self.startprob_init, "startprob_init", (K,))
        transmat = check_stochastic(self.transmat_init, "transmat_init", (K, K))
        if transmat is not None and np.any(np.diag(transmat) != 0):
            raise ValueError("transmat_init has a non-zero diagonal; expected A_kk = 0 (a segment is followed "
                             "by a different state: its length is the duration distribution's)")
        return (np.full(K, 1.0 / K) if startprob is None else startprob,
                (np.ones((K, K)) - np.eye(K)) / (K - 1) if transmat is None else transmat)

    def fit(self, X, lengths=None, sample_weight=None):
        """Estimate the model parameters by EM (the segment forward-backward).

        A failed fit leaves the estimator unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence (they sum to n_samples); None: X is one sequence.
        sample_weight : array-like of shape (n_sequences,), default=None
            One weight per sequence; None: every sequence weighs 1.

        Returns
        -------
        object
            The fitted estimator (``self``).
        """
        check_hyperparameters(self, self._HYPERPARAMETERS)
        check_option(self.algorithm, "algorithm", DECODERS)
        if self.n_components < 2:
            raise ValueError(f"n_components={self.n_components!r}; expected at least 2 (an HSMM's segments "
                             "alternate between different states)")
        fixed = check_fixed(self.fixed, self._FIXABLE)
        family = self._durations()
        X, record = self._check_frames(X, reset=True)
        lengths = check_lengths(lengths, X.shape[0])
        weights = check_sample_weight(sample_weight, lengths.shape[0], np.float64, unit="n_sequences")
        K = self.n_components
        chain = self._check_chain(K)
        durations_init = check_durations_init(self.durations_init, family, K)
        source = sequence_source(X, lengths, weights, self._chunk_frames())
        emission = self._fit_emission(X, fixed)
        model = HSMM(InitialDistribution("startprob" in fixed), TransitionMatrix("transmat" in fixed),
                     FixedDurations(family) if "durations" in fixed else family, emission)
        warm = bool(self.warm_start) and "startprob_" in vars(self)
        # Durations start at about a K-th of a sequence, within the support: EM moves them.
        mean = float(np.clip(np.mean(lengths) / K, 1.0, max(self.max_duration / 2.0, 1.0)))

        def start(rng):
            if warm:
                return self._params()
            return HSMMParams(*chain, family.initial(mean, K) if durations_init is None else durations_init,
                              self._emission_start(X, lengths, weights, rng, emission))

        options = engine.FitOptions(self.tol, self.max_iter, 1 if warm else self.n_init, self.verbose,
                                    self.verbose_interval)
        result = engine.fit(model, source, start, options, as_generator(self.random_state))
        if not result.converged and self.max_iter > 0:
            warnings.warn(f"Best performing initialization did not converge in max_iter={self.max_iter} "
                          f"iterations (tol={self.tol}); increase max_iter or tol", ConvergenceWarning, stacklevel=2)
        params = result.params  # the only place the fitted attributes are written
        self.startprob_ = params.startprob
        self.transmat_ = params.transmat
        self.durations_ = params.durations
        self._set_emission(params.emission, record)
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.lower_bound_ = result.lower_bound
        self.lower_bounds_ = list(result.lower_bounds)
        self.n_features_in_ = record.n_features_in_
        return self

    # ---- decoding and scoring, chunk by chunk of whole sequences ------------------------------

    def _batches(self, X, lengths):
        check_is_fitted(self, "startprob_")
        X, _ = self._check_frames(X, reset=False)
        lengths = check_lengths(lengths, X.shape[0])
        return (batch for batch, _ in sequence_source(X, lengths, None, self._chunk_frames()).chunks())

    def score_samples(self, X, lengths=None):
        """Log-likelihood of X and the posterior state probabilities of its frames.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence; None: X is one sequence.

        Returns
        -------
        log_prob : float
            ln p(X), summed over the sequences (the last segment of each right-censored).
        posteriors : ndarray of shape (n_samples, n_components)
            The probability p(z_i = k | X) of each state k at each frame i.
        """
        batches = self._batches(X, lengths)
        model, params = self._model(), self._params()
        results = [model.posteriors(batch, params) for batch in batches]
        gamma = np.concatenate([gamma for _, gamma in results])  # (n, K)
        return float(sum(log_lik.sum() for log_lik, _ in results)), rows_summing_to_one(gamma, gamma.dtype)

    score = _HMMBase.score

    predict_proba = _HMMBase.predict_proba

    def decode(self, X, lengths=None, algorithm=None):
        """The most probable states of X and their log probability.

        'viterbi': the most probable segmentation (states and durations) and ln p(X, it), in
        O(n_samples n_components max_duration); 'map': each frame's most probable state and the
        sum over frames of ln max_k p(z_i = k | X).

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

    predict = _HMMBase.predict

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Draw one sequence of frames and its states: segments of a state and a duration drawn
        from ``duration_pmf_``, the next state from ``transmat_``, the last segment cut at
        ``n_samples``.

        Parameters
        ----------
        n_samples : int, default=1
            The number of frames.
        random_state : int, numpy.random.Generator, RandomState or None, default=None
            Seeds this call only; None: the estimator's ``random_state``.
        currstate : int, default=None
            The first segment's state; None: drawn from ``startprob_``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The frames.
        states : ndarray of shape (n_samples,)
            The state of each frame.
        """
        check_is_fitted(self, "startprob_")
        if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples={n_samples!r}; expected an integer >= 1")
        K = self.startprob_.shape[0]
        if currstate is not None and not (isinstance(currstate, numbers.Integral) and 0 <= currstate < K):
            raise ValueError(f"currstate={currstate!r}; expected a state in 0 .. {K - 1}")
        rng = as_generator(self.random_state if random_state is None else random_state)
        pmf = self.duration_pmf_
        states = np.empty(n_samples, dtype=np.intp)
        k = rng.choice(K, p=self.startprob_) if currstate is None else int(currstate)
        filled = 0
        while filled < n_samples:  # (H1): a state, its duration, then the next state by A
            d = 1 + rng.choice(pmf.shape[1], p=pmf[k])
            states[filled:filled + d] = k
            filled += d
            k = rng.choice(K, p=self.transmat_[k])
        return self._emission_model().draw(rng, self._emission_params(), states), states

    def _n_parameters(self) -> int:
        return self._model(check_fixed(self.fixed, self._FIXABLE)).n_parameters(self.startprob_.shape[0],
                                                                               self.n_features_in_)

    def bic(self, X, lengths=None):
        """Bayesian information criterion: -2 ln p(X) + p ln n_samples (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The frames of all sequences, one after the other.
        lengths : array-like of int of shape (n_sequences,), default=None
            The length of each sequence; None: X is one sequence.

        Returns
        -------
        float
            The criterion; p counts the free (not fixed) parameters, durations included.
        """
        return criteria.bic(self.score(X, lengths), self._n_parameters(), np.shape(X)[0])

    aic = _HMMBase.aic

    save = _HMMBase.save

