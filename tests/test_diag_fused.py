"""The compiled diag E-step passes (issue 17, (1e6, 32, 16) diag): the one-pass row features
(kernels/diag_fused.py) and the compiled normalisation of ln rho (kernels/normalize_compiled.py)
against numpy's passes, and diag EM fits large enough to take them against scikit-learn from the
same start, across chunk sizes (which switch the paths on and off) and with weights as repeats."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.mixture
from numpy.testing import assert_allclose, assert_array_equal

from mixfit import GaussianMixture
from mixfit.kernels import diag_fused, linalg, scratch

pytest.importorskip("numba")
from mixfit.kernels import diag_fused_compiled  # after the skip: it imports numba

# The fits run a fixed number of iterations (tol=0) and so end unconverged, by design.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Rows of the fits: 9000 rows x K = 10 is 90000 entries of ln rho, above the compiled
# normalisation's 2^15, and above the compiled features' 1024 rows; with one component per row
# (apart), a tenth of the pairs: the sparse moment sums (at most an eighth).
N_ROWS, N_FEATURES, N_COMPONENTS = 9000, 6, 10


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_row_features_equal_numpys(dtype, rng, monkeypatch):
    """The compiled loop writes the same numbers as numpy's three passes: each square is the
    one product x_d * x_d in the rows' dtype, so exactly equal."""
    Xc = rng.normal(scale=3.0, size=(2000, 7)).astype(dtype)
    compiled = diag_fused.squared_row_features(Xc).copy()
    monkeypatch.setattr(diag_fused, "COMPILED", False)
    assert_array_equal(compiled, diag_fused.squared_row_features(Xc))
    assert_array_equal(compiled[:, 7:14], Xc)  # and they are what they claim: x, x^2, 1
    assert_array_equal(compiled[:, :7], Xc * Xc)
    assert_array_equal(compiled[:, -1], 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_compiled_normalisation_equals_numpys(dtype, rng, monkeypatch):
    """Column-major ln rho of 40000 entries, with rows that test the edges: every component
    impossible (-inf: ln p stays -inf), a NaN (propagates), +inf, terms far below the exponent
    floor. The arithmetic is numpy's entry by entry; only each row's sum is taken in another
    order, which moves an entry by at most about K units of roundoff of the dtype."""
    n, K = 5000, 8
    log_rho = np.asfortranarray(rng.normal(scale=300.0, size=(n, K)).astype(dtype))
    log_rho[0] = -np.inf
    log_rho[1] = 0
    log_rho[1, 3] = np.nan  # (rows 1 and 2 otherwise 0: such rows are not shifted)
    log_rho[2] = 0
    log_rho[2, 5] = np.inf
    log_rho[3] = [0, -1e4, -1e4, -1e4, -1, -2, -3, -1e30]
    assert log_rho.size >= 2**15 and log_rho.flags.f_contiguous  # the compiled path is taken
    resp, log_norm = linalg.normalize_log_rows(log_rho.copy(order="F"))
    monkeypatch.setattr(linalg, "COMPILED", False)
    with np.errstate(invalid="ignore"):  # numpy's inf / inf in the +inf row (the compiled loop: silent)
        resp_np, log_norm_np = linalg.normalize_log_rows(log_rho.copy(order="F"))
    rtol = 2 * K * np.finfo(dtype).eps  # K terms summed in another order, then one division
    assert_allclose(resp, resp_np, rtol=rtol, atol=0, equal_nan=True)
    assert_allclose(log_norm, log_norm_np, rtol=rtol, atol=0, equal_nan=True)
    assert log_norm[0] == -np.inf and np.isnan(log_norm[1]) and log_norm[2] == np.inf
    assert_allclose(resp[4:].sum(axis=1), 1, rtol=rtol)


def _data_and_start(rng, n_rows=N_ROWS, spread=2.0):
    """Rows of ten diagonal Gaussians, overlapping (so that every row carries weight in several
    components) or, with a larger ``spread``, apart (one component per row: the sparse moment
    sums), and a start away from the generating parameters."""
    means = rng.normal(scale=spread, size=(N_COMPONENTS, N_FEATURES))
    scales = rng.uniform(0.5, 1.5, size=(N_COMPONENTS, N_FEATURES))
    labels = rng.integers(N_COMPONENTS, size=n_rows)
    X = means[labels] + scales[labels] * rng.standard_normal((n_rows, N_FEATURES))
    start = {"weights_init": np.full(N_COMPONENTS, 1 / N_COMPONENTS),
             "means_init": means + rng.normal(scale=0.5, size=means.shape),
             "precisions_init": np.ones((N_COMPONENTS, N_FEATURES))}
    return X, start


def _fit(X, start, sample_weight=None, **options):
    model = GaussianMixture(N_COMPONENTS, covariance_type="diag", tol=0.0, max_iter=8, **start, **options)
    return model.fit(X, sample_weight=sample_weight) if sample_weight is not None else model.fit(X)


def _assert_same_fit(ours, theirs, rtol):
    for name in ["weights_", "means_", "covariances_"]:
        expected = getattr(theirs, name)
        assert_allclose(getattr(ours, name), expected, rtol=rtol, atol=rtol * np.abs(expected).max(), err_msg=name)
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=rtol)


@pytest.mark.parametrize("spread", [2.0, 12.0], ids=["overlapping", "apart"])
def test_diag_fit_on_the_compiled_passes_equals_sklearn(spread, rng):
    """Eight EM iterations from the same start, one chunk of 9000 rows (the compiled passes;
    apart, the sparse moment sums) against scikit-learn's diag EM. 1e-9: both float64; the two expand the distance differently
    (scikit-learn's x^2 lambda - 2 x mu lambda + mu^2 lambda about 0, ours about the centre g)
    and form the variances from differently shifted moments, rounding differences of ~1e-13 that
    eight contracting iterations carry (a wrong term would show at 1e-3)."""
    X, start = _data_and_start(rng, spread=spread)
    ours = _fit(X, start, chunk_size=N_ROWS)
    theirs = sklearn.mixture.GaussianMixture(N_COMPONENTS, covariance_type="diag", tol=0.0, max_iter=8,
                                             **start).fit(X)
    _assert_same_fit(ours, theirs, rtol=1e-9)


@pytest.mark.parametrize("spread", [2.0, 12.0], ids=["overlapping", "apart"])
def test_diag_fit_does_not_depend_on_the_chunk_size(spread, rng):
    """Chunks of 9000 rows (both compiled passes), 3000 (compiled features, numpy's
    normalisation: 30000 entries) and 700 (numpy's passes only; apart, the sparse moment sums
    in the larger chunks and the product in these): the same fit. 1e-11: the
    statistics are sums of the same terms in other groupings (float64), over eight iterations."""
    X, start = _data_and_start(rng, spread=spread)
    whole = _fit(X, start, chunk_size=N_ROWS)
    for chunk_size in [3000, 700]:
        _assert_same_fit(_fit(X, start, chunk_size=chunk_size), whole, rtol=1e-11)


@pytest.mark.parametrize("spread", [2.0, 12.0], ids=["overlapping", "apart"])
def test_diag_weights_equal_repeated_rows(spread, rng):
    """Integer sample weights fit as the rows repeated, 2 to 4 times each of 4000 rows (both
    take the compiled passes: 40000 and ~120000 entries of ln rho; apart, the sparse moment
    sums, whose threshold scales with the weights). 1e-11: float64 sums of the same terms, grouped differently."""
    X, start = _data_and_start(rng, n_rows=4000, spread=spread)
    counts = rng.integers(2, 5, size=X.shape[0])
    weighted = _fit(X, start, sample_weight=counts.astype(float), chunk_size=X.shape[0])
    repeated = _fit(np.repeat(X, counts, axis=0), start, chunk_size=int(counts.sum()))
    _assert_same_fit(weighted, repeated, rtol=1e-11)


@pytest.mark.parametrize("share", [1 / 16, 1 / 10, 1 / 5, 1.0], ids=["one-in-16", "one-in-10", "one-in-5", "dense"])
def test_moment_sums_equal_the_product(share, rng):
    """The sparse sums (few pairs) and the product (many) give wr^T features: float64 sums of
    the same terms less those below 2^-64 of their component's mass, so to rounding (1e-13 of
    the largest sum; a missed row would show at ~1e-3)."""
    n, K, width = 4000, 6, 9
    wresp = np.asfortranarray(rng.random((n, K)) * (rng.random((n, K)) < share))
    wresp[wresp == 0] = 1e-300  # the floor's tiny weights: left out by the sparse sums
    features = rng.normal(size=(n, width + 1))
    out = np.empty((K, width))
    sparse = diag_fused_compiled.sparse_sums_into(wresp.T, features, wresp.sum(axis=0), 2.0**-64, n * K // 8, out)
    assert sparse == (share < 1 / 8)  # the path under test (above an eighth: the product)
    sums = diag_fused.moment_sums(wresp, features, width, wresp.sum(axis=0))
    expected = wresp.T @ features[:, :width]
    assert_allclose(sums, expected, rtol=0, atol=1e-13 * np.abs(expected).max())


def test_moment_sums_propagate_nan(rng):
    """A NaN weight makes the component's sums NaN, as the product does (not a silent skip)."""
    wresp = np.asfortranarray(rng.random((3000, 4)) * (rng.random((3000, 4)) < 0.05))
    wresp[7, 2] = np.nan
    features = rng.normal(size=(3000, 5))
    sums = diag_fused.moment_sums(wresp, features, 4, wresp.sum(axis=0))
    assert np.isnan(sums[2]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_centring_in_one_pass_equals_numpys(dtype, rng):
    """The compiled centring (numba loaded) writes numpy's X - g exactly (a float32 chunk less a
    float64 centre: rounded once from the float64 difference, as numpy's casting does), and
    reports a chunk with a NaN entry as None, as the flat check does."""
    X = rng.normal(scale=5.0, size=(3000, 7)).astype(dtype)
    centre = rng.normal(size=7)  # float64
    expected = np.subtract(X, centre, out=np.empty_like(X), casting="same_kind")
    assert_array_equal(scratch.centred_if_complete(X, centre), expected)
    X[1234, 5] = np.nan
    assert scratch.centred_if_complete(X, centre) is None
    assert scratch.centred_if_complete(X[1000:1500], centre) is None  # numpy's path, below 1024 rows


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_centred_features_in_one_pass_equal_numpys(dtype, rng, monkeypatch):
    """The features formed from the rows as given (``centred_row_features``, the fit's chunk
    path) are numpy's [(X - g)^2, X - g, 1] exactly: X - g rounded once to the rows' dtype (a
    float64 centre too), then squared in that dtype; a chunk with a NaN entry gives None, on the
    compiled loop and on numpy's path alike."""
    X = rng.normal(scale=5.0, size=(3000, 7)).astype(dtype)
    centre = rng.normal(size=7)  # float64
    Xc = np.subtract(X, centre, out=np.empty_like(X), casting="same_kind")
    compiled = diag_fused.centred_row_features(X, centre).copy()
    assert_array_equal(compiled[:, 7:14], Xc)
    assert_array_equal(compiled[:, :7], Xc * Xc)
    assert_array_equal(compiled[:, -1], 1)
    holed = X.copy()
    holed[2345, 1] = np.nan
    assert diag_fused.centred_row_features(holed, centre) is None
    monkeypatch.setattr(diag_fused, "COMPILED", False)
    assert diag_fused.centred_row_features(holed, centre) is None
    assert_array_equal(diag_fused.centred_row_features(X, centre), compiled)  # numpy's, the same


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("cov", ["diag", "spherical"])
def test_chunk_statistics_reuse_the_moments_masses(cov, dtype, weighted, rng):
    """A chunk's statistics, whose masses N_k are the ones the workspace's moments formed
    (``RowFeatures.mass_of``), equal ``stats.gaussian_statistics`` on the same responsibilities
    and workspace, field by field and bit for bit (the same column sum of the same array)."""
    from mixfit.families.registry import make_covariance
    from mixfit.models import GaussianEM, GaussianParams
    from mixfit.stats import gaussian_statistics

    n, D, K = 3000, 5, 4
    means = rng.normal(scale=4.0, size=(K, D))
    X = (means[rng.integers(0, K, n)] + rng.normal(size=(n, D))).astype(dtype)
    weights = rng.uniform(0.5, 2.0, n).astype(dtype) if weighted else None
    covariance = make_covariance(cov)
    scale = np.ones((K, D)) if cov == "diag" else np.ones(K)
    params = GaussianParams(np.full(K, 1 / K), means, scale).astype(dtype)
    model = GaussianEM(covariance, reg_covar=1e-6, dtype=dtype)
    ours = model.accumulate(X, params, weights)
    centre, means_c, constant = model._terms(params, D)
    log_rho, workspace = covariance.log_kernel(scratch.centred(X, centre), means_c, params.prec_chol, centre,
                                               constant, False)
    resp, log_norm = linalg.normalize_log_rows(log_rho)
    theirs = gaussian_statistics(covariance, X, resp, weights, params.means, log_norm, workspace)
    for field in ("shift", "mass", "first", "scatter"):
        assert_array_equal(getattr(ours, field), getattr(theirs, field), err_msg=field)
    assert (ours.log_norm, ours.weight_sum) == (theirs.log_norm, theirs.weight_sum)
    assert workspace.mass_of(resp.copy()) is None  # another array: no masses to reuse


def test_compiled_referral_equals_numpys(rng, monkeypatch):
    """The diag referral of the sums about g to the shifts c_k (first = s1 - N delta, scatter = S
    - 2 delta s1 + N delta^2, and N delta^2) in one compiled pass at large K is numpy's, each
    operation in the same order: exactly equal."""
    from mixfit.kernels import row_features

    K, D = 300, 20  # K D = 6000 entries: the compiled pass
    sums = rng.normal(scale=50.0, size=(K, 2 * D))
    sums[:, :D] = np.abs(sums[:, :D])
    mass, delta = rng.uniform(0.0, 30.0, K), rng.normal(scale=3.0, size=(K, D))
    workspace = row_features.RowFeatures(np.empty((1, 2 * D + 1)), np.zeros(D), per_dimension=True)
    compiled = [a.copy() for a in workspace._refer(sums, mass, delta)]
    monkeypatch.setattr(row_features, "COMPILED", False)
    for ours, numpys in zip(compiled, workspace._refer(sums, mass, delta)):
        assert_array_equal(ours, numpys)
