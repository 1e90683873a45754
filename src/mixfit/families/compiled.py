"""Which families the compiled small-data EM runs (``kernels.mclust_em_compiled``), and their
precision factors in its dense form.

The compiled loop knows each of mclust's fourteen families by its position in
``registry.MCLUST_MODEL_NAMES`` (scikit-learn's four by their mclust alias) and holds every
precision factor dense, (K, D, D) upper triangular; a fit's params store them in the family's
own form ((K, D, D), (D, D) tied, (K, D) diagonal, (K,) spherical), converted here both ways.
"""

from __future__ import annotations

import numpy as np

from .mclust import _record  # the numpy M-step's own record and warning
from .mclust_msteps import InnerResult
from .registry import MCLUST_MODEL_NAMES, family

_SPHERICAL = ("EII", "VII")
_DIAGONAL = ("EEI", "VEI", "EVI", "VVI")
_TIED = ("EEE",)


def mclust_name(covariance) -> str | None:
    """mclust's name of the family ``covariance`` is a strategy of, or None where it is not
    exactly one of the fourteen (a subclass, or another strategy, runs the numpy path)."""
    try:
        fam = family(covariance.name)
    except ValueError:
        return None
    if type(covariance) is not fam.strategy:
        return None
    names = [name for name in (fam.name, *fam.aliases) if name in MCLUST_MODEL_NAMES]
    return names[0] if names else None


def compiled_code(covariance) -> int | None:
    """The compiled loop's code of the family (its index in mclust's order), or None."""
    name = mclust_name(covariance)
    return None if name is None else MCLUST_MODEL_NAMES.index(name)


def dense_factors(code: int, prec_chol, n_components: int, n_features: int) -> np.ndarray:
    """The family's stored precision factors as dense (K, D, D) upper-triangular factors."""
    name = MCLUST_MODEL_NAMES[code]
    prec_chol = np.asarray(prec_chol, dtype=np.float64)
    if name in _SPHERICAL:
        return np.broadcast_to(prec_chol, (n_components,))[:, None, None] * np.eye(n_features)
    if name in _DIAGONAL:
        return prec_chol[:, :, None] * np.eye(n_features)
    if name in _TIED:
        return np.broadcast_to(prec_chol, (n_components, n_features, n_features)).copy()
    return prec_chol.copy()


def stored_factors(code: int, factors: np.ndarray) -> np.ndarray:
    """The dense factors (K, D, D) in the family's stored form (the inverse of ``dense_factors``)."""
    name = MCLUST_MODEL_NAMES[code]
    if name in _SPHERICAL:
        return factors[:, 0, 0].copy()
    if name in _DIAGONAL:
        return np.diagonal(factors, axis1=1, axis2=2).copy()
    if name in _TIED:
        return factors[0].copy()
    return factors


def stored_covariances(code: int, covariances: np.ndarray) -> np.ndarray:
    """Dense covariances (K, D, D) in the family's stored form, as its ``precision_chol`` takes
    them ((K,) spherical, (K, D) diagonal, (D, D) tied, else (K, D, D)): the same entries as
    ``stored_factors`` takes, always a copy."""
    stored = stored_factors(code, covariances)
    return stored.copy() if stored is covariances else stored


ITERATIVE = tuple(MCLUST_MODEL_NAMES.index(name) for name in ("VEI", "VEE", "EVE", "VVE", "VEV"))


def record_inner_loops(covariance, code: int, iterations, cap_hits) -> None:
    """Keep the compiled fit's inner-loop record on the strategy, one entry per M-step, and warn
    on a cap hit, as the numpy M-step does for each (``mclust._record``)."""
    if code not in ITERATIVE:
        return
    if not np.any(cap_hits):  # the usual case: the counts appended at once, nothing to warn
        covariance.inner_iterations.extend(np.asarray(iterations).tolist())
        return
    for count, hit in zip(iterations, cap_hits):
        _record(covariance, InnerResult(None, int(count), bool(hit), ()))
