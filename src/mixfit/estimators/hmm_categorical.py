"""CategoricalHMM: Baum-Welch (PRML 13.2) for one integer symbol per frame, hmmlearn's model,
parameters and shapes."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..models.hmm import HMM
from ..models.hmm_emissions import CategoricalEmission
from ._hmm_base import _HMMBase
from .hmm_checks import check_n_symbols, check_stochastic, check_symbol_frames
from .hmm_compat import CHAIN_LETTERS, emission_prior, given_symbols
from .hmm_parts import baum_welch_parts, point_chain
from .validation import LOOP_HYPERPARAMETERS


class CategoricalHMM(_HMMBase):
    """Hidden Markov model with categorical emissions (symbols 0..M-1), fitted by Baum-Welch.

    X is a column (n_samples, 1) of integer symbols, as hmmlearn's ``CategoricalHMM``, whose
    parameters come first here, in its order.

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    startprob_prior : float or array-like of shape (n_components,), default=1
        Dirichlet concentrations of a prior on ``startprob_`` (the M-step is the posterior mode,
        as hmmlearn's); 1 is no prior.
    transmat_prior : float or array-like of shape (n_components, n_components), default=1
        Dirichlet concentrations of a prior on each row of ``transmat_``.
    emissionprob_prior : float or array-like of shape (n_components, n_symbols), default=1
        Dirichlet concentrations of a prior on each row of ``emissionprob_``.
    n_features : int, default=None
        hmmlearn's name for M, the number of symbols (as ``n_symbols``).
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    random_state : int, RandomState instance or None, default=None
        Seeds the starts.
    n_iter : int, default=None
        hmmlearn's name for the most EM iterations; None: ``max_iter``. Given, the fit follows
        hmmlearn's loop: ``tol`` is on the total log-likelihood, as there.
    tol : float, default=None
        Convergence threshold on the change of the log-likelihood: per frame (None: 1e-4), or, under
        hmmlearn's loop (``n_iter`` given), on the total over all frames as hmmlearn (None: 0.01).
    verbose : int, default=0
        Progress messages, as ``GaussianHMM``.
    params : str, default='ste'
        The parameters EM updates: 's' startprob, 't' transmat, 'e' emissionprob.
    init_params : str, default='ste'
        The parameters initialised (the emission rows as draws from a flat Dirichlet); the others
        start from the assigned attributes or their ``*_init`` arguments. Or 'random': all of them.
    implementation : {'log', 'scaling'}, default='log'
        hmmlearn's choice of recursions; both give the same results here.
    n_symbols : int, default=None
        M, the number of symbols; None takes ``n_features``, else max(X) + 1 at fit.
    max_iter : int, default=100
        The most EM iterations of one start, where ``n_iter`` is None.
    n_init : int, default=1
        Independent starts; the best final lower bound is kept.
    startprob_init : array-like of shape (n_components,), default=None
        Starting start probabilities; zeros stay zero.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Starting transition matrix; zeros stay zero.
    emissionprob_init : array-like of shape (n_components, n_symbols), default=None
        Starting emission probabilities (rows sum to 1).
    fixed : tuple of {'startprob', 'transmat', 'emissionprob'}, default=()
        Parameters kept at their starting values (as the letters left out of ``params``).
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues from the fitted parameters.
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
    monitor_ : ConvergenceMonitor
        hmmlearn's record of the best start (``history``, ``iter``, ``converged``).

    See Also
    --------
    VariationalCategoricalHMM : The same model fitted by variational Bayes.
    """

    _FIXABLE = ("startprob", "transmat", "emissionprob")
    _LETTERS: ClassVar[dict] = {**CHAIN_LETTERS, "e": ("emissionprob", "emissionprob_", "emissionprob_init")}
    _INIT_METHOD = "random"
    _INIT_METHODS = ("random",)
    _HYPERPARAMETERS: ClassVar[dict] = LOOP_HYPERPARAMETERS

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0, *, emissionprob_prior=1.0,
                 n_features=None, algorithm="viterbi", random_state=None, n_iter=None, tol=None, verbose=0,
                 params="ste", init_params="ste", implementation="log", n_symbols=None, max_iter=100,
                 n_init=1, startprob_init=None, transmat_init=None, emissionprob_init=None, fixed=(),
                 warm_start=False, verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features
        self.n_iter = n_iter
        self.params = params
        self.implementation = implementation
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
        n_symbols = check_n_symbols(data.X, given_symbols(self), self._chunk_frames())
        given = check_stochastic(data.start(self, "emissionprob_init"), "emissionprob_init",
                                 (self.n_components, n_symbols))
        prior = emission_prior(self.emissionprob_prior, "emissionprob_prior", (self.n_components, n_symbols))
        data.record.n_symbols_ = n_symbols
        emission = CategoricalEmission(n_symbols, "emissionprob" in fixed, prior)

        def start(rng):
            if given is not None:
                return given
            return rng.dirichlet(np.ones(n_symbols), size=self.n_components)

        return baum_welch_parts(self, data, chain, HMM(*point_chain(fixed, self), emission), start,
                                self._set_emission)

    def _set_emission(self, params, record):
        self.n_symbols_ = record.n_symbols_
        self.emissionprob_ = params

    def _emission_model(self, fixed=frozenset()):
        return CategoricalEmission(np.shape(self.emissionprob_)[1], "emissionprob" in fixed)

    def _emission_params(self):
        return np.asarray(self.emissionprob_, dtype=np.float64)

    def _check_emission(self, n_states):
        if "emissionprob_" not in vars(self):
            raise ValueError("emissionprob_ must be set (by fit, or by assigning it) before the model is used")
        shape = np.shape(self.emissionprob_)
        symbols = given_symbols(self) if "n_symbols_" not in vars(self) else self.n_symbols_
        if symbols is None:
            symbols = shape[1] if len(shape) == 2 else 0  # any M, but a table: (K, M)
        check_stochastic(self.emissionprob_, "emissionprob_", (n_states, symbols))
