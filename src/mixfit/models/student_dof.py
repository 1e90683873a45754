"""The degrees of freedom of a Student-t mixture: their M-step (one per component, one shared, or
fixed) and the t density's normalising constant, stable as nu grows.

Notation  code        shape   meaning (docs/math/student.md)
nu_k      dof         (K,)    degrees of freedom of component k
N_k       mass        (K,)    sum_n w_n r_nk
T_k       log_scale   (K,)    sum_n w_n r_nk (E[ln u_nk] - E[u_nk]), the E-step's statistic (T.7)

The M-step for nu_k maximises the nu-part of the complete-data expectation (T.11):

    ln(nu/2) - psi(nu/2) = -(1 + T_k / N_k)

whose left side falls monotonically from +inf (nu -> 0) to 0 (nu -> inf), and whose right side is
>= 0 by Jensen (E[ln u] <= ln E[u] <= E[u] - 1): one root, found by ``scipy.optimize.brentq``
inside ``DOF_BOUNDS``; with the right side below the left side's value at the upper bound (data
no heavier-tailed than a Gaussian) nu stops at the bound.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.optimize import brentq
from scipy.special import digamma, gammaln

# The range a fitted nu stays in. Below 1e-2 the density is so heavy-tailed that no mean is
# defined and a component absorbs everything; above 1e6 the t density equals the Gaussian to
# ~D^2 / nu < 1e-3 in ln p for any D <= 30, and the equation's left side (~1 / nu) is below the
# rounding of its right side for large N. A fixed ``dof`` may lie outside (1e8 is a Gaussian).
DOF_BOUNDS = (1e-2, 1e6)
# Where the Stirling series replaces gammaln's difference in ``log_gamma_ratio``: at a >= 100 the
# series' first omitted term, 1 / (1260 a^5), is below 1e-13; gammaln's difference there rounds
# by ~eps * ln Gamma(a) ~ 1e-13, which grows as a ln a beyond (4e-7 at a = 5e7).
_STIRLING_FROM = 100.0


def log_gamma_ratio(a, h) -> np.ndarray:
    """ln Gamma(a + h) - ln Gamma(a) - h ln a, for a > 0, h >= 0 (arrays broadcast).

    As a -> inf it tends to 0 (Gamma(a + h) / Gamma(a) ~ a^h), so the t density's constant
    tends to the Gaussian's; gammaln's difference would lose it in the rounding of two numbers of
    size a ln a. For a >= ``_STIRLING_FROM``, Stirling's series for ln Gamma (DLMF 5.11.1)
    differenced termwise:

        (a + h - 1/2) ln(1 + h / a) - h + [1/(12 z) - 1/(360 z^3)]_{z=a}^{z=a+h}
    """
    a = np.asarray(a, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    large = a >= _STIRLING_FROM
    safe = np.where(large, a, _STIRLING_FROM)  # each branch computed on arguments valid for it
    b = safe + h
    series = ((safe + h - 0.5) * np.log1p(h / safe) - h
              + (1 / (12 * b) - 1 / (12 * safe)) - (1 / (360 * b**3) - 1 / (360 * safe**3)))
    small = np.where(large, 1.0, a)
    direct = gammaln(small + h) - gammaln(small) - h * np.log(small)
    return np.where(large, series, direct)


def log_t_constant(dof, n_features: int) -> np.ndarray:
    """ln of the t density's normalising constant without the precision's determinant:
    ln Gamma((nu + D)/2) - ln Gamma(nu/2) - D/2 ln(nu pi)   (T.2), (K,), float64.

    Written as log_gamma_ratio(nu/2, D/2) - D/2 ln(2 pi): the Gaussian's constant plus a term
    that vanishes as nu -> inf, so that a large nu gives the Gaussian's density to rounding."""
    half = np.asarray(dof, dtype=np.float64) / 2
    return log_gamma_ratio(half, n_features / 2) - n_features / 2 * np.log(2 * np.pi)


def _dof_gap(dof: float, target: float) -> float:
    """ln(nu/2) - psi(nu/2) - target: decreasing in nu (T.11)."""
    return float(np.log(dof / 2) - digamma(dof / 2) - target)


def solve_dof(mass: float, log_scale: float) -> float:
    """The root nu of ln(nu/2) - psi(nu/2) = -(1 + T / N)   (T.11), clipped to ``DOF_BOUNDS``."""
    target = -(1.0 + log_scale / mass)  # >= 0 up to rounding (Jensen)
    low, high = DOF_BOUNDS
    if _dof_gap(high, target) >= 0:  # no heavier tails than the bound allows
        return high
    if _dof_gap(low, target) <= 0:
        return low
    return float(brentq(_dof_gap, low, high, args=(target,), xtol=1e-10, rtol=1e-12))


class FixedDof:
    """nu_k = ``value`` for every component, never updated: no free parameter."""

    name = "fixed"

    def __init__(self, value: float):
        self.value = float(value)

    def initial(self, n_components: int) -> np.ndarray:
        return np.full(n_components, self.value)

    def update(self, mass, log_scale, previous) -> np.ndarray:
        return previous

    def n_parameters(self, n_components: int) -> int:
        return 0


class EstimatedDof:
    """One nu_k per component (``shared=False``, K free parameters), or one nu shared by every
    component (``shared=True``, one parameter: the equation with the sums over k, T.12),
    each started at ``initial_value``."""

    def __init__(self, initial_value: float, shared: bool):
        self.initial_value = float(initial_value)
        self.shared = shared
        self.name = "tied" if shared else "estimate"

    def initial(self, n_components: int) -> np.ndarray:
        return np.full(n_components, self.initial_value)

    def update(self, mass, log_scale, previous) -> np.ndarray:
        if self.shared:
            return np.full(mass.shape[0], solve_dof(mass.sum(), log_scale.sum()))  # (T.12)
        # A component with (almost) no mass has no evidence on its tails: it keeps its nu.
        floor = 1e-8 * mass.sum()
        return np.array([solve_dof(m, t) if m > floor else old for m, t, old in zip(mass, log_scale, previous)])

    def n_parameters(self, n_components: int) -> int:
        return 1 if self.shared else n_components


def make_dof_rule(dof, dof_init: float = 10.0):
    """The degrees-of-freedom strategy for the estimator's ``dof`` (the only place it is read):
    'estimate', 'tied', or a positive number (fixed).

    Parameters
    ----------
    dof : {'estimate', 'tied'} or float
    dof_init : float, default=10
        The starting nu of the estimated rules.

    Returns
    -------
    FixedDof or EstimatedDof

    Raises
    ------
    ValueError
        If ``dof`` or ``dof_init`` is not one of the accepted values.
    """
    check_positive_dof(dof_init, "dof_init")
    if isinstance(dof, str):
        if dof == "estimate":
            return EstimatedDof(dof_init, shared=False)
        if dof == "tied":
            return EstimatedDof(dof_init, shared=True)
        raise ValueError(f"dof={dof!r} is not one of ['estimate', 'tied'] or a positive number")
    check_positive_dof(dof, "dof")
    return FixedDof(dof)


def check_positive_dof(value, name: str) -> None:
    """A finite real number > 0, else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r}; expected a finite number > 0 (or, for dof, 'estimate' or 'tied')")
