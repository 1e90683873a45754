"""Properties over random small problems (hypothesis): shapes, dtypes, sample weights (zeros
included) and covariance types, for both estimators. No NaN anywhere, responsibilities that sum
to 1, finite densities, and an objective that never decreases.

derandomize=True: the examples are a fixed function of the test, so CI sees the same cases every
run; deadline=None: a fit's time depends on the machine, not on correctness.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mixfit import BayesianGaussianMixture, CollapsedComponentError, GaussianMixture
from mixfit.exceptions import ConvergenceWarning

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    """(X, sample_weight or None, n_components, covariance_type): K well-spread centres, a few rows
    each, and weights that may be zero for some rows but leave at least 2 rows per component."""
    n_components = draw(st.integers(1, 3))
    n_features = draw(st.integers(1, 3))
    rows_per = draw(st.integers(2 * n_features + 2, 12))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=8.0, size=(n_components, n_features))
    X = np.concatenate([c + rng.normal(size=(rows_per, n_features)) for c in centres]).astype(dtype)
    weighting = draw(st.sampled_from(["none", "positive", "with-zeros"]))
    weights = None
    if weighting == "positive":
        weights = rng.uniform(0.1, 3.0, size=X.shape[0])
    elif weighting == "with-zeros":
        weights = rng.integers(0, 3, size=X.shape[0]).astype(float)
        weights[:: max(1, X.shape[0] // (2 * n_components))] = 1.0  # keep enough positive rows
    return X, weights, n_components, draw(st.sampled_from(COVARIANCE_TYPES))


def fit_or_reject(est, X, weights):
    """Fit; a documented collapse (possible for maximum likelihood on a few rows) is not a
    counterexample to these properties, so hypothesis discards that example."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            return est.fit(X, sample_weight=weights)
        except CollapsedComponentError:
            assume(False)


def assert_sane(est, X):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_"):
        assert np.all(np.isfinite(getattr(est, name))), name
    assert est.means_.dtype == X.dtype
    log_p = est.score_samples(X)
    assert np.all(np.isfinite(log_p))
    proba = est.predict_proba(X)
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
    # each term exp(ln rho - ln p) is off by ~eps |ln p|; K terms per row
    slack = 4 * proba.shape[1] * np.finfo(X.dtype).eps * (1 + np.abs(log_p))
    assert np.all(np.abs(proba.sum(axis=1, dtype=np.float64) - 1) <= slack)


@SETTINGS
@given(problems())
def test_em_fits_are_finite_and_normalised(problem):
    X, weights, n_components, covariance_type = problem
    est = fit_or_reject(GaussianMixture(n_components, covariance_type=covariance_type, random_state=0),
                        X, weights)
    assert_sane(est, X)


@SETTINGS
@given(problems())
def test_vb_fits_are_finite_and_normalised(problem):
    X, weights, n_components, covariance_type = problem
    est = fit_or_reject(BayesianGaussianMixture(n_components=n_components, covariance_type=covariance_type,
                                                random_state=0, max_iter=50), X, weights)
    assert_sane(est, X)


@SETTINGS
@given(problems())
def test_em_log_likelihood_never_decreases(problem):
    """reg_covar=0: each M-step is the exact maximiser, so EM cannot decrease the likelihood
    (PRML 9.4). float64 data: the slack is rounding of a sum of n log densities (1e-12 relative);
    float32 data: each log density carries ~eps32 relative error, so 1e-5 relative."""
    X, weights, n_components, covariance_type = problem
    est = fit_or_reject(GaussianMixture(n_components, covariance_type=covariance_type, reg_covar=0.0, tol=0,
                                        max_iter=30, init_params="random", random_state=0), X, weights)
    bounds = np.asarray(est.lower_bounds_)
    rel = 1e-12 if X.dtype == np.float64 else 1e-5
    assert np.all(np.diff(bounds) >= -rel * (1 + np.abs(bounds[1:])))


@SETTINGS
@given(problems())
def test_vb_elbo_never_decreases(problem):
    """Coordinate ascent on the ELBO; with the default reg_covar the covariance update adds 1e-6 I
    to S_k, so it is not the exact coordinate maximiser: allow 1e-6 relative (the ridge's size
    relative to unit-scale data), besides rounding (float32: 1e-5)."""
    X, weights, n_components, covariance_type = problem
    est = fit_or_reject(BayesianGaussianMixture(n_components=n_components, covariance_type=covariance_type,
                                                tol=0, max_iter=30, random_state=0), X, weights)
    bounds = np.asarray(est.lower_bounds_)
    rel = 1e-6 if X.dtype == np.float64 else 1e-5
    assert np.all(np.diff(bounds) >= -rel * (1 + np.abs(bounds[1:])))
