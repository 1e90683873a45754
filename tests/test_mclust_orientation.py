"""The compiled common-orientation sweep (kernels.orientation_compiled) against the numpy one
(families.mclust_msteps._orientation_sweep), which test_mclust_families checks against R."""

import numpy as np
import pytest

from mixfit.families import mclust_msteps

pytest.importorskip("numba")


@pytest.mark.parametrize("K, D", [(1, 2), (3, 4), (6, 5)])
def test_compiled_sweep_equals_the_numpy_sweep(K, D):
    from mixfit.kernels.orientation_compiled import orientation_sweep

    rng = np.random.default_rng(K * 10 + D)
    A = rng.normal(size=(K, D, D))
    scatter = A @ A.transpose(0, 2, 1) + np.eye(D)
    orientation = np.linalg.qr(rng.normal(size=(D, D)))[0]
    inverse = rng.uniform(0.5, 2.0, size=(K, D))
    expected = mclust_msteps._orientation_sweep(orientation, scatter, inverse)
    got = orientation_sweep(orientation, scatter, inverse, mclust_msteps._FLAT)
    # the same rotations; sums in another order: rounding of a few ulps per entry
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # a flat plane (equal inverse diagonals) is left unrotated by both
    same = np.ones((K, D))
    np.testing.assert_array_equal(orientation_sweep(orientation, scatter, same, mclust_msteps._FLAT), orientation)


def test_common_orientation_trace_is_the_objective():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 4, 4))
    covariances = A @ A.transpose(0, 2, 1) / 4 + np.eye(4)
    mass = np.array([40.0, 25.0, 35.0])
    for equal_volume in (True, False):
        result = mclust_msteps.common_orientation(covariances, mass, equal_volume)
        exact = mclust_msteps.covariance_objective(result.covariances, mass[:, None, None] * covariances, mass)
        # the eigenbasis form of F equals the solve-based one up to rounding
        np.testing.assert_allclose(result.objective[-1], exact, rtol=1e-10)
        assert np.all(np.diff(result.objective) <= 1e-9 * np.abs(result.objective[:-1]))


def test_vee_trace_is_the_objective():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(3, 4, 4))
    covariances = A @ A.transpose(0, 2, 1) / 4 + np.eye(4)
    mass = np.array([40.0, 25.0, 35.0])
    result = mclust_msteps.vee(covariances, mass)
    exact = mclust_msteps.covariance_objective(result.covariances, mass[:, None, None] * covariances, mass)
    # the closed form of F at the volume step's optimum equals the solve-based F up to rounding
    np.testing.assert_allclose(result.objective[-1], exact, rtol=1e-10)
