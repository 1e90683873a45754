"""fit_many: each problem's result equals its own GaussianMixture fit (the oracle: mixfit's
single-problem path, itself checked against scikit-learn), whatever the others do."""

import warnings

import numpy as np
import pytest

from mixfit import CollapsedComponentError, GaussianMixture, fit_many
from mixfit.exceptions import ConvergenceWarning

COVARIANCES = ["full", "tied", "diag", "spherical"]
# Two float64 computations of the same EM in different orders of summation (stacked features
# about each set's mean, against the single fit's chunked kernel): rounding only, held under
# the stacked form's rounding limit (families/stacked.py), measured up to ~5e-11.
ATOL = 1e-10


def _sets(rng, sizes, dim=2):
    return [np.vstack([rng.normal(0, 1, (n // 2, dim)), rng.normal(4, 0.8, (n - n // 2, dim))]) for n in sizes]


def _assert_same(many, single, history=True):
    for name in ("weights_", "means_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(many, name), getattr(single, name), rtol=0, atol=ATOL, err_msg=name)
    assert many.converged_ == single.converged_
    np.testing.assert_allclose(many.lower_bound_, single.lower_bound_, rtol=0, atol=ATOL)
    if history:
        assert many.n_iter_ == single.n_iter_
        np.testing.assert_allclose(many.lower_bounds_, single.lower_bounds_, rtol=0, atol=ATOL)


@pytest.mark.parametrize("covariance_type", COVARIANCES)
def test_equals_single_fits_with_kmeans_start(covariance_type):
    rng = np.random.default_rng(0)
    sets = _sets(rng, [30, 75, 140, 200, 61])  # different n per problem
    seeds = [3, 1, 4, 1, 5]
    fits = fit_many(sets, n_components=3, covariance_type=covariance_type, random_state=seeds)
    for X, seed, fit in zip(sets, seeds, fits):
        _assert_same(fit, GaussianMixture(3, covariance_type=covariance_type, random_state=seed).fit(X))


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_given_starts_sample_weights_and_n_init(covariance_type):
    rng = np.random.default_rng(1)
    sets = _sets(rng, [40, 90, 55])
    weights = [rng.uniform(0.2, 3, X.shape[0]) for X in sets]
    means_init = [X[[0, -1]] for X in sets]
    fits = fit_many(sets, sample_weight=weights, n_components=2, covariance_type=covariance_type,
                    means_init=means_init, n_init=1, random_state=0)
    for X, w, m, fit in zip(sets, weights, means_init, fits):
        single = GaussianMixture(2, covariance_type=covariance_type, means_init=m, random_state=0)
        _assert_same(fit, single.fit(X, sample_weight=w))
    fits = fit_many(sets, n_components=2, covariance_type=covariance_type, n_init=3, init_params="random",
                    random_state=7)
    for X, fit in zip(sets, fits):
        # Restarts that reach the same optimum tie to rounding (on the third set, full, two of the
        # three end at the same lower bound to the last bit or one ulp apart, after 32 and 34
        # iterations): the kept one is rounding's choice, so its history is not compared, only the
        # fitted model.
        _assert_same(fit, GaussianMixture(2, covariance_type=covariance_type, n_init=3, init_params="random",
                                          random_state=7).fit(X), history=False)


def test_a_problem_that_stops_early_is_frozen():
    rng = np.random.default_rng(2)
    easy = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(30, 1, (100, 2))])  # converges in a few passes
    hard = rng.normal(0, 1, (150, 2))  # one blob split in three: many passes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = fit_many([hard, easy], n_components=3, tol=1e-8, max_iter=300, random_state=0)
        singles = [GaussianMixture(3, tol=1e-8, max_iter=300, random_state=0).fit(X) for X in (hard, easy)]
    assert fits[1].n_iter_ < fits[0].n_iter_
    for fit, single in zip(fits, singles):
        _assert_same(fit, single)


def test_fitted_estimators_are_usable(tmp_path):
    import mixfit

    rng = np.random.default_rng(3)
    sets = _sets(rng, [60, 80])
    fit = fit_many(sets, n_components=2, random_state=0)[1]
    assert fit.predict(sets[1]).shape == (80,)
    fit.save(tmp_path / "one.mixfit")
    np.testing.assert_array_equal(mixfit.load(tmp_path / "one.mixfit").score_samples(sets[1]), fit.score_samples(sets[1]))


def test_not_converged_warns_once_naming_the_sets():
    rng = np.random.default_rng(4)
    with pytest.warns(ConvergenceWarning, match=r"2 of 2 data sets did not converge"):
        fit_many(_sets(rng, [50, 60]), n_components=2, tol=0, max_iter=3, random_state=0)


def test_settings_outside_the_stacked_path_give_the_single_fits():
    rng = np.random.default_rng(5)
    sets = _sets(rng, [50, 70])
    fits = fit_many(sets, n_components=2, covariance_type="VEV", random_state=0)
    for X, fit in zip(sets, fits):
        _assert_same(fit, GaussianMixture(2, covariance_type="VEV", random_state=0).fit(X))


def test_errors_name_the_argument():
    rng = np.random.default_rng(6)
    with pytest.raises(ValueError, match="datasets is empty"):
        fit_many([], n_components=2)
    with pytest.raises(ValueError, match=r"datasets\[1\] has 3 features; expected 2"):
        fit_many([rng.normal(size=(20, 2)), rng.normal(size=(20, 3))], n_components=2)
    with pytest.raises(ValueError, match=r"datasets\[1\]: .*n_samples = 2 rows but n_components = 3"):
        fit_many([rng.normal(size=(20, 2)), rng.normal(size=(2, 2))], n_components=3)
    with pytest.raises(ValueError, match="random_state has 1 entries; expected one per data set"):
        fit_many([rng.normal(size=(20, 2))] * 2, n_components=2, random_state=[0])
    with pytest.raises(ValueError, match="sample_weight must be None or a list of 2"):
        fit_many([rng.normal(size=(20, 2))] * 2, n_components=2, sample_weight=np.ones(20))


def test_collapse_names_the_data_set():
    rng = np.random.default_rng(7)
    good = rng.normal(size=(40, 2))
    point = np.repeat([[1.0, 2.0]], 10, axis=0)  # one repeated point: a component collapses
    with pytest.raises(CollapsedComponentError, match=r"datasets\[1\]"):
        fit_many([good, np.vstack([point, point + 5])], n_components=2, reg_covar=0, random_state=0)
