"""VariationalGaussianHMM: variational Bayes for hidden Markov models (MacKay 1997; Beal 2003,
ch. 3) behind the API of the EM HMMs (VariationalCategoricalHMM is in hmm_vb_categorical.py; what
the variational HMMs share, in hmm_parts.py).

Names follow hmmlearn 0.3.3's ``hmmlearn.vhmm`` where it has them (``startprob_prior``,
``transmat_prior``, ``means_prior``, ``beta_prior``, ``dof_prior``, ``scale_prior``,
``emissionprob_prior``; ``*_posterior_``; ``covars_``) and mixfit's HMMs elsewhere (``max_iter``,
``n_init``, ``init_params`` as a method, the ``*_init`` arrays, ``chunk_size``,
``sample_weight`` per sequence). The model is models/hmm_vb.py; this module validates, starts and
writes attributes.
"""

from __future__ import annotations

import numbers
from typing import ClassVar

import numpy as np

from ..engine.starts import INIT_METHODS, data_moments, initial_stats
from ..families.precision_priors import NormalPrecisionPrior, default_scale
from ..families.registry import make_covariance, make_precision_prior
from ..models.gaussian_em import GaussianEM
from ..models.gaussian_vb import GaussianVB, NormalPrecisionPosterior
from ..models.hmm_emissions import GaussianEmission
from ..models.hmm_vb import GaussianVBEmission, VariationalHMM
from ._hmm_base import _HMMBase
from .hmm_checks import check_enough_frames
from .hmm_compat import CHAIN_LETTERS
from .hmm_missing import check_frames_with_missing, start_frames
from .hmm_parts import variational_chain, variational_parts
from .validation import LOOP_HYPERPARAMETERS, REAL_AT_LEAST_0, check_means_init


def _check_positive(value, name: str, default: float, low: float, expected: str) -> float:
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= low:
        raise ValueError(f"{name}={value!r}; expected None or {expected}")
    return float(value)


class VariationalGaussianHMM(_HMMBase):
    """Hidden Markov model with Gaussian emissions, fitted by variational Bayes.

    q(pi) and each q(A_j) are Dirichlet; each state's q(mu_k, Lambda_k) is the Normal-Wishart of
    ``BayesianGaussianMixture`` (10.59), or its tied / diag / spherical analogue (``mixfit.conjugate``),
    one prior shared by every state. The E-step is forward-backward under exp E[ln pi],
    exp E[ln A] and exp E[ln N(x | mu_k, Lambda_k)] (docs/math/hmm.md, "Variational Bayes").

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states K.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The form of each state's emission precision.
    startprob_prior : float > 0 or array-like of shape (n_components,), default=None
        Dirichlet concentration of p(pi); None: 1 / n_components. A 0 forbids that start (module
        note of models/hmm_vb.py).
    transmat_prior : float > 0 or array-like of shape (n_components, n_components), default=None
        Dirichlet concentration of each row p(A_j); None: 1 / n_components. A 0 forbids that
        transition.
    means_prior : array-like of shape (n_features,), default=None
        The mean m_0 of p(mu_k | Lambda_k) = N(m_0, (beta_0 Lambda_k)^{-1}); None: the weighted data mean.
    beta_prior : float > 0, default=None
        The mean precision beta_0; None: 1.
    dof_prior : float, default=None
        The degrees of freedom nu_0: > n_features - 1 for full and tied, > 0 for diag and spherical; None: n_features.
    scale_prior : array-like or float, default=None
        W_0^{-1}: (n_features, n_features) for full and tied, the variances psi_0 (n_features,)
        for diag, a number for spherical; None: the empirical covariance of the frames (with
        ``reg_covar`` added to its diagonal where it is not positive definite).
    reg_covar : float, default=1e-6
        Added to the diagonal of each S_k before the Wishart/Gamma update (as
        ``BayesianGaussianMixture``); 0 gives the exact coordinate-ascent step.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        How ``predict`` and ``decode`` pick states.
    tol : float, default=1e-6
        Convergence threshold on the change of the total ELBO over all frames (``lower_bound_``
        times the summed frame weight), as hmmlearn's ``tol`` and default.
    max_iter : int, default=100
        The most coordinate-ascent iterations of one start.
    n_init : int, default=1
        Independent starts; the best final ELBO is kept.
    init_params : str, default='stmc'
        The parameters whose point start is found from the data (the emission's by k-means, as
        ``GaussianHMM``); the others start from the assigned attributes or their ``*_init``
        arguments. Or one of {'kmeans', 'k-means++', 'random', 'random_from_data'}: all, by that
        method.
    n_iter : int, default=None
        hmmlearn's name for the most iterations; None: ``max_iter``.
    params : str, default='stmc'
        hmmlearn's letters of the parameters updated; variational Bayes updates all of them, so
        it must hold every letter of 'stmc'.
    implementation : {'log', 'scaling'}, default='log'
        hmmlearn's choice of recursions; both give the same results here.
    startprob_init : array-like of shape (n_components,), default=None
        Point start probabilities the first q(theta) is computed from (one Baum-Welch E-step,
        then the VB M-step); its zeros are forbidden for the whole fit.
    transmat_init : array-like of shape (n_components, n_components), default=None
        Point transition matrix of the start; its zeros are forbidden for the whole fit.
    means_init : array-like of shape (n_components, n_features), default=None
        Point emission means of the start.
    precisions_init : array-like, default=None
        Point emission precisions of the start, in scikit-learn's shape for the type.
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
        Dirichlet concentrations of q(pi) (0: a forbidden start).
    transmat_posterior_ : ndarray of shape (n_components, n_components)
        Dirichlet concentrations of each q(A_j) (0: a forbidden transition).
    startprob_ : ndarray of shape (n_components,)
        The posterior mean E[pi].
    transmat_ : ndarray of shape (n_components, n_components)
        The posterior mean E[A].
    means_ : ndarray of shape (n_components, n_features)
        m_k, the posterior means of the emission means.
    means_posterior_ : ndarray of shape (n_components, n_features)
        The same as ``means_`` (hmmlearn's name).
    beta_posterior_ : ndarray of shape (n_components,)
        beta_k.
    dof_posterior_ : ndarray of shape (n_components,) or float
        nu_k (one value for tied).
    precisions_cholesky_ : ndarray
        The Cholesky factor of E[Lambda_k] = nu_k W_k, in the covariance type's shape.
    precisions_ : ndarray
        E[Lambda_k], derived from ``precisions_cholesky_``.
    covariances_ : ndarray
        E[Lambda_k]^{-1}, derived from ``precisions_cholesky_``.
    covars_ : ndarray
        The same as ``covariances_`` (hmmlearn's name).
    scale_posterior_ : ndarray
        W_k^{-1} (psi_k for diag and spherical), derived from ``precisions_cholesky_``.
    startprob_prior_ : ndarray of shape (n_components,)
        The concentrations of p(pi) used.
    transmat_prior_ : ndarray of shape (n_components, n_components)
        The concentrations of p(A) used.
    means_prior_ : ndarray of shape (n_features,)
        m_0 used.
    beta_prior_ : float
        beta_0 used.
    dof_prior_ : float
        nu_0 used.
    scale_prior_ : ndarray or float
        W_0^{-1} used.
    converged_ : bool
        Whether the best start converged.
    n_iter_ : int
        Iterations of the best start.
    lower_bound_ : float
        The full ELBO per (weighted) frame of the best start, before its last M-step.
    lower_bounds_ : list of float
        ``lower_bound_`` at each iteration of the best start.
    n_features_in_ : int
        Number of features seen during ``fit``.
    monitor_ : ConvergenceMonitor
        hmmlearn's record of the best start (``history``, ``iter``, ``converged``).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during ``fit``, where X has string column names.

    See Also
    --------
    GaussianHMM : The same model fitted by Baum-Welch (EM).
    BayesianGaussianMixture : The model without the Markov chain.

    Notes
    -----
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
      starting values are point parameters.
    """

    _HYPERPARAMETERS: ClassVar[dict] = {**LOOP_HYPERPARAMETERS, "reg_covar": REAL_AT_LEAST_0}
    _LETTERS: ClassVar[dict] = {**CHAIN_LETTERS, "m": ("means", "means_", "means_init"),
                                "c": ("covariances", "precisions_", "precisions_init")}
    _INIT_METHOD = "kmeans"
    _INIT_METHODS = INIT_METHODS

    def __init__(self, n_components=1, covariance_type="full", startprob_prior=None, transmat_prior=None,
                 means_prior=None, beta_prior=None, dof_prior=None, scale_prior=None, algorithm="viterbi",
                 random_state=None, n_iter=None, tol=1e-6, verbose=0, params="stmc", init_params="stmc",
                 implementation="log", *, reg_covar=1e-6, max_iter=100, n_init=1, startprob_init=None,
                 transmat_init=None, means_init=None, precisions_init=None, warm_start=False,
                 verbose_interval=10, chunk_size=None):
        self.n_components = n_components
        self.n_iter = n_iter
        self.params = params
        self.implementation = implementation
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

    def _check_frames(self, X, reset):
        return check_frames_with_missing(self, X, reset, self._chunk_frames())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # scikit-learn's tag protocol: its base builds the tags
        tags.input_tags.allow_nan = True  # NaN entries are missing frames' values (models/missing_vb.py)
        return tags

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
                scale = default_scale(precision, data_cov, n_features, self.reg_covar, name="scale_prior")
        return NormalPrecisionPrior(mean_precision, data_mean if mean is None else mean, dof, scale)

    def _parts(self, data, chain, fixed):
        initial, transition = variational_chain(self, chain)
        covariance = make_covariance(self.covariance_type)
        K, n_features = self.n_components, data.X.shape[1]
        check_enough_frames(data.X, K)
        means_init = check_means_init(data.start(self, "means_init"), K, n_features)
        precisions_init = data.start(self, "precisions_init")
        prec_chol_init = (None if precisions_init is None
                          else covariance.check_precisions(precisions_init, K, n_features))
        frames = start_frames(data)  # missing entries read as column means by the starts only
        precision = make_precision_prior(covariance)
        prior = self._prior(precision, frames, n_features)
        emission = GaussianVBEmission(GaussianVB(covariance, None, precision, prior, self.reg_covar))
        mixture = GaussianEM(covariance, self.reg_covar)
        point_emission = GaussianEmission(mixture)

        def start(rng):
            if means_init is not None and prec_chol_init is not None:
                return point_emission.params(means_init, prec_chol_init)
            # As GaussianHMM: the emissions start as a mixture of the frames would (init.py).
            first = mixture.maximize(initial_stats(mixture, frames, K, data.init_method, rng, means_init), None)
            return point_emission.params(first.means if means_init is None else means_init,
                                         first.prec_chol if prec_chol_init is None else prec_chol_init)

        return variational_parts(self, data, chain, VariationalHMM(initial, transition, emission), point_emission,
                                 start, self._set_emission_posterior)

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
        """m_k, the same as ``means_`` (hmmlearn's name)."""
        return self.means_

    @property
    def covariances_(self):
        """E[Lambda_k]^{-1} = W_k^{-1} / nu_k in the covariance type's shape."""
        return self._covariance.covariance(self.precisions_cholesky_)

    @property
    def covars_(self):
        """The same as ``covariances_`` (hmmlearn's name)."""
        return self.covariances_

    @property
    def precisions_(self):
        """E[Lambda_k] = nu_k W_k in the covariance type's shape."""
        return self._covariance.precision(self.precisions_cholesky_)

    @property
    def scale_posterior_(self):
        """W_k^{-1} = nu_k E[Lambda_k]^{-1} (psi_k for diag and spherical), the type's shape."""
        dof = np.asarray(self.dof_posterior_)
        covariances = self.covariances_
        return covariances * dof.reshape(dof.shape + (1,) * (covariances.ndim - dof.ndim))
