"""PoissonHSMM: an explicit-duration hidden semi-Markov model whose states emit counts, each
feature an independent Poisson (``PoissonHMM``'s emission), fitted by EM (the segment
forward-backward, docs/math/hsmm.md). The chain, durations and methods are hsmm_base.py's."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..engine.starts import INIT_METHODS
from ..models.hmm_counts import PoissonEmission
from .hmm_checks import check_enough_frames
from .hmm_count_checks import check_count_frames
from .hmm_poisson import check_lambdas_init, start_rates
from .hsmm import frame_source
from .hsmm_base import HSMM_HYPERPARAMETERS, _HSMMBase
from .validation import REAL_AT_LEAST_0, check_option


class PoissonHSMM(_HSMMBase):
    """Hidden semi-Markov model with Poisson emissions (frames of counts) and explicit state
    durations, by EM.

    Each state k gives every feature d an independent Poisson rate lambda_kd (``lambdas_``, as
    ``PoissonHMM``); X is an array (n_samples, n_features) of non-negative integer counts in any
    integer or float dtype. The chain, the durations and the methods are ``GaussianHSMM``'s.

    Parameters
    ----------
    n_components : int, default=2
        Number of hidden states K (at least 2).
    duration : {'poisson', 'negative_binomial', 'nonparametric'}, default='poisson'
        The family of the duration distributions (as ``GaussianHSMM``).
    max_duration : int, default=100
        D, the longest segment.
    lambdas_prior : float >= 0, default=0.0
        a of a Gamma(1 + a, b) prior on every rate (as ``PoissonHMM``): the M-step is the
        posterior mode (a + expected count) / (b + expected visits) and ``lower_bound_`` the log
        posterior. 0 and 0 is maximum likelihood.
    lambdas_weight : float >= 0, default=0.0
        b, the Gamma prior's rate.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    tol : float, default=1e-4
        Convergence threshold on the change of the log-likelihood per frame.
    max_iter : int, default=100
        The most EM iterations of one start.
    n_init : int, default=1
        Independent starts; the best final log-likelihood is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the rates start: the mean counts of the parts of a first partition of the frames, made
        as a mixture's start by this method.
    startprob_init : array-like of shape (n_components,), default=None
        Starting start probabilities; None: uniform.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Starting transition matrix with a zero diagonal; None: uniform off the diagonal.
    durations_init : array-like, default=None
        Starting duration params (as ``GaussianHSMM``).
    lambdas_init : array-like of shape (n_components, n_features), default=None
        Starting rates (finite, >= 0).
    fixed : tuple of {'startprob', 'transmat', 'durations', 'lambdas'}, default=()
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
    lambdas_ : ndarray of shape (n_components, n_features)
        The Poisson rate of each feature in each state.
    converged_ : bool
        Whether the best start converged.
    n_iter_ : int
        EM iterations of the best start.
    lower_bound_ : float
        Log-likelihood (log posterior with a prior) per frame of the best start.
    lower_bounds_ : list of float
        ``lower_bound_`` at each iteration of the best start.
    n_features_in_ : int
        Number of features seen during ``fit``.

    See Also
    --------
    PoissonHMM : The model whose durations are geometric.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import PoissonHSMM
    >>> rng = np.random.default_rng(0)
    >>> X = rng.poisson(np.repeat([[1], [8], [1], [8]], 30, axis=0))
    >>> hsmm = PoissonHSMM(n_components=2, max_duration=40, random_state=0).fit(X)
    >>> hsmm.lambdas_.shape
    (2, 1)
    """

    _FIXABLE = ("startprob", "transmat", "durations", "lambdas")
    _HYPERPARAMETERS: ClassVar[dict] = {**HSMM_HYPERPARAMETERS, "lambdas_prior": REAL_AT_LEAST_0,
                                        "lambdas_weight": REAL_AT_LEAST_0}

    def __init__(self, n_components=2, *, duration="poisson", max_duration=100, lambdas_prior=0.0,
                 lambdas_weight=0.0, algorithm="viterbi", tol=1e-4, max_iter=100, n_init=1, init_params="kmeans",
                 startprob_init=None, transmat_init=None, durations_init=None, lambdas_init=None, fixed=(),
                 random_state=None, warm_start=False, verbose=0, verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.duration = duration
        self.max_duration = max_duration
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.durations_init = durations_init
        self.lambdas_init = lambdas_init
        self.fixed = fixed
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    def _check_frames(self, X, reset):
        return check_count_frames(self, X, reset, self._chunk_frames(), "PoissonHSMM")

    def _emission_model(self, fixed=frozenset()):
        return PoissonEmission(self.lambdas_prior, self.lambdas_weight, "lambdas" in fixed)

    def _emission_params(self):
        return np.asarray(self.lambdas_, dtype=np.float64)

    def _fit_emission(self, X, fixed):
        return self._emission_model(fixed)

    def _emission_start(self, X, lengths, weights, rng, emission):
        check_option(self.init_params, "init_params", INIT_METHODS)
        K = self.n_components
        check_enough_frames(X, K)
        given = check_lambdas_init(self.lambdas_init, K, X.shape[1])
        if given is not None:
            return given
        return start_rates(frame_source(X, lengths, weights, self._chunk_frames()), K, self.init_params, rng)

    def _set_emission(self, params, record):
        self.lambdas_ = params
