"""The model file's schema for ``GaussianHSMM``, ``CategoricalHSMM`` and ``PoissonHSMM``: the HMMs' chain (its
transition diagonal zero), the duration family's params and the emission arrays, float64, with
the checks a loaded file must pass."""

from __future__ import annotations

import numpy as np

from ..estimators import CategoricalHSMM, GaussianHSMM, PoissonHSMM
from ..estimators.hsmm_base import check_durations_init
from ..exceptions import ModelFileError
from ..families.registry import make_covariance
from ..models.hsmm_durations import DURATIONS, make_durations
from .classes import _HMM_REQUIRED, _chain_declared, _check_stochastic, _hmm_size, _restore_nothing
from .schema import Declared, EstimatorFile, gaussian_declared, is_count

_HSMM_REQUIRED = (*_HMM_REQUIRED, "durations_")


def _durations_declared(estimator, K) -> dict:
    if estimator.duration not in DURATIONS:
        raise ModelFileError(f"duration = {estimator.duration!r}; expected one of {list(DURATIONS)}")
    if not is_count(estimator.max_duration):
        raise ModelFileError(f"max_duration = {estimator.max_duration!r}; expected an integer >= 1")
    shape = {"poisson": (K,), "negative_binomial": (K, 2), "nonparametric": (K, estimator.max_duration)}
    return {"durations_": Declared(shape[estimator.duration])}


def _check_chain(estimator) -> None:
    _check_stochastic(estimator, "startprob_")
    _check_stochastic(estimator, "transmat_")
    if np.any(np.diag(estimator.transmat_) != 0):
        raise ModelFileError("transmat_ has a non-zero diagonal; an HSMM's segments change state")
    try:
        check_durations_init(estimator.durations_, make_durations(estimator.duration, estimator.max_duration),
                             estimator.transmat_.shape[0])
    except ValueError as error:
        raise ModelFileError(str(error).replace("durations_init", "durations_")) from None


def _gaussian_declared(estimator, K, D, fitted) -> dict:
    emission = gaussian_declared(estimator, K, D)
    del emission["weights_"]
    return {**_chain_declared(K), **_durations_declared(estimator, K), **emission}


def _check_gaussian(estimator) -> None:
    _check_chain(estimator)
    with np.errstate(all="ignore"):
        log_det = make_covariance(estimator.covariance_type).log_det_half(estimator.precisions_cholesky_,
                                                                         estimator.n_features_in_)
    if not np.all(np.isfinite(log_det)):
        raise ModelFileError("precisions_cholesky_ is not a valid precision factor (non-positive diagonal)")


def _categorical_declared(estimator, K, D, fitted) -> dict:
    M = fitted.get("n_symbols_")
    if not is_count(M):
        raise ModelFileError(f"n_symbols_ = {M!r}; expected an integer >= 1")
    return {**_chain_declared(K), **_durations_declared(estimator, K), "emissionprob_": Declared((K, M))}


def _check_categorical(estimator) -> None:
    _check_chain(estimator)
    _check_stochastic(estimator, "emissionprob_")


def _poisson_declared(estimator, K, D, fitted) -> dict:
    return {**_chain_declared(K), **_durations_declared(estimator, K), "lambdas_": Declared((K, D))}


def _check_poisson(estimator) -> None:
    _check_chain(estimator)
    if not np.all(np.isfinite(estimator.lambdas_)) or np.any(estimator.lambdas_ < 0):
        raise ModelFileError("lambdas_ must hold finite Poisson rates >= 0")


def hsmm_classes() -> dict[str, EstimatorFile]:
    """The HSMMs' entries of the model-file registry."""
    return {
        "GaussianHSMM": EstimatorFile(GaussianHSMM, _gaussian_declared, _restore_nothing,
                                      required=(*_HSMM_REQUIRED, "means_", "precisions_cholesky_"),
                                      check=_check_gaussian, size=_hmm_size),
        "CategoricalHSMM": EstimatorFile(CategoricalHSMM, _categorical_declared, _restore_nothing,
                                         required=(*_HSMM_REQUIRED, "emissionprob_", "n_symbols_"),
                                         check=_check_categorical, size=_hmm_size),
        "PoissonHSMM": EstimatorFile(PoissonHSMM, _poisson_declared, _restore_nothing,
                                     required=(*_HSMM_REQUIRED, "lambdas_"), check=_check_poisson, size=_hmm_size),
    }
