"""GaussianMixtureImputer (issue 18 item 3): against the per-row conditional oracle (scipy
densities, explicit inverses: tests/oracles/conditional.py), the conditional distribution's moments
for sample_posterior, scikit-learn's imputers on data they cannot model, and the estimator contract."""

from __future__ import annotations

import numpy as np
import pytest
from oracles.conditional import condition as oracle_condition
from oracles.gaussian_em import full_covariances
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import mixfit
from mixfit import GaussianMixtureImputer

# Explicit inverses of 1-3 dimensional blocks against Cholesky solves: ~1e-14; 1e-10 as the bar.
RTOL = 1e-10


def _two_branches(n=1200, seed=0):
    """Two elongated clusters with opposite correlations: one regression line cannot fill them."""
    rng = np.random.default_rng(seed)
    half = n // 2
    a = rng.multivariate_normal([0, 0, 0], [[1, 0.95, 0.5], [0.95, 1, 0.5], [0.5, 0.5, 1]], half)
    b = rng.multivariate_normal([4, 4, -2], [[1, -0.95, 0.3], [-0.95, 1, -0.3], [0.3, -0.3, 1]], n - half)
    return np.vstack([a, b])


def _mask(X, fraction, seed):
    rng = np.random.default_rng(seed)
    missing = rng.random(X.shape) < fraction
    missing[missing.all(axis=1), 0] = False  # keep one observed entry per row
    holed = X.copy()
    holed[missing] = np.nan
    return holed, missing


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "VVE"])
def test_filled_entries_are_the_conditional_means_of_the_per_row_oracle(covariance_type):
    X = _two_branches()
    holed, missing = _mask(X, 0.2, 1)
    imputer = GaussianMixtureImputer(2, covariance_type=covariance_type, random_state=0).fit(holed)
    filled = imputer.transform(holed)
    gm = imputer.mixture_
    dense = full_covariances(gm.covariance_type, gm.covariances_, 2, 3) if covariance_type != "VVE" else gm.covariances_
    np.testing.assert_array_equal(filled[~missing], holed[~missing])  # observed entries untouched
    for n in np.flatnonzero(missing.any(axis=1))[:60]:
        given, other = np.flatnonzero(~missing[n]), np.flatnonzero(missing[n])
        w, m, _ = oracle_condition(gm.weights_, gm.means_, dense, given, other, holed[n, given])
        np.testing.assert_allclose(filled[n, other], np.asarray(w) @ np.asarray(m), rtol=RTOL, atol=1e-12)


def test_a_row_with_nothing_observed_gets_the_mixture_mean_and_dtype_is_kept():
    X = _two_branches().astype(np.float32)
    holed, _ = _mask(X, 0.1, 2)
    imputer = GaussianMixtureImputer(2, random_state=0).fit(holed)
    rows = np.array([[np.nan, np.nan, np.nan], [1.0, 2.0, 3.0]], dtype=np.float32)
    out = imputer.transform(rows)
    assert out.dtype == np.float32
    gm = imputer.mixture_
    np.testing.assert_allclose(out[0], gm.weights_ @ gm.means_, rtol=1e-6)  # float32 output
    np.testing.assert_array_equal(out[1], rows[1])


def test_sample_posterior_draws_from_the_conditional_distribution():
    """One Gaussian: x_1 | x_0 is normal with the Schur complement's moments; 20 000 draws of the
    same row give its mean within 5 standard errors and its variance within 5 % (the sample
    variance's relative sd is sqrt(2 / 20000) = 1 %)."""
    rng = np.random.default_rng(3)
    X = rng.multivariate_normal([1.0, -1.0], [[2.0, 1.2], [1.2, 1.5]], 4000)
    imputer = GaussianMixtureImputer(sample_posterior=True, random_state=5).fit(X)
    gm = imputer.mixture_
    S, mu = gm.covariances_[0], gm.means_[0]
    mean = mu[1] + S[1, 0] / S[0, 0] * (0.5 - mu[0])
    var = S[1, 1] - S[1, 0] ** 2 / S[0, 0]
    rows = np.tile([0.5, np.nan], (20000, 1))
    draws = imputer.transform(rows)[:, 1]
    assert abs(draws.mean() - mean) < 5 * np.sqrt(var / draws.size)
    assert abs(draws.var() / var - 1) < 0.05
    np.testing.assert_array_equal(imputer.transform(rows[:50]), imputer.transform(rows[:50]))  # seeded
    other = GaussianMixtureImputer(sample_posterior=True, random_state=6).fit(X).transform(rows[:50])
    assert not np.array_equal(other, imputer.transform(rows[:50]))


def test_beats_iterative_and_mean_imputation_where_the_data_branch():
    """The two branches have opposite slopes: a single regression (IterativeImputer's default
    BayesianRidge) fills with their average slope, the mixture with each branch's own."""
    X = _two_branches(seed=4)
    holed, missing = _mask(X, 0.2, 5)

    def rmse(filled):
        return float(np.sqrt(np.mean((filled[missing] - X[missing]) ** 2)))

    ours = rmse(GaussianMixtureImputer(2, random_state=0).fit_transform(holed))
    iterative = rmse(IterativeImputer(random_state=0).fit_transform(holed))
    mean = rmse(SimpleImputer().fit_transform(holed))
    assert ours < 0.8 * iterative < mean


def test_in_a_pipeline_and_a_model_file(tmp_path):
    X = _two_branches(seed=6)
    y = X[:, 2] + 0.1 * np.random.default_rng(0).standard_normal(X.shape[0])
    holed, _ = _mask(X[:, :2], 0.2, 7)
    scores = cross_val_score(make_pipeline(GaussianMixtureImputer(2, random_state=0), LinearRegression()), holed, y,
                             cv=3)
    assert np.all(np.isfinite(scores))
    imputer = GaussianMixtureImputer(2, random_state=0).fit(holed)
    imputer.save(tmp_path / "imp.mixfit")
    loaded = mixfit.load(tmp_path / "imp.mixfit")
    np.testing.assert_array_equal(loaded.transform(holed), imputer.transform(holed))


def test_bad_input_is_refused_by_name():
    X = _two_branches()[:100]
    holed = X.copy()
    holed[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"column\(s\) \[1\]"):
        GaussianMixtureImputer().fit(holed)
    inf = X.copy()
    inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="[Ii]nf"):
        GaussianMixtureImputer().fit(inf)
    with pytest.raises(TypeError, match="sample_posterior"):
        GaussianMixtureImputer(sample_posterior="yes").fit(X)
    fitted = GaussianMixtureImputer().fit(X)
    with pytest.raises(ValueError, match="features"):
        fitted.transform(X[:, :2])


@parametrize_with_checks([GaussianMixtureImputer(), GaussianMixtureImputer(2, random_state=0)])
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)
