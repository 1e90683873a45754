"""Count emissions of a hidden Markov model: Poisson rates and multinomial proportions.

Both take frames of non-negative integer counts (n, D) and both need the same statistics of the
state posteriors gamma_tk (PRML 13.33): each state's expected visits and its expected count of
every feature. Their M-steps differ only in how a state's counts are normalised: by its visits
(a rate per frame, Poisson) or by its total count (a proportion per trial, multinomial).

Notation  code              shape    public attribute
lambda_kd lambdas           (K, D)   lambdas_        Poisson rate of feature d in state k
p_kd      emissionprob      (K, D)   emissionprob_   probability of symbol d per trial in state k
N_k       stats.mass        (K,)     -   sum_t w_t gamma_tk                       (13.20 poisson)
S_kd      stats.counts      (K, D)   -   sum_t w_t gamma_tk x_td                  (13.20 poisson)
a, b      prior             scalars  lambdas_prior, lambdas_weight: Gamma(1 + a, b) on each lambda_kd
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln


@dataclass(frozen=True, eq=False)
class CountStats:
    mass: np.ndarray  # (K,) sum_t w_t gamma_tk
    counts: np.ndarray  # (K, D) sum_t w_t gamma_tk x_t

    def __add__(self, other: CountStats) -> CountStats:
        return CountStats(self.mass + other.mass, self.counts + other.counts)

    def scale(self, factor: float) -> CountStats:
        return CountStats(self.mass * factor, self.counts * factor)


def count_statistics(X, gamma, frame_weight) -> CountStats:
    """The visits and expected counts of each state for given gamma (n, K)."""
    wgamma = gamma if frame_weight is None else gamma * frame_weight[:, None]  # (n, K) w_t gamma_tk
    return CountStats(wgamma.sum(axis=0), wgamma.T @ X)


def _log_powers(X, probabilities) -> np.ndarray:
    """sum_d x_td ln q_kd (n, K), exact where q_kd = 0: the term is 0 at x_td = 0 (0 ln 0 = 0, a
    certain event) and -inf at x_td > 0 (a count the state cannot emit)."""
    positive = probabilities > 0
    with np.errstate(divide="ignore"):
        log_q = np.where(positive, np.log(np.where(positive, probabilities, 1.0)), 0.0)  # (K, D)
    total = X @ log_q.T  # (n, K)
    if not positive.all():
        impossible = (X > 0).astype(np.float64) @ (~positive).T.astype(np.float64)  # (n, K) > 0: some x_td > 0 at q_kd = 0
        total[impossible > 0] = -np.inf
    return total


class PoissonEmission:
    """prod_d Poisson(x_td | lambda_kd) per state, frames of counts (n, D); params ``lambdas`` (K, D).

    ``shape_extra`` a and ``rate`` b put a Gamma(1 + a, b) prior on every rate (hmmlearn's
    ``lambdas_prior`` and ``lambdas_weight``); a = b = 0 is maximum likelihood.
    """

    def __init__(self, shape_extra=0.0, rate=0.0, fixed=False):
        self.shape_extra = float(shape_extra)
        self.rate = float(rate)
        self.fixed = fixed

    def log_density(self, X, lambdas) -> np.ndarray:
        # (13.9 poisson) sum_d [x_td ln lambda_kd - lambda_kd - ln x_td!]
        return _log_powers(X, lambdas) - lambdas.sum(axis=1) - gammaln(X + 1.0).sum(axis=1)[:, None]

    def statistics(self, X, gamma, frame_weight, lambdas) -> CountStats:
        return count_statistics(X, gamma, frame_weight)  # (13.20 poisson) N_k and S_kd

    def maximize(self, stats: CountStats, lambdas) -> np.ndarray:
        if self.fixed:
            return lambdas
        denominator = self.rate + stats.mass[:, None]  # (K, 1)
        # (13.20 poisson) lambda_kd = (a + S_kd) / (b + N_k), the posterior mode under Gamma(1 + a, b);
        # a state with nothing in the denominator (no visits, no prior) keeps its rates
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denominator > 0, (self.shape_extra + stats.counts) / denominator, lambdas)

    def log_prior(self, lambdas) -> float:
        """sum_kd ln Gamma(lambda_kd | 1 + a, b): a ln lambda - b lambda, plus its normaliser where
        b > 0 (with b = 0 the prior is improper and only its kernel is added; 0 at a = b = 0)."""
        if self.shape_extra == 0.0 and self.rate == 0.0:
            return 0.0
        with np.errstate(divide="ignore"):
            kernel = self.shape_extra * np.log(lambdas) if self.shape_extra else np.zeros_like(lambdas)
        kernel = kernel - self.rate * lambdas
        normaliser = (1.0 + self.shape_extra) * np.log(self.rate) - gammaln(1.0 + self.shape_extra) if self.rate else 0.0
        return float(kernel.sum() + normaliser * lambdas.size)

    def n_parameters(self, n_components, n_features) -> int:
        return 0 if self.fixed else n_components * n_features

    def draw(self, rng, lambdas, states) -> np.ndarray:
        return rng.poisson(lambdas[states]).astype(np.float64)


class MultinomialEmission:
    """Mult(x_t | n_t, p_k) per state: frames (n, D) of counts over D symbols, n_t = sum_d x_td
    trials; params ``emissionprob`` (K, D). ``n_trials`` (an int, or None where the frames'
    totals differ) is what ``draw`` uses."""

    def __init__(self, n_trials=None, fixed=False):
        self.n_trials = n_trials
        self.fixed = fixed

    def log_density(self, X, emissionprob) -> np.ndarray:
        # (13.9 multinomial) ln n_t! - sum_d ln x_td! + sum_d x_td ln p_kd
        coefficient = gammaln(X.sum(axis=1) + 1.0) - gammaln(X + 1.0).sum(axis=1)  # (n,)
        return _log_powers(X, emissionprob) + coefficient[:, None]

    def statistics(self, X, gamma, frame_weight, emissionprob) -> CountStats:
        return count_statistics(X, gamma, frame_weight)  # (13.23 multinomial) S_kd

    def maximize(self, stats: CountStats, emissionprob) -> np.ndarray:
        if self.fixed:
            return emissionprob
        total = stats.counts.sum(axis=1, keepdims=True)  # (K, 1) expected trials in state k
        # (13.23 multinomial) p_kd = S_kd / sum_j S_kj; a state with no expected trials keeps its row
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, stats.counts / total, emissionprob)

    def log_prior(self, emissionprob) -> float:
        return 0.0

    def n_parameters(self, n_components, n_features) -> int:
        return 0 if self.fixed else n_components * (n_features - 1)

    def draw(self, rng, emissionprob, states) -> np.ndarray:
        if self.n_trials is None:
            raise ValueError("the frames of the fit have different totals, so n_trials_ is None; sampling "
                             "needs one number of trials per frame: set n_trials")
        X = np.empty((states.shape[0], emissionprob.shape[1]))
        for k in np.unique(states):
            rows = states == k
            X[rows] = rng.multinomial(self.n_trials, emissionprob[k], size=int(rows.sum()))
        return X
