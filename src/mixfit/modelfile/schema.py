"""The model file's schema: which arrays each estimator class stores (shapes, dtypes, how its
private state is rebuilt), the checks a loaded file must pass, and ``build``, which turns decoded
values into a checked estimator. The format itself is described in ``mixfit.io``; values are
encoded by ``codec``; the HMMs and ``GaussianMixtureIC`` are in ``classes``, and ``registry`` joins them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..estimators import BayesianGaussianMixture, BernoulliMixture, GaussianMixture
from ..exceptions import ModelFileError
from ..families.precision_priors import NormalPrecisionPrior
from ..families.registry import make_covariance, make_precision_prior
from ..families.weights import make_weight_prior
from ..models import GaussianVB, VBParams

FITTED_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*_")


# ---- what each estimator class stores --------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """A fitted array's expected shape and dtype: ``dtype`` is "model" (the dtype of ``means_``,
    float32 or float64), or a NumPy dtype name."""

    shape: tuple
    dtype: str = "model"


def is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def public_fitted(estimator) -> dict:
    """The public fitted attributes (named with a trailing ``_``) set on ``estimator``."""
    return {k: v for k, v in vars(estimator).items() if k.endswith("_") and not k.startswith("_")}


def _check_weights(estimator) -> None:
    weights = estimator.weights_.astype(np.float64)
    if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-4:  # float32 sums to ~1e-7; far above
        raise ModelFileError(f"weights_ {weights} are not a probability distribution")


def check_precision_factor(estimator) -> None:
    with np.errstate(all="ignore"):
        log_det = estimator._covariance.log_det_half(estimator.precisions_cholesky_, estimator.n_features_in_)
    if not np.all(np.isfinite(log_det)):
        raise ModelFileError("precisions_cholesky_ is not a valid precision factor (non-positive diagonal)")


def _check_gaussian(estimator) -> None:
    _check_weights(estimator)
    check_precision_factor(estimator)


def _mixture_size(estimator, fitted: dict) -> tuple:
    """K from ``weights_`` (at most n_components: a collapsed component may be dropped) and the
    model dtype from ``means_``."""
    weights, n_components = fitted["weights_"], estimator.get_params()["n_components"]
    if not isinstance(weights, np.ndarray) or weights.ndim != 1 or not 1 <= weights.shape[0] <= n_components:
        raise ModelFileError(f"weights_ must be an array of shape (K,) with 1 <= K <= n_components = {n_components}")
    means = fitted["means_"]
    if not isinstance(means, np.ndarray) or means.dtype not in (np.float32, np.float64):
        raise ModelFileError("means_ must be a float32 or float64 array")
    return weights.shape[0], means.dtype


@dataclass(frozen=True)
class EstimatorFile:
    """What ``save`` and ``load`` need to know about an estimator class."""

    cls: type
    declared: Callable  # (estimator, K, D, fitted) -> {name: Declared | tuple[Declared, ...]}
    restore: Callable  # (estimator) -> None: rebuild the private state from the fitted attributes
    required: tuple = field(default=("weights_", "means_", "precisions_cholesky_", "n_features_in_"))
    check: Callable = _check_gaussian  # (estimator) -> None: the loaded values agree with each other
    size: Callable = _mixture_size  # (estimator, fitted) -> (K, model dtype), checked
    stored: Callable = public_fitted  # (estimator) -> {name: value}: the fitted values saved


def gaussian_declared(estimator, K, D, fitted=None) -> dict:

    covariance = make_covariance(estimator.covariance_type)
    return {"weights_": Declared((K,)), "means_": Declared((K, D)),
            "precisions_cholesky_": Declared(covariance.shape(K, D))}


def restore_covariance(estimator) -> None:

    estimator._covariance = make_covariance(estimator.covariance_type)


def _bayesian_declared(estimator, K, D, fitted) -> dict:

    covariance = make_covariance(estimator.covariance_type)
    weights = make_weight_prior(estimator.weight_concentration_prior_type, 1.0)
    # weight_concentration_ has the structure of the prior's public form of a posterior: an
    # array (Dirichlet) or a pair of arrays (stick-breaking Betas).
    concentration = weights.attribute(weights.posterior(np.ones(K)))
    concentration = (tuple(Declared(np.shape(a)) for a in concentration) if isinstance(concentration, tuple)
                     else Declared(np.shape(concentration)))
    # nu has one entry per log-determinant: (K,), or () when one precision is shared (tied).
    dof_shape = np.shape(covariance.log_det_half(np.ones(covariance.shape(K, D)), D))
    scale_shape = np.shape(make_precision_prior(covariance).default_scale(np.eye(D)))
    return {
        **gaussian_declared(estimator, K, D, fitted),
        "weight_concentration_": concentration,
        "mean_precision_": Declared((K,)),
        "degrees_of_freedom_": Declared(dof_shape),
        "mean_prior_": Declared((D,), "float64"),
        "covariance_prior_": Declared(scale_shape, "float64"),
        "active_components_": Declared((K,), "bool"),
    }


def _restore_bayesian(estimator) -> None:
    """GaussianVB and q(theta) from the public attributes, as ``_set_fitted`` wrote them."""

    covariance = make_covariance(estimator.covariance_type)
    dtype = estimator.means_.dtype
    prior = NormalPrecisionPrior(
        mean_precision=estimator.mean_precision_prior_,
        mean=estimator.mean_prior_,
        dof=estimator.degrees_of_freedom_prior_,
        scale=np.asarray(estimator.covariance_prior_, dtype=np.float64),
    )
    model = GaussianVB(covariance, make_weight_prior(estimator.weight_concentration_prior_type,
                                                     estimator.weight_concentration_prior_),
                       make_precision_prior(covariance), prior, estimator.reg_covar, dtype)
    concentration = estimator.weight_concentration_
    concentration = np.stack(concentration) if isinstance(concentration, tuple) else concentration
    estimator._fitted_model = model
    estimator._covariance = covariance
    estimator._posterior = VBParams(concentration, estimator.mean_precision_, estimator.means_,
                                    np.asarray(estimator.degrees_of_freedom_, dtype=dtype),
                                    estimator.precisions_cholesky_)


def _bernoulli_declared(estimator, K, D, fitted) -> dict:

    declared = {"weights_": Declared((K,)), "means_": Declared((K, D))}
    if estimator.method != "vb":
        return declared
    weights = make_weight_prior(estimator.weight_concentration_prior_type, 1.0)
    concentration = weights.attribute(weights.posterior(np.ones(K)))  # an array, or the stick pair
    concentration = (tuple(Declared(np.shape(a), "float64") for a in concentration)
                     if isinstance(concentration, tuple) else Declared(np.shape(concentration), "float64"))
    return {**declared, "weight_concentration_": concentration,
            "beta_posterior_": (Declared((K, D), "float64"), Declared((K, D), "float64"))}


def _restore_bernoulli(estimator) -> None:
    """Nothing private: BernoulliMixture rebuilds its model and params from the public attributes."""


def _check_bernoulli(estimator) -> None:
    _check_weights(estimator)
    means = estimator.means_
    if np.any(means < 0) or np.any(means > 1):
        raise ModelFileError("means_ are success probabilities; some lie outside [0, 1]")
    posterior = vars(estimator).get("beta_posterior_", ())
    if any(np.any(part <= 0) for part in posterior):
        raise ModelFileError("beta_posterior_ holds Beta parameters; some are not positive")


def mixture_classes() -> dict[str, EstimatorFile]:
    """The mixtures' entries of the model-file registry (``registry.py`` adds the others)."""
    return {
        "GaussianMixture": EstimatorFile(GaussianMixture, gaussian_declared, restore_covariance),
        "BayesianGaussianMixture": EstimatorFile(BayesianGaussianMixture, _bayesian_declared, _restore_bayesian),
        "BernoulliMixture": EstimatorFile(
            BernoulliMixture, _bernoulli_declared, _restore_bernoulli,
            required=("weights_", "means_", "n_features_in_", "alpha_prior_", "beta_prior_"),
            check=_check_bernoulli),
    }


# ---- checks of a loaded file -----------------------------------------------------------------


def build_from(spec: EstimatorFile, name: str, params: dict, fitted: dict):
    """A ``name`` estimator (of ``spec``'s class) with the decoded ``params`` and ``fitted``
    attributes, checked against its class and each other, its private state rebuilt."""
    unknown = sorted(set(params) - set(spec.cls().get_params(deep=False)))
    if unknown:
        raise ModelFileError(f"unknown hyper-parameters for {name}: {unknown}")
    estimator = spec.cls(**params)
    odd = [key for key in fitted if not FITTED_NAME.fullmatch(key) or hasattr(type(estimator), key)]
    if odd:
        raise ModelFileError(f"{odd} are not fitted attribute names of {name}")
    check_fitted(estimator, spec, fitted)
    for key, value in fitted.items():
        setattr(estimator, key, value)
    spec.restore(estimator)
    spec.check(estimator)
    return estimator


def check_fitted(estimator, spec: EstimatorFile, fitted: dict) -> None:
    name = type(estimator).__name__
    missing = [key for key in spec.required if key not in fitted]
    if missing:
        raise ModelFileError(f"the fitted attributes {missing} of {name} are missing")
    D = fitted["n_features_in_"]
    if not is_count(D):
        raise ModelFileError(f"n_features_in_ = {D!r}; expected an integer >= 1")
    K, model_dtype = spec.size(estimator, fitted)
    try:
        declared = spec.declared(estimator, K, D, fitted)
    except ValueError as error:  # an unknown covariance_type or prior type among the params
        raise ModelFileError(f"inconsistent hyper-parameters: {error}") from None
    for key, expected in declared.items():
        if key not in fitted:
            raise ModelFileError(f"the fitted attribute {key} of {name} is missing")
        value = fitted[key]
        if isinstance(expected, tuple):
            if not isinstance(value, tuple) or len(value) != len(expected):
                raise ModelFileError(f"{key} must be a tuple of {len(expected)} arrays")
            for i, (item, part) in enumerate(zip(value, expected)):
                _check_array(f"{key}[{i}]", item, part, model_dtype)
        else:
            _check_array(key, value, expected, model_dtype)


def _check_array(key: str, value, expected: Declared, model_dtype: np.dtype) -> None:
    dtype = model_dtype if expected.dtype == "model" else np.dtype(expected.dtype)
    if expected.shape == () and isinstance(value, float) and dtype == np.float64:
        value = np.float64(value)  # a Python float stands for a float64 scalar
    if not isinstance(value, (np.ndarray, np.generic)):
        raise ModelFileError(f"{key} must be an array of shape {expected.shape}, not {type(value).__name__}")
    if value.shape != tuple(expected.shape) or value.dtype != dtype:
        raise ModelFileError(f"{key} has shape {value.shape} and dtype {value.dtype}; the estimator's "
                             f"parameters say shape {tuple(expected.shape)} and dtype {dtype}")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ModelFileError(f"{key} contains NaN or infinity")

