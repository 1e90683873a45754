"""The seam's values: additive sufficient statistics of one pass over the data.

A model's ``accumulate`` turns one block of rows into a statistics value; values of blocks add
with ``+`` into the value of their union, whatever the split. ``maximize`` only ever sees the sum.

Notation  code        shape                    meaning
c_k       shift       (K, D)                   the point the moments are taken about
N_k       mass        (K,)                     sum_n w_n r_nk
-         first       (K, D)                   sum_n w_n r_nk (x_n - c_k)
-         scatter     per covariance type      sum_n w_n r_nk (x_n - c_k)(x_n - c_k)^T, or its
                                               diagonal (diag), its trace (spherical), its sum
                                               over k (tied)
-         log_norm    float                    sum_n w_n ln sum_k rho_nk (EM: the log-likelihood)
-         weight_sum  float                    sum_n w_n

The moments are taken about a shift c_k close to the component mean (the previous means), so
that the covariance S_k = scatter_k / N_k - d_k d_k^T with d_k = first_k / N_k subtracts two
small numbers, never the raw second moment minus N mu mu^T (which cancels catastrophically in
float32 when the data sit far from the origin). Arrays are float64 whatever the data dtype: the
per-chunk products run in the data's dtype, their sums across chunks in float64 (deliberate: a
few K x D^2 additions per chunk buy float64 sums for free).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels.linalg import column_sum


@dataclass(frozen=True, eq=False)
class GaussianStats:
    shift: np.ndarray  # (K, D)
    mass: np.ndarray  # (K,)
    first: np.ndarray  # (K, D)
    scatter: np.ndarray  # (K, D, D) | (D, D) | (K, D) | (K,)
    log_norm: float
    weight_sum: float

    def __add__(self, other: GaussianStats) -> GaussianStats:
        if not np.array_equal(self.shift, other.shift):
            raise ValueError("statistics taken about different shifts cannot be added; reshift one first")
        return GaussianStats(
            shift=self.shift,
            mass=self.mass + other.mass,
            first=self.first + other.first,
            scatter=self.scatter + other.scatter,
            log_norm=self.log_norm + other.log_norm,
            weight_sum=self.weight_sum + other.weight_sum,
        )

    def scale(self, factor: float) -> GaussianStats:
        """Every additive field times ``factor`` (the shift is a point, not a sum)."""
        return GaussianStats(
            shift=self.shift,
            mass=self.mass * factor,
            first=self.first * factor,
            scatter=self.scatter * factor,
            log_norm=self.log_norm * factor,
            weight_sum=self.weight_sum * factor,
        )

    def reshift(self, shift: np.ndarray, covariance) -> GaussianStats:
        """The same sums taken about ``shift`` (K, D) instead: exact algebra, no data.

        With delta_k = c_k - c'_k, x - c'_k = (x - c_k) + delta_k, so
        first'_k = first_k + N_k delta_k and the scatter gains the cross terms and N_k delta_k
        delta_k^T in the family's form (``covariance.shift_scatter``: full, pooled, diagonal or
        trace). Online EM needs it to add values of passes taken about different means.
        """
        shift = np.asarray(shift, dtype=np.float64)
        delta = self.shift - shift  # (K, D)
        scatter = covariance.shift_scatter(self.scatter, self.mass, self.first, delta)
        return GaussianStats(shift=shift, mass=self.mass, first=self.first + self.mass[:, None] * delta,
                             scatter=scatter, log_norm=self.log_norm, weight_sum=self.weight_sum)


def gaussian_statistics(covariance, X, resp, sample_weight, shift, log_norm=None,
                        workspace=None) -> GaussianStats:
    """The additive moments of one chunk for given responsibilities (n, K), about ``shift``.

    Shared by every Gaussian model (EM and VB differ only in how ``resp`` was formed, PRML
    10.51-10.53 are the EM quantities). ``log_norm`` (n,) is ln sum_k rho_nk per row, or None.
    ``workspace``: the E-step's workspace, made by the same covariance strategy's kernel, which
    its ``moments`` may reuse; where it also has ``mass_of`` (the masses its ``moments`` formed for
    the same weighted responsibilities, or None), those are taken instead of a second column sum.
    """
    wresp = resp if sample_weight is None else resp * sample_weight[:, None]  # w_n r_nk
    first, scatter = covariance.moments(X, wresp, shift, workspace)
    mass_of = getattr(workspace, "mass_of", None)
    mass = None if mass_of is None else mass_of(wresp)
    if sample_weight is None:
        weight_sum = float(X.shape[0])
        total = 0.0 if log_norm is None else float(log_norm.sum(dtype=np.float64))
    else:
        weight_sum = float(sample_weight.sum(dtype=np.float64))
        total = 0.0 if log_norm is None else float(log_norm.astype(np.float64) @ sample_weight)
    return GaussianStats(
        shift=np.asarray(shift, dtype=np.float64),
        mass=column_sum(wresp) if mass is None else mass,  # N_k (9.27)
        first=first,
        scatter=scatter,
        log_norm=total,
        weight_sum=weight_sum,
    )


# ---- the scatter about another shift, in each family's form (``GaussianStats.reshift``) ---------
# S'_k = sum w r (x - c_k + delta_k)(x - c_k + delta_k)^T = S_k + f_k delta_k^T + delta_k f_k^T
#        + N_k delta_k delta_k^T, with f_k the first moment about c_k; the families keep this
# matrix, its sum over k, its diagonal or its trace.


def shift_scatter_full(scatter, mass, first, delta) -> np.ndarray:
    """(K, D, D) per-component scatter matrices about c - delta."""
    cross = first[:, :, None] * delta[:, None, :]  # f_k delta_k^T
    return scatter + cross + np.swapaxes(cross, 1, 2) + mass[:, None, None] * delta[:, :, None] * delta[:, None, :]


def shift_scatter_pooled(scatter, mass, first, delta) -> np.ndarray:
    """(D, D) the sum over k of the per-component scatters (tied), about c - delta."""
    cross = first.T @ delta  # sum_k f_k delta_k^T
    return scatter + cross + cross.T + (delta * mass[:, None]).T @ delta


def shift_scatter_diagonal(scatter, mass, first, delta) -> np.ndarray:
    """(K, D) the diagonals of the per-component scatters, about c - delta."""
    return scatter + 2 * first * delta + mass[:, None] * delta**2


def shift_scatter_trace(scatter, mass, first, delta) -> np.ndarray:
    """(K,) the traces of the per-component scatters, about c - delta."""
    return scatter + 2 * (first * delta).sum(axis=1) + mass * (delta**2).sum(axis=1)


@dataclass(frozen=True, eq=False)
class BernoulliStats:
    """The additive statistics of a Bernoulli mixture (PRML 9.3.3): N_k and sum_n w_n r_nk x_n.

    Binary data sit in [0, 1], so no shift is needed: xbar_k = first_k / N_k divides two sums of
    non-negative terms and nothing cancels. Arrays are float64 whatever the data dtype.
    """

    mass: np.ndarray  # (K,)   N_k = sum_n w_n r_nk  (9.57)
    first: np.ndarray  # (K, D) sum_n w_n r_nk x_n = N_k xbar_k  (9.58)
    log_norm: float  # sum_n w_n ln sum_k rho_nk
    weight_sum: float  # sum_n w_n

    def __add__(self, other: BernoulliStats) -> BernoulliStats:
        return BernoulliStats(self.mass + other.mass, self.first + other.first,
                              self.log_norm + other.log_norm, self.weight_sum + other.weight_sum)

    def scale(self, factor: float) -> BernoulliStats:
        """Every field times ``factor`` (all are sums)."""
        return BernoulliStats(self.mass * factor, self.first * factor, self.log_norm * factor,
                              self.weight_sum * factor)


def bernoulli_statistics(X, resp, sample_weight, log_norm=None) -> BernoulliStats:
    """The additive statistics of one chunk (dense or scipy sparse, in the responsibilities'
    float dtype) for given responsibilities (n, K); ``log_norm`` (n,) is ln sum_k rho_nk or None."""
    wresp = resp if sample_weight is None else resp * sample_weight[:, None]  # (n, K) w_n r_nk
    # (K, D): written as (X^T W R)^T so that a sparse X stays on the left of the product
    first = np.asarray((X.T @ wresp).T, dtype=np.float64)
    if sample_weight is None:
        weight_sum = float(X.shape[0])
        total = 0.0 if log_norm is None else float(log_norm.sum(dtype=np.float64))
    else:
        weight_sum = float(sample_weight.sum(dtype=np.float64))
        total = 0.0 if log_norm is None else float(log_norm.astype(np.float64) @ sample_weight)
    return BernoulliStats(wresp.sum(axis=0, dtype=np.float64), first, total, weight_sum)
