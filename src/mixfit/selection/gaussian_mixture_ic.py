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

    Parameters
    ----------
    n_components : int or iterable of int, default 1..9
        The numbers of components tried.
    covariance_types : str or iterable of str, default all four
    criterion : {'bic', 'aic', 'icl'}, default='bic'
        Lower is better (scikit-learn's sign); see ``mixfit.selection``.
    n_init : int, default=3
        Random starts per cell, besides the hierarchical start (``hierarchical_start``).
    init_params : str, default='kmeans'
        How the random starts are drawn.
    hierarchical_start : bool, default=True
    tol, reg_covar, max_iter, on_collapse, prior, random_state, n_jobs
        As ``GaussianMixture`` and ``select_model``.

    Attributes
    ----------
    best_estimator_ : GaussianMixture, the selected fit
    n_components_, covariance_type_ : the selected cell
    selection_ : SelectionResult, the whole table
    weights_, means_, covariances_, precisions_, precisions_cholesky_, converged_, n_iter_,
    lower_bound_ : those of ``best_estimator_``
    n_features_in_, feature_names_in_
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
        """Fit every cell, keep the best by ``criterion``; returns self."""
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
        X = self._validated(X)
        return self.best_estimator_.predict(X)

    def predict_proba(self, X):
        X = self._validated(X)
        return self.best_estimator_.predict_proba(X)

    def score_samples(self, X):
        X = self._validated(X)
        return self.best_estimator_.score_samples(X)

    def score(self, X, y=None):
        """Mean log-likelihood per row under the selected model."""
        return float(self.score_samples(X).mean(dtype=np.float64))

    def fit_predict(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def bic(self, X):
        X = self._validated(X)
        return self.best_estimator_.bic(X)

    def aic(self, X):
        X = self._validated(X)
        return self.best_estimator_.aic(X)

    def sample(self, n_samples=1, random_state=None):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.sample(n_samples, random_state=random_state)

    def save(self, path, *, metadata=None) -> None:
        """Write this fitted model to ``path``; read it back with ``mixfit.load``."""
        save_estimator(self, path, metadata)
