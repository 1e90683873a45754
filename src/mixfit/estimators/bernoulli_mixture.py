"""BernoulliMixture: mixtures of multivariate Bernoulli distributions by EM or VB, on the seam."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import ClassifierTags
from sklearn.utils.validation import check_is_fitted

from ..backends.inputs import is_chunked
from ..engine import criteria
from ..engine.starts import INIT_METHODS, partition_start
from ..exceptions import ConvergenceWarning
from ..families.weights import make_weight_prior
from ..kernels.linalg import logsumexp_rows
from ..models import BernoulliVB
from ._predict import _ChunkPredictions
from .bernoulli_parts import bernoulli_model, bernoulli_source, fitted_model, fitted_params, set_fitted
from .mixture_parts import MixtureParts, Warm, run_parts
from .online import BernoulliStream, OnlineMixture, streaming
from .persistence import save_estimator
from .validation import (
    LOOP_HYPERPARAMETERS,
    as_generator,
    check_hyperparameters,
    check_option,
)
from .validation_binary import (
    binary_X,
    check_binarize,
    check_binary_chunk,
    check_binary_fit_input,
    lazy_binary_X,
    working_dtype,
)

METHODS = ("em", "vb")
_WHAT = "a Bernoulli mixture"  # how the binary checks name the model


@streaming(BernoulliStream())
class BernoulliMixture(OnlineMixture, _ChunkPredictions, DensityMixin, BaseEstimator):
    """Mixture of multivariate Bernoulli distributions (PRML 9.3.3), by EM or variational Bayes.

    Each component k gives every feature i an independent success probability mu_ki; the mixture
    captures correlations between features that a single product of Bernoullis cannot. X is
    binary: a dense array of 0/1 in any integer, bool or float dtype, or a scipy sparse matrix
    (used in CSR form, read in row chunks, never densified). Non-binary X is refused, unless
    ``binarize`` is given. X may also be larger than memory, as for ``GaussianMixture``: a
    ``numpy.memmap``, any array-like with ``shape``, ``dtype`` and row slicing (zarr, h5py), or a
    ``dask.array``; such X (dense 0/1, ``binarize=None``) is checked and read chunk by chunk, never
    loaded, and on dask the predictions are lazy dask arrays (docs/scale.md). The fit runs in
    float32 for float32 X and in float64 otherwise.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    method : {'em', 'vb'}, default='em'
        'em': the posterior mode (MAP) under the Beta prior by EM; with ``alpha=beta=1`` (the flat
        prior) this is maximum likelihood, where a mu_ki may reach exactly 0 or 1 (evaluated
        exactly: a 1 where mu_ki = 0 has probability 0). 'vb': variational Bayes with q(mu_ki)
        Beta and q(pi) Dirichlet or stick-breaking; ``lower_bound_`` is the full ELBO.
    tol : float, default=1e-3
        The convergence threshold. Iterations stop when the change of the per-sample objective
        (``lower_bound_``) is below this threshold.
    max_iter : int, default=100
        The number of EM (or VB) iterations to perform; 0 returns the initialisation.
    n_init : int, default=1
        The number of initializations to perform, each from its own random stream spawned from
        ``random_state``. The fit with the largest final objective is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hierarchical', \
'kmeans_subsample'}, default='kmeans'
        A first partition (nearest centre, or random responsibilities) whose M-step gives the
        start; the methods are those of ``GaussianMixture``.
    alpha : float or None, default=None
        The first parameter of the Beta(alpha, beta) prior on every success probability. None:
        2 for EM (the MAP estimate is then (ones + 1) / (N_k + 2), Laplace's rule, which keeps
        every mu_ki inside (0, 1)), 1 for VB (uniform). EM needs values >= 1; VB values > 0.
    beta : float or None, default=None
        The second parameter of the Beta(alpha, beta) prior, with the same defaults and ranges
        as ``alpha``.
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
default='dirichlet_process'
        The VB prior on the weights: a stick-breaking Dirichlet process truncated at
        ``n_components``, or a finite symmetric Dirichlet distribution (ignored by EM, whose
        weights are N_k / N).
    weight_concentration_prior : float or None, default=None
        The concentration of the VB weight prior, a finite number > 0; None: ``1 / n_components``
        (ignored by EM).
    binarize : float or None, default=None
        None: X must be binary. A threshold t: X is replaced by (X > t) (as scikit-learn's
        ``BernoulliNB``); for sparse X, t must be >= 0 so that zeros stay zeros.
    random_state : int, Generator, RandomState instance or None, default=None
        Controls the random seed given to the method chosen to initialize the parameters (see
        ``init_params``) and to each of the ``n_init`` starts, and the samples drawn by
        ``sample``. Pass an int for reproducible output across multiple function calls.
    warm_start : bool, default=False
        If True, the solution of the last fitting (of the same ``method``) is used as
        initialization for the next call of fit(), which then continues from it; ``n_init`` is
        then ignored. X must have the same number of features as before.
    verbose : int, default=0
        Enable verbose output. If 1 then it prints the current initialization and, at its end,
        whether it converged, the time taken and the final objective. If greater than 1 then it
        also prints the time and the change of the objective every ``verbose_interval``
        iterations.
    verbose_interval : int, default=10
        Number of iterations done before the next print.
    chunk_size : int, default=None
        Rows per chunk of each pass over the data. None picks the rows whose working set is
        about 8 MB (at least 256; for sparse X sized by the mean stored entries per row).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The weights pi_k (EM) or E[pi_k] (VB) of the mixture components.
    means_ : ndarray of shape (n_components, n_features)
        The success probabilities mu_ki (EM) or E[mu_ki] (VB), in the dtype of the fit.
    alpha_prior_ : float
        The alpha of the Beta prior used (``alpha`` or its default).
    beta_prior_ : float
        The beta of the Beta prior used (``beta`` or its default).
    weight_concentration_prior_ : float
        VB only: the concentration of the weight prior used.
    weight_concentration_ : ndarray of shape (n_components,) or tuple of two such arrays
        VB only: the posterior concentration of q(pi), in scikit-learn's form (the Beta
        parameters of each stick for 'dirichlet_process', the Dirichlet parameters for
        'dirichlet_distribution').
    beta_posterior_ : tuple of two ndarrays of shape (n_components, n_features)
        VB only: q(mu_ki) = Beta(a_ki, b_ki) as the pair (a, b).
    converged_ : bool
        True when convergence of the best fit was reached, False otherwise.
    n_iter_ : int
        Number of steps used by the best fit to reach the convergence.
    lower_bound_ : float
        The objective of the best fit per unit of sample weight: the log posterior (up to the
        evidence; the log-likelihood for ``alpha=beta=1``) for EM, the ELBO for VB.
    lower_bounds_ : list of float of length ``n_iter_``
        The ``lower_bound_`` of each iteration of the best fit.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when X has feature names that are all
        strings.
    """

    _HYPERPARAMETERS: ClassVar[dict] = LOOP_HYPERPARAMETERS

    def __init__(self, n_components=1, *, method="em", tol=1e-3, max_iter=100, n_init=1, init_params="kmeans",
                 alpha=None, beta=None, weight_concentration_prior_type="dirichlet_process",
                 weight_concentration_prior=None, binarize=None, random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10, chunk_size=None, learning_offset=0.0, learning_decay=0.6,
                 total_samples=None):
        self.n_components = n_components
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.alpha = alpha
        self.beta = beta
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.binarize = binarize
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size
        self.learning_offset, self.learning_decay, self.total_samples = learning_offset, learning_decay, total_samples

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # scikit-learn's tag protocol: its base builds the tags
        tags.input_tags.sparse = True
        # scikit-learn's sparse checks read classifier_tags of anything with predict_proba, whose
        # columns here are the components: 'multi_class' means more than two of them.
        tags.classifier_tags = ClassifierTags(multi_class=self.n_components > 2)
        return tags

    # ---- the boundary ----------------------------------------------------------------------

    def _source(self, X, sample_weight=None):
        return bernoulli_source(X, sample_weight, self.chunk_size, self.n_components)

    def _is_warm(self) -> bool:
        if not (self.warm_start and "means_" in vars(self)):
            return False
        return self.method == "em" or "beta_posterior_" in vars(self)

    # ---- fitting ---------------------------------------------------------------------------

    def fit(self, X, y=None, sample_weight=None):
        """Estimate model parameters by EM (MAP) or variational Bayes, as ``method`` says.

        The method fits the model ``n_init`` times and keeps the fit with the largest final
        objective; a ``ConvergenceWarning`` is raised if it did not converge within
        ``max_iter`` iterations. A fit that fails (an error) leaves the estimator unchanged.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Binary training data: 0/1 in any integer, bool or float dtype (or any real values
            with ``binarize``), a scipy sparse matrix (used as CSR, never densified), or X
            larger than memory (a memmap, an array-like with row slicing, a dask array), read
            in row chunks. float32 X is fitted in float32, anything else in float64.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative finite weights of the rows (a scalar applies to every row), with at
            least ``n_components`` positive; None weighs every row 1. An integer weight acts
            exactly as that many copies of the row. With dask X it may be a dask array.

        Returns
        -------
        self : object
            The fitted mixture.
        """
        check_hyperparameters(self, self._HYPERPARAMETERS)
        check_option(self.method, "method", METHODS)
        check_option(self.init_params, "init_params", INIT_METHODS)
        make_weight_prior(self.weight_concentration_prior_type, 1.0)
        check_binarize(self.binarize)
        X, weights, record = check_binary_fit_input(self, X, sample_weight, _WHAT)
        parts = self._parts(X, weights, working_dtype(X))
        result = run_parts(self, parts)
        if not result.converged and self.max_iter > 0:
            warnings.warn(
                f"Best performing initialization did not converge in max_iter={self.max_iter} iterations "
                f"(tol={self.tol}). Try different init parameters, or increase max_iter or tol.",
                ConvergenceWarning, stacklevel=2)
        self._set_fitted(result, record, parts.model)
        return self

    def _parts(self, X, weights, dtype) -> MixtureParts:
        """EM (MAP) or VB as ``method`` says, under the checked Beta prior, started from the M-step
        of a first partition, or from the previous fit."""
        model = bernoulli_model(self, dtype)
        source = self._source(X, weights)
        start = partition_start(model, source, self.n_components, self.init_params)
        warm = None
        if self._is_warm():
            previous = self._params()
            warm = Warm(previous if self.method == "vb" else previous.astype(dtype))
        return MixtureParts(model, source, start, None, warm)

    def _set_fitted(self, result, record, model) -> None:
        set_fitted(self, result, record, model)

    # ---- the fitted model, rebuilt from the public attributes -------------------------------

    def _model(self):
        return fitted_model(self)

    def _params(self):
        return fitted_params(self)

    # ---- prediction ------------------------------------------------------------------------

    _FITTED = "means_"

    def _prediction_input(self, X):
        if is_chunked(X):  # out of core or dask: finite and binary checked as the chunks are read
            return (lazy_binary_X(self, X, self.binarize, reset=False), self.means_.dtype,
                    lambda chunk, start: check_binary_chunk(chunk, start, _WHAT))
        return binary_X(self, X, self.binarize, _WHAT, reset=False), self.means_.dtype, None

    def score_samples(self, X):
        """Compute the log density of each sample.

        For EM the fitted mixture's log-likelihood ln sum_k pi_k prod_i Bern(x_i | mu_ki); for VB
        the log posterior predictive density of q, ln sum_k E[pi_k] prod_i Bern(x_i | E[mu_ki]).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Binary rows to evaluate, checked as in ``fit`` (``binarize`` applies): dense, scipy
            sparse, a memmap or chunked array-like (read in row chunks), or a dask array (the
            result is then a lazy dask array with X's row blocks).

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            ln p(x_n) of each row, in ``means_``'s dtype.
        """
        check_is_fitted(self, "means_")
        model, params = self._model(), self._params()
        components = (model.log_predictive_components if isinstance(model, BernoulliVB)
                      else model.log_prob_components)
        return self._map_rows(X, lambda chunk: logsumexp_rows(components(chunk, params)))

    def fit_predict(self, X, y=None, sample_weight=None):
        """Estimate the model parameters using X and predict the labels for X.

        The same as ``fit(X, sample_weight=sample_weight).predict(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Binary training data, as in ``fit``.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, as in ``fit``.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def sample(self, n_samples=1, random_state=None):
        """Generate random samples from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate (an integer >= 1).
        random_state : int, Generator, RandomState or None, default=None
            Seeds this call only; None falls back to the estimator's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Binary rows (0 and 1 in ``means_``'s float dtype), drawn from ``weights_`` and
            ``means_`` (for VB: E[pi_k] and E[mu_ki]); the rows are grouped by component.
        y : ndarray of shape (n_samples,)
            Component labels.
        """
        check_is_fitted(self, "means_")
        if not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples={n_samples!r}; expected an integer >= 1")
        rng = as_generator(self.random_state if random_state is None else random_state)
        weights = self.weights_.astype(np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        y = np.repeat(np.arange(self.weights_.shape[0]), counts)
        X = (rng.random((n_samples, self.means_.shape[1])) < self.means_[y]).astype(self.means_.dtype)
        return X, y

    # ---- model selection -------------------------------------------------------------------

    def _n_parameters(self) -> int:
        """Free parameters: K - 1 weights and K D success probabilities."""
        return self._model().n_parameters(*self.means_.shape)

    def bic(self, X):
        """Bayesian information criterion for the current model on the input X.

        BIC = -2 ln L + p ln n, lower is better, with ln L the sum of ``score_samples(X)``, n the
        number of rows and p = K - 1 + K D free parameters.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The binary data on which the criterion is evaluated, as for ``score_samples``.

        Returns
        -------
        bic : float
            The lower the better.
        """
        log_p = self.score_samples(X)
        return criteria.bic(float(log_p.sum(dtype=np.float64)), self._n_parameters(), log_p.shape[0])

    def aic(self, X):
        """Akaike information criterion for the current model on the input X.

        AIC = -2 ln L + 2 p, lower is better, with ln L and p as in ``bic``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The binary data on which the criterion is evaluated, as for ``score_samples``.

        Returns
        -------
        aic : float
            The lower the better.
        """
        return criteria.aic(float(self.score_samples(X).sum(dtype=np.float64)), self._n_parameters())

    def save(self, path, *, metadata=None) -> None:
        """Write this fitted model to ``path`` as a model file; read it back with ``mixfit.load``.

        The file is a zip of JSON and ``.npy`` arrays that loading never unpickles (format and
        versioning: the docstring of ``mixfit.modelfile.io``). A ``random_state`` that is a
        Generator or RandomState object is stored as None, with a warning: prediction does not
        use it.

        Parameters
        ----------
        path : str or path-like
            Where to write the file (conventionally ``*.mixfit``); an existing file is replaced
            atomically.
        metadata : dict, default=None
            Free JSON stored beside the model (the command line records the data's columns
            there); ``mixfit.modelfile.read_model_file`` returns it.
        """
        save_estimator(self, path, metadata)
