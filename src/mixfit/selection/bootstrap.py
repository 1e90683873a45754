"""Bootstrap uncertainty of a fitted Gaussian mixture's parameters (mclust's ``MclustBootstrap``).

Each replicate refits the mixture to the data under new weights of the rows, starting from the
original fit's parameters (so the components keep their labels: no relabelling is needed while
the replicate's optimum stays near the original's), and records its weights, means and
covariances. The spread of the replicates estimates the sampling distribution of the estimates:

- 'nonparametric' (Efron 1979; mclust's ``type = "bs"``): rows drawn with replacement, n of n;
  a row drawn c_n times has weight c_n, (c_1, ..., c_n) ~ Multinomial(n; 1/n, ..., 1/n). A fit
  with integer sample weights is the fit of the repeated rows.
- 'weighted' (the weighted likelihood bootstrap, Newton and Raftery 1994; mclust's ``"wlbs"``):
  the log-likelihood sum_n w_n ln p(x_n) with w = n (g_1, ..., g_n), g ~ Dirichlet(1, ..., 1),
  drawn as w_n = n E_n / sum_m E_m with E_n ~ Exponential(1): weights sum to n, mean 1.
- 'parametric' (mclust's ``"pb"``): n rows sampled from the fitted mixture, refitted.

Standard errors are the replicates' standard deviation (ddof = 1), intervals their percentiles.
Derivations and a closed-form check: docs/merging.md.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ..engine import compiled_small_fits
from ..estimators import GaussianMixture
from ..estimators.validation import as_generator, validate_X
from ..estimators.validation_missing import check_observed_rows
from ..exceptions import ConvergenceWarning
from ..families.registry import family

KINDS = ("nonparametric", "weighted", "parametric")
PARAMETERS = ("weights", "means", "covariances")


def full_covariances(covariance_type: str, covariances, n_components: int, n_features: int) -> np.ndarray:
    """``covariances_`` of any family as (K, D, D) matrices (mclust reports every family's so)."""
    expand = family(covariance_type).per_component
    per_component = np.asarray(covariances if expand is None else expand(covariances, n_components, n_features))
    if per_component.ndim == 2:  # diagonals (K, D)
        return per_component[:, :, None] * np.eye(n_features)
    return per_component


def replicate_weights(kind: str, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """One replicate's weights of the n rows, (n,), for 'nonparametric' or 'weighted'.

    Parameters
    ----------
    kind : {'nonparametric', 'weighted'}
        Multinomial counts of n draws with replacement, or n times a flat Dirichlet draw.
    n_samples : int
        n, the number of rows.
    rng : numpy.random.Generator
        The stream to draw from (one draw per call, in the order ``bootstrap`` makes them).

    Returns
    -------
    ndarray of shape (n_samples,)
        Non-negative weights summing to n (exactly for counts, to rounding for 'weighted').
    """
    if kind == "nonparametric":
        return rng.multinomial(n_samples, np.full(n_samples, 1.0 / n_samples)).astype(np.float64)
    draws = rng.standard_exponential(n_samples)  # E_n ~ Exp(1); E / sum(E) ~ Dirichlet(1, ..., 1)
    return n_samples * draws / draws.sum()


@dataclass(frozen=True)
class BootstrapResult:
    """The replicates of a bootstrap of a Gaussian mixture's parameters.

    Built by ``mixfit.bootstrap``; frozen. A replicate whose refit failed (a collapsed
    component) holds NaN and is left out of the summaries.

    Parameters
    ----------
    kind : str
        'nonparametric', 'weighted' or 'parametric'.
    estimate : dict of str to ndarray
        The original fit's 'weights' (K,), 'means' (K, D) and 'covariances' (K, D, D).
    replicates : dict of str to ndarray
        The same for every replicate, with a leading axis of length ``n_boot``.
    failed : ndarray of bool of shape (n_boot,)
        The replicates whose refit failed.
    converged : ndarray of bool of shape (n_boot,)
        The replicates whose refit converged within the model's ``max_iter``.

    Attributes
    ----------
    n_boot : int
        The number of replicates.
    """

    kind: str
    estimate: dict
    replicates: dict
    failed: np.ndarray
    converged: np.ndarray

    @property
    def n_boot(self) -> int:
        return int(self.failed.size)

    def standard_errors(self) -> dict:
        """The bootstrap standard error of every parameter.

        Returns
        -------
        dict of str to ndarray
            'weights' (K,), 'means' (K, D), 'covariances' (K, D, D): the standard deviation
            (ddof = 1) of the successful replicates.
        """
        kept = ~self.failed
        if kept.sum() < 2:
            raise ValueError(f"{kept.sum()} of {self.n_boot} replicates succeeded; a standard error needs 2")
        return {name: np.std(values[kept], axis=0, ddof=1) for name, values in self.replicates.items()}

    def intervals(self, level=0.95) -> dict:
        """Percentile intervals of every parameter.

        Parameters
        ----------
        level : float, default=0.95
            The coverage, in (0, 1): the interval runs from the (1 - level)/2 to the
            (1 + level)/2 quantile of the successful replicates (linear interpolation, R's
            ``quantile`` type 7).

        Returns
        -------
        dict of str to tuple of ndarray
            For 'weights', 'means' and 'covariances': (lower, upper), each of the parameter's
            shape.
        """
        if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
            raise ValueError(f"level={level!r}; expected a coverage strictly between 0 and 1")
        kept = ~self.failed
        if not kept.any():
            raise ValueError(f"none of the {self.n_boot} replicates succeeded")
        tails = [(1 - level) / 2, (1 + level) / 2]
        return {name: tuple(np.quantile(values[kept], tails, axis=0)) for name, values in self.replicates.items()}


def _refit(template, X, sample_weight):
    """The replicate's (weights, means, covariances (K, D, D), converged), or None on failure.
    ``template`` (our own clone, warm_start=False) is refitted in place: each fit starts afresh
    from its ``*_init`` parameters, and a clone per replicate cost 15% of a replicate."""
    try:
        with warnings.catch_warnings(), compiled_small_fits():  # many small fits: compiled where small
            warnings.simplefilter("ignore", ConvergenceWarning)  # recorded in ``converged``
            fit = template.fit(X, sample_weight=sample_weight)
    except (ValueError, np.linalg.LinAlgError):  # CollapsedComponentError is a ValueError
        return None
    K, D = fit.means_.shape
    if K != template.n_components:  # on_collapse='drop' removed a component: labels are lost
        return None
    return fit.weights_.copy(), fit.means_.copy(), full_covariances(fit.covariance_type, fit.covariances_, K, D), fit.converged_


def bootstrap(model, X, *, n_boot=999, kind="nonparametric", random_state=None):
    """Bootstrap standard errors and intervals of a fitted GaussianMixture's parameters.

    mclust's ``MclustBootstrap``: each of ``n_boot`` replicates refits the mixture (the same
    hyper-parameters and covariance family) under resampled or reweighted rows, starting from
    the fitted weights, means and precisions, so each replicate's components keep the labels of
    the original fit (docs/merging.md).

    Parameters
    ----------
    model : GaussianMixture
        A fitted GaussianMixture, of any covariance family; it is not modified.
    X : array-like of shape (n_samples, n_features)
        The data the model was fitted to.
    n_boot : int, default=999
        The number of replicates.
    kind : {'nonparametric', 'weighted', 'parametric'}, default='nonparametric'
        Rows resampled with replacement; rows reweighted by n times a flat Dirichlet draw (the
        weighted likelihood bootstrap); or new rows sampled from the fitted mixture.
    random_state : int, Generator, RandomState or None, default=None
        The stream of the replicates' weights (or samples): the same value gives the same
        result.

    Returns
    -------
    BootstrapResult
        The replicates, ``standard_errors()`` and ``intervals(level)``.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import GaussianMixture, bootstrap
    >>> X = np.random.default_rng(0).normal(size=(400, 1))
    >>> boot = bootstrap(GaussianMixture(1).fit(X), X, n_boot=200, random_state=0)
    >>> bool(abs(boot.standard_errors()["means"][0, 0] - X.std() / 20) < 0.01)
    True
    """
    if not isinstance(model, GaussianMixture):
        raise TypeError(f"model is a {type(model).__name__}; expected a fitted mixfit.GaussianMixture")
    check_is_fitted(model)
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 1:
        raise ValueError(f"n_boot={n_boot!r}; expected a positive integer")
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not one of {list(KINDS)}")
    rng = as_generator(random_state)
    K, D = model.means_.shape
    shape = np.shape(X)
    if len(shape) != 2 or shape[1] != D:
        raise ValueError(f"X has shape {shape}; expected (n_samples, {D}) as the model was fitted")
    # what the model's own fit would refuse (strings, inf, rows with no observed value) is refused here
    X = validate_X(clone(model), X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan",
                   ensure_min_samples=2)
    check_observed_rows(X)
    n = X.shape[0]
    # n_components=K: a fit whose on_collapse='drop' removed components is bootstrapped as fitted.
    template = clone(model).set_params(n_components=K, weights_init=model.weights_, means_init=model.means_,
                                       precisions_init=model.precisions_, n_init=1, warm_start=False)
    estimate = {"weights": np.asarray(model.weights_, np.float64), "means": np.asarray(model.means_, np.float64),
                "covariances": full_covariances(model.covariance_type, model.covariances_, K, D)}
    replicates = {name: np.full((n_boot, *value.shape), np.nan) for name, value in estimate.items()}
    failed = np.zeros(n_boot, dtype=bool)
    converged = np.zeros(n_boot, dtype=bool)
    for b in range(n_boot):
        if kind == "parametric":
            rows, weights = model.sample(n, random_state=rng)[0], None
        else:
            rows, weights = X, replicate_weights(kind, n, rng)
        result = _refit(template, rows, weights)
        if result is None:
            failed[b] = True
            continue
        for name, value in zip(PARAMETERS, result[:3]):
            replicates[name][b] = value
        converged[b] = result[3]
    return BootstrapResult(kind, estimate, replicates, failed, converged)
