"""StudentMixture: a mixture of multivariate Student-t distributions fitted by EM, behind the
Gaussian mixture's scikit-learn API (docs/math/student.md)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.stats import f as f_distribution
from sklearn.utils.validation import check_is_fitted

from ..backends.imputed import mean_imputed
from ..engine.collapse import ON_COLLAPSE, make_policy
from ..engine.starts import INIT_METHODS, data_moments, given_start
from ..families.registry import make_covariance, make_precision_prior
from ..models.student_dof import make_dof_rule
from ..models.student_t import StudentEM, StudentParams
from ._base import _GaussianMixtureBase
from ._fitted import set_loop_attributes
from .mixture_parts import MixtureParts, Warm
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


class StudentMixture(_GaussianMixtureBase):
    """Mixture of multivariate Student-t distributions fitted by maximum likelihood (or MAP) with EM.

    Robust clustering (Peel and McLachlan 2000): each row carries a latent scale u_n that
    down-weights it when it lies far from its component, so gross outliers move neither a mean nor
    a scale matrix much. The parameters and fitted attributes are ``GaussianMixture``'s where they
    mean the same; ``covariances_`` are the components' scale matrices Sigma_k (a t component's
    covariance is Sigma_k nu_k / (nu_k - 2) for nu_k > 2). The degrees of freedom are estimated
    per component, shared, or fixed (``dof``). As nu -> inf the fit is ``GaussianMixture``'s.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The family of the scale matrices, as ``GaussianMixture``'s covariances.
    dof : {'estimate', 'tied'} or float, default='estimate'
        The degrees of freedom nu_k: 'estimate', one per component, each by its M-step equation;
        'tied', one shared by every component; a positive number, fixed for every component
        (1 is the Cauchy; a very large value, say 1e10, gives the Gaussian mixture).
    dof_init : float, default=10
        The degrees of freedom of the first E-step when ``dof`` is 'estimate' or 'tied'
        (ignored for a fixed ``dof``). Must be > 0.
    tol : float, default=1e-3
        The convergence threshold on the change of ``lower_bound_`` (the log-likelihood per unit
        of sample weight).
    reg_covar : float, default=1e-6
        Non-negative regularization added to the diagonal of every scale matrix.
    max_iter : int, default=100
        The number of EM iterations to perform; 0 returns the initialisation.
    n_init : int, default=1
        The number of initializations to perform; the fit with the largest final lower bound is
        kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hierarchical', \
'kmeans_subsample'}, default='kmeans'
        The first partition of the rows, whose Gaussian M-step (every u_n = 1) gives the first
        weights, means and scale matrices, as in ``GaussianMixture``.
    weights_init : array-like of shape (n_components,), default=None
        The user-provided initial weights. Never written to.
    means_init : array-like of shape (n_components, n_features), default=None
        The user-provided initial means. Never written to.
    precisions_init : array-like, default=None
        The user-provided initial precisions (inverses of the scale matrices), shaped as
        ``GaussianMixture``'s. When all three ``*_init`` are given, EM starts from them directly.
    random_state : int, Generator, RandomState instance or None, default=None
        Seeds the start and the ``n_init`` restarts, and ``sample`` when it is given none.
    warm_start : bool, default=False
        If True, the next ``fit`` continues from this fit's parameters (nu included).
    verbose : int, default=0
        Enable verbose output, as ``GaussianMixture``.
    verbose_interval : int, default=10
        Number of iterations done before the next print.
    chunk_size : int, default=None
        Rows per chunk of each pass over the data. None picks the rows whose working set is about
        8 MB. The fit does not depend on it beyond floating-point rounding.
    on_collapse : {'raise', 'reseed', 'drop'}, default='raise'
        What to do when a component collapses onto a point, as ``GaussianMixture``.
    prior : None, 'default' or ConjugatePrior, default=None
        None: maximum likelihood. Otherwise MAP EM under ``GaussianMixture``'s conjugate
        Normal-inverse-Wishart prior on each component's location and scale matrix (Fraley and
        Raftery 2007; 'default' is ``ConjugatePrior()``, with mclust's data-based defaults), no
        prior on the weights or the degrees of freedom. The M-step is then the posterior mode
        given the latent scales, which no data set makes singular; ``lower_bound_`` is the log
        posterior per unit of weight. Defined for the families 'full', 'tied', 'diag' and
        'spherical'.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The weights of each mixture component, in X's dtype.
    means_ : ndarray of shape (n_components, n_features)
        The location (mean, for nu_k > 1) of each component.
    covariances_ : ndarray
        The scale matrix Sigma_k of each component (computed from ``precisions_cholesky_``),
        shaped as ``GaussianMixture.covariances_`` for ``covariance_type``.
    precisions_ : ndarray
        The inverses of the scale matrices, computed from ``precisions_cholesky_``.
    precisions_cholesky_ : ndarray
        The Cholesky factor of each inverse scale matrix: the one stored parametrisation.
    degrees_of_freedom_ : ndarray of shape (n_components,)
        The degrees of freedom nu_k of each component (float64; equal entries for 'tied' or a
        fixed ``dof``).
    converged_ : bool
        True when convergence of the best fit of EM was reached, False otherwise.
    n_iter_ : int
        Number of steps used by the best fit of EM to reach the convergence.
    lower_bound_ : float
        The log-likelihood per unit of sample weight of the best fit (with ``prior``, the log
        posterior up to the evidence), evaluated before its last M-step, as scikit-learn.
    lower_bounds_ : list of float of length ``n_iter_``
        The ``lower_bound_`` of each iteration of the best fit.
    collapse_events_ : list of dict
        One dict per component reseeded or dropped by ``on_collapse`` in the best fit.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when X has feature names that are all
        strings.

    See Also
    --------
    GaussianMixture : the same model with Gaussian components (nu -> inf).

    Notes
    -----
    The means, scale matrices and weights are updated by EM; the degrees of freedom by the
    one-dimensional root of their M-step equation (``scipy.optimize.brentq``), which uses the
    E-step's E[u] and E[ln u] at the previous nu (the form of McLachlan and Peel 2000, section 7.5;
    Liu and Rubin's ECME form would need a second pass over the data per iteration). Every step
    maximises the expected complete-data log-likelihood, so ``lower_bounds_`` never decreases
    (up to ``reg_covar``). Derivation: docs/math/student.md.

    NaN entries of X are missing values (at random), in ``fit`` and in every per-row method, as
    in ``GaussianMixture``: each component's t marginal over a row's observed coordinates, and
    the E-step's statistics carry the conditional expectations (docs/math/student.md, "Missing
    values"). A row with no observed value, or infinity, is refused.
    """

    _HYPERPARAMETERS: ClassVar[dict] = {
        **LOOP_HYPERPARAMETERS,
        "reg_covar": REAL_AT_LEAST_0,
    }
    _MISSING_IN_PREDICTION = True  # NaN entries are missing values (models/student_missing.py)
    _MISSING_IN_FIT = True

    def __init__(self, n_components=1, *, covariance_type="full", dof="estimate", dof_init=10.0, tol=1e-3,
                 reg_covar=1e-6, max_iter=100, n_init=1, init_params="kmeans", weights_init=None,
                 means_init=None, precisions_init=None, random_state=None, warm_start=False, verbose=0,
                 verbose_interval=10, chunk_size=None, on_collapse="raise", prior=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.dof = dof
        self.dof_init = dof_init
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

    def _model(self, dtype=None):
        return StudentEM(self._covariance, self.reg_covar, make_dof_rule(self.dof, self.dof_init),
                         self.means_.dtype if dtype is None else dtype)

    def _params(self) -> StudentParams:
        return StudentParams(self.weights_, self.means_, self.precisions_cholesky_, self.degrees_of_freedom_)

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the model parameters with the EM algorithm.

        As ``GaussianMixture.fit``: ``n_init`` runs, each iterating E- and M-steps until the
        change of the lower bound is below ``tol`` or ``max_iter`` iterations are done; the run
        with the largest final lower bound is kept. A fit that fails leaves the estimator
        unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows: float32 or float64 (others are converted to float64), in memory, a
            ``numpy.memmap`` or chunked array-like, or a dask array (read in row chunks).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative finite weights of the rows; an integer weight acts as that many copies
            of the row from the weight-exact starts (see ``GaussianMixture.fit``).

        Returns
        -------
        self : object
            The fitted mixture.

        Raises
        ------
        ValueError
            If ``dof``, ``dof_init`` or ``prior`` is not valid (the message names it), or
            ``prior`` is given for a family without a conjugate prior.
        CollapsedComponentError
            When a component collapses and ``on_collapse='raise'``.
        """
        check_hyperparameters(self, self._HYPERPARAMETERS)
        covariance = make_covariance(self.covariance_type)
        make_dof_rule(self.dof, self.dof_init)  # checks dof and dof_init before any data is read
        check_option(self.init_params, "init_params", INIT_METHODS)
        check_option(self.on_collapse, "on_collapse", ON_COLLAPSE)
        prior_spec = check_prior_spec(self.prior)
        X, weights, record = self._check_fit_input(X, sample_weight, covariance)
        result = self._run(self._parts(X, weights, covariance, prior_spec, record._has_missing))
        params = result.params
        self._covariance = covariance
        self.weights_ = params.weights
        self.means_ = params.means
        self.precisions_cholesky_ = params.prec_chol
        self.degrees_of_freedom_ = np.asarray(params.dof, dtype=np.float64)
        self.collapse_events_ = [event.as_dict() for event in result.events]
        set_loop_attributes(self, result, record)
        return self

    def _parts(self, X, weights, covariance, prior_spec, has_missing=None) -> MixtureParts:
        """EM (MAP with a prior) from the given ``*_init`` completed by the Gaussian start of
        ``init_params`` (nu = the rule's first value), or from the previous fit."""
        K, n_features = self.n_components, X.shape[1]
        given = (check_weights_init(self.weights_init, K), check_means_init(self.means_init, K, n_features),
                 None if self.precisions_init is None
                 else covariance.check_precisions(self.precisions_init, K, n_features))
        source = self._source(X, weights, covariance)
        # the starts read missing entries as their column's mean (backends/imputed.py); EM the rows as they are
        start_source = source if has_missing is False else mean_imputed(source, source.chunk_size)
        rule = make_dof_rule(self.dof, self.dof_init)
        prior = precision = None
        if prior_spec is not None:  # GaussianMixture's prior, resolved from the data as there
            precision = make_precision_prior(covariance)
            data_mean, data_cov = data_moments(start_source)
            prior = resolve_prior(prior_spec, precision, data_mean, data_cov, K, n_features, self.reg_covar,
                                  X.dtype)
        model = StudentEM(covariance, self.reg_covar, rule, X.dtype, prior, precision)
        gaussian = given_start(model, start_source, K, self.init_params, given, X.dtype, kmeans_state(self.random_state))

        def start(rng, policy):  # the Gaussian start's weights, means and factors; nu from the rule
            first = gaussian(rng, policy)
            return StudentParams(first.weights, first.means, first.prec_chol, rule.initial(first.weights.shape[0]))

        warm = Warm(self._params().astype(X.dtype), self.lower_bound_) if self._is_warm() else None
        return MixtureParts(model, source, start, lambda: make_policy(self.on_collapse), warm)

    # ---- sampling and outlier scores -------------------------------------------------------

    def sample(self, n_samples=1, random_state=None):
        """Generate random samples from the fitted t mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate (an integer >= 1).
        random_state : int, Generator, RandomState or None, default=None
            Seeds this call only; None falls back to the estimator's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Randomly generated sample, in ``means_``'s dtype, grouped by component: each row
            mu_k + z / sqrt(u), z ~ N(0, Sigma_k), u ~ Gamma(nu_k / 2, rate nu_k / 2).
        y : ndarray of shape (n_samples,)
            Component labels.
        """
        check_is_fitted(self, "precisions_cholesky_")
        if not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples!r}; expected an integer >= 1")
        rng = as_generator(self.random_state if random_state is None else random_state)
        weights = self.weights_.astype(np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        X = self._model().draw(rng, self._params(), counts).astype(self.means_.dtype)
        return X, np.repeat(np.arange(self.weights_.shape[0]), counts)

    def expected_scale(self, X):
        """The posterior expectation of each row's latent scale, E[u_n | x_n].

        E[u_n | x_n] = sum_k r_nk (nu_k + D) / (nu_k + delta_nk): about 1 for a typical row,
        small for a row far in the tails (an outlier), so that 1 - E[u_n] ranks the rows by how
        much the fit discounted them. A row with NaN entries: over its observed coordinates
        p_o (D -> p_o, and delta over the observed block).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to evaluate, checked as in ``fit``.

        Returns
        -------
        scale : ndarray of shape (n_samples,)
            E[u_n | x_n] for each row, in X's dtype.
        """
        model, params = self._model(), self._params()
        return self._map_rows(X, lambda chunk: model.expected_scale(chunk, params))

    def mahalanobis(self, X):
        """The squared Mahalanobis distance of each row to its most probable component.

        delta_n = (x_n - mu_k)^T Sigma_k^{-1} (x_n - mu_k) with k = ``predict(X)``. Under
        component k, delta / D follows the F(D, nu_k) distribution, so
        ``mahalanobis(X) > mahalanobis_threshold()[predict(X)]`` flags the rows that a fraction
        ``alpha`` of the component's own rows would exceed (see ``mahalanobis_threshold``). A
        row with NaN entries: the distance over its observed coordinates (which follows p_o
        F(p_o, nu_k) for p_o observed coordinates, not the threshold's D F(D, nu_k)).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to evaluate, checked as in ``fit``.

        Returns
        -------
        distance : ndarray of shape (n_samples,)
            The squared distance to the assigned component, in X's dtype.
        """
        model, params = self._model(), self._params()
        return self._map_rows(X, lambda chunk: model.assigned_distance(chunk, params))

    def mahalanobis_threshold(self, alpha=0.01):
        """Per component, the squared distance that a fraction ``alpha`` of its rows exceed.

        For x ~ t(mu_k, Sigma_k, nu_k) in D dimensions, delta / D ~ F(D, nu_k), so the threshold is
        D F^{-1}(1 - alpha; D, nu_k) (as nu -> inf, the chi-squared quantile of a Gaussian).

        Parameters
        ----------
        alpha : float, default=0.01
            The false-alarm rate per row of a component, in (0, 1).

        Returns
        -------
        threshold : ndarray of shape (n_components,)
            The threshold of each component, float64.
        """
        check_is_fitted(self, "precisions_cholesky_")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0 < alpha < 1:
            raise ValueError(f"alpha={alpha!r}; expected a number in (0, 1)")
        D = self.means_.shape[1]
        # (T.13) delta / D ~ F(D, nu_k): the (1 - alpha) quantile, times D
        return D * f_distribution.isf(alpha, D, self.degrees_of_freedom_)
