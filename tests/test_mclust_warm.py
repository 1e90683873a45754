"""The compiled mclust kernel's passes: ``mclust_cell_compiled.score`` (the table's
log-likelihood and classification entropy, pass by pass with the vectorised exp / log) against
scipy's densities."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

pytest.importorskip("numba")

from mixfit.kernels.mclust_cell_compiled import score


def _spd(rng, dim, scale=1.0):
    m = rng.normal(size=(dim, dim))
    return scale * (m @ m.T + 0.1 * np.eye(dim))


@pytest.mark.parametrize("dim", [2, 3, 4, 5])
def test_score_is_the_log_likelihood_and_entropy(dim):
    rng = np.random.default_rng(dim)
    n, K = 60, 3
    X = rng.normal(size=(n, dim)) * 2.0
    X[0] = 200.0  # far out: some r_nk underflow to 0 there (0 ln 0 = 0)
    weights_n = rng.uniform(0.5, 2.0, size=n)
    pi = np.array([0.5, 0.3, 0.2])
    means = rng.normal(size=(K, dim))
    covs = np.stack([_spd(rng, dim) for _ in range(K)])
    # P_k upper triangular with P_k P_k^T = Sigma_k^{-1}: the kernel's factors
    factors = np.stack([np.linalg.inv(np.linalg.cholesky(c)).T for c in covs])
    log_rho = np.stack([np.log(pi[k]) + multivariate_normal(means[k], covs[k]).logpdf(X) for k in range(K)], axis=1)
    log_norm = logsumexp(log_rho, axis=1)
    log_r = log_rho - log_norm[:, None]
    assert (np.exp(log_r[0]) == 0.0).any()
    expected_ll = weights_n @ log_norm
    expected_entropy = -weights_n @ (np.exp(log_r) * log_r).sum(axis=1)
    got_ll, got_entropy = score(X, weights_n, pi, means, factors)
    # the same sums in another order, exp / log within 2 ulp (tests/test_vector_exp.py): rounding
    # only, relative to the sums' terms (the log-likelihood's ~ n * 10, the entropy's ~ n)
    assert got_ll == pytest.approx(expected_ll, rel=1e-12)
    assert got_entropy == pytest.approx(expected_entropy, rel=1e-10, abs=1e-12)
