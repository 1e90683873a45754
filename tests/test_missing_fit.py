"""GaussianMixture.fit with NaN entries missing at random (issue 18 item 1): the observed-data
E-step against a row-by-row scipy oracle, EM's monotone observed-data likelihood, recovery,
weights, chunks, out-of-core rows, starts and refusals."""

import warnings

import numpy as np
import pytest
from oracles.conditional import log_density_observed

import mixfit
from mixfit.models import missing
from mixfit.stats import gaussian_statistics

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAMILIES = ["full", "tied", "diag", "spherical", "VEV", "EEI", "EII", "VVE"]


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) @ rng.normal(size=(4, 4))
    X[: n // 2] += [4.0, -3.0, 2.0, 0.0]
    return X


def _holes(X, rate=0.3, seed=1):
    rng = np.random.default_rng(seed)
    holes = rng.random(X.shape) < rate
    holes[holes.all(axis=1), 0] = False
    return np.where(holes, np.nan, X)


@pytest.fixture(scope="module")
def fitted():
    X = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return X, {ct: mixfit.GaussianMixture(3, covariance_type=ct, random_state=0).fit(X) for ct in FAMILIES}


@pytest.fixture(params=["compiled", "numpy"])
def row_kernel(request, monkeypatch):
    """Each oracle test runs on both E-steps of models/missing.py: numba's loop over rows and
    numpy's batched pattern groups (the path without numba)."""
    if request.param == "compiled":
        pytest.importorskip("numba")
    monkeypatch.setattr(missing, "COMPILED", request.param == "compiled")
    return request.param


def _start(gm):
    return {"weights_init": gm.weights_, "means_init": gm.means_, "precisions_init": gm.precisions_}


# Both routes of a chunk with holes: at 10 % MCAR (D = 4) most rows are complete and take their
# own kernel; at 30 % most have holes and the whole chunk takes the observed-data path.
RATES = [0.1, 0.3]


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("covariance_type", FAMILIES)
def test_observed_log_likelihood_matches_scipy_row_by_row(fitted, covariance_type, row_kernel, rate):
    X, models = fitted
    gm = models[covariance_type]
    Y = _holes(X, rate)
    complete = ~np.isnan(Y).any(axis=1)
    assert (complete.mean() > 0.5) == (rate == 0.1) and complete.any()  # the route the rate stands for
    w = np.random.default_rng(2).uniform(0.2, 3.0, Y.shape[0])
    dense = gm._covariance.dense_covariance(gm.precisions_cholesky_, 3, 4)
    expected = log_density_observed(gm.weights_, gm.means_, dense, Y)  # scipy, one row at a time
    model, params = gm._model(), gm._params()
    stats = model.accumulate(Y, params, w)
    # float64 sums of 400 terms of size ~5 and the oracle's explicit densities: rounding only
    assert stats.log_norm == pytest.approx(expected @ w, rel=1e-10)
    assert stats.weight_sum == pytest.approx(w.sum(), rel=1e-14)
    assert stats.mass.sum() == pytest.approx(w.sum(), rel=1e-12)  # responsibilities sum to 1
    np.testing.assert_allclose(mixfit.kernels.linalg.logsumexp_rows(model.log_prob_components(Y, params)),
                               expected, rtol=1e-10)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied", "spherical"])
def test_expected_statistics_match_a_literal_conditional_oracle(fitted, covariance_type, row_kernel, rate):
    """first_k and the scatter equal sum_n w r_nk E[x - mu_k | x_o, k] and
    sum_n w r_nk E[(x - mu_k)(x - mu_k)^T | x_o, k], each formed with explicit inverses."""
    X, models = fitted
    gm = models[covariance_type]
    Y = _holes(X[:60], rate)
    model, params = gm._model(), gm._params()
    stats = model.accumulate(Y, params, None)
    dense = gm._covariance.dense_covariance(gm.precisions_cholesky_, 3, 4)
    first, scatter = np.zeros((3, 4)), np.zeros((3, 4, 4))
    for x in Y:
        o, m = np.flatnonzero(~np.isnan(x)), np.flatnonzero(np.isnan(x))
        dens = np.array([gm.weights_[k] * np.exp(log_density_observed([1.0], gm.means_[k:k + 1], dense[k:k + 1],
                                                                      x[None])[0]) for k in range(3)])
        r = dens / dens.sum()
        for k in range(3):
            s, mu = dense[k], gm.means_[k]
            gain = s[np.ix_(m, o)] @ np.linalg.inv(s[np.ix_(o, o)])
            xhat = x.copy()
            xhat[m] = mu[m] + gain @ (x[o] - mu[o])
            extra = np.zeros((4, 4))
            extra[np.ix_(m, m)] = s[np.ix_(m, m)] - gain @ s[np.ix_(o, m)]
            first[k] += r[k] * (xhat - mu)
            scatter[k] += r[k] * (np.outer(xhat - mu, xhat - mu) + extra)
    np.testing.assert_allclose(stats.first, first, rtol=1e-9, atol=1e-10)  # explicit inverses: ~1e-12
    np.testing.assert_allclose(stats.scatter, gm._covariance.fold_scatter(scatter), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_complete_chunks_take_todays_path_bit_for_bit(fitted, covariance_type):
    X, models = fitted
    gm = models[covariance_type]
    model, params = gm._model(), gm._params()
    log_rho, workspace = model._log_rho(X, params)
    resp, log_norm = mixfit.kernels.linalg.normalize_log_rows(log_rho)
    today = gaussian_statistics(model.covariance, X, resp, None, params.means, log_norm, workspace)
    now = model.accumulate(X, params, None)
    np.testing.assert_array_equal(now.first, today.first)
    np.testing.assert_array_equal(now.scatter, today.scatter)
    assert now.log_norm == today.log_norm
    # and a chunk with holes: its complete rows' share is today's statistics of those rows
    Y = X.copy()
    Y[::2, 1] = np.nan
    both = model.accumulate(Y, params, None)
    parts = model.accumulate(Y[1::2], params, None) + model.accumulate(Y[::2], params, None)
    np.testing.assert_allclose(both.scatter, parts.scatter, rtol=1e-12)  # additivity: rounding only


def test_complete_data_fit_is_unchanged():
    """No NaN: every pass takes the complete-data path, so the fit is scikit-learn's (same start)."""
    from sklearn.mixture import GaussianMixture as Reference

    X = _data()
    ours = mixfit.GaussianMixture(3, random_state=0, tol=1e-6).fit(X)
    ref = Reference(3, random_state=0, tol=1e-6).fit(X)
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=1e-8)  # two float64 implementations


@pytest.mark.parametrize("covariance_type", FAMILIES)
def test_em_raises_the_observed_data_likelihood(covariance_type):
    Y = _holes(_data(300, seed=3), rate=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = mixfit.GaussianMixture(3, covariance_type=covariance_type, random_state=0, max_iter=30,
                                    tol=0).fit(Y)
    bounds = np.array(gm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))  # EM: never down, to rounding


def test_recovers_known_parameters_at_30_percent_mcar():
    rng = np.random.default_rng(5)
    n = 4000
    means = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0]])
    cov = np.array([[1.0, 0.6, 0.2], [0.6, 1.0, 0.3], [0.2, 0.3, 1.0]])
    labels = rng.random(n) < 0.4
    X = rng.multivariate_normal(np.zeros(3), cov, n) + means[labels.astype(int)]
    Y = _holes(X, rate=0.3, seed=6)
    gm = mixfit.GaussianMixture(2, random_state=0).fit(Y)
    order = np.argsort(gm.means_[:, 0])
    # standard errors: sqrt(1 / (0.7 * n_k)) ~ 0.03 for the means; 5 of them
    np.testing.assert_allclose(gm.means_[order], means, atol=0.15)
    np.testing.assert_allclose(gm.weights_[order], [0.6, 0.4], atol=0.03)
    np.testing.assert_allclose(gm.covariances_[order[0]], cov, atol=0.15)


def test_integer_weights_equal_repeated_rows(fitted):
    X, models = fitted
    Y = _holes(X[:150])
    counts = np.random.default_rng(4).integers(0, 4, Y.shape[0])
    start = _start(models["full"])
    weighted = mixfit.GaussianMixture(3, max_iter=20, tol=0, **start).fit(Y, sample_weight=counts)
    repeated = mixfit.GaussianMixture(3, max_iter=20, tol=0, **start).fit(np.repeat(Y, counts, axis=0))
    # the same sums in another order: rounding, grown over 20 iterations
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-9)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-9)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-10)


def test_chunk_size_and_out_of_core_do_not_change_the_fit(fitted, tmp_path):
    X, _models = fitted
    Y = _holes(X)
    whole = mixfit.GaussianMixture(3, random_state=0, max_iter=30, tol=0).fit(Y)
    small = mixfit.GaussianMixture(3, random_state=0, max_iter=30, tol=0, chunk_size=37).fit(Y)
    stored = np.lib.format.open_memmap(tmp_path / "Y.npy", mode="w+", dtype=np.float64, shape=Y.shape)
    stored[:] = Y
    mapped = mixfit.GaussianMixture(3, random_state=0, max_iter=30, tol=0, chunk_size=50).fit(stored)
    for other in (small, mapped):  # sums over chunks in another order: rounding only
        np.testing.assert_allclose(other.means_, whole.means_, rtol=1e-9)
        np.testing.assert_allclose(other.covariances_, whole.covariances_, rtol=1e-9)


def test_float32_stays_float32(fitted):
    X, _ = fitted
    gm = mixfit.GaussianMixture(2, random_state=0).fit(_holes(X).astype(np.float32))
    assert gm.means_.dtype == np.float32 and np.isfinite(gm.lower_bound_)


def test_refusals_name_the_row(fitted, tmp_path):
    X, _ = fitted
    Y = _holes(X[:40])
    Y[17] = np.nan
    with pytest.raises(ValueError, match="X row 17 has no observed value"):
        mixfit.GaussianMixture(2).fit(Y)
    stored = np.lib.format.open_memmap(tmp_path / "Y.npy", mode="w+", dtype=np.float64, shape=Y.shape)
    stored[:] = Y
    with pytest.raises(ValueError, match="X row 17 has no observed value"):
        mixfit.GaussianMixture(2, chunk_size=8).fit(stored)
    Y[17] = X[17]
    Y[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        mixfit.GaussianMixture(2).fit(Y)


def test_reseed_with_missing_values_keeps_finite_means():
    Y = _holes(_data(200, seed=8))
    Y = np.vstack([Y, np.tile([[50.0, np.nan, 50.0, 50.0]], (3, 1))])  # a tiny far cluster
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = mixfit.GaussianMixture(4, random_state=0, on_collapse="reseed", reg_covar=1e-6).fit(Y)
    assert np.all(np.isfinite(gm.means_)) and np.isfinite(gm.lower_bound_)


def test_partial_fit_takes_missing_values(fitted):
    """Online EM blends the same statistics; its start reads the mean-imputed rows."""
    X, _ = fitted
    Y = _holes(X)
    gm = mixfit.GaussianMixture(3, random_state=0)
    for batch in np.array_split(Y, 4):
        gm.partial_fit(batch)
    assert np.all(np.isfinite(gm.means_)) and np.isfinite(gm.score(Y))
