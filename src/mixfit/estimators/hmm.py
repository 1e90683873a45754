"""GaussianHMM and CategoricalHMM (BernoulliHMM: hmm_bernoulli.py): Baum-Welch (PRML 13.2)
behind a scikit-learn-style API.

Names follow hmmlearn where it has them (``startprob_``, ``transmat_``, ``means_``,
``emissionprob_``, ``fit(X, lengths)``, ``decode``, ``score_samples``) and mixfit's mixtures
elsewhere (``max_iter``, ``tol`` per frame, ``reg_covar``, ``init_params`` as a method, the
``*_init`` arrays, ``prior``). Documented differences from hmmlearn: frozen parameters are named,
``fixed=('startprob', 'transmat')``, instead of a letter string; starting values are ``*_init``
arguments, never written back; ``sample_weight`` weighs whole sequences; ``tol`` is on the
log-likelihood per frame; the Gaussian M-step adds ``reg_covar`` to each covariance (hmmlearn's
``covars_prior`` / ``covars_weight`` regularisation is replaced by the conjugate ``prior``).
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import numpy as np

from ..engine.collapse import ON_COLLAPSE
from ..engine.collapse_hmm import StatePolicy
from ..engine.starts import INIT_METHODS, data_moments, initial_stats
from ..exceptions import CollapsedComponentError
from ..families.registry import make_covariance, make_precision_prior
from ..models.gaussian_em import GaussianEM
from ..models.hmm import HMM
from ..models.hmm_emissions import CategoricalEmission, GaussianEmission
from ._hmm_base import _HMMBase
from .hmm_checks import (
    check_enough_frames,
    check_n_symbols,
    check_real_frames,
    check_stochastic,
    check_symbol_frames,
)
from .hmm_parts import baum_welch_parts, point_chain
from .priors import check_prior_spec, resolve_prior
from .validation import (
    INTEGER_AT_LEAST_1,
    LOOP_HYPERPARAMETERS,
    REAL_AT_LEAST_0,
    check_hyperparameters,
    check_means_init,
    check_option,
)


class GaussianHMM(_HMMBase):
    """Hidden Markov model with Gaussian emissions, fitted by Baum-Welch (EM).

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='diag'
        The form of each state's emission covariance.
    reg_covar : float, default=1e-6
        Added to the diagonal of every emission covariance at each M-step.
    prior : None, 'default' or ConjugatePrior, default=None
        A conjugate prior on each state's mean and covariance (as ``GaussianMixture``): the
        emission M-step becomes the posterior mode and ``lower_bound_`` the log posterior.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    tol : float, default=1e-4
        Convergence threshold on the change of the log-likelihood per frame.
    max_iter : int, default=100
        The most EM iterations of one start.
    n_init : int, default=1
        Independent starts; the best final lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the emissions start (on the frames, as a mixture would); the start and transition
        probabilities start uniform unless given.
    startprob_init : array-like of shape (n_components,), default=None
        Starting start probabilities; a zero is a forbidden start and stays zero.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Starting transition matrix (rows sum to 1); a zero is a forbidden transition and stays
        zero.
    means_init : array-like of shape (n_components, n_features), default=None
        Starting emission means.
    precisions_init : array-like, default=None
        Starting emission precisions, in scikit-learn's shape for ``covariance_type``.
    fixed : tuple of {'startprob', 'transmat', 'means', 'covariances'}, default=()
        Parameters kept at their starting values (hmmlearn's ``params``, spelled by name).
    random_state : int, RandomState instance or None, default=None
        Seeds the starts.
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues from the fitted parameters (one
        start).
    verbose : int, default=0
        Progress messages: 0 none, 1 per start, 2 per ``verbose_interval`` iterations.
    verbose_interval : int, default=10
        Iterations between messages at ``verbose=2``.
    chunk_size : int, default=None
        Frames per chunk of whole sequences; None: 65536.
    on_collapse : {'raise', 'reseed', 'drop'}, default='raise'
        What to do when a state's emission collapses onto a point (its covariance is no longer
        positive definite, or, for 'reseed' and 'drop', its expected visits fall below a
        thousandth of a frame), as ``GaussianMixture``'s ``on_collapse``: raise
        ``CollapsedComponentError`` naming the state, its expected visits, its distinct frames
        and the fixes; restart its emission at the frame worst explained by the other states
        (with the covariance of the most visited one), its transition row uniform over the moves
        it was allowed and a share 1/K of every row (and of the start) allowed to reach it; or
        remove the state, its start probability and its row and column of ``transmat_``, the rows
        renormalised (forbidden moves stay forbidden; ``startprob_``, ``transmat_``, ``means_``
        ... then have one state fewer than ``n_components``). Each reseed or drop is announced by
        a ``CollapseWarning`` and recorded in ``collapse_events_`` (see ``mixfit.collapse_hmm``).

    Attributes
    ----------
    startprob_ : ndarray of shape (n_states,)
        Start probabilities; n_states is ``n_components`` less any dropped state.
    transmat_ : ndarray of shape (n_states, n_states)
        Transition probabilities, each row summing to 1.
    means_ : ndarray of shape (n_states, n_features)
        Emission means.
    precisions_cholesky_ : ndarray
        Cholesky factors of the emission precisions (scikit-learn's shape for the type).
    covariances_ : ndarray
        Emission covariances, derived from ``precisions_cholesky_``.
    precisions_ : ndarray
        Emission precisions, derived from ``precisions_cholesky_``.
    converged_ : bool
        Whether the best start converged.
    n_iter_ : int
        EM iterations of the best start.
    lower_bound_ : float
        Log-likelihood (log posterior with a ``prior``) per frame of the best start.
    lower_bounds_ : list of float
        ``lower_bound_`` at each iteration of the best start.
    collapse_events_ : list of dict
        The reseeds and drops of the best start (``on_collapse``).
    n_features_in_ : int
        Number of features seen during ``fit``.

    See Also
    --------
    VariationalGaussianHMM : The same model fitted by variational Bayes.
    GaussianMixture : The model without the Markov chain.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import GaussianHMM
    >>> X = np.repeat([[0], [5], [0]], 40, axis=0) + np.random.default_rng(0).normal(size=(120, 1))
    >>> hmm = GaussianHMM(n_components=2, random_state=0).fit(X)
    >>> hmm.predict(X).shape
    (120,)
    """

    _FIXABLE = ("startprob", "transmat", "means", "covariances")
    _HYPERPARAMETERS: ClassVar[dict] = {**LOOP_HYPERPARAMETERS, "reg_covar": REAL_AT_LEAST_0}

    def __init__(self, n_components=1, *, covariance_type="diag", reg_covar=1e-6, prior=None,
                 algorithm="viterbi", tol=1e-4, max_iter=100, n_init=1, init_params="kmeans",
                 startprob_init=None, transmat_init=None, means_init=None, precisions_init=None,
                 fixed=(), random_state=None, warm_start=False, verbose=0, verbose_interval=10,
                 chunk_size=None, on_collapse="raise"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.prior = prior
        self.on_collapse = on_collapse
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.fixed = fixed
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    def _check_frames(self, X, reset):
        return check_real_frames(self, X, reset, self._chunk_frames())

    def _parts(self, data, chain, fixed):
        covariance = make_covariance(self.covariance_type)
        check_option(self.init_params, "init_params", INIT_METHODS)
        check_option(self.on_collapse, "on_collapse", ON_COLLAPSE)
        prior_spec = check_prior_spec(self.prior)
        K, n_features = self.n_components, data.X.shape[1]
        check_enough_frames(data.X, K)
        means_init = check_means_init(self.means_init, K, n_features)
        prec_chol_init = (None if self.precisions_init is None
                          else covariance.check_precisions(self.precisions_init, K, n_features))
        frames = data.frames()
        prior = precision = None
        if prior_spec is not None:
            precision = make_precision_prior(covariance)
            data_mean, data_cov = data_moments(frames)
            prior = resolve_prior(prior_spec, precision, data_mean, data_cov, K, n_features, self.reg_covar)
        mixture = GaussianEM(covariance, self.reg_covar, np.float64, prior, precision)
        emission = GaussianEmission(mixture, "means" in fixed, "covariances" in fixed)

        def start(rng, policy):
            if means_init is not None and prec_chol_init is not None:
                return emission.params(means_init, prec_chol_init)
            # The emissions start as a mixture of the frames would (init.py), then EM's M-step,
            # through the collapse policy (iteration 0).
            first = policy.initial_step(mixture, frames,
                                        initial_stats(mixture, frames, K, self.init_params, rng, means_init))
            if first.means.shape[0] != K and (means_init is not None or prec_chol_init is not None):
                raise CollapsedComponentError(
                    f"on_collapse={self.on_collapse!r} dropped a state at initialisation, which cannot be "
                    f"combined with means_init or precisions_init of n_components = {K} entries; give "
                    "both, or neither")
            return emission.params(first.means if means_init is None else means_init,
                                   first.prec_chol if prec_chol_init is None else prec_chol_init)

        return baum_welch_parts(self, data, chain, HMM(*point_chain(fixed), emission), start, self._set_emission,
                                policy=partial(StatePolicy, self.on_collapse))

    def _set_emission(self, params, record):
        self._covariance = make_covariance(self.covariance_type)
        self.means_ = params.means
        self.precisions_cholesky_ = params.prec_chol

    def _emission_model(self, fixed=frozenset()):
        mixture = GaussianEM(make_covariance(self.covariance_type), self.reg_covar)
        return GaussianEmission(mixture, "means" in fixed, "covariances" in fixed)

    def _emission_params(self):
        return GaussianEmission.params(self.means_, self.precisions_cholesky_)

    @property
    def covariances_(self):
        """Emission covariances in the covariance type's shape."""
        return self._covariance.covariance(self.precisions_cholesky_)

    @property
    def precisions_(self):
        """Emission precisions in the covariance type's shape."""
        return self._covariance.precision(self.precisions_cholesky_)


class CategoricalHMM(_HMMBase):
    """Hidden Markov model with categorical emissions (symbols 0..M-1), fitted by Baum-Welch.

    X is a column (n_samples, 1) of integer symbols, as hmmlearn's ``CategoricalHMM``.

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    n_symbols : int, default=None
        M, the number of symbols (hmmlearn's ``n_features``); None takes max(X) + 1 at fit.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    tol : float, default=1e-4
        Convergence threshold on the change of the log-likelihood per frame.
    max_iter : int, default=100
        The most EM iterations of one start.
    n_init : int, default=1
        Independent starts; the best final lower bound is kept.
    init_params : {'random'}, default='random'
        Each state's emission row starts as a draw from a flat Dirichlet.
    startprob_init : array-like of shape (n_components,), default=None
        Starting start probabilities; zeros stay zero.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Starting transition matrix; zeros stay zero.
    emissionprob_init : array-like of shape (n_components, n_symbols), default=None
        Starting emission probabilities (rows sum to 1).
    fixed : tuple of {'startprob', 'transmat', 'emissionprob'}, default=()
        Parameters kept at their starting values.
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
    collapse_events_ : list of dict
        Always empty (categorical emissions do not collapse).
    n_features_in_ : int
        Number of columns of X seen during ``fit`` (1).

    See Also
    --------
    VariationalCategoricalHMM : The same model fitted by variational Bayes.
    """

    _FIXABLE = ("startprob", "transmat", "emissionprob")
    _HYPERPARAMETERS: ClassVar[dict] = LOOP_HYPERPARAMETERS

    def __init__(self, n_components=1, *, n_symbols=None, algorithm="viterbi", tol=1e-4, max_iter=100,
                 n_init=1, init_params="random", startprob_init=None, transmat_init=None,
                 emissionprob_init=None, fixed=(), random_state=None, warm_start=False, verbose=0,
                 verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.n_symbols = n_symbols
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.emissionprob_init = emissionprob_init
        self.fixed = fixed
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    def _check_frames(self, X, reset):
        return check_symbol_frames(self, X, reset, self._chunk_frames())

    def _parts(self, data, chain, fixed):
        check_option(self.init_params, "init_params", ("random",))
        if self.n_symbols is not None:
            check_hyperparameters(self, {"n_symbols": INTEGER_AT_LEAST_1})
        n_symbols = check_n_symbols(data.X, self.n_symbols, self._chunk_frames())
        given = check_stochastic(self.emissionprob_init, "emissionprob_init", (self.n_components, n_symbols))
        data.record.n_symbols_ = n_symbols
        emission = CategoricalEmission(n_symbols, "emissionprob" in fixed)

        def start(rng):
            if given is not None:
                return given
            return rng.dirichlet(np.ones(n_symbols), size=self.n_components)

        return baum_welch_parts(self, data, chain, HMM(*point_chain(fixed), emission), start, self._set_emission)

    def _set_emission(self, params, record):
        self.n_symbols_ = record.n_symbols_
        self.emissionprob_ = params

    def _emission_model(self, fixed=frozenset()):
        return CategoricalEmission(self.n_symbols_, "emissionprob" in fixed)

    def _emission_params(self):
        return self.emissionprob_
