"""Priors on the mixing weights for variational Bayes: one strategy object per prior.

``make_weight_prior(name, concentration)`` is the only place the prior-type string is read.
Each strategy owns, for its q(pi):

- ``posterior(mass)``: the variational posterior's concentration from N_k (the VB M-step);
- ``expected_log(concentration)``: E[ln pi_k], the weight term of ln rho_nk (10.46);
- ``expected(concentration)``: E[pi_k], the public ``weights_``;
- ``kl(concentration)``: KL(q(pi) || p(pi)), the weight term of the ELBO;
- ``attribute(concentration)``: the public ``weight_concentration_`` in scikit-learn's form.

``dirichlet_expected_log`` and ``dirichlet_kl`` are the Dirichlet's E[ln mu_k] and KL along the last
axis, optionally on a support (the HMMs' forbidden transitions, models/hmm_vb.py).

Notation  code            shape    meaning
alpha_0   concentration   float    the prior's concentration (gamma for the Dirichlet process)
alpha_k   concentration   (K,)     Dirichlet posterior (10.58)
(a_k,b_k) concentration   (2, K)   Beta posteriors of the sticks v_k (Blei & Jordan 2006)

The Dirichlet process is truncated in q(Z) (Kurihara, Welling & Vlassis 2007, as scikit-learn):
rows are assigned to the first K sticks only, every stick keeps a free Beta posterior, and the
sticks beyond K keep their prior (they add nothing to the ELBO). The bound is then a bound on the
marginal likelihood of the infinite mixture, and E[pi_k] over k <= K sums to less than one: the
public ``weights_`` renormalise them, as scikit-learn does.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln


def _on_support(alpha: np.ndarray, support) -> np.ndarray:
    """alpha with the entries off ``support`` set to 1: ln Gamma(1) = 0 and psi(1) is finite, so
    they drop out of the sums below once the total is taken over the support only."""
    return alpha if support is None else np.where(support, alpha, 1.0)


def _support_total(alpha: np.ndarray, support) -> np.ndarray:
    """alpha_hat = sum_k alpha_k over the support, along the last axis (keepdims)."""
    inside = alpha if support is None else np.where(support, alpha, 0.0)
    return inside.sum(axis=-1, keepdims=True)


def dirichlet_expected_log(alpha: np.ndarray, support=None) -> np.ndarray:
    """E[ln mu_k] = psi(alpha_k) - psi(alpha_hat) along the last axis (B.21).

    ``support`` (bool, alpha's shape, or None for all): the Dirichlet lives on the True entries
    only; off it mu_k = 0 surely and E[ln mu_k] = -inf (an HMM's forbidden transition).
    """
    e_log = digamma(_on_support(alpha, support)) - digamma(_support_total(alpha, support))
    return e_log if support is None else np.where(support, e_log, -np.inf)


def dirichlet_kl(alpha: np.ndarray, alpha_0: np.ndarray, support=None) -> np.ndarray:
    """KL(Dir(alpha) || Dir(alpha_0)) along the last axis, both on the same ``support``.

    E_q[ln q] - E_q[ln p] with ln Dir = ln C + sum (alpha_k - 1) ln mu_k (B.16), E_q[ln mu_k] from
    (B.21): the difference of (10.76) and (10.73). Off the support both are 1 (``_on_support``):
    their terms vanish.
    """
    a, a_0 = _on_support(alpha, support), _on_support(alpha_0, support)
    total, total_0 = _support_total(alpha, support)[..., 0], _support_total(alpha_0, support)[..., 0]
    e_log = digamma(a) - digamma(total)[..., None]  # (B.21), finite everywhere
    log_norm = gammaln(total) - gammaln(a).sum(axis=-1)  # ln C(alpha) (B.23) on the support
    log_norm_0 = gammaln(total_0) - gammaln(a_0).sum(axis=-1)
    return log_norm - log_norm_0 + ((a - a_0) * e_log).sum(axis=-1)


def _dirichlet_expected_log(alpha: np.ndarray) -> np.ndarray:
    """E[ln mu_k] on the whole simplex (B.21)."""
    return dirichlet_expected_log(alpha)


def _dirichlet_kl(alpha: np.ndarray, alpha_0: np.ndarray) -> np.ndarray:
    """KL(Dir(alpha) || Dir(alpha_0)) on the whole simplex."""
    return dirichlet_kl(alpha, alpha_0)


class DirichletWeights:
    """Finite symmetric Dirichlet prior Dir(pi | alpha_0) (10.39)."""

    name = "dirichlet_distribution"

    def __init__(self, concentration: float):
        self.concentration = float(concentration)

    def posterior(self, mass: np.ndarray) -> np.ndarray:
        return self.concentration + mass  # (10.58) alpha_k = alpha_0 + N_k

    def expected_log(self, alpha: np.ndarray) -> np.ndarray:
        return _dirichlet_expected_log(alpha)  # (10.66) psi(alpha_k) - psi(alpha_hat)

    def expected(self, alpha: np.ndarray) -> np.ndarray:
        return alpha / alpha.sum()  # (B.17) E[pi_k] = alpha_k / alpha_hat

    def kl(self, alpha: np.ndarray) -> float:
        return float(_dirichlet_kl(alpha, np.full_like(alpha, self.concentration)))

    def attribute(self, alpha: np.ndarray):
        return alpha


class StickBreakingWeights:
    """Dirichlet-process prior by stick breaking: pi_k = v_k prod_{j<k} (1 - v_j),
    v_k ~ Beta(1, gamma) (Blei & Jordan 2006; a Beta is the K = 2 Dirichlet of B.16)."""

    name = "dirichlet_process"

    def __init__(self, concentration: float):
        self.concentration = float(concentration)

    def posterior(self, mass: np.ndarray) -> np.ndarray:
        # Beta(1 + N_k, gamma + sum_{j>k} N_j): the stick v_k is "taken" by rows of k and
        # "passed on" by rows of every later component.
        later = np.concatenate([np.cumsum(mass[::-1])[-2::-1], [0.0]])  # sum_{j>k} N_j, (K,)
        return np.stack([1.0 + mass, self.concentration + later])  # (2, K)

    def expected_log(self, ab: np.ndarray) -> np.ndarray:
        # E[ln v_k] and E[ln(1 - v_k)] from (B.21) with the pair (a_k, b_k) as a 2-Dirichlet.
        e_log = _dirichlet_expected_log(ab.T)  # (K, 2)
        # E[ln pi_k] = E[ln v_k] + sum_{j<k} E[ln(1 - v_j)], the q(v_j) being independent.
        return e_log[:, 0] + np.concatenate([[0.0], np.cumsum(e_log[:-1, 1])])

    def expected(self, ab: np.ndarray) -> np.ndarray:
        taken = ab[0] / ab.sum(axis=0)  # (B.7) E[v_k] = a_k / (a_k + b_k)
        # E[pi_k] = E[v_k] prod_{j<k} E[1 - v_j], renormalised over the K sticks (module note).
        weights = taken * np.concatenate([[1.0], np.cumprod(1.0 - taken[:-1])])
        return weights / weights.sum()

    def kl(self, ab: np.ndarray) -> float:
        prior = np.broadcast_to(np.array([1.0, self.concentration]), ab.T.shape)
        return float(_dirichlet_kl(ab.T, prior).sum())  # sum_k KL(Beta(a_k, b_k) || Beta(1, gamma))

    def attribute(self, ab: np.ndarray):
        return (ab[0], ab[1])  # scikit-learn's (a, b) tuple


_PRIORS = {
    "dirichlet_process": StickBreakingWeights,
    "dirichlet_distribution": DirichletWeights,
}
WEIGHT_PRIOR_TYPES = tuple(_PRIORS)


def make_weight_prior(name: str, concentration: float):
    """The weight-prior strategy for ``name``: the only place the prior-type string is read."""
    try:
        kind = _PRIORS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"weight_concentration_prior_type={name!r} is not one of {list(WEIGHT_PRIOR_TYPES)}"
        ) from None
    return kind(concentration)
