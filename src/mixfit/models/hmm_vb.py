"""Variational Bayes for hidden Markov models (MacKay 1997; Beal 2003, ch. 3), on the same seam.

The posterior over the parameters theta = (pi, A, phi) and the state paths Z is approximated by
q(Z) q(theta), and q(theta) factorises, for free, into a Dirichlet q(pi), one Dirichlet q(A_j)
per transition row and the emission's posterior q(phi) (docs/math/hmm.md, "Variational Bayes").
The model is composed of those three parts, as the EM HMM (models/hmm.py) is of its own:

- ``DirichletRows`` for pi and for the rows of A (and for a categorical emission's rows of B);
- an emission: ``GaussianVBEmission`` (q(mu_k, Lambda_k) Normal-Wishart per state, or the
  tied / diag / spherical analogue: GaussianVB's component part with gamma in the place of the
  responsibilities) or ``CategoricalVBEmission`` (a Dirichlet q(B_k) per state).

Notation   code                   shape      public attribute
alpha^pi   q.startprob            (K,)       startprob_posterior_      q(pi) = Dir(alpha^pi)
alpha^A_j  q.transmat[j]          (K, K)     transmat_posterior_       q(A_j) = Dir(alpha^A_j)
pi~_k      exp E[ln pi_k]         (K,)       -   (13.8 vb), sums to < 1
A~_jk      exp E[ln A_jk]         (K, K)     -   (13.7 vb), rows sum to < 1
p~(x|k)    exp E[ln p(x|phi_k)]   (n, K)     -   (10.46) without E[ln pi_k]; (13.23 vb)
Z~_b       stats.log_likelihood   -          -   sum_b w_b ln Z~_b, the forward normaliser
                                                 (13.42) under the tilde parameters

The E-step is forward-backward (hmm_inference.forward_backward, unchanged) run on pi~, A~ and
p~(x|k): ``accumulate`` hands them to the EM HMM's own E-step, which returns the expected start
counts, transition counts and emission statistics of q(Z), and sum_b w_b ln Z~_b, in one
additive ``HMMStats``. The M-step adds the counts to the prior concentrations.

The ELBO identity used by ``objective``. By the general result ln q*(Z) = E_theta[ln p(X, Z |
theta)] + const, and since q(theta) factorises and ln p(X, Z | theta) = ln pi_{z_1}
+ sum_t ln A_{z_{t-1} z_t} + sum_t ln p(x_t | phi_{z_t}) (13.6) is a sum of one factor's terms,

    q*(Z) = pi~_{z_1} prod_t A~_{z_{t-1} z_t} prod_t p~(x_t | z_t) / Z~,

an HMM with sub-normalised parameters whose normaliser Z~ = sum_Z (numerator) is exactly what
the forward recursion computes (13.42), scaled or not. So for each sequence
E_q(Z)[E_theta[ln p(X, Z | theta)] - ln q(Z)] = E_q(Z)[ln Z~] = ln Z~: the data-and-path part of
the bound collapses to ln Z~_b, as a mixture's collapses to ln sum_k rho_nk (gaussian_vb.py). The
rest, E[ln p(theta)] - E[ln q(theta)], is minus the KL divergence of q(theta) from the prior, a
sum over the independent factors. Hence, with sequence weights w_b,

    ELBO = sum_b w_b ln Z~_b - KL(q(pi) || p(pi)) - sum_j KL(q(A_j) || p(A_j)) - KL(q(phi) || p(phi)),

evaluated at the q(theta) the statistics were taken under: the full bound with every constant
(the -D/2 ln 2 pi of the Gaussian is in p~). Coordinate ascent (E: q(Z), M: q(theta)) never
lowers it (exactly with ``reg_covar=0``; see gaussian_vb.py for the ridge).

Forbidden transitions stay forbidden. A prior concentration of 0 (in ``startprob_prior``,
``transmat_prior``, ``emissionprob_prior``; the estimators also put 0 where ``startprob_init``
or ``transmat_init`` is 0) takes the entry out of the Dirichlet's support: the prior, and so the
posterior, is a Dirichlet over the allowed entries of the row only, and the entry is 0 almost
surely. Then E[ln A_jk] = -inf and A~_jk = 0, forward-backward gives it no count, its posterior
concentration stays 0, and it adds nothing to the KL (``weights.dirichlet_kl`` with a support).
The stored posterior carries the support: an entry is allowed where its concentration is > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..families.weights import dirichlet_expected_log, dirichlet_kl
from ..kernels.hmm_inference import SequenceBatch
from ..protocols import VariationalEmission, require
from ..stats import GaussianStats
from .gaussian_vb import GaussianVB, NormalPrecisionPosterior
from .hmm import HMM, HMMParams, HMMStats, InitialDistribution, TransitionMatrix
from .hmm_emissions import CategoricalEmission, CategoricalStats
from .missing_vb import emission_log_density, emission_pass, emission_statistics


@dataclass(frozen=True, eq=False)
class VariationalHMMParams:
    """q(theta): the Dirichlet concentrations of q(pi) and q(A_j), and the emission's q(phi)."""

    startprob: np.ndarray  # (K,) alpha^pi, 0 off the support
    transmat: np.ndarray  # (K, K) alpha^A, row j that of q(A_j), 0 off the support
    emission: object  # NormalPrecisionPosterior | (K, M) Dirichlet concentrations of q(B_k)


class DirichletRows:
    """Dirichlet posteriors of a probability vector (K,) or of each row of a matrix (K, M),
    each on the support where its prior concentration is > 0 (module note)."""

    def __init__(self, prior: np.ndarray):
        self.prior = np.asarray(prior, dtype=np.float64)  # alpha_0, 0 off the support
        self.support = self.prior > 0

    def posterior(self, counts: np.ndarray) -> np.ndarray:
        # (10.58) per row: alpha = alpha_0 + expected counts; off the support the count is 0 (the
        # E-step's tilde entry is 0) and the concentration stays 0
        return np.where(self.support, self.prior + counts, 0.0)

    def expected_log(self, alpha: np.ndarray) -> np.ndarray:
        return dirichlet_expected_log(alpha, self.support)  # (10.66) per row, -inf off the support

    def tilde(self, alpha: np.ndarray) -> np.ndarray:
        """exp E[ln pi_k] per row: sub-normalised (Jensen), 0 off the support."""
        return np.exp(self.expected_log(alpha))

    def mean(self, alpha: np.ndarray) -> np.ndarray:
        return alpha / alpha.sum(axis=-1, keepdims=True)  # (B.17) per row

    def kl(self, alpha: np.ndarray) -> float:
        # (10.76) - (10.73) per row, on the row's support, summed over rows
        return float(np.sum(dirichlet_kl(alpha, self.prior, self.support)))


class GaussianVBEmission:
    """q(mu_k, Lambda_k) per state: GaussianVB's component part with the state posteriors gamma_tk
    in the place of the responsibilities r_nk (PRML 13.2.1: the emission M-step of an HMM is the
    mixture's). ``mixture`` is a GaussianVB built with ``weights=None``."""

    def __init__(self, mixture: GaussianVB):
        self.mixture = mixture
        self.covariance = mixture.covariance

    def log_density(self, X, q: NormalPrecisionPosterior) -> np.ndarray:
        """ln p~(x_t | k) = E[ln N(x_t | mu_k, Lambda_k^{-1})], (n, K): (10.46) without E[ln pi_k],
        centred at the mean of the means. Frames with NaN entries: over the observed coordinates
        (models/missing_vb.py, (V2) of docs/math/conditional.md)."""
        if np.isnan(X).any():
            return emission_log_density(self.mixture, X, q)
        return self.mixture.expected_log_gauss(X, q, q.means.mean(axis=0))[0]

    def statistics(self, X, gamma, frame_weight, q: NormalPrecisionPosterior) -> GaussianStats:
        if np.isnan(X).any():  # the expected statistics (V4) given each frame's observed entries
            return emission_statistics(self.mixture, X, gamma, frame_weight, q)
        # (10.51)-(10.53) with r_nk = gamma_tk, about the current means m_k
        return self.mixture.statistics(X, gamma, frame_weight, q.means)

    def density_pass(self, X, q: NormalPrecisionPosterior):
        """``log_density``, and with NaN entries the E-step (V1) its statistics reuse."""
        if np.isnan(X).any():
            return emission_pass(self.mixture, X, q)
        return self.log_density(X, q), None

    def pass_statistics(self, kept, X, gamma, frame_weight, q: NormalPrecisionPosterior) -> GaussianStats:
        if kept is None:  # no NaN: nothing was kept
            return self.statistics(X, gamma, frame_weight, q)
        return emission_statistics(self.mixture, X, gamma, frame_weight, q, kept)

    def posterior(self, stats: GaussianStats) -> NormalPrecisionPosterior:
        return self.mixture.component_posterior(stats)  # (10.60)-(10.63)

    def kl(self, q: NormalPrecisionPosterior) -> float:
        return self.mixture.component_kl(q)  # (10.77) - (10.74), summed over states

    def mean_params(self, q: NormalPrecisionPosterior):
        """(m_k, the factor of E[Lambda_k] = nu_k W_k): the posterior-mean emission (B.80)."""
        return q.means, q.prec_chol


class CategoricalVBEmission:
    """A Dirichlet q(B_k) over the M symbols per state: frames X (n, 1) of symbols in [0, M)."""

    def __init__(self, prior: np.ndarray):
        self.rows = DirichletRows(prior)  # (K, M) alpha^B_0, 0 off the support
        self._counts = CategoricalEmission(prior.shape[1])  # the EM emission's statistics (13.23)

    def log_density(self, X, alpha) -> np.ndarray:
        # ln p~(x_t | k) = E[ln B_k,x_t] = psi(alpha_k,x_t) - psi(alpha_k,hat) (B.21), (n, K)
        return self.rows.expected_log(alpha)[:, X[:, 0].astype(np.intp)].T

    def statistics(self, X, gamma, frame_weight, alpha) -> CategoricalStats:
        return self._counts.statistics(X, gamma, frame_weight, alpha)  # sum_t w_t gamma_tk [x_t = m]

    def posterior(self, stats: CategoricalStats) -> np.ndarray:
        return self.rows.posterior(stats.counts)  # (13.23 vb)

    def kl(self, alpha) -> float:
        return self.rows.kl(alpha)

    def mean_params(self, alpha) -> np.ndarray:
        return self.rows.mean(alpha)  # E[B_km] (B.17)


class VariationalHMM:
    """VB E-step / M-step / ELBO of an HMM: q(pi), q(A_j) and the emission's q(phi)."""

    def __init__(self, initial: DirichletRows, transition: DirichletRows, emission):
        require(emission, VariationalEmission, role="emission")
        self.initial = initial
        self.transition = transition
        self.emission = emission
        # The E-step is Baum-Welch's on the tilde parameters; its parts' M-steps are not used.
        self._e_step = HMM(InitialDistribution(), TransitionMatrix(), emission)

    def tilde(self, q: VariationalHMMParams) -> HMMParams:
        """pi~, A~ and the emission's q (whose ``log_density`` is ln p~): what forward-backward
        runs on. (13.8 vb), (13.7 vb)."""
        return HMMParams(self.initial.tilde(q.startprob), self.transition.tilde(q.transmat), q.emission)

    def accumulate(self, batch: SequenceBatch, q: VariationalHMMParams, sequence_weight) -> HMMStats:
        """E-step on whole sequences: q(Z) by forward-backward under the tilde parameters; its
        expected counts and emission statistics, and sum_b w_b ln Z~_b (in ``log_likelihood``)."""
        return self._e_step.accumulate(batch, self.tilde(q), sequence_weight)

    def maximize(self, stats: HMMStats, q: VariationalHMMParams | None) -> VariationalHMMParams:
        """q(theta) from summed statistics: (13.18 vb), (13.19 vb) and the emission's own."""
        return VariationalHMMParams(self.initial.posterior(stats.start),
                                    self.transition.posterior(stats.transitions),
                                    self.emission.posterior(stats.emission))

    def objective(self, stats: HMMStats, q: VariationalHMMParams) -> float:
        """The full ELBO of q(theta) = q with q(Z) optimal: sum_b w_b ln Z~_b - KL (module note)."""
        return (stats.log_likelihood - self.initial.kl(q.startprob) - self.transition.kl(q.transmat)
                - self.emission.kl(q.emission))

    def posterior_mean(self, q: VariationalHMMParams) -> HMMParams:
        """E[pi], E[A] and the emission's posterior-mean params: what decoding uses."""
        return HMMParams(self.initial.mean(q.startprob), self.transition.mean(q.transmat),
                         self.emission.mean_params(q.emission))
