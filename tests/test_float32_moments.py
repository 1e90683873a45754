"""float32 diag / spherical moments (issue 17): summed in float32 where the rounding bound of
kernels/row_features.py keeps the scatter (on a chunk's sums, or on a whole pass's inside
kernels/float32_pass.settled_sum), in float64 where it does not, against the literal per-point
moments of tests/oracles."""

from __future__ import annotations

import functools
import operator

import numpy as np
import pytest
from numpy.testing import assert_allclose
from oracles import gaussian_em as oracle

from mixfit import GaussianMixture
from mixfit.families.registry import make_covariance
from mixfit.kernels import float32_pass
from mixfit.kernels.linalg import FLOAT32_PRODUCT_ROWS, column_sum, normalize_log_rows
from mixfit.kernels.row_features import FLOAT32_MOMENT_TOLERANCE, float32_sums, unkept_components
from mixfit.models.gaussian_em import GaussianEM, GaussianParams
from mixfit.stats import gaussian_statistics

U32 = 2.0**-24  # float32's unit roundoff


def _ratio(means_c, variance):
    """R_kd = a (a + 2 |delta|) / sigma^2, a^2 = sigma^2 + delta^2: the referral's terms'
    magnitudes, S + 2 |delta| sqrt(N S) with S ~ N a^2 (row_features.py's docstring), over the
    scatter N sigma^2 a component of these parameters keeps, per dimension."""
    a = np.sqrt(variance + means_c**2)
    return a * (a + 2 * np.abs(means_c)) / variance


def _assert_within_the_written_bound(covariance_type, got, expected, shift_c, variance, D):
    """|got - expected| <= sqrt(m) u32 R expected, the module docstring's bound (m rows per float32
    product, R the ratio of the scatter about the centre to the kept scatter), and that bound is
    a real one (inside a float32 fit's tolerance)."""
    if covariance_type == "diag":
        bound = np.sqrt(FLOAT32_PRODUCT_ROWS) * U32 * _ratio(shift_c, variance) * expected
    else:
        spread = np.sqrt((shift_c**2).sum(axis=1))
        bound = np.sqrt(FLOAT32_PRODUCT_ROWS) * U32 * _ratio(spread, D * variance) * expected
    assert np.all(bound < 1e-3 * expected)
    assert np.all(np.abs(got - expected) <= bound)


def _eight_components(covariance_type, K, D, n, rng):
    """n float32 rows of K components a few standard deviations from the centre (means of scale 3,
    variances in [0.5, 1.5]), the generating parameters and variances."""
    means = rng.normal(scale=3.0, size=(K, D))
    variance = rng.uniform(0.5, 1.5, size=(K, D)) if covariance_type == "diag" else rng.uniform(0.5, 1.5, size=K)
    labels = rng.integers(K, size=n)
    scale = np.sqrt(variance if covariance_type == "diag" else variance[:, None])
    X32 = (means[labels] + rng.standard_normal((n, D)) * scale[labels]).astype(np.float32)
    return X32, GaussianParams(np.full(K, 1.0 / K), means, 1 / np.sqrt(variance)), variance


def _chunk_moments(covariance_type, X32, params):
    """One float32 chunk's E-step and moments as GaussianEM.accumulate forms them, with the
    responsibilities, the centred rows and the workspace."""
    covariance = make_covariance(covariance_type)
    model = GaussianEM(covariance, reg_covar=1e-6, dtype=np.float32)
    params32 = params.astype(np.float32)
    log_rho, workspace = model._log_rho(X32, params32)
    rows = workspace.features.features[:, -X32.shape[1] - 1:-1].astype(np.float64)  # x - g, as the E-step rounded it
    resp, log_norm = normalize_log_rows(log_rho)
    stats = gaussian_statistics(covariance, X32, resp, None, params32.means, log_norm, workspace)
    return stats, resp, rows, workspace


def _float32_only(resp, workspace, shift):
    """The moments from the float32 sums alone, every component kept (the guard overruled), and
    the guard's verdict on them."""
    features = workspace.features
    sums = float32_sums(resp, features.features[:, :-1])
    mass = column_sum(resp)
    delta = np.asarray(shift, dtype=np.float64) - features.centre
    first, scatter, mass_delta2 = features._refer(sums, mass, delta)
    return (mass, first, scatter), unkept_components(sums, mass, mass_delta2, delta, features.per_dimension)


def _variance(mass, first, scatter):
    """The variance the M-step keeps, scatter / N - d^2 (diag (K, D); spherical (K,) summed)."""
    d = first / mass[:, None]
    if scatter.ndim == 1:
        return scatter / mass - (d * d).sum(axis=1)
    return scatter / mass[:, None] - d * d


def _oracle(covariance_type, rows, resp, shift_c):
    """The literal per-point moments about c_k - g of the rows x - g the E-step formed, float64."""
    mass, first, scatter = oracle.moments_about(rows, resp, None, shift_c, covariance_type)
    return _variance(mass, first, scatter)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_float32_sums_stay_within_the_bound(covariance_type, rng):
    """Components a few standard deviations from the centre (R up to ~300): the guard keeps every
    one in float32, over 2500 rows (three 1024-row products), and each kept variance is within
    sqrt(m) u32 R_kd, m = 1024, of the literal float64 moments of the same responsibilities:
    the probabilistic bound of row_features.py's docstring, taken relative to the terms'
    magnitudes R_kd times the scatter kept (measured on five such draws: up to 13 u32 R)."""
    K, D = 8, 5
    X32, params, variance = _eight_components(covariance_type, K, D, 2500, rng)
    stats, resp, rows, workspace = _chunk_moments(covariance_type, X32, params)
    _, unkept = _float32_only(resp, workspace, params.astype(np.float32).means)
    assert not unkept.any()  # hundreds of rows each: every component kept in float32
    resp = resp.astype(np.float64)
    centre = workspace.features.centre
    shift_c = params.astype(np.float32).means.astype(np.float64) - centre
    expected = _oracle(covariance_type, rows, resp, shift_c)
    got = _variance(stats.mass, stats.first, stats.scatter)
    _assert_within_the_written_bound(covariance_type, got, expected, shift_c, variance, D)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_collapsing_component_takes_the_float64_sums(covariance_type, rng):
    """A component collapsing onto a few rows 30 units from the centre (standard deviation 1e-3,
    its scatter about g ~1e9 times the scatter it keeps): the guard sends it to the float64
    sums, and its variance is the literal float64 moments' to 1e-6 (float64 sums of its own
    rows round by ~eps64 of 30^2 / 1e-6 ~ 1e-7 relative), while the float32 sums of the same
    features (the guard overruled) lose it entirely."""
    K, D = 4, 3
    means = np.array([[30.0, 30.0, 30.0], [0.0, 1.0, 0.0], [1.0, -1.0, 0.5], [-1.0, 0.0, -0.5]])
    sd = np.array([1e-3, 1.0, 1.0, 1.0])
    labels = np.concatenate([np.zeros(6, dtype=int), rng.integers(1, K, size=600)])
    X32 = (means[labels] + rng.standard_normal((labels.size, D)) * sd[labels, None]).astype(np.float32)
    variance = np.repeat((sd**2)[:, None], D, axis=1) if covariance_type == "diag" else sd**2
    params = GaussianParams(np.full(K, 1.0 / K), means, 1 / np.sqrt(variance))
    stats, resp, rows, workspace = _chunk_moments(covariance_type, X32, params)
    shift32 = params.astype(np.float32).means
    overruled, unkept = _float32_only(resp, workspace, shift32)
    assert unkept[0] and not unkept[1:].any()  # the others: ~200 rows each, kept
    shift_c = shift32.astype(np.float64) - workspace.features.centre
    expected = _oracle(covariance_type, rows, resp.astype(np.float64), shift_c)
    assert_allclose(_variance(stats.mass, stats.first, stats.scatter)[0], expected[0], rtol=1e-6)
    error = np.abs(_variance(*overruled)[0] - expected[0])
    assert np.all(error > 1e-2 * expected[0])  # what the guard prevents


def test_guard_against_its_definition(rng):
    """unkept_components against the bound written out: u32 (2 S + N delta^2) <= tolerance
    (S - s1^2 / N), per component and dimension, for components on both sides of it (one row
    in the chunk: no scatter of its own, never kept)."""
    K, D = 6, 3
    mass = np.array([40.0, 40.0, 1.0, 40.0, 40.0, 2.0])
    mean_g = rng.normal(scale=2.0, size=(K, D))  # the chunk's weighted means about g
    spread = np.array([1.0, 1e-3, 0.0, 1.0, 1.0, 1.0])[:, None] * np.ones(D)
    spread[4, 1] = 1e-4  # one narrow dimension
    second = mass[:, None] * (spread**2 + mean_g**2)  # S
    s1 = mass[:, None] * mean_g
    delta = mean_g + 0.01
    sums = np.concatenate([second, s1], axis=1)
    mass_delta2 = mass[:, None] * delta**2
    within = second - s1**2 / mass[:, None]
    written = ~(2.0**-24 * (2 * second + mass_delta2) <= FLOAT32_MOMENT_TOLERANCE * within).all(axis=1)
    assert written.tolist() == [False, True, True, False, True, False]
    assert unkept_components(sums, mass, mass_delta2, delta, True).tolist() == written.tolist()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # tol=0: max_iter always
def test_float32_fit_matches_float64_at_many_components(rng):
    """A whole float32 diag fit with the float32 moment sums (24 components, 3000 rows in chunks
    of 128, five rows of a component a chunk: the pass's guard decides, 15 EM iterations from
    the same start) against the float64 fit of the same data: float32's u = 6e-8, carried
    through the E-step's products over 15 iterations, ~1e-5 of each array's scale (as in
    test_gaussian_mixture's float32 test; measured here on three draws: 2e-5 for the
    variances, 1e-6 for weights and means), the moment sums adding a few u32 R ~ 1e-5 (R <= 450
    here; the guard allows 2^-14 = 6e-5 of each variance): 1e-4 of each array's scale."""
    K, D, n = 24, 6, 3000
    means = rng.normal(scale=4.0, size=(K, D))
    labels = rng.integers(K, size=n)
    X = means[labels] + rng.standard_normal((n, D))
    start = {"weights_init": np.full(K, 1.0 / K), "means_init": means + 0.1,
             "precisions_init": np.full((K, D), 1.0)}
    fits = [GaussianMixture(K, covariance_type="diag", max_iter=15, tol=0, chunk_size=128,
                            **start).fit(X.astype(dtype)) for dtype in (np.float32, np.float64)]
    for name in ["weights_", "means_", "covariances_"]:
        got, want = getattr(fits[0], name), getattr(fits[1], name)
        assert got.dtype == np.float32
        assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())


def _settled_pass(covariance_type, X32, params, rows):
    """One pass of the fitting loop over chunks of ``rows`` rows (``float32_pass.settled_sum``):
    the statistics, the number of passes it ran, and the literal float64 per-point moments of
    the same responsibilities summed over the chunks (mass, first, scatter, about c_k - g, from
    the rows x - g as the E-step rounded them)."""
    chunks = [X32[a:a + rows] for a in range(0, X32.shape[0], rows)]
    model = GaussianEM(make_covariance(covariance_type), reg_covar=1e-6, dtype=np.float32)
    params32 = params.astype(np.float32)
    passes = []

    def map_reduce(accumulate):
        passes.append(len(passes) + 1)
        return functools.reduce(operator.add, (accumulate(chunk, None) for chunk in chunks))

    stats = float32_pass.settled_sum(map_reduce, lambda X, w: model.accumulate(X, params32, w))
    expected = None
    for chunk in chunks:  # outside settled_sum: the same responsibilities, each chunk alone
        _, resp, rows64, workspace = _chunk_moments(covariance_type, chunk, params)
        shift_c = params32.means.astype(np.float64) - workspace.features.centre
        sums = oracle.moments_about(rows64, resp.astype(np.float64), None, shift_c, covariance_type)
        expected = sums if expected is None else tuple(a + b for a, b in zip(expected, sums))
    return stats, len(passes), expected


def _chunk_guard_rejects(covariance_type, X32, params, rows):
    """How many (chunk, component) pairs the per-chunk guard sends to float64."""
    rejected = 0
    for a in range(0, X32.shape[0], rows):
        _, resp, _, workspace = _chunk_moments(covariance_type, X32[a:a + rows], params)
        rejected += int(_float32_only(resp, workspace, params.astype(np.float32).means)[1].sum())
    return rejected


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_pass_guard_keeps_what_chunks_could_not(covariance_type, rng):
    """2000 rows in chunks of 16 (two rows of each of 8 components a chunk, often one or none:
    the per-chunk guard sends many (chunk, component) pairs to float64): the pass's check keeps
    every component in float32 in one pass, and each variance is within the written bound of the
    literal float64 moments of the same responsibilities, sqrt(m) u32 R_kd (the first test's;
    the chunks' roundings add, and so do their terms' magnitudes, into the pass's R)."""
    K, D, rows = 8, 5, 16
    X32, params, variance = _eight_components(covariance_type, K, D, 2000, rng)
    assert _chunk_guard_rejects(covariance_type, X32, params, rows) > 100
    stats, n_passes, (mass, first, scatter) = _settled_pass(covariance_type, X32, params, rows)
    assert n_passes == 1
    expected = _variance(mass, first, scatter)
    got = _variance(stats.mass, stats.first, stats.scatter)
    shift_c = params.astype(np.float32).means.astype(np.float64) - params.weights @ params.means
    _assert_within_the_written_bound(covariance_type, got, expected, shift_c, variance, D)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_collapsing_component_fails_the_pass_guard_and_ends_exact(covariance_type, rng):
    """The parameters give component 0 a standard deviation of 1 eight units from the centre
    (predicted ratio u32 (2 + 3 * 64) < 2^-15: summed in float32 from the first chunk), but its
    six rows lie within 1e-3 of its mean: the pass's scatter is ~1e-6 of what the parameters
    say, the pass's check fails it, a second pass sums it in float64 from its rows, and its
    variance is the literal float64 moments' to 1e-6 (float64 sums of its own rows round by
    ~eps64 of 64 / 1e-6 ~ 1e-8 relative); the float32 sums of the same pass lose it entirely."""
    K, D = 4, 3
    means = np.array([[8.0, 8.0, 8.0], [0.0, 1.0, 0.0], [1.0, -1.0, 0.5], [-1.0, 0.0, -0.5]])
    sd = np.array([1e-3, 1.0, 1.0, 1.0])
    labels = rng.permutation(np.concatenate([np.zeros(6, dtype=int), rng.integers(1, K, size=600)]))
    X32 = (means[labels] + rng.standard_normal((labels.size, D)) * sd[labels, None]).astype(np.float32)
    params = GaussianParams(np.full(K, 1.0 / K), means, np.ones((K, D)) if covariance_type == "diag" else np.ones(K))
    stats, n_passes, (mass, first, scatter) = _settled_pass(covariance_type, X32, params, 64)
    assert n_passes == 2  # the check failed component 0 after the first
    expected = _variance(mass, first, scatter)
    assert_allclose(_variance(stats.mass, stats.first, stats.scatter)[0], expected[0], rtol=1e-6)
    assert_allclose(_variance(stats.mass, stats.first, stats.scatter)[1:], expected[1:], rtol=1e-4)  # float32 kept
    unchecked = [_float32_only(*_chunk_moments(covariance_type, X32[a:a + 64], params)[1::2],
                               params.astype(np.float32).means)[0] for a in range(0, X32.shape[0], 64)]
    unchecked = [sum(parts) for parts in zip(*unchecked)]  # the same pass's float32 sums, unguarded
    error = np.abs(_variance(*unchecked)[0] - expected[0])
    assert np.all(error > 1e-2 * expected[0])  # what the pass's guard prevents
