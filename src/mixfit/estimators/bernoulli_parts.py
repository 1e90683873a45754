"""The parts of a BernoulliMixture fit: its model from the hyper-parameters, its source of rows,
and its fitted attributes, written from a fit's params and read back into model and params.

``BernoulliMixture._parts`` names them for ``mixture_parts.run_parts``; prediction, scoring and
model files rebuild the fitted model from the public attributes alone (``fitted_model``,
``fitted_params``), so that a loaded estimator needs nothing else.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .. import engine
from ..backends import ArraySource, as_source, default_chunk_size
from ..families.weights import make_weight_prior
from ..models import BernoulliEM, BernoulliParams, BernoulliVB, BernoulliVBParams
from ..models.bernoulli import BetaPrior
from ._fitted import set_loop_attributes
from .validation import check_beta_prior, check_concentration
from .validation_binary import working_dtype


def bernoulli_source(X, sample_weight, chunk_size: int | None, n_components: int):
    """The rows of binary X (dense, CSR, memmap, reader or dask) in chunks of ``chunk_size`` rows
    (None: a few MB of working set)."""
    dtype = working_dtype(X)
    # A CSR chunk's working set grows with its stored entries, not with n_features: size the
    # chunks by the mean stored entries per row, so that sparse chunks hold as many bytes as dense.
    width = max(1, X.nnz // max(1, X.shape[0])) if sparse.issparse(X) else X.shape[1]
    chunk = chunk_size or default_chunk_size(width, n_components, dtype.itemsize)
    if sparse.issparse(X):
        return ArraySource(X, sample_weight, chunk)
    return as_source(X, sample_weight, chunk)  # dask: a DaskSource; memmap, reader: chunked reads


def bernoulli_model(estimator, dtype):
    """BernoulliEM or BernoulliVB, as ``method`` says, under the checked Beta prior (and for VB
    the checked weight prior)."""
    prior = BetaPrior(check_beta_prior(estimator.alpha, "alpha", estimator.method),
                      check_beta_prior(estimator.beta, "beta", estimator.method))
    if estimator.method == "em":
        return BernoulliEM(prior, dtype)
    concentration = check_concentration(estimator.weight_concentration_prior)
    weights = make_weight_prior(estimator.weight_concentration_prior_type,
                                1.0 / estimator.n_components if concentration is None else concentration)
    return BernoulliVB(weights, prior, dtype)


def set_fitted(estimator, result: engine.FitResult, record, model) -> None:
    """The only place a BernoulliMixture's fitted attributes are written."""
    params = result.params
    for key in ("weight_concentration_", "beta_posterior_", "weight_concentration_prior_"):
        vars(estimator).pop(key, None)  # a VB fit's posterior does not describe a later EM fit
    if isinstance(model, BernoulliVB):
        estimator.weights_ = model.expected_weights(params).astype(model.dtype)
        estimator.means_ = model.expected_means(params).astype(model.dtype)
        estimator.weight_concentration_ = model.weights.attribute(params.concentration)
        estimator.weight_concentration_prior_ = model.weights.concentration
        estimator.beta_posterior_ = (params.a, params.b)
    else:
        estimator.weights_ = params.weights
        estimator.means_ = params.means
    estimator.alpha_prior_ = model.prior.alpha
    estimator.beta_prior_ = model.prior.beta
    set_loop_attributes(estimator, result, record)


def fitted_model(estimator):
    """The fitted model, rebuilt from the public attributes."""
    prior = BetaPrior(estimator.alpha_prior_, estimator.beta_prior_)
    if "beta_posterior_" in vars(estimator):
        weights = make_weight_prior(estimator.weight_concentration_prior_type, estimator.weight_concentration_prior_)
        return BernoulliVB(weights, prior, estimator.means_.dtype)
    return BernoulliEM(prior, estimator.means_.dtype)


def fitted_params(estimator):
    """The fitted params (EM) or q (VB), rebuilt from the public attributes."""
    if "beta_posterior_" in vars(estimator):
        concentration = estimator.weight_concentration_
        concentration = np.stack(concentration) if isinstance(concentration, tuple) else concentration
        return BernoulliVBParams(concentration, *estimator.beta_posterior_)
    return BernoulliParams(estimator.weights_, estimator.means_)
