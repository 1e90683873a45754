"""The model file's schema for ``StudentMixture``: the Gaussian mixture's arrays and the degrees of
freedom (K,) float64, each > 0."""

from __future__ import annotations

import numpy as np

from ..estimators import StudentMixture
from ..exceptions import ModelFileError
from .schema import Declared, EstimatorFile, check_precision_factor, gaussian_declared, restore_covariance


def _student_declared(estimator, K, D, fitted) -> dict:
    return {**gaussian_declared(estimator, K, D, fitted), "degrees_of_freedom_": Declared((K,), "float64")}


def _check_student(estimator) -> None:
    weights = estimator.weights_.astype(np.float64)
    if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-4:  # float32 sums to ~1e-7; far above
        raise ModelFileError(f"weights_ {weights} are not a probability distribution")
    check_precision_factor(estimator)
    if np.any(estimator.degrees_of_freedom_ <= 0):
        raise ModelFileError("degrees_of_freedom_ must be positive")


def student_classes() -> dict[str, EstimatorFile]:
    """The t mixture's entry of the model-file registry."""
    return {
        "StudentMixture": EstimatorFile(
            StudentMixture, _student_declared, restore_covariance,
            required=("weights_", "means_", "precisions_cholesky_", "degrees_of_freedom_", "n_features_in_"),
            check=_check_student),
    }
