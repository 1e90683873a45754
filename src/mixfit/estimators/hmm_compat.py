"""hmmlearn's spellings of an HMM's fit, read once at the boundary: the ``params`` and
``init_params`` letter strings, ``n_iter``, ``implementation``, parameters assigned on the
estimator before ``fit`` (or instead of it), and the ``monitor_`` a fit leaves.

Each HMM estimator names its letters in ``_LETTERS``: letter -> (the name ``fixed`` takes, the
attribute a user may assign, the ``*_init`` argument that attribute stands for). A letter missing
from ``params`` freezes that parameter (as naming it in ``fixed``); a letter missing from
``init_params`` starts that parameter from the assigned attribute (or its ``*_init`` argument),
not from the data.
"""

from __future__ import annotations

import logging
import sys
from collections import deque

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..exceptions import CollapsedComponentError
from ..families.registry import make_covariance
from .validation import INTEGER_AT_LEAST_0, INTEGER_AT_LEAST_1, check_hyperparameters, check_option

IMPLEMENTATIONS = ("log", "scaling")
_LOGGER = logging.getLogger("mixfit")


class ConvergenceMonitor:
    """hmmlearn's convergence record of a fit: the total log-likelihood at each iteration.

    ``fit`` leaves one as ``monitor_``. ``converged`` follows hmmlearn's rule: the last
    iteration was the ``n_iter``-th, or the last gain of ``history`` is below ``tol`` (the fit's
    ``tol`` on the total; under mixfit's loop, its ``tol`` per frame times the frames).

    Parameters
    ----------
    tol : float
        The threshold on the gain of the total log-likelihood.
    n_iter : int
        The most iterations.
    verbose : bool
        Whether ``report`` prints each iteration to stderr.

    Attributes
    ----------
    history : collections.deque of float
        The total log-likelihood ln p(X) at each iteration, in order.
    iter : int
        Iterations reported.
    """

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol, n_iter, verbose):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history = deque()
        self.iter = 0

    def __repr__(self):
        return (f"ConvergenceMonitor(tol={self.tol!r}, n_iter={self.n_iter!r}, iter={self.iter!r}, "
                f"history={list(self.history)!r})")

    def _reset(self):
        self.iter = 0
        self.history.clear()

    def report(self, log_prob):
        """Record one iteration's total log-likelihood (printed to stderr when ``verbose``).

        Parameters
        ----------
        log_prob : float
            The total log-likelihood of the iteration.

        Returns
        -------
        None
            ``history`` and ``iter`` are updated.
        """
        if self.verbose:
            delta = log_prob - self.history[-1] if self.history else float("nan")
            print(self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta), file=sys.stderr)
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self):
        """Whether the fit stopped by ``n_iter`` or by a gain below ``tol`` (hmmlearn's rule)."""
        return (self.iter == self.n_iter
                or (len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol))


def monitor_from(estimator, result, total_weight: float, tol: float, tol_on_total: bool) -> ConvergenceMonitor:
    """The ``monitor_`` of a finished fit: its per-frame bounds as totals over the frames."""
    monitor = ConvergenceMonitor(tol * (1.0 if tol_on_total else total_weight), max_iter(estimator), False)
    for bound in result.lower_bounds:
        monitor.report(float(bound) * total_weight)
    return monitor


# The default ``tol`` of each loop: mixfit's (on the log-likelihood per frame, as its EM
# mixtures) and hmmlearn's (on the total log-likelihood).
TOL_PER_FRAME = 1e-4
TOL_ON_TOTAL = 1e-2


def hmmlearn_loop(estimator) -> bool:
    """Whether the fit is spelled with hmmlearn's loop, ``n_iter`` given: then ``tol`` is on the
    total log-likelihood (default 0.01) and the Gaussian M-steps are hmmlearn's, as there."""
    return getattr(estimator, "n_iter", None) is not None


def tolerance(estimator, tol_on_total: bool) -> tuple:
    """(tol, whether it bounds the total): the total where the model's loop says so (the
    variational HMMs) or under hmmlearn's loop; else the per-frame change, as mixfit's EM
    mixtures. ``tol=None`` takes that loop's default (0.01 on the total, 1e-4 per frame)."""
    on_total = tol_on_total or hmmlearn_loop(estimator)
    if estimator.tol is not None:
        return estimator.tol, on_total
    return (TOL_ON_TOTAL if on_total else TOL_PER_FRAME), on_total


def max_iter(estimator) -> int:
    """The most iterations: ``n_iter`` where given (hmmlearn's name), else ``max_iter``."""
    if estimator.n_iter is None:
        return estimator.max_iter
    check_hyperparameters(estimator, {"n_iter": INTEGER_AT_LEAST_0})
    return estimator.n_iter


def check_implementation(estimator) -> None:
    """hmmlearn's ``implementation``: both are accepted and give the same fit (mixfit's
    recursions are in log space, or scaled where that is exact; the choice is its own)."""
    check_option(estimator.implementation, "implementation", IMPLEMENTATIONS)


def _letters(value, name: str, letters: dict) -> str:
    if not isinstance(value, str) or any(c not in letters for c in value):
        raise ValueError(f"{name}={value!r}; expected a string of the letters {''.join(letters)!r} "
                         f"({', '.join(f'{c}: {v[0]}' for c, v in letters.items())})")
    return value


def frozen_by_params(estimator) -> frozenset:
    """The names a ``params`` letter string leaves out: those parameters stay as they start."""
    letters = estimator._LETTERS
    params = _letters(estimator.params, "params", letters)
    return frozenset(letters[c][0] for c in letters if c not in params)


def init_letters(estimator, methods: tuple) -> tuple:
    """(letters initialised from the data, how the emission starts): ``init_params`` is either
    hmmlearn's letter string (the emission then starts by the estimator's ``_INIT_METHOD``), or
    one of mixfit's ``methods`` (every letter, by that method)."""
    value = estimator.init_params
    if isinstance(value, str) and value in methods:
        return "".join(estimator._LETTERS), value
    return _letters(value, "init_params", estimator._LETTERS), estimator._INIT_METHOD


def assigned_starts(estimator, letters: str) -> dict:
    """The ``*_init`` values taken from attributes assigned on the estimator: for each letter not
    in ``letters`` whose attribute is set (by the user, or by a previous fit). An attribute of a
    letter in ``letters`` is overwritten by the start, which is logged (as hmmlearn does)."""
    starts = {}
    for letter, (_, attribute, argument) in estimator._LETTERS.items():
        value = estimator._assigned(attribute)
        if value is None:
            continue
        if letter in letters:
            _LOGGER.warning("%s is set but will be overwritten by the start of fit, because init_params contains "
                            "%r; leave %r out of init_params to start from it", attribute, letter, letter)
        elif getattr(estimator, argument) is None:
            starts[argument] = value
    return starts


# The letters of the Markov chain, shared by every HMM: letter -> (name in ``fixed``, attribute,
# ``*_init`` argument).
CHAIN_LETTERS = {"s": ("startprob", "startprob_", "startprob_init"),
                 "t": ("transmat", "transmat_", "transmat_init")}


def check_hmmlearn_defaults(estimator, defaults: dict, instead: str) -> None:
    """hmmlearn hyper-parameters that mixfit accepts at hmmlearn's default value only (their
    positions keep hmmlearn's positional calls working); another value raises, naming what to
    use instead."""
    for name, default in defaults.items():
        value = getattr(estimator, name)
        try:
            same = value is None if default is None else bool(np.all(np.asarray(value, dtype=np.float64) == default))
        except (TypeError, ValueError):
            same = False
        if not same:
            raise ValueError(f"{name}={value!r}: mixfit accepts only hmmlearn's default {default!r} for {name} "
                             f"(hmmlearn's prior and floor are not implemented here); use {instead}")


def covars_to_precision_chol(covars, covariance_type: str, n_components: int) -> np.ndarray:
    """hmmlearn's ``covars_`` assignment: covariances in the type's shape (spherical (K,), diag
    (K, D), tied (D, D), full (K, D, D)) to the Cholesky factors of the precisions mixfit
    stores. Raises ValueError naming covars_ for a wrong shape or a matrix that is not
    symmetric positive definite."""
    covariance = make_covariance(covariance_type)
    cov = np.array(covars, dtype=np.float64)
    if covariance_type == "spherical" and cov.size == n_components:
        cov = cov.reshape(n_components)  # hmmlearn takes any shape of K variances
    ndim = {"spherical": 1, "diag": 2, "tied": 2, "full": 3}[covariance_type]
    square = cov.ndim == ndim and (ndim < 2 or covariance_type == "diag" or cov.shape[-1] == cov.shape[-2])
    leading = covariance_type == "tied" or (cov.ndim >= 1 and cov.shape[0] == n_components)
    if not (square and leading):
        raise ValueError(f"covars_ has shape {cov.shape}; expected {covariance_type!r} covariances of shape "
                         f"{covariance.shape(n_components, 'n_features')}")
    if not np.all(np.isfinite(cov)):
        raise ValueError("covars_ must hold finite values")
    if ndim == 1 or covariance_type == "diag":
        if np.any(cov <= 0):
            raise ValueError(f"covars_ must be positive ({covariance_type!r} variances)")
    elif not np.allclose(cov, np.swapaxes(cov, -1, -2)):
        raise ValueError("covars_ must be symmetric, positive-definite")
    try:
        return covariance.precision_chol(cov)
    except CollapsedComponentError:
        raise ValueError("covars_ must be symmetric, positive-definite") from None


def emission_prior(value, name: str, shape: tuple):
    """Dirichlet concentrations of ``shape`` for an emission's rows (hmmlearn's
    ``emissionprob_prior``), or None where they are all 1 (no prior)."""
    try:
        prior = np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} has shape {np.shape(value)}; expected a number or an array of shape {shape}") from None
    if not np.all(np.isfinite(prior)) or np.any(prior <= 0):
        raise ValueError(f"{name} must hold finite Dirichlet concentrations > 0")
    return None if np.all(prior == 1.0) else prior


def given_symbols(estimator):
    """M of a categorical HMM as given: ``n_symbols``, or hmmlearn's ``n_features``; None where
    neither is. Both given must agree."""
    given = {name: value for name, value in (("n_symbols", estimator.n_symbols), ("n_features", estimator.n_features))
             if value is not None}
    for name in given:
        check_hyperparameters(estimator, {name: INTEGER_AT_LEAST_1})
    if len(set(given.values())) > 1:
        raise ValueError(f"n_symbols={estimator.n_symbols!r} and n_features={estimator.n_features!r} disagree; give "
                         "one of them (both name the number of symbols)")
    return next(iter(given.values()), None)


def stationary_distribution(transmat: np.ndarray) -> np.ndarray:
    """pi with pi A = pi: the left eigenvector of A (K, K) for the eigenvalue nearest 1, summing
    to 1 (hmmlearn's ``get_stationary_distribution``)."""
    eigenvalues, vectors = np.linalg.eig(transmat.T)
    stationary = np.real(vectors[:, np.argmin(np.abs(eigenvalues - 1.0))])
    return stationary / stationary.sum()


class HmmlearnAttributes:
    """hmmlearn's attributes of a fitted (or assigned) HMM that mixfit's own fit does not need:
    ``monitor_``, ``n_features`` and ``get_stationary_distribution``; mixed into the HMM base."""

    @property
    def monitor_(self):
        """hmmlearn's ``ConvergenceMonitor`` of the last fit (derived from ``lower_bounds_``; not
        stored in model files)."""
        if "_monitor" not in vars(self):
            raise AttributeError(f"{type(self).__name__} has no monitor_ before fit")
        return self._monitor

    @property
    def n_features(self):
        """Number of features of a frame (hmmlearn's attribute): as assigned, else as fitted or as
        the emission parameters say."""
        if "_n_features" in vars(self):
            return self._n_features
        if "n_features_in_" in vars(self):
            return self.n_features_in_
        if self._emission_features() is not None:
            return self._emission_features()
        raise AttributeError(f"{type(self).__name__} has no n_features yet: fit it, or assign n_features")

    @n_features.setter
    def n_features(self, value):
        self._n_features = value

    def get_stationary_distribution(self):
        """The stationary distribution of the chain: pi with pi A = pi.

        Returns
        -------
        ndarray of shape (n_states,)
            The left eigenvector of ``transmat_`` for eigenvalue 1, summing to 1.
        """
        check_is_fitted(self, "transmat_")
        return stationary_distribution(np.asarray(self.transmat_, dtype=np.float64))
