"""GaussianHMM (CategoricalHMM: hmm_categorical.py; BernoulliHMM: hmm_bernoulli.py): Baum-Welch (PRML 13.2)
behind a scikit-learn-style API.

Names follow hmmlearn where it has them (``startprob_``, ``transmat_``, ``means_``,
``emissionprob_``, ``fit(X, lengths)``, ``decode``, ``score_samples``) and mixfit's mixtures
elsewhere (``max_iter``, ``tol`` per frame, ``reg_covar``, ``init_params`` as a method, the
``*_init`` arrays, ``prior``). Documented differences from hmmlearn: frozen parameters are named,
``fixed=('startprob', 'transmat')``, instead of a letter string; starting values are ``*_init``
arguments, never written back; ``sample_weight`` weighs whole sequences. Under hmmlearn's loop
(``n_iter`` given) ``tol`` is on the total log-likelihood and the Gaussian M-step is hmmlearn's,
its priors included (``models.hmm_hmmlearn_prior``); under mixfit's (``max_iter``) ``tol`` is
per frame and the M-step maximum likelihood plus ``reg_covar`` (or the conjugate ``prior``).
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import numpy as np

from ..engine.collapse import ON_COLLAPSE
from ..engine.collapse_hmm import StatePolicy
from ..engine.starts import INIT_METHODS, data_moments, initial_stats
from ..exceptions import CollapsedComponentError
from ..families.registry import make_covariance, make_map_prior
from ..models.gaussian_em import GaussianEM
from ..models.hmm import HMM
from ..models.hmm_emissions import GaussianEmission
from ..models.hmm_hmmlearn_prior import HmmlearnGaussianEmission, starting_covariance
from ._hmm_base import _HMMBase
from .hmm_checks import check_enough_frames
from .hmm_compat import CHAIN_LETTERS, covars_to_precision_chol
from .hmm_gaussian_prior import (
    HMMLEARN_COVARIANCE_TYPES,
    check_min_covar,
    check_reg_covar,
    gaussian_prior,
    uses_hmmlearn_gaussian_step,
)
from .hmm_missing import check_frames_with_missing, start_frames
from .hmm_parts import baum_welch_parts, point_chain
from .priors import check_prior_spec, resolve_prior
from .validation import (
    LOOP_HYPERPARAMETERS,
    check_means_init,
    check_option,
)


class GaussianHMM(_HMMBase):
    """Hidden Markov model with Gaussian emissions, fitted by Baum-Welch (EM).

    The first seventeen parameters are hmmlearn's ``GaussianHMM``'s, in its order (positional
    as there); mixfit's own spellings follow, keyword-only.

    NaN entries of the frames are missing values (at random): ``fit``, ``score``,
    ``score_samples``, ``decode``, ``predict`` and ``predict_proba`` use each state's density of
    a frame's observed entries, and ``lower_bound_`` is the observed-data log-likelihood. A
    frame with every entry NaN has density 1 under every state (the chain passes through it on
    its transitions); infinity is refused (docs/math/hmm.md, "Missing frames").

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='diag'
        The form of each state's emission covariance.
    min_covar : float, default=1e-3
        Where the M-step is hmmlearn's (see ``means_prior``), every state starts, as in hmmlearn,
        from the data's covariance with ``min_covar`` added to its diagonal (spherical: its mean
        variance; the means start by k-means, as otherwise).
    startprob_prior : float or array-like of shape (n_components,), default=1
        Dirichlet concentrations of a prior on ``startprob_`` (hmmlearn's MAP M-step:
        pi_k proportional to max(E[z_1k] + a_k - 1, 0)); 1 is no prior.
    transmat_prior : float or array-like of shape (n_components, n_components), default=1
        Dirichlet concentrations of a prior on each row of ``transmat_``, as ``startprob_prior``.
    means_prior, means_weight, covars_prior, covars_weight : float or array-like
        hmmlearn's regularisation of the emission M-step (m_0, tau, Psi, nu; defaults 0, 0, 1e-2,
        1), applied as hmmlearn applies it (``models.hmm_hmmlearn_prior``): mu_k = (tau m_0 +
        sum_t gamma_tk x_t) / (tau + N_k) and, for 'full', Sigma_k = (Psi + tau (mu_k - m_0)
        (mu_k - m_0)^T + S_k) / (N_k + max(nu - D, 0)) (the other types as hmmlearn's).
        ``means_prior`` broadcasts to (n_components, n_features), ``covars_prior`` to the type's
        shape ((K, D, D), (D, D), (K, D), (K, D)); the weights are numbers. This M-step is used
        under hmmlearn's loop (``n_iter`` given) or where any of them differs from its default;
        otherwise the M-step is maximum likelihood plus ``reg_covar``. Not with ``prior``.
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
        Progress messages: 0 none, 1 per start, 2 per ``verbose_interval`` iterations.
    params : str, default='stmc'
        The parameters EM updates: 's' startprob, 't' transmat, 'm' means, 'c' covariances
        (a letter left out keeps that parameter as it starts, as naming it in ``fixed``).
    init_params : str, default='stmc'
        The parameters initialised from the data (the others start from the attributes assigned
        on the estimator, ``startprob_``, ``transmat_``, ``means_``, ``covars_``, or their
        ``*_init`` arguments); the emissions start by k-means. Or one of mixfit's methods
        {'kmeans', 'k-means++', 'random', 'random_from_data'}: every parameter initialised, the
        emissions by that method.
    implementation : {'log', 'scaling'}, default='log'
        hmmlearn's choice of recursions; both give the same results here (mixfit chooses its own).
    reg_covar : float, default=None
        Added to the diagonal of every emission covariance at each M-step; None: 0 with
        hmmlearn's M-step (as hmmlearn), else 1e-6 (as the mixtures).
    prior : None, 'default' or ConjugatePrior, default=None
        A conjugate prior on each state's mean and covariance (as ``GaussianMixture``): the
        emission M-step becomes the posterior mode and ``lower_bound_`` the log posterior.
    max_iter : int, default=100
        The most EM iterations of one start, where ``n_iter`` is None.
    n_init : int, default=1
        Independent starts; the best final lower bound is kept.
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
        Parameters kept at their starting values (as the letters left out of ``params``).
    warm_start : bool, default=False
        If True and the estimator is fitted, ``fit`` continues from the fitted parameters (one
        start).
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
    covars_ : ndarray of shape (n_states, n_features, n_features)
        hmmlearn's attribute: every state's full covariance matrix, derived from
        ``precisions_cholesky_``; assigning it (in the type's shape: (K,), (K, D), (D, D) or
        (K, D, D)) sets ``precisions_cholesky_``.
    covariances_ : ndarray
        Emission covariances in scikit-learn's shape, derived from ``precisions_cholesky_``.
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
    monitor_ : ConvergenceMonitor
        hmmlearn's record of the best start: ``history`` (total log-likelihood per iteration),
        ``iter``, ``converged``.

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
    _LETTERS: ClassVar[dict] = {**CHAIN_LETTERS, "m": ("means", "means_", "means_init"),
                                "c": ("covariances", "precisions_", "precisions_init")}
    _INIT_METHOD = "kmeans"
    _INIT_METHODS = INIT_METHODS
    _HYPERPARAMETERS: ClassVar[dict] = LOOP_HYPERPARAMETERS  # reg_covar: hmm_gaussian_prior.check_reg_covar

    def __init__(self, n_components=1, covariance_type="diag", min_covar=1e-3, startprob_prior=1.0,
                 transmat_prior=1.0, means_prior=0, means_weight=0, covars_prior=1e-2, covars_weight=1,
                 algorithm="viterbi", random_state=None, n_iter=None, tol=None, verbose=0, params="stmc",
                 init_params="stmc", implementation="log", *, reg_covar=None, prior=None, max_iter=100,
                 n_init=1, startprob_init=None, transmat_init=None, means_init=None, precisions_init=None,
                 fixed=(), warm_start=False, verbose_interval=10, chunk_size=None, on_collapse="raise"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.n_iter = n_iter
        self.params = params
        self.implementation = implementation
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
        return check_frames_with_missing(self, X, reset, self._chunk_frames())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # scikit-learn's tag protocol: its base builds the tags
        tags.input_tags.allow_nan = True  # NaN entries are missing frames' values (hmm_missing.py)
        return tags

    def _parts(self, data, chain, fixed):
        covariance = make_covariance(self.covariance_type)
        check_option(self.on_collapse, "on_collapse", ON_COLLAPSE)
        min_covar = check_min_covar(self)
        prior_spec = check_prior_spec(self.prior)
        hmmlearn_step = uses_hmmlearn_gaussian_step(self, prior_spec)
        reg_covar = check_reg_covar(self, hmmlearn_step)
        K, n_features = self.n_components, data.X.shape[1]
        check_enough_frames(data.X, K)
        means_init = check_means_init(data.start(self, "means_init"), K, n_features)
        precisions_init = data.start(self, "precisions_init")
        prec_chol_init = (None if precisions_init is None
                          else covariance.check_precisions(precisions_init, K, n_features))
        frames = start_frames(data)  # missing entries read as column means by the starts only
        prior = precision = data_cov = None
        if prior_spec is not None or hmmlearn_step:
            data_mean, data_cov = data_moments(frames)
        if prior_spec is not None:
            precision = make_map_prior(covariance)
            prior = resolve_prior(prior_spec, precision, data_mean, data_cov, K, n_features, reg_covar)
        mixture = GaussianEM(covariance, reg_covar, np.float64, prior, precision)
        starting = mixture
        if self.covariance_type in HMMLEARN_COVARIANCE_TYPES:  # checked, whichever step
            hmmlearn_prior = gaussian_prior(self, self.covariance_type, K, n_features, reg_covar)
        if hmmlearn_step:
            emission = HmmlearnGaussianEmission(mixture, hmmlearn_prior, "means" in fixed, "covariances" in fixed)
            starting = GaussianEM(covariance, reg_covar + min_covar)  # (its covariances are replaced below)
        else:
            emission = GaussianEmission(mixture, "means" in fixed, "covariances" in fixed)

        def start(rng, policy):
            if means_init is not None and prec_chol_init is not None:
                return emission.params(means_init, prec_chol_init)
            # The emissions start as a mixture of the frames would (init.py), then EM's M-step,
            # through the collapse policy (iteration 0).
            first = policy.initial_step(starting, frames,
                                        initial_stats(starting, frames, K, data.init_method, rng, means_init))
            if first.means.shape[0] != K and (means_init is not None or prec_chol_init is not None):
                raise CollapsedComponentError(
                    f"on_collapse={self.on_collapse!r} dropped a state at initialisation, which cannot be "
                    f"combined with means_init or precisions_init of n_components = {K} entries; give "
                    "both, or neither")
            prec_chol = first.prec_chol
            if hmmlearn_step:  # hmmlearn's start: every state the data's covariance plus min_covar
                n_states = first.means.shape[0]
                prec_chol = covariance.precision_chol(starting_covariance(self.covariance_type, data_cov, min_covar,
                                                                          n_states))
            return emission.params(first.means if means_init is None else means_init,
                                   prec_chol if prec_chol_init is None else prec_chol_init)

        return baum_welch_parts(self, data, chain, HMM(*point_chain(fixed, self), emission), start,
                                self._set_emission, policy=partial(StatePolicy, self.on_collapse))

    def _set_emission(self, params, record):
        self.means_ = params.means
        self.precisions_cholesky_ = params.prec_chol

    def _emission_model(self, fixed=frozenset()):
        mixture = GaussianEM(make_covariance(self.covariance_type), 0.0)  # (the density needs no ridge)
        return GaussianEmission(mixture, "means" in fixed, "covariances" in fixed)

    def _emission_params(self):
        return GaussianEmission.params(np.asarray(self.means_, dtype=np.float64), self.precisions_cholesky_)

    def _emission_features(self):
        return np.shape(self.means_)[1] if "means_" in vars(self) else None

    def _check_emission(self, n_states):
        if "means_" not in vars(self) or "precisions_cholesky_" not in vars(self):
            raise ValueError("means_ and covars_ must be set (by fit, or by assigning them) before the model is used")
        means = np.asarray(self.means_, dtype=np.float64)
        if means.ndim != 2 or means.shape[0] != n_states or not np.all(np.isfinite(means)):
            raise ValueError(f"means_ has shape {means.shape}; expected finite values of shape (n_components, "
                             f"n_features) with n_components = {n_states}")
        D = means.shape[1]
        covariance = make_covariance(self.covariance_type)
        if np.shape(self.precisions_cholesky_) != covariance.shape(n_states, D):
            raise ValueError(f"covars_ was set for shape {np.shape(self.precisions_cholesky_)}; expected "
                             f"{covariance.shape(n_states, D)} for means_ of shape {np.shape(self.means_)} "
                             f"and covariance_type={self.covariance_type!r}")

    @property
    def covariances_(self):
        """Emission covariances in the covariance type's shape."""
        return make_covariance(self.covariance_type).covariance(self.precisions_cholesky_)

    @property
    def precisions_(self):
        """Emission precisions in the covariance type's shape."""
        return make_covariance(self.covariance_type).precision(self.precisions_cholesky_)

    @property
    def _covars_(self):
        """hmmlearn's stored covariances: scikit-learn's shape for the type (``covariances_``)."""
        return self.covariances_

    @property
    def covars_(self):
        """Every state's full covariance matrix (n_states, n_features, n_features), hmmlearn's form."""
        prec_chol = self.precisions_cholesky_
        K = prec_chol.shape[0] if self.covariance_type != "tied" else self._n_states()
        D = prec_chol.shape[-1] if prec_chol.ndim > 1 else np.shape(self.means_)[1]
        return np.array(make_covariance(self.covariance_type).dense_covariance(prec_chol, K, D))

    @covars_.setter
    def covars_(self, covars):
        self.precisions_cholesky_ = covars_to_precision_chol(covars, self.covariance_type, self.n_components)
