"""BayesianGaussianMixture: variational Bayes (PRML 10.2) behind scikit-learn's estimator API."""

from __future__ import annotations

import numbers
from typing import ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..engine.starts import INIT_METHODS, data_moments, initial_stats
from ..families.precision_priors import NormalPrecisionPrior
from ..families.registry import make_covariance, make_precision_prior
from ..families.weights import make_weight_prior
from ..kernels.linalg import logsumexp_rows
from ..models import GaussianEM, GaussianParams, GaussianVB
from ._base import _GaussianMixtureBase
from ._fitted import set_loop_attributes
from .validation import (
    LOOP_HYPERPARAMETERS,
    REAL_AT_LEAST_0,
    as_generator,
    check_hyperparameters,
    check_option,
    kmeans_state,
)

# A component whose expected weight E[pi_k] is at or below this is reported inactive in
# ``active_components_``: it holds under 1% of the expected mass (the cut scikit-learn's
# concentration-prior example uses). Unused components of a VB fit sit near alpha_0 / (N + ...).
ACTIVE_WEIGHT_THRESHOLD = 0.01


def _check_positive_prior(value, name: str, low: float, expected: str) -> float | None:
    """None, or a finite real number > ``low``; the error names the argument and the value."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}={value!r}; expected None or {expected}")
    if value <= low:  # scikit-learn's sentence first, for code that matches on it
        raise ValueError(f"The parameter '{name}' should be greater than {low:g}, but got {value:.3f}. "
                         f"({name}={value!r}; expected None or {expected})")
    return float(value)


def _check_mean_prior(mean_prior, n_features: int) -> np.ndarray | None:
    if mean_prior is None:
        return None
    mean = np.asarray(mean_prior, dtype=np.float64)
    if mean.shape != (n_features,):
        raise ValueError(f"mean_prior has shape {mean.shape}; expected (n_features,) = ({n_features},)")
    if not np.all(np.isfinite(mean)):
        raise ValueError("mean_prior contains NaN or infinity; expected finite values")
    return mean


class BayesianGaussianMixture(_GaussianMixtureBase):
    """Gaussian mixture fitted by variational Bayes (PRML 10.2).

    A drop-in for ``sklearn.mixture.BayesianGaussianMixture``: the same parameters, defaults and
    fitted attributes, plus ``sample_weight`` in ``fit`` (integer weights give the fit of repeated
    rows), float32 end to end, ``chunk_size`` passes, and ``active_components_``.

    Priors: q(pi) is a finite symmetric Dirichlet (10.39) or a truncated stick-breaking Dirichlet
    process; each component has mu_k | Lambda_k ~ N(m_0, (beta_0 Lambda_k)^{-1}) with a Wishart
    on Lambda_k (full), one shared Wishart (tied), independent Gammas per dimension (diag), or one
    Gamma per component (spherical); see ``mixfit.conjugate`` for the parametrisation.

    Documented differences from scikit-learn:

    - ``lower_bound_`` / ``lower_bounds_`` are the full ELBO with every constant, per unit of
      sample weight, and ``tol`` applies to it (as to the EM log-likelihood).
    - ``score_samples`` is the log posterior predictive density, ln sum_k E[pi_k] St(x | ...)
      (10.81, 10.82), a normalised density (for the Dirichlet process, E[pi_k] are the expected
      stick-breaking weights renormalised over the K sticks, which is ``weights_``). scikit-learn
      returns ln sum_k rho_nk (10.46), which is not a density. ``score_samples_plugin`` gives the
      plug-in mixture ln sum_k weights_k N(x | means_k, covariances_k).
    - ``predict`` / ``predict_proba`` use the VB responsibilities r_nk (10.49), as scikit-learn.
    - diag/spherical: E[ln|Lambda_k|] is the Gamma expectation (B.30), not scikit-learn's Wishart
      digamma sum; tied: one shared Wishart, ``degrees_of_freedom_ = nu_0 + N`` (scikit-learn: nu_0 + N/K).
    - ``sample`` draws from the plug-in mixture (as scikit-learn).

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Convergence threshold on the change of the per-sample ELBO.
    reg_covar : float, default=1e-6
        Added to the diagonal of each S_k before the Wishart/Gamma update (as scikit-learn).
    max_iter : int, default=100
    n_init : int, default=1
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
    weight_concentration_prior : float > 0 or None (1 / n_components)
    mean_precision_prior : float > 0 or None (1)
    mean_prior : array (n_features,) or None (the data mean)
    degrees_of_freedom_prior : float > n_features - 1 or None (n_features)
    covariance_prior : float, (n_features,) or (n_features, n_features) or None
        W_0^{-1} (full, tied), the variances psi_0 (diag) or psi_0 (spherical); None: the
        empirical covariance (ddof=1, frequency weights) in that shape, as scikit-learn; where it
        is not positive definite (a constant feature, n_samples <= n_features) plus reg_covar on
        its diagonal, which keeps the prior proper (scikit-learn would fail there).
    random_state, warm_start, verbose, verbose_interval : as scikit-learn
    chunk_size : int or None
        Rows per pass chunk; None picks a few MB of working set.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : the plug-in point
        estimates E[pi_k], m_k, (nu_k W_k)^{-1}, nu_k W_k and its Cholesky factor.
    weight_concentration_, mean_precision_, degrees_of_freedom_ : posterior parameters.
    weight_concentration_prior_, mean_precision_prior_, mean_prior_, degrees_of_freedom_prior_,
    covariance_prior_ : the priors used.
    active_components_ : bool (n_components,), ``weights_ > ACTIVE_WEIGHT_THRESHOLD``.
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_, feature_names_in_
    """

    _HYPERPARAMETERS: ClassVar[dict] = {
        **LOOP_HYPERPARAMETERS,
        "reg_covar": REAL_AT_LEAST_0,
    }

    def __init__(self, *, n_components=1, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100,
                 n_init=1, init_params="kmeans", weight_concentration_prior_type="dirichlet_process",
                 weight_concentration_prior=None, mean_precision_prior=None, mean_prior=None,
                 degrees_of_freedom_prior=None, covariance_prior=None, random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    def _model(self):
        return self._fitted_model

    def _params(self):
        return self._posterior

    def _build_model(self, X, source, covariance):
        """The model with its priors for data X: validation of every prior, defaults from data."""
        n_features = X.shape[1]
        concentration = _check_positive_prior(
            self.weight_concentration_prior, "weight_concentration_prior", 0.0, "a finite number > 0")
        weights = make_weight_prior(self.weight_concentration_prior_type,
                                    1.0 / self.n_components if concentration is None else concentration)
        mean_precision = _check_positive_prior(
            self.mean_precision_prior, "mean_precision_prior", 0.0, "a finite number > 0")
        dof = _check_positive_prior(self.degrees_of_freedom_prior, "degrees_of_freedom_prior", n_features - 1.0,
                                    f"a finite number > n_features - 1 = {n_features - 1}")
        precision = make_precision_prior(covariance)
        mean = _check_mean_prior(self.mean_prior, n_features)
        scale = None if self.covariance_prior is None else precision.check_scale(self.covariance_prior, n_features)
        if mean is None or scale is None:
            data_mean, data_cov = data_moments(source)
            mean = data_mean if mean is None else mean
            scale = self._default_scale(precision, data_cov, n_features) if scale is None else scale
        prior = NormalPrecisionPrior(
            mean_precision=1.0 if mean_precision is None else mean_precision,
            mean=mean,
            dof=float(n_features) if dof is None else dof,
            scale=scale,
        )
        return GaussianVB(covariance, weights, precision, prior, self.reg_covar, X.dtype)

    def _default_scale(self, precision, data_cov, n_features):
        """The empirical covariance in the type's shape, as scikit-learn uses it; where that is not
        positive definite (a constant feature, or n_samples <= n_features) reg_covar is added to its
        diagonal (our addition), which keeps the Wishart / Gamma prior proper and the ELBO finite."""
        try:
            return precision.check_scale(precision.default_scale(data_cov), n_features)
        except ValueError:
            pass
        ridged = data_cov + self.reg_covar * np.eye(n_features)
        try:
            return precision.check_scale(precision.default_scale(ridged), n_features)
        except ValueError:
            raise ValueError(
                f"covariance_prior=None: the empirical covariance of X plus reg_covar={self.reg_covar!r} "
                "is not positive definite (a constant feature, or n_samples <= n_features); expected "
                "an explicit covariance_prior or reg_covar > 0") from None

    def fit(self, X, y=None, sample_weight=None):
        """Fit q(pi, mu, Lambda) by coordinate ascent on the ELBO; returns self. A failed fit
        leaves self unchanged."""
        check_hyperparameters(self, self._HYPERPARAMETERS)
        covariance = make_covariance(self.covariance_type)  # the fit's one strategy
        make_weight_prior(self.weight_concentration_prior_type, 1.0)
        check_option(self.init_params, "init_params", INIT_METHODS)
        X, weights, record = self._check_fit_input(X, sample_weight, covariance)
        source = self._source(X, weights, covariance)
        model = self._build_model(X, source, covariance)
        K = self.n_components
        options = engine.FitOptions(self.tol, self.max_iter, self.n_init, self.verbose, self.verbose_interval)
        legacy = kmeans_state(self.random_state)  # shared by the restarts, as scikit-learn
        if self._is_warm():
            previous = self._posterior.astype(X.dtype)
            options = engine.FitOptions(self.tol, self.max_iter, 1, self.verbose, self.verbose_interval)

            def start(rng):
                return previous
        else:
            def start(rng):
                # The initial partition's statistics through the VB M-step give the first q(theta).
                return model.maximize(initial_stats(model, source, K, self.init_params, rng,
                                                    kmeans_state=legacy), None)

        result = engine.fit(model, source, start, options, as_generator(self.random_state),
                            initial_bound=self.lower_bound_ if self._is_warm() else -np.inf)
        self._warn_if_not_converged(result)
        self._set_fitted(result, record, model)
        return self

    def _set_fitted(self, result: engine.FitResult, record, model) -> None:
        """The only place fitted attributes are written."""
        params, prior = result.params, model.prior
        self._fitted_model = model
        self._covariance = model.covariance
        self._posterior = params
        self.weights_ = model.expected_weights(params).astype(params.means.dtype)
        self.means_ = params.means
        self.precisions_cholesky_ = params.prec_chol
        self.weight_concentration_ = model.weights.attribute(params.concentration)
        self.mean_precision_ = params.mean_precision
        self.degrees_of_freedom_ = params.dof if params.dof.ndim else params.dof[()]
        self.weight_concentration_prior_ = model.weights.concentration
        self.mean_precision_prior_ = prior.mean_precision
        self.mean_prior_ = prior.mean
        self.degrees_of_freedom_prior_ = prior.dof
        self.covariance_prior_ = prior.scale if prior.scale.ndim else float(prior.scale)
        self.active_components_ = self.weights_ > ACTIVE_WEIGHT_THRESHOLD
        set_loop_attributes(self, result, record)

    # ---- densities -------------------------------------------------------------------------

    def score_samples(self, X):
        """ln p(x_n | data) per row, (n_samples,): the log posterior predictive density, a mixture
        of Student-t (10.81) weighted by ``weights_`` (products of 1-D Student-t for diag). This is
        a normalised density, unlike scikit-learn's (which returns ln sum_k rho_nk, 10.46)."""
        check_is_fitted(self, "precisions_cholesky_")
        model, params = self._model(), self._params()
        return self._map_rows(X, lambda c: logsumexp_rows(model.log_predictive_components(c, params)))

    def score_samples_plugin(self, X):
        """ln sum_k weights_k N(x_n | means_k, covariances_k), (n_samples,): the plug-in density of
        the posterior point estimates (E[pi_k], m_k, E[Lambda_k]^{-1})."""
        check_is_fitted(self, "precisions_cholesky_")
        em = GaussianEM(self._covariance, self.reg_covar, self.means_.dtype)
        plugin = GaussianParams(self.weights_, self.means_, self.precisions_cholesky_)
        return self._map_rows(X, lambda c: logsumexp_rows(em.log_prob_components(c, plugin)))
