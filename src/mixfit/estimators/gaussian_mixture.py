"""GaussianMixture: maximum likelihood by EM behind scikit-learn's estimator API."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np

from .. import engine
from ..engine.collapse import ON_COLLAPSE, make_policy
from ..engine.starts import INIT_METHODS, data_moments, initial_stats
from ..exceptions import CollapsedComponentError, CollapseWarning
from ..families.registry import make_covariance, make_precision_prior
from ..models import GaussianEM, GaussianParams
from ._base import _GaussianMixtureBase
from .priors import check_prior_spec, resolve_prior
from .validation import (
    LOOP_HYPERPARAMETERS,
    REAL_AT_LEAST_0,
    as_generator,
    check_hyperparameters,
    check_means_init,
    check_option,
    check_weights_init,
    kmeans_state,
)


class GaussianMixture(_GaussianMixtureBase):
    """Gaussian mixture fitted by maximum likelihood with EM (PRML 9.2).

    A drop-in for ``sklearn.mixture.GaussianMixture``: the same parameters, defaults and fitted
    attributes. In addition ``fit`` takes ``sample_weight`` (integer weights give exactly the fit
    of repeated rows), float32 data stay float32, the passes run over row chunks of
    ``chunk_size`` rows (default: a few MB of working set) so no (n_samples, n_components) array
    is allocated while fitting, and ``sample`` takes a per-call ``random_state``.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Convergence threshold on the change of the per-sample log-likelihood.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance.
    max_iter : int, default=100
        EM iterations; 0 returns the initialisation.
    n_init : int, default=1
        Independent starts drawn from ``random_state``; the best lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
    weights_init, means_init, precisions_init : array-like, optional
        User-given starting values; never written back.
    random_state : int, Generator, RandomState or None
    warm_start : bool, default=False
    verbose, verbose_interval : int
    chunk_size : int or None
        Rows per pass chunk; None picks a few MB of working set.
    on_collapse : {'raise', 'reseed', 'drop'}, default='raise'
        What to do when a component collapses onto a point (its covariance is no longer
        positive definite, or, for 'reseed' and 'drop', its mass falls below a thousandth of a
        row): raise ``CollapsedComponentError`` (as scikit-learn), restart it at the row worst
        explained by the others, or remove it and continue with one component fewer. Each
        reseed or drop is announced by a ``CollapseWarning`` and recorded in
        ``collapse_events_``.
    prior : None, 'default' or ConjugatePrior, default=None
        None fits by maximum likelihood. Otherwise EM finds the posterior mode (MAP) under a
        conjugate Normal-inverse-Wishart prior on each component (Fraley and Raftery 2007, as
        R's mclust; 'default' takes their data-based defaults, see ``mixfit.ConjugatePrior``):
        no covariance can become singular, ``lower_bound_`` is then the log posterior per
        sample (up to the evidence), and ``bic``/``aic`` use the log-likelihood at the MAP
        estimate, as mclust does.
    """

    _HYPERPARAMETERS: ClassVar[dict] = {
        **LOOP_HYPERPARAMETERS,
        "reg_covar": REAL_AT_LEAST_0,
    }

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", weights_init=None, means_init=None,
                 precisions_init=None, random_state=None, warm_start=False, verbose=0,
                 verbose_interval=10, chunk_size=None, on_collapse="raise", prior=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size
        self.on_collapse = on_collapse
        self.prior = prior

    def _model(self):
        return GaussianEM(self._covariance, self.reg_covar, self.means_.dtype)

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the parameters by EM; returns self. A failed fit leaves self unchanged."""
        check_hyperparameters(self, self._HYPERPARAMETERS)
        covariance = make_covariance(self.covariance_type)
        check_option(self.init_params, "init_params", INIT_METHODS)
        check_option(self.on_collapse, "on_collapse", ON_COLLAPSE)
        prior_spec = check_prior_spec(self.prior)
        X, weights, record = self._check_fit_input(X, sample_weight, covariance)
        n_features = X.shape[1]
        K = self.n_components
        weights_init = check_weights_init(self.weights_init, K)
        means_init = check_means_init(self.means_init, K, n_features)
        prec_chol_init = (
            None if self.precisions_init is None
            else covariance.check_precisions(self.precisions_init, K, n_features)
        )

        source = self._source(X, weights, covariance)
        prior = precision = None
        if prior_spec is not None:
            precision = make_precision_prior(covariance)
            data_mean, data_cov = data_moments(source)
            prior = resolve_prior(prior_spec, precision, data_mean, data_cov, K, n_features, self.reg_covar,
                                  X.dtype)
        model = GaussianEM(covariance, self.reg_covar, X.dtype, prior, precision)
        options = engine.FitOptions(self.tol, self.max_iter, self.n_init, self.verbose, self.verbose_interval)
        legacy = kmeans_state(self.random_state)  # shared by the restarts, as scikit-learn
        if self._is_warm():
            previous = self._params().astype(X.dtype)
            options = engine.FitOptions(self.tol, self.max_iter, 1, self.verbose, self.verbose_interval)

            def start(rng, policy):
                return previous
        else:
            def start(rng, policy):
                given = (weights_init, means_init, prec_chol_init)
                if all(a is not None for a in given):
                    return GaussianParams(*given).astype(X.dtype)
                stats = initial_stats(model, source, K, self.init_params, rng, means_init, legacy)
                params = policy.step(model, source, stats, None, 0)
                if params.weights.shape[0] != K and any(a is not None for a in given):
                    raise CollapsedComponentError(
                        f"on_collapse={self.on_collapse!r} dropped a component at initialisation, which "
                        "cannot be combined with weights_init, means_init or precisions_init of "
                        f"n_components = {K} entries; give all three, or none")
                return GaussianParams(
                    params.weights if weights_init is None else weights_init,
                    params.means if means_init is None else means_init,
                    params.prec_chol if prec_chol_init is None else prec_chol_init,
                ).astype(X.dtype)

        result = engine.fit(model, source, start, options, as_generator(self.random_state),
                            make_policy=lambda: make_policy(self.on_collapse),
                            initial_bound=self.lower_bound_ if self._is_warm() else -np.inf)
        self._warn_if_not_converged(result)
        for event in result.events:
            done = {"drop": "dropped", "reseed": "reseeded"}[event.action]
            warnings.warn(f"component {event.component} was {done} at iteration "
                          f"{event.iteration} ({event.reason})", CollapseWarning, stacklevel=2)
        self._set_fitted(result, record, covariance)
        return self
