"""VariationalGaussianHMM, and what every variational HMM shares: variational Bayes for hidden Markov
models (MacKay 1997; Beal 2003, ch. 3) behind the API of the EM HMMs (VariationalCategoricalHMM
is in hmm_vb_categorical.py).

Names follow hmmlearn 0.3.3's ``hmmlearn.vhmm`` where it has them (``startprob_prior``,
``transmat_prior``, ``means_prior``, ``beta_prior``, ``dof_prior``, ``scale_prior``,
``emissionprob_prior``; ``*_posterior_``; ``covars_``) and mixfit's HMMs elsewhere (``max_iter``,
``tol`` per frame, ``n_init``, ``init_params`` as a method, the ``*_init`` arrays, ``chunk_size``,
``sample_weight`` per sequence). The model is models/hmm_vb.py; this module validates, starts and
writes attributes.
"""

from __future__ import annotations

import numbers
import warnings
from typing import ClassVar

import numpy as np

from .. import engine
from ..backends import as_source
from ..engine.starts import INIT_METHODS, data_moments, initial_stats
from ..exceptions import ConvergenceWarning
from ..families.precision_priors import NormalPrecisionPrior
from ..families.registry import make_covariance, make_precision_prior
from ..models.gaussian_em import GaussianEM
from ..models.gaussian_vb import GaussianVB, NormalPrecisionPosterior
from ..models.hmm import HMM, HMMParams, InitialDistribution, TransitionMatrix
from ..models.hmm_emissions import GaussianEmission
from ..models.hmm_vb import DirichletRows, GaussianVBEmission, VariationalHMM, VariationalHMMParams
from ._fitted import set_loop_attributes
from ._hmm_base import DECODERS, _HMMBase, check_lengths, check_stochastic
from .hmm import GaussianHMM
from .validation import (
    LOOP_HYPERPARAMETERS,
    REAL_AT_LEAST_0,
    as_generator,
    check_hyperparameters,
    check_means_init,
    check_option,
    check_sample_weight,
)


def check_concentration(value, name: str, shape: tuple, default: float, allowed=None) -> np.ndarray:
    """Dirichlet prior concentrations of ``shape`` (one distribution along the last axis): None
    takes ``default``; a number > 0 fills the shape; an array holds values >= 0, 0 meaning an entry
    outside the support (forbidden). ``allowed`` (bool, ``shape``): where a starting value is > 0;
    entries outside it are forbidden too. Every distribution must keep an allowed entry."""
    if value is None:
        prior = np.full(shape, float(default))
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name}={value!r}; expected a finite number > 0 or an array of shape {shape}")
        prior = np.full(shape, float(value))
    else:
        try:
            prior = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={value!r}; expected a number > 0 or an array of shape {shape}") from None
        if isinstance(value, bool) or prior.shape != shape:
            raise ValueError(f"{name} has shape {prior.shape}; expected a number > 0 or an array of shape {shape}")
        if not np.all(np.isfinite(prior)) or np.any(prior < 0):
            raise ValueError(f"{name} must hold finite Dirichlet concentrations >= 0 (0: a forbidden entry)")
    if allowed is not None:
        prior = np.where(allowed, prior, 0.0)
    empty = ~np.any(prior > 0, axis=-1)
    if np.any(empty):
        where = "" if prior.ndim == 1 else f" (row {int(np.flatnonzero(empty)[0])})"
        raise ValueError(f"{name} leaves no allowed entry{where} once the zeros of the starting values are "
                         "forbidden too; expected at least one concentration > 0 per distribution")
    return prior


def _check_positive(value, name: str, default: float, low: float, expected: str) -> float:
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= low:
        raise ValueError(f"{name}={value!r}; expected None or {expected}")
    return float(value)


class _VariationalHMMBase(_HMMBase):
    """Abstract: the VB fit and the chain's fitted attributes; decoding, scoring and sampling are
    ``_HMMBase``'s, with the posterior-mean parameters."""

    def fit(self, X, lengths=None, sample_weight=None):
        """Fit q(pi) q(A) q(emission) by coordinate ascent on the ELBO; returns self. ``lengths``
        cuts X into sequences (None: one); ``sample_weight`` has one weight per sequence. A failed
        fit leaves self unchanged."""
        check_hyperparameters(self, self._HYPERPARAMETERS)
        check_option(self.algorithm, "algorithm", DECODERS)
        X, record = self._check_frames(X, reset=True)
        lengths = check_lengths(lengths, X.shape[0])
        weights = check_sample_weight(sample_weight, lengths.shape[0], np.float64, unit="n_sequences")
        K = self.n_components
        startprob = check_stochastic(self.startprob_init, "startprob_init", (K,))
        transmat = check_stochastic(self.transmat_init, "transmat_init", (K, K))
        initial = DirichletRows(check_concentration(self.startprob_prior, "startprob_prior", (K,), 1.0 / K,
                                                    None if startprob is None else startprob > 0))
        transition = DirichletRows(check_concentration(self.transmat_prior, "transmat_prior", (K, K), 1.0 / K,
                                                       None if transmat is None else transmat > 0))
        frame_weight = None if weights is None else np.repeat(weights, lengths)
        emission, point_emission, emission_start = self._emission_setup(X, frame_weight, record)
        model = VariationalHMM(initial, transition, emission)
        source = self._source(X, lengths, weights)
        warm = bool(self.warm_start) and "startprob_posterior_" in vars(self)
        options = engine.FitOptions(self.tol, self.max_iter, 1 if warm else self.n_init, self.verbose,
                                    self.verbose_interval)
        if warm:
            previous = VariationalHMMParams(self.startprob_posterior_, self.transmat_posterior_,
                                            self._emission_posterior())

            def start(rng):
                return previous
        else:
            # The first q(theta) is the VB M-step of Baum-Welch's E-step at point parameters: the
            # given or uniform chain (uniform over each row's support) and the emission's start.
            em = HMM(InitialDistribution(), TransitionMatrix(), point_emission)
            chain_start = (initial.mean(initial.support.astype(np.float64)) if startprob is None else startprob,
                           transition.mean(transition.support.astype(np.float64)) if transmat is None else transmat)

            def start(rng):
                point = HMMParams(*chain_start, emission_start(rng))
                return model.maximize(source.map_reduce(lambda batch, w: em.accumulate(batch, point, w)), None)

        result = engine.fit(model, source, start, options, as_generator(self.random_state),
                            initial_bound=self.lower_bound_ if warm else -np.inf)
        if not result.converged and self.max_iter > 0:
            warnings.warn(f"Best performing initialization did not converge in max_iter={self.max_iter} "
                          f"iterations (tol={self.tol}); increase max_iter or tol", ConvergenceWarning,
                          stacklevel=2)
        self._set_fitted(result, record, model)
        return self

    def _set_fitted(self, result: engine.FitResult, record, model: VariationalHMM) -> None:
        """The only place fitted attributes are written."""
        q = result.params
        mean = model.posterior_mean(q)
        self.startprob_posterior_ = q.startprob
        self.transmat_posterior_ = q.transmat
        self.startprob_prior_ = model.initial.prior
        self.transmat_prior_ = model.transition.prior
        self.startprob_ = mean.startprob
        self.transmat_ = mean.transmat
        self._set_emission_posterior(q.emission, mean.emission, model.emission, record)
        set_loop_attributes(self, result, record)

    def _n_parameters(self) -> int:
        return self._model().n_parameters(self.n_components, self.n_features_in_)


class VariationalGaussianHMM(_VariationalHMMBase):
    """Hidden Markov model with Gaussian emissions, fitted by variational Bayes.

    q(pi) and each q(A_j) are Dirichlet; each state's q(mu_k, Lambda_k) is the Normal-Wishart of
    ``BayesianGaussianMixture`` (10.59), or its tied / diag / spherical analogue (``mixfit.conjugate``),
    one prior shared by every state. The E-step is forward-backward under exp E[ln pi],
    exp E[ln A] and exp E[ln N(x | mu_k, Lambda_k)] (docs/math/hmm.md, "Variational Bayes").

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    startprob_prior : float > 0 or array (n_components,) >= 0, default=None (1 / n_components)
        Dirichlet concentration of p(pi). A 0 forbids that start (module note of models/hmm_vb.py).
    transmat_prior : float > 0 or array (n_components, n_components) >= 0, default=None (1 / n_components)
        Dirichlet concentration of each row p(A_j); a 0 forbids that transition.
    means_prior : array (n_features,), default=None (the weighted data mean)
        m_0 of p(mu_k | Lambda_k) = N(m_0, (beta_0 Lambda_k)^{-1}).
    beta_prior : float > 0, default=None (1)
        beta_0.
    dof_prior : float, default=None (n_features)
        nu_0; > n_features - 1 for full and tied, > 0 for diag and spherical.
    scale_prior : array, default=None (the empirical covariance of the frames)
        W_0^{-1}: (n_features, n_features) for full and tied, the variances psi_0 (n_features,)
        for diag, a number for spherical. Where the empirical covariance is not positive definite,
        ``reg_covar`` is added to its diagonal.
    reg_covar : float, default=1e-6
        Added to the diagonal of each S_k before the Wishart/Gamma update (as
        ``BayesianGaussianMixture``); 0 gives the exact coordinate-ascent step.
    algorithm : {'viterbi', 'map'}, default='viterbi'
    tol : float, default=1e-4
        Convergence threshold on the change of the ELBO per frame.
    max_iter, n_init : int, default=100, 1
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the emission's point start is found (as ``GaussianHMM``).
    startprob_init, transmat_init, means_init, precisions_init : array-like, optional
        Point parameters the first q(theta) is computed from (one Baum-Welch E-step, then the VB
        M-step). Zeros of ``startprob_init`` / ``transmat_init`` are forbidden for the whole fit.
    random_state, warm_start, verbose, verbose_interval, chunk_size : as ``GaussianHMM``

    Attributes
    ----------
    startprob_posterior_, transmat_posterior_ : Dirichlet concentrations of q(pi), q(A_j) (0: forbidden)
    means_ (also ``means_posterior_``), beta_posterior_, dof_posterior_ : m_k, beta_k, nu_k
    precisions_cholesky_ : the factor of E[Lambda_k] = nu_k W_k; ``precisions_``,
        ``covariances_`` (= ``covars_``, E[Lambda_k]^{-1}) and ``scale_posterior_`` (W_k^{-1}) derive from it
    startprob_, transmat_ : the posterior means E[pi], E[A]
    startprob_prior_, transmat_prior_, means_prior_, beta_prior_, dof_prior_, scale_prior_ : the priors used
    lower_bound_, lower_bounds_ : the full ELBO per (weighted) frame, before each M-step
    converged_, n_iter_, n_features_in_

    ``predict``, ``predict_proba``, ``decode``, ``score``, ``score_samples`` and ``sample`` use the
    posterior-mean parameters (E[pi], E[A], m_k, E[Lambda_k]^{-1}), as hmmlearn does; ``score`` is
    then ln p(X) of that point HMM, not the ELBO.

    Differences from hmmlearn's ``VariationalGaussianHMM`` (tested in tests/test_hmm_vb.py):

    - ``lower_bound_`` keeps the -D/2 ln 2 pi of every frame's Gaussian (hmmlearn drops it) and is
      per frame; with that constant added back, hmmlearn's bound agrees for full and tied, and
      for every type when D = 1.
    - diag and spherical: q(Lambda_k) is a product of Gammas (Gam(nu/2, psi_d/2) per dimension;
      Gam(D nu/2, D psi/2) for lambda_k I), so E[ln|Lambda_k|] and the KL are the Gamma ones.
      hmmlearn treats the diagonal as a D-dimensional Wishart (its digamma sum over i of
      psi((nu + 1 - i)/2), and a Wishart KL), which is not the expectation under its own updates
      when D > 1; its spherical update also keeps dof = dof_0 + N_k for a D-dimensional Wishart.
      The fits then differ for D > 1.
    - one prior shared by every state (hmmlearn takes per-state arrays); the default
      ``scale_prior`` is the data covariance (hmmlearn: 1e-3 I, which depends on the data's units);
      ``tol`` is per frame (hmmlearn: 1e-6 on the total); starting values are point parameters.
    """

    _HYPERPARAMETERS: ClassVar[dict] = {**LOOP_HYPERPARAMETERS, "reg_covar": REAL_AT_LEAST_0}

    def __init__(self, n_components=1, *, covariance_type="full", startprob_prior=None, transmat_prior=None,
                 means_prior=None, beta_prior=None, dof_prior=None, scale_prior=None, reg_covar=1e-6,
                 algorithm="viterbi", tol=1e-4, max_iter=100, n_init=1, init_params="kmeans",
                 startprob_init=None, transmat_init=None, means_init=None, precisions_init=None,
                 random_state=None, warm_start=False, verbose=0, verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.means_prior = means_prior
        self.beta_prior = beta_prior
        self.dof_prior = dof_prior
        self.scale_prior = scale_prior
        self.reg_covar = reg_covar
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size

    _check_frames = GaussianHMM._check_frames  # float64 frames; a memmap or array-like read in chunks

    def _prior(self, precision, frames, n_features) -> NormalPrecisionPrior:
        mean_precision = _check_positive(self.beta_prior, "beta_prior", 1.0, 0.0, "a finite number > 0")
        low = precision.min_dof(n_features)
        dof = _check_positive(self.dof_prior, "dof_prior", n_features, low, f"a finite number > {low:g}")
        mean = None if self.means_prior is None else np.asarray(self.means_prior, dtype=np.float64)
        if mean is not None and (mean.shape != (n_features,) or not np.all(np.isfinite(mean))):
            raise ValueError(f"means_prior has shape {mean.shape}; expected finite values of shape (n_features,) "
                             f"= ({n_features},)")
        scale = None
        if self.scale_prior is not None:
            try:
                scale = precision.check_scale(self.scale_prior, n_features)
            except ValueError as error:  # the shared check speaks of BayesianGaussianMixture's name
                raise ValueError(str(error).replace("covariance_prior", "scale_prior")) from None
        if mean is None or scale is None:
            data_mean, data_cov = data_moments(frames)
            if scale is None:  # the empirical covariance, ridged where singular (BayesianGaussianMixture's rule)
                try:
                    scale = precision.check_scale(precision.default_scale(data_cov), n_features)
                except ValueError:
                    ridged = data_cov + self.reg_covar * np.eye(n_features)
                    try:
                        scale = precision.check_scale(precision.default_scale(ridged), n_features)
                    except ValueError:
                        raise ValueError("scale_prior=None: the empirical covariance of X plus reg_covar is not "
                                         "positive definite; expected an explicit scale_prior or reg_covar > 0") from None
        return NormalPrecisionPrior(mean_precision, data_mean if mean is None else mean, dof, scale)

    def _emission_setup(self, X, frame_weight, record):
        covariance = make_covariance(self.covariance_type)
        check_option(self.init_params, "init_params", INIT_METHODS)
        K, n_features = self.n_components, X.shape[1]
        if X.shape[0] < K:
            raise ValueError(f"X has n_samples = {X.shape[0]} frames but n_components = {K}; expected "
                             "n_samples >= n_components")
        means_init = check_means_init(self.means_init, K, n_features)
        prec_chol_init = (None if self.precisions_init is None
                          else covariance.check_precisions(self.precisions_init, K, n_features))
        frames = as_source(X, frame_weight, self._chunk_frames())
        precision = make_precision_prior(covariance)
        prior = self._prior(precision, frames, n_features)
        emission = GaussianVBEmission(GaussianVB(covariance, None, precision, prior, self.reg_covar))
        mixture = GaussianEM(covariance, self.reg_covar)
        point_emission = GaussianEmission(mixture)

        def start(rng):
            if means_init is not None and prec_chol_init is not None:
                return point_emission.params(means_init, prec_chol_init)
            # As GaussianHMM: the emissions start as a mixture of the frames would (init.py).
            first = mixture.maximize(initial_stats(mixture, frames, K, self.init_params, rng, means_init), None)
            return point_emission.params(first.means if means_init is None else means_init,
                                         first.prec_chol if prec_chol_init is None else prec_chol_init)

        return emission, point_emission, start

    def _emission_posterior(self) -> NormalPrecisionPosterior:
        return NormalPrecisionPosterior(self.beta_posterior_, self.means_, np.asarray(self.dof_posterior_),
                                        self.precisions_cholesky_)

    def _set_emission_posterior(self, q, mean, emission, record) -> None:
        prior = emission.mixture.prior
        self._covariance = emission.covariance
        self.means_, self.precisions_cholesky_ = mean
        self.beta_posterior_ = q.mean_precision
        self.dof_posterior_ = q.dof if q.dof.ndim else q.dof[()]
        self.means_prior_ = prior.mean
        self.beta_prior_ = prior.mean_precision
        self.dof_prior_ = prior.dof
        self.scale_prior_ = prior.scale if np.ndim(prior.scale) else float(prior.scale)

    def _emission_model(self, fixed=frozenset()):
        return GaussianEmission(GaussianEM(make_covariance(self.covariance_type), self.reg_covar))

    def _emission_params(self):
        return GaussianEmission.params(self.means_, self.precisions_cholesky_)

    @property
    def means_posterior_(self):
        return self.means_

    @property
    def covariances_(self):
        """E[Lambda_k]^{-1} = W_k^{-1} / nu_k in the covariance type's shape."""
        return self._covariance.covariance(self.precisions_cholesky_)

    @property
    def covars_(self):
        return self.covariances_

    @property
    def precisions_(self):
        return self._covariance.precision(self.precisions_cholesky_)

    @property
    def scale_posterior_(self):
        """W_k^{-1} = nu_k E[Lambda_k]^{-1} (psi_k for diag and spherical), the type's shape."""
        dof = np.asarray(self.dof_posterior_)
        covariances = self.covariances_
        return covariances * dof.reshape(dof.shape + (1,) * (covariances.ndim - dof.ndim))
