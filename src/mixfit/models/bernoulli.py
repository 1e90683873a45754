"""Mixtures of Bernoulli distributions by EM (PRML 9.3.3) and by variational Bayes.

Notation  code              shape     public attribute
pi_k      weights           (K,)      weights_                 (EM; VB: E[pi_k])
mu_ki     means             (K, D)    means_                   success probabilities (VB: E[mu_ki])
a_0, b_0  prior.alpha/beta  float     alpha_prior_, beta_prior_   Beta(mu_ki | a_0, b_0) prior (B.6)
a_ki,b_ki a, b              (K, D)    beta_posterior_          q(mu_ki) = Beta(a_ki, b_ki) (VB)
alpha_k   concentration     (K,)|(2,K) weight_concentration_   q(pi) (VB; families/weights.py)
ln rho_nk log_rho           (n, K)    -  ln pi_k + ln p(x_n | mu_k) (EM), its expectation (VB)
r_nk      resp              (n, K)    -  gamma(z_nk), (9.56)
N_k       stats.mass        (K,)      -  (9.57), with sample weights w_n

Both models return the same ``BernoulliStats`` from ``accumulate``; they differ only in ln rho,
as the Gaussian pair does. The E-step is two products whatever the storage of X, because
ln p(x | mu_k) (9.48) is linear in x:

    ln p(x | mu_k) = sum_i x_i ln mu_ki + (1 - x_i) ln(1 - mu_ki)
                   = x . (ln mu_k - ln(1 - mu_k)) + sum_i ln(1 - mu_ki),

so a chunk costs one (n x D) @ (D x K) product, sparse x dense for a CSR chunk, and never a
dense copy of a sparse chunk. Probabilities are kept inside (0, 1) by the Beta prior, never by a
clip: EM finds the posterior mode (9.59 map) (a_0 = b_0 = 1 is maximum likelihood), and VB's
E[ln mu] is finite for every a_ki, b_ki > 0. Under maximum likelihood a mu_ki of exactly 0 or 1
is a legitimate estimate; ``log_bernoulli`` evaluates it exactly (0 ln 0 = 0; a 1 where
mu_ki = 0 has probability 0).

The VB ELBO uses the identity GaussianVB documents: with q(Z) optimal,
ELBO = sum_n w_n ln sum_k rho_nk - KL(q(pi) || p(pi)) - sum_ki KL(q(mu_ki) || p(mu_ki)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import digamma, gammaln

from ..kernels.linalg import normalize_log_rows
from ..stats import BernoulliStats, bernoulli_statistics

# Added to every N_k before dividing, as GaussianEM does, so that an empty component keeps
# finite parameters under maximum likelihood instead of 0/0; 10 ulps of 1.
_MASS_FLOOR = 10 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class BetaPrior:
    """Beta(mu_ki | alpha, beta) on every success probability (B.6)."""

    alpha: float
    beta: float


def as_float_rows(X, dtype):
    """A chunk in the float dtype the maths runs in: a dense array, or a sparse matrix whose
    stored values only are converted (no dense copy). Copies only when the dtype differs."""
    if sparse.issparse(X):
        return X if X.dtype == dtype else X.astype(dtype)
    return np.asarray(X, dtype=dtype)


def log_bernoulli(X, means: np.ndarray) -> np.ndarray:
    """ln p(x_n | mu_k) (9.48), (n, K), for a float chunk (dense or sparse) and means (K, D) in
    [0, 1], exactly: x . logit(mu_k) + sum_i ln(1 - mu_ki), with the limits of 0 and 1 taken
    term by term where a mu_ki is exactly 0 or 1 (maximum likelihood only)."""
    with np.errstate(divide="ignore"):
        log_mu, log_1m = np.log(means), np.log1p(-means)  # (K, D) ln mu, ln(1 - mu)
    zero, one = means == 0, means == 1  # (K, D) where x_i = 1, resp. x_i = 0, is impossible
    if not (zero.any() or one.any()):
        out = X @ (log_mu - log_1m).T  # (n, K) sparse x dense, or BLAS
        out += log_1m.sum(axis=1)
        return np.asarray(out)
    edge = zero | one
    # Those terms contribute 0 (0 ln 0 = 0, and ln 1 = 0) unless x_i hits the impossible value.
    out = np.asarray(X @ np.where(edge, 0.0, log_mu - log_1m).T.astype(means.dtype))
    out += np.where(one, 0.0, log_1m).sum(axis=1)
    ones_at_zero = np.asarray(X @ zero.T.astype(means.dtype))  # (n, K) count of x_i = 1 where mu_ki = 0
    zeros_at_one = one.sum(axis=1) - np.asarray(X @ one.T.astype(means.dtype))  # x_i = 0 where mu_ki = 1
    out[(ones_at_zero > 0) | (zeros_at_one > 0)] = -np.inf
    return out


def _beta_expected_logs(a: np.ndarray, b: np.ndarray):
    """E[ln mu] and E[ln(1 - mu)] under Beta(a, b): (B.21) for the two-state Dirichlet."""
    total = digamma(a + b)
    return digamma(a) - total, digamma(b) - total


def _beta_log_norm(a, b):
    """ln Gamma(a + b) - ln Gamma(a) - ln Gamma(b), the normaliser of (B.6), as (B.23)."""
    return gammaln(a + b) - gammaln(a) - gammaln(b)


def beta_kl(a, b, a0: float, b0: float) -> np.ndarray:
    """KL(Beta(a, b) || Beta(a0, b0)) elementwise: E_q[ln q - ln p] with ln Beta from (B.6) and
    E_q[ln mu], E_q[ln(1 - mu)] from (B.21)."""
    e_log, e_log_1m = _beta_expected_logs(a, b)
    return (_beta_log_norm(a, b) - _beta_log_norm(a0, b0)
            + (a - a0) * e_log + (b - b0) * e_log_1m)


@dataclass(frozen=True, eq=False)
class BernoulliParams:
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)

    def astype(self, dtype) -> BernoulliParams:
        return BernoulliParams(self.weights.astype(dtype, copy=False), self.means.astype(dtype, copy=False))


class BernoulliEM:
    """E-step / M-step of a Bernoulli mixture; the posterior mode under a Beta prior (MAP), which
    is maximum likelihood for the flat prior a_0 = b_0 = 1."""

    def __init__(self, prior: BetaPrior, dtype=np.float64):
        self.prior = prior
        self.dtype = np.dtype(dtype)  # the float dtype the maths runs in (float32 or float64)

    def log_prob_components(self, X, params: BernoulliParams) -> np.ndarray:
        """ln rho_nk = ln pi_k + ln p(x_n | mu_k), (n, K): the numerator of (9.56)."""
        log_rho = log_bernoulli(as_float_rows(X, self.dtype), params.means)
        with np.errstate(divide="ignore"):  # a weight of exactly 0 is an impossible component
            log_rho += np.log(params.weights)
        return log_rho

    def accumulate(self, X, params: BernoulliParams, sample_weight) -> BernoulliStats:
        """E-step on one chunk: responsibilities (9.56), then N_k and N_k xbar_k (9.57), (9.58)."""
        X = as_float_rows(X, self.dtype)
        log_rho = log_bernoulli(X, params.means)  # (n, K)
        with np.errstate(divide="ignore"):
            log_rho += np.log(params.weights)
        resp, log_norm = normalize_log_rows(log_rho)  # (9.56), and ln p(x_n) of (9.51)
        return bernoulli_statistics(X, resp, sample_weight, log_norm)

    def statistics(self, X, resp, sample_weight, shift=None, log_norm=None) -> BernoulliStats:
        """The statistics of given responsibilities (initialisation; ``shift`` is not used)."""
        X = as_float_rows(X, self.dtype)
        return bernoulli_statistics(X, resp.astype(self.dtype, copy=False), sample_weight, log_norm)

    def maximize(self, stats: BernoulliStats, params: BernoulliParams | None) -> BernoulliParams:
        """M-step from summed statistics; float64 maths, returned in the model's dtype."""
        mass = stats.mass + _MASS_FLOOR
        weights = mass / mass.sum()  # (9.60) pi_k = N_k / N
        a, b = self.prior.alpha - 1.0, self.prior.beta - 1.0
        # (9.59 map): the mode (B.9) of Beta(a_0 + N_k xbar_ki, b_0 + N_k (1 - xbar_ki)); with
        # a_0 = b_0 = 1 it is (9.59) mu_k = xbar_k = first_k / N_k (9.58)
        means = (stats.first + a) / (mass + a + b)[:, None]
        return BernoulliParams(weights, means).astype(self.dtype)

    def log_prior(self, params: BernoulliParams) -> float:
        """sum_ki ln Beta(mu_ki | a_0, b_0) (B.6); 0 for the flat prior."""
        a, b = self.prior.alpha, self.prior.beta
        if a == 1.0 and b == 1.0:
            return 0.0
        means = params.means.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = (a - 1) * np.log(means) + (b - 1) * np.log1p(-means)
        return float(terms.sum() + means.size * _beta_log_norm(a, b))

    def objective(self, stats: BernoulliStats, params: BernoulliParams) -> float:
        """ln p(X | params) (9.51) plus ln p(params): the log posterior up to the evidence, which
        MAP EM never decreases (the log-likelihood itself for the flat prior)."""
        return stats.log_norm + self.log_prior(params)

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """K - 1 weights and K D success probabilities."""
        return n_components - 1 + n_components * n_features


@dataclass(frozen=True, eq=False)
class BernoulliVBParams:
    """q(theta): q(pi) by its concentration, q(mu_ki) = Beta(a_ki, b_ki)."""

    concentration: np.ndarray  # (K,) | (2, K)
    a: np.ndarray  # (K, D)
    b: np.ndarray  # (K, D)


class BernoulliVB:
    """VB E-step / M-step / ELBO of a Bernoulli mixture with Beta priors on the success
    probabilities and a Dirichlet or stick-breaking prior on the weights (``families/weights.py``)."""

    def __init__(self, weights, prior: BetaPrior, dtype=np.float64):
        self.weights = weights  # q(pi): DirichletWeights | StickBreakingWeights
        self.prior = prior
        self.dtype = np.dtype(dtype)

    def expected_weights(self, params: BernoulliVBParams) -> np.ndarray:
        return self.weights.expected(params.concentration)  # E[pi_k]

    @staticmethod
    def expected_means(params: BernoulliVBParams) -> np.ndarray:
        return params.a / (params.a + params.b)  # (B.7) E[mu_ki]

    def log_prob_components(self, X, params: BernoulliVBParams) -> np.ndarray:
        """ln rho_nk (9.56 vb), (n, K): the numerator of the responsibilities (10.49)."""
        X = as_float_rows(X, self.dtype)
        e_log, e_log_1m = _beta_expected_logs(params.a, params.b)  # (K, D) each
        log_rho = np.asarray(X @ (e_log - e_log_1m).T.astype(self.dtype))  # (n, K)
        # (9.56 vb) ln rho_nk = E[ln pi_k] + sum_i x_i E[ln mu_ki] + (1 - x_i) E[ln(1 - mu_ki)]
        log_rho += (self.weights.expected_log(params.concentration) + e_log_1m.sum(axis=1)).astype(self.dtype)
        return log_rho

    def accumulate(self, X, params: BernoulliVBParams, sample_weight) -> BernoulliStats:
        """E-step on one chunk: r_nk (10.49) from ln rho (9.56 vb), then (10.51), (10.52)."""
        log_rho = self.log_prob_components(X, params)
        resp, log_norm = normalize_log_rows(log_rho)  # log_norm: the row's share of the ELBO
        return bernoulli_statistics(as_float_rows(X, self.dtype), resp, sample_weight, log_norm)

    def statistics(self, X, resp, sample_weight, shift=None, log_norm=None) -> BernoulliStats:
        X = as_float_rows(X, self.dtype)
        return bernoulli_statistics(X, resp.astype(self.dtype, copy=False), sample_weight, log_norm)

    def maximize(self, stats: BernoulliStats, params: BernoulliVBParams | None) -> BernoulliVBParams:
        """q(theta) from summed statistics: (10.58) (or the stick Betas) and (9.59 vb)."""
        concentration = self.weights.posterior(stats.mass)  # (10.58), or the stick Betas
        # (9.59 vb) a_ki = a_0 + N_k xbar_ki, b_ki = b_0 + N_k (1 - xbar_ki); the clip at 0 only
        # removes rounding of N_k - N_k xbar_ki (a sum of non-negative terms) below zero
        a = self.prior.alpha + stats.first
        b = self.prior.beta + np.maximum(stats.mass[:, None] - stats.first, 0.0)
        return BernoulliVBParams(concentration, a, b)

    def objective(self, stats: BernoulliStats, params: BernoulliVBParams) -> float:
        """The full ELBO (9.51 vb) of q(theta) = params with q(Z) optimal (module note)."""
        kl_weights = self.weights.kl(params.concentration)  # (10.76) - (10.73), or the stick Betas
        kl_means = beta_kl(params.a, params.b, self.prior.alpha, self.prior.beta).sum()
        return stats.log_norm - kl_weights - float(kl_means)

    def log_predictive_components(self, X, params: BernoulliVBParams) -> np.ndarray:
        """ln E[pi_k] + ln p(x_n | E[mu_k]), (n, K). Under q the mu_ki are independent Betas, so
        the integral of prod_i mu^x (1 - mu)^(1 - x) is prod_i E[mu_ki]^x_i (1 - E[mu_ki])^(1 - x_i)
        (B.7): logsumexp over k is the exact posterior predictive density of the fitted q."""
        out = log_bernoulli(as_float_rows(X, np.float64), self.expected_means(params))
        out += np.log(self.expected_weights(params))
        return out

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components - 1 + n_components * n_features
