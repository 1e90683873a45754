"""BayesianGaussianMixture: variational Bayes (PRML 10.2) behind scikit-learn's estimator API."""

from __future__ import annotations

from typing import ClassVar

from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..backends.imputed import mean_imputed
from ..engine.starts import INIT_METHODS, data_moments, partition_start
from ..families.precision_priors import NormalPrecisionPrior, default_scale
from ..families.registry import make_covariance, make_precision_prior
from ..families.weights import make_weight_prior
from ..kernels.linalg import logsumexp_rows
from ..models import GaussianEM, GaussianParams, GaussianVB
from ._base import _GaussianMixtureBase
from ._fitted import set_loop_attributes
from .mixture_parts import MixtureParts, Warm
from .online import GaussianVBStream, OnlineMixture, streaming
from .validation import (
    LOOP_HYPERPARAMETERS,
    REAL_AT_LEAST_0,
    check_hyperparameters,
    check_mean_prior,
    check_option,
    check_positive_prior,
    kmeans_state,
)

# A component whose expected weight E[pi_k] is at or below this is reported inactive in
# ``active_components_``: it holds under 1% of the expected mass (the cut scikit-learn's
# concentration-prior example uses). Unused components of a VB fit sit near alpha_0 / (N + ...).
ACTIVE_WEIGHT_THRESHOLD = 0.01


@streaming(GaussianVBStream())
class BayesianGaussianMixture(OnlineMixture, _GaussianMixtureBase):
    """Gaussian mixture fitted by variational Bayes (PRML 10.2).

    A drop-in for ``sklearn.mixture.BayesianGaussianMixture``: the same parameters, defaults and
    fitted attributes, plus ``sample_weight`` in ``fit`` (integer weights give the fit of repeated
    rows), float32 end to end, ``chunk_size`` passes, and ``active_components_``.

    Priors: q(pi) is a finite symmetric Dirichlet (10.39) or a truncated stick-breaking Dirichlet
    process; each component has mu_k | Lambda_k ~ N(m_0, (beta_0 Lambda_k)^{-1}) with a Wishart
    on Lambda_k (full), one shared Wishart (tied), independent Gammas per dimension (diag), or one
    Gamma per component (spherical); see ``mixfit.families.precision_priors`` for the
    parametrisation.

    Documented differences from scikit-learn:

    - ``lower_bound_`` / ``lower_bounds_`` are the full ELBO with every constant, per unit of
      sample weight; ``tol`` bounds the change of the total (that times the summed weight).
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
        The number of mixture components (the truncation level of the Dirichlet process).
        Depending on the data and the value of ``weight_concentration_prior``, the model can
        decide not to use all of them, which ``active_components_`` reports.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        String describing the type of covariance parameters to use. Must be one of:

        - 'full': each component has its own general covariance matrix (Wishart prior).
        - 'tied': all components share the same general covariance matrix (one Wishart).
        - 'diag': each component has its own diagonal covariance matrix (a Gamma per
          dimension).
        - 'spherical': each component has its own single variance (one Gamma).
    tol : float, default=1e-3
        The convergence threshold. Iterations stop when the change of the total ELBO
        (``lower_bound_`` times the summed sample weight) is below it, scikit-learn's rule.
    reg_covar : float, default=1e-6
        Non-negative regularization added to the diagonal of each component's scatter S_k
        before the Wishart/Gamma update (as scikit-learn), and to the default
        ``covariance_prior`` where the empirical covariance is not positive definite.
    max_iter : int, default=100
        The number of variational iterations to perform; 0 returns the initialisation.
    n_init : int, default=1
        The number of initializations to perform, each from its own random stream spawned from
        ``random_state``. The fit with the largest final ELBO is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hierarchical', \
'kmeans_subsample'}, default='kmeans'
        The method used to initialize q: the variational M-step of a first partition of the
        rows, drawn as in ``GaussianMixture`` ('kmeans': k-means; 'k-means++': nearest
        k-means++ centre; 'random': random responsibilities; 'random_from_data': nearest of
        rows drawn at random; 'hierarchical': model-based agglomerative clustering of a
        subset; 'kmeans_subsample': nearest of the k-means centres of a row sample, for large
        n_samples).
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
default='dirichlet_process'
        String describing the type of the weight concentration prior:

        - 'dirichlet_process': the stick-breaking representation of a Dirichlet process,
          truncated at ``n_components``.
        - 'dirichlet_distribution': a finite symmetric Dirichlet distribution (10.39).
    weight_concentration_prior : float or None, default=None
        The Dirichlet concentration of each component on the weight distribution (commonly
        called gamma in the literature), a finite number > 0. The higher concentration puts
        more mass in the center and will lead to more components being active, while a lower
        concentration parameter will lead to more mass at the edge of the simplex. If None,
        it is set to ``1. / n_components``.
    mean_precision_prior : float or None, default=None
        The precision prior on the mean distribution (Gaussian), beta_0 > 0. Controls the
        extent of where means can be placed. Larger values concentrate the cluster means
        around ``mean_prior``. If None, it is set to 1.
    mean_prior : array-like of shape (n_features,), default=None
        The prior on the mean distribution (Gaussian), m_0. If None, it is set to the mean of X
        (weighted by ``sample_weight``).
    degrees_of_freedom_prior : float or None, default=None
        The prior of the number of degrees of freedom on the covariance distributions, nu_0, a
        finite number > n_features - 1. If None, it is set to ``n_features``.
    covariance_prior : float or array-like, default=None
        The prior on the covariance distribution: W_0^{-1} (full, tied), the variances psi_0
        (diag) or psi_0 (spherical). If None, the empirical covariance of X (ddof=1, with
        ``sample_weight`` as frequency weights) in that shape, as scikit-learn; where it is not
        positive definite (a constant feature, n_samples <= n_features) plus ``reg_covar`` on
        its diagonal, which keeps the prior proper (scikit-learn would fail there). The shape
        depends on ``covariance_type``::

            (n_features, n_features) if 'full',
            (n_features, n_features) if 'tied',
            (n_features)             if 'diag',
            float                    if 'spherical'

    random_state : int, Generator, RandomState instance or None, default=None
        Controls the random seed given to the method chosen to initialize the parameters (see
        ``init_params``) and to each of the ``n_init`` starts. In addition, it controls the
        generation of random samples from the fitted distribution (see the method ``sample``,
        which also takes its own). Pass an int for reproducible output across multiple function
        calls.
    warm_start : bool, default=False
        If True, the solution of the last fitting (the posterior q) is used as initialization
        for the next call of fit(), which then continues from it. In that case ``n_init`` is
        ignored and only a single initialization occurs upon the first call. X must have the
        same number of features as before.
    verbose : int, default=0
        Enable verbose output. If 1 then it prints the current initialization and, at its end,
        whether it converged, the time taken and the final ELBO. If greater than 1 then it also
        prints the time and the change of the ELBO every ``verbose_interval`` iterations.
    verbose_interval : int, default=10
        Number of iterations done before the next print.
    chunk_size : int, default=None
        Rows per chunk of each pass over the data (E-step, statistics, prediction). None picks
        the rows whose working set is about 8 MB (at least 256). The fit does not depend on it
        beyond floating-point rounding.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The expected weights E[pi_k] of the mixture components under q (for the Dirichlet
        process, the expected stick-breaking weights renormalised over the K sticks), in X's
        dtype.
    means_ : ndarray of shape (n_components, n_features)
        The mean of each mixture component, m_k.
    covariances_ : ndarray
        The plug-in covariance of each mixture component, E[Lambda_k]^{-1} = (nu_k W_k)^{-1}
        (computed from ``precisions_cholesky_``). The shape depends on ``covariance_type``::

            (n_components,)                        if 'spherical',
            (n_features, n_features)               if 'tied',
            (n_components, n_features)             if 'diag',
            (n_components, n_features, n_features) if 'full'

    precisions_ : ndarray
        The expected precision of each component, E[Lambda_k] = nu_k W_k (computed from
        ``precisions_cholesky_``); the shape depends on ``covariance_type`` as for
        ``covariances_``.
    precisions_cholesky_ : ndarray
        The Cholesky factor of ``precisions_``, the one stored parametrisation; the shape
        depends on ``covariance_type`` as for ``covariances_``.
    converged_ : bool
        True when convergence of the best fit of inference was reached, False otherwise.
    n_iter_ : int
        Number of steps used by the best fit of inference to reach the convergence.
    lower_bound_ : float
        The ELBO of the best fit, with every constant, per unit of sample weight (evaluated
        before its last update, as scikit-learn).
    lower_bounds_ : list of float of length ``n_iter_``
        The ``lower_bound_`` of each iteration of the best fit.
    weight_concentration_prior_ : float
        The concentration used (``weight_concentration_prior`` or its default
        ``1 / n_components``).
    weight_concentration_ : ndarray of shape (n_components,) or tuple of two such arrays
        The posterior concentration of q(pi). The type depends on
        ``weight_concentration_prior_type``::

            (ndarray, ndarray) if 'dirichlet_process' (the Beta parameters of each stick),
            ndarray            if 'dirichlet_distribution' (the Dirichlet parameters).

    mean_precision_prior_ : float
        The precision prior on the mean distribution used, beta_0.
    mean_precision_ : ndarray of shape (n_components,)
        The posterior precision of each component on the mean distribution, beta_k.
    mean_prior_ : ndarray of shape (n_features,)
        The prior on the mean distribution used, m_0 (float64).
    degrees_of_freedom_prior_ : float
        The prior of the number of degrees of freedom used, nu_0.
    degrees_of_freedom_ : ndarray of shape (n_components,) or scalar
        The posterior number of degrees of freedom of each component, nu_k (one scalar for
        'tied': nu_0 + N).
    covariance_prior_ : float or ndarray
        The prior on the covariance distribution used, in the shape of ``covariance_prior``
        (float64).
    active_components_ : ndarray of bool of shape (n_components,)
        True for the components whose ``weights_`` exceed 0.01 (more than 1% of the expected
        mass; the cut of scikit-learn's concentration-prior example).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when X has feature names that are all
        strings.

    See Also
    --------
    GaussianMixture : Gaussian mixture fitted by maximum likelihood (or MAP) with EM.
    """

    _HYPERPARAMETERS: ClassVar[dict] = {
        **LOOP_HYPERPARAMETERS,
        "reg_covar": REAL_AT_LEAST_0,
    }

    def __init__(self, *, n_components=1, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100,
                 n_init=1, init_params="kmeans", weight_concentration_prior_type="dirichlet_process",
                 weight_concentration_prior=None, mean_precision_prior=None, mean_prior=None,
                 degrees_of_freedom_prior=None, covariance_prior=None, random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10, chunk_size=None, learning_offset=0.0, learning_decay=0.6,
                 total_samples=None):
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
        self.learning_offset, self.learning_decay, self.total_samples = learning_offset, learning_decay, total_samples

    _MISSING_IN_PREDICTION = _MISSING_IN_FIT = True  # NaN: missing values (models/missing_vb.py)

    def _model(self):
        return self._fitted_model

    def _params(self):
        return self._posterior

    def fit(self, X, y=None, sample_weight=None):
        """Estimate model parameters with the variational algorithm.

        Fits q(pi, mu, Lambda) by coordinate ascent on the ELBO, ``n_init`` times, and keeps the
        fit with the largest final ELBO. Within each trial, it iterates until the change of the
        total ELBO (as scikit-learn's) is less than ``tol`` or ``max_iter`` iterations are done;
        a ``ConvergenceWarning`` is raised if the kept fit did not converge. If ``warm_start`` is
        True and the estimator is fitted, ``n_init`` is ignored and the fit continues from the
        previous q. A fit that fails (an error) leaves the estimator unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            List of n_features-dimensional data points. Each row corresponds to a single data
            point. float32 data are fitted in float32 and float64 in float64; other dtypes are
            converted to float64. X may also be larger than memory: a ``numpy.memmap``, any
            array-like with ``shape``, ``dtype`` and row slicing (zarr, h5py), or a dask array,
            which is checked and read in row chunks and never loaded whole (docs/scale.md).
            NaN entries are missing at random: q(x_m | z) joins q(Z) (docs/math/conditional.md);
            the start and the data-based prior defaults read a missing entry as its column's
            weighted mean. A row with no observed value, or infinity, is refused.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative finite weights of the rows (a scalar applies to every row), with at
            least ``n_components`` positive; None weighs every row 1. An integer weight acts
            as that many copies of the row (also in the data-based prior defaults), to rounding,
            from a weight-exact start: 'kmeans', 'k-means++' or ``means_init`` (as for
            ``GaussianMixture.fit``). With dask X it may be a dask array.

        Returns
        -------
        self : object
            The fitted mixture.
        """
        check_hyperparameters(self, self._HYPERPARAMETERS)
        covariance = make_covariance(self.covariance_type)  # the fit's one strategy
        make_weight_prior(self.weight_concentration_prior_type, 1.0)
        check_option(self.init_params, "init_params", INIT_METHODS)
        X, weights, record = self._check_fit_input(X, sample_weight, covariance)
        parts = self._parts(X, weights, covariance, record._has_missing)
        result = self._run(parts)
        self._set_fitted(result, record, parts.model)
        return self

    def _parts(self, X, weights, covariance, has_missing=None, bounded_start=False) -> MixtureParts:
        """GaussianVB with its priors (each checked; the defaults from the data), started from the
        VB M-step of a first partition (both reading a NaN as its column's mean), or the previous q;
        ``bounded_start``: 'kmeans' in bounded memory (``partial_fit``'s first call)."""
        n_features = X.shape[1]
        concentration = check_positive_prior(
            self.weight_concentration_prior, "weight_concentration_prior", 0.0, "a finite number > 0")
        weight_prior = make_weight_prior(self.weight_concentration_prior_type,
                                         1.0 / self.n_components if concentration is None else concentration)
        mean_precision = check_positive_prior(
            self.mean_precision_prior, "mean_precision_prior", 0.0, "a finite number > 0")
        dof = check_positive_prior(self.degrees_of_freedom_prior, "degrees_of_freedom_prior", n_features - 1.0,
                                   f"a finite number > n_features - 1 = {n_features - 1}")
        precision = make_precision_prior(covariance)
        mean = check_mean_prior(self.mean_prior, n_features)
        scale = None if self.covariance_prior is None else precision.check_scale(self.covariance_prior, n_features)
        source = self._source(X, weights, covariance)
        start_source = source if has_missing is False else mean_imputed(source, source.chunk_size)
        if mean is None or scale is None:
            data_mean, data_cov = data_moments(start_source)
            mean = data_mean if mean is None else mean
            scale = default_scale(precision, data_cov, n_features, self.reg_covar) if scale is None else scale
        prior = NormalPrecisionPrior(mean_precision=1.0 if mean_precision is None else mean_precision, mean=mean,
                                     dof=float(n_features) if dof is None else dof, scale=scale)
        model = GaussianVB(covariance, weight_prior, precision, prior, self.reg_covar, X.dtype)
        # kmeans_state: one legacy RandomState shared by the restarts, as scikit-learn
        start = partition_start(model, start_source, self.n_components, self.init_params,
                                kmeans_state(self.random_state), bounded_start)
        warm = Warm(self._posterior.astype(X.dtype), self.lower_bound_) if self._is_warm() else None
        return MixtureParts(model, source, start, None, warm, tol_on_total=True)

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
        """Compute the log posterior predictive density of each sample.

        ln p(x_n | data), a mixture of Student-t (10.81) weighted by ``weights_`` (products of
        1-D Student-t for diag): a normalised density, unlike scikit-learn's ln sum_k rho_nk
        (10.46). A row with NaN entries (missing): the marginal of its observed features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to evaluate, checked as in ``fit``: in memory, a memmap or chunked array-like
            (read in row chunks), or a dask array (the result is then a lazy dask array with X's
            row blocks; see docs/scale.md).

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            The log posterior predictive density of each row, in X's dtype.
        """
        check_is_fitted(self, "precisions_cholesky_")
        model, params = self._model(), self._params()
        return self._map_rows(X, lambda c: logsumexp_rows(model.log_predictive_components(c, params)))

    def score_samples_plugin(self, X):
        """Compute the log density of each sample under the plug-in mixture.

        ln sum_k weights_k N(x_n | means_k, covariances_k): the Gaussian mixture of the posterior
        point estimates (E[pi_k], m_k, E[Lambda_k]^-1), the density ``sample`` draws from.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to evaluate, checked as in ``fit``: in memory, a memmap or chunked array-like
            (read in row chunks), or a dask array (the result is then a lazy dask array with X's
            row blocks; see docs/scale.md).

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            The plug-in log density of each row, in X's dtype.
        """
        check_is_fitted(self, "precisions_cholesky_")
        em = GaussianEM(self._covariance, self.reg_covar, self.means_.dtype)
        plugin = GaussianParams(self.weights_, self.means_, self.precisions_cholesky_)
        return self._map_rows(X, lambda c: logsumexp_rows(em.log_prob_components(c, plugin)))
