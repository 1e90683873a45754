"""Variational Bayes for a Gaussian mixture on rows with missing entries (NaN), missing at random
(docs/math/conditional.md#variational-bayes-with-missing-values, equations (V1)-(V6)).

Notation as models/gaussian_vb.py and models/missing.py, plus
A_k       precision    (K, D, D)   E[Lambda_k] = nu_k W_k, dense whatever the family's storage
o, m      -            -           a row's observed and missing coordinates, d_o = |o|

q(Z, X_m) = prod_n q(z_n) q(x_n,m | z_n) beside q(theta). Its optimum given q(theta) is
q*(x_m | z = k) = N(x_m | m_k,m - A_k,mm^{-1} A_k,mo (x_o - m_k,o), A_k,mm^{-1}) (V1): the
conditional of N(m_k, A_k^{-1}), so models/missing.py's observed-data E-step (2.81), (2.82) with
(m_k, A_k) in the place of (mu_k, Lambda_k) gives the completed rows and their conditional
covariances; its normaliser is ln rho_nk (V2). The statistics are those of the completed rows
plus the conditional covariances (V4), so ``GaussianVB.maximize`` is unchanged, and the bound is
``GaussianVB.objective`` as it stands (V3): sum_n w_n ln sum_k rho_nk - KL(q(theta) || p(theta)).
The posterior predictive of a row is the marginal over o of each component's Student-t (V6).

Rows with holes are computed in float64, as in models/missing.py.
"""

from __future__ import annotations

import numpy as np

from ..families.precision_priors import student_t_log_pdf
from ..kernels.linalg import normalize_log_rows
from ..stats import GaussianStats
from . import missing as observed_rows
from .hmm_missing import ObservedFrames
from .missing import dense_precision, observed_e_step, observed_moments


def _float64(q):
    return (np.asarray(a, dtype=np.float64) for a in (q.mean_precision, q.means, q.dof, q.prec_chol))


def expected_log_gauss_observed(model, X, q, e_log_pi=None):
    """ln rho_nk (V2) less E[ln pi_k] (or with it, given ``e_log_pi`` (K,)), (n, K), of rows that
    each miss at least one entry and observe at least one, and what the statistics need: z
    (K, n, D), the completed rows about m_k (V1 mean), and the conditional covariances (V1).
    ``model`` is a GaussianVB; ``q`` a VBParams or a NormalPrecisionPosterior."""
    mean_precision, means, dof, prec_chol = _float64(q)
    n_components, dim = means.shape
    precision, _ = dense_precision(model.covariance, prec_chol, n_components, dim)  # A_k = nu_k W_k (B.80)
    e_log_det = np.broadcast_to(model.precision.expected_log_det(dof, prec_chol, dim), (n_components,))  # (10.65)
    # (V2) without the observed-data terms: E[ln pi_k] + 1/2 E[ln|Lambda_k|] - D / (2 beta_k), where the
    # D / beta_k of (10.64) counts every coordinate, missing ones included (they enter q(x_m) jointly)
    constant = 0.5 * e_log_det - 0.5 * dim / mean_precision
    if e_log_pi is not None:
        constant = constant + e_log_pi
    # observed_e_step's ln pi_k + ln N(x_o | m_k,o, (A_k / A_k,mm)^{-1}) with ln pi_k = 0 and its
    # ln|A_k|^(1/2) replaced by ``constant``: -d_o/2 ln 2pi - ln|A_k,mm|^(1/2) - quad/2 (V2)
    return observed_e_step(X, np.ones(n_components), means, precision, constant)


def log_rho_observed(model, X, params):
    """ln rho_nk (V2) (n, K) of rows with holes under a mixture's q(theta) (a VBParams), with z
    and the conditional covariances as ``expected_log_gauss_observed``."""
    e_log_pi = model.weights.expected_log(np.asarray(params.concentration, dtype=np.float64))  # (10.66)
    return expected_log_gauss_observed(model, X, params, e_log_pi)


def accumulate_observed(model, X, params, sample_weight) -> GaussianStats:
    """The statistics (V4) of rows that each miss at least one entry, about m_k: the
    responsibilities (10.49) of ln rho (V2), the completed rows and conditional covariances."""
    log_rho, z, extra = log_rho_observed(model, X, params)
    resp, log_norm = normalize_log_rows(log_rho)  # (10.49); log_norm: the rows' share of (V3)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    wresp = resp if w is None else resp * w[:, None]
    first, dense = observed_moments(z, wresp, extra, X.shape[1])  # (V4), about m_k
    return GaussianStats(
        shift=np.asarray(params.means, dtype=np.float64),
        mass=wresp.sum(axis=0),
        first=first,
        scatter=model.covariance.fold_scatter(dense),
        log_norm=float(log_norm.sum()) if w is None else float(log_norm @ w),
        weight_sum=float(X.shape[0]) if w is None else float(w.sum()),
    )


def accumulate(model, X, params, sample_weight, incomplete) -> GaussianStats:
    """A chunk's statistics: its complete rows by ``model.accumulate`` (today's path), the rows
    flagged ``incomplete`` (n,) by ``accumulate_observed``; their sum."""
    rows = np.flatnonzero(incomplete)
    w = None if sample_weight is None else sample_weight[rows]
    stats = accumulate_observed(model, X[rows], params, w)
    if rows.size == X.shape[0]:
        return stats
    complete = ~incomplete
    return model.accumulate(X[complete], params, None if sample_weight is None else sample_weight[complete]) + stats


def _observed_blocks(X, means, precision):
    """(quad (n, K), ln|A_k,mm|^(1/2) (n, K), d_o (n,)) of rows with holes: the quadratic form
    (x_o - m_k,o)^T (A_k / A_k,mm) (x_o - m_k,o) = r0^T A_k r0 - v^T C v and the missing block's
    log-determinant, by models/missing.py's two paths (its compiled loop over rows, or numpy's
    pattern groups), the same numbers its ``observed_e_step`` combines."""
    missing = np.isnan(X)
    observed = ~missing
    x0 = np.where(missing, 0.0, X.astype(np.float64))
    if observed_rows.COMPILED:
        _, quad, log_det_mm, _ = observed_rows._row_blocks(x0, missing, means, precision)
    else:
        r0 = (x0[:, None, :] - means[None]) * observed[:, None, :]  # (n, K, D)
        u = np.einsum("kde,nke->nkd", precision, r0)  # Lambda_k r0_nk
        quad = np.einsum("nkd,nkd->nk", r0, u)
        log_det_mm, _ = observed_rows._pattern_blocks(missing, u, precision, r0, quad)
    return np.maximum(quad, 0), log_det_mm, observed.sum(axis=1)


def log_predictive_observed(model, X, params) -> np.ndarray:
    """ln E[pi_k] + ln St_k(x_n,o) (V6), (n, K), float64: each component's Student-t predictive
    (10.81) marginalised over the row's observed coordinates (a Student-t's marginal keeps its
    degrees of freedom; its scale matrix is the scale's oo block). diag: the product of the
    observed coordinates' 1-D Student-t."""
    mean_precision, means, dof, prec_chol = _float64(params)
    weights = model.weights.expected(np.asarray(params.concentration, dtype=np.float64))  # E[pi_k]
    n_components, dim = means.shape
    X = X.astype(np.float64)
    t_dof, s = model.precision.predictive_t(mean_precision, dof, dim)  # (10.81), (10.82) or their Gamma forms
    if model.precision.factorised:  # diag: a product over d of 1-D Student-t, the observed factors only
        missing = np.isnan(X)
        out = np.zeros((X.shape[0], n_components))
        for k in range(n_components):
            root = prec_chol[k] * np.sqrt(s[k])  # (D,) the square root of each factor's precision
            z2 = np.square((np.where(missing, means[k], X) - means[k]) * root)  # (n, D), 0 where missing
            out[:, k] = np.where(missing, 0.0, student_t_log_pdf(z2, np.log(root), t_dof[k], 1)).sum(axis=1)
    else:
        precision, log_det_half = dense_precision(model.covariance, prec_chol, n_components, dim)
        quad, log_det_mm, n_obs = _observed_blocks(X, means, precision)
        n_obs = n_obs[:, None].astype(np.float64)
        # (V6): the observed block of L_k^{-1} has inverse s_k (A_k / A_k,mm), the Schur complement, with
        # ln|.|^(1/2) = d_o/2 ln s_k + ln|A_k|^(1/2) - ln|A_k,mm|^(1/2)
        out = student_t_log_pdf(s * quad, log_det_half - log_det_mm + 0.5 * n_obs * np.log(s), t_dof, n_obs)
    with np.errstate(divide="ignore"):
        return out + np.log(weights)


# ---- an HMM's Gaussian emission (models/hmm_vb.py): frames, with gamma for the responsibilities ----


def emission_log_density(mixture, X, q) -> np.ndarray:
    """ln p~(x_t | k) (n, K) of frames with NaN entries: (V2) without E[ln pi_k], so over the
    observed coordinates; a frame that observes nothing keeps the x_m part alone,
    1/2 E[ln|Lambda_k|] - D / (2 beta_k) - ln|A_k|^(1/2) (<= 0, Jensen; 0 for EM's density 1).
    Complete frames by ``mixture.expected_log_gauss`` (10.46) as they are."""
    return emission_pass(mixture, X, q)[0]


def emission_pass(mixture, X, q):
    """``emission_log_density``, and the ``ObservedFrames`` (models/hmm_missing.py: the partial
    frames' completed moments z and conditional covariances (V1)) that ``emission_statistics`` of
    the same frames reuses instead of computing them again."""
    missing = np.isnan(X)
    complete, empty = ~missing.any(axis=1), missing.all(axis=1)
    partial = ~(complete | empty)
    out = np.empty((X.shape[0], q.means.shape[0]))
    z = extra = None
    if complete.any():
        out[complete] = mixture.expected_log_gauss(X[complete], q, q.means.mean(axis=0))[0]
    if partial.any():
        log_rho, z, extra = expected_log_gauss_observed(mixture, X[partial], q)
        out[partial] = log_rho
    if empty.any():
        mean_precision, means, dof, prec_chol = _float64(q)
        n_components, dim = means.shape
        _, log_det_half = dense_precision(mixture.covariance, prec_chol, n_components, dim)  # ln|A_k|^(1/2)
        e_log_det = np.broadcast_to(mixture.precision.expected_log_det(dof, prec_chol, dim), (n_components,))
        out[empty] = 0.5 * e_log_det - 0.5 * dim / mean_precision - log_det_half  # (V2) with o empty
    return out, ObservedFrames(complete, empty, z, extra)


def emission_statistics(mixture, X, gamma, frame_weight, q, kept: ObservedFrames | None = None) -> GaussianStats:
    """(V4) with r_tk = gamma_tk, about m_k, of frames with NaN entries: complete frames by
    ``mixture.statistics``; the others' completed frames and C_tk (V1); a frame that observes
    nothing completes to m_k with C_tk = A_k^{-1}. ``kept``: what ``emission_pass`` of the same X
    and q kept (else the partial frames' E-step is computed here)."""
    _, means, _, prec_chol = _float64(q)
    n_components, dim = means.shape
    if kept is None:
        missing = np.isnan(X)
        kept = ObservedFrames(~missing.any(axis=1), missing.all(axis=1))
    complete, empty, partial = kept.complete, kept.empty, kept.partial
    w = np.ones(X.shape[0]) if frame_weight is None else np.asarray(frame_weight, dtype=np.float64)
    wgamma = gamma * w[:, None]  # (n, K) w_t gamma_tk
    first, dense = np.zeros((n_components, dim)), np.zeros((n_components, dim, dim))
    if partial.any():
        z, extra = kept.z, kept.extra
        if z is None:  # only z and C: gamma weighs them
            _, z, extra = expected_log_gauss_observed(mixture, X[partial], q)
        first, dense = observed_moments(z, wgamma[partial], extra, dim)
    if empty.any():  # x_hat = m_k (nothing to the first moment), C = A_k^{-1}
        inverse = np.asarray(mixture.covariance.dense_covariance(prec_chol, n_components, dim), dtype=np.float64)
        dense = dense + wgamma[empty].sum(axis=0)[:, None, None] * inverse
    rest = GaussianStats(shift=means, mass=wgamma[~complete].sum(axis=0), first=first,
                         scatter=mixture.covariance.fold_scatter(dense), log_norm=0.0,
                         weight_sum=float(w[~complete].sum()))
    if not complete.any():
        return rest
    return mixture.statistics(X[complete], gamma[complete], None if frame_weight is None else w[complete],
                              q.means) + rest
