"""BernoulliMixture: mixtures of multivariate Bernoulli distributions by EM or VB, on the seam."""

from __future__ import annotations

import numbers
import warnings
from typing import ClassVar

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, DensityMixin, clone
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..backends import ArraySource, as_source, default_chunk_size
from ..backends.inputs import RowReader, is_chunked, is_dask_array
from ..engine import criteria
from ..engine.starts import INIT_METHODS, initial_stats
from ..exceptions import ConvergenceWarning
from ..families.weights import make_weight_prior
from ..kernels.linalg import logsumexp_rows
from ..models import BernoulliEM, BernoulliParams, BernoulliVB, BernoulliVBParams
from ..models.bernoulli import BetaPrior
from ._fitted import set_loop_attributes
from ._predict import _ChunkPredictions
from .persistence import save_estimator
from .validation import (
    LOOP_HYPERPARAMETERS,
    as_generator,
    check_hyperparameters,
    check_option,
    check_sample_weight,
    validate_X,
)
from .validation_binary import (
    Binarized,
    binarized_dask,
    check_binary_chunk,
    first_non_binary,
    is_binary,
    non_binary_message,
)
from .validation_chunked import (
    check_chunked_X,
    check_dask_sample_weight,
    check_scan,
    scan_entries,
)

METHODS = ("em", "vb")
# The Beta(alpha, beta) prior on every success probability when alpha / beta are None. EM: the
# posterior mode under Beta(2, 2) is (count of ones + 1) / (N_k + 2), Laplace's add-one rule, which
# keeps every mu_ki inside (0, 1) at the cost of one pseudo-row per value. VB: the uniform Beta(1, 1),
# whose posterior mean is the same (count + 1) / (N_k + 2).
DEFAULT_BETA_PRIOR = {"em": 2.0, "vb": 1.0}


def _check_prior_value(value, name: str, method: str) -> float:
    """alpha / beta: None (the method's default) or a finite number > 0 (VB) or >= 1 (EM)."""
    if value is None:
        return DEFAULT_BETA_PRIOR[method]
    em_rule = ">= 1 for method='em' (the posterior mode needs it; 1 with 1 is maximum likelihood)"
    low, expected = (1.0, em_rule) if method == "em" else (0.0, "> 0")
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or (value < low if method == "em" else value <= low):
        raise ValueError(f"{name}={value!r}; expected None or a finite number {expected}")
    return float(value)


class BernoulliMixture(_ChunkPredictions, DensityMixin, BaseEstimator):
    """Mixture of multivariate Bernoulli distributions (PRML 9.3.3), by EM or variational Bayes.

    Each component k gives every feature i an independent success probability mu_ki; the mixture
    captures correlations between features that a single product of Bernoullis cannot. X is
    binary: a dense array of 0/1 in any integer, bool or float dtype, or a scipy sparse matrix
    (used in CSR form, read in row chunks, never densified). Non-binary X is refused, unless
    ``binarize`` is given. X may also be larger than memory, as for ``GaussianMixture``: a
    ``numpy.memmap``, any array-like with ``shape``, ``dtype`` and row slicing (zarr, h5py), or a
    ``dask.array``; such X (dense 0/1, ``binarize=None``) is checked and read chunk by chunk, never
    loaded, and on dask the predictions are lazy dask arrays (docs/scale.md).

    Parameters
    ----------
    n_components : int, default=1
    method : {'em', 'vb'}, default='em'
        'em': the posterior mode (MAP) under the Beta prior by EM; with ``alpha=beta=1`` (the flat
        prior) this is maximum likelihood, where a mu_ki may reach exactly 0 or 1 (evaluated
        exactly: a 1 where mu_ki = 0 has probability 0). 'vb': variational Bayes with q(mu_ki)
        Beta and q(pi) Dirichlet or stick-breaking; ``lower_bound_`` is the full ELBO.
    tol : float, default=1e-3
        Convergence threshold on the change of the per-sample objective.
    max_iter : int, default=100
    n_init : int, default=1
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        A first partition (nearest centre, or random responsibilities) whose M-step gives the start.
    alpha, beta : float or None
        The Beta(alpha, beta) prior on every success probability. None: 2 for EM (the MAP estimate
        is then (ones + 1) / (N_k + 2), Laplace's rule, which keeps every mu_ki inside (0, 1)), 1 for
        VB (uniform). EM needs values >= 1; VB values > 0.
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
        The VB prior on the weights (ignored by EM, whose weights are N_k / N).
    weight_concentration_prior : float > 0 or None (1 / n_components)
    binarize : float or None, default=None
        None: X must be binary. A threshold t: X is replaced by (X > t) (as scikit-learn's
        ``BernoulliNB``); for sparse X, t must be >= 0 so that zeros stay zeros.
    random_state, warm_start, verbose, verbose_interval : as scikit-learn's mixtures
    chunk_size : int or None
        Rows per pass chunk; None picks a few MB of working set.

    Attributes
    ----------
    weights_ : (n_components,)  pi_k (EM) or E[pi_k] (VB)
    means_ : (n_components, n_features)  success probabilities mu_ki (EM) or E[mu_ki] (VB)
    alpha_prior_, beta_prior_ : the Beta prior used
    weight_concentration_, beta_posterior_, weight_concentration_prior_ : VB only; q(pi) in
        scikit-learn's form and q(mu_ki) = Beta(a_ki, b_ki) as the pair (a, b)
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_, feature_names_in_
    """

    _HYPERPARAMETERS: ClassVar[dict] = LOOP_HYPERPARAMETERS

    def __init__(self, n_components=1, *, method="em", tol=1e-3, max_iter=100, n_init=1, init_params="kmeans",
                 alpha=None, beta=None, weight_concentration_prior_type="dirichlet_process",
                 weight_concentration_prior=None, binarize=None, random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.alpha = alpha
        self.beta = beta
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.binarize = binarize
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # scikit-learn's tag protocol: its base builds the tags
        tags.input_tags.sparse = True
        return tags

    # ---- the boundary ----------------------------------------------------------------------

    def _check_binarize(self):
        value = self.binarize
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not np.isfinite(value)):
            raise ValueError(f"binarize={value!r}; expected None or a finite threshold")

    def _binary_X(self, record, X, reset: bool, **kwargs):
        """Validated X: dense (dtype kept) or CSR, binary, or binarised when ``binarize`` is set."""
        X = validate_X(record, X, accept_sparse="csr", dtype="numeric", reset=reset, **kwargs)
        if X.dtype.kind not in "biuf":
            raise ValueError(f"X has dtype {X.dtype}; expected binary data (bool, integer or float 0/1)")
        if self.binarize is not None:
            if not sparse.issparse(X):
                return X > self.binarize  # a new bool array; the user's X is untouched
            if self.binarize < 0:
                raise ValueError(f"binarize={self.binarize!r} would turn the zeros of a sparse X into ones "
                                 "(densifying it); expected a threshold >= 0 for sparse X")
            X = X.copy()
            X.data = X.data > self.binarize
            X.eliminate_zeros()
            return X
        bad = first_non_binary(X)
        if bad is not None:
            raise ValueError(non_binary_message("a Bernoulli mixture", bad, lazy=False))
        return X

    def _lazy_X(self, record, X, reset: bool):
        """Metadata checks of a memmap, array-like or dask X (no value read): dense, binary, or
        binarised chunk by chunk as it is read when ``binarize`` is set."""
        checked = check_chunked_X(record, X, reset=reset, min_samples=2 if reset else 1)
        if self.binarize is None:
            return checked
        if is_dask_array(checked):
            # x > t where x is finite; NaN and inf kept, so that the value check still names them
            return binarized_dask(checked, self.binarize)
        return RowReader(Binarized(X, self.binarize), np.float64)

    def _check_lazy_values(self, X, sample_weight):
        """The values of lazy X (after ``_lazy_X``) and its weights, checked as ``GaussianMixture``
        checks them: one chunked pass (finite, binary, dask weights valid) before anything else
        reads X. Returns (X, weights)."""
        n_samples, K = X.shape[0], self.n_components
        lazy_weights = is_dask_array(sample_weight) and is_dask_array(X)
        if lazy_weights:
            weights = check_dask_sample_weight(sample_weight, n_samples).astype(X.dtype)
        else:
            weights = check_sample_weight(sample_weight, n_samples, X.dtype)
        scan = scan_entries(self._source(X, weights), is_binary)
        check_scan(scan.rows, K, weighted=lazy_weights)
        if np.isfinite(scan.bad_row):
            bad = (int(scan.bad_row), scan.bad_column, scan.bad_value)
            raise ValueError(non_binary_message("a Bernoulli mixture", bad, lazy=True))
        return X, weights

    @staticmethod
    def _working_dtype(X) -> np.dtype:
        return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)

    def _source(self, X, sample_weight=None):
        dtype = self._working_dtype(X)
        # A CSR chunk's working set grows with its stored entries, not with n_features: size the
        # chunks by the mean stored entries per row, so that sparse chunks hold as many bytes as dense.
        width = max(1, X.nnz // max(1, X.shape[0])) if sparse.issparse(X) else X.shape[1]
        chunk = self.chunk_size or default_chunk_size(width, self.n_components, dtype.itemsize)
        if sparse.issparse(X):
            return ArraySource(X, sample_weight, chunk)
        return as_source(X, sample_weight, chunk)  # dask: a DaskSource; memmap, reader: chunked reads

    def _is_warm(self) -> bool:
        if not (self.warm_start and "means_" in vars(self)):
            return False
        return self.method == "em" or "beta_posterior_" in vars(self)

    # ---- fitting ---------------------------------------------------------------------------

    def _build_model(self, dtype):
        alpha = _check_prior_value(self.alpha, "alpha", self.method)
        beta = _check_prior_value(self.beta, "beta", self.method)
        prior = BetaPrior(alpha, beta)
        if self.method == "em":
            return BernoulliEM(prior, dtype)
        concentration = self.weight_concentration_prior
        if concentration is not None and (isinstance(concentration, bool)
                                          or not isinstance(concentration, numbers.Real)
                                          or not np.isfinite(concentration) or concentration <= 0):
            raise ValueError(f"weight_concentration_prior={concentration!r}; expected None or a finite number > 0")
        weights = make_weight_prior(self.weight_concentration_prior_type,
                                    1.0 / self.n_components if concentration is None else concentration)
        return BernoulliVB(weights, prior, dtype)

    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture by EM or VB; returns self. A failed fit leaves self unchanged."""
        check_hyperparameters(self, self._HYPERPARAMETERS)
        check_option(self.method, "method", METHODS)
        check_option(self.init_params, "init_params", INIT_METHODS)
        make_weight_prior(self.weight_concentration_prior_type, 1.0)
        self._check_binarize()
        record = clone(self)
        lazy = is_chunked(X)
        X = self._lazy_X(record, X, reset=True) if lazy else self._binary_X(record, X, reset=True,
                                                                            ensure_min_samples=2)
        n_samples, n_features = X.shape
        K = self.n_components
        if n_samples < K:
            raise ValueError(f"X has n_samples = {n_samples} rows but n_components = {K}; "
                             "expected n_samples >= n_components")
        if self._is_warm() and n_features != self.n_features_in_:
            raise ValueError(f"X has {n_features} features, but BernoulliMixture was fitted with "
                             f"{self.n_features_in_} and warm_start=True")
        dtype = self._working_dtype(X)
        if lazy:  # the values (and dask weights), in one chunked pass
            X, weights = self._check_lazy_values(X, sample_weight)
        else:
            weights = check_sample_weight(sample_weight, n_samples, dtype)
        if weights is not None and not is_dask_array(weights) and np.count_nonzero(weights) < K:
            raise ValueError(f"sample_weight has {np.count_nonzero(weights)} positive entries; expected at "
                             f"least n_components = {K}")
        model = self._build_model(dtype)
        source = self._source(X, weights)
        options = engine.FitOptions(self.tol, self.max_iter, self.n_init, self.verbose, self.verbose_interval)
        if self._is_warm():
            previous = self._params()
            options = engine.FitOptions(self.tol, self.max_iter, 1, self.verbose, self.verbose_interval)

            def start(rng):
                return previous if self.method == "vb" else previous.astype(dtype)
        else:
            def start(rng):
                return model.maximize(initial_stats(model, source, K, self.init_params, rng), None)

        result = engine.fit(model, source, start, options, as_generator(self.random_state))
        if not result.converged and self.max_iter > 0:
            warnings.warn(
                f"Best performing initialization did not converge in max_iter={self.max_iter} iterations "
                f"(tol={self.tol}). Try different init parameters, or increase max_iter or tol.",
                ConvergenceWarning, stacklevel=2)
        self._set_fitted(result, record, model)
        return self

    def _set_fitted(self, result: engine.FitResult, record, model) -> None:
        """The only place fitted attributes are written."""
        params = result.params
        for key in ("weight_concentration_", "beta_posterior_", "weight_concentration_prior_"):
            vars(self).pop(key, None)  # a VB fit's posterior does not describe a later EM fit
        if isinstance(model, BernoulliVB):
            self.weights_ = model.expected_weights(params).astype(model.dtype)
            self.means_ = model.expected_means(params).astype(model.dtype)
            self.weight_concentration_ = model.weights.attribute(params.concentration)
            self.weight_concentration_prior_ = model.weights.concentration
            self.beta_posterior_ = (params.a, params.b)
        else:
            self.weights_ = params.weights
            self.means_ = params.means
        self.alpha_prior_ = model.prior.alpha
        self.beta_prior_ = model.prior.beta
        set_loop_attributes(self, result, record)

    # ---- the fitted model, rebuilt from the public attributes -------------------------------

    def _model(self):
        prior = BetaPrior(self.alpha_prior_, self.beta_prior_)
        if "beta_posterior_" in vars(self):
            weights = make_weight_prior(self.weight_concentration_prior_type, self.weight_concentration_prior_)
            return BernoulliVB(weights, prior, self.means_.dtype)
        return BernoulliEM(prior, self.means_.dtype)

    def _params(self):
        if "beta_posterior_" in vars(self):
            concentration = self.weight_concentration_
            concentration = np.stack(concentration) if isinstance(concentration, tuple) else concentration
            return BernoulliVBParams(concentration, *self.beta_posterior_)
        return BernoulliParams(self.weights_, self.means_)

    # ---- prediction ------------------------------------------------------------------------

    _FITTED = "means_"

    def _prediction_input(self, X):
        if is_chunked(X):  # out of core or dask: finite and binary checked as the chunks are read
            return (self._lazy_X(self, X, reset=False), self.means_.dtype,
                    lambda chunk, start: check_binary_chunk(chunk, start, "a Bernoulli mixture"))
        return self._binary_X(self, X, reset=False), self.means_.dtype, None

    def score_samples(self, X):
        """ln p(x_n) per row, (n_samples,): the fitted mixture's log-likelihood (EM), or the log
        posterior predictive density of q (VB), sum_k E[pi_k] prod_i Bern(x_i | E[mu_ki])."""
        check_is_fitted(self, "means_")
        model, params = self._model(), self._params()
        components = (model.log_predictive_components if isinstance(model, BernoulliVB)
                      else model.log_prob_components)
        return self._map_rows(X, lambda chunk: logsumexp_rows(components(chunk, params)))

    def fit_predict(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def sample(self, n_samples=1, random_state=None):
        """Draw ``n_samples`` binary rows (in ``means_``'s dtype) and their components."""
        check_is_fitted(self, "means_")
        if not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples={n_samples!r}; expected an integer >= 1")
        rng = as_generator(self.random_state if random_state is None else random_state)
        weights = self.weights_.astype(np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        y = np.repeat(np.arange(self.weights_.shape[0]), counts)
        X = (rng.random((n_samples, self.means_.shape[1])) < self.means_[y]).astype(self.means_.dtype)
        return X, y

    # ---- model selection -------------------------------------------------------------------

    def _n_parameters(self) -> int:
        """Free parameters: K - 1 weights and K D success probabilities."""
        return self._model().n_parameters(*self.means_.shape)

    def bic(self, X):
        """Bayesian information criterion -2 ln L + p ln n (lower is better)."""
        log_p = self.score_samples(X)
        return criteria.bic(float(log_p.sum(dtype=np.float64)), self._n_parameters(), log_p.shape[0])

    def aic(self, X):
        """Akaike information criterion -2 ln L + 2 p (lower is better)."""
        return criteria.aic(float(self.score_samples(X).sum(dtype=np.float64)), self._n_parameters())

    def save(self, path, *, metadata=None) -> None:
        """Write this fitted model to ``path``; read it back with ``mixfit.load``."""
        save_estimator(self, path, metadata)
