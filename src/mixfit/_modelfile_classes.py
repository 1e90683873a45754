"""The model file's schema for the HMMs and ``GaussianMixtureIC`` (the mixtures are in
``_modelfile_schema``): which arrays they store, how their state is rebuilt, and the checks.

An HMM's K is its ``n_components`` (no state is ever dropped) and its arrays are float64 (the
frames are read as float64). ``GaussianMixtureIC`` stores its ``best_estimator_`` as a nested
``{"estimator", "params", "fitted"}`` object, rebuilt by ``build`` as a file of its own would be
(a ``GaussianMixture`` only), and its ``selection_`` as the table's rows; the attributes it
mirrors from the best estimator are not stored twice but taken from it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._modelfile_schema import (
    Declared,
    EstimatorFile,
    build,
    check_precision_factor,
    gaussian_declared,
    is_count,
    public_fitted,
    restore_covariance,
)
from .exceptions import ModelFileError

_HMM_REQUIRED = ("startprob_", "transmat_", "n_features_in_")
# The one class a GaussianMixtureIC's best estimator may be (select_model's method='em').
_BEST_CLASS = "GaussianMixture"


# ---- HMMs -------------------------------------------------------------------------------------


def _hmm_size(estimator, fitted: dict) -> tuple:
    K = estimator.n_components
    if not is_count(K):
        raise ModelFileError(f"n_components = {K!r}; expected an integer >= 1")
    return K, np.dtype(np.float64)


def _chain_declared(K) -> dict:
    return {"startprob_": Declared((K,)), "transmat_": Declared((K, K))}


def _gaussian_hmm_declared(estimator, K, D, fitted) -> dict:
    emission = gaussian_declared(estimator, K, D)
    del emission["weights_"]  # an HMM's weights are its start and transition probabilities
    return {**_chain_declared(K), **emission}


def _categorical_hmm_declared(estimator, K, D, fitted) -> dict:
    M = fitted.get("n_symbols_")
    if not is_count(M):
        raise ModelFileError(f"n_symbols_ = {M!r}; expected an integer >= 1")
    if D != 1:
        raise ModelFileError(f"n_features_in_ = {D}; a CategoricalHMM reads one column of symbols")
    return {**_chain_declared(K), "emissionprob_": Declared((K, M))}


def _bernoulli_hmm_declared(estimator, K, D, fitted) -> dict:
    return {**_chain_declared(K), "means_": Declared((K, D))}


def _check_stochastic(estimator, name: str) -> None:
    from .estimators._hmm_base import check_stochastic

    value = getattr(estimator, name)
    try:
        check_stochastic(value, name, value.shape)
    except ValueError as error:
        raise ModelFileError(str(error)) from None


def _check_gaussian_hmm(estimator) -> None:
    _check_stochastic(estimator, "startprob_")
    _check_stochastic(estimator, "transmat_")
    check_precision_factor(estimator)


def _check_categorical_hmm(estimator) -> None:
    _check_stochastic(estimator, "startprob_")
    _check_stochastic(estimator, "transmat_")
    _check_stochastic(estimator, "emissionprob_")
    if estimator.n_symbols is not None and estimator.n_symbols != estimator.n_symbols_:
        raise ModelFileError(f"n_symbols = {estimator.n_symbols!r} but n_symbols_ = {estimator.n_symbols_}")


def _check_bernoulli_hmm(estimator) -> None:
    _check_stochastic(estimator, "startprob_")
    _check_stochastic(estimator, "transmat_")
    if np.any(estimator.means_ < 0) or np.any(estimator.means_ > 1):
        raise ModelFileError("means_ are success probabilities; some lie outside [0, 1]")
    for name in ("alpha_prior_", "beta_prior_"):
        value = getattr(estimator, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1:
            raise ModelFileError(f"{name} = {value!r}; expected a Beta prior parameter >= 1 (EM's posterior mode)")


def _restore_nothing(estimator) -> None:
    """Nothing private: the estimator rebuilds its model and params from the public attributes."""


# ---- GaussianMixtureIC ------------------------------------------------------------------------


def _ic_stored(estimator) -> dict:
    from .estimators.gaussian_mixture_ic import BEST_ATTRIBUTES

    best, selection = estimator.best_estimator_, estimator.selection_
    stored = {k: v for k, v in public_fitted(estimator).items() if k not in BEST_ATTRIBUTES}
    stored["best_estimator_"] = {"estimator": type(best).__name__, "params": best.get_params(deep=False),
                                 "fitted": public_fitted(best)}
    stored["selection_"] = {"criterion": selection.criterion, "convention": selection.convention,
                            "method": selection.method, "n_samples": selection.n_samples,
                            "table": selection.table()}
    return stored


def _ic_size(estimator, fitted: dict) -> tuple:
    K = fitted["n_components_"]
    if not is_count(K):
        raise ModelFileError(f"n_components_ = {K!r}; expected an integer >= 1")
    return K, np.dtype(np.float64)


def _ic_declared(estimator, K, D, fitted) -> dict:
    return {}  # the arrays are best_estimator_'s, checked when it is built


def _selection(stored, best):
    """A SelectionResult from the stored rows: the best cell holds ``best``; the other cells' fits
    were not stored (a fitted cell with a note on a failed start then reads as NA)."""
    from .selection import Cell, SelectionResult

    columns = [f.name for f in dataclasses.fields(Cell) if f.name not in ("values", "estimator")]
    try:
        cells = []
        for row in stored["table"]:
            cell = Cell(**{c: row[c] for c in columns}, values={k: v for k, v in row.items() if k not in columns})
            chosen = (cell.n_components, cell.covariance_type) == (best.n_components, best.covariance_type)
            cells.append(dataclasses.replace(cell, estimator=best) if chosen else cell)
        return SelectionResult(tuple(cells), stored["criterion"], stored["convention"], stored["method"],
                               stored["n_samples"])
    except (KeyError, TypeError, AttributeError) as error:
        raise ModelFileError(f"selection_ is not a selection table ({error!r})") from None


def _restore_ic(estimator) -> None:
    """best_estimator_ and selection_ from their stored forms; the mirrored attributes from it."""
    from .estimators.gaussian_mixture_ic import BEST_ATTRIBUTES

    nested = estimator.best_estimator_
    if not (isinstance(nested, dict) and isinstance(nested.get("params"), dict)
            and isinstance(nested.get("fitted"), dict)):
        raise ModelFileError("best_estimator_ must be an object with 'estimator', 'params' and 'fitted'")
    if nested.get("estimator") != _BEST_CLASS:
        raise ModelFileError(f"best_estimator_ must be a {_BEST_CLASS}, not {nested.get('estimator')!r}")
    try:
        best = build(_BEST_CLASS, nested["params"], nested["fitted"])
    except ModelFileError as error:
        raise ModelFileError(f"best_estimator_: {error}") from None
    estimator.best_estimator_ = best
    for name in BEST_ATTRIBUTES:
        setattr(estimator, name, getattr(best, name))
    estimator.selection_ = _selection(estimator.selection_, best)


def _check_ic(estimator) -> None:
    best = estimator.best_estimator_
    selected = (estimator.n_components_, estimator.covariance_type_, estimator.n_features_in_)
    if (best.n_components, best.covariance_type, best.n_features_in_) != selected:
        raise ModelFileError(f"best_estimator_ has (n_components, covariance_type, n_features_in_) = "
                             f"{(best.n_components, best.covariance_type, best.n_features_in_)}; the "
                             f"selection says {selected}")
    chosen = estimator.selection_.best
    if chosen is None or chosen.estimator is not best:
        raise ModelFileError("selection_'s best cell is not the stored best_estimator_")


def more_classes() -> dict[str, EstimatorFile]:
    from .estimators import BernoulliHMM, CategoricalHMM, GaussianHMM, GaussianMixtureIC

    return {
        "GaussianHMM": EstimatorFile(
            GaussianHMM, _gaussian_hmm_declared, restore_covariance,
            required=(*_HMM_REQUIRED, "means_", "precisions_cholesky_"), check=_check_gaussian_hmm,
            size=_hmm_size),
        "CategoricalHMM": EstimatorFile(
            CategoricalHMM, _categorical_hmm_declared, _restore_nothing,
            required=(*_HMM_REQUIRED, "emissionprob_", "n_symbols_"), check=_check_categorical_hmm,
            size=_hmm_size),
        "BernoulliHMM": EstimatorFile(
            BernoulliHMM, _bernoulli_hmm_declared, _restore_nothing,
            required=(*_HMM_REQUIRED, "means_", "alpha_prior_", "beta_prior_"), check=_check_bernoulli_hmm,
            size=_hmm_size),
        "GaussianMixtureIC": EstimatorFile(
            GaussianMixtureIC, _ic_declared, _restore_ic,
            required=("best_estimator_", "selection_", "n_components_", "covariance_type_", "n_features_in_"),
            check=_check_ic, size=_ic_size, stored=_ic_stored),
    }
