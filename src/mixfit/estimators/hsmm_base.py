"""What every HSMM estimator adds to the sequence estimators' base (_sequence_base.py): the
chain of segments (start, transitions with a zero diagonal), the durations, their EM fit's parts
(through ``engine.fit``) and the sampling of segments.

An HSMM estimator is a small final class: its hyper-parameters, the frames it accepts
(``_check_frames``: one of hmm_checks.py's), its emission (``_emission_model``,
``_emission_params``, ``_fit_emission``, ``_emission_start``, ``_set_emission``). The chain and
the durations are handled here, the same for every emission.
"""

from __future__ import annotations

import numbers
from abc import abstractmethod
from typing import ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..models.hmm import InitialDistribution, TransitionMatrix
from ..models.hsmm import HSMM, HSMMParams
from ..models.hsmm_durations import DURATIONS, FixedDurations, make_durations
from ._fitted import set_feature_attributes
from ._sequence_base import _SequenceBase
from .hmm_checks import check_stochastic
from .hmm_parts import HMMParts, Sequences, Warm
from .validation import INTEGER_AT_LEAST_1, LOOP_HYPERPARAMETERS, check_option

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


class _HSMMBase(_SequenceBase):
    """Abstract: the chain of segments, the durations and the EM fit shared by the HSMM estimators."""

    _HYPERPARAMETERS: ClassVar[dict] = HSMM_HYPERPARAMETERS

    @abstractmethod
    def _fit_emission(self, X, fixed: frozenset):
        """The emission a fit on the checked frames X uses (before any fitted attribute)."""

    @abstractmethod
    def _emission_start(self, X, lengths, weights, rng, emission):
        """Starting params of ``emission`` for a fit on these frames."""

    @abstractmethod
    def _set_emission(self, params, record) -> None:
        """Writes the emission's fitted attributes."""

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

    def _fit_plan(self):
        if self.n_components < 2:
            raise ValueError(f"n_components={self.n_components!r}; expected at least 2 (an HSMM's segments "
                             "alternate between different states)")
        return self._fixed(), self._durations()

    def _fit_parts(self, data: Sequences, plan):
        fixed, family = plan
        X, lengths, weights = data.X, data.lengths, data.weights
        K = self.n_components
        chain = self._check_chain(K)
        durations_init = check_durations_init(self.durations_init, family, K)
        emission = self._fit_emission(X, fixed)
        model = HSMM(InitialDistribution("startprob" in fixed), TransitionMatrix("transmat" in fixed),
                     FixedDurations(family) if "durations" in fixed else family, emission)
        warm = Warm(self._params()) if bool(self.warm_start) and "startprob_" in vars(self) else None
        # Durations start at about a K-th of a sequence, within the support: EM moves them.
        mean = float(np.clip(np.mean(lengths) / K, 1.0, max(self.max_duration / 2.0, 1.0)))

        def start(rng):
            return HSMMParams(*chain, family.initial(mean, K) if durations_init is None else durations_init,
                              self._emission_start(X, lengths, weights, rng, emission))

        def set_fitted(result):
            params = result.params  # the only place the fitted attributes are written
            self.startprob_ = params.startprob
            self.transmat_ = params.transmat
            self.durations_ = params.durations
            self._set_emission(params.emission, data.record)
            self.converged_ = result.converged
            self.n_iter_ = result.n_iter
            self.lower_bound_ = result.lower_bound
            self.lower_bounds_ = list(result.lower_bounds)
            set_feature_attributes(self, data.record)

        options = engine.FitOptions(self.tol, self.max_iter, 1 if warm is not None else self.n_init, self.verbose,
                                    self.verbose_interval)
        return HMMParts(model, start, set_fitted, warm=warm), options

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
        return self._fit_sequences(X, lengths, sample_weight)

    def _check_currstate(self, currstate) -> None:
        K = self.startprob_.shape[0]
        if currstate is not None and not (isinstance(currstate, numbers.Integral) and 0 <= currstate < K):
            raise ValueError(f"currstate={currstate!r}; expected a state in 0 .. {K - 1}")

    def _draw_states(self, rng, n_samples, currstate):
        K = self.startprob_.shape[0]
        pmf = self.duration_pmf_
        states = np.empty(n_samples, dtype=np.intp)
        k = rng.choice(K, p=self.startprob_) if currstate is None else int(currstate)
        filled = 0
        while filled < n_samples:  # (H1): a state, its duration, then the next state by A
            d = 1 + rng.choice(pmf.shape[1], p=pmf[k])
            states[filled:filled + d] = k
            filled += d
            k = rng.choice(K, p=self.transmat_[k])
        return states
