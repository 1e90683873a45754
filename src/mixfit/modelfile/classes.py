"""The model file's schema for the HMMs (EM and variational) and ``GaussianMixtureIC`` (the mixtures are in
``schema``): which arrays they store, how their state is rebuilt, and the checks.

An HMM's K is its ``n_components`` less the states its ``collapse_events_`` record as dropped (a
``GaussianHMM`` with ``on_collapse='drop'``), and its arrays are float64 (the frames are read as
float64). ``GaussianMixtureIC`` stores its ``best_estimator_`` as a nested
``{"estimator", "params", "fitted"}`` object, rebuilt by ``build`` as a file of its own would be
(a ``GaussianMixture`` only), and its ``selection_`` as the table's rows; the attributes it
mirrors from the best estimator are not stored twice but taken from it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..estimators import (
    BernoulliHMM,
    CategoricalHMM,
    GaussianHMM,
    VariationalCategoricalHMM,
    VariationalGaussianHMM,
)
from ..estimators._hmm_base import check_stochastic
from ..exceptions import ModelFileError
from ..families.registry import make_covariance, make_precision_prior
from ..selection import Cell, GaussianMixtureIC, SelectionResult
from ..selection.gaussian_mixture_ic import BEST_ATTRIBUTES
from .schema import (
    Declared,
    EstimatorFile,
    build_from,
    check_precision_factor,
    gaussian_declared,
    is_count,
    mixture_classes,
    public_fitted,
    restore_covariance,
)

_HMM_REQUIRED = ("startprob_", "transmat_", "n_features_in_")
# The one class a GaussianMixtureIC's best estimator may be (select_model's method='em').
_BEST_CLASS = "GaussianMixture"


# ---- HMMs -------------------------------------------------------------------------------------


def _hmm_size(estimator, fitted: dict) -> tuple:
    n_components = estimator.n_components
    if not is_count(n_components):
        raise ModelFileError(f"n_components = {n_components!r}; expected an integer >= 1")
    events = fitted.get("collapse_events_", [])  # absent from files written before on_collapse
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise ModelFileError("collapse_events_ must be a list of events (objects)")
    dropped = sum(event.get("action") == "drop" for event in events)
    if dropped >= n_components:
        raise ModelFileError(f"collapse_events_ records {dropped} drops of n_components = {n_components} states; "
                             "expected at least one state kept")
    return n_components - dropped, np.dtype(np.float64)


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


def _variational_chain_declared(K) -> dict:
    return {**_chain_declared(K), "startprob_posterior_": Declared((K,)), "transmat_posterior_": Declared((K, K)),
            "startprob_prior_": Declared((K,)), "transmat_prior_": Declared((K, K))}


def _variational_gaussian_hmm_declared(estimator, K, D, fitted) -> dict:

    covariance = make_covariance(estimator.covariance_type)
    # nu has one entry per log-determinant: (K,), or () when one precision is shared (tied)
    dof_shape = np.shape(covariance.log_det_half(np.ones(covariance.shape(K, D)), D))
    scale_shape = np.shape(make_precision_prior(covariance).default_scale(np.eye(D)))
    return {**_gaussian_hmm_declared(estimator, K, D, fitted), **_variational_chain_declared(K),
            "beta_posterior_": Declared((K,)), "dof_posterior_": Declared(dof_shape),
            "means_prior_": Declared((D,)), "scale_prior_": Declared(scale_shape)}


def _variational_categorical_hmm_declared(estimator, K, D, fitted) -> dict:
    declared = _categorical_hmm_declared(estimator, K, D, fitted)
    M = declared["emissionprob_"].shape[1]
    return {**declared, **_variational_chain_declared(K), "emissionprob_posterior_": Declared((K, M)),
            "emissionprob_prior_": Declared((K, M))}


def _check_concentrations(estimator, names) -> None:
    """Dirichlet concentrations: >= 0 (0 off the support), a positive entry in every row, and the
    posterior-mean probabilities zero exactly where the posterior is."""
    for name in names:
        value = getattr(estimator, name)
        if np.any(value < 0) or np.any(~np.any(value > 0, axis=-1)):
            raise ModelFileError(f"{name} holds Dirichlet concentrations; some are negative or a row has none > 0")


def _check_variational_chain(estimator) -> None:
    _check_stochastic(estimator, "startprob_")
    _check_stochastic(estimator, "transmat_")
    _check_concentrations(estimator, ("startprob_posterior_", "transmat_posterior_", "startprob_prior_",
                                      "transmat_prior_"))
    for mean, posterior in (("startprob_", "startprob_posterior_"), ("transmat_", "transmat_posterior_")):
        if not np.array_equal(getattr(estimator, mean) == 0, getattr(estimator, posterior) == 0):
            raise ModelFileError(f"{mean} and {posterior} disagree on which entries are forbidden")


def _check_variational_gaussian_hmm(estimator) -> None:
    _check_variational_chain(estimator)
    check_precision_factor(estimator)
    if np.any(estimator.beta_posterior_ <= 0) or np.any(np.asarray(estimator.dof_posterior_) <= 0):
        raise ModelFileError("beta_posterior_ and dof_posterior_ must be positive")


def _check_variational_categorical_hmm(estimator) -> None:
    _check_variational_chain(estimator)
    _check_categorical_hmm(estimator)
    _check_concentrations(estimator, ("emissionprob_posterior_", "emissionprob_prior_"))


def _restore_nothing(estimator) -> None:
    """Nothing private: the estimator rebuilds its model and params from the public attributes."""


# ---- GaussianMixtureIC ------------------------------------------------------------------------


def _ic_stored(estimator) -> dict:

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

    nested = estimator.best_estimator_
    if not (isinstance(nested, dict) and isinstance(nested.get("params"), dict)
            and isinstance(nested.get("fitted"), dict)):
        raise ModelFileError("best_estimator_ must be an object with 'estimator', 'params' and 'fitted'")
    if nested.get("estimator") != _BEST_CLASS:
        raise ModelFileError(f"best_estimator_ must be a {_BEST_CLASS}, not {nested.get('estimator')!r}")
    try:
        best = build_from(mixture_classes()[_BEST_CLASS], _BEST_CLASS, nested["params"], nested["fitted"])
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

    chain = (*_HMM_REQUIRED, "startprob_posterior_", "transmat_posterior_", "startprob_prior_", "transmat_prior_")

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
        "VariationalGaussianHMM": EstimatorFile(
            VariationalGaussianHMM, _variational_gaussian_hmm_declared, restore_covariance,
            required=(*chain, "means_", "precisions_cholesky_", "beta_posterior_", "dof_posterior_", "means_prior_",
                      "beta_prior_", "dof_prior_", "scale_prior_"),
            check=_check_variational_gaussian_hmm, size=_hmm_size),
        "VariationalCategoricalHMM": EstimatorFile(
            VariationalCategoricalHMM, _variational_categorical_hmm_declared, _restore_nothing,
            required=(*chain, "emissionprob_", "n_symbols_", "emissionprob_posterior_", "emissionprob_prior_"),
            check=_check_variational_categorical_hmm, size=_hmm_size),
        "GaussianMixtureIC": EstimatorFile(
            GaussianMixtureIC, _ic_declared, _restore_ic,
            required=("best_estimator_", "selection_", "n_components_", "covariance_type_", "n_features_in_"),
            check=_check_ic, size=_ic_size, stored=_ic_stored),
    }
