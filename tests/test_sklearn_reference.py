"""scikit-learn's GaussianMixture as an independent reference for mixfit's GaussianMixture.

From identical ``*_init`` both run the same EM, so they must reach the same optimum in the same
number of iterations; from identical fitted parameters, every prediction and score must agree.
"""

import numpy as np
import pytest
import sklearn.mixture
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose, assert_array_equal

from mixfit import GaussianMixture


def assert_close(actual, expected, rtol):
    """Relative to the array's own magnitude, so near-zero entries are not held to an
    impossible relative accuracy."""
    expected = np.asarray(expected, dtype=float)
    assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.fixture
def data(separated, rng):
    X, _ = separated.sample(600, rng)
    return X


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_converged_fit_matches_sklearn(covariance_type, data, separated, make_start, rng):
    start = make_start(separated, covariance_type, rng)
    options = dict(covariance_type=covariance_type, tol=1e-9, max_iter=500, reg_covar=1e-6, **start)
    ours = GaussianMixture(3, **options).fit(data)
    theirs = sklearn.mixture.GaussianMixture(3, **options).fit(data)

    assert ours.converged_ and theirs.converged_
    # The same iterations from the same start: the counts must agree, or one of us iterates
    # a different map.
    assert ours.n_iter_ == theirs.n_iter_
    # 1e-8: both are float64; sklearn forms covariances from raw second moments (E[x^2] -
    # E[x]^2, cancelling ~2 digits at this data scale) and the difference is carried through
    # ~20 contracting EM iterations, so ~1e-12 is typical and 1e-8 leaves room without hiding
    # a wrong formula (which would show at 1e-2).
    assert_close(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
    assert_close(ours.lower_bounds_, theirs.lower_bounds_, rtol=1e-8)
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"]:
        assert getattr(ours, name).shape == getattr(theirs, name).shape, name
        assert_close(getattr(ours, name), getattr(theirs, name), rtol=1e-8)


def sklearn_with_params_of(ours: GaussianMixture) -> sklearn.mixture.GaussianMixture:
    """A scikit-learn GaussianMixture carrying exactly the fitted parameters of ``ours``."""
    theirs = sklearn.mixture.GaussianMixture(ours.n_components, covariance_type=ours.covariance_type)
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_",
                 "converged_", "n_iter_", "lower_bound_", "n_features_in_"]:
        setattr(theirs, name, getattr(ours, name))
    return theirs


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predictions_and_scores_match_sklearn_from_same_parameters(covariance_type, data, separated, rng):
    ours = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(data)
    theirs = sklearn_with_params_of(ours)
    X_new, _ = separated.sample(300, rng)
    X_new[:10] += 8.0  # some rows far from every component: tails of the densities

    assert_array_equal(ours.predict(X_new), theirs.predict(X_new))
    # 1e-12: one evaluation of the same density from the same parameters, no iteration; the
    # two codes expand the Mahalanobis form differently (a few ulps of the largest distance).
    assert_close(ours.score_samples(X_new), theirs.score_samples(X_new), rtol=1e-12)
    assert_close(ours.predict_proba(X_new), theirs.predict_proba(X_new), rtol=1e-12)
    assert_close(ours.score(X_new), theirs.score(X_new), rtol=1e-12)
    assert_close(ours.bic(X_new), theirs.bic(X_new), rtol=1e-12)
    assert_close(ours.aic(X_new), theirs.aic(X_new), rtol=1e-12)
