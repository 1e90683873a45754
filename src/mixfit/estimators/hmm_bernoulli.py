"""BernoulliHMM: Baum-Welch (PRML 13.2) for binary frames, each state a product of Bernoullis as a
component of ``BernoulliMixture``."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..engine.starts import INIT_METHODS, initial_stats
from ..models.bernoulli import BernoulliEM, BetaPrior
from ..models.hmm import HMM
from ..models.hmm_emissions import BernoulliEmission
from ._hmm_base import _HMMBase
from .hmm_checks import check_binary_frames, check_enough_frames
from .hmm_compat import CHAIN_LETTERS
from .hmm_parts import baum_welch_parts, point_chain
from .validation import LOOP_HYPERPARAMETERS, check_beta_prior, check_means_init


class BernoulliHMM(_HMMBase):
    """Hidden Markov model with multivariate Bernoulli emissions (binary frames), by Baum-Welch.

    Each state k gives every feature i an independent success probability mu_ki (``means_``), as
    a component of ``BernoulliMixture`` does; X is a dense binary array (n_samples, n_features)
    of 0/1 in any integer, bool or float dtype (non-binary X is refused). The emission M-step is
    the mixture's EM one: the posterior mode under a Beta(alpha, beta) prior on every mu_ki, and
    ``lower_bound_`` the log posterior per frame.

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    alpha : float >= 1, default=None
        First parameter of the Beta prior on every success probability; None is 2, as
        ``BernoulliMixture``'s EM: with ``beta=None`` the update is then (expected ones + 1) /
        (expected visits + 2), Laplace's rule, which keeps every mu_ki inside (0, 1).
        ``alpha=beta=1`` is maximum likelihood.
    beta : float >= 1, default=None
        Second parameter of the Beta prior; None is 2.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    tol : float, default=None
        Convergence threshold on the change of the log posterior: per frame (None: 1e-4), or, under
        hmmlearn's loop (``n_iter`` given), on the total over all frames as hmmlearn (None: 0.01).
    max_iter : int, default=100
        The most EM iterations of one start.
    n_init : int, default=1
        Independent starts; the best final lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'} or str, default='kmeans'
        How the emissions start (on the frames, as the mixture would); the start and transition
        probabilities start uniform unless given. Or a letter string as the other HMMs' ('stm'):
        the parameters initialised (by k-means), the others from the assigned attributes.
    startprob_init : array-like of shape (n_components,), default=None
        Starting start probabilities; zeros stay zero.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Starting transition matrix; zeros stay zero.
    means_init : array-like of shape (n_components, n_features), default=None
        Starting success probabilities, in [0, 1].
    fixed : tuple of {'startprob', 'transmat', 'means'}, default=()
        Parameters kept at their starting values.
    n_iter : int, default=None
        The most EM iterations (hmmlearn's name, as the other HMMs); None: ``max_iter``. Given,
        ``tol`` is on the total log posterior, as the other HMMs under hmmlearn's loop.
    params : str, default='stm'
        The parameters EM updates: 's' startprob, 't' transmat, 'm' means (as the other HMMs).
    implementation : {'log', 'scaling'}, default='log'
        hmmlearn's choice of recursions, accepted as by the other HMMs; the same results.
    random_state : int, RandomState instance or None, default=None
        Seeds the starts.
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues from the fitted parameters.
    verbose : int, default=0
        Progress messages, as ``GaussianHMM``.
    verbose_interval : int, default=10
        Iterations between messages at ``verbose=2``.
    chunk_size : int, default=None
        Frames per chunk of whole sequences; None: 65536.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
        Start probabilities.
    transmat_ : ndarray of shape (n_components, n_components)
        Transition probabilities, each row summing to 1.
    means_ : ndarray of shape (n_components, n_features)
        Success probability mu_ki of each feature in each state.
    alpha_prior_ : float
        The Beta prior's alpha used.
    beta_prior_ : float
        The Beta prior's beta used.
    converged_ : bool
        Whether the best start converged.
    n_iter_ : int
        EM iterations of the best start.
    lower_bound_ : float
        Log posterior per frame of the best start.
    lower_bounds_ : list of float
        ``lower_bound_`` at each iteration of the best start.
    collapse_events_ : list of dict
        Always empty (the Beta prior keeps every state's emission proper).
    n_features_in_ : int
        Number of features seen during ``fit``.
    monitor_ : ConvergenceMonitor
        hmmlearn's record of the best start (``history``, ``iter``, ``converged``).

    See Also
    --------
    BernoulliMixture : The model without the Markov chain.
    """

    _FIXABLE = ("startprob", "transmat", "means")
    _LETTERS: ClassVar[dict] = {**CHAIN_LETTERS, "m": ("means", "means_", "means_init")}
    _INIT_METHOD = "kmeans"
    _INIT_METHODS = INIT_METHODS
    _HYPERPARAMETERS: ClassVar[dict] = LOOP_HYPERPARAMETERS

    def __init__(self, n_components=1, *, alpha=None, beta=None, algorithm="viterbi", tol=None, max_iter=100,
                 n_init=1, init_params="kmeans", startprob_init=None, transmat_init=None, means_init=None,
                 fixed=(), random_state=None, warm_start=False, verbose=0, verbose_interval=10,
                 chunk_size=None, n_iter=None, params="stm", implementation="log"):
        self.n_components = n_components
        self.n_iter = n_iter
        self.params = params
        self.implementation = implementation
        self.alpha = alpha
        self.beta = beta
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.means_init = means_init
        self.fixed = fixed
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    def _check_frames(self, X, reset):
        return check_binary_frames(self, X, reset, self._chunk_frames())

    def _parts(self, data, chain, fixed):
        prior = BetaPrior(check_beta_prior(self.alpha, "alpha", "em"), check_beta_prior(self.beta, "beta", "em"))
        K, n_features = self.n_components, data.X.shape[1]
        check_enough_frames(data.X, K)
        means_init = check_means_init(data.start(self, "means_init"), K, n_features)
        if means_init is not None and (np.any(means_init < 0) or np.any(means_init > 1)):
            raise ValueError("means_init holds success probabilities; expected values in [0, 1]")
        data.record.alpha_prior_, data.record.beta_prior_ = prior.alpha, prior.beta
        mixture = BernoulliEM(prior)
        emission = BernoulliEmission(mixture, "means" in fixed)
        frames = data.frames()

        def start(rng):
            if means_init is not None:
                return emission.params(means_init)
            # The emissions start as a mixture of the frames would (init.py), then its M-step.
            return emission.params(mixture.maximize(initial_stats(mixture, frames, K, data.init_method, rng),
                                                    None).means)

        return baum_welch_parts(self, data, chain, HMM(*point_chain(fixed), emission), start, self._set_emission)

    def _set_emission(self, params, record):
        self.alpha_prior_ = record.alpha_prior_
        self.beta_prior_ = record.beta_prior_
        self.means_ = params.means

    def _emission_model(self, fixed=frozenset()):
        return BernoulliEmission(BernoulliEM(BetaPrior(self.alpha_prior_, self.beta_prior_)), "means" in fixed)

    def _emission_params(self):
        return BernoulliEmission.params(self.means_)
