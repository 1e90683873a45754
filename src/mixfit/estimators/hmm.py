"""GaussianHMM, CategoricalHMM and BernoulliHMM: Baum-Welch (PRML 13.2) behind a scikit-learn-style API.

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

from typing import ClassVar

import numpy as np
from sklearn.base import clone

from ..backends import as_source
from ..backends.inputs import is_chunked
from ..engine.collapse import ON_COLLAPSE
from ..engine.collapse_hmm import StatePolicy
from ..engine.starts import INIT_METHODS, data_moments, initial_stats
from ..exceptions import CollapsedComponentError
from ..families.registry import make_covariance, make_precision_prior
from ..models.bernoulli import BernoulliEM, BetaPrior
from ..models.gaussian_em import GaussianEM
from ..models.hmm_emissions import BernoulliEmission, CategoricalEmission, GaussianEmission
from ._hmm_base import _HMMBase, check_lazy_frames, check_stochastic
from .bernoulli_mixture import _check_prior_value
from .priors import check_prior_spec, resolve_prior
from .validation import (
    INTEGER_AT_LEAST_1,
    LOOP_HYPERPARAMETERS,
    REAL_AT_LEAST_0,
    check_hyperparameters,
    check_means_init,
    check_option,
    validate_X,
)
from .validation_binary import first_non_binary, is_binary, non_binary_message


def _is_symbol(X) -> np.ndarray:
    """Entrywise: is x an integer >= 0 (a categorical symbol)."""
    return (X >= 0) & (X == np.round(X))


def _highest_symbol(X, chunk_size: int) -> int:
    """max(X) of validated symbols: in memory, or one chunked pass over a reader."""
    if isinstance(X, np.ndarray):
        return int(X.max())
    return max(int(chunk.max()) for chunk, _ in as_source(X, None, chunk_size).chunks())


class GaussianHMM(_HMMBase):
    """Hidden Markov model with Gaussian emissions, fitted by Baum-Welch.

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='diag'
    reg_covar : float, default=1e-6
        Added to the diagonal of every emission covariance at each M-step.
    prior : None, 'default' or ConjugatePrior, default=None
        A conjugate prior on each state's mean and covariance (as ``GaussianMixture``): the
        emission M-step becomes the posterior mode and ``lower_bound_`` the log posterior.
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
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    tol : float, default=1e-4
        Convergence threshold on the change of the log-likelihood per frame.
    max_iter : int, default=100
    n_init : int, default=1
        Independent starts; the best final lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the emissions start (on the frames, as a mixture would); the start and transition
        probabilities start uniform unless given.
    startprob_init, transmat_init, means_init, precisions_init : array-like, optional
        Starting values (``precisions_init`` in scikit-learn's format for the covariance type).
        Zeros of ``transmat_init`` and ``startprob_init`` are forbidden transitions and starts:
        they stay zero.
    fixed : tuple of {'startprob', 'transmat', 'means', 'covariances'}, default=()
        Parameters kept at their starting values (hmmlearn's ``params``, spelled by name).
    random_state, warm_start, verbose, verbose_interval
    chunk_size : int or None
        Frames per chunk of whole sequences; None: 65536.
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
        """float64 frames (n, D); with ``reset``, a clone holding the feature bookkeeping. A memmap
        or array-like X is checked in one chunked pass and read as it is needed, never whole."""
        record = clone(self) if reset else self
        if is_chunked(X):
            return check_lazy_frames(record, X, reset, self._chunk_frames())[0], record
        return validate_X(record, X, dtype=np.float64, reset=reset), record

    def _emission_setup(self, X, frame_weight, fixed, record):
        covariance = make_covariance(self.covariance_type)
        check_option(self.init_params, "init_params", INIT_METHODS)
        check_option(self.on_collapse, "on_collapse", ON_COLLAPSE)
        prior_spec = check_prior_spec(self.prior)
        K, n_features = self.n_components, X.shape[1]
        if X.shape[0] < K:
            raise ValueError(f"X has n_samples = {X.shape[0]} frames but n_components = {K}; expected "
                             "n_samples >= n_components")
        means_init = check_means_init(self.means_init, K, n_features)
        prec_chol_init = (None if self.precisions_init is None
                          else covariance.check_precisions(self.precisions_init, K, n_features))
        frames = as_source(X, frame_weight, self._chunk_frames())
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

        return emission, start

    def _collapse_policy(self):
        return lambda: StatePolicy(self.on_collapse)

    def _emission_model(self, fixed=frozenset()):
        mixture = GaussianEM(make_covariance(self.covariance_type), self.reg_covar)
        return GaussianEmission(mixture, "means" in fixed, "covariances" in fixed)

    def _emission_params(self):
        return GaussianEmission.params(self.means_, self.precisions_cholesky_)

    def _set_emission(self, params, record):
        self._covariance = make_covariance(self.covariance_type)
        self.means_ = params.means
        self.precisions_cholesky_ = params.prec_chol

    @property
    def covariances_(self):
        return self._covariance.covariance(self.precisions_cholesky_)

    @property
    def precisions_(self):
        return self._covariance.precision(self.precisions_cholesky_)


class CategoricalHMM(_HMMBase):
    """Hidden Markov model with categorical emissions (symbols 0..M-1), fitted by Baum-Welch.

    X is a column (n_samples, 1) of integer symbols, as hmmlearn's ``CategoricalHMM``.
    ``n_symbols`` (hmmlearn's ``n_features``) is M; None takes max(X) + 1 at fit.
    ``init_params='random'`` draws each state's emission row from a flat Dirichlet;
    ``emissionprob_init`` gives it. ``fixed`` names from ('startprob', 'transmat',
    'emissionprob'). Other parameters as ``GaussianHMM``.
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
        """Integer symbols (n, 1): an intp array, or for a memmap or array-like X a reader of
        float64 rows holding them (checked in one chunked pass, never loaded)."""
        record = clone(self) if reset else self
        limit = None if reset else self.n_symbols_
        if is_chunked(X):
            if len(X.shape) == 2 and X.shape[1] != 1:
                raise ValueError(f"X has {X.shape[1]} columns; expected one column of integer symbols")
            reader, scan = check_lazy_frames(record, X, reset, self._chunk_frames(), _is_symbol)
            if np.isfinite(scan.bad_row):
                raise ValueError(f"X must hold integer symbols >= 0; X[{int(scan.bad_row)}, 0] = {scan.bad_value!r}")
            highest = int(scan.rows.high[0])
            if limit is not None and highest >= limit:
                raise ValueError(f"X holds symbol {highest}; expected symbols < n_symbols = {limit}")
            return reader, record
        values = validate_X(record, X, dtype=np.float64, reset=reset)
        if values.shape[1] != 1:
            raise ValueError(f"X has {values.shape[1]} columns; expected one column of integer symbols")
        if np.any(values < 0) or np.any(values != np.round(values)):
            raise ValueError("X must hold integer symbols >= 0")
        symbols = values.astype(np.intp)
        if limit is not None and symbols.max() >= limit:
            raise ValueError(f"X holds symbol {symbols.max()}; expected symbols < n_symbols = {limit}")
        return symbols, record

    def _emission_setup(self, X, frame_weight, fixed, record):
        check_option(self.init_params, "init_params", ("random",))
        if self.n_symbols is not None:
            check_hyperparameters(self, {"n_symbols": INTEGER_AT_LEAST_1})
        highest = _highest_symbol(X, self._chunk_frames())
        n_symbols = highest + 1 if self.n_symbols is None else self.n_symbols
        if highest >= n_symbols:
            raise ValueError(f"X holds symbol {highest}; expected symbols < n_symbols = {n_symbols}")
        given = check_stochastic(self.emissionprob_init, "emissionprob_init", (self.n_components, n_symbols))
        record.n_symbols_ = n_symbols
        emission = CategoricalEmission(n_symbols, "emissionprob" in fixed)

        def start(rng):
            if given is not None:
                return given
            return rng.dirichlet(np.ones(n_symbols), size=self.n_components)

        return emission, start

    def _emission_model(self, fixed=frozenset()):
        return CategoricalEmission(self.n_symbols_, "emissionprob" in fixed)

    def _emission_params(self):
        return self.emissionprob_

    def _set_emission(self, params, record):
        self.n_symbols_ = record.n_symbols_
        self.emissionprob_ = params


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
    alpha, beta : float >= 1 or None, default=None
        The Beta prior on every success probability; None is 2, as ``BernoulliMixture``'s EM:
        the update is then (expected ones + 1) / (expected visits + 2), Laplace's rule, which keeps
        every mu_ki inside (0, 1). ``alpha=beta=1`` is maximum likelihood.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the emissions start (on the frames, as the mixture would); the start and transition
        probabilities start uniform unless given.
    startprob_init, transmat_init, means_init : array-like, optional
        Starting values; ``means_init`` (n_components, n_features) in [0, 1].
    fixed : tuple of {'startprob', 'transmat', 'means'}, default=()
    algorithm, tol, max_iter, n_init, random_state, warm_start, verbose, verbose_interval,
    chunk_size : as ``GaussianHMM``.

    Attributes
    ----------
    startprob_, transmat_, means_, alpha_prior_, beta_prior_, converged_, n_iter_,
    lower_bound_, lower_bounds_, n_features_in_
    """

    _FIXABLE = ("startprob", "transmat", "means")
    _HYPERPARAMETERS: ClassVar[dict] = LOOP_HYPERPARAMETERS

    def __init__(self, n_components=1, *, alpha=None, beta=None, algorithm="viterbi", tol=1e-4, max_iter=100,
                 n_init=1, init_params="kmeans", startprob_init=None, transmat_init=None, means_init=None,
                 fixed=(), random_state=None, warm_start=False, verbose=0, verbose_interval=10,
                 chunk_size=None):
        self.n_components = n_components
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
        """Binary frames as float64 (n, D) (a new array; the user's X is untouched)."""
        record = clone(self) if reset else self
        if is_chunked(X):  # a memmap or array-like: checked in one chunked pass, never loaded
            reader, scan = check_lazy_frames(record, X, reset, self._chunk_frames(), is_binary)
            if np.isfinite(scan.bad_row):
                bad = (int(scan.bad_row), scan.bad_column, scan.bad_value)
                raise ValueError(non_binary_message("a BernoulliHMM", bad, lazy=True))
            return reader, record
        values = validate_X(record, X, dtype="numeric", reset=reset)
        if values.dtype.kind not in "biuf":
            raise ValueError(f"X has dtype {values.dtype}; expected binary data (bool, integer or float 0/1)")
        bad = first_non_binary(values)
        if bad is not None:
            row, column, value = bad
            raise ValueError(f"X must be binary (0/1) for a BernoulliHMM; X[{row}, {column}] = {value!r}. "
                             "Binarise it first (e.g. X > threshold)")
        return values.astype(np.float64), record

    def _emission_setup(self, X, frame_weight, fixed, record):
        check_option(self.init_params, "init_params", INIT_METHODS)
        prior = BetaPrior(_check_prior_value(self.alpha, "alpha", "em"),
                          _check_prior_value(self.beta, "beta", "em"))
        K, n_features = self.n_components, X.shape[1]
        if X.shape[0] < K:
            raise ValueError(f"X has n_samples = {X.shape[0]} frames but n_components = {K}; expected "
                             "n_samples >= n_components")
        means_init = check_means_init(self.means_init, K, n_features)
        if means_init is not None and (np.any(means_init < 0) or np.any(means_init > 1)):
            raise ValueError("means_init holds success probabilities; expected values in [0, 1]")
        record.alpha_prior_, record.beta_prior_ = prior.alpha, prior.beta
        mixture = BernoulliEM(prior)
        emission = BernoulliEmission(mixture, "means" in fixed)
        frames = as_source(X, frame_weight, self._chunk_frames())

        def start(rng):
            if means_init is not None:
                return emission.params(means_init)
            # The emissions start as a mixture of the frames would (init.py), then its M-step.
            return emission.params(mixture.maximize(initial_stats(mixture, frames, K, self.init_params, rng),
                                                    None).means)

        return emission, start

    def _emission_model(self, fixed=frozenset()):
        return BernoulliEmission(BernoulliEM(BetaPrior(self.alpha_prior_, self.beta_prior_)), "means" in fixed)

    def _emission_params(self):
        return BernoulliEmission.params(self.means_)

    def _set_emission(self, params, record):
        self.alpha_prior_ = record.alpha_prior_
        self.beta_prior_ = record.beta_prior_
        self.means_ = params.means
