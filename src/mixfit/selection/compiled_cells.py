"""A cell of ``select_model`` from mclust's start, fitted and scored in one compiled call.

mclust's procedure (``init_params='mclust'``, ``hierarchical_start=False``) fits each cell
once, from the VVV tree cut at K, and the table then reads three things of the fit: its
log-likelihood, the entropy of its responsibilities (ICL) and, under mclust's rules, whether a
covariance collapsed (``degenerate.py``). Through the estimator each of these is a pass of
Python calls (the fit's checks and start, ``score_samples`` and ``predict_proba``, the
decomposition), several times the compiled EM of a small cell. Here one call
(``models.gaussian_em_compiled.compiled_mclust_cell``) runs the start's M-step, the EM and
the scoring pass, and the cell's estimator is written from its result with the estimator's own
``_set_fitted``: the fitted attributes are those ``fit`` writes inside
``engine.compiled_small_fits()`` (the same loop), to rounding.

Where this does not apply (another start, a prior, a repairing ``on_collapse``, weights with
zeros, large data, no numba) or a compiled M-step failed (a covariance not positive definite),
``compiled_cell`` returns None and the caller fits the cell through the estimator, as before:
near a collapse the numpy loop and the compiled one part by rounding (on iris, VEE at K = 5
fails in one and limps on in the other, and EVV at K = 5 collapses at iteration 57 in one and
58 in the other), so only the estimator's own fit gives its own result and NA reason.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..engine import FitResult, compiled_small_fits
from ..engine.criteria import information_criteria
from ..engine.mclust_hc import mclust_partition
from ..engine.small_em import SMALL_ROWS_X_COMPONENTS
from ..estimators import GaussianMixture
from ..estimators.checked_rows import checked_rows
from ..estimators.priors import check_prior_spec
from ..estimators.validation import check_hyperparameters, check_option
from ..exceptions import ConvergenceWarning
from ..families.registry import make_covariance
from ..models import GaussianEM
from ..models.gaussian_em_compiled import compiled_mclust_cell
from .degenerate import reason_from_extremes

# The estimator settings under which the compiled cell is the estimator's fit (anything else:
# the estimator fits the cell).
_PLAIN = {"init_params": "mclust", "n_init": 1, "prior": None, "on_collapse": "raise", "warm_start": False,
          "verbose": 0, "chunk_size": None, "weights_init": None, "means_init": None, "precisions_init": None}


def _differs(given, value) -> bool:
    if value is None:  # by identity: a given *_init is an array
        return given is not None
    return isinstance(given, np.ndarray) or given != value


def _applies(estimator, X, sample_weight) -> bool:
    if type(estimator) is not GaussianMixture or X.dtype != np.float64 or not isinstance(X, np.ndarray):
        return False
    if any(_differs(getattr(estimator, name), value) for name, value in _PLAIN.items()):
        return False
    if X.shape[0] * int(estimator.n_components) > SMALL_ROWS_X_COMPONENTS:
        return False
    return sample_weight is None or bool(np.all(sample_weight > 0))


def compiled_cell(start: str, estimator, X, sample_weight, n: float, criterion: str, convention: str,
                  mclust_rules: bool, cell):
    """The fitted ``cell`` (a ``Cell`` with K and the covariance type) of ``estimator``'s fit
    from mclust's start, or None where the caller must fit it through the estimator."""
    if not _applies(estimator, X, sample_weight):
        return None
    try:  # fit's own checks, in its order: a bad value is the estimator's error, as its reason
        check_hyperparameters(estimator, estimator._HYPERPARAMETERS)
        covariance = make_covariance(estimator.covariance_type)
        check_option(estimator.on_collapse, "on_collapse", ("raise",))
        check_prior_spec(estimator.prior)
        with checked_rows(X):
            X, weights, record = estimator._check_fit_input(X, sample_weight, covariance)
    except ValueError:
        return None
    model = GaussianEM(covariance, estimator.reg_covar, X.dtype)
    source = estimator._source(X, weights, covariance)
    if source.n_samples > source.chunk_size:  # the numpy loop would spread the rows over threads
        return None
    with compiled_small_fits():  # a sweep: mclust's tree by the compiled loop too (mclust_hc.py)
        labels = mclust_partition(X, int(estimator.n_components))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # an inner cap: as the estimator's fit in the sweep
        fitted = compiled_mclust_cell(model, X, weights, labels, float(estimator.tol), mclust_rules,
                                      int(estimator.max_iter))
    if fitted is None or fitted.failed:  # the estimator's fit: its repair, or its reason
        return None
    K = fitted.params.means.shape[0]
    if mclust_rules:  # a collapsed fit is not ranked (degenerate.py)
        reason = reason_from_extremes(fitted.eigen_extremes[:, 0], fitted.eigen_extremes[:, 1],
                                      float(estimator.reg_covar))
        if reason is not None:
            return cell.__class__(cell.n_components, cell.covariance_type, reason=f"{start} start: {reason}")
    estimator._set_fitted(FitResult(fitted.params, fitted.converged, fitted.n_iter, fitted.lower_bounds[-1],
                                    fitted.lower_bounds, []), record, covariance)
    p = model.n_parameters(K, X.shape[1])
    values = information_criteria(fitted.log_likelihood, p, n, fitted.entropy, convention)
    return cell.__class__(cell.n_components, cell.covariance_type, criterion=values[criterion],
                          log_likelihood=fitted.log_likelihood, n_parameters=int(p), converged=fitted.converged,
                          n_iter=fitted.n_iter, start=start, values=values, estimator=estimator)

