"""hmmlearn's Gaussian emission hyper-parameters of ``GaussianHMM`` (``min_covar``,
``means_prior``, ``means_weight``, ``covars_prior``, ``covars_weight``) and ``GMMHMM`` (those and
``weights_prior``), read once at the boundary into ``models.hmm_hmmlearn_prior.HmmlearnGaussianPrior``
and ``models.hmm_gmm_hmmlearn.HmmlearnMixturePrior``."""

from __future__ import annotations

import numbers

import numpy as np

from ..models.hmm_gmm_hmmlearn import HmmlearnMixturePrior, prior_defaults, prior_shapes
from ..models.hmm_hmmlearn_prior import HmmlearnGaussianPrior, covars_prior_shape
from . import hmm_compat

# hmmlearn 0.3's defaults: with them hmmlearn's M-step adds 0.01 to each state's scatter.
GAUSSIAN_DEFAULTS = {"means_prior": 0, "means_weight": 0, "covars_prior": 1e-2, "covars_weight": 1}


def _number(value, name: str, at_least=None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}={value!r}; expected a finite number")
    if at_least is not None and value < at_least:
        raise ValueError(f"{name}={value!r}; expected a finite number >= {at_least}")
    return float(value)


def _array(value, name: str, shape: tuple) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
        np.broadcast_to(array, shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} has shape {np.shape(value)}; expected a number or an array broadcastable to "
                         f"{shape}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must hold finite values")
    return array


def at_defaults(estimator) -> bool:
    """Whether every emission hyper-parameter of hmmlearn is at hmmlearn's default."""
    for name, default in GAUSSIAN_DEFAULTS.items():
        try:
            if not np.all(np.asarray(getattr(estimator, name), dtype=np.float64) == default):
                return False
        except (TypeError, ValueError):
            return False
    return True


def check_min_covar(estimator) -> float:
    """hmmlearn's ``min_covar``: a number >= 0, added to the starting covariances' diagonal."""
    return _number(estimator.min_covar, "min_covar", at_least=0.0)


def uses_hmmlearn_step(estimator, prior_spec, defaults_kept=at_defaults) -> bool:
    """Whether the emission M-step is hmmlearn's: under hmmlearn's loop (``n_iter`` given), or
    where any of its emission priors is given away from its default (``defaults_kept(estimator)``
    False); never with mixfit's conjugate ``prior`` (None where the estimator has none), which
    cannot be combined with hmmlearn's priors away from their defaults."""
    defaults = defaults_kept(estimator)
    if prior_spec is not None:
        if not defaults:
            raise ValueError("prior (a conjugate prior) and hmmlearn's means_prior, means_weight, covars_prior, "
                             "covars_weight were both given; give one of them")
        return False
    return hmm_compat.hmmlearn_loop(estimator) or not defaults


# The covariance types hmmlearn has (its priors' shapes are theirs); mclust's other ten families
# take mixfit's M-step only.
HMMLEARN_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def uses_hmmlearn_gaussian_step(estimator, prior_spec) -> bool:
    """``uses_hmmlearn_step`` for ``GaussianHMM``: never for one of mclust's constrained families
    (hmmlearn has none: under hmmlearn's loop they take mixfit's M-step), whose hmmlearn emission
    priors must stay at their defaults (an error naming them otherwise)."""
    hmmlearn_step = uses_hmmlearn_step(estimator, prior_spec)
    if estimator.covariance_type in HMMLEARN_COVARIANCE_TYPES:
        return hmmlearn_step
    if not at_defaults(estimator):
        raise ValueError(f"means_prior, means_weight, covars_prior, covars_weight are hmmlearn's priors for its "
                         f"covariance types {HMMLEARN_COVARIANCE_TYPES}; covariance_type="
                         f"{estimator.covariance_type!r} takes prior= (mclust's conjugate prior) instead")
    return False


def check_reg_covar(estimator, hmmlearn_step: bool) -> float:
    """``reg_covar``, a number >= 0; None: 0 with hmmlearn's M-step (its ``covars_prior``
    regularises, and hmmlearn adds nothing), else 1e-6 (the mixtures' default)."""
    if estimator.reg_covar is None:
        return 0.0 if hmmlearn_step else 1e-6
    return _number(estimator.reg_covar, "reg_covar", at_least=0.0)


def gaussian_prior(estimator, covariance_type: str, n_components: int, n_features: int,
                   reg_covar: float) -> HmmlearnGaussianPrior:
    """The checked hyper-parameters, each error naming its argument: ``means_prior``
    broadcastable to (n_components, n_features), ``covars_prior`` to the type's shape
    ((K, D, D) full, (D, D) tied, (K, D) diag and spherical), the weights finite numbers
    (``means_weight`` >= 0)."""
    return HmmlearnGaussianPrior(
        means_prior=_array(estimator.means_prior, "means_prior", (n_components, n_features)),
        means_weight=_number(estimator.means_weight, "means_weight", at_least=0.0),
        covars_prior=_array(estimator.covars_prior, "covars_prior",
                            covars_prior_shape(covariance_type, n_components, n_features)),
        covars_weight=_number(estimator.covars_weight, "covars_weight"),
        reg_covar=reg_covar)


# hmmlearn 0.3's GMMHMM defaults (None: by covariance type, hmm_gmm_hmmlearn.prior_defaults).
MIXTURE_DEFAULTS = {"weights_prior": 1.0, "means_prior": 0.0, "means_weight": 0.0, "covars_prior": None,
                    "covars_weight": None}


def mixture_at_defaults(estimator) -> bool:
    """Whether every ``GMMHMM`` prior of hmmlearn is at hmmlearn's default."""
    for name, default in MIXTURE_DEFAULTS.items():
        value = getattr(estimator, name)
        if default is None:
            if value is not None:
                return False
            continue
        try:
            if not np.all(np.asarray(value, dtype=np.float64) == default):
                return False
        except (TypeError, ValueError):
            return False
    return True


def mixture_prior(estimator, covariance_type: str, n_components: int, n_mix: int, n_features: int,
                  reg_covar: float) -> HmmlearnMixturePrior:
    """``GMMHMM``'s priors broadcast to hmmlearn's shapes (each error naming its argument);
    ``covars_prior`` / ``covars_weight`` None take hmmlearn's defaults for the type."""
    shapes = prior_shapes(covariance_type, n_components, n_mix, n_features)
    psi_default, nu_default = prior_defaults(covariance_type, n_mix, n_features)
    values = {"covars_prior": psi_default, "covars_weight": nu_default}
    arrays = {}
    for name, shape in shapes.items():
        value = getattr(estimator, name)
        array = _array(values[name] if value is None and name in values else value, name, shape)
        arrays[name] = np.broadcast_to(array, shape)
    if np.any(arrays["means_weight"] < 0):
        raise ValueError("means_weight must hold numbers >= 0")
    return HmmlearnMixturePrior(**arrays, reg_covar=reg_covar)
