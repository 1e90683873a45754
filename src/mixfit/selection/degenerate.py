"""Degenerate cells of a selection sweep: fits with a covariance collapsed onto a few rows.

A Gaussian mixture's likelihood is unbounded: a component whose covariance shrinks onto a few
rows (a point, a line, a plane) gains without limit, and ``reg_covar`` only stops the descent at
its floor. Such a fit is not a model of the data, and ranking it would make it "best". R's mclust
reports such a cell NA (its EM stops when a covariance is singular to its tolerance,
``emControl()$eps``, and the BIC table shows NA). ``select_model`` marks a fit degenerate, and the
cell NA with the reason, when some component's covariance Sigma_k has

    lambda_min(Sigma_k) <= FLOOR_FACTOR * reg_covar          (at the ridge's floor: the data
                                                              add less than 9 x reg_covar there)
    or lambda_min(Sigma_k) <= RCOND * lambda_max(Sigma_k)    (singular to sqrt(eps), as a
                                                              reg_covar=0 fit approaches it)

with lambda the eigenvalues of Sigma_k = lambda_k D_k A_k D_k^T, i.e. volume_k x shape_k (mclust's
decomposition, ``families.registry.decomposition``). A family with a shared covariance (EEE,
EII, ...) is degenerate only if the shared covariance is: a component on few rows is legitimate
there, as in mclust.
"""

from __future__ import annotations

import numpy as np

from ..families.registry import decomposition

FLOOR_FACTOR = 10.0
RCOND = float(np.sqrt(np.finfo(np.float64).eps))


def degenerate_reason(estimator) -> str | None:
    """Why a fitted Gaussian mixture is degenerate (one line), or None if it is not.

    ``estimator`` is a fitted ``GaussianMixture`` (or ``StudentMixture``): its
    ``covariance_type``, ``covariances_``, ``means_`` and ``reg_covar`` are read.
    """
    K, dim = estimator.means_.shape
    volumes, shapes, _ = decomposition(estimator.covariance_type, estimator.covariances_, K, dim)
    eig = volumes[:, None] * shapes  # (K, D) the eigenvalues of each Sigma_k
    return reason_from_extremes(eig.min(axis=1), eig.max(axis=1), float(estimator.reg_covar))


def reason_from_extremes(smallest, largest, reg_covar: float) -> str | None:
    """``degenerate_reason`` from each component's smallest and largest covariance eigenvalue
    (K,) and (K,), and the fit's ``reg_covar``."""
    floor = FLOOR_FACTOR * reg_covar
    at_floor = (smallest <= floor) | (smallest <= RCOND * largest) | ~np.isfinite(smallest)
    if not at_floor.any():
        return None
    k = int(np.argmax(at_floor))
    return (f"degenerate: component {k}'s smallest covariance eigenvalue {smallest[k]:.3g} is at the floor "
            f"(<= {FLOOR_FACTOR:g} x reg_covar = {floor:.3g} or <= sqrt(eps) x its largest {largest[k]:.3g}); "
            f"the fit has collapsed onto a few rows")
