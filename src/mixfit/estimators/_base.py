"""What every Gaussian mixture estimator shares: fit-time checks, fitted attributes, prediction,
scoring and sampling, each mapped over row chunks."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin, clone
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..backends import as_source, default_chunk_size
from ..backends.inputs import is_chunked, is_dask_array
from ..engine import criteria
from ..exceptions import CollapseWarning, ConvergenceWarning
from ..kernels.linalg import logsumexp_rows
from ..models import GaussianParams
from ._fitted import set_loop_attributes
from ._predict import _ChunkPredictions
from .checked_rows import CheckedRecord, is_checked
from .conditional import condition_mixture, marginal_mixture
from .mixture_parts import MixtureParts, run_parts
from .persistence import save_estimator
from .validation import (
    as_generator,
    check_positive_weights,
    check_rows,
    check_sample_weight,
    check_warm_features,
    validate_X,
)
from .validation_chunked import (
    check_chunked_X,
    check_dask_sample_weight,
    check_finite_chunk,
    check_scan,
    scan_rows,
)
from .validation_missing import check_observed_rows

_DTYPES = [np.float64, np.float32]


def _check_moments_representable(X) -> None:
    """Refuse X whose second moments overflow its dtype. A sum of squared deviations over the rows
    is at most n_samples * sum_d range_d^2; past the dtype's largest value the scatter (and
    KMeans' variances) become inf, which would surface as a misleading "collapsed" error. Checked
    as a ratio to the limit, so that the check itself cannot overflow. X's overall range bounds
    every feature's, so it is tried first: one contiguous pass (~40x faster than the per-feature
    reductions, ~0.2 of a partial_fit step at (1e5, 16, 8) full); only where that bound fails
    are the per-feature ranges taken, for the exact check and its message. NaN entries are
    missing values (GaussianMixture's fit takes them): the NaN-ignoring reductions then."""
    n_features = X.shape[1]
    low, high = X.min(), X.max()
    if np.isnan(low) or np.isnan(high):  # NaN: missing entries
        low, high = np.nanmin(X), np.nanmax(X)
    try:
        _check_spread(np.full(n_features, low), np.full(n_features, high), X.shape[0], X.dtype)
    except ValueError:
        _check_spread(np.nanmin(X, axis=0), np.nanmax(X, axis=0), X.shape[0], X.dtype)


def _check_spread(low, high, n_samples, dtype) -> None:
    """The check of ``_check_moments_representable`` from per-feature minima and maxima (D,)."""
    info = np.finfo(dtype)
    with np.errstate(over="ignore"):
        spread = np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)  # (D,) range_d
    limit = np.sqrt(float(info.max) / n_samples)
    if not np.sqrt(np.sum(np.square(spread / limit))) < 1:
        raise ValueError(
            f"X ({dtype}) spans up to {spread.max():.3g} in a feature: over {n_samples} rows its "
            f"second moments would exceed {dtype}'s largest value {float(info.max):.3g}; expected "
            "data on a smaller scale (rescale X, or convert float32 X to float64)")


def _n_rows(X) -> int:
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


class _GaussianMixtureBase(_ChunkPredictions, DensityMixin, BaseEstimator):
    """Abstract: prediction, scoring and sampling shared by the Gaussian mixture estimators."""

    # ---- fitting helpers -------------------------------------------------------------------

    def _check_X_for_fit(self, X):
        """Validate X without touching self; returns (X, record) where record holds the
        feature bookkeeping to copy onto self once the fit has succeeded."""
        missing = self._MISSING_IN_FIT
        if is_checked(X, _DTYPES, min_samples=2):  # a sweep's rows, checked once (checked_rows.py)
            record = CheckedRecord(X.shape[1])
        else:
            record = clone(self)
            X = validate_X(record, X, dtype=_DTYPES, ensure_min_samples=2,
                           ensure_all_finite="allow-nan" if missing else True)
            if missing:
                check_observed_rows(X)  # infinity refused; a row with nothing observed named
            # read by the start (mean_imputed); a finite sum has no NaN (one pass, no temporary)
            record._has_missing = bool(missing and not np.isfinite(X.sum()) and np.isnan(X).any())
        check_rows(X.shape[0], self.n_components)
        _check_moments_representable(X)
        check_warm_features(self, X.shape[1], self._is_warm())
        return X, record

    def _check_fit_input(self, X, sample_weight, covariance):
        """Validate X and sample_weight without touching self; returns (X, weights, record).

        In memory, scikit-learn's checks. Out of core or on dask (see ``validation_chunked``): the
        metadata checks, then one chunked pass that checks the values of X (and of dask weights),
        with the same errors, before anything else reads the data."""
        if not is_chunked(X):
            X, record = self._check_X_for_fit(X)
            weights = check_sample_weight(sample_weight, X.shape[0], X.dtype)
            check_positive_weights(weights, self.n_components)
            return X, weights, record
        record = clone(self)
        X = check_chunked_X(record, X, reset=True, min_samples=2)
        n_samples, n_features = X.shape
        check_rows(n_samples, self.n_components)
        check_warm_features(self, n_features, self._is_warm())
        lazy_weights = is_dask_array(sample_weight) and is_dask_array(X)
        if lazy_weights:
            weights = check_dask_sample_weight(sample_weight, n_samples).astype(X.dtype)
        else:
            weights = check_sample_weight(sample_weight, n_samples, X.dtype)
        scan = scan_rows(self._source(X, weights, covariance), allow_missing=self._MISSING_IN_FIT)
        check_scan(scan, self.n_components, weighted=lazy_weights)
        record._has_missing = scan.n_missing > 0
        if not lazy_weights:
            check_positive_weights(weights, self.n_components)
        _check_spread(scan.low, scan.high, n_samples, X.dtype)
        return X, weights, record

    def _is_warm(self) -> bool:
        return bool(self.warm_start) and "precisions_cholesky_" in vars(self)

    def _source(self, X, sample_weight=None, covariance=None):
        # ``covariance``: the strategy a fit built once; None: the fitted one (predictions)
        covariance = self._covariance if covariance is None else covariance
        workspace = covariance.workspace_columns(X.shape[1], self.n_components)
        chunk = self.chunk_size or default_chunk_size(X.shape[1], self.n_components, X.dtype.itemsize, workspace,
                                                      covariance.chunk_bytes)
        return as_source(X, sample_weight, chunk)

    def _set_fitted(self, result: engine.FitResult, record, covariance) -> None:
        """The only place fitted attributes are written."""
        params = result.params
        self._covariance = covariance
        self.weights_ = params.weights
        self.means_ = params.means
        self.precisions_cholesky_ = params.prec_chol
        self.collapse_events_ = [event.as_dict() for event in result.events]
        set_loop_attributes(self, result, record)

    def _run(self, parts: MixtureParts) -> engine.FitResult:
        """``run_parts``, then the warnings of the result, pointing at the caller of ``fit``."""
        result = run_parts(self, parts)
        if not result.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init parameters, "
                "or increase max_iter, tol, or check for degenerate data. "
                f"(max_iter={self.max_iter}, tol={self.tol} {'on the total' if parts.tol_on_total else 'per sample'})",
                ConvergenceWarning,
                stacklevel=3,
            )
        for event in result.events:
            done = {"drop": "dropped", "reseed": "reseeded"}[event.action]
            warnings.warn(f"component {event.component} was {done} at iteration "
                          f"{event.iteration} ({event.reason})", CollapseWarning, stacklevel=3)
        return result

    # ---- derived parametrisations (one stored, the others computed) -------------------------

    @property
    def covariances_(self):
        return self._covariance.covariance(self.precisions_cholesky_)

    @property
    def precisions_(self):
        return self._covariance.precision(self.precisions_cholesky_)

    def _params(self) -> GaussianParams:
        return GaussianParams(self.weights_, self.means_, self.precisions_cholesky_)

    # ---- prediction ------------------------------------------------------------------------

    _FITTED = "precisions_cholesky_"
    _MISSING_IN_PREDICTION = False  # True: NaN entries are missing values in prediction
    _MISSING_IN_FIT = False  # True: and in fit (the observed-data E-step; allow_nan in the tags)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # scikit-learn's tag protocol: its base builds the tags
        tags.input_tags.allow_nan = self._MISSING_IN_FIT
        return tags

    def _prediction_input(self, X):
        missing = self._MISSING_IN_PREDICTION
        if is_chunked(X):  # out of core or dask: NaN / inf checked as the chunks are read
            X = check_chunked_X(self, X, reset=False)
            return X, X.dtype, check_observed_rows if missing else check_finite_chunk
        if is_checked(X, _DTYPES) and X.shape[1] == getattr(self, "n_features_in_", None):
            return X, X.dtype, None  # a sweep's rows, checked once (checked_rows.py)
        X = validate_X(self, X, dtype=_DTYPES, reset=False, ensure_all_finite="allow-nan" if missing else True)
        if missing:
            check_observed_rows(X)
        return X, X.dtype, None

    def score_samples(self, X):
        """Compute the log-likelihood of each sample under the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows to evaluate, checked as in ``fit``: in memory, a memmap or chunked array-like
            (read in row chunks), or a dask array (the result is then a lazy dask array with X's
            row blocks; see docs/scale.md).

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            ln p(x_n) = ln sum_k weights_k N(x_n | means_k, covariances_k) for each row, in X's
            dtype. ``GaussianMixture`` takes NaN entries as missing: a row's value is then the
            density of its observed features (each component's marginal over them).
        """
        log_rho = self._log_rho_fn()
        return self._map_rows(X, lambda chunk: logsumexp_rows(log_rho(chunk)))

    def fit_predict(self, X, y=None, sample_weight=None):
        """Estimate the model parameters using X and predict the labels for X.

        The same as ``fit(X, sample_weight=sample_weight).predict(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training data, as in ``fit``.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, as in ``fit``.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def sample(self, n_samples=1, random_state=None):
        """Generate random samples from the fitted Gaussian mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate (an integer >= 1).
        random_state : int, Generator, RandomState or None, default=None
            Seeds this call only; None falls back to the estimator's ``random_state`` (as
            scikit-learn, which always uses the estimator's).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Randomly generated sample, in ``means_``'s dtype. The counts per component are one
            multinomial draw with probabilities ``weights_``; the rows are grouped by component.
        y : ndarray of shape (n_samples,)
            Component labels.
        """
        check_is_fitted(self, "precisions_cholesky_")
        if not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples!r}; expected an integer >= 1")
        rng = as_generator(self.random_state if random_state is None else random_state)
        weights = self.weights_.astype(np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        means = self.means_.astype(np.float64)
        prec_chol = self.precisions_cholesky_.astype(np.float64)
        X = np.vstack([
            self._covariance.draw(rng, means[k], prec_chol, k, int(count)) for k, count in enumerate(counts)
        ]).astype(self.means_.dtype)
        y = np.repeat(np.arange(self.weights_.shape[0]), counts)
        return X, y

    def _n_parameters(self) -> int:
        return self._model().n_parameters(*self.means_.shape)

    def bic(self, X):
        """Bayesian information criterion for the current model on the input X.

        BIC = -2 ln L + p ln n, lower is better, with ln L the sum of ``score_samples(X)``, n the
        number of rows and p the number of free parameters of the fitted model (K - 1 weights,
        K D means and the covariance type's own).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data on which the criterion is evaluated (in memory, out of core or dask, as for
            ``score_samples``).

        Returns
        -------
        bic : float
            The lower the better.
        """
        n = _n_rows(X)
        return criteria.bic(self.score(X) * n, self._n_parameters(), n)

    def aic(self, X):
        """Akaike information criterion for the current model on the input X.

        AIC = -2 ln L + 2 p, lower is better, with ln L and p as in ``bic``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data on which the criterion is evaluated (in memory, out of core or dask, as for
            ``score_samples``).

        Returns
        -------
        aic : float
            The lower the better.
        """
        return criteria.aic(self.score(X) * _n_rows(X), self._n_parameters())

    def marginal(self, features):
        """The fitted mixture's marginal over some of its features (docs/math/conditional.md).

        Each component keeps its weight; its mean and covariance are restricted to ``features``.
        For ``BayesianGaussianMixture`` the point parameters ``weights_``, ``means_`` and
        ``covariances_`` are marginalised (the plug-in mixture, not the posterior predictive).

        Parameters
        ----------
        features : int, str or array-like of int or str
            The features kept, in the order wanted: distinct indices in [0, ``n_features_in_``), or
            names of ``feature_names_in_``; at least one and not all.

        Returns
        -------
        marginal : GaussianMixture
            A fitted mixture over ``features``, of the same ``covariance_type`` (usable for
            ``score_samples``, ``predict``, ``sample``, ``save``...). It was not fitted by EM:
            its ``n_iter_`` is 0, ``lower_bound_`` -inf and ``lower_bounds_`` empty.
        """
        return marginal_mixture(self, features)

    def condition(self, features, values):
        """The mixture over the other features given the values of ``features``.

        Weights become p(k | x_a), each component's weight times its marginal density of the
        values, normalised in log space; means and covariances are the Schur-complement
        conditionals of the components (docs/math/conditional.md). 'full' and 'tied' stay full and
        tied; for 'diag' and 'spherical' the other coordinates are independent of the given ones
        within a component, so only the weights change. For ``BayesianGaussianMixture`` the
        point parameters are conditioned, as in ``marginal``.

        Parameters
        ----------
        features : int, str or array-like of int or str
            The given features: distinct indices in [0, ``n_features_in_``), or names of
            ``feature_names_in_``; at least one and not all.
        values : array-like of shape (n_given,)
            One row: the value of each given feature, in the order of ``features``.

        Returns
        -------
        conditional : GaussianMixture
            A fitted mixture over the other features, in increasing order of their indices,
            of the same ``covariance_type`` (fitted attributes as for ``marginal``).
        """
        return condition_mixture(self, features, values)

    def save(self, path, *, metadata=None) -> None:
        """Write this fitted model to ``path`` as a model file; read it back with ``mixfit.load``.

        The file is a zip of JSON and ``.npy`` arrays that loading never unpickles (format and
        versioning: the docstring of ``mixfit.modelfile.io``). A ``random_state`` that is a
        Generator or RandomState object is stored as None, with a warning: prediction does not
        use it.

        Parameters
        ----------
        path : str or path-like
            Where to write the file (conventionally ``*.mixfit``); an existing file is replaced
            atomically.
        metadata : dict, default=None
            Free JSON stored beside the model (the command line records the data's columns
            there); ``mixfit.modelfile.read_model_file`` returns it.
        """
        save_estimator(self, path, metadata)


