"""Drop-in fidelity (issue 22, numerics): a reseed that does not land on the collapsed point, and
responsibilities whose rows sum to 1 to the last few ulps in every estimator and dtype."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mixfit import (
    BayesianGaussianMixture,
    BernoulliHMM,
    BernoulliMixture,
    CategoricalHMM,
    GaussianHMM,
    GaussianMixture,
    StudentMixture,
    VariationalCategoricalHMM,
    VariationalGaussianHMM,
)


def blob_and_duplicates():
    """60 rows of a unit blob and five copies of (8, 8): with reg_covar=0 a component holding
    only the copies has a zero covariance (PRML 9.2.1)."""
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(size=(60, 2)), np.tile([[8.0, 8.0]], (5, 1))])


def fit_quietly(est, X, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CollapseWarning / ConvergenceWarning: not the subject here
        return est.fit(X, **fit_params)


def test_reseed_does_not_restart_on_the_collapsed_point():
    """The k-means start puts component 1 on the five copies; a reseed at the worst-explained row
    picked another copy each time (ten reseeds at iteration 0, then a raise). Restarted away from
    the rows it held, the fit keeps three components."""
    X = blob_and_duplicates()
    est = fit_quietly(GaussianMixture(3, on_collapse="reseed", reg_covar=0, random_state=0), X)
    assert est.weights_.shape == (3,) and np.all(est.weights_ > 0)
    iterations = [event["iteration"] for event in est.collapse_events_]
    # invariance: a reseed never collapses again within the M-step that made it
    assert len(set(iterations)) == len(iterations), iterations
    assert np.all(np.linalg.eigvalsh(est.covariances_) > 0)


def test_drop_ends_at_one_component_as_maximum_likelihood_does():
    """'drop' ending at K = 1 on this data is legitimate: after the copies' component is dropped,
    EM with K = 2 moves a blob component onto the copies (the likelihood is unbounded there,
    PRML 9.2.1; scikit-learn raises on this data), a genuine collapse, dropped in turn. What is left
    is the K = 1 maximum-likelihood fit, whose oracle is the sample mean and covariance."""
    X = blob_and_duplicates()
    est = fit_quietly(GaussianMixture(3, on_collapse="drop", reg_covar=0, random_state=0), X)
    assert [event["action"] for event in est.collapse_events_] == ["drop", "drop"]
    np.testing.assert_allclose(est.weights_, [1.0])
    # one M-step from exact sums: float64 rounding only
    np.testing.assert_allclose(est.means_[0], X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(est.covariances_[0], np.cov(X.T, bias=True), rtol=1e-10)


# Each row's sum is within this many ulps of 1 (float32: 1.2e-7 each): the responsibilities are
# formed in float64 and rounded once, so each entry is off by at most half its own ulp and the
# sum of K entries by at most half an ulp of 1, plus the check's own float32 additions.
ULPS = 4


def gaussian_rows(dtype, scale):
    rng = np.random.default_rng(1)
    X = np.r_[rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) + 3.0, rng.normal(size=(100, 3)) - 3.0]
    return (X * scale).astype(dtype)


def binary_rows(dtype, scale):
    rng = np.random.default_rng(2)
    X = (rng.random((400, 6)) < np.where(np.arange(400)[:, None] < 200, 0.8, 0.2)).astype(dtype)
    return X


def categorical_rows(dtype, scale):
    rng = np.random.default_rng(3)
    return rng.integers(0, 4, size=(400, 1))


ESTIMATORS = {
    "GaussianMixture": (lambda: GaussianMixture(3, random_state=0), gaussian_rows),
    "BayesianGaussianMixture": (lambda: BayesianGaussianMixture(n_components=3, random_state=0), gaussian_rows),
    "BernoulliMixture": (lambda: BernoulliMixture(3, random_state=0), binary_rows),
    "StudentMixture": (lambda: StudentMixture(3, random_state=0), gaussian_rows),
    "GaussianHMM": (lambda: GaussianHMM(3, random_state=0), gaussian_rows),
    "VariationalGaussianHMM": (lambda: VariationalGaussianHMM(3, random_state=0), gaussian_rows),
    "BernoulliHMM": (lambda: BernoulliHMM(3, random_state=0), binary_rows),
    "CategoricalHMM": (lambda: CategoricalHMM(3, random_state=0), categorical_rows),
    "VariationalCategoricalHMM": (lambda: VariationalCategoricalHMM(3, random_state=0), categorical_rows),
}


@pytest.mark.parametrize("scale", [1.0, 1e15], ids=["ordinary", "scaled-1e15"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_predict_proba_rows_sum_to_one_within_a_few_ulps(name, dtype, scale):
    make, make_rows = ESTIMATORS[name]
    X = make_rows(dtype, scale)
    est = fit_quietly(make(), X)
    proba = est.predict_proba(X)
    out = proba.dtype
    assert out in (np.float32, np.float64)
    assert np.all(proba >= 0)
    # the exact sum of each row (fsum), so that the check adds no rounding of its own
    error = max(abs(math.fsum(row) - 1.0) for row in proba.astype(np.float64))
    assert error <= ULPS * np.spacing(out.type(1)), (error, np.spacing(out.type(1)))
