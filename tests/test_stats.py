"""The seam's values (stats.py): additive over any split of the rows, scaled like the weights."""

from itertools import pairwise

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose

from mixfit.families.registry import make_covariance
from mixfit.models import GaussianEM, GaussianParams

WEIGHTING = ["unweighted", "weighted"]


def make_case(covariance_type, mixture, rng, n=500):
    """A model, parameters that are not a fixed point, and data from the mixture."""
    model = GaussianEM(make_covariance(covariance_type), reg_covar=1e-6)
    X, _ = mixture.sample(n, rng)
    K, D = mixture.means.shape
    means = mixture.means + rng.normal(scale=0.5, size=(K, D))
    prec_chol = {
        "full": np.linalg.cholesky(np.linalg.inv(mixture.covariances)),
        "tied": np.linalg.cholesky(np.linalg.inv(mixture.covariances.mean(axis=0))),
        "diag": rng.uniform(0.5, 2.0, size=(K, D)),
        "spherical": rng.uniform(0.5, 2.0, size=K),
    }[covariance_type]
    return model, GaussianParams(np.array([0.3, 0.3, 0.4]), means, prec_chol), X


def assert_stats_close(actual, expected, rtol):
    assert_allclose(actual.shift, expected.shift, rtol=0)  # a point, never summed
    for name in ["mass", "first", "scatter", "log_norm", "weight_sum"]:
        value = np.asarray(getattr(expected, name))
        # atol at the field's own scale: first (a sum of centred rows) has entries near zero.
        assert_allclose(getattr(actual, name), value, rtol=rtol, atol=rtol * np.abs(value).max(), err_msg=name)


@pytest.mark.parametrize("weighting", WEIGHTING)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_stats_are_additive_over_any_split(covariance_type, weighting, separated, rng):
    model, params, X = make_case(covariance_type, separated, rng)
    w = rng.uniform(0.1, 2.0, size=X.shape[0]) if weighting == "weighted" else None
    whole = model.accumulate(X, params, w)
    cuts = [0, 1, 137, 138, 401, X.shape[0]]  # uneven parts, two of a single row
    parts = [model.accumulate(X[a:b], params, None if w is None else w[a:b]) for a, b in pairwise(cuts)]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    assert_stats_close(total, whole, rtol=1e-12)  # float64 sums in two orders; rounding only


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_scale_equals_scaling_the_weights(covariance_type, separated, rng):
    model, params, X = make_case(covariance_type, separated, rng)
    w = rng.uniform(0.1, 2.0, size=X.shape[0])
    scaled = model.accumulate(X, params, w).scale(2.5)
    assert_stats_close(scaled, model.accumulate(X, params, 2.5 * w), rtol=1e-12)  # rounding only


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_unit_weights_equal_no_weights(covariance_type, separated, rng):
    model, params, X = make_case(covariance_type, separated, rng)
    ones = model.accumulate(X, params, np.ones(X.shape[0]))
    assert_stats_close(ones, model.accumulate(X, params, None), rtol=1e-12)  # rounding only


def test_stats_about_different_shifts_do_not_add(separated, rng):
    model, params, X = make_case("full", separated, rng)
    moved = GaussianParams(params.weights, params.means + 1.0, params.prec_chol)
    with pytest.raises(ValueError, match="shift"):
        model.accumulate(X[:10], params, None) + model.accumulate(X[10:], moved, None)


def test_float32_responsibilities_of_far_components_are_never_subnormal():
    """ln rho_nk - max_j ln rho_nj below ln(FLT_MIN) = -87.3, the common case of a component far
    from a row, is where float32's exponential returns subnormal numbers (and it and every
    later sum over them run 12-15x slower). The E-step floors the exponents at -80 first: the
    responsibilities are normal numbers (>= e^-80 / K), equal to the float64 ones to 1e-30
    absolute (the floored terms are 1.8e-35), and ln sum_k rho_nk is unchanged at float32
    precision."""
    from mixfit.kernels.linalg import normalize_log_rows

    rng = np.random.default_rng(0)
    log_rho = np.column_stack([rng.uniform(-5, 0, 1000), rng.uniform(-104, -85, 1000),
                               rng.uniform(-300, -100, 1000), rng.uniform(-90, -80, 1000)])
    resp64, norm64 = normalize_log_rows(log_rho.copy())
    resp32, norm32 = normalize_log_rows(log_rho.astype(np.float32))
    assert resp32.dtype == np.float32
    assert np.all(resp32 >= np.finfo(np.float32).tiny)  # no zero, no subnormal
    assert_allclose(resp32, resp64, rtol=1e-6, atol=1e-30)
    assert_allclose(norm32, norm64, rtol=1e-6)
