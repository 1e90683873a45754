"""The E-step of a Student-t mixture on rows with missing entries (NaN), missing at random
(docs/math/student.md#missing-values).

Notation   code          shape      meaning
o, m       -             -          a row's observed and missing coordinates; p_o = |o|
delta_nk   maha          (n, K)     (x_o - mu_k,o)^T Sigma_k,oo^{-1} (x_o - mu_k,o), the observed block's distance
c_nk       log_gauss_0   (n, K)     -1/2 ln |Sigma_k,oo| - p_o/2 ln 2 pi, the observed marginal's Gaussian constant
u_nk       scale         (n, K)     E[u_n | x_o, z_nk = 1] = (nu_k + p_o) / (nu_k + delta_nk)   (T.18)
z_nk       z             (K, n, D)  xhat_nk - mu_k: E[x_m | x_o, k] on m (2.81), free of u_n
C_nk       extra         (m, m)     Sigma_k,mm - Sigma_k,mo Sigma_k,oo^{-1} Sigma_k,om (2.82)

Given z_nk = 1 and u_n, x_n ~ N(mu_k, Sigma_k / u_n) (T.1), so x_o is t over its p_o coordinates
(T.2 over o) and u_n | x_o is Gamma((nu_k + p_o)/2, (nu_k + delta_nk)/2): the
mixture's E-step with D replaced by p_o and delta by the observed block's. The conditional mean of
x_m given x_o and u_n does not depend on u_n and its covariance is C_nk / u_n, so

    E[u x_m | x_o, k] = u_nk xhat_nk,m,    E[u x_m x_m^T | x_o, k] = u_nk xhat xhat^T + C_nk   (T.19)

and the u-weighted moments are those of the completed rows with weights w r u, plus sum w r C on
the missing block (weight w r, not w r u): the M-step (T.8)-(T.11) is unchanged.

The Gaussian quantities come from models/missing.py (``observed_e_step``: the completed rows, the
C's, and ln N(x_o | mu_k,o, Sigma_k,oo) = c_nk - delta_nk / 2); delta_nk = z_nk^T Lambda_k z_nk (the
conditional mean makes (Lambda_k z)_m vanish, so this is the observed block's distance) and
c_nk = ln N + delta_nk / 2.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma

from ..kernels.linalg import normalize_log_rows, probabilities_from_log
from ..stats import GaussianStats
from .missing import dense_precision, observed_e_step
from .student_dof import log_gamma_ratio


class ObservedRows:
    """The t mixture's per-row quantities over each row's observed coordinates (rows that miss
    at least one entry and observe at least one)."""

    def __init__(self, covariance, X, params):
        D = X.shape[1]
        K = params.means.shape[0]
        self.n_observed = (~np.isnan(X)).sum(axis=1)  # (n,) p_o
        means = np.asarray(params.means, dtype=np.float64)
        precision, log_det_half = dense_precision(covariance, params.prec_chol, K, D)
        unit = np.ones(K)  # ln 1 = 0: the Gaussian densities alone
        log_gauss, self.z, self.extra = observed_e_step(X, unit, means, precision, log_det_half)
        # delta_nk = z^T Lambda_k z: at the conditional mean (Lambda_k z)_m = 0 (2.81, precision
        # form), so z^T Lambda_k z = r_o^T (Lambda_oo - Lambda_om Lambda_mm^{-1} Lambda_mo) r_o, the
        # Schur complement being Sigma_oo^{-1}: the observed block's distance, by K BLAS products
        self.maha = np.maximum(np.einsum("knd,knd->nk", self.z @ precision, self.z), 0.0)  # (n, K)
        # c_nk = ln N(x_o) + delta / 2 (its rounding: eps delta, that of the distance itself)
        log_gauss_0 = log_gauss + 0.5 * self.maha
        dof = np.asarray(params.dof, dtype=np.float64)
        p = self.n_observed[:, None].astype(np.float64)  # (n, 1)
        self.log1p_ratio = np.log1p(self.maha / dof)  # (n, K) ln(1 + delta / nu)
        with np.errstate(divide="ignore"):  # a weight of exactly 0 is an impossible component
            log_w = np.log(np.asarray(params.weights, dtype=np.float64))
        # the special functions of nu and p, a table over p = 0 .. D (D + 1, K), read per row
        counts = np.arange(D + 1, dtype=np.float64)[:, None]
        gamma_ratio = log_gamma_ratio(dof / 2, counts / 2)[self.n_observed]  # (n, K)
        psi = (digamma((dof + counts) / 2) - np.log(dof / 2))[self.n_observed]  # (n, K)
        # (T.2) over o: ln Gamma((nu + p)/2) - ln Gamma(nu/2) - p/2 ln(nu pi) - 1/2 ln|Sigma_oo|
        # - (nu + p)/2 ln(1 + delta/nu), with the constant as log_gamma_ratio(nu/2, p/2) + c_nk
        self.log_rho = (log_w + gamma_ratio + log_gauss_0 - (dof + p) / 2 * self.log1p_ratio)  # (n, K)
        self.scale = (dof + p) / (dof + self.maha)  # (T.18) u_nk
        # (T.18) E[ln u_nk] = psi((nu + p)/2) - ln((nu + delta)/2)
        self.log_u = psi - self.log1p_ratio
        self.shift = means

    def statistics(self, sample_weight, covariance):
        """(moments weighted by w r u, N_k, T_k) of these rows, as ``StudentStats`` holds them."""
        resp, log_norm = normalize_log_rows(self.log_rho)  # (T.4) over o
        n, K = resp.shape
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        wresp = resp * w[:, None]  # w_n r_nk
        wru = wresp * self.scale  # w_n r_nk u_nk
        D = self.shift.shape[1]
        first, dense = np.empty((K, D)), np.empty((K, D, D))
        for k in range(K):  # (T.19): the completed rows weighted by w r u ...
            first[k] = wru[:, k] @ self.z[k]
            dense[k] = (self.z[k] * wru[:, k, None]).T @ self.z[k]
        self.extra.add_to(dense, wresp)  # ... and sum w r C_nk on each row's missing block
        moments = GaussianStats(self.shift, wru.sum(axis=0), first, covariance.fold_scatter(dense),
                                float(log_norm @ w), float(w.sum()))
        log_scale = (wresp * (self.log_u - self.scale)).sum(axis=0)  # T_k (T.7)
        return moments, wresp.sum(axis=0), log_scale

    def expected_scale(self) -> np.ndarray:
        """E[u_n | x_o] = sum_k r_nk u_nk (n,) (T.14 over o)."""
        return (probabilities_from_log(self.log_rho) * self.scale).sum(axis=1)

    def assigned_distance(self) -> np.ndarray:
        """delta_{n, k(n)} (n,) over o, at the most probable component (T.13 over o)."""
        return np.take_along_axis(self.maha, self.log_rho.argmax(axis=1)[:, None], axis=1)[:, 0]


def per_row(X, complete, observed) -> np.ndarray:
    """A per-row quantity (n,) or (n, K) in X's dtype: the rows with nothing missing by
    ``complete(rows)`` (the complete-data path, unchanged), the others by ``observed(rows)``."""
    incomplete = np.isnan(X).any(axis=1)
    values = observed(X[incomplete])
    out = np.empty((X.shape[0], *values.shape[1:]), dtype=X.dtype)
    out[incomplete] = values
    if not incomplete.all():
        out[~incomplete] = complete(X[~incomplete])
    return out
