"""MAP EM (GaussianMixture(prior=...)) against the per-component oracle of Fraley & Raftery
(2007) in tests/oracles/map_em.py, and the properties the prior promises: the log posterior
never decreases, no data set makes a covariance singular, BIC is taken at the MAP estimate,
and every bad prior is named.

The oracle writes mclust's M-step and scipy's inverse-Wishart / inverse-gamma densities one
component at a time; mixfit reaches the same numbers through VB's Normal-precision posterior
with a mode offset, so agreement to 1e-10 checks that reparametrisation end to end.
"""

import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose
from oracles import map_em as oracle
from oracles.gaussian_em import covariances_from_precisions
from scipy.stats import multivariate_normal

from mixfit import ConjugatePrior, GaussianMixture
from mixfit.exceptions import ConvergenceWarning

# Relative to the array's own magnitude (atol = RTOL * max |expected|), as in test_gaussian_em:
# both sides are float64 sums over ~100 rows for a few iterations; rounding differences are
# ~1e-15 and a few EM iterations on well-separated data do not amplify them past 1e-10.
RTOL = 1e-10
N_ROWS = 120
K = 3
D = 3
WEIGHTING = {"unweighted": False, "weighted": True}
REG_COVAR = {"reg0": 0.0, "reg1e-6": 1e-6}


def assert_close(actual, expected, rtol=RTOL):
    expected = np.asarray(expected, dtype=float)
    assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def fit_quietly(gm, X, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0 / max_iter runs never converge
        return gm.fit(X, sample_weight=sample_weight)


@pytest.fixture
def X(separated, rng):
    X, _ = separated.sample(N_ROWS, rng)
    return X


@pytest.mark.parametrize("reg_covar", REG_COVAR.values(), ids=REG_COVAR.keys())
@pytest.mark.parametrize("weighted", WEIGHTING.values(), ids=WEIGHTING.keys())
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_map_em_matches_per_component_oracle(covariance_type, weighted, reg_covar, X, separated,
                                             make_start, sample_weight_for, rng):
    sample_weight = sample_weight_for(N_ROWS, rng) if weighted else None
    start = make_start(separated, covariance_type, rng)
    n_iter = 3
    prior = oracle.default_prior(X, covariance_type, K, reg_covar, sample_weight)
    weights, means, covariances, bounds = oracle.map_em(
        X, covariance_type, start["weights_init"], start["means_init"],
        covariances_from_precisions(covariance_type, start["precisions_init"]), n_iter, prior,
        sample_weight=sample_weight, reg_covar=reg_covar)

    gm = GaussianMixture(K, covariance_type=covariance_type, max_iter=n_iter, tol=0, reg_covar=reg_covar,
                         prior="default", **start)
    fit_quietly(gm, X, sample_weight)

    assert gm.n_iter_ == n_iter
    assert_close(gm.lower_bounds_, bounds)
    assert_close(gm.weights_, weights)
    assert_close(gm.means_, means)
    assert_close(gm.covariances_, covariances)


def numpy_default_prior(X, covariance_type, reg_covar, fweights=None):
    """The documented defaults from numpy's own mean and covariance (frequency weights)."""
    mean = np.average(X, axis=0, weights=fweights)
    cov = np.cov(X, rowvar=False, fweights=fweights)
    return oracle.default_prior(X, covariance_type, K, reg_covar, mean=mean, cov=cov)


@pytest.mark.parametrize("weighted", WEIGHTING.values(), ids=WEIGHTING.keys())
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_defaults_are_mclusts_from_numpys_moments(covariance_type, weighted, X, separated, make_start, rng):
    """kappa = 0.01, nu = D + 2, mu_P = mean(X), Lambda_P = cov(X) / K^(2/D) (plus the documented
    ridge), read off the first M-step from a given start; integer weights as numpy's fweights."""
    fweights = rng.integers(0, 4, size=N_ROWS) if weighted else None
    prior = numpy_default_prior(X, covariance_type, 1e-6, fweights)
    assert prior.kappa == 0.01 and prior.nu == D + 2
    start = make_start(separated, covariance_type, rng)
    resp, _ = oracle.e_step(X, start["weights_init"], start["means_init"], oracle.as_full(
        covariance_type, covariances_from_precisions(covariance_type, start["precisions_init"]), K, D))
    weights, means, covariances = oracle.m_step(X, resp, fweights, covariance_type, 1e-6, prior)

    gm = fit_quietly(GaussianMixture(K, covariance_type=covariance_type, max_iter=1, prior="default", **start),
                     X, fweights)

    assert_close(gm.weights_, weights)
    assert_close(gm.means_, means)
    assert_close(gm.covariances_, covariances)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_equals_the_same_prior_given_explicitly(covariance_type, X):
    """prior='default' and a ConjugatePrior holding the documented default values give the same
    fit; for spherical the user-facing scale is mclust's lambda_P (the mean variance / K^(2/D))."""
    prior = numpy_default_prior(X, covariance_type, 1e-6)
    explicit = ConjugatePrior(mean_shrinkage=0.01, degrees_of_freedom=D + 2, scale=prior.scale, mean=prior.mean)
    fits = [fit_quietly(GaussianMixture(K, covariance_type=covariance_type, max_iter=5, tol=0, prior=p,
                                        random_state=0), X) for p in ("default", explicit)]
    # the two resolved scales differ by numpy's vs mixfit's summation order only (~1e-16)
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        assert_close(getattr(fits[1], name), getattr(fits[0], name), rtol=1e-12)


@pytest.mark.parametrize("weighted", WEIGHTING.values(), ids=WEIGHTING.keys())
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_posterior_never_decreases(covariance_type, weighted, X, sample_weight_for, rng):
    """With reg_covar=0 the M-step is the exact posterior mode, so generalised EM (PRML 9.4)
    cannot decrease the log posterior."""
    sample_weight = sample_weight_for(N_ROWS, rng) if weighted else None
    gm = GaussianMixture(K, covariance_type=covariance_type, reg_covar=0.0, prior="default", max_iter=60, tol=0,
                         init_params="random", random_state=1)
    bounds = np.array(fit_quietly(gm, X, sample_weight).lower_bounds_)
    assert np.all(np.isfinite(bounds))
    # Once converged, successive values differ by rounding of a float64 sum of ~100 terms of
    # size ~|bound|: 1e-12 relative is a few hundred ulps, far below any real decrease.
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))


@pytest.mark.parametrize("weighted", WEIGHTING.values(), ids=WEIGHTING.keys())
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_lower_bound_is_the_oracles_log_posterior(covariance_type, weighted, X, sample_weight_for, rng):
    """lower_bound_ of a fit started at params theta is the per-sample log posterior at theta:
    checked at a converged MAP estimate, evaluated by scipy's densities."""
    sample_weight = sample_weight_for(N_ROWS, rng) if weighted else None
    fitted = fit_quietly(GaussianMixture(K, covariance_type=covariance_type, prior="default", random_state=0),
                         X, sample_weight)
    again = GaussianMixture(K, covariance_type=covariance_type, prior="default", max_iter=1,
                            weights_init=fitted.weights_, means_init=fitted.means_,
                            precisions_init=fitted.precisions_)
    fit_quietly(again, X, sample_weight)
    prior = oracle.default_prior(X, covariance_type, K, 1e-6, sample_weight)
    expected = oracle.log_posterior(X, sample_weight, covariance_type, fitted.weights_, fitted.means_,
                                    fitted.covariances_, prior)
    # the only extra rounding is precisions_ -> its Cholesky factor and back (~1e-15 relative)
    assert_close(again.lower_bound_, expected)


def one_point(rng):
    return np.tile([1.0, -2.0, 3.0], (20, 1))


def constant_feature(rng):
    return np.c_[rng.normal(size=(40, 2)), np.full(40, 5.0)]


def fewer_rows_than_features(rng):
    return rng.normal(size=(3, 5))


def fewer_distinct_points_than_components(rng):
    return np.repeat(rng.normal(size=(3, 3)), 10, axis=0)


SINGULAR_DATA = {
    "one-repeated-point": (one_point, 2),
    "constant-feature": (constant_feature, 2),
    "n-rows-le-D": (fewer_rows_than_features, 2),
    "K-gt-distinct-points": (fewer_distinct_points_than_components, 5),
}


def assert_all_finite(gm, X):
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_", "lower_bounds_"):
        assert np.all(np.isfinite(getattr(gm, name))), name
    assert np.all(np.isfinite(gm.score_samples(X)))
    assert np.all(np.isfinite(gm.predict_proba(X)))


@pytest.mark.parametrize("reg_covar", REG_COVAR.values(), ids=REG_COVAR.keys())
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(("make_X", "n_components"), SINGULAR_DATA.values(), ids=SINGULAR_DATA.keys())
@pytest.mark.filterwarnings("ignore:Number of distinct clusters")  # KMeans on repeated points, rightly
def test_prior_keeps_every_covariance_positive_definite(make_X, n_components, covariance_type, reg_covar, rng):
    X = make_X(rng)
    gm = GaussianMixture(n_components, covariance_type=covariance_type, reg_covar=reg_covar, prior="default",
                         random_state=0).fit(X)
    assert_all_finite(gm, X)
    cov = gm.covariances_
    if covariance_type in ("full", "tied"):
        assert np.all(np.linalg.eigvalsh(cov) > 0)
    else:
        assert np.all(cov > 0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bic_uses_the_likelihood_at_the_map_estimate(covariance_type, X):
    gm = GaussianMixture(K, covariance_type=covariance_type, prior="default", random_state=0).fit(X)
    full = oracle.as_full(covariance_type, gm.covariances_, K, D)
    density = sum(gm.weights_[k] * multivariate_normal(gm.means_[k], full[k]).pdf(X) for k in range(K))
    # one density evaluation, no iteration: rounding of ~100 log terms only
    assert_close(gm.score(X), np.log(density).mean(), rtol=1e-12)
    covariance_free = {"full": K * D * (D + 1) // 2, "tied": D * (D + 1) // 2, "diag": K * D, "spherical": K}
    p = (K - 1) + K * D + covariance_free[covariance_type]  # the prior adds no parameter
    assert gm.bic(X) == pytest.approx(-2 * gm.score(X) * N_ROWS + p * np.log(N_ROWS), rel=1e-14)
    assert gm.aic(X) == pytest.approx(-2 * gm.score(X) * N_ROWS + 2 * p, rel=1e-14)
    # ... and not the log posterior that lower_bound_ reports
    assert abs(gm.lower_bound_ - gm.score(X)) > 1e-3


SPD = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.5]])
BAD_PRIORS = {
    "mean_shrinkage-zero": ("full", ConjugatePrior(mean_shrinkage=0.0), r"prior\.mean_shrinkage=0\.0"),
    "mean_shrinkage-negative": ("diag", ConjugatePrior(mean_shrinkage=-1.0), r"prior\.mean_shrinkage"),
    "mean_shrinkage-nan": ("full", ConjugatePrior(mean_shrinkage=np.nan), r"prior\.mean_shrinkage"),
    "mean_shrinkage-string": ("full", ConjugatePrior(mean_shrinkage="0.01"), r"prior\.mean_shrinkage"),
    "mean_shrinkage-bool": ("full", ConjugatePrior(mean_shrinkage=True), r"prior\.mean_shrinkage"),
    "dof-full-D-minus-1": ("full", ConjugatePrior(degrees_of_freedom=D - 1), r"prior\.degrees_of_freedom=2.*> 2"),
    "dof-tied-D-minus-1": ("tied", ConjugatePrior(degrees_of_freedom=D - 1.0), r"prior\.degrees_of_freedom"),
    "dof-diag-zero": ("diag", ConjugatePrior(degrees_of_freedom=0.0), r"prior\.degrees_of_freedom"),
    "dof-spherical-negative": ("spherical", ConjugatePrior(degrees_of_freedom=-1.0), r"prior\.degrees_of_freedom"),
    "dof-inf": ("full", ConjugatePrior(degrees_of_freedom=np.inf), r"prior\.degrees_of_freedom"),
    "scale-full-shape": ("full", ConjugatePrior(scale=np.eye(2)), r"prior\.scale.*shape \(2, 2\)"),
    "scale-tied-shape": ("tied", ConjugatePrior(scale=np.ones(D)), r"prior\.scale.*shape"),
    "scale-diag-shape": ("diag", ConjugatePrior(scale=SPD), r"prior\.scale.*shape"),
    "scale-spherical-shape": ("spherical", ConjugatePrior(scale=np.ones(D)), r"prior\.scale.*shape"),
    "scale-full-not-pd": ("full", ConjugatePrior(scale=np.diag([1.0, -1.0, 1.0])), r"prior\.scale.*positive definite"),
    "scale-full-not-symmetric": ("full", ConjugatePrior(scale=SPD + np.triu(np.ones((D, D)), 1)),
                                 r"prior\.scale.*symmetric"),
    "scale-diag-zero": ("diag", ConjugatePrior(scale=np.array([1.0, 0.0, 1.0])), r"prior\.scale"),
    "scale-spherical-negative": ("spherical", ConjugatePrior(scale=-1.0), r"prior\.scale"),
    "scale-nan": ("full", ConjugatePrior(scale=np.full((D, D), np.nan)), r"prior\.scale"),
    "mean-shape": ("full", ConjugatePrior(mean=np.zeros(D + 1)), r"prior\.mean has shape \(4,\)"),
    "mean-scalar": ("diag", ConjugatePrior(mean=0.0), r"prior\.mean has shape"),
    "mean-nan": ("full", ConjugatePrior(mean=np.array([0.0, np.nan, 0.0])), r"prior\.mean"),
    "kind-string": ("full", "mclust", r"prior='mclust'"),
    "kind-dict": ("full", {"mean_shrinkage": 0.01}, r"prior=\{"),
    "kind-float": ("full", 0.01, r"prior=0\.01"),
    "kind-true": ("full", True, r"prior=True"),
}


@pytest.mark.parametrize(("covariance_type", "prior", "match"), BAD_PRIORS.values(), ids=BAD_PRIORS.keys())
def test_bad_prior_is_named(covariance_type, prior, match, X):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(K, covariance_type=covariance_type, prior=prior).fit(X)
