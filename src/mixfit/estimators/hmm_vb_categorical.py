"""VariationalCategoricalHMM: variational Bayes for a hidden Markov model with categorical
emissions, on the variational parts of hmm_parts.py (names as hmmlearn's ``hmmlearn.vhmm``)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..models.hmm_emissions import CategoricalEmission
from ..models.hmm_vb import CategoricalVBEmission, VariationalHMM
from ._hmm_base import _HMMBase
from .hmm_checks import check_n_symbols, check_stochastic, check_symbol_frames
from .hmm_compat import CHAIN_LETTERS, given_symbols
from .hmm_parts import check_concentration, variational_chain, variational_parts
from .validation import LOOP_HYPERPARAMETERS


class VariationalCategoricalHMM(_HMMBase):
    """Hidden Markov model with categorical emissions (symbols 0..M-1), fitted by variational Bayes.

    q(pi), each q(A_j) and each state's emission row q(B_k) are Dirichlet. X is a column
    (n_samples, 1) of integer symbols, as ``CategoricalHMM``.

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    startprob_prior : float > 0 or array-like of shape (n_components,), default=None
        Dirichlet concentration of p(pi); None: 1 / n_components. A 0 forbids that start.
    transmat_prior : float > 0 or array-like of shape (n_components, n_components), default=None
        Dirichlet concentration of each row p(A_j); None: 1 / n_components. A 0 forbids that
        transition.
    emissionprob_prior : float > 0 or array-like of shape (n_components, n_symbols), default=None
        Dirichlet concentration of each p(B_k); None: 1 / n_symbols. A 0 forbids that symbol in
        that state.
    n_symbols : int, default=None
        M, the number of symbols (hmmlearn's ``n_features``); None takes max(X) + 1 at fit.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    tol : float, default=1e-6
        Convergence threshold on the change of the total ELBO over all frames (``lower_bound_``
        times the summed frame weight), as hmmlearn's ``tol`` and default.
    max_iter : int, default=100
        The most coordinate-ascent iterations of one start.
    n_init : int, default=1
        Independent starts; the best final ELBO is kept.
    init_params : str, default='ste'
        The parameters whose point start is drawn (the emission rows from a flat Dirichlet on
        each row's support); the others start from the assigned attributes or their ``*_init``
        arguments. Or 'random': all of them.
    n_features : int, default=None
        hmmlearn's name for the number of symbols (as ``n_symbols``).
    n_iter : int, default=None
        hmmlearn's name for the most iterations; None: ``max_iter``.
    params : str, default='ste'
        hmmlearn's letters of the parameters updated; variational Bayes updates all of them, so
        it must hold every letter of 'ste'.
    implementation : {'log', 'scaling'}, default='log'
        hmmlearn's choice of recursions; both give the same results here.
    startprob_init : array-like of shape (n_components,), default=None
        Point start probabilities the first q(theta) is computed from; zeros stay forbidden.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Point transition matrix of the start; zeros stay forbidden.
    emissionprob_init : array-like of shape (n_components, n_symbols), default=None
        Point emission probabilities of the start; zeros stay forbidden.
    random_state : int, RandomState instance or None, default=None
        Seeds the starts.
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues from the fitted q and its ELBO.
    verbose : int, default=0
        Progress messages, as ``GaussianHMM``.
    verbose_interval : int, default=10
        Iterations between messages at ``verbose=2``.
    chunk_size : int, default=None
        Frames per chunk of whole sequences; None: 65536.

    Attributes
    ----------
    startprob_posterior_ : ndarray of shape (n_components,)
        Dirichlet concentrations of q(pi) (0: forbidden).
    transmat_posterior_ : ndarray of shape (n_components, n_components)
        Dirichlet concentrations of each q(A_j) (0: forbidden).
    emissionprob_posterior_ : ndarray of shape (n_components, `n_symbols_`)
        Dirichlet concentrations of each q(B_k) (0: forbidden).
    startprob_ : ndarray of shape (n_components,)
        The posterior mean E[pi] (what decoding uses, as hmmlearn).
    transmat_ : ndarray of shape (n_components, n_components)
        The posterior mean E[A].
    emissionprob_ : ndarray of shape (n_components, `n_symbols_`)
        The posterior mean E[B].
    startprob_prior_ : ndarray of shape (n_components,)
        The concentrations of p(pi) used.
    transmat_prior_ : ndarray of shape (n_components, n_components)
        The concentrations of p(A) used.
    emissionprob_prior_ : ndarray of shape (n_components, `n_symbols_`)
        The concentrations of p(B) used.
    n_symbols_ : int
        M, the number of symbols.
    converged_ : bool
        Whether the best start converged.
    n_iter_ : int
        Iterations of the best start.
    lower_bound_ : float
        The full ELBO per (weighted) frame; it equals hmmlearn's ``VariationalCategoricalHMM``
        bound (divided by the number of frames) from the same q.
    lower_bounds_ : list of float
        ``lower_bound_`` at each iteration of the best start.
    n_features_in_ : int
        Number of columns of X seen during ``fit`` (1).
    monitor_ : ConvergenceMonitor
        hmmlearn's record of the best start (``history``, ``iter``, ``converged``).
    feature_names_in_ : ndarray of shape (1,)
        Name of the column seen during ``fit``, where X has a string column name.

    See Also
    --------
    CategoricalHMM : The same model fitted by Baum-Welch (EM).
    """

    _HYPERPARAMETERS: ClassVar[dict] = LOOP_HYPERPARAMETERS
    _LETTERS: ClassVar[dict] = {**CHAIN_LETTERS, "e": ("emissionprob", "emissionprob_", "emissionprob_init")}
    _INIT_METHOD = "random"
    _INIT_METHODS = ("random",)

    def __init__(self, n_components=1, startprob_prior=None, transmat_prior=None, emissionprob_prior=None,
                 n_features=None, algorithm="viterbi", random_state=None, n_iter=None, tol=1e-6, verbose=0,
                 params="ste", init_params="ste", implementation="log", *, n_symbols=None, max_iter=100, n_init=1,
                 startprob_init=None, transmat_init=None, emissionprob_init=None, warm_start=False,
                 verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.n_features = n_features
        self.n_iter = n_iter
        self.params = params
        self.implementation = implementation
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.emissionprob_prior = emissionprob_prior
        self.n_symbols = n_symbols
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.emissionprob_init = emissionprob_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    def _check_frames(self, X, reset):
        return check_symbol_frames(self, X, reset, self._chunk_frames())

    def _parts(self, data, chain, fixed):
        initial, transition = variational_chain(self, chain)
        n_symbols = check_n_symbols(data.X, given_symbols(self), self._chunk_frames())
        K = self.n_components
        given = check_stochastic(data.start(self, "emissionprob_init"), "emissionprob_init", (K, n_symbols))
        prior = check_concentration(self.emissionprob_prior, "emissionprob_prior", (K, n_symbols), 1.0 / n_symbols,
                                    None if given is None else given > 0)
        data.record.n_symbols_ = n_symbols
        emission = CategoricalVBEmission(prior)
        support = prior > 0

        def start(rng):
            if given is not None:
                return given
            rows = rng.dirichlet(np.ones(n_symbols), size=K) * support  # a flat draw on each row's support
            return rows / rows.sum(axis=1, keepdims=True)

        return variational_parts(self, data, chain, VariationalHMM(initial, transition, emission),
                                 CategoricalEmission(n_symbols), start, self._set_emission_posterior)

    def _emission_posterior(self):
        return self.emissionprob_posterior_

    def _set_emission_posterior(self, q, mean, emission, record) -> None:
        self.n_symbols_ = record.n_symbols_
        self.emissionprob_posterior_ = q
        self.emissionprob_prior_ = emission.rows.prior
        self.emissionprob_ = mean

    def _emission_model(self, fixed=frozenset()):
        return CategoricalEmission(self.n_symbols_)

    def _emission_params(self):
        return self.emissionprob_
