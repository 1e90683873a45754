"""GaussianMixtureIC: a Gaussian mixture whose K and covariance type are chosen inside ``fit``."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted

from ..estimators._base import _DTYPES
from ..estimators.persistence import save_estimator
from ..estimators.validation import validate_X
from ..families.registry import COVARIANCE_TYPES
from .tables import CRITERIA, select_model

# The fitted attributes that are those of best_estimator_ (the same objects).
BEST_ATTRIBUTES = ("weights_", "means_", "precisions_cholesky_", "converged_", "n_iter_", "lower_bound_")


class GaussianMixtureIC(DensityMixin, BaseEstimator):
    """Gaussian mixture by EM with the number of components and the covariance type selected by
    an information criterion when fitting (``mixfit.select_model``), so that the selection runs
    inside a Pipeline, ``GridSearchCV`` or ``cross_val_score`` like any estimator.

    Prediction, scoring and sampling are those of the selected ``GaussianMixture``
    (``best_estimator_``).

    Parameters
    ----------
    n_components : int or iterable of int, default=(1, 2, ..., 9)
        The numbers of components tried (distinct integers >= 1).
    covariance_types : str or iterable of str, default=('full', 'tied', 'diag', 'spherical')
        The covariance types tried (distinct; see ``GaussianMixture``).
    criterion : {'bic', 'aic', 'icl'}, default='bic'
        The information criterion that picks the cell; lower is better (scikit-learn's sign).
        See ``mixfit.select_model``.
    n_init : int, default=3
        Random starts per cell, besides the hierarchical start (``hierarchical_start``); 0
        leaves the hierarchical start only.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the random starts are drawn (see ``GaussianMixture``).
    hierarchical_start : bool, default=True
        Also start each cell from the model-based hierarchical partition of a subset of the
        rows; the better of that fit and the random starts is kept.
    tol : float, default=1e-3
        The convergence threshold of each fit, as in ``GaussianMixture``.
    reg_covar : float, default=1e-6
        Non-negative regularization added to the diagonal of every covariance, as in
        ``GaussianMixture``.
    max_iter : int, default=100
        The number of EM iterations of each fit, as in ``GaussianMixture``.
    on_collapse : {'raise', 'reseed', 'drop'}, default='raise'
        What a fit does when a component collapses, as in ``GaussianMixture``; a cell that
        raises is left out of the selection (NA in ``selection_``).
    prior : None, 'default' or ConjugatePrior, default=None
        None fits by maximum likelihood, otherwise by MAP under the conjugate prior, as in
        ``GaussianMixture``.
    random_state : int, Generator, RandomState instance or None, default=None
        Seeds the hierarchical subset and every cell's starts; pass an int for reproducible
        output across multiple function calls.
    n_jobs : int, default=None
        Cells fitted in parallel by joblib processes (None: 1; -1: all cores); the result is
        the same for any value.

    Attributes
    ----------
    best_estimator_ : GaussianMixture
        The fit of the selected cell.
    n_components_ : int
        The selected number of components.
    covariance_type_ : str
        The selected covariance type.
    selection_ : SelectionResult
        The whole table of the sweep (every cell, its criteria and its fit).
    weights_ : ndarray of shape (`n_components_`,)
        The weights of the selected mixture (``best_estimator_.weights_``).
    means_ : ndarray of shape (`n_components_`, n_features)
        The means of the selected mixture.
    covariances_ : ndarray
        The covariances of the selected mixture, shaped by ``covariance_type_`` as in
        ``GaussianMixture``.
    precisions_ : ndarray
        The precision matrices of the selected mixture.
    precisions_cholesky_ : ndarray
        The Cholesky factors of the precision matrices of the selected mixture.
    converged_ : bool
        Whether the selected fit converged.
    n_iter_ : int
        Number of EM steps of the selected fit.
    lower_bound_ : float
        The log-likelihood per unit of sample weight of the selected fit (with ``prior``, the
        log posterior).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when X has feature names that are all
        strings.

    See Also
    --------
    select_model : The sweep itself, with EM or VB and both sign conventions.
    """

    def __init__(self, n_components=(1, 2, 3, 4, 5, 6, 7, 8, 9), *, covariance_types=COVARIANCE_TYPES,
                 criterion="bic", n_init=3, init_params="kmeans", hierarchical_start=True, tol=1e-3,
                 reg_covar=1e-6, max_iter=100, on_collapse="raise", prior=None, random_state=None, n_jobs=None):
        self.n_components = n_components
        self.covariance_types = covariance_types
        self.criterion = criterion
        self.n_init = n_init
        self.init_params = init_params
        self.hierarchical_start = hierarchical_start
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.on_collapse = on_collapse
        self.prior = prior
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None, sample_weight=None):
        """Fit every (n_components, covariance_type) cell and keep the best by ``criterion``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            List of n_features-dimensional data points, in memory (float32 kept, other dtypes
            converted to float64).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows, passed to every fit (see ``GaussianMixture.fit``);
            n in the criteria is their sum.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            If no cell could be fitted; the message gives each cell's reason.
        """
        if self.criterion not in CRITERIA["em"]:
            raise ValueError(f"criterion={self.criterion!r}; expected one of {list(CRITERIA['em'])}")
        X = validate_X(self, X, dtype=_DTYPES, ensure_min_samples=2)
        result = select_model(
            X, self.n_components, self.covariance_types, method="em", criterion=self.criterion,
            hierarchical_start=self.hierarchical_start, n_init=self.n_init, init_params=self.init_params,
            random_state=self.random_state, n_jobs=self.n_jobs, sample_weight=sample_weight, tol=self.tol,
            reg_covar=self.reg_covar, max_iter=self.max_iter, on_collapse=self.on_collapse, prior=self.prior)
        best = result.best
        if best is None:
            reasons = "; ".join(f"K={c.n_components} {c.covariance_type}: {c.reason}" for c in result.cells)
            raise ValueError(f"no (n_components, covariance_type) cell could be fitted to X: {reasons}")
        model = best.estimator
        self.selection_ = result
        self.best_estimator_ = model
        self.n_components_ = best.n_components
        self.covariance_type_ = best.covariance_type
        for name in BEST_ATTRIBUTES:
            setattr(self, name, getattr(model, name))
        return self

    @property
    def covariances_(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.covariances_

    @property
    def precisions_(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.precisions_

    def _validated(self, X):
        check_is_fitted(self, "best_estimator_")
        return validate_X(self, X, dtype=_DTYPES, reset=False)

    def predict(self, X):
        """Predict the labels for the data samples in X using the selected model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            List of n_features-dimensional data points, in memory (float32 kept, other dtypes
            converted to float64).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        X = self._validated(X)
        return self.best_estimator_.predict(X)

    def predict_proba(self, X):
        """Evaluate the components' posterior probability for each sample under the selected model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            List of n_features-dimensional data points, in memory (float32 kept, other dtypes
            converted to float64).

        Returns
        -------
        resp : ndarray of shape (n_samples, `n_components_`)
            The responsibilities p(k | x_n); each row sums to 1.
        """
        X = self._validated(X)
        return self.best_estimator_.predict_proba(X)

    def score_samples(self, X):
        """Compute the log-likelihood of each sample under the selected model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            List of n_features-dimensional data points, in memory (float32 kept, other dtypes
            converted to float64).

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            ln p(x_n) of each row.
        """
        X = self._validated(X)
        return self.best_estimator_.score_samples(X)

    def score(self, X, y=None):
        """Compute the per-sample average log-likelihood of the given data X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            List of n_features-dimensional data points, in memory (float32 kept, other dtypes
            converted to float64).
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        log_likelihood : float
            The mean of ``score_samples(X)`` over the rows under the selected model.
        """
        return float(self.score_samples(X).mean(dtype=np.float64))

    def fit_predict(self, X, y=None, sample_weight=None):
        """Select and fit the model using X, then predict the labels for X.

        The same as ``fit(X, sample_weight=sample_weight).predict(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training data, as in ``fit``.
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

    def bic(self, X):
        """Bayesian information criterion of the selected model on the input X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            List of n_features-dimensional data points, in memory (float32 kept, other dtypes
            converted to float64).

        Returns
        -------
        bic : float
            -2 ln L + p ln n (``GaussianMixture.bic``); the lower the better.
        """
        X = self._validated(X)
        return self.best_estimator_.bic(X)

    def aic(self, X):
        """Akaike information criterion of the selected model on the input X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            List of n_features-dimensional data points, in memory (float32 kept, other dtypes
            converted to float64).

        Returns
        -------
        aic : float
            -2 ln L + 2 p (``GaussianMixture.aic``); the lower the better.
        """
        X = self._validated(X)
        return self.best_estimator_.aic(X)

    def sample(self, n_samples=1, random_state=None):
        """Generate random samples from the selected model.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate (an integer >= 1).
        random_state : int, Generator, RandomState or None, default=None
            Seeds this call only; None falls back to the selected fit's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Randomly generated sample.
        y : ndarray of shape (n_samples,)
            Component labels.
        """
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.sample(n_samples, random_state=random_state)

    def save(self, path, *, metadata=None) -> None:
        """Write this fitted model to ``path`` as a model file; read it back with ``mixfit.load``.

        The file holds ``best_estimator_`` and the rows of ``selection_`` (format: the docstring
        of ``mixfit.modelfile.io``).

        Parameters
        ----------
        path : str or path-like
            Where to write the file (conventionally ``*.mixfit``); an existing file is replaced
            atomically.
        metadata : dict, default=None
            Free JSON stored beside the model; ``mixfit.modelfile.read_model_file`` returns it.
        """
        save_estimator(self, path, metadata)
