"""Conjugate priors on the component precisions for variational Bayes: one object per
covariance type, built once from the covariance strategy by ``registry.make_precision_prior``.

Every type keeps the Gaussian-on-the-mean factor of PRML's Gaussian-Wishart (10.40),
mu_k | Lambda_k ~ N(m_0, (beta_0 Lambda_k)^{-1}); what differs is the prior on Lambda_k:

type       prior on the precision                          posterior (given N_k, xbar_k, S_k)
full       Wishart W(Lambda_k | W_0, nu_0) per component    (10.62), (10.63)
tied       one Wishart W(Lambda | W_0, nu_0) shared          nu = nu_0 + N, W^{-1} summed over k
diag       Gamma(lambda_kd | nu_0/2, psi_0d/2) per dim       nu_k = nu_0 + N_k, psi_kd as (10.62)
spherical  Gamma(lambda_k | D nu_0/2, D psi_0/2)             nu_k = nu_0 + N_k, psi_k as (10.62)/D

The diag prior is the law of the diagonal of a Wishart with diagonal W_0 = diag(1/psi_0) (each
entry is nu_0 W_0,dd chi^2_nu_0); the spherical one is a Gamma with the same mean nu_0 / psi_0.
With these, the posterior psi (``scale``) and nu are exactly scikit-learn's ``covariances_ *
degrees_of_freedom_`` and ``degrees_of_freedom_`` for full, diag and spherical. Two documented
differences: (1) scikit-learn's diag/spherical E[ln|Lambda_k|] uses the D-dimensional Wishart
digamma sum (B.81), which is not the expectation under any of its updates; we use the Gamma's
(B.30), so responsibilities (and fits) differ slightly. (2) scikit-learn's tied posterior uses
nu_0 + N/K and a scatter divided by K; one shared Wishart gives nu = nu_0 + N and the full scatter,
which is what we use.

Stored parametrisation, as in the covariance strategies: ``prec_chol`` is the Cholesky factor of
E[Lambda_k] = nu_k W_k (B.80), (K, D, D) | (D, D) | (K, D) | (K,), so ``mahalanobis`` with it gives
nu_k (x - m_k)^T W_k (x - m_k), the data term of (10.64), and ``covariance(prec_chol)`` is
W_k^{-1} / nu_k, scikit-learn's ``covariances_``. ``scale`` (Psi = W^{-1}) is never inverted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from .conjugate_map import conjugate_log_prior, conjugate_mode

_LOG_PI = np.log(np.pi)


@dataclass(frozen=True, eq=False)
class NormalPrecisionPrior:
    mean_precision: float  # beta_0
    mean: np.ndarray  # m_0 (D,)
    dof: float  # nu_0
    scale: np.ndarray  # Psi_0 = W_0^{-1}: (D, D) full/tied | (D,) diag | () spherical


def _wishart_terms(dof, dim):
    """sum_{i=1}^{D} psi((nu + 1 - i)/2) (B.81) and ln Gamma_D(nu/2) (B.79), elementwise in nu."""
    half = (np.asarray(dof, dtype=np.float64)[..., None] + 1 - np.arange(1, dim + 1)) / 2  # (..., D)
    log_multigamma = dim * (dim - 1) / 4 * _LOG_PI + gammaln(half).sum(axis=-1)
    return digamma(half).sum(axis=-1), log_multigamma


def wishart_kl(dim, dof, log_det_w, trace_psi0_w, dof_0, log_det_w0):
    """KL(W(W, nu) || W(W_0, nu_0)) = -H[q] - E_q[ln p], elementwise.

    ln B(W, nu) = -nu/2 ln|W| - nu D/2 ln 2 - ln Gamma_D(nu/2)            (B.79)
    E[ln|Lambda|] = sum_i psi((nu + 1 - i)/2) + D ln 2 + ln|W|           (B.81)
    H[q] = -ln B(W, nu) - (nu - D - 1)/2 E[ln|Lambda|] + nu D/2           (B.82)
    E_q[ln p] = ln B(W_0, nu_0) + (nu_0 - D - 1)/2 E[ln|Lambda|] - nu/2 tr(W_0^{-1} W)   (B.78, B.80)
    """
    digamma_sum, log_multigamma = _wishart_terms(dof, dim)
    _, log_multigamma_0 = _wishart_terms(dof_0, dim)
    log_b = -dof / 2 * log_det_w - dof * dim / 2 * np.log(2) - log_multigamma  # (B.79)
    log_b_0 = -dof_0 / 2 * log_det_w0 - dof_0 * dim / 2 * np.log(2) - log_multigamma_0  # (B.79)
    e_log_det = digamma_sum + dim * np.log(2) + log_det_w  # (B.81)
    return log_b - log_b_0 + (dof - dof_0) / 2 * e_log_det - dof * dim / 2 + dof / 2 * trace_psi0_w


def gamma_kl(shape, rate, shape_0, rate_0):
    """KL(Gam(a, b) || Gam(a_0, b_0)) elementwise, from ln Gam = a ln b - ln Gamma(a) +
    (a - 1) ln lambda - b lambda (B.26) with E[lambda] = a/b (B.27), E[ln lambda] = psi(a) - ln b
    (B.30): (a - a_0) psi(a) - ln Gamma(a) + ln Gamma(a_0) + a_0 ln(b/b_0) + a (b_0/b - 1)."""
    return ((shape - shape_0) * digamma(shape) - gammaln(shape) + gammaln(shape_0)
            + shape_0 * np.log(rate / rate_0) + shape * (rate_0 / rate - 1))


def student_t_log_pdf(maha, log_det_half, dof, dim):
    """ln St(x | mu, Lambda, nu) (B.68) from Delta^2 = (x - mu)^T Lambda (x - mu) and
    ln|Lambda|^(1/2): ln Gamma((nu+D)/2) - ln Gamma(nu/2) - D/2 ln(nu pi) + 1/2 ln|Lambda|
    - (nu+D)/2 ln(1 + Delta^2/nu)."""
    norm = gammaln((dof + dim) / 2) - gammaln(dof / 2) - dim / 2 * np.log(dof * np.pi) + log_det_half
    return norm - (dof + dim) / 2 * np.log1p(maha / dof)


def _check_finite(value, expected_shape, type_name):
    value = np.asarray(value, dtype=np.float64)
    if value.shape != expected_shape:
        raise ValueError(f"covariance_prior has shape {value.shape}; expected {expected_shape} for "
                         f"covariance_type={type_name!r}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"covariance_prior contains NaN or infinity; expected finite values for "
                         f"covariance_type={type_name!r}")
    return value


class WishartFull:
    """A Wishart prior on each component's precision (10.40)."""

    mode = conjugate_mode  # MAP EM's M-step and log prior (conjugate_map)
    log_prior = conjugate_log_prior

    def __init__(self, covariance):
        self.covariance = covariance

    def check_scale(self, value, n_features):
        name = self.covariance.name
        value = _check_finite(value, (n_features, n_features), name)
        if not np.allclose(value, value.T, rtol=1e-10, atol=1e-12):
            raise ValueError(f"covariance_prior is not symmetric; expected a symmetric positive definite "
                             f"(n_features, n_features) matrix for covariance_type={name!r}")
        try:
            np.linalg.cholesky(value)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"covariance_prior is not positive definite (smallest eigenvalue "
                f"{np.linalg.eigvalsh(value)[0]:.3g}); expected a symmetric positive definite matrix "
                f"for covariance_type={name!r}") from None
        return value

    def default_scale(self, data_covariance):
        return data_covariance  # (D, D), the empirical covariance

    # ---- MAP EM (estimators/priors.py): the same prior read as a density on Sigma, and its mode ----------

    def min_dof(self, dim):
        return dim - 1.0  # a proper (inverse) Wishart needs nu > D - 1

    def from_total(self, dof, scale, dim):
        return dof, scale

    def mode_offset(self, n_components, dim):
        # IW(Sigma | nu, Psi) times N(mu | m, Sigma / beta) is |Sigma|^{-(nu + D + 2)/2} exp(...):
        # its mode is Psi / (nu + D + 2) (Fraley and Raftery 2007, Table 2, VVV).
        return dim + 2.0

    def log_density(self, prior, prec_chol, dim):
        """sum_k ln IW(Sigma_k | nu_0, Psi_0) from the factors P_k of Sigma_k^{-1}:
        nu/2 ln|Psi| - nu D/2 ln 2 - ln Gamma_D(nu/2) - (nu + D + 1)/2 ln|Sigma| - tr(Psi Sigma^{-1})/2."""
        _, log_multigamma = _wishart_terms(prior.dof, dim)
        lower_0 = np.linalg.cholesky(prior.scale)  # Psi_0 = L_0 L_0^T
        log_det_psi = 2 * np.log(np.diagonal(lower_0)).sum()
        log_det_sigma = -2 * self.covariance.log_det_half(prec_chol, dim)  # ln|Sigma_k|
        trace = np.square(lower_0.T @ prec_chol).sum(axis=(-2, -1))  # tr(Psi_0 P_k P_k^T)
        log_p = (prior.dof / 2 * log_det_psi - prior.dof * dim / 2 * np.log(2) - log_multigamma
                 - (prior.dof + dim + 1) / 2 * log_det_sigma - trace / 2)
        return float(np.sum(log_p))

    def posterior(self, prior, mass, cov, diff, mean_precision):
        """(nu_k, factor of nu_k W_k) from N_k, S_k (+ reg_covar) and xbar_k - m_0."""
        dof = prior.dof + mass  # (10.63), the corrected form nu_0 + N_k (erratum: not + N_k + 1)
        shrink = prior.mean_precision * mass / mean_precision  # beta_0 N_k / (beta_0 + N_k)
        # (10.62): W_k^{-1} = W_0^{-1} + N_k S_k + beta_0 N_k / (beta_0 + N_k) (xbar_k - m_0)(.)^T
        scale = prior.scale + mass[:, None, None] * cov + shrink[:, None, None] * (diff[:, :, None] * diff[:, None, :])
        return dof, self.covariance.precision_chol(scale / dof[:, None, None])  # E[Lambda_k] = nu_k W_k (B.80)

    def expected_log_det(self, dof, prec_chol, dim):
        digamma_sum, _ = _wishart_terms(dof, dim)
        # (10.65) = (B.81) with ln|W_k| = ln|nu_k W_k| - D ln nu_k = 2 sum ln P_dd - D ln nu_k
        return digamma_sum + dim * np.log(2 / dof) + 2 * self.covariance.log_det_half(prec_chol, dim)

    def kl(self, prior, dof, prec_chol, dim):
        lower_0 = np.linalg.cholesky(prior.scale)  # Psi_0 = L_0 L_0^T
        log_det_w = 2 * self.covariance.log_det_half(prec_chol, dim) - dim * np.log(dof)
        log_det_w0 = -2 * np.log(np.diagonal(lower_0)).sum()  # ln|W_0| = -ln|Psi_0|
        # tr(W_0^{-1} W_k) = tr(Psi_0 P_k P_k^T) / nu_k = |L_0^T P_k|_F^2 / nu_k: no inverse.
        trace = np.square(lower_0.T @ prec_chol).sum(axis=(-2, -1)) / dof
        return float(np.sum(wishart_kl(dim, dof, log_det_w, trace, prior.dof, log_det_w0)))

    factorised = False  # the predictive is one D-dimensional Student-t per component

    def predictive_t(self, mean_precision, dof, dim):
        """(degrees of freedom, s_k) of the Student-t predictive, whose precision is s_k E[Lambda_k]."""
        t_dof = dof + 1 - dim  # (10.81)
        return t_dof, t_dof * mean_precision / ((1 + mean_precision) * dof)  # (10.82): L_k = s_k nu_k W_k

    def log_predictive(self, Xc, means_c, mean_precision, dof, prec_chol):
        """ln St(x_n | m_k, L_k, nu_k + 1 - D) per component (10.81), (n, K)."""
        dim = Xc.shape[1]
        t_dof = dof + 1 - dim  # (10.81)
        # (10.82): L_k = (nu_k + 1 - D) beta_k / (1 + beta_k) W_k = s_k (nu_k W_k)
        s = t_dof * mean_precision / ((1 + mean_precision) * dof)
        maha = self.covariance.mahalanobis(Xc, means_c, prec_chol) * s
        log_det_half = self.covariance.log_det_half(prec_chol, dim) + dim / 2 * np.log(s)
        return student_t_log_pdf(maha, log_det_half, t_dof, dim)


class WishartTied:
    """One Wishart prior on the precision every component shares; the K mean factors each hold
    one N(m_0, (beta_0 Lambda)^{-1}). Only the posterior differs from the per-component case: the
    other methods are the full ones, which broadcast over a single factor and a scalar nu."""

    mode = conjugate_mode  # MAP EM's M-step and log prior (conjugate_map)
    log_prior = conjugate_log_prior

    __init__ = WishartFull.__init__
    check_scale = WishartFull.check_scale
    default_scale = WishartFull.default_scale
    min_dof = WishartFull.min_dof
    from_total = WishartFull.from_total
    log_density = WishartFull.log_density

    def mode_offset(self, n_components, dim):
        # One IW(Sigma | nu, Psi) and K mean factors N(mu_k | m, Sigma / beta): the mode of
        # |Sigma|^{-(nu + D + 1 + K)/2} exp(...) is Psi / (nu + D + 1 + K).
        return dim + 1.0 + n_components
    expected_log_det = WishartFull.expected_log_det
    kl = WishartFull.kl
    log_predictive = WishartFull.log_predictive
    factorised = WishartFull.factorised
    predictive_t = WishartFull.predictive_t

    def posterior(self, prior, mass, cov, diff, mean_precision):
        total = mass.sum()
        dof = np.asarray(prior.dof + total)  # nu_0 + N: every row informs the one Lambda
        shrink = prior.mean_precision * mass / mean_precision  # (K,)
        # (10.62) summed over k: Psi_0 + sum_k N_k S_k + sum_k beta_0 N_k / beta_k (xbar_k - m_0)(.)^T,
        # with sum_k N_k S_k = N S_tied (the pooled covariance of the tied strategy).
        scale = prior.scale + total * cov + (diff * shrink[:, None]).T @ diff
        return dof, self.covariance.precision_chol(scale / dof)


class GammaDiag:
    """Independent Gamma(lambda_kd | nu_0/2, psi_0d/2) priors on the diagonal precisions."""

    mode = conjugate_mode  # MAP EM's M-step and log prior (conjugate_map)
    log_prior = conjugate_log_prior

    def __init__(self, covariance):
        self.covariance = covariance

    def check_scale(self, value, n_features):
        value = _check_finite(value, (n_features,), "diag")
        if np.any(value <= 0):
            raise ValueError(f"covariance_prior has entries <= 0 (min {value.min():.3g}); expected positive "
                             "variances for covariance_type='diag'")
        return value

    def default_scale(self, data_covariance):
        return np.diagonal(data_covariance).copy()  # (D,), the empirical variances

    def min_dof(self, dim):
        return 0.0  # Gamma(nu/2, .) needs nu > 0

    def from_total(self, dof, scale, dim):
        return dof, scale

    def mode_offset(self, n_components, dim):
        # IG(sigma^2 | nu/2, psi/2) times N(mu | m, sigma^2 / beta): mode psi / (nu + 3) per
        # dimension (Fraley and Raftery 2007, the univariate and VVI cases).
        return 3.0

    def log_density(self, prior, prec_chol, dim):
        """sum_kd ln IG(sigma_kd^2 | nu_0/2, psi_0d/2), sigma^2 = 1/P^2 (the Gamma prior (B.26)
        on the precision, read as a density on the variance)."""
        shape, rate = prior.dof / 2, prior.scale / 2  # (), (D,)
        log_var = -2 * np.log(prec_chol)  # (K, D)
        log_p = shape * np.log(rate) - gammaln(shape) - (shape + 1) * log_var - rate * prec_chol**2
        return float(np.sum(log_p))

    def posterior(self, prior, mass, cov, diff, mean_precision):
        dof = prior.dof + mass  # 2 a_k = nu_0 + N_k: each row adds 1/2 to the shape
        shrink = prior.mean_precision * mass / mean_precision
        # 2 b_kd = psi_0d + N_k S_kd + beta_0 N_k / beta_k (xbar_kd - m_0d)^2, the diagonal of (10.62)
        scale = prior.scale + mass[:, None] * cov + shrink[:, None] * diff**2
        return dof, self.covariance.precision_chol(scale / dof[:, None])  # E[lambda_kd] = a/b (B.27)

    def expected_log_det(self, dof, prec_chol, dim):
        # sum_d E[ln lambda_kd] = sum_d psi(a_k) - ln b_kd (B.30), b_kd = nu_k / (2 P_kd^2)
        return dim * (digamma(dof / 2) + np.log(2 / dof)) + 2 * self.covariance.log_det_half(prec_chol, dim)

    def kl(self, prior, dof, prec_chol, dim):
        shape = (dof / 2)[:, None]  # (K, 1)
        rate = dof[:, None] / (2 * prec_chol**2)  # (K, D) b_kd = psi_kd / 2
        return float(np.sum(gamma_kl(shape, rate, prior.dof / 2, prior.scale / 2)))

    factorised = True  # the predictive is a product over d of 1-D Student-t

    def predictive_t(self, mean_precision, dof, dim):
        """(degrees of freedom, s_k) of each 1-D Student-t factor, of precision s_k E[lambda_kd]."""
        return dof, mean_precision / (1 + mean_precision)

    def log_predictive(self, Xc, means_c, mean_precision, dof, prec_chol):
        """Product over d of 1-D Student-t: St(x_d | m_kd, P_kd^2 beta_k / (1 + beta_k), nu_k),
        the Normal-Gamma predictive (B.68 with D = 1; 2 a_k = nu_k degrees of freedom)."""
        out = np.empty((Xc.shape[0], means_c.shape[0]), dtype=Xc.dtype)
        for k in range(means_c.shape[0]):
            root = prec_chol[k] * np.sqrt(mean_precision[k] / (1 + mean_precision[k]))  # (D,) sqrt(lambda_t)
            z2 = np.square((Xc - means_c[k]) * root)  # (n, D) Delta^2 per dimension
            per_dim = student_t_log_pdf(z2, np.log(root), dof[k], 1)
            out[:, k] = per_dim.sum(axis=1)
        return out


class GammaSpherical:
    """A Gamma(lambda_k | D nu_0/2, D psi_0/2) prior on each component's precision (lambda_k I)."""

    mode = conjugate_mode  # MAP EM's M-step and log prior (conjugate_map)
    log_prior = conjugate_log_prior

    def __init__(self, covariance):
        self.covariance = covariance

    def check_scale(self, value, n_features):
        value = _check_finite(value, (), "spherical")
        if value <= 0:
            raise ValueError(f"covariance_prior={float(value)!r}; expected a positive variance for "
                             "covariance_type='spherical'")
        return value

    def default_scale(self, data_covariance):
        return np.asarray(np.diagonal(data_covariance).mean())  # the mean empirical variance

    def min_dof(self, dim):
        return 0.0

    def from_total(self, dof, scale, dim):
        # mclust's IG(sigma^2 | nu_P/2, lambda_P/2) is this class's Gamma(D nu_0/2, D psi_0/2)
        # on the precision with nu_0 = nu_P / D and psi_0 = lambda_P / D.
        return dof / dim, scale / dim

    def mode_offset(self, n_components, dim):
        # IG(sigma^2 | D nu/2, D psi/2) times N(mu | m, sigma^2 I / beta): mode
        # D psi / (D nu + D + 2) = psi / (nu + 1 + 2/D) (Fraley and Raftery 2007, VII).
        return 1.0 + 2.0 / dim

    def log_density(self, prior, prec_chol, dim):
        """sum_k ln IG(sigma_k^2 | D nu_0/2, D psi_0/2), sigma^2 = 1/P^2."""
        shape, rate = dim * prior.dof / 2, dim * prior.scale / 2
        log_var = -2 * np.log(prec_chol)  # (K,)
        log_p = shape * np.log(rate) - gammaln(shape) - (shape + 1) * log_var - rate * prec_chol**2
        return float(np.sum(log_p))

    def posterior(self, prior, mass, cov, diff, mean_precision):
        dof = prior.dof + mass  # 2 a_k / D = nu_0 + N_k: each row adds D/2 to the shape
        shrink = prior.mean_precision * mass / mean_precision
        dim = diff.shape[1]
        # 2 b_k / D = psi_0 + N_k s_k + beta_0 N_k / beta_k |xbar_k - m_0|^2 / D, the trace of (10.62) / D
        scale = prior.scale + mass * cov + shrink * (diff**2).sum(axis=1) / dim
        return dof, self.covariance.precision_chol(scale / dof)  # E[lambda_k] = a_k / b_k (B.27)

    def expected_log_det(self, dof, prec_chol, dim):
        # D E[ln lambda_k] = D (psi(a_k) - ln b_k) (B.30), a_k = D nu_k / 2, b_k = a_k / P_k^2
        return dim * (digamma(dim * dof / 2) - np.log(dim * dof / 2)) + 2 * self.covariance.log_det_half(prec_chol, dim)

    def kl(self, prior, dof, prec_chol, dim):
        shape = dim * dof / 2
        return float(np.sum(gamma_kl(shape, shape / prec_chol**2, dim * prior.dof / 2, dim * prior.scale / 2)))

    factorised = False

    def predictive_t(self, mean_precision, dof, dim):
        """(degrees of freedom, s_k) of the Student-t predictive, whose precision is s_k E[lambda_k] I."""
        return dim * dof, mean_precision / (1 + mean_precision)  # (B.68) with 2 a_k = D nu_k

    def log_predictive(self, Xc, means_c, mean_precision, dof, prec_chol):
        """Multivariate St(x | m_k, P_k^2 beta_k / (1 + beta_k) I, D nu_k): the isotropic
        Normal-Gamma predictive (B.68 with 2 a_k = D nu_k degrees of freedom)."""
        dim = Xc.shape[1]
        s = mean_precision / (1 + mean_precision)
        maha = self.covariance.mahalanobis(Xc, means_c, prec_chol) * s
        log_det_half = self.covariance.log_det_half(prec_chol, dim) + dim / 2 * np.log(s)
        return student_t_log_pdf(maha, log_det_half, dim * dof, dim)


def default_scale(precision, data_covariance: np.ndarray, n_features: int, reg_covar: float,
                  name: str = "covariance_prior") -> np.ndarray:
    """The default scale of ``precision`` (a Wishart or Gamma prior of this module) from the data's
    covariance (D, D): the empirical covariance in the type's shape, as scikit-learn uses it; where
    that is not positive definite (a constant feature, or n_samples <= n_features) ``reg_covar`` is
    added to its diagonal (our addition), which keeps the prior proper and the ELBO finite.
    ``name``: the argument left None, for the error when even that fails."""
    try:
        return precision.check_scale(precision.default_scale(data_covariance), n_features)
    except ValueError:
        pass
    ridged = data_covariance + reg_covar * np.eye(n_features)
    try:
        return precision.check_scale(precision.default_scale(ridged), n_features)
    except ValueError:
        raise ValueError(
            f"{name}=None: the empirical covariance of X plus reg_covar={reg_covar!r} "
            "is not positive definite (a constant feature, or n_samples <= n_features); expected "
            f"an explicit {name} or reg_covar > 0") from None
