"""PoissonHMM: Baum-Welch (PRML 13.2) for frames of counts, each state a product of Poissons."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..engine.starts import INIT_METHODS, initial_stats
from ..families.registry import make_covariance
from ..models.gaussian_em import GaussianEM
from ..models.hmm import HMM
from ..models.hmm_counts import PoissonEmission
from ._hmm_base import _HMMBase
from .hmm_checks import check_enough_frames
from .hmm_compat import CHAIN_LETTERS
from .hmm_count_checks import check_count_frames
from .hmm_parts import baum_welch_parts, point_chain
from .validation import LOOP_HYPERPARAMETERS, REAL_AT_LEAST_0


def check_lambdas_init(lambdas, n_components: int, n_features: int) -> np.ndarray | None:
    """Starting rates (K, D), finite and >= 0, or None."""
    if lambdas is None:
        return None
    lambdas = np.asarray(lambdas, dtype=np.float64)
    if lambdas.shape != (n_components, n_features):
        raise ValueError(f"lambdas_init has shape {lambdas.shape}; expected (n_components, n_features) = "
                         f"({n_components}, {n_features})")
    if not np.all(np.isfinite(lambdas)) or np.any(lambdas < 0):
        raise ValueError("lambdas_init holds Poisson rates; expected finite values >= 0")
    return lambdas


def start_rates(frames, n_components: int, init_method: str, rng) -> np.ndarray:
    """Starting rates (K, D): the mean counts of the parts of a first partition of the frames, a
    diagonal Gaussian mixture's start (engine.starts), each part's mean count being the Poisson
    M-step of that hard assignment (13.20 poisson); an empty part takes the overall mean."""
    stats = initial_stats(GaussianEM(make_covariance("diag"), 0.0), frames, n_components, init_method, rng)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = stats.shift + stats.first / stats.mass[:, None]  # (K, D) mean count of each part
    overall = (stats.mass[:, None] * stats.shift + stats.first).sum(axis=0) / stats.mass.sum()  # (D,)
    return np.maximum(np.where(stats.mass[:, None] > 0, means, overall), 0.0)


class PoissonHMM(_HMMBase):
    """Hidden Markov model with Poisson emissions (frames of counts), fitted by Baum-Welch (EM).

    Each state k gives every feature d an independent Poisson rate lambda_kd (``lambdas_``, as
    hmmlearn's ``PoissonHMM``); X is an array (n_samples, n_features) of non-negative integer
    counts in any integer or float dtype (anything else is refused, naming the first bad entry).

    The first thirteen parameters are hmmlearn's ``PoissonHMM``'s, in its order (positional as
    there); mixfit's own spellings follow, keyword-only.

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    startprob_prior : float or array-like of shape (n_components,), default=1
        Dirichlet concentrations of a prior on ``startprob_`` (the M-step is the posterior mode,
        as hmmlearn's); 1 is no prior.
    transmat_prior : float or array-like of shape (n_components, n_components), default=1
        Dirichlet concentrations of a prior on each row of ``transmat_``.
    lambdas_prior : float >= 0, default=0.0
        a of a Gamma(1 + a, b) prior on every rate (hmmlearn's name): the M-step is the posterior
        mode (a + expected count) / (b + expected visits) and ``lower_bound_`` the log posterior.
        ``lambdas_prior=lambdas_weight=0`` is maximum likelihood.
    lambdas_weight : float >= 0, default=0.0
        b, the Gamma prior's rate (hmmlearn's name).
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
    params : str, default='stl'
        The parameters EM updates: 's' startprob, 't' transmat, 'l' lambdas (a letter left out keeps that parameter as it
        starts, as naming it in ``fixed``).
    init_params : str, default='stl'
        The parameters initialised from the data (the others start from the assigned attributes
        or their ``*_init`` arguments); or one of mixfit's methods {'kmeans', 'k-means++',
        'random', 'random_from_data', 'hierarchical'} (every parameter, by that method; the
        letters use 'kmeans'). The rates start as the mean counts of a first partition of the
        frames (as ``GaussianHMM``'s means start); the start and transition probabilities uniform.
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
    lambdas_init : array-like of shape (n_components, n_features), default=None
        Starting rates, >= 0.
    fixed : tuple of {'startprob', 'transmat', 'lambdas'}, default=()
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
    lambdas_ : ndarray of shape (n_components, n_features)
        Poisson rate of each feature in each state.
    converged_ : bool
        Whether the best start converged.
    n_iter_ : int
        EM iterations of the best start.
    lower_bound_ : float
        Log-likelihood (log posterior with a prior) per frame of the best start.
    lower_bounds_ : list of float
        ``lower_bound_`` at each iteration of the best start.
    collapse_events_ : list of dict
        Always empty (Poisson emissions do not collapse).
    n_features_in_ : int
        Number of features seen during ``fit``.
    monitor_ : ConvergenceMonitor
        hmmlearn's record of the best start (``history``, ``iter``, ``converged``).

    See Also
    --------
    MultinomialHMM : Counts that sum to a fixed number of trials.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import PoissonHMM
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.poisson(1, (50, 2)), rng.poisson(9, (50, 2))])
    >>> PoissonHMM(n_components=2, random_state=0).fit(X).lambdas_.shape
    (2, 2)
    """

    _FIXABLE = ("startprob", "transmat", "lambdas")
    _LETTERS: ClassVar[dict] = {**CHAIN_LETTERS, "l": ("lambdas", "lambdas_", "lambdas_init")}
    _INIT_METHOD = "kmeans"
    _INIT_METHODS = INIT_METHODS
    _HYPERPARAMETERS: ClassVar[dict] = {**LOOP_HYPERPARAMETERS, "lambdas_prior": REAL_AT_LEAST_0,
                                        "lambdas_weight": REAL_AT_LEAST_0}

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0, lambdas_prior=0.0,
                 lambdas_weight=0.0, algorithm="viterbi", random_state=None, n_iter=None, tol=None, verbose=0,
                 params="stl", init_params="stl", implementation="log", *, max_iter=100, n_init=1,
                 startprob_init=None, transmat_init=None, lambdas_init=None, fixed=(), warm_start=False,
                 verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.n_iter = n_iter
        self.params = params
        self.implementation = implementation
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.lambdas_init = lambdas_init
        self.fixed = fixed
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    def _check_frames(self, X, reset):
        return check_count_frames(self, X, reset, self._chunk_frames(), "PoissonHMM")

    def _parts(self, data, chain, fixed):
        K, n_features = self.n_components, data.X.shape[1]
        check_enough_frames(data.X, K)
        lambdas_init = check_lambdas_init(data.start(self, "lambdas_init"), K, n_features)
        emission = self._emission_model(fixed)
        frames = data.frames()

        def start(rng):
            return start_rates(frames, K, data.init_method, rng) if lambdas_init is None else lambdas_init

        return baum_welch_parts(self, data, chain, HMM(*point_chain(fixed, self), emission), start,
                                self._set_emission)

    def _set_emission(self, params, record):
        self.lambdas_ = params

    def _emission_model(self, fixed=frozenset()):
        return PoissonEmission(self.lambdas_prior, self.lambdas_weight, "lambdas" in fixed)

    def _emission_params(self):
        return np.asarray(self.lambdas_, dtype=np.float64)

    def _emission_features(self):
        return np.shape(self.lambdas_)[-1] if "lambdas_" in vars(self) else None

    def _check_emission(self, n_states):
        if "lambdas_" not in vars(self):
            raise ValueError("lambdas_ must be set (by fit, or by assigning it) before the model is used")
        lambdas = np.asarray(self.lambdas_, dtype=np.float64)
        if lambdas.ndim != 2 or lambdas.shape[0] != n_states:
            raise ValueError(f"lambdas_ has shape {lambdas.shape}; expected (n_components, n_features) with "
                             f"n_components = {n_states}")
        if not np.all(np.isfinite(lambdas)) or np.any(lambdas < 0):
            raise ValueError("lambdas_ must hold finite rates >= 0")
