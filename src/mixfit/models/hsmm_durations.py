"""Duration distributions of a hidden semi-Markov model: p_k(d) on d = 1..D and its M-step.

Each family is a strategy over the same statistics: N_k(d) (K, D), the expected number of
segments of state k lasting d frames, the censored last segments already completed in
expectation (docs/math/hsmm.md, H13-H13c). It offers

pmf(params) -> (K, D)         p_k(d), d = 1..D (column d - 1), each row summing to 1     (H1)
maximize(counts, params)      the M-step from N_k(d)
n_parameters(K)               free parameters
initial(mean, K)              params of durations of about ``mean`` frames (the fit's start)

The parametric families are shifted to d >= 1 (d - 1 follows the named law) and truncated at
D = max_duration, renormalised (H1): the recursions never see a duration longer than D.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special, stats

# A Poisson or negative binomial whose mass beyond D is below this is treated as untruncated:
# its M-step is the closed form (H16, H18 start); the truncated equation's root (H17) moves the
# rate by less than this relative amount, far below EM's tolerance.
_TAIL_NEGLIGIBLE = 1e-12
# The largest Poisson rate the root search (H17) considers, in units of D: a truncated Poisson
# with this rate puts all but ~e^{-D} of its mass at d = D already.
_MAX_RATE_PER_D = 1e3


def _normalise(table: np.ndarray, previous: np.ndarray) -> np.ndarray:
    total = table.sum(axis=1, keepdims=True)  # (K, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, table / total, previous)


class NonparametricDurations:
    """A free table p_k(d) per state; params are the table (K, D)."""

    name = "nonparametric"

    def __init__(self, max_duration: int):
        self.max_duration = max_duration

    def pmf(self, params: np.ndarray) -> np.ndarray:
        return params

    def maximize(self, counts: np.ndarray, params: np.ndarray) -> np.ndarray:
        return _normalise(counts, params)  # (H15n) p_k(d) = N_k(d) / sum_d' N_k(d'); an unvisited state keeps its row

    def n_parameters(self, n_components: int) -> int:
        return n_components * (self.max_duration - 1)

    def initial(self, mean: float, n_components: int) -> np.ndarray:
        d = np.arange(1, self.max_duration + 1)
        q = 1.0 - 1.0 / mean  # a shifted geometric of this mean: flat enough to let EM find the shape
        table = (1.0 - q) * q ** (d - 1)
        return np.tile(table / table.sum(), (n_components, 1))


class PoissonDurations:
    """d - 1 ~ Poisson(lambda_k), truncated at D; params are the rates lambda_k (K,)."""

    name = "poisson"

    def __init__(self, max_duration: int):
        self.max_duration = max_duration

    def pmf(self, params: np.ndarray) -> np.ndarray:
        steps = np.arange(self.max_duration)  # d - 1
        # (H1) truncated at D, normalised from the log pmf: at a rate far above D every pmf(d) underflows
        return special.softmax(stats.poisson.logpmf(steps[None, :], params[:, None]), axis=1)  # (K, D)

    def _rate(self, mean: float) -> float:
        """The rate whose Poisson truncated at D - 1 has this mean (H17)."""
        top = self.max_duration - 1  # the largest d - 1
        if stats.poisson.sf(top, mean) < _TAIL_NEGLIGIBLE:
            return mean  # (H16) lambda = E[d - 1]: the closed form, the truncation negligible

        steps = np.arange(top + 1)

        def excess(rate):  # E[d - 1 | d - 1 <= top] - mean, increasing in the rate
            # from the log pmf: the cdf ratio rate F(top - 1) / F(top) is 0/0 once F underflows
            return special.softmax(stats.poisson.logpmf(steps, rate)) @ steps - mean

        high = max(2.0 * mean, 1.0)
        limit = _MAX_RATE_PER_D * self.max_duration
        while excess(high) < 0 and high < limit:
            high *= 2.0
        if excess(high) < 0:
            return limit  # every segment lasts D: the rate is unbounded; the pmf is 1 at D already
        return optimize.brentq(excess, mean, high, xtol=1e-12, rtol=4 * np.finfo(float).eps)

    def maximize(self, counts: np.ndarray, params: np.ndarray) -> np.ndarray:
        if self.max_duration == 1:
            return params  # every duration is 1 whatever the rate
        mass = counts.sum(axis=1)  # (K,)
        steps = np.arange(self.max_duration)
        rates = params.copy()
        for k in np.flatnonzero(mass > 0):
            rates[k] = self._rate(float(counts[k] @ steps / mass[k]))  # (H16) / (H17) from E[d - 1]
        return rates

    def n_parameters(self, n_components: int) -> int:
        return n_components

    def initial(self, mean: float, n_components: int) -> np.ndarray:
        return np.full(n_components, max(mean - 1.0, 0.5))


def _negative_binomial_log_pmf(steps, shape, prob):
    """ln NB(d - 1 | r, p) truncated at D, over d - 1 = ``steps`` (D,): scipy's nbinom."""
    log_pmf = stats.nbinom.logpmf(steps, shape, prob)
    return log_pmf - special.logsumexp(log_pmf)


class NegativeBinomialDurations:
    """d - 1 ~ NB(r_k, p_k) (scipy's ``nbinom``: mean r (1 - p) / p), truncated at D; params are
    (K, 2) rows (r_k, p_k)."""

    name = "negative_binomial"

    def __init__(self, max_duration: int):
        self.max_duration = max_duration

    def pmf(self, params: np.ndarray) -> np.ndarray:
        steps = np.arange(self.max_duration)
        return np.exp(np.stack([_negative_binomial_log_pmf(steps, r, p) for r, p in params]))

    def maximize(self, counts: np.ndarray, params: np.ndarray) -> np.ndarray:
        steps = np.arange(self.max_duration)
        new = params.copy()
        for k in np.flatnonzero(counts.sum(axis=1) > 0):
            # (H18) max over (r, p) of sum_d N_k(d) ln NB_trunc(d - 1 | r, p): no closed form (r),
            # a 2-D quasi-Newton search over (ln r, logit p) from the previous values. Kept only if
            # it does not lower the objective, so EM's bound still never decreases (generalised EM).
            def loss(theta, row=counts[k]):
                return -row @ _negative_binomial_log_pmf(steps, np.exp(theta[0]), special.expit(theta[1]))

            before = np.array([np.log(params[k, 0]), special.logit(params[k, 1])])
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                found = optimize.minimize(loss, before, method="L-BFGS-B", bounds=[(-10.0, 12.0), (-30.0, 30.0)])
                if np.isfinite(found.fun) and found.fun <= loss(before):
                    new[k] = np.exp(found.x[0]), special.expit(found.x[1])
        return new

    def n_parameters(self, n_components: int) -> int:
        return 2 * n_components

    def initial(self, mean: float, n_components: int) -> np.ndarray:
        shape = 2.0  # between the geometric (r = 1) and a peaked law; EM moves it
        mean_steps = max(mean - 1.0, 0.5)
        return np.tile([shape, shape / (shape + mean_steps)], (n_components, 1))  # mean r (1 - p) / p


DURATIONS = {family.name: family for family in (PoissonDurations, NegativeBinomialDurations, NonparametricDurations)}


def make_durations(name: str, max_duration: int):
    """The duration family called ``name`` over 1..``max_duration``: the only place the name is read."""
    return DURATIONS[name](max_duration)


class FixedDurations:
    """A duration family whose params stay as they are (``fixed=('durations',)``)."""

    def __init__(self, family):
        self.family = family
        self.name = family.name
        self.max_duration = family.max_duration

    def pmf(self, params):
        return self.family.pmf(params)

    def maximize(self, counts, params):
        return params

    def n_parameters(self, n_components: int) -> int:
        return 0

    def initial(self, mean: float, n_components: int):
        return self.family.initial(mean, n_components)
