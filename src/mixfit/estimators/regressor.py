"""GaussianMixtureRegressor: Gaussian mixture regression, p(y | x) from a joint mixture on [X, y]."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from ..models import conditional as maths
from ._fitted import set_feature_attributes
from .gaussian_mixture import GaussianMixture
from .persistence import save_estimator
from .validation import as_generator, validate_X

_DTYPES = [np.float64, np.float32]


class GaussianMixtureRegressor(RegressorMixin, BaseEstimator):
    """Gaussian mixture regression: a ``GaussianMixture`` fitted on the joint rows [X, y], and
    p(y | x), a Gaussian mixture, read off it (docs/math/conditional.md).

    ``predict(X)`` is the conditional mean E[y | x] = sum_k r_k(x) m_k(x): each component's
    Schur-complement mean m_k(x) (linear in x), weighted by the responsibilities of x under the
    mixture's marginal over the X columns. With one component this is least-squares linear
    regression (ridged by ``reg_covar``); with more it follows non-linear and multi-branch
    relations, and ``return_std`` / ``return_cov`` / ``sample_y`` give the spread of the
    conditional mixture, not only its mean. ``score`` is R^2 (``RegressorMixin``).

    Parameters
    ----------
    n_components : int, default=1
        The number of components of the joint mixture.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The covariance type of the joint mixture. Only 'full' and 'tied' couple y to x within a
        component; with 'diag' or 'spherical' each component predicts its own constant mean of
        y, so the prediction is a soft partition of the X space.
    tol : float, default=1e-3
        The EM convergence threshold, as in ``GaussianMixture``.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance, as in ``GaussianMixture``.
    max_iter : int, default=100
        The number of EM iterations, as in ``GaussianMixture``.
    n_init : int, default=1
        The number of initializations, as in ``GaussianMixture``.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hierarchical', \
'kmeans_subsample'}, default='kmeans'
        The method of the first partition of the joint rows, as in ``GaussianMixture``.
    weights_init : array-like of shape (n_components,), default=None
        Initial weights, as in ``GaussianMixture``.
    means_init : array-like of shape (n_components, n_features + n_outputs), default=None
        Initial means of the joint mixture (X columns first, then y's).
    precisions_init : array-like, default=None
        Initial precisions of the joint mixture, as in ``GaussianMixture``.
    random_state : int, Generator, RandomState instance or None, default=None
        Seeds the fit (as in ``GaussianMixture``) and, when ``sample_y`` is given none, its draws.
    warm_start : bool, default=False
        If True, a new fit continues from the joint mixture of the last one.
    verbose : int, default=0
        Verbosity of the EM fit, as in ``GaussianMixture``.
    verbose_interval : int, default=10
        Iterations between two prints of the EM fit.
    chunk_size : int, default=None
        Rows per chunk of each pass of the EM fit, as in ``GaussianMixture``.
    on_collapse : {'raise', 'reseed', 'drop'}, default='raise'
        What to do when a component collapses, as in ``GaussianMixture``.
    prior : None, 'default' or ConjugatePrior, default=None
        None: maximum likelihood; otherwise the MAP fit of ``GaussianMixture`` on [X, y].

    Attributes
    ----------
    mixture_ : GaussianMixture
        The joint mixture over the ``n_features_in_`` columns of X followed by the ``n_outputs_``
        columns of y.
    n_outputs_ : int
        The number of targets (columns of y).
    n_iter_ : int
        The EM iterations of the joint fit (``mixture_.n_iter_``).
    converged_ : bool
        Whether the joint fit converged (``mixture_.converged_``).
    y_ndim_ : int
        1 when y was fitted as a 1-D array (predictions are then 1-D), else 2.
    n_features_in_ : int
        Number of features of X seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when X has feature names that are all
        strings.

    See Also
    --------
    GaussianMixture : The joint mixture, whose ``condition`` gives p(y | x) for one x.
    """

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the joint Gaussian mixture on the rows [X, y] by EM.

        A fit that fails (an error) leaves the estimator unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The inputs, finite (float32 stays float32; other dtypes become float64).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets, finite; a 1-D y gives 1-D predictions.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows, as in ``GaussianMixture.fit``.

        Returns
        -------
        self : object
            The fitted regressor.
        """
        record = clone(self)  # X's bookkeeping is written to self only once the fit has succeeded
        try:
            X, y = validate_data(record, X, y, multi_output=True, y_numeric=True, dtype=_DTYPES,
                                 ensure_min_samples=2)
        except ValueError:
            validate_X(clone(self), X, dtype=_DTYPES, ensure_min_samples=2)  # X's own fault: an error naming X
            raise
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        joint = np.hstack([X, targets.astype(X.dtype, copy=False)])  # (n, D + n_outputs)
        params = self.get_params(deep=False)
        warm = self.warm_start and "mixture_" in vars(self)
        mixture = self.mixture_ if warm else GaussianMixture()
        mixture.set_params(**params).fit(joint, sample_weight=sample_weight)
        self.mixture_ = mixture
        self.n_iter_ = mixture.n_iter_
        self.converged_ = mixture.converged_
        self.n_outputs_ = int(targets.shape[1])
        self.y_ndim_ = int(y.ndim)
        set_feature_attributes(self, record)
        return self

    def _prediction(self, X, full_covariance=False):
        """The conditional mixture of y at the rows of X (``models.conditional.Prediction``)."""
        check_is_fitted(self, "mixture_")
        X = validate_X(self, X, dtype=_DTYPES, reset=False)
        D = self.n_features_in_
        given, other = np.arange(D), np.arange(D, D + self.n_outputs_)
        mixture = self.mixture_
        return maths.regression(mixture._covariance, mixture._params(), given, other, X, full_covariance), X.dtype

    def _shaped(self, values, dtype):
        """(n, n_outputs, ...) as y was: its output axis dropped for a 1-D y."""
        values = values.astype(dtype, copy=False)
        return values[:, 0] if self.y_ndim_ == 1 else values

    def predict(self, X, return_std=False, return_cov=False):
        """Predict E[y | x] for each row of X, and optionally its spread.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The inputs, finite.
        return_std : bool, default=False
            Also return the standard deviation of each target under p(y | x) (the conditional
            mixture: within-component and between-component spread).
        return_cov : bool, default=False
            Also return the covariance of the targets under p(y | x). At most one of
            ``return_std`` and ``return_cov`` may be True.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The conditional means (1-D when y was fitted 1-D), in X's dtype.
        y_std : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Only with ``return_std``: the conditional standard deviations.
        y_cov : ndarray of shape (n_samples, n_outputs, n_outputs)
            Only with ``return_cov``: the conditional covariances.
        """
        if return_std and return_cov:
            raise ValueError("return_std and return_cov are both True; expected at most one of them")
        prediction, dtype = self._prediction(X, full_covariance=bool(return_cov))
        mean = self._shaped(prediction.mean, dtype)
        if return_std:
            return mean, self._shaped(np.sqrt(prediction.variance), dtype)
        if return_cov:
            return mean, prediction.covariance.astype(dtype, copy=False)
        return mean

    def sample_y(self, X, n_samples=1, random_state=None):
        """Draw targets from p(y | x) for each row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            The inputs, finite.
        n_samples : int, default=1
            Draws per row (an integer >= 1).
        random_state : int, Generator, RandomState or None, default=None
            Seeds this call; None falls back to the estimator's ``random_state``.

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples) or (n_samples_X, n_outputs, n_samples)
            The draws (the first shape when y was fitted 1-D), as scikit-learn's
            ``GaussianProcessRegressor.sample_y``.
        """
        if not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples!r}; expected an integer >= 1")
        prediction, dtype = self._prediction(X)
        rng = as_generator(self.random_state if random_state is None else random_state)
        draws = maths.draw(prediction, rng, int(n_samples))  # (n, n_samples, n_outputs)
        return self._shaped(np.swapaxes(draws, 1, 2), dtype)

    def save(self, path, *, metadata=None) -> None:
        """Write this fitted regressor to ``path`` as a model file; read it back with ``mixfit.load``.

        Parameters
        ----------
        path : str or path-like
            Where to write the file (conventionally ``*.mixfit``).
        metadata : dict, default=None
            Free JSON stored beside the model.
        """
        save_estimator(self, path, metadata)
