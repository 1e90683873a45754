"""mclust's ten covariance families beyond scikit-learn's four, as strategies.

Each one reuses the E-step kernel, the moments and the stored parametrisation of the
scikit-learn family with its storage (``FullCovariance`` for the six with orientations,
``DiagCovariance`` for EEI, VEI, EVI, ``SphericalCovariance`` for EII) and replaces the M-step,
the parameter count (mclust's ``nVarParams``) and the ridge.

Shapes of ``covariances_`` (and of ``precisions_`` and ``precisions_cholesky_``): (K, D, D) for
EEV, VEV, EVV, VEE, EVE, VVE; (K, D) for EEI, VEI, EVI; (K,) for EII (every entry equal).

The ridge comes before the constraint: the M-step is the family's constrained solution
(``mclust_msteps``) for the per-component covariances S_k + reg_covar I. Added after it,
Sigma_k + reg_covar I would break the constraint of every family whose volume and shape are
not both Equal or both Variable (VEI's common shape, EVV's common volume, ...), and a ridge on
the volume alone cannot rescue a singular S_k (its volume is 0). For scikit-learn's four
families the two orders give the same covariances. The split of the seam's M-step is kept:
``from_moments`` returns the unconstrained S_k with the masses (``ScatterCovariances``) and
``add_ridge``, which ``GaussianEM.maximize`` calls next with ``reg_covar``, finishes the M-step.
``reg_covar=0`` gives mclust's estimates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import mclust_msteps as msteps
from .diag import DiagCovariance
from .full import FullCovariance
from .spherical import SphericalCovariance


def _record(strategy, result: msteps.InnerResult):
    """Keep an iterative M-step's inner-loop record on the strategy (one per fit) and warn
    when the cap was hit: the covariances are then the last iterate, not the minimiser."""
    strategy.inner_iterations.append(result.iterations)
    if result.cap_hit:
        warnings.warn(f"covariance_type={strategy.name!r}: the M-step's inner loop stopped at its cap of "
                      f"{msteps.INNER_MAX_ITER} iterations before converging", ConvergenceWarning,
                      stacklevel=4)
    return result.covariances


@dataclass(frozen=True, eq=False)
class ScatterCovariances:
    """The first half of a constrained family's M-step, as ``from_moments`` returns it: the
    unconstrained covariances S_k (PRML 9.25; (K, D, D), their diagonals (K, D), or
    tr(S_k) / D (K,)) and the masses N_k, which ``add_ridge`` regularises and constrains."""

    covariances: np.ndarray
    mass: np.ndarray


class _Full:
    """The members shared by the families stored as FullCovariance is (abstract: the final
    classes below add ``name``, ``n_parameters`` and ``constrain``)."""

    # A marginal or conditional of a constrained family need not keep the constraint (the
    # volumes of a block differ): it is a mixture of the unconstrained family of the same form.
    factor_form = "full"
    chunk_bytes = FullCovariance.chunk_bytes
    shift_scatter = staticmethod(FullCovariance.shift_scatter)  # a plain function, not a method
    workspace_columns = FullCovariance.workspace_columns
    shape = FullCovariance.shape
    e_step = FullCovariance.e_step
    log_kernel = FullCovariance.log_kernel
    mahalanobis = FullCovariance.mahalanobis
    log_det_half = FullCovariance.log_det_half
    moments = FullCovariance.moments
    fold_scatter = FullCovariance.fold_scatter
    select = FullCovariance.select
    insert_copy = FullCovariance.insert_copy
    precision_chol = FullCovariance.precision_chol
    covariance = FullCovariance.covariance
    precision = FullCovariance.precision
    draw = FullCovariance.draw
    check_precisions = FullCovariance.check_precisions
    marginal = FullCovariance.marginal
    dense_covariance = FullCovariance.dense_covariance
    conditional = FullCovariance.conditional

    def __init__(self):
        self.inner_iterations = []  # per M-step, for the iterative families

    def from_moments(self, stats, mass):
        return ScatterCovariances(FullCovariance.from_moments(self, stats, mass), mass)

    def add_ridge(self, scatter: ScatterCovariances, reg_covar):
        """The M-step's constrained solution for S_k + reg_covar I (see the module's note)."""
        ridge = reg_covar * np.eye(scatter.covariances.shape[-1])
        return self.constrain(scatter.covariances + ridge, scatter.mass)


class _Diagonal:
    """The members shared by the families stored as DiagCovariance is (abstract)."""

    factor_form = "diag"
    chunk_bytes = DiagCovariance.chunk_bytes
    shift_scatter = staticmethod(DiagCovariance.shift_scatter)
    workspace_columns = DiagCovariance.workspace_columns
    shape = DiagCovariance.shape
    e_step = DiagCovariance.e_step
    log_kernel = DiagCovariance.log_kernel
    mahalanobis = DiagCovariance.mahalanobis
    log_det_half = DiagCovariance.log_det_half
    moments = DiagCovariance.moments
    fold_scatter = DiagCovariance.fold_scatter
    select = DiagCovariance.select
    insert_copy = DiagCovariance.insert_copy
    precision_chol = DiagCovariance.precision_chol
    covariance = DiagCovariance.covariance
    precision = DiagCovariance.precision
    draw = DiagCovariance.draw
    check_precisions = DiagCovariance.check_precisions
    marginal = DiagCovariance.marginal
    dense_covariance = DiagCovariance.dense_covariance
    conditional = DiagCovariance.conditional

    def __init__(self):
        self.inner_iterations = []

    def from_moments(self, stats, mass):
        return ScatterCovariances(DiagCovariance.from_moments(self, stats, mass), mass)

    def add_ridge(self, scatter: ScatterCovariances, reg_covar):
        """The M-step's constrained solution for diag(S_k) + reg_covar."""
        return self.constrain(scatter.covariances + reg_covar, scatter.mass)


def _general_count(volumes, shapes, orientations):
    return lambda K, D: volumes(K) + shapes(K) * (D - 1) + orientations(K) * D * (D - 1) // 2


def _one(K):
    return 1


def _per_component(K):
    return K


class EIICovariance:
    """EII: one variance shared by every component, lambda I; covariances_ (K,), all equal."""

    name = "EII"
    chunk_bytes = SphericalCovariance.chunk_bytes
    shift_scatter = staticmethod(SphericalCovariance.shift_scatter)
    workspace_columns = SphericalCovariance.workspace_columns
    shape = SphericalCovariance.shape
    e_step = SphericalCovariance.e_step
    log_kernel = SphericalCovariance.log_kernel
    mahalanobis = SphericalCovariance.mahalanobis
    log_det_half = SphericalCovariance.log_det_half
    moments = SphericalCovariance.moments
    fold_scatter = SphericalCovariance.fold_scatter
    select = SphericalCovariance.select
    insert_copy = SphericalCovariance.insert_copy
    precision_chol = SphericalCovariance.precision_chol
    covariance = SphericalCovariance.covariance
    precision = SphericalCovariance.precision
    draw = SphericalCovariance.draw
    check_precisions = SphericalCovariance.check_precisions
    marginal = SphericalCovariance.marginal
    dense_covariance = SphericalCovariance.dense_covariance
    conditional = SphericalCovariance.conditional

    def n_parameters(self, n_components, n_features):
        return 1

    def from_moments(self, stats, mass):
        return ScatterCovariances(SphericalCovariance.from_moments(self, stats, mass), mass)

    def add_ridge(self, scatter: ScatterCovariances, reg_covar):
        """lambda = sum_k N_k (tr(S_k) / D + reg_covar) / N: scikit-learn's ridge, pooled."""
        return msteps.eii(scatter.covariances + reg_covar, scatter.mass)


class EEICovariance(_Diagonal):
    """EEI: one diagonal covariance shared by every component, lambda A; covariances_ (K, D)."""

    name = "EEI"
    n_parameters = staticmethod(_general_count(_one, _one, lambda K: 0))

    def constrain(self, variances, mass):
        return msteps.eei(variances, mass)


class VEICovariance(_Diagonal):
    """VEI: lambda_k A, a diagonal shape shared, volumes free (iterative); covariances_ (K, D)."""

    name = "VEI"
    n_parameters = staticmethod(_general_count(_per_component, _one, lambda K: 0))

    def constrain(self, variances, mass):
        return _record(self, msteps.vei(variances, mass))


class EVICovariance(_Diagonal):
    """EVI: lambda A_k, one volume shared, diagonal shapes free; covariances_ (K, D)."""

    name = "EVI"
    n_parameters = staticmethod(_general_count(_one, _per_component, lambda K: 0))

    def constrain(self, variances, mass):
        return msteps.evi(variances, mass)


class VEECovariance(_Full):
    """VEE: lambda_k D A D^T, shape and orientation shared (iterative); covariances_ (K, D, D)."""

    name = "VEE"
    n_parameters = staticmethod(_general_count(_per_component, _one, _one))

    def constrain(self, covariances, mass):
        return _record(self, msteps.vee(covariances, mass))


class EVECovariance(_Full):
    """EVE: lambda D A_k D^T, volume and orientation shared (iterative, MM); covariances_ (K, D, D)."""

    name = "EVE"
    n_parameters = staticmethod(_general_count(_one, _per_component, _one))

    def constrain(self, covariances, mass):
        return _record(self, msteps.common_orientation(covariances, mass, equal_volume=True))


class VVECovariance(_Full):
    """VVE: lambda_k D A_k D^T, orientation shared (iterative, MM); covariances_ (K, D, D)."""

    name = "VVE"
    n_parameters = staticmethod(_general_count(_per_component, _per_component, _one))

    def constrain(self, covariances, mass):
        return _record(self, msteps.common_orientation(covariances, mass, equal_volume=False))


class EEVCovariance(_Full):
    """EEV: lambda D_k A D_k^T, volume and shape shared, orientations free; covariances_ (K, D, D)."""

    name = "EEV"
    n_parameters = staticmethod(_general_count(_one, _one, _per_component))

    def constrain(self, covariances, mass):
        return msteps.eev(covariances, mass)


class VEVCovariance(_Full):
    """VEV: lambda_k D_k A D_k^T, shape shared (iterative); covariances_ (K, D, D)."""

    name = "VEV"
    n_parameters = staticmethod(_general_count(_per_component, _one, _per_component))

    def constrain(self, covariances, mass):
        return _record(self, msteps.vev(covariances, mass))


class EVVCovariance(_Full):
    """EVV: lambda C_k, one volume shared, |C_k| = 1 free; covariances_ (K, D, D)."""

    name = "EVV"
    n_parameters = staticmethod(_general_count(_one, _per_component, _per_component))

    def constrain(self, covariances, mass):
        return msteps.evv(covariances, mass)


class NoPrecisionPrior:
    """The precision prior of a family that has none: building it raises.

    The variational estimators and StudentMixture's MAP need a conjugate prior of the family's
    precisions in the Normal-precision form of ``precision_priors``; the constrained families
    have none. (GaussianMixture's and GaussianHMM's MAP take mclust's prior of six of them,
    ``mclust_priors``, through ``registry.make_map_prior``.)
    """

    def __init__(self, covariance):
        raise ValueError(f"covariance_type={covariance.name!r} has no conjugate precision prior: variational "
                         "Bayes and StudentMixture's prior support 'full', 'tied', 'diag', 'spherical' "
                         "(mclust's VVV, EEE, VVI, VII)")


def shared_per_component(covariance, n_components):
    """One covariance shared by every component (tied, (D, D)) as (K, D, D)."""
    return np.broadcast_to(covariance, (n_components,) + covariance.shape).copy()


def spherical_per_component(variances, n_features):
    """One variance per component ((K,): spherical, EII) as diagonals (K, D)."""
    return np.repeat(variances[:, None], n_features, axis=1)
