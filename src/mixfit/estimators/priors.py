"""The conjugate prior of MAP EM: Fraley and Raftery's (2007) Bayesian regularisation.

Maximum likelihood has no maximum where a component collapses onto a point (PRML 9.2.1). A
conjugate prior on each component's mean and covariance removes the singularity: the M-step
becomes the posterior mode, which is positive definite for every data set. The prior is mclust's:

    mu_k | Sigma_k ~ N(mu_P, Sigma_k / kappa_P),    Sigma_k ~ IW(nu_P, Lambda_P)

(its diagonal analogue per dimension for diag, a scaled-identity one for spherical, one shared
Sigma for tied) with defaults kappa_P = 0.01 (the mean shrinks 1 % of a row's worth towards the
data mean), nu_P = D + 2, mu_P = the data mean and Lambda_P = cov(data) / K^(2/D) (its diagonal
for diag, the mean variance for spherical). Stored in the Normal-precision parametrisation of
``mixfit.conjugate`` (the one VB uses), so MAP and VB share the posterior update (10.60)-(10.63):
the MAP estimate is that posterior's mode instead of its mean.

Differences from mclust, on purpose: the diag default scale is the per-feature variance over
K^(2/D) (mclust uses one mean variance for all features), so features on different scales each
get a prior on their own scale; ``reg_covar`` is still added to S_k (set it to 0 for the exact
mode).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ..families.precision_priors import NormalPrecisionPrior

# Fraley and Raftery (2007), Section 3: the default mean shrinkage of mclust's priorControl().
DEFAULT_MEAN_SHRINKAGE = 0.01
# The default scale is cov(data) / K^(2/D), singular when a feature is constant or n <= D. A
# ridge of this fraction of the mean variance (at least reg_covar) keeps it positive definite
# while moving no well-posed direction by more than 1e-10 relative; and a floor for data whose
# every row is the same point, where there is no scale to be relative to. For float32 data the
# moments N_k S_k carry rounding of ~eps32 relative, which can make them indefinite by more than
# 1e-10 of the variance, so the ridge is at least _SCALE_RIDGE_ULPS ulps of the data's dtype; and
# the floor is the dtype's sqrt(tiny), so that the precision factor 1/sigma stays finite when the
# fitted params are cast back to float32.
_SCALE_RIDGE = 1e-10
_SCALE_RIDGE_ULPS = 10


def _scale_ridge(dtype) -> tuple[float, float]:
    """(fraction of the mean variance, absolute floor) of the default scale's ridge for ``dtype``."""
    info = np.finfo(dtype)
    return max(_SCALE_RIDGE, _SCALE_RIDGE_ULPS * float(info.eps)), float(np.sqrt(info.tiny))


@dataclass(frozen=True, eq=False)
class ConjugatePrior:
    """Hyper-parameters of the MAP prior of ``GaussianMixture(prior=...)``.

    mu_k | Sigma_k ~ N(mu_P, Sigma_k / kappa_P), Sigma_k ~ IW(nu_P, Lambda_P) (Fraley and Raftery
    2007; the diagonal, spherical and tied analogues for the other covariance types, and
    mclust's prior of EII, EEI, VEI, EVI, EEV and VEV for those constrained families; VEE, EVE,
    VVE and EVV have none). A value object (frozen); each None takes mclust's data-based
    default when the mixture is fitted, and ``GaussianMixture(prior='default')`` is
    ``prior=ConjugatePrior()``.

    Parameters
    ----------
    mean_shrinkage : float, default=0.01
        kappa_P, a finite number > 0: how many rows' worth of weight the prior mean carries.
    degrees_of_freedom : float or None, default=None
        nu_P; must exceed n_features - 1 (full, tied, EEV, VEV) or 0 (the others). None:
        n_features + 2.
    scale : array-like or float or None, default=None
        Lambda_P in the shape of the covariance type: (n_features, n_features) for full, tied,
        EEV and VEV, (n_features,) for diag, a float for spherical, EII, EEI, VEI and EVI (as
        mclust). None: cov(X) / K^(2/D) in that shape (its diagonal for diag, the mean variance
        for the floats), with a tiny ridge that keeps it positive definite. mclust's EII prior
        has no scale term, and its VEV none of ``degrees_of_freedom``: those are then unused
        (docs/math/mclust_families.md).
    mean : array-like of shape (n_features,) or None, default=None
        mu_P. None: the data mean (weighted by ``sample_weight``).
    """

    mean_shrinkage: float = DEFAULT_MEAN_SHRINKAGE
    degrees_of_freedom: float | None = None
    scale: object = None
    mean: object = None


def check_prior_spec(prior) -> ConjugatePrior | None:
    """None (maximum likelihood), 'default' or a ConjugatePrior; anything else is an error."""
    if prior is None:
        return None
    if isinstance(prior, str) and prior == "default":
        return ConjugatePrior()
    if not isinstance(prior, ConjugatePrior):
        # ValueError, as for every other bad hyper-parameter value (scikit-learn's convention)
        raise ValueError(f"prior={prior!r}; expected None, 'default' or a mixfit.ConjugatePrior")  # noqa: TRY004
    shrink = prior.mean_shrinkage
    if isinstance(shrink, bool) or not isinstance(shrink, numbers.Real) or not np.isfinite(shrink) or shrink <= 0:
        raise ValueError(f"prior.mean_shrinkage={shrink!r}; expected a finite number > 0")
    return prior


def resolve_prior(spec: ConjugatePrior, precision, data_mean, data_cov, n_components: int,
                  n_features: int, reg_covar: float, dtype=np.float64) -> NormalPrecisionPrior:
    """The prior in ``mixfit.conjugate``'s parametrisation, defaults filled from the data
    (``dtype``: the data's, which sets the default scale's ridge)."""
    dim = n_features
    dof = float(dim + 2) if spec.degrees_of_freedom is None else spec.degrees_of_freedom
    low = precision.min_dof(dim)
    if isinstance(dof, bool) or not isinstance(dof, numbers.Real) or not np.isfinite(dof) or dof <= low:
        raise ValueError(f"prior.degrees_of_freedom={dof!r}; expected a finite number > {low}")
    if spec.scale is None:
        fraction, floor = _scale_ridge(dtype)
        ridge = max(reg_covar, fraction * np.trace(data_cov) / dim, floor)
        scale = precision.default_scale(data_cov + ridge * np.eye(dim)) / n_components ** (2 / dim)
    else:
        try:
            scale = precision.check_scale(spec.scale, dim)
        except ValueError as error:
            raise ValueError(f"prior.scale: {error}".replace("covariance_prior", "the scale")) from None
    if spec.mean is None:
        mean = np.asarray(data_mean, dtype=np.float64)
    else:
        mean = np.asarray(spec.mean, dtype=np.float64)
        if mean.shape != (dim,) or not np.all(np.isfinite(mean)):
            raise ValueError(f"prior.mean has shape {mean.shape}; expected finite values of shape "
                             f"(n_features,) = ({dim},)")
    dof, scale = precision.from_total(float(dof), np.asarray(scale, dtype=np.float64), dim)
    return NormalPrecisionPrior(mean_precision=float(spec.mean_shrinkage), mean=mean, dof=dof, scale=scale)
