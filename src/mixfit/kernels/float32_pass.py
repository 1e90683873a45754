"""The float32 moments' rounding guard checked once per pass rather than once per chunk.

``row_features`` sums the diag / spherical moments of a float32 chunk in float32 where a
rounding bound keeps each component's scatter (its docstring). Checked on each chunk alone, the
bound fails at large K for most components, not for their rounding but for the chunk's lack of
rows: a chunk holds one or two rows of most components, which have no scatter of their own
there. ``settled_sum`` runs a pass with the components summed in float32 and checks the bound
once, on the pass's sums.

The bound is additive. For component k and dimension d, chunk c's float32 sums round the
scatter by about u32 T_c, T_c = 2 S_c + N_c delta^2 (S_c, N_c: the chunk's sum of r (x_d -
g_d)^2 and its mass; delta = c_kd - g_d, the same in every chunk of a pass, since the shifts c_k
and the centre g are the parameters'). The chunks' roundings add, so the pass's sums round by
at most u32 sum_c T_c = u32 (2 S + N delta^2), S and N now the pass's sums: the bound's terms
need no bookkeeping of their own, they are the pass's sums about g. The scatter the M-step
keeps is the pass's W = S - s1^2 / N about the component's weighted mean (at least the sum of
the chunks' own scatters, by the parallel-axis theorem: the pass-level check is never the
stricter). The pass keeps its float32 sums of component k where u32 (2 S + N delta^2) <=
FLOAT32_MOMENT_TOLERANCE W for every d (spherical: summed over d): ``unkept_components`` on the
pass's sums, which each chunk adds here (``PassSums``: its (K, m + D) float32 sums about g and
its masses, in float64, one (K, 2D) addition per chunk).

The check's outcome is known only at the pass's end, and a component failing it needs exact
sums of the same responsibilities. Two provisions:

- Predicted from the parameters (``predicted_unkept``): with the pass's scatter taken as N_k
  sigma_k^2, the ratio is u32 (2 + 3 delta^2 lambda) per dimension; the components above half
  the tolerance (far from g in their own standard deviations) are summed in float64 from the
  rows in every chunk of the pass (``row_features``' fallback) and are not checked.
- A component the check fails even so (its scatter fell by half or more within the iteration:
  a collapse, or a start far from the data) takes a second pass, in which the chunks sum it
  and the predicted ones in float64 from their rows, every other component in float32 as in
  the first; the second pass's value is the pass's statistics. The second pass recomputes the
  E-step rather than keeping the first pass's responsibilities: keeping them would hold N K
  numbers (800 MB in float32 at (1e5, 2048)) in every pass for a rare case; recomputed, they
  are the same numbers (the same chunks, parameters and code, the BLAS on one thread per
  chunk), and the components the first pass kept get the same float32 sums.

Only ``settled_sum`` defers the guard: a chunk's moments computed outside it (online EM, the
collapse diagnosis, a model's ``accumulate`` called directly) keep the per-chunk check.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

import numpy as np

# The rounding float32 sums may leave in a component's scatter, relative to the scatter about its
# weighted mean, by the estimate of row_features.py's docstring; float32 keeps 24 bits, this 14
# (docs/performance.md, "float32 moments": why 14).
FLOAT32_MOMENT_TOLERANCE = 2.0**-14
# A pass sends to the float64 path from its first chunk the components whose parameters predict
# a ratio above this (``predicted_unkept``): half the tolerance, so that only a component whose
# scatter falls by half within the iteration fails the pass's check.
PREDICTION_TOLERANCE = FLOAT32_MOMENT_TOLERANCE / 2
_U32 = 2.0**-24  # float32's unit roundoff
_TINY = np.finfo(np.float64).tiny

# What this thread's float32 diag / spherical moments do (``row_features.RowFeatures.moments``):
# None, the per-chunk guard; a PassSums, every component in float32, its sums collected there;
# an _Exact, the components it names in float64 from the rows, the others in float32.
_MODE: ContextVar = ContextVar("mixfit_float32_pass", default=None)


def mode():
    """This thread's mode (see ``_MODE``): None, a PassSums or an ``_Exact``."""
    return _MODE.get()


class PassSums:
    """The float32 sums about g (K, m + D) and the masses (K,) of the chunks of one pass, in
    float64, with the pass's delta = c_k - g (K, D) and the family's layout (``per_dimension``);
    ``mixed``: chunks of different delta were added (none of this module's passes does that),
    so the pass-level bound does not apply."""

    def __init__(self):
        self.sums = self.mass = self.delta = self.predicted = None
        self.per_dimension = True
        self.mixed = False

    def add(self, sums, mass, delta, per_dimension, predicted):
        """Add one chunk's float32 sums about g (float64 (K, m + D)) and its masses;
        ``predicted`` (K,) bool: the components the chunk summed in float64 instead."""
        if self.sums is None:
            self.sums, self.mass = sums, mass  # the chunk's own new arrays: added into from here on
            self.delta, self.per_dimension, self.predicted = delta, per_dimension, predicted
        elif self.sums.shape == sums.shape and (self.delta is delta or np.array_equal(self.delta, delta)):
            self.sums += sums
            self.mass += mass
        else:
            self.mixed = True

    def __add__(self, other: PassSums) -> PassSums:
        if other.sums is None or self.mixed:
            self.mixed |= other.mixed
            return self
        if self.sums is None:
            return other
        self.add(other.sums, other.mass, other.delta, other.per_dimension, other.predicted)
        self.mixed |= other.mixed
        return self


class _Checked:
    """A chunk's value (statistics) and its PassSums; ``+`` adds both."""

    def __init__(self, value, sums: PassSums):
        self.value, self.sums = value, sums

    def __add__(self, other: _Checked) -> _Checked:
        return _Checked(self.value + other.value, self.sums + other.sums)


class _Deferred:
    """accumulate(X, w) with every float32 component summed in float32, collected per chunk."""

    def __init__(self, accumulate):
        self.accumulate = accumulate

    def __call__(self, X, w):
        sums = PassSums()
        token = _MODE.set(sums)
        try:
            return _Checked(self.accumulate(X, w), sums)
        finally:
            _MODE.reset(token)


class _Exact:
    """accumulate(X, w) with the components ``unkept`` (K,) bool summed in float64 from the rows
    (None: the per-chunk guard)."""

    def __init__(self, accumulate, unkept):
        self.accumulate, self.unkept = accumulate, unkept

    def __call__(self, X, w):
        token = _MODE.set(None if self.unkept is None else self)
        try:
            return self.accumulate(X, w)
        finally:
            _MODE.reset(token)


def unkept_components(sums, mass, mass_delta2, delta, per_dimension: bool) -> np.ndarray:
    """(K,) bool: the components whose float32 sums about g (``sums`` (K, m + D), the squares
    then x - g; a chunk's or a pass's) may round by more than FLOAT32_MOMENT_TOLERANCE of the
    scatter about their weighted mean, W = S - s1^2 / N, by the bound u32 (S + 2 |delta| sqrt(N
    S)) <= u32 (2 S + N delta^2) (row_features.py's docstring); ``mass_delta2``: N_k delta_k^2
    (K, D), or (K,) summed over d. A few whole-array operations: at small K their count is the
    cost (a pass of a 1000-row fit checks in ~10 us)."""
    D = delta.shape[1]
    second, s1 = sums[:, :-D], sums[:, -D:]
    mass = np.maximum(mass, _TINY)  # no mass: S = s1 = 0, and W = 0 fails any bound above 0
    if per_dimension:
        within = np.multiply(s1, s1)
        within /= mass[:, None]
    else:
        second = second[:, 0]
        within = np.einsum("kd,kd->k", s1, s1) / mass
    np.subtract(second, within, out=within)  # W
    within *= FLOAT32_MOMENT_TOLERANCE
    bound = np.multiply(second, 2 * _U32)
    bound += _U32 * mass_delta2
    kept = bound <= within  # NaN: not kept
    return ~(kept.all(axis=1) if per_dimension else kept)


def pass_unkept(sums: PassSums):
    """(K,) bool: the components whose float32 pass sums the bound does not keep, those the
    chunks summed in float64 left out; None where no float32 diag / spherical moments were
    summed (nothing to check); all True where the pass mixed deltas."""
    if sums.sums is None:
        return None
    if sums.mixed:
        return np.ones(sums.sums.shape[0], dtype=bool)
    delta = sums.delta
    mass_delta2 = delta * delta
    mass_delta2 = (mass_delta2 * sums.mass[:, None] if sums.per_dimension
                   else mass_delta2.sum(axis=1) * sums.mass)
    unkept = unkept_components(sums.sums, sums.mass, mass_delta2, delta, sums.per_dimension)
    if sums.predicted.any():  # summed in float64 throughout: not the float32 sums' to check
        unkept &= ~sums.predicted
    return unkept


def predicted_unkept(spread) -> np.ndarray:
    """(K,) bool: the components that the parameters predict the pass's check would not keep,
    summed in float64 from a pass's first chunk on. ``spread`` (K,): delta^2 lambda in the
    component's worst dimension (diag), |delta|^2 lambda / D (spherical), with delta = mu_k - g
    (the shifts c_k = mu_k) and lambda the precision. With the pass's scatter taken as N_k
    sigma^2, the pass's sums about g are S ~ N_k (sigma^2 + delta^2) and the bound's ratio
    u32 (2 S + N delta^2) / W ~ u32 (2 + 3 delta^2 lambda); predicted unkept above
    PREDICTION_TOLERANCE. (The families compute it with their coefficients, once per pass.)"""
    return ~(spread <= _PREDICTED_SPREAD)


# u32 (2 + 3 spread) <= PREDICTION_TOLERANCE, solved for the spread
_PREDICTED_SPREAD = (PREDICTION_TOLERANCE / _U32 - 2) / 3


def settled_sum(map_reduce: Callable, accumulate: Callable):
    """map_reduce(accumulate), the sum of a pass's chunk values, with the float32 moments'
    rounding guard checked on the pass's sums (module docstring): one pass where every
    component passes it, a second where some do not (those components then summed in float64
    from their rows, with the same responsibilities)."""
    total = map_reduce(_Deferred(accumulate))
    unkept = pass_unkept(total.sums)
    if unkept is None or not unkept.any():
        return total.value
    return map_reduce(_Exact(accumulate, None if total.sums.mixed else unkept | total.sums.predicted))
