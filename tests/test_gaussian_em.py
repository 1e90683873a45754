"""GaussianEM (models/gaussian_em.py) against the literal per-point oracle of PRML (9.23)-(9.28).

The oracle shares no algebra with mixfit (it loops over points with scipy densities and plain
outer products), so agreement to 1e-10 relative means the shifted moments, the stacked
Mahalanobis products and the Cholesky parametrisation compute the book's equations.
"""

import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose
from oracles import gaussian_em as oracle
from scipy.stats import multivariate_normal

from mixfit import GaussianMixture
from mixfit.exceptions import ConvergenceWarning
from mixfit.families.registry import make_covariance
from mixfit.models import GaussianEM, GaussianParams

# Every comparison below is relative to the array's own magnitude (atol = RTOL * max |expected|):
# entries that are near zero (an off-diagonal covariance, a mean coordinate near the origin) are
# held to the same absolute accuracy as the largest entry, not to an impossible relative one.
# 1e-10: both sides are float64 sums over ~100 points and a few iterations; rounding differences
# are ~1e-14 and EM on well-separated data does not amplify them by more than a few orders.
RTOL = 1e-10
N_ROWS = 120
WEIGHTING = {"unweighted": False, "weighted": True}


def assert_close(actual, expected, rtol=RTOL):
    expected = np.asarray(expected, dtype=float)
    assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def params_from_start(covariance_type, start) -> GaussianParams:
    """GaussianParams from a start in scikit-learn's format, with the precision factor made
    here (lower Cholesky of the precision, or its square root), not by mixfit."""
    precisions = np.asarray(start["precisions_init"], dtype=float)
    if covariance_type in ("full", "tied"):
        prec_chol = np.linalg.cholesky(precisions)  # any P with P P^T = Lambda will do
    else:
        prec_chol = np.sqrt(precisions)
    return GaussianParams(np.asarray(start["weights_init"]), np.asarray(start["means_init"]), prec_chol)


@pytest.fixture
def case(separated, make_start, sample_weight_for, rng, request):
    """(X, sample_weight or None, start) for a covariance type and a weighting."""
    covariance_type, weighted = request.param
    X, _ = separated.sample(N_ROWS, rng)
    weights = sample_weight_for(N_ROWS, rng) if weighted else None
    return covariance_type, X, weights, make_start(separated, covariance_type, rng)


CASES = [
    pytest.param((ct, weighted), id=f"{ct}-{name}")
    for ct in COVARIANCE_TYPES
    for name, weighted in WEIGHTING.items()
]


@pytest.mark.parametrize("case", CASES, indirect=True)
def test_fit_matches_per_point_oracle(case):
    covariance_type, X, sample_weight, start = case
    n_iter = 3
    expected_weights, expected_means, expected_cov, expected_bounds = oracle.em(
        X, covariance_type, n_iter=n_iter, sample_weight=sample_weight, reg_covar=1e-6, **start
    )
    gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=n_iter, tol=0, reg_covar=1e-6, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0 never converges, by design
        gm.fit(X, sample_weight=sample_weight)

    assert gm.n_iter_ == n_iter
    assert_close(gm.lower_bounds_, expected_bounds)
    assert_close(gm.lower_bound_, expected_bounds[-1])
    assert_close(gm.weights_, expected_weights)
    assert_close(gm.means_, expected_means)
    assert_close(gm.covariances_, expected_cov)


@pytest.mark.parametrize("case", CASES, indirect=True)
def test_accumulate_matches_oracle_e_step(case):
    covariance_type, X, sample_weight, start = case
    params = params_from_start(covariance_type, start)
    model = GaussianEM(make_covariance(covariance_type), reg_covar=1e-6)

    stats = model.accumulate(X, params, sample_weight)

    covariances = oracle.full_covariances(
        covariance_type, oracle.covariances_from_precisions(covariance_type, start["precisions_init"]), 3, 3
    )
    resp, log_norm = oracle.e_step(X, params.weights, params.means, covariances)
    mass, first, scatter = oracle.moments_about(X, resp, sample_weight, params.means, covariance_type)
    w = np.ones(N_ROWS) if sample_weight is None else sample_weight
    assert_close(stats.shift, params.means)
    assert_close(stats.mass, mass)
    assert_close(stats.first, first)
    assert_close(stats.scatter, scatter)
    assert_close(stats.log_norm, w @ log_norm)
    assert_close(stats.weight_sum, w.sum())
    assert model.objective(stats, params) == stats.log_norm


@pytest.mark.parametrize("case", CASES, indirect=True)
def test_maximize_matches_oracle_m_step(case):
    covariance_type, X, sample_weight, start = case
    params = params_from_start(covariance_type, start)
    model = GaussianEM(make_covariance(covariance_type), reg_covar=1e-6)

    new = model.maximize(model.accumulate(X, params, sample_weight), params)

    covariances = oracle.full_covariances(
        covariance_type, oracle.covariances_from_precisions(covariance_type, start["precisions_init"]), 3, 3
    )
    resp, _ = oracle.e_step(X, params.weights, params.means, covariances)
    weights, means, expected_cov = oracle.m_step(X, resp, sample_weight, covariance_type, reg_covar=1e-6)
    P = new.prec_chol
    if covariance_type in ("full", "tied"):
        cov = np.linalg.inv(P @ np.swapaxes(P, -1, -2))  # Lambda = P P^T
    else:
        cov = 1.0 / P**2
    assert_close(new.weights, weights)
    assert_close(new.means, means)
    assert_close(cov, expected_cov)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_prob_components_matches_scipy_densities(covariance_type, separated, make_start, rng):
    X, _ = separated.sample(N_ROWS, rng)
    start = make_start(separated, covariance_type, rng)
    params = params_from_start(covariance_type, start)
    model = GaussianEM(make_covariance(covariance_type), reg_covar=1e-6)

    log_rho = model.log_prob_components(X, params)

    covariances = oracle.full_covariances(
        covariance_type, oracle.covariances_from_precisions(covariance_type, start["precisions_init"]), 3, 3
    )
    expected = np.column_stack([  # ln pi_k + ln N(x_n | mu_k, Sigma_k), numerator of (9.23)
        np.log(params.weights[k]) + multivariate_normal(params.means[k], covariances[k]).logpdf(X)
        for k in range(3)
    ])
    # 1e-12 of the largest |ln rho|: one density, no iteration; the expanded Mahalanobis
    # forms lose at most a few ulps of the squared distance of the farthest point.
    assert_close(log_rho, expected, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_n_parameters_counts_free_parameters(covariance_type):
    K, D = 4, 3
    covariance_free = {"full": K * D * (D + 1) // 2, "tied": D * (D + 1) // 2, "diag": K * D, "spherical": K}
    model = GaussianEM(make_covariance(covariance_type), reg_covar=1e-6)
    assert model.n_parameters(K, D) == (K - 1) + K * D + covariance_free[covariance_type]
