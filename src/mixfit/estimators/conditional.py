"""``marginal`` and ``condition`` of a fitted Gaussian mixture: the boundary (feature indices and
values, checked once, errors naming the argument) and the fitted ``GaussianMixture`` built from
the parameters that ``models.conditional`` computes.

The result is always a ``GaussianMixture`` (also for a ``BayesianGaussianMixture``, whose point
parameters ``weights_``, ``means_``, ``covariances_`` are used). Its class reaches this module
through ``register_point_mixture`` (``gaussian_mixture`` registers itself when imported), so
that the base class of every Gaussian mixture can offer the methods without an import cycle.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..families.registry import make_covariance
from ..models import GaussianParams
from ..models import conditional as maths

_POINT_MIXTURE: list[type] = []


def register_point_mixture(cls: type) -> None:
    """Install ``cls`` (``GaussianMixture``) as the class of the mixtures built here."""
    _POINT_MIXTURE[:] = [cls]


def check_features(estimator, features, name: str = "features") -> np.ndarray:
    """Distinct coordinate indices (or names, when the fit saw ``feature_names_in_``) of the
    fitted model: at least one and not all of them. Returns them as an int array, in order."""
    n_features = estimator.n_features_in_
    names = getattr(estimator, "feature_names_in_", None)
    items = [features] if isinstance(features, (str, numbers.Integral)) else np.asarray(features).ravel().tolist()
    indices = []
    for item in items:
        if isinstance(item, (str, np.str_)):
            if names is None or item not in set(names):
                known = "the fit saw no feature names" if names is None else f"expected one of {list(names)}"
                raise ValueError(f"{name} names {item!r}, which is not a feature of the fitted model ({known})")
            indices.append(int(np.flatnonzero(names == item)[0]))
        elif isinstance(item, (numbers.Integral, np.integer)) and not isinstance(item, (bool, np.bool_)):
            if not 0 <= item < n_features:
                raise ValueError(f"{name} holds {item}, out of range; expected indices in [0, {n_features}) "
                                 f"(n_features_in_ = {n_features})")
            indices.append(int(item))
        else:
            raise TypeError(f"{name} holds {item!r}; expected integer feature indices or feature names")
    indices = np.asarray(indices, dtype=np.intp)
    if indices.size == 0:
        raise ValueError(f"{name} is empty; expected at least one feature index")
    if np.unique(indices).size != indices.size:
        raise ValueError(f"{name}={indices.tolist()} repeats a feature; expected distinct indices")
    if indices.size == n_features:
        raise ValueError(f"{name} names all {n_features} features; expected a proper subset (the "
                         "mixture itself is the marginal over every feature, and nothing is left to condition)")
    return indices


def check_values(values, n_given: int) -> np.ndarray:
    """One row of finite values for the given features, float64 (n_given,)."""
    try:
        row = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"values={values!r} is not a row of real numbers") from None
    if row.ndim == 0:
        row = row.reshape(1)
    if row.shape != (n_given,):
        raise ValueError(f"values has shape {row.shape}; expected one row (n_given,) = ({n_given},), a value "
                         "per index of features")
    if not np.all(np.isfinite(row)):
        raise ValueError("values contains NaN or infinity; expected finite values")
    return row


def _point_mixture(estimator, params: GaussianParams, features: np.ndarray):
    """A fitted GaussianMixture of ``params`` over ``features`` of ``estimator``'s coordinates.

    Hyper-parameters are those of ``estimator`` that GaussianMixture has, except the ``*_init``
    arrays and ``prior`` (sized for the original features): None. It was not fitted by EM:
    ``n_iter_`` = 0, ``lower_bound_`` = -inf, ``lower_bounds_`` = [], ``converged_`` copied. A
    constrained mclust family (EVI, EVE, ...) gives its unconstrained form ('diag' or 'full'):
    a block of equal-volume covariances need not have equal volumes."""
    cls = _POINT_MIXTURE[0]
    shared = set(cls().get_params(deep=False))
    hyper = {k: v for k, v in estimator.get_params(deep=False).items() if k in shared}
    hyper.update(weights_init=None, means_init=None, precisions_init=None, prior=None)
    covariance = estimator._covariance
    form = getattr(covariance, "factor_form", None)  # a constrained mclust family: not kept by a block
    if form is not None:
        hyper["covariance_type"], covariance = form, make_covariance(form)
    mixture = cls(**hyper)
    mixture._covariance = covariance
    mixture.weights_ = params.weights
    mixture.means_ = params.means
    mixture.precisions_cholesky_ = params.prec_chol
    mixture.collapse_events_ = []
    mixture.converged_ = estimator.converged_
    mixture.n_iter_ = 0
    mixture.lower_bound_ = -np.inf
    mixture.lower_bounds_ = []
    mixture.n_features_in_ = int(features.size)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        mixture.feature_names_in_ = names[features]
    return mixture


def _point_params(estimator) -> GaussianParams:
    """The fitted point parameters (for variational Bayes, the plug-in weights_, means_ and the
    factor of covariances_, as its ``sample`` and ``score_samples_plugin`` use)."""
    return GaussianParams(estimator.weights_, estimator.means_, estimator.precisions_cholesky_)


def marginal_mixture(estimator, features):
    """``estimator.marginal(features)``."""
    check_is_fitted(estimator, "precisions_cholesky_")
    features = check_features(estimator, features)
    params = maths.marginal(estimator._covariance, _point_params(estimator), features)
    return _point_mixture(estimator, params, features)


def condition_mixture(estimator, features, values):
    """``estimator.condition(features, values)``."""
    check_is_fitted(estimator, "precisions_cholesky_")
    given = check_features(estimator, features)
    row = check_values(values, given.size)
    other = np.setdiff1d(np.arange(estimator.n_features_in_), given)  # increasing order
    params = maths.condition(estimator._covariance, _point_params(estimator), given, other, row)
    return _point_mixture(estimator, params, other)
