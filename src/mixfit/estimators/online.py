"""``partial_fit``: online EM and stochastic VB for the mixture estimators (docs/streaming.md).

The first call starts from its batch as ``fit`` would (``init_params`` or the given ``*_init``,
through the collapse policy) and takes one step; each later call takes one step of
``engine.online.step`` on its batch. What the stream has learnt lives in fitted attributes only
(the params, ``running_statistics_``, ``n_steps_``, ``n_seen_``, and for a MAP
``GaussianMixture`` the prior resolved on the first batch, ``stream_prior_``), so a model file
carries it and a loaded estimator continues as if never saved.

Each estimator names its kind (``GaussianEMStream``, ``GaussianVBStream``, ``BernoulliStream``)
with the ``streaming`` class decorator: the kind says how that estimator checks a batch, builds
its model, source and collapse policy, and writes its fitted attributes; ``OnlineMixture``
holds the one ``partial_fit``.
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings

import numpy as np
from sklearn.utils.validation import check_scalar

from .. import engine
from ..backends.allocator import release_freed_memory
from ..engine import online
from ..engine.collapse import ON_COLLAPSE, make_policy
from ..engine.starts import INIT_METHODS
from ..exceptions import CollapseWarning
from ..families.precision_priors import NormalPrecisionPrior
from ..families.registry import make_covariance, make_map_prior
from ..families.weights import make_weight_prior
from ..kernels.numba_loading import no_numba_import
from ..models import GaussianEM
from .bernoulli_parts import fitted_model, fitted_params
from .checked_rows import CheckedRecord
from .priors import check_prior_spec
from .validation import (
    as_generator,
    check_hyperparameters,
    check_option,
    check_positive_weights,
    check_sample_weight,
)
from .validation_binary import check_binarize, check_binary_fit_input, working_dtype

# learning_offset t0 >= 0 and learning_decay kappa in (0.5, 1] (the step-size conditions sum
# rho = inf, sum rho^2 < inf); total_samples None or > 0, checked apart (None is allowed).
STREAM_HYPERPARAMETERS = {
    "learning_offset": (numbers.Real, 0.0, None, "left"),
    "learning_decay": (numbers.Real, 0.5, 1.0, "right"),
}
STREAM_ATTRIBUTES = ("n_steps_", "n_seen_", "running_statistics_", "stream_prior_")


def check_total_samples(value) -> None:
    if value is not None:
        if isinstance(value, bool):
            raise TypeError("total_samples must be an instance of float or int, not bool")
        check_scalar(value, "total_samples", numbers.Real, min_val=0.0, include_boundaries="neither")
        if not np.isfinite(value):
            raise ValueError(f"total_samples={value!r} must be finite")


def encode_statistics(stats) -> dict:
    """A statistics value as {field: array or float}, for ``running_statistics_``."""
    return {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)}


def decode_statistics(stored, model, n_components: int, n_features: int):
    """``running_statistics_`` back into the model's statistics value, each field's shape checked
    against the statistics the model makes for K components in D features."""
    template = model.statistics(np.zeros((1, n_features)), np.zeros((1, n_components)), None,
                                np.zeros((n_components, n_features)))
    fields = [f.name for f in dataclasses.fields(template)]
    if not isinstance(stored, dict) or sorted(stored) != sorted(fields):
        raise ValueError(f"running_statistics_ must hold the fields {fields}")
    for name in fields:
        if np.shape(stored[name]) != np.shape(getattr(template, name)):
            raise ValueError(f"running_statistics_[{name!r}] has shape {np.shape(stored[name])}; expected "
                             f"{np.shape(getattr(template, name))} for {n_components} components in "
                             f"{n_features} features")
    return type(template)(**{name: (np.asarray(stored[name], dtype=np.float64) if np.ndim(stored[name])
                                    else float(stored[name])) for name in fields})


def trusted_rows(est, X):
    """The validation record of a later batch that needs none of scikit-learn's checks, or None.

    A stream calls ``partial_fit`` thousands of times with arrays of one dtype and shape; the
    full check of each (a clone of the estimator, data-frame detection, and five passes over
    the rows: two finiteness passes, the missing-value pass, the minimum and the maximum) cost
    ~3 ms of a ~65 ms step at (1e5, 16, 8) full. Here the minimum and the maximum do it all:
    both propagate NaN and reach an infinity, so the spread max - min is finite only if every
    entry is, and it bounds every feature's range as ``_check_moments_representable`` does
    first (its test n * D * (max - min)^2 < the dtype's largest value, which a NaN fails). A
    batch that is not a C-ordered ndarray of the fitted dtype and number of features (or of an
    estimator fitted with feature names), or fails the test, is checked in full, so every
    refusal keeps its message. (Not one BLAS dot product, ||X||^2, which would bound the same:
    right after a pass on single-threaded BLAS, its threads took ~20 ms to wake on the shared
    2-core machine.)"""
    if not (type(X) is np.ndarray and X.ndim == 2 and X.dtype == est.means_.dtype and X.flags.c_contiguous
            and X.shape[1] == est.n_features_in_ and X.shape[0] >= max(2, est.n_components)
            and "feature_names_in_" not in vars(est)):
        return None
    low, high = np.float64(X.min()), np.float64(X.max())  # NaN if any entry is NaN
    n_samples, n_features = X.shape
    with np.errstate(over="ignore", invalid="ignore"):
        # False for a NaN or an infinite end (inf - inf is NaN) and for an overflowing spread
        if not n_features * np.square(high - low) < np.finfo(X.dtype).max / n_samples:
            return None
    return CheckedRecord(n_features)


def check_gaussian_batch(est, X, sample_weight, covariance):
    """``_check_fit_input`` of a Gaussian mixture, with a fitted estimator's later batches that
    ``trusted_rows`` accepts checked by their minimum and maximum alone."""
    record = trusted_rows(est, X) if "precisions_cholesky_" in vars(est) else None
    if record is None:
        return est._check_fit_input(X, sample_weight, covariance)
    weights = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    check_positive_weights(weights, est.n_components)
    return X, weights, record


class GaussianEMStream:
    """GaussianMixture: EM (MAP with ``prior``) through ``on_collapse``."""

    fitted = "precisions_cholesky_"
    # The first call: the start alone (False), or the fit of the first batch to convergence
    # (True: variational Bayes, whose surplus components drain only over many full iterations;
    # docs/streaming.md, "The first call of stochastic VB").
    fit_first_batch = False
    attributes = """    stream_prior_ : dict
        Set by ``partial_fit`` with ``prior``: the conjugate prior resolved on the first batch
        (``mean_precision``, ``mean``, ``dof``, ``scale``), kept for the later steps.
"""

    def check(self, est, X, sample_weight):
        check_hyperparameters(est, est._HYPERPARAMETERS)
        covariance = make_covariance(est.covariance_type)
        check_option(est.init_params, "init_params", INIT_METHODS)
        check_option(est.on_collapse, "on_collapse", ON_COLLAPSE)
        X, weights, record = check_gaussian_batch(est, X, sample_weight, covariance)
        return X, weights, record, covariance

    def fresh(self, est, X, weights, covariance):
        # 'kmeans' in bounded memory: no copy of a batch larger than the start's row sample
        return est._parts(X, weights, covariance, check_prior_spec(est.prior), bounded_start=True)

    def model(self, est, X, weights, covariance):
        stored = vars(est).get("stream_prior_")
        if stored is not None:
            return GaussianEM(covariance, est.reg_covar, est.means_.dtype, NormalPrecisionPrior(**stored),
                              make_map_prior(covariance))
        if est.prior is None:  # maximum likelihood: nothing to resolve on this batch
            return GaussianEM(covariance, est.reg_covar, est.means_.dtype)
        return self.fresh(est, X, weights, covariance).model  # the prior from this batch

    def source(self, est, X, weights, model):
        return est._source(X, weights, model.covariance)

    def policy(self, est):
        return make_policy(est.on_collapse)

    def set_fitted(self, est, result, record, model) -> None:
        est._set_fitted(result, record, model.covariance)
        if model.prior is not None:
            est.stream_prior_ = dataclasses.asdict(model.prior)


class GaussianVBStream(GaussianEMStream):
    """BayesianGaussianMixture: stochastic VB; its priors are the fitted ``*_prior_``."""

    attributes = ""
    fit_first_batch = True

    def check(self, est, X, sample_weight):
        check_hyperparameters(est, est._HYPERPARAMETERS)
        covariance = make_covariance(est.covariance_type)
        make_weight_prior(est.weight_concentration_prior_type, 1.0)
        check_option(est.init_params, "init_params", INIT_METHODS)
        X, weights, record = check_gaussian_batch(est, X, sample_weight, covariance)
        return X, weights, record, covariance

    def fresh(self, est, X, weights, covariance):
        return est._parts(X, weights, covariance, bounded_start=True)

    def model(self, est, X, weights, covariance):
        return est._model()

    def policy(self, est):
        return engine.PlainStep()

    def set_fitted(self, est, result, record, model) -> None:
        est._set_fitted(result, record, model)


class BernoulliStream:
    """BernoulliMixture: online EM (MAP under the Beta prior) or stochastic VB, as ``method`` says."""

    fitted = "means_"
    attributes = ""
    fit_first_batch = False

    def check(self, est, X, sample_weight):
        check_hyperparameters(est, est._HYPERPARAMETERS)
        check_option(est.method, "method", ("em", "vb"))
        check_option(est.init_params, "init_params", INIT_METHODS)
        make_weight_prior(est.weight_concentration_prior_type, 1.0)
        check_binarize(est.binarize)
        X, weights, record = check_binary_fit_input(est, X, sample_weight, "a Bernoulli mixture")
        return X, weights, record, None

    def fresh(self, est, X, weights, covariance):
        return est._parts(X, weights, working_dtype(X))

    def model(self, est, X, weights, covariance):
        return fitted_model(est)

    def source(self, est, X, weights, model):
        return est._source(X, weights)

    def policy(self, est):
        return engine.PlainStep()

    def set_fitted(self, est, result, record, model) -> None:
        est._set_fitted(result, record, model)


def _params(est):
    return fitted_params(est) if isinstance(est._stream, BernoulliStream) else est._params()


class OnlineMixture:
    """Abstract: ``partial_fit`` for a mixture estimator whose kind ``streaming`` named."""

    _stream = None  # the kind, set by ``streaming``

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the model with one batch of rows: one step of online EM (stochastic VB).

        The first call (on an unfitted estimator) starts from the batch as ``fit`` does (from
        ``init_params`` or the given ``*_init``; ``n_init`` is ignored) and takes one EM step on
        it; ``BayesianGaussianMixture`` first fits that batch to convergence (``max_iter``, ``tol``), so
        that the components the batch does not need are switched off before the stream starts. Each later call takes the batch's E-step under the current parameters and blends its
        statistics per unit of weight into the running ones, s <- (1 - rho_t) s + rho_t s(batch)
        with rho_t = (t + learning_offset)^(-learning_decay) at step t, then runs the M-step on
        the running statistics scaled to the stream size N (``total_samples``, or the weight seen
        so far): for variational Bayes the blend of the natural parameters of stochastic VB. An
        estimator fitted by ``fit`` (or loaded) continues from its parameters. See
        docs/streaming.md.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of rows, with at least ``n_components`` rows (checked as in ``fit``; a
            later batch is converted to the first batch's dtype). n_features must not change
            between calls.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch's rows, as in ``fit``; an integer weight acts as
            that many copies of the row within the batch.

        Returns
        -------
        self : object
            The updated mixture.
        """
        check_hyperparameters(self, STREAM_HYPERPARAMETERS)
        check_total_samples(self.total_samples)
        kind = self._stream
        fitted = kind.fitted in vars(self)
        X, weights, record, covariance = kind.check(self, X, sample_weight)
        if fitted:
            _check_same_features(self, record.n_features_in_)
        # The step's kernels use numba's loops where numba is loaded, and never import it: a
        # stream keeps its ~100 MB out of the process (kernels/numba_loading.py; same numbers).
        with no_numba_import():
            model, step, start_events = self._stream_step(kind, X, weights, record, covariance, fitted)
        events = [*start_events, *step.events]
        result = engine.FitResult(step.state.params, False, 1, step.lower_bound, [step.lower_bound], events)
        kind.set_fitted(self, result, record, model)  # clears the stream's attributes (_fitted.py)
        self.n_steps_ = step.state.n_steps
        self.n_seen_ = float(step.state.n_seen)
        self.running_statistics_ = encode_statistics(step.state.running)
        for event in events:
            done = {"drop": "dropped", "reseed": "reseeded"}[event.action]
            warnings.warn(f"component {event.component} was {done} at online step {event.iteration} "
                          f"({event.reason})", CollapseWarning, stacklevel=2)
        return self

    def _stream_step(self, kind, X, weights, record, covariance, fitted):
        """(model, engine.online.step's result, the start's collapse events) of one call."""
        if fitted:
            dtype = self.means_.dtype
            X = X.astype(dtype, copy=False) if isinstance(X, np.ndarray) else X
            weights = None if weights is None else weights.astype(dtype, copy=False)
            model = kind.model(self, X, weights, covariance)
            params = _params(self)
            stored = vars(self).get("running_statistics_")
            running = None if stored is None else decode_statistics(stored, model, *self.means_.shape)
            state = online.OnlineState(params, running, vars(self).get("n_steps_", 0),
                                       vars(self).get("n_seen_", 0.0))
            source, start_events = kind.source(self, X, weights, model), []
        else:
            parts = kind.fresh(self, X, weights, covariance)
            model, source = parts.model, parts.source
            options = engine.FitOptions(self.tol, self.max_iter if kind.fit_first_batch else 0,
                                        tol_on_total=parts.tol_on_total)
            start = engine.fit(model, source, parts.start, options, as_generator(self.random_state),
                               make_policy=parts.policy)
            state, start_events = online.OnlineState(start.params), start.events
            # The start's freed memory (k-means: a copy of the batch, its distances, its threads'
            # buffers) back to the system before the step's workspace is made (backends/allocator.py)
            release_freed_memory()
        rho = online.step_size(state.n_steps + 1, self.learning_offset, self.learning_decay)
        step = online.step(model, source, state, rho, self.total_samples, kind.policy(self))
        return model, step, start_events


def _check_same_features(est, n_features: int) -> None:
    if n_features != est.n_features_in_:
        raise ValueError(f"X has {n_features} features, but {type(est).__name__} is expecting "
                         f"{est.n_features_in_} features as input (partial_fit refuses a change of "
                         "n_features between calls)")


_PARAMETER_DOCS = """    learning_offset : float, default=0
        Used by ``partial_fit`` only: t0 >= 0 in the step size
        rho_t = (t + t0)^(-learning_decay) of the t-th online step (the first step takes its
        batch whole); larger values slow the early steps.
    learning_decay : float, default=0.6
        Used by ``partial_fit`` only: the exponent kappa of the step size, in (0.5, 1], where
        sum rho_t diverges and sum rho_t^2 converges (the conditions of online EM); smaller
        values move faster early, larger ones average over more batches late.
    total_samples : float, default=None
        Used by ``partial_fit`` only: the size N of the stream that the running statistics
        stand for, which sets their weight against the prior (MAP, variational Bayes; the
        maximum-likelihood steps do not depend on it). None: the summed sample weight seen so
        far.

"""

_ATTRIBUTE_DOCS = """    n_steps_ : int
        Set by ``partial_fit``: the online steps taken (one per call).
    n_seen_ : float
        Set by ``partial_fit``: the summed sample weight of the batches seen (their rows
        without ``sample_weight``).
    running_statistics_ : dict
        Set by ``partial_fit``: the running sufficient statistics per unit of sample weight,
        one array or float per field of the model's statistics, which the next call blends
        with its batch's.
"""


def streaming(kind):
    """Class decorator: the estimator's stream kind, and the documentation of the hyper-parameters
    and attributes of ``partial_fit`` in its docstring (after its Parameters, and at the end of its
    Attributes)."""

    def decorate(cls):
        cls._stream = kind
        doc = cls.__doc__
        marker = "    Attributes\n    ----------\n"
        doc = doc.replace(marker, _PARAMETER_DOCS + marker, 1)
        attributes = _ATTRIBUTE_DOCS + kind.attributes
        end = doc.find("\n    See Also\n")
        cls.__doc__ = (doc.rstrip() + "\n" + attributes if end < 0
                       else doc[:end + 1] + attributes + doc[end + 1:])
        return cls

    return decorate
