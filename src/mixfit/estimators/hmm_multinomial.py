"""MultinomialHMM: Baum-Welch (PRML 13.2) for frames of counts over symbols, hmmlearn 0.3's
meaning: each frame is one multinomial draw of n_t trials (``CategoricalHMM`` is the case of one
trial per frame, which hmmlearn's ``MultinomialHMM`` meant before 0.3)."""

from __future__ import annotations

import numbers
from typing import ClassVar

import numpy as np

from ..models.hmm import HMM
from ..models.hmm_counts import MultinomialEmission
from ._hmm_base import _HMMBase
from .hmm_checks import check_stochastic
from .hmm_compat import CHAIN_LETTERS
from .hmm_count_checks import check_count_frames, check_trials
from .hmm_parts import baum_welch_parts, point_chain
from .validation import LOOP_HYPERPARAMETERS


def _check_n_trials(n_trials) -> None:
    if n_trials is not None and (not isinstance(n_trials, numbers.Integral) or isinstance(n_trials, bool)
                                 or n_trials < 1):
        raise ValueError(f"n_trials={n_trials!r}; expected an integer >= 1 or None (each frame's own total)")


class MultinomialHMM(_HMMBase):
    """Hidden Markov model with multinomial emissions (counts over symbols), fitted by Baum-Welch.

    hmmlearn 0.3's ``MultinomialHMM``: each frame x_t (a row of X, shape (n_samples,
    n_features)) holds the counts of n_features symbols in n_t = sum_d x_td trials, drawn from
    the state's symbol probabilities ``emissionprob_`` (K, n_features):
    p(x_t | k) = n_t! / prod_d x_td! prod_d p_kd^x_td. With one trial per frame this is
    ``CategoricalHMM`` on one-hot rows (hmmlearn's ``MultinomialHMM`` before 0.3).

    The first twelve parameters are hmmlearn's ``MultinomialHMM``'s, in its order (positional as
    there); mixfit's own spellings follow, keyword-only.

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    n_trials : int, default=None
        The number of trials of every frame: each row of X must sum to it (at ``fit`` and when
        scoring or decoding). None: each frame has its own total.
    startprob_prior : float or array-like of shape (n_components,), default=1
        Dirichlet concentrations of a prior on ``startprob_`` (the M-step is the posterior mode,
        as hmmlearn's); 1 is no prior.
    transmat_prior : float or array-like of shape (n_components, n_components), default=1
        Dirichlet concentrations of a prior on each row of ``transmat_``.
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
        The parameters EM updates: 's' startprob, 't' transmat, 'e' emissionprob (a letter left out keeps that parameter as it
        starts, as naming it in ``fixed``).
    init_params : str, default='ste'
        The parameters initialised (each state's symbol probabilities as a draw from a flat
        Dirichlet); the others start from the assigned attributes or their ``*_init`` arguments.
        Or 'random': all of them.
    implementation : {'log', 'scaling'}, default='log'
        hmmlearn's choice of recursions; both give the same results here.
    max_iter : int, default=100
        The most EM iterations of one start, where ``n_iter`` is None.
    n_init : int, default=1
        Independent starts; the best final lower bound is kept.
    startprob_init : array-like of shape (n_components,), default=None
        Starting start probabilities; zeros stay zero.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Starting transition matrix; zeros stay zero.
    emissionprob_init : array-like of shape (n_components, n_features), default=None
        Starting symbol probabilities (rows sum to 1).
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
    emissionprob_ : ndarray of shape (n_components, n_features)
        Probability of each symbol per trial in each state.
    n_trials_ : int or None
        The frames' common number of trials (``n_trials``, or the fit's frames' total where they
        share one), which ``sample`` draws; None where the frames' totals differ.
    converged_ : bool
        Whether the best start converged.
    n_iter_ : int
        EM iterations of the best start.
    lower_bound_ : float
        Log-likelihood per frame of the best start.
    lower_bounds_ : list of float
        ``lower_bound_`` at each iteration of the best start.
    collapse_events_ : list of dict
        Always empty (multinomial emissions do not collapse).
    n_features_in_ : int
        Number of symbols (columns of X) seen during ``fit``.
    monitor_ : ConvergenceMonitor
        hmmlearn's record of the best start (``history``, ``iter``, ``converged``).

    See Also
    --------
    CategoricalHMM : One symbol per frame, as a column of integers.
    PoissonHMM : Counts without a fixed total.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import MultinomialHMM
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.multinomial(5, [0.8, 0.1, 0.1], 40), rng.multinomial(5, [0.1, 0.1, 0.8], 40)])
    >>> MultinomialHMM(n_components=2, n_trials=5, random_state=0).fit(X).emissionprob_.shape
    (2, 3)
    """

    _FIXABLE = ("startprob", "transmat", "emissionprob")
    _LETTERS: ClassVar[dict] = {**CHAIN_LETTERS, "e": ("emissionprob", "emissionprob_", "emissionprob_init")}
    _INIT_METHOD = "random"
    _INIT_METHODS = ("random",)
    _HYPERPARAMETERS: ClassVar[dict] = LOOP_HYPERPARAMETERS

    def __init__(self, n_components=1, n_trials=None, startprob_prior=1.0, transmat_prior=1.0, algorithm="viterbi",
                 random_state=None, n_iter=None, tol=None, verbose=0, params="ste", init_params="ste",
                 implementation="log", *, max_iter=100, n_init=1, startprob_init=None, transmat_init=None,
                 emissionprob_init=None, fixed=(), warm_start=False, verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.n_trials = n_trials
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.n_iter = n_iter
        self.params = params
        self.implementation = implementation
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
        _check_n_trials(self.n_trials)
        frames, record = check_count_frames(self, X, reset, self._chunk_frames(), "MultinomialHMM")
        n_trials = check_trials(frames, self.n_trials, self._chunk_frames())  # every frame sums to n_trials
        if reset:
            record.n_trials_ = n_trials  # the record is a clone at fit; the fitted estimator is never written
        return frames, record

    def _parts(self, data, chain, fixed):
        K, n_features = self.n_components, data.X.shape[1]
        given = check_stochastic(data.start(self, "emissionprob_init"), "emissionprob_init", (K, n_features))
        emission = MultinomialEmission(data.record.n_trials_, "emissionprob" in fixed)

        def start(rng):
            return given if given is not None else rng.dirichlet(np.ones(n_features), size=K)

        return baum_welch_parts(self, data, chain, HMM(*point_chain(fixed, self), emission), start,
                                self._set_emission)

    def _set_emission(self, params, record):
        self.n_trials_ = record.n_trials_
        self.emissionprob_ = params

    def _emission_model(self, fixed=frozenset()):
        # n_trials_ as fitted; for a model defined by assigning emissionprob_, n_trials as given
        return MultinomialEmission(vars(self).get("n_trials_", self.n_trials), "emissionprob" in fixed)

    def _emission_params(self):
        return np.asarray(self.emissionprob_, dtype=np.float64)

    def _emission_features(self):
        return np.shape(self.emissionprob_)[-1] if "emissionprob_" in vars(self) else None

    def _check_emission(self, n_states):
        if "emissionprob_" not in vars(self):
            raise ValueError("emissionprob_ must be set (by fit, or by assigning it) before the model is used")
        shape = np.shape(self.emissionprob_)
        check_stochastic(self.emissionprob_, "emissionprob_", (n_states, shape[1] if len(shape) == 2 else 0))
