"""What every HMM estimator adds to the sequence estimators' base (_sequence_base.py): the
Markov chain's parameters, hmmlearn's spellings of the fit (hmm_compat.py), and its parts
(Baum-Welch or variational, hmm_parts.py).

An HMM estimator is a small final class: its hyper-parameters in ``__init__``, the frames it
accepts (``_check_frames``, one of the checks of hmm_checks.py), the parts of its fit
(``_parts``: an ``HMMParts`` of hmm_parts.py naming the model, the start, the collapse policy
and the writer of its fitted attributes) and the point emission that decoding uses
(``_emission_model``, ``_emission_params``).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import replace

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..models.hmm import HMM, HMMParams
from . import hmm_compat
from ._sequence_base import _SequenceBase
from .hmm_checks import check_fixed, check_stochastic
from .hmm_parts import HMMParts, Sequences, point_chain
from .validation import check_hyperparameters


class _HMMBase(hmm_compat.HmmlearnAttributes, _SequenceBase):
    """Abstract: the Markov chain and hmmlearn's fit spellings shared by the HMM estimators.

    A subclass declares ``_HYPERPARAMETERS`` (the scalar checks), ``_FIXABLE`` (the names
    ``fixed`` may hold, or None where it has no ``fixed``) and the hooks ``_check_frames``,
    ``_parts``, ``_emission_model`` and ``_emission_params``.
    """

    _FIXABLE: tuple | None = None
    _INIT_METHODS: tuple = ()  # mixfit's names of how the emission starts (init_params)

    @abstractmethod
    def _parts(self, data: Sequences, chain: tuple, fixed: frozenset) -> HMMParts:
        """The model, start, collapse policy and fitted-attribute writer of a fit on ``data``;
        ``chain`` holds the checked (startprob_init, transmat_init)."""

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

    def _model(self, fixed: frozenset = frozenset()) -> HMM:
        return HMM(*point_chain(fixed), self._emission_model(fixed))

    def _params(self) -> HMMParams:
        return HMMParams(np.asarray(self.startprob_, dtype=np.float64), np.asarray(self.transmat_, dtype=np.float64),
                         self._emission_params())

    def _n_states(self) -> int:
        """K of the parameters: ``n_components``, less any state a fit dropped (``on_collapse``)."""
        return len(self.startprob_) if "collapse_events_" in vars(self) else self.n_components

    def _fitted_features(self) -> int:
        return self.n_features  # hmmlearn's: assigned, fitted, or implied by the emission parameters

    def _check(self):
        """Check the parameters set on the estimator (assigned, or fitted) before they are used:
        hmmlearn's name for it. Raises ValueError naming the attribute."""
        check_is_fitted(self, "startprob_")  # fitted or assigned at all: NotFittedError first
        K = self._n_states()
        check_stochastic(self.startprob_, "startprob_", (K,))
        check_stochastic(self.transmat_, "transmat_", (K, K))
        self._check_emission(K)

    def _check_emission(self, n_states: int) -> None:
        """Check the assigned emission parameters of ``n_states`` states (ValueError naming them)."""

    def _emission_features(self) -> int | None:
        """The number of features the assigned emission parameters imply, or None."""
        return None

    def _check_hyperparameters(self) -> None:
        # hmmlearn's verbose is a bool: accepted as 0 / 1; tol=None: the loop's default
        check_hyperparameters(self, {name: kind for name, kind in self._HYPERPARAMETERS.items()
                                     if not (name == "verbose" and isinstance(self.verbose, bool))
                                     and not (name == "tol" and self.tol is None)})

    def _fit_plan(self):
        hmm_compat.check_implementation(self)
        n_iter = hmm_compat.max_iter(self)
        fixed = self._fixed()
        letters, init_method = hmm_compat.init_letters(self, self._INIT_METHODS)
        return n_iter, fixed, letters, init_method

    def _fit_parts(self, data: Sequences, plan):
        n_iter, fixed, letters, init_method = plan
        K = self.n_components
        starts = hmm_compat.assigned_starts(self, letters)
        chain = tuple(check_stochastic(starts.get(name, getattr(self, name)), name, shape)
                      for name, shape in (("startprob_init", (K,)), ("transmat_init", (K, K))))
        parts = self._parts(replace(data, starts=starts, init_method=init_method), chain, fixed)
        tol, tol_on_total = hmm_compat.tolerance(self, parts.tol_on_total)
        options = engine.FitOptions(tol, n_iter, self.n_init if parts.warm is None else 1, int(self.verbose),
                                    self.verbose_interval, tol_on_total)
        lengths, weights = data.lengths, data.weights
        total = float(np.sum(lengths if weights is None else weights * lengths))

        def set_fitted(result):
            parts.set_fitted(result)
            self._monitor = hmm_compat.monitor_from(self, result, total, tol, tol_on_total)

        return replace(parts, set_fitted=set_fitted), options

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
        return self._fit_sequences(X, lengths, sample_weight, states)

    def _draw_states(self, rng, n_samples, currstate):
        params = self._params()
        K = params.startprob.shape[0]  # n_components, less any state on_collapse='drop' removed
        states = np.empty(n_samples, dtype=np.intp)
        states[0] = rng.choice(K, p=params.startprob) if currstate is None else int(currstate)
        cumulative = np.cumsum(params.transmat, axis=1)
        u = rng.random(n_samples)
        for t in range(1, n_samples):  # (13.10): z_t ~ A_{z_{t-1}, .}
            states[t] = min(int(np.searchsorted(cumulative[states[t - 1]], u[t], side="right")), K - 1)
        return states
