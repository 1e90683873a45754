"""GaussianMixtureImputer: missing entries filled from a Gaussian mixture fitted with them missing."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..models import conditional as maths
from ._fitted import set_feature_attributes
from .gaussian_mixture import GaussianMixture
from .persistence import save_estimator
from .validation import as_generator, validate_X

_DTYPES = [np.float64, np.float32]


class GaussianMixtureImputer(TransformerMixin, BaseEstimator):
    """Impute missing values (NaN) from a Gaussian mixture fitted on the incomplete rows.

    ``fit`` runs ``GaussianMixture.fit`` on X with its NaN entries missing at random (the E-step
    over each row's observed coordinates, docs/math/conditional.md). ``transform`` fills each
    missing entry with its conditional mean under the mixture given the row's observed entries,
    E[x_m | x_o] = sum_k r_k(x_o) m_k(x_o), or, with ``sample_posterior=True``, with one draw
    from that conditional mixture (for multiple imputation: repeat with different seeds). A row
    with no observed entry gets the mixture's mean (or a draw from the mixture). Usable in a
    scikit-learn ``Pipeline`` as ``IterativeImputer`` is.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components (1: a single Gaussian, i.e. linear-regression imputation
        with the regression fitted by EM on the incomplete data).
    covariance_type : str, default='full'
        The covariance type of the mixture (any name ``GaussianMixture`` accepts). Only
        families with correlations ('full', 'tied', the mclust families with orientations)
        use the observed entries of a row beyond its responsibilities.
    sample_posterior : bool, default=False
        Draw each row's missing entries from their conditional mixture instead of taking its
        mean.
    tol : float, default=1e-3
        The EM convergence threshold, as in ``GaussianMixture``.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance, as in ``GaussianMixture``.
    max_iter : int, default=100
        The number of EM iterations, as in ``GaussianMixture``.
    n_init : int, default=1
        The number of initializations, as in ``GaussianMixture``.
    init_params : str, default='kmeans'
        The start of the fit, as in ``GaussianMixture`` (the starts read each missing entry as
        its column's mean).
    random_state : int, Generator, RandomState instance or None, default=None
        Seeds the fit and the draws of ``sample_posterior``: an integer gives the same draws at
        every ``transform`` call.
    on_collapse : {'raise', 'reseed', 'drop'}, default='raise'
        What to do when a component collapses, as in ``GaussianMixture``.
    prior : None, 'default' or ConjugatePrior, default=None
        None: maximum likelihood; otherwise the MAP fit of ``GaussianMixture``.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The fitted mixture.
    n_iter_ : int
        The EM iterations of the fit (``mixture_.n_iter_``).
    converged_ : bool
        Whether the fit converged (``mixture_.converged_``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when X has feature names that are all
        strings.

    See Also
    --------
    GaussianMixture.condition : The conditional mixture given some coordinates of one row.
    GaussianMixtureRegressor : Gaussian mixture regression of given targets on given inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import GaussianMixtureImputer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=500)
    >>> X[::5, 1] = np.nan
    >>> filled = GaussianMixtureImputer(random_state=0).fit_transform(X)
    >>> bool(np.isnan(filled).any())
    False
    """

    def __init__(self, n_components=1, *, covariance_type="full", sample_posterior=False, tol=1e-3,
                 reg_covar=1e-6, max_iter=100, n_init=1, init_params="kmeans", random_state=None,
                 on_collapse="raise", prior=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.sample_posterior = sample_posterior
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.on_collapse = on_collapse
        self.prior = prior

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture on X, its NaN entries missing at random.

        A fit that fails (an error) leaves the imputer unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data; NaN marks a missing entry, infinity is refused, every row and every column
            must observe at least one entry.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows, as in ``GaussianMixture.fit``.

        Returns
        -------
        self : object
            The fitted imputer.
        """
        if not isinstance(self.sample_posterior, (bool, np.bool_)):
            raise TypeError(f"sample_posterior={self.sample_posterior!r}; expected True or False")
        record = clone(self)  # X's bookkeeping is written to self only once the fit has succeeded
        X = validate_X(record, X, dtype=_DTYPES, ensure_all_finite="allow-nan", ensure_min_samples=2)
        empty = np.flatnonzero(np.isnan(X).all(axis=0))
        if empty.size:
            raise ValueError(f"X has no observed value in column(s) {empty.tolist()}; every column needs at "
                             "least one to be modelled")
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "sample_posterior"}
        mixture = GaussianMixture(**params).fit(X, sample_weight=sample_weight)
        self.mixture_ = mixture
        self.n_iter_ = mixture.n_iter_
        self.converged_ = mixture.converged_
        set_feature_attributes(self, record)
        return self

    @classmethod
    def from_mixture(cls, mixture, *, sample_posterior=False, random_state=None):
        """An imputer from an already fitted ``GaussianMixture`` (no new fit).

        Parameters
        ----------
        mixture : GaussianMixture
            A fitted Gaussian mixture (of any covariance type).
        sample_posterior : bool, default=False
            As in the constructor.
        random_state : int, Generator, RandomState instance or None, default=None
            Seeds the draws of ``sample_posterior``.

        Returns
        -------
        imputer : GaussianMixtureImputer
            Fitted, its ``mixture_`` the given mixture and its hyper-parameters the mixture's.
        """
        if not isinstance(mixture, GaussianMixture):
            raise TypeError(f"mixture is a {type(mixture).__name__}; expected a fitted GaussianMixture")
        check_is_fitted(mixture, "precisions_cholesky_")
        shared = set(cls().get_params(deep=False))
        params = {k: v for k, v in mixture.get_params(deep=False).items() if k in shared}
        imputer = cls(**params, sample_posterior=sample_posterior)
        imputer.random_state = random_state
        imputer.mixture_ = mixture
        imputer.n_iter_ = mixture.n_iter_
        imputer.converged_ = mixture.converged_
        imputer.n_features_in_ = mixture.n_features_in_
        if hasattr(mixture, "feature_names_in_"):
            imputer.feature_names_in_ = mixture.feature_names_in_
        return imputer

    def transform(self, X):
        """Fill the NaN entries of X from the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data; NaN marks a missing entry (a row may miss every entry).

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
            X with every NaN replaced (observed entries unchanged), in X's dtype.
        """
        check_is_fitted(self, "mixture_")
        X = validate_X(self, X, dtype=_DTYPES, ensure_all_finite="allow-nan", reset=False)
        rng = as_generator(self.random_state) if self.sample_posterior else None
        mixture = self.mixture_
        return maths.impute(mixture._covariance, mixture._params(), X, rng).astype(X.dtype, copy=False)

    def save(self, path, *, metadata=None) -> None:
        """Write this fitted imputer to ``path`` as a model file; read it back with ``mixfit.load``.

        Parameters
        ----------
        path : str or path-like
            Where to write the file (conventionally ``*.mixfit``).
        metadata : dict, default=None
            Free JSON stored beside the model.
        """
        save_estimator(self, path, metadata)
