"""GMMHMM: Baum-Welch (PRML 13.2) with a Gaussian mixture per state, hmmlearn's model and shapes."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..engine.starts import INIT_METHODS, data_moments, initial_stats
from ..families.registry import make_covariance
from ..models.gaussian_em import GaussianEM
from ..models.hmm import HMM
from ..models.hmm_gmm import GaussianMixtureEmission, StateMixtureParams
from ..models.hmm_gmm_hmmlearn import HmmlearnMixtureEmission
from ..models.hmm_hmmlearn_prior import starting_covariance
from ._hmm_base import _HMMBase
from .hmm_checks import check_enough_frames, check_stochastic
from .hmm_compat import CHAIN_LETTERS, covars_to_precision_chol
from .hmm_gaussian_prior import (
    check_min_covar,
    check_reg_covar,
    mixture_at_defaults,
    mixture_prior,
    uses_hmmlearn_step,
)
from .hmm_missing import check_frames_with_missing, start_frames
from .hmm_parts import baum_welch_parts, point_chain
from .validation import INTEGER_AT_LEAST_1, LOOP_HYPERPARAMETERS, check_option

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")


def flat_family(covariance_type: str):
    """(the covariance family of the K M (state, mixture) pairs, whether each state pools its
    pairs' covariances): hmmlearn's 'tied' is one full covariance per state."""
    check_option(covariance_type, "covariance_type", COVARIANCE_TYPES)
    if covariance_type == "tied":
        return make_covariance("full"), True
    return make_covariance(covariance_type), False


def public_shape(covariance_type: str, K: int, M: int, D: int) -> tuple:
    """hmmlearn's shape of ``covars_`` (and ours of ``precisions_cholesky_``)."""
    family, pooled = flat_family(covariance_type)
    return family.shape(K, D) if pooled else (K, M, *family.shape(1, D)[1:])


class GMMHMM(_HMMBase):
    """Hidden Markov model whose states emit from Gaussian mixtures, fitted by Baum-Welch (EM).

    State k emits from sum_m c_km N(x | mu_km, Sigma_km), M = ``n_mix`` components (hmmlearn's
    ``GMMHMM``). The K M (state, mixture) pairs are fitted as one flat Gaussian mixture
    (``GaussianEM``) whose responsibilities are the state posteriors times the within-state
    responsibilities. ``covariance_type`` is hmmlearn's: 'full', 'diag' and 'spherical' give
    each pair its own covariance, 'tied' one full covariance per state shared by its M pairs.

    The first eighteen parameters are hmmlearn's ``GMMHMM``'s, in its order (positional as
    there); mixfit's own spellings follow, keyword-only.

    NaN entries of the frames are missing values (at random), as for ``GaussianHMM``: each
    state's mixture density of a frame's observed entries; a frame with every entry NaN has
    density 1 under every state; infinity is refused (docs/math/hmm.md, "Missing frames").

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    n_mix : int, default=1
        Number of Gaussian components M of each state's mixture.
    min_covar : float, default=1e-3
        Where the M-step is hmmlearn's (see ``weights_prior``), every covariance starts, as in
        hmmlearn, at the data's covariance with ``min_covar`` added to its diagonal (spherical:
        its mean variance).
    startprob_prior : float or array-like of shape (n_components,), default=1
        Dirichlet concentrations of a prior on ``startprob_`` (the M-step is the posterior mode);
        1 is no prior.
    transmat_prior : float or array-like of shape (n_components, n_components), default=1
        Dirichlet concentrations of a prior on each row of ``transmat_``.
    weights_prior, means_prior, means_weight, covars_prior, covars_weight : float, array-like or None
        hmmlearn's Dirichlet, Normal and inverse-Wishart (full, tied) or inverse-Gamma (diag,
        spherical: ``covars_prior`` the shape alpha, ``covars_weight`` the rate beta) priors, each
        broadcast to hmmlearn's shape, applied as hmmlearn's M-step applies them
        (``models.hmm_gmm_hmmlearn``, which gives the formulas); None takes hmmlearn's default for
        the type. This M-step is used under hmmlearn's loop (``n_iter`` given) or where any of
        them differs from its default (1, 0, 0, None, None); otherwise the M-step is maximum
        likelihood plus ``reg_covar``, each covariance about the new means.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    covariance_type : {'diag', 'full', 'spherical', 'tied'}, default='diag'
        The form of the covariances, as hmmlearn's ``GMMHMM``.
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
    params : str, default='stmcw'
        The parameters EM updates: 's' startprob, 't' transmat, 'm' means, 'c' covariances,
        'w' weights (a letter left out keeps that parameter as it starts).
    init_params : str, default='stmcw'
        The parameters initialised from the data (the others start from the assigned attributes
        or their ``*_init`` arguments); or one of mixfit's methods {'kmeans', 'k-means++',
        'random', 'random_from_data', 'hierarchical'} (every parameter, by that method; the
        letters use 'kmeans'). The frames are partitioned into K parts as ``GaussianHMM``'s start
        does; each state's M means are drawn from the Gaussian of its part, each with the part's
        covariance, the weights uniform; the start and transition probabilities start uniform.
    implementation : {'log', 'scaling'}, default='log'
        hmmlearn's choice of recursions; both give the same results here.
    reg_covar : float, default=None
        Added to the diagonal of every covariance at each M-step; None: 0 with hmmlearn's M-step
        (as hmmlearn), else 1e-6.
    max_iter : int, default=100
        The most EM iterations of one start, where ``n_iter`` is None.
    n_init : int, default=1
        Independent starts; the best final lower bound is kept.
    startprob_init : array-like of shape (n_components,), default=None
        Starting start probabilities; zeros stay zero.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Starting transition matrix; zeros stay zero.
    weights_init : array-like of shape (n_components, n_mix), default=None
        Starting mixture weights (rows sum to 1).
    means_init : array-like of shape (n_components, n_mix, n_features), default=None
        Starting means.
    precisions_init : array-like, default=None
        Starting precisions (inverse covariances) in the shape of ``covars_``.
    fixed : tuple of {'startprob', 'transmat', 'weights', 'means', 'covariances'}, default=()
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
    weights_ : ndarray of shape (n_components, n_mix)
        Mixture weights c_km of each state.
    means_ : ndarray of shape (n_components, n_mix, n_features)
        Means mu_km.
    precisions_cholesky_ : ndarray
        Cholesky factors of the precisions, in the shape of ``covars_``.
    covars_ : ndarray
        Covariances in hmmlearn's shapes: (K, M, D, D) full, (K, M, D) diag, (K, M) spherical,
        (K, D, D) tied; derived from ``precisions_cholesky_`` (assigning it sets them).
    covariances_ : ndarray
        The same as ``covars_`` (scikit-learn's name).
    precisions_ : ndarray
        Precisions in the shape of ``covars_``, derived from ``precisions_cholesky_``.
    converged_ : bool
        Whether the best start converged.
    n_iter_ : int
        EM iterations of the best start.
    lower_bound_ : float
        Log-likelihood per frame of the best start.
    lower_bounds_ : list of float
        ``lower_bound_`` at each iteration of the best start.
    collapse_events_ : list of dict
        Always empty (a collapsing covariance raises ``CollapsedComponentError``).
    n_features_in_ : int
        Number of features seen during ``fit``.
    monitor_ : ConvergenceMonitor
        hmmlearn's record of the best start (``history``, ``iter``, ``converged``).

    See Also
    --------
    GaussianHMM : One Gaussian per state (``n_mix=1``).

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import GMMHMM
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 6])
    >>> GMMHMM(n_components=2, n_mix=2, random_state=0).fit(X).means_.shape
    (2, 2, 2)
    """

    _FIXABLE = ("startprob", "transmat", "weights", "means", "covariances")
    _LETTERS: ClassVar[dict] = {**CHAIN_LETTERS, "m": ("means", "means_", "means_init"),
                                "c": ("covariances", "precisions_", "precisions_init"),
                                "w": ("weights", "weights_", "weights_init")}
    _INIT_METHOD = "kmeans"
    _INIT_METHODS = INIT_METHODS
    # (reg_covar: hmm_gaussian_prior.check_reg_covar)
    _HYPERPARAMETERS: ClassVar[dict] = {**LOOP_HYPERPARAMETERS, "n_mix": INTEGER_AT_LEAST_1}

    def __init__(self, n_components=1, n_mix=1, min_covar=1e-3, startprob_prior=1.0, transmat_prior=1.0,
                 weights_prior=1.0, means_prior=0.0, means_weight=0.0, covars_prior=None, covars_weight=None,
                 algorithm="viterbi", covariance_type="diag", random_state=None, n_iter=None, tol=None, verbose=0,
                 params="stmcw", init_params="stmcw", implementation="log", *, reg_covar=None, max_iter=100,
                 n_init=1, startprob_init=None, transmat_init=None, weights_init=None, means_init=None,
                 precisions_init=None, fixed=(), warm_start=False, verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.n_mix = n_mix
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.n_iter = n_iter
        self.params = params
        self.implementation = implementation
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.weights_init = weights_init
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

    def _check_inits(self, data, K, M, D):
        """(weights, means, flat precision factors) from the ``*_init`` arguments (or the assigned
        attributes they stand for), each or None."""
        weights = check_stochastic(data.start(self, "weights_init"), "weights_init", (K, M))
        means = None
        if data.start(self, "means_init") is not None:
            means = np.asarray(data.start(self, "means_init"), dtype=np.float64)
            if means.shape != (K, M, D):
                raise ValueError(f"means_init has shape {means.shape}; expected (n_components, n_mix, n_features) = "
                                 f"({K}, {M}, {D})")
            if not np.all(np.isfinite(means)):
                raise ValueError("means_init must be finite")
        prec_chol = None
        if data.start(self, "precisions_init") is not None:
            family, pooled = flat_family(self.covariance_type)
            precisions = np.asarray(data.start(self, "precisions_init"), dtype=np.float64)
            expected = public_shape(self.covariance_type, K, M, D)
            if precisions.shape != expected:
                raise ValueError(f"precisions_init has shape {precisions.shape}; expected {expected} for "
                                 f"covariance_type={self.covariance_type!r}")
            count = K if pooled else K * M
            prec_chol = family.check_precisions(precisions.reshape(family.shape(count, D)), count, D)
            prec_chol = np.repeat(prec_chol, M, axis=0) if pooled else prec_chol
        return weights, means, prec_chol

    def _parts(self, data, chain, fixed):
        family, pooled = flat_family(self.covariance_type)
        min_covar = check_min_covar(self)
        hmmlearn_step = uses_hmmlearn_step(self, None, mixture_at_defaults)
        reg_covar = check_reg_covar(self, hmmlearn_step)
        K, M, D = self.n_components, self.n_mix, data.X.shape[1]
        check_enough_frames(data.X, K)
        weights_init, means_init, prec_chol_init = self._check_inits(data, K, M, D)
        fixes = ("weights" in fixed, "means" in fixed, "covariances" in fixed)
        prior = mixture_prior(self, self.covariance_type, K, M, D, reg_covar)  # checked, whichever step
        if hmmlearn_step:
            emission = HmmlearnMixtureEmission(GaussianEM(family, reg_covar), M, self.covariance_type, prior, pooled,
                                               *fixes)
        else:
            emission = GaussianMixtureEmission(GaussianEM(family, reg_covar), M, pooled, *fixes)
        states = GaussianEM(family, reg_covar + (min_covar if hmmlearn_step else 0.0))  # the start's K parts
        frames = start_frames(data)  # missing entries read as column means by the start only
        data_cov = data_moments(frames)[1] if hmmlearn_step else None

        def start(rng):
            weights = np.full((K, M), 1.0 / M) if weights_init is None else weights_init
            if means_init is not None and prec_chol_init is not None:
                return StateMixtureParams(weights, means_init, prec_chol_init)
            part = states.maximize(initial_stats(states, frames, K, data.init_method, rng), None)  # (9.24), (9.25)
            prec_chol = family.select(part.prec_chol, np.repeat(np.arange(K), M))  # each pair: its part's
            if M == 1:
                means = part.means[:, None, :]
            else:  # M draws from each part's Gaussian break the symmetry of the state's pairs
                means = np.stack([family.draw(rng, part.means[k], part.prec_chol, k, M) for k in range(K)])
            if hmmlearn_step:  # hmmlearn's start: every covariance the data's plus min_covar
                prec_chol = family.precision_chol(starting_covariance(family.name, data_cov, min_covar,
                                                                      K if pooled else K * M))
                prec_chol = np.repeat(prec_chol, M, axis=0) if pooled else prec_chol
            return StateMixtureParams(weights, means if means_init is None else means_init,
                                      prec_chol if prec_chol_init is None else prec_chol_init)

        return baum_welch_parts(self, data, chain, HMM(*point_chain(fixed, self), emission), start,
                                self._set_emission)

    def _set_emission(self, params, record):
        self.weights_ = params.weights
        self.means_ = params.means
        _, pooled = flat_family(self.covariance_type)
        K, M, D = params.means.shape
        # the pairs of a pooled state share one factor: stored once per state, as hmmlearn's covars_
        self.precisions_cholesky_ = (params.prec_chol[::M] if pooled
                                     else params.prec_chol.reshape(public_shape(self.covariance_type, K, M, D)))

    def _emission_model(self, fixed=frozenset()):
        family, pooled = flat_family(self.covariance_type)
        return GaussianMixtureEmission(GaussianEM(family, 0.0), self.n_mix, pooled, "weights" in fixed,
                                       "means" in fixed, "covariances" in fixed)

    def _flat_prec_chol(self):
        family, pooled = flat_family(self.covariance_type)
        K, M, D = self.means_.shape
        if pooled:
            return np.repeat(self.precisions_cholesky_, M, axis=0)
        return self.precisions_cholesky_.reshape(family.shape(K * M, D))

    def _emission_params(self):
        return StateMixtureParams(np.asarray(self.weights_, dtype=np.float64),
                                  np.asarray(self.means_, dtype=np.float64), self._flat_prec_chol())

    def _emission_features(self):
        return np.shape(self.means_)[-1] if "means_" in vars(self) else None

    def _check_emission(self, n_states):
        if not {"weights_", "means_", "precisions_cholesky_"} <= set(vars(self)):
            raise ValueError("weights_, means_ and covars_ must be set (by fit, or by assigning them) before the "
                             "model is used")
        check_stochastic(self.weights_, "weights_", (n_states, self.n_mix))
        means = np.asarray(self.means_, dtype=np.float64)
        if means.shape[:2] != (n_states, self.n_mix) or means.ndim != 3 or not np.all(np.isfinite(means)):
            raise ValueError(f"means_ has shape {means.shape}; expected finite values of shape (n_components, n_mix, "
                             f"n_features) = ({n_states}, {self.n_mix}, n_features)")
        expected = public_shape(self.covariance_type, n_states, self.n_mix, means.shape[2])
        if np.shape(self.precisions_cholesky_) != expected:
            raise ValueError(f"covars_ was set for shape {np.shape(self.precisions_cholesky_)}; expected {expected} "
                             f"for covariance_type={self.covariance_type!r}")

    def _in_public_shape(self, transform):
        """``transform`` (a family's covariance or precision) of the factors, in covars_'s shape."""
        family, pooled = flat_family(self.covariance_type)
        if pooled:
            return transform(family)(self.precisions_cholesky_)
        return transform(family)(self._flat_prec_chol()).reshape(self.precisions_cholesky_.shape)

    @property
    def covars_(self):
        """Covariances in hmmlearn's shape for ``covariance_type``."""
        return self._in_public_shape(lambda family: family.covariance)

    @covars_.setter
    def covars_(self, covars):
        _, pooled = flat_family(self.covariance_type)
        cov = np.array(covars, dtype=np.float64)
        K, M = self.n_components, self.n_mix
        ndim = {"spherical": 2, "diag": 3, "tied": 3, "full": 4}[self.covariance_type]
        if cov.ndim != ndim or cov.shape[0] != K or (not pooled and cov.shape[1] != M):
            raise ValueError(f"covars_ has shape {cov.shape}; expected hmmlearn's shape for covariance_type="
                             f"{self.covariance_type!r} with n_components = {K}, n_mix = {M}")
        flat = cov if pooled else cov.reshape((K * M, *cov.shape[2:]))
        self.precisions_cholesky_ = covars_to_precision_chol(flat, "full" if pooled else self.covariance_type,
                                                             flat.shape[0]).reshape(cov.shape)

    @property
    def covariances_(self):
        """Covariances, the same as ``covars_``."""
        return self.covars_

    @property
    def precisions_(self):
        """Precisions in the shape of ``covars_``."""
        return self._in_public_shape(lambda family: family.precision)
