"""GaussianMixtureRegressor: Gaussian mixture regression against a literal per-point oracle
(tests/oracles/conditional.py) and the ``gmr`` package from the same fitted parameters, the
one-component case against least squares, scikit-learn's estimator contract, model files."""

from __future__ import annotations

import numpy as np
import pytest
from oracles.conditional import regression as oracle_regression
from oracles.gaussian_em import full_covariances
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import mixfit
from mixfit import GaussianMixtureRegressor

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
RTOL = 1e-10  # the bar; explicit inverses of 1-2 dimensional blocks vs Cholesky solves: ~1e-14


def _curve(n=300, seed=0):
    """y = sin(2x) + noise, and a second target y2 = x^2 / 4 + noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, 1))
    y = np.column_stack([np.sin(2 * x[:, 0]), x[:, 0] ** 2 / 4]) + 0.1 * rng.standard_normal((n, 2))
    return x, y


def _dense(gm):
    return full_covariances(gm.covariance_type, gm.covariances_, gm.weights_.shape[0], gm.means_.shape[1])


@pytest.fixture(scope="module")
def curve_fits():
    x, y = _curve()
    return x, y, {ct: GaussianMixtureRegressor(6, covariance_type=ct, random_state=0).fit(x, y)
                  for ct in COVARIANCE_TYPES}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_prediction_matches_the_per_point_oracle(curve_fits, covariance_type):
    x, _, fits = curve_fits
    regressor = fits[covariance_type]
    joint = regressor.mixture_
    X = x[:25]
    mean, cov = oracle_regression(joint.weights_, joint.means_, _dense(joint), [0], [1, 2], X)
    got_mean, got_std = regressor.predict(X, return_std=True)
    np.testing.assert_allclose(got_mean, mean, rtol=RTOL, atol=1e-12)
    # the oracle's raw second moment minus mean^2 cancels: absolute tolerance at its rounding
    np.testing.assert_allclose(got_std, np.sqrt(np.diagonal(cov, axis1=1, axis2=2)), rtol=1e-8)
    np.testing.assert_allclose(regressor.predict(X, return_cov=True)[1], cov, rtol=1e-8, atol=1e-14)


def test_prediction_matches_gmr(curve_fits):
    gmr = pytest.importorskip("gmr")
    x, _, fits = curve_fits
    for regressor in fits.values():
        joint = regressor.mixture_
        reference = gmr.GMM(joint.weights_.shape[0], priors=joint.weights_, means=joint.means_,
                            covariances=_dense(joint))
        np.testing.assert_allclose(regressor.predict(x), reference.predict(np.array([0]), x), rtol=RTOL, atol=1e-12)


def test_one_component_is_least_squares():
    """A single joint Gaussian: E[y | x] = mu_y + Sigma_yx Sigma_xx^{-1} (x - mu_x), the OLS line
    (with reg_covar=0; the ML covariance's 1/N cancels in the coefficients)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 + 0.1 * rng.standard_normal(200)
    regressor = GaussianMixtureRegressor(reg_covar=0.0).fit(X, y)
    np.testing.assert_allclose(regressor.predict(X), LinearRegression().fit(X, y).predict(X), rtol=1e-10)


def test_mixture_beats_a_line_on_a_curve(curve_fits):
    x, y, fits = curve_fits
    assert fits["full"].score(x, y[:, 0:2]) > 0.9
    assert LinearRegression().fit(x, y).score(x, y) < 0.3


def test_output_shapes_follow_y():
    x, y = _curve(120)
    single = GaussianMixtureRegressor(3, random_state=0).fit(x, y[:, 0])
    column = GaussianMixtureRegressor(3, random_state=0).fit(x, y[:, :1])
    assert single.predict(x).shape == (120,) and column.predict(x).shape == (120, 1)
    np.testing.assert_array_equal(single.predict(x), column.predict(x)[:, 0])
    assert single.predict(x, return_std=True)[1].shape == (120,)
    assert single.predict(x, return_cov=True)[1].shape == (120, 1, 1)
    assert single.sample_y(x[:4], 7).shape == (4, 7)
    multi = GaussianMixtureRegressor(3, random_state=0).fit(x, y)
    assert multi.predict(x).shape == (120, 2) and multi.sample_y(x[:4], 7).shape == (4, 2, 7)
    with pytest.raises(ValueError, match="return_std and return_cov"):
        multi.predict(x, return_std=True, return_cov=True)
    with pytest.raises(ValueError, match="n_samples"):
        multi.sample_y(x, 0)


def test_sample_y_draws_from_the_conditional_mixture(curve_fits):
    x, _, fits = curve_fits
    regressor = fits["full"]
    X = x[:3]
    draws = regressor.sample_y(X, 20000, random_state=0)  # (3, 2, 20000)
    np.testing.assert_array_equal(draws, regressor.sample_y(X, 20000, random_state=0))
    mean, cov = regressor.predict(X, return_cov=True)
    # 20000 draws: the mean's standard error is std / 141 < 0.01 here; 5 standard errors
    np.testing.assert_allclose(draws.mean(axis=2), mean, atol=5 * np.sqrt(cov.max()) / np.sqrt(20000))
    np.testing.assert_allclose(np.var(draws, axis=2), np.diagonal(cov, axis1=1, axis2=2), rtol=0.1)


def test_model_selection_and_pipelines():
    x, y = _curve(150)
    search = GridSearchCV(GaussianMixtureRegressor(random_state=0), {"n_components": [1, 5]}, cv=3).fit(x, y[:, 0])
    assert search.best_params_ == {"n_components": 5}
    scores = cross_val_score(make_pipeline(StandardScaler(), GaussianMixtureRegressor(4, random_state=0)), x,
                             y[:, 0], cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)


def test_model_file_round_trip(curve_fits, tmp_path):
    x, _, fits = curve_fits
    regressor = fits["tied"]
    regressor.save(tmp_path / "gmr.mixfit")
    loaded = mixfit.load(tmp_path / "gmr.mixfit")
    assert type(loaded) is GaussianMixtureRegressor and loaded.get_params() == regressor.get_params()
    np.testing.assert_array_equal(loaded.predict(x, return_std=True)[1], regressor.predict(x, return_std=True)[1])
    np.testing.assert_array_equal(loaded.mixture_.precisions_cholesky_, regressor.mixture_.precisions_cholesky_)


def test_model_file_refuses_an_inconsistent_regressor(curve_fits, tmp_path):
    from mixfit.exceptions import ModelFileError
    from mixfit.modelfile.io import save

    x, _, _ = curve_fits
    broken = GaussianMixtureRegressor(6, random_state=0).fit(x, _curve()[1][:, 0])
    broken.n_outputs_ = 2  # the joint mixture has 2 columns: 1 feature and 1 target
    save(broken, tmp_path / "broken.mixfit")
    with pytest.raises(ModelFileError, match="n_outputs_"):
        mixfit.load(tmp_path / "broken.mixfit")


def _expected_failed(estimator):
    if estimator.n_components == 1:
        return {}
    return {"check_sample_weight_equivalence_on_dense_data": (
        "As GaussianMixture's (test_estimator_checks.py): with more than one component the weighted "
        "and the repeated fits start from different k-means partitions and reach different optima.")}


@parametrize_with_checks([GaussianMixtureRegressor(), GaussianMixtureRegressor(2, random_state=0)],
                         expected_failed_checks=_expected_failed)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)
