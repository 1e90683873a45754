"""GaussianHSMM and CategoricalHSMM (PoissonHSMM: hsmm_poisson.py): explicit-duration hidden
semi-Markov models fitted by EM (the segment forward-backward, docs/math/hsmm.md), on the HMMs'
emissions. Each class names its emission; the rest is hsmm_base.py's."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..backends import as_source
from ..backends.imputed import mean_imputed
from ..engine.starts import INIT_METHODS, initial_stats
from ..families.registry import make_covariance
from ..models.gaussian_em import GaussianEM
from ..models.hmm_emissions import CategoricalEmission, GaussianEmission
from .hmm_checks import (
    check_enough_frames,
    check_n_symbols,
    check_stochastic,
    check_symbol_frames,
)
from .hmm_missing import check_frames_with_missing
from .hsmm_base import HSMM_HYPERPARAMETERS, _HSMMBase
from .validation import (
    INTEGER_AT_LEAST_1,
    REAL_AT_LEAST_0,
    check_hyperparameters,
    check_means_init,
    check_option,
)


def frame_source(X, lengths, weights, chunk_frames):
    """The frames as a mixture sees them, each with its sequence's weight (the emission starts)."""
    return as_source(X, None if weights is None else np.repeat(weights, lengths), chunk_frames)


class GaussianHSMM(_HSMMBase):
    """Hidden semi-Markov model with Gaussian emissions and explicit state durations, by EM.

    Each visit to a state is a segment whose length d = 1 .. ``max_duration`` follows the state's
    duration distribution; the next segment's state is drawn from ``transmat_``, whose diagonal
    is zero. The E-step is the segment forward-backward (Yu 2010) in O(n_samples n_components
    max_duration); the last segment of each sequence is right-censored (it may go on past the
    data). See docs/math/hsmm.md.

    NaN entries of the frames are missing values (at random), as for ``GaussianHMM``: each
    state's density of a frame's observed entries (1 for a frame with every entry NaN; infinity
    is refused; docs/math/hmm.md, "Missing frames").

    Parameters
    ----------
    n_components : int, default=2
        Number of hidden states K (at least 2).
    duration : {'poisson', 'negative_binomial', 'nonparametric'}, default='poisson'
        The family of the duration distributions, each shifted to d >= 1 and truncated at
        ``max_duration``: d - 1 Poisson (rates), d - 1 negative binomial (r, p) or a free table.
    max_duration : int, default=100
        D, the longest segment.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='diag'
        The form of each state's emission covariance.
    reg_covar : float, default=1e-6
        Added to the diagonal of every emission covariance at each M-step.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    tol : float, default=1e-4
        Convergence threshold on the change of the log-likelihood per frame.
    max_iter : int, default=100
        The most EM iterations of one start.
    n_init : int, default=1
        Independent starts; the best final log-likelihood is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the emissions start (on the frames, as a mixture would).
    startprob_init : array-like of shape (n_components,), default=None
        Starting start probabilities; None: uniform.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Starting transition matrix with a zero diagonal; None: uniform off the diagonal.
    durations_init : array-like, default=None
        Starting duration params: rates (K,) of d - 1 ('poisson'), rows (r, p) (K, 2)
        ('negative_binomial') or a table (K, max_duration) ('nonparametric'); None: durations of
        about a K-th of the mean sequence length (at most ``max_duration`` / 2).
    means_init : array-like of shape (n_components, n_features), default=None
        Starting emission means.
    precisions_init : array-like, default=None
        Starting emission precisions, in scikit-learn's shape for ``covariance_type``.
    fixed : tuple of {'startprob', 'transmat', 'durations', 'means', 'covariances'}, default=()
        Parameters kept at their starting values.
    random_state : int, RandomState instance or None, default=None
        Seeds the starts.
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues from the fitted parameters.
    verbose : int, default=0
        Progress messages: 0 none, 1 per start, 2 per ``verbose_interval`` iterations.
    verbose_interval : int, default=10
        Iterations between messages at ``verbose=2``.
    chunk_size : int, default=None
        Frames per chunk of whole sequences; None: 65536.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
        Probabilities of the first segment's state.
    transmat_ : ndarray of shape (n_components, n_components)
        Segment-to-segment transition probabilities, zero diagonal, rows summing to 1.
    durations_ : ndarray
        The duration family's params, shaped as ``durations_init``.
    duration_pmf_ : ndarray of shape (n_components, max_duration)
        p_k(d), derived from ``durations_``.
    means_ : ndarray of shape (n_components, n_features)
        Emission means.
    precisions_cholesky_ : ndarray
        Cholesky factors of the emission precisions.
    covariances_ : ndarray
        Emission covariances, derived from ``precisions_cholesky_``.
    converged_ : bool
        Whether the best start converged.
    n_iter_ : int
        EM iterations of the best start.
    lower_bound_ : float
        Log-likelihood per frame of the best start.
    lower_bounds_ : list of float
        ``lower_bound_`` at each iteration of the best start.
    n_features_in_ : int
        Number of features seen during ``fit``.

    See Also
    --------
    GaussianHMM : The model whose durations are geometric.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import GaussianHSMM
    >>> X = np.repeat([[0], [5], [0], [5]], 30, axis=0) + np.random.default_rng(0).normal(size=(120, 1))
    >>> hsmm = GaussianHSMM(n_components=2, max_duration=40, random_state=0).fit(X)
    >>> hsmm.predict(X).shape
    (120,)
    """

    _FIXABLE = ("startprob", "transmat", "durations", "means", "covariances")
    _HYPERPARAMETERS: ClassVar[dict] = {**HSMM_HYPERPARAMETERS, "reg_covar": REAL_AT_LEAST_0}

    def __init__(self, n_components=2, *, duration="poisson", max_duration=100, covariance_type="diag",
                 reg_covar=1e-6, algorithm="viterbi", tol=1e-4, max_iter=100, n_init=1, init_params="kmeans",
                 startprob_init=None, transmat_init=None, durations_init=None, means_init=None,
                 precisions_init=None, fixed=(), random_state=None, warm_start=False, verbose=0,
                 verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.duration = duration
        self.max_duration = max_duration
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.durations_init = durations_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.fixed = fixed
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    def _check_frames(self, X, reset):
        return check_frames_with_missing(self, X, reset, self._chunk_frames())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # scikit-learn's tag protocol: its base builds the tags
        tags.input_tags.allow_nan = True  # NaN entries are missing frames' values (hmm_missing.py)
        return tags

    def _emission_model(self, fixed=frozenset()):
        mixture = GaussianEM(make_covariance(self.covariance_type), self.reg_covar)
        return GaussianEmission(mixture, "means" in fixed, "covariances" in fixed)

    def _emission_params(self):
        return GaussianEmission.params(self.means_, self.precisions_cholesky_)

    def _fit_emission(self, X, fixed):
        return self._emission_model(fixed)

    def _emission_start(self, X, lengths, weights, rng, emission):
        check_option(self.init_params, "init_params", INIT_METHODS)
        covariance = make_covariance(self.covariance_type)
        K, n_features = self.n_components, X.shape[1]
        check_enough_frames(X, K)
        means = check_means_init(self.means_init, K, n_features)
        prec_chol = (None if self.precisions_init is None
                     else covariance.check_precisions(self.precisions_init, K, n_features))
        if means is not None and prec_chol is not None:
            return GaussianEmission.params(means, prec_chol)
        mixture = GaussianEM(covariance, self.reg_covar)
        # the start reads missing entries as their column's mean (backends/imputed.py)
        frames = mean_imputed(frame_source(X, lengths, weights, self._chunk_frames()), self._chunk_frames())
        first = mixture.maximize(initial_stats(mixture, frames, K, self.init_params, rng, means), None)
        return GaussianEmission.params(first.means if means is None else means,
                                       first.prec_chol if prec_chol is None else prec_chol)

    def _set_emission(self, params, record):
        self.means_ = params.means
        self.precisions_cholesky_ = params.prec_chol

    @property
    def covariances_(self):
        """Emission covariances in the covariance type's shape."""
        return make_covariance(self.covariance_type).covariance(self.precisions_cholesky_)


class CategoricalHSMM(_HSMMBase):
    """Hidden semi-Markov model with categorical emissions (symbols 0..M-1) and explicit state
    durations, by EM.

    X is a column (n_samples, 1) of integer symbols. The chain, the durations and the methods are
    ``GaussianHSMM``'s.

    Parameters
    ----------
    n_components : int, default=2
        Number of hidden states K (at least 2).
    duration : {'poisson', 'negative_binomial', 'nonparametric'}, default='poisson'
        The family of the duration distributions (as ``GaussianHSMM``).
    max_duration : int, default=100
        D, the longest segment.
    n_symbols : int, default=None
        M, the number of symbols; None takes max(X) + 1 at fit.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    tol : float, default=1e-4
        Convergence threshold on the change of the log-likelihood per frame.
    max_iter : int, default=100
        The most EM iterations of one start.
    n_init : int, default=1
        Independent starts; the best final log-likelihood is kept.
    startprob_init : array-like of shape (n_components,), default=None
        Starting start probabilities; None: uniform.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Starting transition matrix with a zero diagonal; None: uniform off the diagonal.
    durations_init : array-like, default=None
        Starting duration params (as ``GaussianHSMM``).
    emissionprob_init : array-like of shape (n_components, n_symbols), default=None
        Starting emission probabilities; None: each row a draw from a flat Dirichlet.
    fixed : tuple of {'startprob', 'transmat', 'durations', 'emissionprob'}, default=()
        Parameters kept at their starting values.
    random_state : int, RandomState instance or None, default=None
        Seeds the starts.
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues from the fitted parameters.
    verbose : int, default=0
        Progress messages, as ``GaussianHSMM``.
    verbose_interval : int, default=10
        Iterations between messages at ``verbose=2``.
    chunk_size : int, default=None
        Frames per chunk of whole sequences; None: 65536.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
        Probabilities of the first segment's state.
    transmat_ : ndarray of shape (n_components, n_components)
        Segment-to-segment transition probabilities, zero diagonal.
    durations_ : ndarray
        The duration family's params.
    duration_pmf_ : ndarray of shape (n_components, max_duration)
        p_k(d), derived from ``durations_``.
    emissionprob_ : ndarray of shape (n_components, `n_symbols_`)
        Emission probabilities of each symbol in each state.
    n_symbols_ : int
        M, the number of symbols.
    converged_ : bool
        Whether the best start converged.
    n_iter_ : int
        EM iterations of the best start.
    lower_bound_ : float
        Log-likelihood per frame of the best start.
    lower_bounds_ : list of float
        ``lower_bound_`` at each iteration of the best start.
    n_features_in_ : int
        Number of columns of X seen during ``fit`` (1).

    See Also
    --------
    CategoricalHMM : The model whose durations are geometric.
    """

    _FIXABLE = ("startprob", "transmat", "durations", "emissionprob")

    def __init__(self, n_components=2, *, duration="poisson", max_duration=100, n_symbols=None,
                 algorithm="viterbi", tol=1e-4, max_iter=100, n_init=1, startprob_init=None, transmat_init=None,
                 durations_init=None, emissionprob_init=None, fixed=(), random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.duration = duration
        self.max_duration = max_duration
        self.n_symbols = n_symbols
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.durations_init = durations_init
        self.emissionprob_init = emissionprob_init
        self.fixed = fixed
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    def _check_frames(self, X, reset):
        return check_symbol_frames(self, X, reset, self._chunk_frames())

    def _emission_model(self, fixed=frozenset()):
        return CategoricalEmission(self.n_symbols_, "emissionprob" in fixed)

    def _fit_emission(self, X, fixed):
        if self.n_symbols is not None:
            check_hyperparameters(self, {"n_symbols": INTEGER_AT_LEAST_1})
        n_symbols = check_n_symbols(X, self.n_symbols, self._chunk_frames())
        if bool(self.warm_start) and "emissionprob_" in vars(self):  # the warm start's emissions fix M
            if n_symbols > self.n_symbols_:
                raise ValueError(f"X has symbols up to {n_symbols - 1}, but {type(self).__name__} was fitted "
                                 f"with n_symbols_={self.n_symbols_} and warm_start=True")
            n_symbols = self.n_symbols_
        return CategoricalEmission(n_symbols, "emissionprob" in fixed)

    def _emission_params(self):
        return self.emissionprob_

    def _emission_start(self, X, lengths, weights, rng, emission):
        M = emission.n_symbols
        given = check_stochastic(self.emissionprob_init, "emissionprob_init", (self.n_components, M))
        return rng.dirichlet(np.ones(M), size=self.n_components) if given is None else given

    def _set_emission(self, params, record):
        self.n_symbols_ = params.shape[1]
        self.emissionprob_ = params
