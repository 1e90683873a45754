"""Many components (issue 17): the E-step's products, the exponent floor, the stacked sparse
moments and the whitened moments' inverse factors against the literal per-point oracle."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from oracles import gaussian_em as oracle

from mixfit.families.registry import make_covariance
from mixfit.kernels.linalg import normalize_log_rows, precision_chol_from_covariance
from mixfit.kernels.sparse_moments import sparse_moments
from mixfit.models.gaussian_em import GaussianEM, GaussianParams

N_COMPONENTS, N_FEATURES, N_ROWS = 48, 5, 400


def _case(covariance_type, rng, spread=3.0):
    """Rows from a mixture of many components and its params in the family's form, with the
    full covariances the oracle takes."""
    K, D = N_COMPONENTS, N_FEATURES
    weights = rng.dirichlet(np.full(K, 5.0))
    means = rng.normal(scale=spread, size=(K, D))
    if covariance_type == "full":
        a = rng.normal(size=(K, D, D))
        covariances = a @ np.swapaxes(a, 1, 2) / D + 0.3 * np.eye(D)
        prec_chol = precision_chol_from_covariance(covariances)
    elif covariance_type == "diag":
        variances = rng.uniform(0.3, 1.5, size=(K, D))
        covariances = np.array([np.diag(v) for v in variances])
        prec_chol = 1 / np.sqrt(variances)
    else:
        variances = rng.uniform(0.3, 1.5, size=K)
        covariances = variances[:, None, None] * np.eye(D)
        prec_chol = 1 / np.sqrt(variances)
    labels = rng.choice(K, size=N_ROWS, p=weights)
    X = np.array([rng.multivariate_normal(means[k], covariances[k]) for k in labels])
    return X, GaussianParams(weights, means, prec_chol), covariances


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_accumulate_with_many_components_equals_the_oracle(covariance_type, dtype, rng):
    """One chunk's statistics at K = 48 (the row-feature product for diag and spherical, the
    packed form with sparse, stacked moments for full) against the per-point definitions, with
    sample weights. float64: rounding only (1e-9 of each array's scale); float32: the data's
    and the log densities' float32 rounding (~1e-5; the moments are summed in float64)."""
    X, params, covariances = _case(covariance_type, rng)
    X = X.astype(dtype)
    weight = rng.uniform(0.5, 2.0, size=N_ROWS)
    model = GaussianEM(make_covariance(covariance_type), reg_covar=1e-6, dtype=dtype)
    stats = model.accumulate(X, params.astype(dtype), weight.astype(dtype))
    X64 = X.astype(np.float64)
    means = params.means.astype(dtype).astype(np.float64)  # the shifts the model used
    resp, log_norm = oracle.e_step(X64, params.weights, params.means, covariances)
    mass, first, scatter = oracle.moments_about(X64, resp, weight, means, covariance_type)
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    assert_allclose(stats.log_norm, log_norm @ weight, rtol=rtol * 1e-1)
    assert_allclose(stats.mass, mass, rtol=0, atol=rtol * mass.max())
    assert_allclose(stats.first, first, rtol=0, atol=rtol * np.abs(first).max())
    assert_allclose(stats.scatter, scatter, rtol=0, atol=rtol * np.abs(scatter).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_sparse_moments_stacked_equal_the_oracle(dtype, rng):
    """The rows that carry weight, K rank updates as one stacked product (few rows per
    component): the definitions' moments about the shifts, to rounding."""
    X, params, covariances = _case("full", rng, spread=6.0)
    resp, _ = oracle.e_step(X, params.weights, params.means, covariances)
    sparse = sparse_moments(X.astype(dtype), resp.astype(dtype), params.means.astype(dtype).astype(np.float64))
    assert sparse is not None  # separated components: few pairs carry weight
    shift = params.means.astype(dtype).astype(np.float64)
    _, first, scatter = oracle.moments_about(X.astype(dtype).astype(np.float64), resp.astype(dtype), None, shift,
                                             "full")
    tol = 1e-12 if dtype == np.float64 else 1e-5  # float32 rows about c_k, products summed in float32
    assert_allclose(sparse[0], first, rtol=0, atol=tol * np.abs(first).max())
    assert_allclose(sparse[1], scatter, rtol=0, atol=tol * np.abs(scatter).max())


def test_whitened_moments_equal_the_oracle(rng):
    """The whitened form's moments, mapped back by the inverse factors formed once per pass
    (asked for twice, as by two chunks): the definitions' moments, to rounding."""
    X, params, covariances = _case("full", rng, spread=1.0)
    covariance = make_covariance("full")
    resp, _ = oracle.e_step(X, params.weights, params.means, covariances)
    _, first, scatter = oracle.moments_about(X, resp, None, params.means, "full")
    for _ in range(2):
        _, workspace = covariance.e_step(X - 0.0, params.means, params.prec_chol)  # centre None: whitened
        got_first, got_scatter = covariance.moments(X, resp, params.means, workspace)
        assert_allclose(got_first, first, rtol=0, atol=1e-11 * np.abs(first).max())
        assert_allclose(got_scatter, scatter, rtol=0, atol=1e-11 * np.abs(scatter).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_exponent_floor_changes_no_responsibility(dtype, rng):
    """ln rho spread over thousands of units (far components): the responsibilities and
    ln sum_k rho_nk of the floored exponentials equal the literal ones (float64, unfloored) to
    the dtype's rounding, and none is a subnormal number."""
    log_rho = (-rng.uniform(0, 3000, size=(200, 512)) * rng.uniform(0, 1, size=(200, 1)) ** 2).astype(dtype)
    literal = log_rho.astype(np.float64)
    peak = literal.max(axis=1, keepdims=True)
    expected_norm = peak[:, 0] + np.log(np.exp(literal - peak).sum(axis=1))
    expected = np.exp(literal - expected_norm[:, None])
    resp, log_norm = normalize_log_rows(np.asfortranarray(log_rho.copy()))
    eps = np.finfo(dtype).eps
    assert_allclose(log_norm, expected_norm, rtol=0, atol=8 * eps * np.abs(expected_norm).max())
    assert_allclose(resp, expected, rtol=0, atol=8 * eps)
    assert not ((resp > 0) & (resp < np.finfo(dtype).tiny)).any()


def test_float32_chunks_take_more_rows_only_within_four_working_sets():
    """float32 diag chunks at large K are sized up to 1024 rows (their fixed (K, D) cost per
    chunk against float32's faster products), never beyond four working sets; float64 and the
    full family's large workspace keep the working-set sizing."""
    from mixfit.backends import default_chunk_size

    diag = make_covariance("diag")
    full = make_covariance("full")
    D, K = 60, 2048
    float64_rows = default_chunk_size(D, K, 8, diag.workspace_columns(D, K), diag.chunk_bytes)
    float32_rows = default_chunk_size(D, K, 4, diag.workspace_columns(D, K), diag.chunk_bytes)
    assert float64_rows == 256  # 8 MiB over 8 (2 D + D + 3 K) bytes a row: 165 rows, raised to the floor
    assert float32_rows == 1024
    per_row = 4 * (2 * D + diag.workspace_columns(D, K) + 3 * K)
    assert float32_rows * per_row <= 4 * diag.chunk_bytes
    # K = 4096: four working sets hold fewer than 1024 rows
    per_row = 4 * (2 * D + diag.workspace_columns(D, 2 * K) + 6 * K)
    assert default_chunk_size(D, 2 * K, 4, diag.workspace_columns(D, 2 * K), diag.chunk_bytes) == \
        4 * diag.chunk_bytes // per_row
    # full covariance at (32, 128): 923 rows by its 16 MiB working set, 1024 now (1.1 of them)
    per_row = 4 * (2 * 32 + full.workspace_columns(32, 128) + 3 * 128)
    assert full.chunk_bytes // per_row == 923
    assert default_chunk_size(32, 128, 4, full.workspace_columns(32, 128), full.chunk_bytes) == 1024
    # a workspace too large for 256 rows in four working sets: the 256-row floor, as before
    assert default_chunk_size(64, 4096, 4, 64 * 4096, full.chunk_bytes) == 256
    # small K: the working-set sizing already gives more rows, unchanged
    assert default_chunk_size(32, 16, 4, diag.workspace_columns(32, 16), diag.chunk_bytes) == \
        diag.chunk_bytes // (4 * (64 + 32 + 48))
