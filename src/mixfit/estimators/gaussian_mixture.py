"""GaussianMixture: maximum likelihood by EM behind scikit-learn's estimator API."""

from __future__ import annotations

from typing import ClassVar

from sklearn.utils.validation import check_is_fitted

from ..backends.imputed import mean_imputed
from ..engine.collapse import ON_COLLAPSE, make_policy
from ..engine.starts import INIT_METHODS, data_moments, given_start
from ..families.registry import decomposition, make_covariance, make_map_prior
from ..models import GaussianEM
from ..models.conditional import log_prob_observed
from ._base import _GaussianMixtureBase
from .conditional import register_point_mixture
from .mixture_parts import MixtureParts, Warm
from .online import GaussianEMStream, OnlineMixture, streaming
from .priors import check_prior_spec, resolve_prior
from .restarts import stacked_restarts
from .validation import (
    LOOP_HYPERPARAMETERS,
    REAL_AT_LEAST_0,
    check_hyperparameters,
    check_means_init,
    check_option,
    check_weights_init,
    kmeans_state,
)


@streaming(GaussianEMStream())
class GaussianMixture(OnlineMixture, _GaussianMixtureBase):
    """Gaussian mixture fitted by maximum likelihood with EM (PRML 9.2).

    A drop-in for ``sklearn.mixture.GaussianMixture``: the same parameters, defaults and fitted
    attributes. In addition ``fit`` takes ``sample_weight`` (integer weights give the fit of
    repeated rows from a weight-exact start: see ``fit``), float32 data stay float32, the
    passes run over row chunks of ``chunk_size`` rows (default: a few MB of working set) so no
    (n_samples, n_components) array is allocated while fitting, and ``sample`` takes a per-call ``random_state``.
    ``fit``, ``score_samples``, ``score``, ``predict`` and ``predict_proba`` take NaN entries as missing
    values (missing at random: the density of each row's observed features; docs/math/conditional.md), and ``marginal`` / ``condition`` return
    the mixture over some features (docs/math/conditional.md).

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : str, default='full'
        String describing the type of covariance parameters to use. Must be one of:

        - 'full': each component has its own general covariance matrix.
        - 'tied': all components share the same general covariance matrix.
        - 'diag': each component has its own diagonal covariance matrix.
        - 'spherical': each component has its own single variance.
        - mclust's names: 'VVV', 'EEE', 'VVI', 'VII' are the four above (the same family and
          attribute shapes); 'EII', 'EEI', 'VEI', 'EVI', 'VEE', 'EVE', 'VVE', 'EEV', 'VEV',
          'EVV' constrain the volume, shape and orientation of
          Sigma_k = lambda_k D_k A_k D_k^T (docs/families.md). They support maximum
          likelihood only (``prior`` must be None).
    tol : float, default=1e-3
        The convergence threshold. EM iterations stop when the change of the lower bound (the
        log-likelihood per unit of sample weight, ``lower_bound_``) is below this threshold.
    reg_covar : float, default=1e-6
        Non-negative regularization added to the diagonal of every covariance, so that the
        covariance matrices stay positive definite. For mclust's ten constrained families it is
        added to each component's covariance before the constraint is imposed, which keeps the
        constraint; ``reg_covar=0`` gives mclust's estimates.
    max_iter : int, default=100
        The number of EM iterations to perform; 0 returns the initialisation.
    n_init : int, default=1
        The number of initializations to perform, each from its own random stream spawned from
        ``random_state``. The fit with the largest final lower bound is kept. On small float64
        data in memory (maximum likelihood, ``on_collapse='raise'``, ``verbose=0``) the runs
        advance together, stacked as in ``fit_many``, with the result of running them one after
        another (to rounding).
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hierarchical', \
'mclust', 'kmeans_subsample'}, default='kmeans'
        The method used to initialize the weights, the means and the precisions: the M-step of a
        first partition of the rows. Must be one of:

        - 'kmeans': responsibilities from k-means (for X in memory scikit-learn's KMeans: with
          an integer ``random_state``, the very start scikit-learn draws).
        - 'k-means++': each row assigned to the nearest of k-means++ centres.
        - 'random': random responsibilities.
        - 'random_from_data': each row assigned to the nearest of n_components rows drawn
          at random.
        - 'hierarchical': Ward's (EII) agglomerative clustering of a subset of at most
          2000 rows after whitening, cut at n_components.
        - 'mclust': R mclust's start, its VVV agglomerative tree on the scaled-SVD rows
          (``hc(X, "VVV", use="SVD")``), cut at n_components (``hclass``); every row, in
          memory (O(n^2)).
        - 'kmeans_subsample': responsibilities from the nearest of the centres that
          scikit-learn's KMeans (best of 3 k-means++ restarts) finds on a weighted sample of
          max(10 000, 256 n_components) rows drawn in one pass: about the cost of one EM
          iteration at large n_samples, where 'kmeans' costs several; the same start from
          memory, memmap or dask X. Not scikit-learn's start (see docs/differences.md).
    weights_init : array-like of shape (n_components,), default=None
        The user-provided initial weights. If None, weights are initialized using the
        ``init_params`` method. Never written to.
    means_init : array-like of shape (n_components, n_features), default=None
        The user-provided initial means. If None, means are initialized using the
        ``init_params`` method; if given, the first partition assigns each row to its nearest
        given mean. Never written to.
    precisions_init : array-like, default=None
        The user-provided initial precisions (inverse of the covariance matrices). If None,
        precisions are initialized using the ``init_params`` method. Never written to. The
        shape depends on ``covariance_type``::

            (n_components,)                        if 'spherical' or 'EII',
            (n_features, n_features)               if 'tied',
            (n_components, n_features)             if 'diag', 'EEI', 'VEI' or 'EVI',
            (n_components, n_features, n_features) if 'full' or another mclust name

        For mclust's constrained families they are used as given for the first E-step
        (the constraint is imposed from the first M-step on). When all three of ``weights_init``, ``means_init`` and ``precisions_init`` are given, EM
        starts from them directly.
    random_state : int, Generator, RandomState instance or None, default=None
        Controls the random seed given to the method chosen to initialize the parameters (see
        ``init_params``) and to each of the ``n_init`` starts. In addition, it controls the
        generation of random samples from the fitted distribution (see the method ``sample``,
        which also takes its own). Pass an int for reproducible output across multiple function
        calls.
    warm_start : bool, default=False
        If True, the solution of the last fitting is used as initialization for the next call
        of fit(), which then continues from it. This can speed up convergence when fit is
        called several times on similar problems. In that case, ``n_init`` is ignored and only
        a single initialization occurs upon the first call. X must have the same number of
        features as before.
    verbose : int, default=0
        Enable verbose output. If 1 then it prints the current initialization and, at its end,
        whether it converged, the time taken and the final lower bound. If greater than 1 then
        it also prints the time and the change of the lower bound every ``verbose_interval``
        iterations.
    verbose_interval : int, default=10
        Number of iterations done before the next print.
    chunk_size : int, default=None
        Rows per chunk of each pass over the data (E-step, statistics, prediction). None picks
        the rows whose working set is about 8 MB (at least 256). The fit does not depend on it
        beyond floating-point rounding.
    on_collapse : {'raise', 'reseed', 'drop'}, default='raise'
        What to do when a component collapses onto a point (its covariance is no longer
        positive definite, or, for 'reseed' and 'drop', its mass falls below a thousandth of a
        row's weight):

        - 'raise': raise ``CollapsedComponentError`` naming the component and the remedies (as
          scikit-learn).
        - 'reseed': restart the component at the row worst explained by the others, with the
          covariance of the heaviest other component (at most 10 times per run, then raise).
        - 'drop': remove the component, renormalise the weights and continue with one
          component fewer; the fitted arrays then have fewer than ``n_components`` components.

        Each reseed or drop is announced by a ``CollapseWarning`` and recorded in
        ``collapse_events_``.
    prior : None, 'default' or ConjugatePrior, default=None
        None fits by maximum likelihood. Otherwise EM finds the posterior mode (MAP) under a
        conjugate Normal-inverse-Wishart prior on each component (Fraley and Raftery 2007, as
        R's mclust; 'default' takes their data-based defaults, see ``mixfit.ConjugatePrior``):
        no covariance can become singular, ``lower_bound_`` is then the log posterior per
        sample (up to the evidence), and ``bic``/``aic`` use the log-likelihood at the MAP
        estimate, as mclust does.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The weights of each mixture component, in X's dtype (float64 or float32).
    means_ : ndarray of shape (n_components, n_features)
        The mean of each mixture component.
    covariances_ : ndarray
        The covariance of each mixture component (computed from ``precisions_cholesky_``, not
        stored). The shape depends on ``covariance_type``::

            (n_components,)                        if 'spherical' or 'EII',
            (n_features, n_features)               if 'tied',
            (n_components, n_features)             if 'diag', 'EEI', 'VEI' or 'EVI',
            (n_components, n_features, n_features) if 'full' or another mclust name

    precisions_ : ndarray
        The precision matrices for each component in the mixture. A precision matrix is the
        inverse of a covariance matrix. Computed from ``precisions_cholesky_``; the shape
        depends on ``covariance_type`` as for ``covariances_``.
    precisions_cholesky_ : ndarray
        The Cholesky factor of the precision matrix of each mixture component: the one stored
        parametrisation, from which ``covariances_`` and ``precisions_`` are derived. The shape
        depends on ``covariance_type`` as for ``covariances_``.
    volumes_ : ndarray of shape (n_components,)
        lambda_k = det(Sigma_k)^(1/n_features), the volume of mclust's decomposition
        Sigma_k = lambda_k D_k A_k D_k^T (computed from ``covariances_``, for every family).
    shapes_ : ndarray of shape (n_components, n_features)
        The diagonal of A_k, with product 1: decreasing, except for the diagonal families
        ('diag', 'spherical', 'EII', 'EEI', 'VEI', 'EVI': coordinate order), as mclust reports it.
    orientations_ : ndarray of shape (n_components, n_features, n_features)
        D_k, its columns the eigenvectors of Sigma_k in the order of ``shapes_`` (sign: the
        largest entry of each column positive); the identity for the diagonal families.
    converged_ : bool
        True when convergence of the best fit of EM was reached, False otherwise.
    n_iter_ : int
        Number of steps used by the best fit of EM to reach the convergence.
    lower_bound_ : float
        The log-likelihood per unit of sample weight of the best fit of EM (with ``prior``, the
        log posterior per unit of sample weight, up to the evidence), evaluated before its last
        M-step, as scikit-learn.
    lower_bounds_ : list of float of length ``n_iter_``
        The ``lower_bound_`` of each iteration of the best fit of EM.
    collapse_events_ : list of dict
        One dict per component reseeded or dropped by ``on_collapse`` in the best fit, with keys
        'component', 'iteration' (0: at initialisation), 'action' ('reseed' or 'drop') and
        'reason'. Empty when nothing collapsed.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when X has feature names that are all
        strings.

    See Also
    --------
    BayesianGaussianMixture : Gaussian mixture fitted by variational Bayes.
    GaussianMixtureIC : Gaussian mixture whose K and covariance type are selected in ``fit``.
    """

    _HYPERPARAMETERS: ClassVar[dict] = {
        **LOOP_HYPERPARAMETERS,
        "reg_covar": REAL_AT_LEAST_0,
    }

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", weights_init=None, means_init=None,
                 precisions_init=None, random_state=None, warm_start=False, verbose=0,
                 verbose_interval=10, chunk_size=None, on_collapse="raise", prior=None, learning_offset=0.0,
                 learning_decay=0.6, total_samples=None):
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
        self.learning_offset, self.learning_decay, self.total_samples = learning_offset, learning_decay, total_samples

    _MISSING_IN_PREDICTION = True
    _MISSING_IN_FIT = True

    def _model(self):
        return GaussianEM(self._covariance, self.reg_covar, self.means_.dtype)

    def _log_rho_fn(self):
        """chunk -> ln rho (chunk, K) over each row's observed entries (NaN: missing); a chunk
        with nothing missing takes the model's kernel as it is."""
        check_is_fitted(self, self._FITTED)
        model, params = self._model(), self._params()
        return lambda chunk: log_prob_observed(model, params, chunk)

    @property
    def volumes_(self):
        return self._decomposition()[0]

    @property
    def shapes_(self):
        return self._decomposition()[1]

    @property
    def orientations_(self):
        return self._decomposition()[2]

    def _decomposition(self):
        return decomposition(self.covariance_type, self.covariances_, *self.means_.shape)

    def fit(self, X, y=None, sample_weight=None):
        """Estimate model parameters with the EM algorithm.

        The method fits the model ``n_init`` times and keeps the parameters of the fit with the
        largest final lower bound. Within each trial, it iterates between E-step and M-step
        until the change of the lower bound is less than ``tol`` or ``max_iter`` iterations are
        done; a ``ConvergenceWarning`` is raised if the kept fit did not converge. If
        ``warm_start`` is True and the estimator is fitted, ``n_init`` is ignored and the fit
        continues from the previous parameters. A fit that fails (an error) leaves the
        estimator unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            List of n_features-dimensional data points. Each row corresponds to a single data
            point. float32 data are fitted in float32 and float64 in float64; other dtypes are
            converted to float64. X may also be larger than memory: a ``numpy.memmap``, any
            array-like with ``shape``, ``dtype`` and row slicing (zarr, h5py), or a dask array,
            which is checked and read in row chunks and never loaded whole (docs/scale.md).
            NaN entries are missing values (at random): the E-step uses each row's observed
            features and the statistics their conditional expectations, so ``lower_bound_`` is
            the observed-data log-likelihood; the start (``init_params``, a prior's defaults)
            reads a missing entry as its column's weighted mean. A row with no observed value,
            or infinity, is refused.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative finite weights of the rows (a scalar applies to every row), with at
            least ``n_components`` positive; None weighs every row 1. An integer weight acts
            as that many copies of the row (to rounding) from the starts that are weight-exact:
            'kmeans', 'k-means++', 'kmeans_subsample' (the last two, and 'kmeans' out of core:
            while every row fits in their one-pass sample) and ``means_init``; 'hierarchical'
            only drops zero-weight rows exactly, and 'random' and 'random_from_data' draw per
            row. With dask X it may be a dask array.

        Returns
        -------
        self : object
            The fitted mixture.

        Raises
        ------
        CollapsedComponentError
            When a component collapses and ``on_collapse='raise'``.
        """
        check_hyperparameters(self, self._HYPERPARAMETERS)
        covariance = make_covariance(self.covariance_type)
        check_option(self.init_params, "init_params", INIT_METHODS)
        check_option(self.on_collapse, "on_collapse", ON_COLLAPSE)
        prior_spec = check_prior_spec(self.prior)
        X, weights, record = self._check_fit_input(X, sample_weight, covariance)
        result = self._run(self._parts(X, weights, covariance, prior_spec, record._has_missing))
        self._set_fitted(result, record, covariance)
        return self

    def _parts(self, X, weights, covariance, prior_spec, has_missing=None, bounded_start=False) -> MixtureParts:
        """EM (MAP with a prior) from the given ``*_init`` completed by the start of ``init_params``
        through the collapse policy, or from the previous fit; ``bounded_start``: 'kmeans' in
        bounded memory (``partial_fit``'s first call; engine.starts.kmeans_centres)."""
        K, n_features = self.n_components, X.shape[1]
        given = (check_weights_init(self.weights_init, K), check_means_init(self.means_init, K, n_features),
                 None if self.precisions_init is None
                 else covariance.check_precisions(self.precisions_init, K, n_features))
        source = self._source(X, weights, covariance)
        # The starts read missing entries as their column's mean (backends/imputed.py); EM reads
        # the rows as they are.
        # (has_missing None: not known from the checks; mean_imputed looks, one pass out of core)
        start_source = source if has_missing is False else mean_imputed(source, source.chunk_size)
        prior = precision = None
        if prior_spec is not None:
            precision = make_map_prior(covariance)
            data_mean, data_cov = data_moments(start_source)
            prior = resolve_prior(prior_spec, precision, data_mean, data_cov, K, n_features, self.reg_covar,
                                  X.dtype)
        model = GaussianEM(covariance, self.reg_covar, X.dtype, prior, precision)
        # kmeans_state: one legacy RandomState shared by the restarts, as scikit-learn
        state = kmeans_state(self.random_state) if self.init_params == "kmeans" else None  # only k-means reads it
        start = given_start(model, start_source, K, self.init_params, given, X.dtype, state, bounded_start)
        warm = Warm(self._params().astype(X.dtype), self.lower_bound_) if self._is_warm() else None
        policy = lambda: make_policy(self.on_collapse)
        # n_init restarts of small data stacked (restarts.py): maximum likelihood, 'raise', no NaN
        restarts = None if prior is not None or self.on_collapse != "raise" or has_missing is not False else \
            stacked_restarts(model, source, start, policy, X, weights, covariance, self.reg_covar, K, self.n_init)
        return MixtureParts(model, source, start, policy, warm, restarts=restarts)


register_point_mixture(GaussianMixture)  # the class that marginal / condition return
