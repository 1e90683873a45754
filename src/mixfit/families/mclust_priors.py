"""MAP for the constrained mclust families: mclust's conjugate prior (priorControl, Fraley and
Raftery 2007) on EII, EEI, VEI, EVI, EEV and VEV, the six of the ten with a prior in mclust.

For every family the prior's M-step is the family's maximum-likelihood M-step
(``mclust_msteps``) applied to augmented statistics. With the mean at its mode
mu_k = (N_k xbar_k + kappa mu_P) / (N_k + kappa), the expected complete-data log posterior in
the covariances is

    -1/2 sum_k [ (N_k + a_k) ln|Sigma_k| + tr((W_k + c_k d_k d_k^T + s Lambda_P) Sigma_k^{-1}) ]

with W_k = N_k (S_k + reg_covar I) the scatter about xbar_k, d_k = xbar_k - mu_P and
c_k = kappa N_k / (kappa + N_k): the ML objective F of ``mclust_msteps`` for the masses
N_k + a_k and the scatters W_k + c_k d_k d_k^T + s Lambda_P. Each family's extra mass a_k and
share s of the scale are those of mclust 6.0.0's me() (read from its output, never from its
source: ``tests/fixtures/mclust/make_prior_fixtures.R`` and ``tests/test_mclust_prior.py``;
derived in docs/math/mclust_families.md, with what mclust does differently):

family  a_k (each component)   s      scale Lambda_P
EII     1 + (nu + 2) / (K D)   0      unused (mclust's EII M-step has no scale term)
EEI     (nu + 2) / K           1/K    a variance lambda_P (mclust's number)
VEI     (nu + 3) / D           1      a variance lambda_P
EVI     (nu + 2) / K           1      a variance lambda_P
EEV     (nu + D + 2) / K       1      a matrix (D, D)
VEV     0                      1      a matrix (D, D); nu unused

For the equal-volume families only the sum over k of a_k enters (their volume is common), so
it is split evenly. With K = 1 the families of a form are one model, and mclust fits it with
VII's, VVI's or VVV's prior (its single-Gaussian fits); so does ``_SINGLE``. The log prior is
the density (unnormalised) whose mode this is,

    ln p(mu, Sigma) = -1/2 sum_k [ a_k ln|Sigma_k| + s tr(Lambda_P Sigma_k^{-1})
                                   + kappa (mu_k - mu_P)^T Sigma_k^{-1} (mu_k - mu_P) ] + const,

so EM on ln L + ln p never decreases (the M-step is its exact maximiser, up to the inner loops'
tolerance for VEI and VEV). VEE, EVE, VVE and EVV have no prior in mclust: MAP refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import mclust_msteps as msteps


@dataclass(frozen=True)
class _Rule:
    """How mclust's hyper-parameters enter one family's M-step (the module's table)."""

    extra_mass: object  # (nu, K, D) -> a_k
    scale_share: object  # (K, D) -> s
    form: str  # of the covariances: "full" (K, D, D), "diag" (K, D) or "spherical" (K,, tr / D)

    @property
    def matrix_scale(self):
        return self.form == "full"  # Lambda_P (D, D); else a variance lambda_P


_RULES = {
    "EII": _Rule(lambda nu, K, D: 1.0 + (nu + 2.0) / (K * D), lambda K, D: 0.0, "spherical"),
    "EEI": _Rule(lambda nu, K, D: (nu + 2.0) / K, lambda K, D: 1.0 / K, "diag"),
    "VEI": _Rule(lambda nu, K, D: (nu + 3.0) / D, lambda K, D: 1.0, "diag"),
    "EVI": _Rule(lambda nu, K, D: (nu + 2.0) / K, lambda K, D: 1.0, "diag"),
    "EEV": _Rule(lambda nu, K, D: (nu + D + 2.0) / K, lambda K, D: 1.0, "full"),
    "VEV": _Rule(lambda nu, K, D: 0.0, lambda K, D: 1.0, "full"),
}
# With one component the families of a form are one model (EII = VII, the diagonal ones = VVI,
# EEV = VEV = VVV), and mclust fits it once, with VII's, VVI's or VVV's prior (its mvnXII, mvnXXI,
# mvnXXX): (M.2 spherical), (M.2 diag) with a variance lambda_P, (M.2).
_SINGLE = {
    # in EII's form, tr(Sigma) / D, VII's lambda_P (once in the trace) is lambda_P / D
    "spherical": _Rule(lambda nu, K, D: 1.0 + (nu + 2.0) / D, lambda K, D: 1.0 / D, "spherical"),
    "diag": _Rule(lambda nu, K, D: nu + 3.0, lambda K, D: 1.0, "diag"),
    "full": _Rule(lambda nu, K, D: nu + D + 2.0, lambda K, D: 1.0, "full"),
}
# The families whose prior mclust supports (its own four included), for the refusal's message.
MCLUST_PRIOR_MODELS = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV")


class MclustPrior:
    """mclust's conjugate prior on one constrained family, for MAP EM (not variational Bayes).

    Built by ``registry.make_map_prior``; ``estimators.priors.resolve_prior`` fills the
    hyper-parameters (kappa, nu, mu_P, and the scale: a variance for EII, EEI, VEI, EVI, a
    (D, D) matrix for EEV, VEV, both mclust's defaults) and ``GaussianEM`` calls ``mode`` and
    ``log_prior``.
    """

    def __init__(self, covariance):
        self.covariance = covariance
        self.rule = _RULES[covariance.name]

    def min_dof(self, dim):
        # an inverse Wishart needs nu > D - 1, an inverse Gamma nu > 0 (mclust's own ranges)
        return dim - 1.0 if self.rule.matrix_scale else 0.0

    def from_total(self, dof, scale, dim):
        return dof, scale  # stored in mclust's parametrisation

    def default_scale(self, data_covariance):
        """mclust's defaultPrior scale before its K^(2/D): var(X), or its mean diagonal."""
        if self.rule.matrix_scale:
            return data_covariance
        return np.asarray(np.trace(data_covariance) / data_covariance.shape[0])

    def check_scale(self, value, n_features):
        name = self.covariance.name
        if not self.rule.matrix_scale:
            number = np.asarray(value) if not isinstance(value, bool) else None
            if number is None or number.ndim != 0 or not np.issubdtype(number.dtype, np.number) \
                    or not np.isfinite(number) or number <= 0:
                raise ValueError(f"covariance_prior={value!r}; expected a finite variance > 0 (a number, as "
                                 f"mclust's) for covariance_type={name!r}")
            return np.asarray(float(number))
        value = np.asarray(value, dtype=np.float64)
        if value.shape != (n_features, n_features) or not np.all(np.isfinite(value)):
            raise ValueError(f"covariance_prior has shape {value.shape}; expected finite values of shape "
                             f"(n_features, n_features) = ({n_features}, {n_features}) for "
                             f"covariance_type={name!r}")
        if not np.allclose(value, value.T, rtol=1e-10, atol=1e-12) or np.linalg.eigvalsh(value)[0] <= 0:
            raise ValueError(f"covariance_prior is not symmetric positive definite; expected such a matrix for "
                             f"covariance_type={name!r}")
        return value

    def _rule(self, n_components):
        return _SINGLE[self.rule.form] if n_components == 1 else self.rule

    def _in_form(self, matrices):
        """(K, D, D) per-component matrices in the family's form: themselves, their diagonals
        (EEI, VEI, EVI), or tr / D (EII)."""
        if self.rule.form == "full":
            return matrices
        diagonals = np.diagonal(matrices, axis1=1, axis2=2)
        return diagonals if self.rule.form == "diag" else diagonals.mean(axis=1)

    def _dense(self, values, dim):
        """Per-component values in the family's form as (K, D, D) matrices."""
        if self.rule.form == "full":
            return values
        diagonals = values if self.rule.form == "diag" else np.repeat(values[:, None], dim, axis=1)
        return diagonals[:, :, None] * np.eye(dim)

    def _constrain(self, covariances, mass):
        """The family's ML M-step for covariances S_k and masses N_k (``mclust_msteps``)."""
        if self.rule.form == "spherical":
            return msteps.eii(covariances, mass)
        return self.covariance.constrain(covariances, mass)  # VEI, VEV: the inner loop is recorded

    def mode(self, prior, stats, mass, cov, reg_covar):
        """The posterior mode of (mu_k, Sigma_k) (the module's note): the means, then the
        family's ML M-step for the augmented masses and scatters."""
        n_components, dim = stats.first.shape
        rule = self._rule(n_components)
        kappa = prior.mean_precision
        d = stats.first / mass[:, None]  # (K, D) xbar_k - c_k
        diff = (stats.shift - prior.mean) + d  # (K, D) xbar_k - mu_P
        # (M.1) mu_k = (N_k xbar_k + kappa mu_P) / (N_k + kappa), about the shift c_k
        means = stats.shift + (mass[:, None] * d + kappa * (prior.mean - stats.shift)) / (mass + kappa)[:, None]
        shrink = kappa * mass / (kappa + mass)  # c_k
        ridged = cov.covariances + (reg_covar * np.eye(dim) if rule.form == "full" else reg_covar)  # S_k + reg I
        outer = self._in_form(diff[:, :, None] * diff[:, None, :])  # d_k d_k^T, in form
        share = rule.scale_share(n_components, dim) * np.asarray(prior.scale)  # s Lambda_P, or s lambda_P
        if rule.form == "diag":
            share = np.full(dim, share)  # lambda_P I's diagonal
        per_component = (-1,) + (1,) * (ridged.ndim - 1)  # N_k, c_k broadcast over the form
        scatter = mass.reshape(per_component) * ridged + shrink.reshape(per_component) * outer + share
        augmented = mass + rule.extra_mass(prior.dof, n_components, dim)  # N_k + a_k
        # (M.3): the family's ML M-step for the masses N_k + a_k and the augmented scatters
        covariances = self._constrain(scatter / augmented.reshape(per_component), augmented)
        return means, self.covariance.precision_chol(covariances)

    def log_prior(self, prior, means, prec_chol) -> float:
        """ln p(mu, Sigma) up to a constant (the module's note)."""
        n_components, dim = means.shape
        covariance = self.covariance
        rule = self._rule(n_components)
        log_det = -2.0 * np.broadcast_to(covariance.log_det_half(prec_chol, dim), (n_components,))  # ln|Sigma_k|
        precision = self._dense(covariance.precision(prec_chol), dim)  # (K, D, D) Sigma_k^{-1}
        scale = np.asarray(prior.scale) if rule.matrix_scale else float(prior.scale) * np.eye(dim)
        trace = np.einsum("ij,kji->k", scale, precision)  # tr(Lambda_P Sigma_k^{-1})
        spread = np.einsum("ki,kij,kj->k", means - prior.mean, precision, means - prior.mean)
        a = rule.extra_mass(prior.dof, n_components, dim)
        return float(-0.5 * (a * log_det + rule.scale_share(n_components, dim) * trace
                             + prior.mean_precision * spread).sum())


class NoMclustPrior:
    """The MAP prior of a family mclust gives none (VEE, EVE, VVE, EVV): building it raises."""

    def __init__(self, covariance):
        raise ValueError(f"covariance_type={covariance.name!r} has no conjugate prior for MAP (prior=...): mclust "
                         f"defines its prior for {', '.join(MCLUST_PRIOR_MODELS)} only (and scikit-learn's "
                         "names of its four)")

