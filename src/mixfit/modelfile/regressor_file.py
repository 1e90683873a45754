"""The model file's schema for ``GaussianMixtureRegressor`` and ``GaussianMixtureImputer``: the
``mixture_`` each holds stored as a nested ``{"estimator", "params", "fitted"}`` object (as ``GaussianMixtureIC``'s best estimator)
and rebuilt by the ``GaussianMixture`` entry, beside the regressor's own few values."""

from __future__ import annotations

import numpy as np

from ..estimators import GaussianMixtureImputer, GaussianMixtureRegressor
from ..exceptions import ModelFileError
from .schema import EstimatorFile, build_from, is_count, mixture_classes, public_fitted

_JOINT_CLASS = "GaussianMixture"


def _stored(estimator) -> dict:
    joint = estimator.mixture_
    stored = public_fitted(estimator)
    stored["mixture_"] = {"estimator": type(joint).__name__, "params": joint.get_params(deep=False),
                          "fitted": public_fitted(joint)}
    return stored


def _size(estimator, fitted: dict) -> tuple:
    return 1, np.dtype(np.float64)  # the arrays are mixture_'s, checked when it is built


def _declared(estimator, K, D, fitted) -> dict:
    return {}


def _restore(estimator) -> None:
    nested = estimator.mixture_
    if not (isinstance(nested, dict) and isinstance(nested.get("params"), dict)
            and isinstance(nested.get("fitted"), dict)):
        raise ModelFileError("mixture_ must be an object with 'estimator', 'params' and 'fitted'")
    if nested.get("estimator") != _JOINT_CLASS:
        raise ModelFileError(f"mixture_ must be a {_JOINT_CLASS}, not {nested.get('estimator')!r}")
    try:
        estimator.mixture_ = build_from(mixture_classes()[_JOINT_CLASS], _JOINT_CLASS, nested["params"],
                                        nested["fitted"])
    except ModelFileError as error:
        raise ModelFileError(f"mixture_: {error}") from None


def _check(estimator) -> None:
    outputs, ndim = estimator.n_outputs_, estimator.y_ndim_
    if not is_count(outputs) or ndim not in (1, 2) or (ndim == 1 and outputs != 1):
        raise ModelFileError(f"n_outputs_ = {outputs!r} and y_ndim_ = {ndim!r}; expected a count of targets and "
                             "1 (one target, fitted 1-D) or 2")
    joint = estimator.mixture_.n_features_in_
    if joint != estimator.n_features_in_ + outputs:
        raise ModelFileError(f"mixture_ has {joint} features; expected n_features_in_ + n_outputs_ = "
                             f"{estimator.n_features_in_ + outputs}")


def regressor_classes() -> dict[str, EstimatorFile]:
    """The regressor's entry of the model-file registry."""
    return {
        "GaussianMixtureRegressor": EstimatorFile(
            GaussianMixtureRegressor, _declared, _restore,
            required=("mixture_", "n_outputs_", "y_ndim_", "n_features_in_"), check=_check, size=_size,
            stored=_stored),
    }


def _check_imputer(estimator) -> None:
    if estimator.mixture_.n_features_in_ != estimator.n_features_in_:
        raise ModelFileError(f"mixture_ has {estimator.mixture_.n_features_in_} features; expected n_features_in_ = "
                             f"{estimator.n_features_in_}")


def imputer_classes() -> dict[str, EstimatorFile]:
    """The imputer's entry of the model-file registry."""
    return {
        "GaussianMixtureImputer": EstimatorFile(
            GaussianMixtureImputer, _declared, _restore, required=("mixture_", "n_features_in_"),
            check=_check_imputer, size=_size, stored=_stored),
    }
