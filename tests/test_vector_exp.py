"""kernels.vector_exp: the vectorised exponential against numpy's and the long-double one."""

import numpy as np
import pytest

pytest.importorskip("numba")

from mixfit.kernels.vector_exp import exp_inplace, log_inplace


def _exp(x):
    values = np.array(x, dtype=np.float64)
    exp_inplace(values, np.empty(2 * values.size, dtype=np.int64))
    return values


def _ulps(value, reference):
    """|value - reference| in units of the last place of ``reference`` (subnormal spacing below)."""
    return np.abs(value - reference) / np.spacing(np.abs(reference.astype(np.float64)))


def test_within_one_ulp_of_numpy_and_of_the_long_double_exponential():
    rng = np.random.default_rng(0)
    # the E-step's range: ln rho_nk minus the row's peak, down to where exp underflows to 0
    x = np.concatenate([rng.uniform(-745.0, 0.0, 500_000), rng.uniform(-1.0, 0.0, 100_000),
                        rng.uniform(-745.2, -708.0, 50_000), rng.uniform(0.0, 709.7, 50_000)])
    ours = _exp(x)
    reference = np.exp(x)
    exact = np.exp(x.astype(np.longdouble))  # 64-bit significand: the exponential to ~2^-11 ulp
    positive = reference > 0
    # 1 ulp: the reduction's rounding and the polynomial's (<0.1 ulp) against numpy's own <= 1 ulp
    assert _ulps(ours[positive], reference[positive]).max() <= 1.0
    # within one ulp of the exact value: a faithful rounding (0.86 ulp seen)
    assert (np.abs(ours[positive] - exact[positive]) / np.spacing(reference[positive])).max() < 1.0
    assert np.array_equal(ours[~positive], reference[~positive])  # underflow to 0 where numpy's does


def test_edge_cases():
    x = [0.0, -0.0, -np.inf, np.inf, np.nan, -745.13, -745.14, -746.0, -1e4, -5e-324, 709.78, 709.79, 1e4,
         -708.3964185322641, -708.4]
    with np.errstate(over="ignore"):
        reference = np.exp(np.array(x))
    ours = _exp(x)
    assert ours[0] == ours[1] == 1.0  # exp(0) exactly
    assert ours[2] == 0.0 and ours[3] == np.inf and np.isnan(ours[4])
    assert ours[5] == 5e-324 and ours[6] == ours[7] == ours[8] == 0.0  # the smallest subnormal, then 0
    assert ours[9] == 1.0
    assert ours[10] == reference[10] and ours[11] == ours[12] == np.inf
    # the normal / subnormal boundary (exp(-708.396...) = 2^-1022): one rounding, to 1 ulp of numpy's
    assert np.all(_ulps(ours[13:], reference[13:]) <= 1.0)


def test_any_length_and_in_place_only():
    rng = np.random.default_rng(1)
    for size in (0, 1, 7, 8, 9, 1361):  # the vector loop's remainders
        x = rng.uniform(-40.0, 0.0, size)
        values = x.copy()
        scratch = np.zeros(2 * size + 3, dtype=np.int64)
        exp_inplace(values, scratch)
        assert values.shape == (size,)
        assert np.all(_ulps(values, np.exp(x)) <= 1.0)


def _log(x):
    values = np.array(x, dtype=np.float64)
    log_inplace(values, np.empty(2 * values.size))
    return values


def test_log_within_two_ulps_of_numpy_and_of_the_long_double_logarithm():
    rng = np.random.default_rng(2)
    # the E-step's range (a row's sum of shifted exponentials: 1..K), then every magnitude,
    # subnormals included
    x = np.concatenate([rng.uniform(1.0, 10.0, 300_000), 10.0 ** rng.uniform(-323.0, 308.0, 300_000),
                        rng.uniform(0.5, 2.0, 100_000)])
    ours = _log(x)
    reference = np.log(x)
    exact = np.log(x.astype(np.longdouble))
    nonzero = reference != 0.0
    # 2 ulp: the reduction's k ln 2 + ln m and the series' rounding, against numpy's own <= 1 ulp
    # (1.53 ulp from the long-double logarithm seen, 2.0 from numpy's)
    assert _ulps(ours[nonzero], reference[nonzero]).max() <= 2.0
    assert (np.abs(ours[nonzero] - exact[nonzero]) / np.spacing(np.abs(reference[nonzero]))).max() <= 2.0
    assert np.all(ours[~nonzero] == 0.0)


def test_log_edge_cases():
    x = [0.0, -0.0, np.inf, np.nan, -1.0, -np.inf, 1.0, 2.0, 0.5, 5e-324, 1e-310, np.finfo(np.float64).tiny,
         np.finfo(np.float64).max, np.sqrt(2.0), np.sqrt(0.5)]
    ours = _log(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        reference = np.log(np.array(x))
    assert ours[0] == ours[1] == -np.inf and ours[2] == np.inf
    assert np.isnan(ours[3]) and np.isnan(ours[4]) and np.isnan(ours[5])
    assert ours[6] == 0.0  # ln 1 exactly
    assert np.all(_ulps(ours[7:], reference[7:]) <= 1.0)  # powers of two, subnormals, the extremes
