"""The compiled observed-data E-step of models/missing.py (``observed_sums``: kernels/missing_fused.py)
against the per-row path it replaces (``observed_e_step`` then ``observed_moments``, itself checked
against scipy and a literal oracle in test_missing_fit.py), its fallback where the centred products
would round, a whole fit on both paths, and Dask input with NaN equal to in-memory."""

import warnings

import numpy as np
import pytest

import mixfit
from mixfit.kernels.linalg import normalize_log_rows
from mixfit.models import missing

pytest.importorskip("numba")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _mixture(K, D, seed, spread=4.0):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=spread, size=(K, D))
    factors = rng.normal(size=(K, D, D)) / (2 * np.sqrt(D)) + np.eye(D)  # condition numbers ~10
    cov = factors @ np.swapaxes(factors, 1, 2)
    weights = rng.dirichlet(np.ones(K))
    return weights, means, cov


def _rows(weights, means, cov, n, rate, seed, every_row_misses=True):
    """Rows of the mixture with entries removed at ``rate`` (each row keeps one; with
    ``every_row_misses``, each also misses one: the rows ``observed_sums`` takes)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(weights), size=n, p=weights)
    noise = rng.normal(size=(n, means.shape[1]))
    X = means[labels] + np.einsum("nde,ne->nd", np.linalg.cholesky(cov)[labels], noise)
    holes = rng.random(X.shape) < rate
    holes[holes.all(axis=1), 0] = False
    if every_row_misses:
        holes[~holes.any(axis=1), -1] = True
    return np.where(holes, np.nan, X)


def _per_row_path(Y, w, weights, means, precision, log_det_half):
    log_rho, z, extra = missing.observed_e_step(Y, weights, means, precision, log_det_half)
    resp, log_norm = normalize_log_rows(log_rho)
    wresp = resp if w is None else resp * w[:, None]
    first, scatter = missing.observed_moments(z, wresp, extra, Y.shape[1])
    return wresp, log_norm, first, scatter


# K not a multiple of the kernel's 4 lanes (padding), one component, many patterns (rate 0.5 at D = 9
# reaches m = 8), few coordinates, and the wide rows whose patterns are not one int64 key
@pytest.mark.parametrize(("K", "D", "rate"), [(5, 9, 0.5), (8, 16, 0.2), (1, 4, 0.4), (3, 2, 0.5), (2, 50, 0.1),
                                              (2, 64, 0.05)])
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_sums_equal_the_per_row_path(K, D, rate, weighted):
    weights, means, cov = _mixture(K, D, seed=K + D)
    Y = _rows(weights, means, cov, 700, rate, seed=1)
    w = np.random.default_rng(2).uniform(0.0, 3.0, Y.shape[0]) if weighted else None
    precision, log_det_half = np.linalg.inv(cov), -0.5 * np.linalg.slogdet(cov)[1]
    assert missing._centred_rounding_ok(means - weights @ means, precision, cov)
    got = missing.observed_sums(Y, w, weights, means, precision, log_det_half, cov)
    want = _per_row_path(Y, w, weights, means, precision, log_det_half)
    # the same sums taken in another order and form (centred products, per-pattern factors):
    # rounding of terms of size |x - g|^T |Lambda| |x - g|, far below 1e-10 on these data
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-11)
    scale = np.abs(want[3]).max()
    np.testing.assert_allclose(got[2], want[2], rtol=1e-10, atol=1e-12 * scale)
    np.testing.assert_allclose(got[3], want[3], rtol=1e-10, atol=1e-12 * scale)


@pytest.mark.parametrize(("K", "D", "rate"), [(5, 9, 0.5), (8, 16, 0.2), (2, 64, 0.05)])
def test_compiled_log_prob_equals_the_per_row_path(K, D, rate):
    """``observed_log_prob`` (score_samples, predict_proba with holes) by the compiled path: the
    per-row path's ln rho, row for row in X's order."""
    weights, means, cov = _mixture(K, D, seed=K + D)
    Y = _rows(weights, means, cov, 500, rate, seed=5)
    precision, log_det_half = np.linalg.inv(cov), -0.5 * np.linalg.slogdet(cov)[1]
    got = missing.observed_log_prob(Y, weights, means, precision, log_det_half, cov)
    want = missing.observed_e_step(Y, weights, means, precision, log_det_half)[0]
    # the same densities in another form (centred products, per-pattern factors): rounding only
    np.testing.assert_allclose(got, want, rtol=1e-11)


def test_float32_rows_are_worked_in_float64():
    weights, means, cov = _mixture(4, 6, seed=3)
    Y = _rows(weights, means, cov, 300, 0.3, seed=4)
    precision, log_det_half = np.linalg.inv(cov), -0.5 * np.linalg.slogdet(cov)[1]
    got = missing.observed_sums(Y.astype(np.float32), None, weights, means, precision, log_det_half, cov)
    want = _per_row_path(Y.astype(np.float32).astype(np.float64), None, weights, means, precision, log_det_half)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-11)  # the same float64 values of the float32 rows
    np.testing.assert_allclose(got[3], want[3], rtol=1e-10, atol=1e-12 * np.abs(want[3]).max())


def test_determinants_beyond_the_normal_range():
    """Variances of 1e-200: the product of a block's pivots leaves float64's normal range and the
    log-determinant is summed from logarithms instead; the numbers still equal the per-row path."""
    weights, means, cov = _mixture(3, 6, seed=12)
    scale = 1e-100
    Y = _rows(weights, means * scale, cov * scale**2, 300, 0.6, seed=13)
    precision = np.linalg.inv(cov) / scale**2
    log_det_half = -0.5 * np.linalg.slogdet(cov)[1] - 6 * np.log(scale)
    got = missing.observed_sums(Y, None, weights, means * scale, precision, log_det_half, cov * scale**2)
    want = _per_row_path(Y, None, weights, means * scale, precision, log_det_half)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-11)
    np.testing.assert_allclose(got[3], want[3], rtol=1e-10, atol=1e-12 * np.abs(want[3]).max())


def test_far_components_take_the_per_row_path(monkeypatch):
    """Components 1e9 of their standard deviations from the centre g: the centred products would
    round far above the limit, so the per-row path runs (and is exact)."""
    weights, means, cov = _mixture(3, 5, seed=5)
    means = means + np.array([[0.0], [1e9], [-1e9]])
    Y = _rows(weights, means, cov, 200, 0.3, seed=6)
    precision, log_det_half = np.linalg.inv(cov), -0.5 * np.linalg.slogdet(cov)[1]
    assert not missing._centred_rounding_ok(means - weights @ means, precision, cov)
    called = []
    monkeypatch.setattr(missing, "observed_moments", lambda *a: called.append(1) or _moments(*a))
    got = missing.observed_sums(Y, None, weights, means, precision, log_det_half, cov)
    assert called  # the per-row path
    log_rho = missing.observed_e_step(Y, weights, means, precision, log_det_half)[0]
    np.testing.assert_allclose(got[1], normalize_log_rows(log_rho)[1], rtol=1e-12)


_moments = missing.observed_moments


def test_a_whole_fit_equals_the_numpy_path(monkeypatch):
    """(3000, 16, 8) full at 20 % MCAR (the benchmark's shape, fewer rows): the compiled E-step and
    the numpy pattern groups give the same fit to rounding."""
    weights, means, cov = _mixture(8, 16, seed=7)
    Y = _rows(weights, means, cov, 3000, 0.2, seed=8)
    start = {"weights_init": weights, "means_init": means, "precisions_init": np.linalg.inv(cov)}
    fits = {}
    for compiled in (True, False):
        monkeypatch.setattr(missing, "COMPILED", compiled)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[compiled] = mixfit.GaussianMixture(8, max_iter=5, tol=0, **start).fit(Y)
    a, b = fits[True], fits[False]
    # five iterations of sums that differ in their last bits
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-12)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-9, atol=1e-10)


def test_dask_input_with_missing_values_equals_in_memory():
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    weights, means, cov = _mixture(3, 4, seed=9)
    Y = _rows(weights, means, cov, 400, 0.3, seed=10, every_row_misses=False)  # complete rows too
    w = np.random.default_rng(11).uniform(0.2, 3.0, Y.shape[0])
    kwargs = {"random_state": 0, "max_iter": 20, "tol": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = mixfit.GaussianMixture(3, **kwargs).fit(Y, sample_weight=w)
        with dask.config.set(scheduler="threads"):
            lazy = mixfit.GaussianMixture(3, **kwargs).fit(da.from_array(Y, chunks=90),
                                                           sample_weight=da.from_array(w, chunks=90))
            scores = np.asarray(lazy.score_samples(da.from_array(Y, chunks=90)))
    # the same per-chunk sums added by dask's tree instead of in chunk order: rounding only
    assert lazy.lower_bound_ == pytest.approx(memory.lower_bound_, rel=1e-10)
    np.testing.assert_allclose(lazy.means_, memory.means_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(lazy.covariances_, memory.covariances_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(scores, memory.score_samples(Y), rtol=1e-9)
