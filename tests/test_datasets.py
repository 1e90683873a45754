import numpy as np

from mixfit.datasets import TUTORIAL, load_faithful, make_tutorial


def test_faithful_is_the_r_dataset():
    X, names = load_faithful()
    assert names == ["eruptions", "waiting"]
    assert X.shape == (272, 2) and X.dtype == np.float64
    # R's datasets::faithful: first row (3.600, 79), ranges [1.6, 5.1] minutes and [43, 96] minutes
    np.testing.assert_array_equal(X[0], [3.6, 79])
    np.testing.assert_array_equal(X.min(axis=0), [1.6, 43])
    np.testing.assert_array_equal(X.max(axis=0), [5.1, 96])


def test_tutorial_generator_has_its_stated_moments():
    X, labels, truth = make_tutorial(200_000, random_state=0)
    assert truth is TUTORIAL
    for k in range(3):
        rows = X[labels == k]
        # 200k draws: the standard error of a weight is <= 0.0012, of a mean or covariance
        # entry <= 1.5 / sqrt(30000) ~ 0.009; 0.05 is > 5 standard errors.
        assert abs(rows.shape[0] / X.shape[0] - truth.weights[k]) < 0.01
        np.testing.assert_allclose(rows.mean(axis=0), truth.means[k], atol=0.05)
        np.testing.assert_allclose(np.cov(rows.T), truth.covariances[k], atol=0.05)


def test_tutorial_generator_is_seeded():
    a, _, _ = make_tutorial(50, random_state=3)
    b, _, _ = make_tutorial(50, random_state=3)
    np.testing.assert_array_equal(a, b)
