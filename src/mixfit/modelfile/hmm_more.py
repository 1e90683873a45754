"""The model file's schema for ``PoissonHMM``, ``MultinomialHMM`` and ``GMMHMM``: the chain of the
other HMMs (``classes``) and their emission arrays, float64, with the checks a loaded file must
pass."""

from __future__ import annotations

import numpy as np

from ..estimators import GMMHMM, MultinomialHMM, PoissonHMM
from ..estimators.hmm_gmm import COVARIANCE_TYPES, flat_family, public_shape
from ..exceptions import ModelFileError
from .classes import _HMM_REQUIRED, _chain_declared, _check_stochastic, _hmm_size, _restore_nothing
from .schema import Declared, EstimatorFile, is_count


def _check_chain(estimator) -> None:
    _check_stochastic(estimator, "startprob_")
    _check_stochastic(estimator, "transmat_")


def _poisson_declared(estimator, K, D, fitted) -> dict:
    return {**_chain_declared(K), "lambdas_": Declared((K, D))}


def _check_poisson(estimator) -> None:
    _check_chain(estimator)
    if not np.all(np.isfinite(estimator.lambdas_)) or np.any(estimator.lambdas_ < 0):
        raise ModelFileError("lambdas_ are Poisson rates; some are negative or not finite")


def _multinomial_declared(estimator, K, D, fitted) -> dict:
    n_trials = fitted.get("n_trials_")
    if n_trials is not None and not is_count(n_trials):
        raise ModelFileError(f"n_trials_ = {n_trials!r}; expected an integer >= 1 or null")
    return {**_chain_declared(K), "emissionprob_": Declared((K, D))}


def _check_multinomial(estimator) -> None:
    _check_chain(estimator)
    _check_stochastic(estimator, "emissionprob_")
    if estimator.n_trials is not None and estimator.n_trials != estimator.n_trials_:
        raise ModelFileError(f"n_trials = {estimator.n_trials!r} but n_trials_ = {estimator.n_trials_!r}")


def _gmm_declared(estimator, K, D, fitted) -> dict:
    M = estimator.n_mix
    if not is_count(M):
        raise ModelFileError(f"n_mix = {M!r}; expected an integer >= 1")
    if estimator.covariance_type not in COVARIANCE_TYPES:
        raise ModelFileError(f"covariance_type = {estimator.covariance_type!r}; expected one of {list(COVARIANCE_TYPES)}")
    return {**_chain_declared(K), "weights_": Declared((K, M)), "means_": Declared((K, M, D)),
            "precisions_cholesky_": Declared(public_shape(estimator.covariance_type, K, M, D))}


def _check_gmm(estimator) -> None:
    _check_chain(estimator)
    _check_stochastic(estimator, "weights_")
    family, _ = flat_family(estimator.covariance_type)
    with np.errstate(all="ignore"):
        log_det = family.log_det_half(estimator._flat_prec_chol(), estimator.n_features_in_)
    if not np.all(np.isfinite(log_det)):
        raise ModelFileError("precisions_cholesky_ is not a valid precision factor (non-positive diagonal)")


def hmm_more_classes() -> dict[str, EstimatorFile]:
    """The count HMMs' entries of the model-file registry."""
    return {
        "PoissonHMM": EstimatorFile(
            PoissonHMM, _poisson_declared, _restore_nothing, required=(*_HMM_REQUIRED, "lambdas_"),
            check=_check_poisson, size=_hmm_size),
        "MultinomialHMM": EstimatorFile(
            MultinomialHMM, _multinomial_declared, _restore_nothing,
            required=(*_HMM_REQUIRED, "emissionprob_", "n_trials_"), check=_check_multinomial, size=_hmm_size),
        "GMMHMM": EstimatorFile(
            GMMHMM, _gmm_declared, _restore_nothing,
            required=(*_HMM_REQUIRED, "weights_", "means_", "precisions_cholesky_"), check=_check_gmm,
            size=_hmm_size),
    }
