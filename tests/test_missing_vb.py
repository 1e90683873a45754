"""BayesianGaussianMixture with NaN entries missing at random (issue 18, variational Bayes):
updates, ELBO and predictive against the literal per-row oracle (tests/oracles/gaussian_vb_missing.py),
the ELBO's monotone climb, the complete-data path unchanged, weights, chunks, refusals."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from oracles import gaussian_vb_missing as oracle
from oracles.conditional import log_density_observed
from test_gaussian_vb import as_oracle_state, assert_states_close, make_model

import mixfit
from mixfit import BayesianGaussianMixture
from mixfit.kernels.linalg import logsumexp_rows, normalize_log_rows
from mixfit.models import missing
from mixfit.stats import gaussian_statistics

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
WEIGHT_TYPES = ["dirichlet_process", "dirichlet_distribution"]
ALL_CASES = [pytest.param(c, w, id=f"{c}-{w.split('_')[1]}") for c in COVARIANCE_TYPES for w in WEIGHT_TYPES]


def _data(n=300, seed=0, dim=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim))
    X[: n // 2] += np.linspace(4.0, -3.0, dim)
    return X


def _holes(X, rate=0.3, seed=1):
    rng = np.random.default_rng(seed)
    holes = rng.random(X.shape) < rate
    holes[holes.all(axis=1), 0] = False
    return np.where(holes, np.nan, X)


@pytest.fixture(params=["compiled", "numpy"])
def row_kernel(request, monkeypatch):
    """The oracle tests run on both E-steps of models/missing.py: numba's loop over rows and
    numpy's batched pattern groups (the path without numba)."""
    if request.param == "compiled":
        pytest.importorskip("numba")
    monkeypatch.setattr(missing, "COMPILED", request.param == "compiled")
    return request.param


def _oracle_prior(est):
    return {"alpha0": est.weight_concentration_prior_, "beta0": est.mean_precision_prior_, "m0": est.mean_prior_,
            "nu0": est.degrees_of_freedom_prior_, "psi0": np.asarray(est.covariance_prior_)}


# ---- the literal oracle ----------------------------------------------------------------------


@pytest.mark.parametrize("cov_type, weight_type", ALL_CASES)
def test_updates_and_elbo_match_the_literal_oracle(cov_type, weight_type, row_kernel):
    Y = _holes(_data(30, seed=1))
    rng = np.random.default_rng(2)
    w = rng.uniform(0.2, 2.0, size=Y.shape[0])
    resp0 = rng.dirichlet(np.ones(3), size=Y.shape[0])
    model, prior = make_model(cov_type, weight_type, Y.shape[1])
    filled = np.where(np.isnan(Y), 0.0, Y)  # any first q(theta) will do
    params = model.maximize(model.statistics(filled, resp0, w, np.zeros((3, 3))), None)
    state = as_oracle_state(model, params)
    for _ in range(3):
        params = model.maximize(model.accumulate(Y, params, w), params)
        state = oracle.m_step(Y, w, state, prior, cov_type, weight_type, reg_covar=1e-6)
    # the same maths in another order (stacked products and Cholesky factors vs loops and
    # explicit inverses): a few hundred ulps after three rounds of E and M
    assert_states_close(as_oracle_state(model, params), state, rtol=1e-9)

    ours = model.objective(model.accumulate(Y, params, w), params)
    theirs = oracle.elbo(Y, w, state, prior, cov_type, weight_type)
    # sum_n w ln sum_k rho_nk - KL (V3) against the bound term by term, with the entropy of q(x_m):
    # the identity is exact, the two sums of terms of size ~1e2 differ by rounding
    assert_allclose(ours, theirs, rtol=1e-10)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_lower_bound_is_the_oracle_elbo(cov_type, row_kernel):
    """lower_bound_ of a one-iteration warm start is the ELBO at the q(theta) it started from."""
    Y = _holes(_data(40, seed=3))
    w = np.random.default_rng(4).uniform(0.5, 2.0, Y.shape[0])
    est = BayesianGaussianMixture(n_components=3, covariance_type=cov_type, random_state=0, max_iter=20).fit(
        Y, sample_weight=w)
    state = as_oracle_state(est._model(), est._posterior)
    expected = oracle.elbo(Y, w, state, _oracle_prior(est), cov_type, est.weight_concentration_prior_type)
    est.set_params(warm_start=True, max_iter=1).fit(Y, sample_weight=w)
    # per unit of weight; rounding of sums of terms of size ~1e2
    assert est.lower_bound_ * w.sum() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_predictions_match_the_oracle(cov_type, row_kernel):
    X = _data(60, seed=5)
    est = BayesianGaussianMixture(n_components=3, covariance_type=cov_type, random_state=0).fit(_holes(X))
    grid = _holes(_data(50, seed=6), rate=0.4, seed=7)  # complete rows and rows with holes
    state = as_oracle_state(est._model(), est._posterior)
    # scipy's Student-t densities (linear space) vs ours (log space): rounding only
    assert_allclose(est.score_samples(grid), oracle.log_predictive(grid, state, est.weights_, cov_type), rtol=1e-10)
    resp = oracle.e_step(grid, state, cov_type, est.weight_concentration_prior_type)
    assert_allclose(est.predict_proba(grid), resp, rtol=1e-9, atol=1e-13)  # exp of differences of ~1e1 terms
    assert_array_equal(est.predict(grid), resp.argmax(axis=1))
    # the plug-in mixture's density of the observed entries: scipy's marginal Gaussians, row by row
    dense = est._covariance.dense_covariance(est.precisions_cholesky_, 3, 3)
    assert_allclose(est.score_samples_plugin(grid), log_density_observed(est.weights_, est.means_, dense, grid),
                    rtol=1e-10)


# ---- the bound climbs ------------------------------------------------------------------------


@pytest.mark.parametrize("cov_type, weight_type", ALL_CASES)
def test_elbo_never_decreases(cov_type, weight_type, row_kernel):
    Y = _holes(_data(200, seed=8), rate=0.25)
    est = BayesianGaussianMixture(n_components=4, covariance_type=cov_type, weight_concentration_prior_type=weight_type,
                                  reg_covar=0.0, tol=0.0, max_iter=40, random_state=0).fit(Y)
    bounds = np.array(est.lower_bounds_)
    # coordinate ascent on (V3) with reg_covar=0: never down, to rounding of a float64 sum
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0]


# ---- the complete-data path ------------------------------------------------------------------


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_complete_rows_take_todays_path(cov_type):
    X = _data(120, seed=9)
    est = BayesianGaussianMixture(n_components=3, covariance_type=cov_type, random_state=0).fit(X)
    model, params = est._model(), est._posterior
    log_rho, workspace = model._log_rho(X, params)
    resp, log_norm = normalize_log_rows(log_rho)
    today = gaussian_statistics(model.covariance, X, resp, None, params.means, log_norm, workspace)
    now = model.accumulate(X, params, None)
    for field in ("mass", "first", "scatter"):  # a chunk without NaN: the same code, the same bits
        assert_array_equal(getattr(now, field), getattr(today, field))
    assert now.log_norm == today.log_norm
    assert_array_equal(est.score_samples(X), logsumexp_rows(est._model()._log_predictive(X, params)))
    # a chunk with holes: its complete rows go through the same kernel on fewer rows
    Y = X.copy()
    Y[::3, 1] = np.nan
    rows = ~np.isnan(Y).any(axis=1)
    assert_allclose(est.score_samples(Y)[rows], est.score_samples(X[rows]), rtol=1e-13)  # BLAS blocking
    both = model.accumulate(Y, params, None)
    parts = model.accumulate(Y[rows], params, None) + model.accumulate(Y[~rows], params, None)
    assert_allclose(both.scatter, parts.scatter, rtol=1e-12)  # additivity: rounding only


def test_tiny_missingness_approaches_the_complete_fit():
    X = _data(400, seed=10)
    kw = {"n_components": 2, "random_state": 0, "tol": 1e-10, "max_iter": 500}
    full = BayesianGaussianMixture(**kw).fit(X)
    Y = X.copy()
    Y[7, 1] = np.nan  # one entry of 1200
    holed = BayesianGaussianMixture(**kw).fit(Y)
    order = np.argsort(full.means_[:, 0]), np.argsort(holed.means_[:, 0])
    # one coordinate of one row moves a mean by at most ~|x - m| / N_k ~ 5 / 200
    assert_allclose(holed.means_[order[1]], full.means_[order[0]], atol=0.03)
    assert_allclose(holed.weights_[order[1]], full.weights_[order[0]], atol=0.01)
    # and the bound by at most that row's share: ~one coordinate's log-density over 400 rows
    assert abs(holed.lower_bound_ - full.lower_bound_) < 0.02


# ---- weights, chunks, dtypes -----------------------------------------------------------------


@pytest.mark.parametrize("cov_type", ["full", "diag"])
def test_integer_weights_equal_repeated_rows(cov_type):
    Y = _holes(_data(90, seed=11))
    counts = np.random.default_rng(12).integers(0, 4, Y.shape[0])
    kw = {"n_components": 3, "covariance_type": cov_type, "tol": 0, "max_iter": 15, "init_params": "kmeans",
          "random_state": 0}
    repeated = BayesianGaussianMixture(**kw).fit(np.repeat(Y, counts, axis=0))
    weighted = BayesianGaussianMixture(**kw).fit(Y, sample_weight=counts)
    # the same sums in another order from the weight-exact k-means start: rounding, grown over 15 rounds
    assert_allclose(weighted.means_, repeated.means_, rtol=1e-8)
    assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-8)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-9)


def test_chunk_size_and_out_of_core_do_not_change_the_fit(tmp_path):
    Y = _holes(_data(200, seed=13))
    kw = {"n_components": 3, "random_state": 0, "tol": 0, "max_iter": 15}
    whole = BayesianGaussianMixture(**kw).fit(Y)
    small = BayesianGaussianMixture(chunk_size=37, **kw).fit(Y)
    stored = np.lib.format.open_memmap(tmp_path / "Y.npy", mode="w+", dtype=np.float64, shape=Y.shape)
    stored[:] = Y
    mapped = BayesianGaussianMixture(chunk_size=50, **kw).fit(stored)
    for other in (small, mapped):  # sums over chunks in another order: rounding only
        assert_allclose(other.means_, whole.means_, rtol=1e-9)
        assert_allclose(other.covariances_, whole.covariances_, rtol=1e-9)
        assert other.lower_bound_ == pytest.approx(whole.lower_bound_, rel=1e-10)
    assert_allclose(mapped.score_samples(stored), whole.score_samples(Y), rtol=1e-9)


def test_dask_input_is_the_in_memory_fit():
    da = pytest.importorskip("dask.array")
    Y = _holes(_data(200, seed=18))
    kw = {"n_components": 3, "random_state": 0, "tol": 0, "max_iter": 10, "chunk_size": 64}
    memory = BayesianGaussianMixture(**kw).fit(Y)
    lazy = BayesianGaussianMixture(**kw).fit(da.from_array(Y, chunks=(64, 3)))
    # the same chunks summed in the same order (the start reads the same mean-imputed rows): rounding at most
    assert_allclose(lazy.means_, memory.means_, rtol=1e-12)
    assert_allclose(np.asarray(lazy.score_samples(da.from_array(Y, chunks=(64, 3)))), memory.score_samples(Y),
                    rtol=1e-12)


def test_float32_stays_float32():
    Y = _holes(_data(200, seed=14)).astype(np.float32)
    est = BayesianGaussianMixture(n_components=2, random_state=0).fit(Y)
    assert est.means_.dtype == np.float32 and np.isfinite(est.lower_bound_)
    assert est.score_samples(Y).dtype == np.float32 and np.all(np.isfinite(est.score_samples(Y)))


def test_partial_fit_and_model_file_take_missing_values(tmp_path):
    Y = _holes(_data(300, seed=15))
    est = BayesianGaussianMixture(n_components=3, random_state=0)
    for batch in np.array_split(Y, 3):
        est.partial_fit(batch)
    assert np.all(np.isfinite(est.means_)) and np.isfinite(est.score(Y))
    est.save(tmp_path / "bgm.mixfit")
    loaded = mixfit.load(tmp_path / "bgm.mixfit")
    assert_array_equal(loaded.score_samples(Y), est.score_samples(Y))
    assert_array_equal(loaded.predict_proba(Y), est.predict_proba(Y))


# ---- the boundary ----------------------------------------------------------------------------


def test_refusals_name_the_row_and_leave_a_fitted_model_unchanged(tmp_path):
    X = _data(40, seed=16)
    est = BayesianGaussianMixture(n_components=2, random_state=0).fit(X)
    before = est.means_.copy()
    Y = _holes(X)
    Y[17] = np.nan
    with pytest.raises(ValueError, match="X row 17 has no observed value"):
        est.fit(Y)
    with pytest.raises(ValueError, match="X row 17 has no observed value"):
        est.score_samples(Y)
    stored = np.lib.format.open_memmap(tmp_path / "Y.npy", mode="w+", dtype=np.float64, shape=Y.shape)
    stored[:] = Y
    with pytest.raises(ValueError, match="X row 17 has no observed value"):
        BayesianGaussianMixture(n_components=2, chunk_size=8).fit(stored)
    Y[17] = X[17]
    Y[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        est.fit(Y)
    assert_array_equal(est.means_, before)
    assert est.__sklearn_tags__().input_tags.allow_nan


def test_starts_do_not_see_nan_as_a_number():
    Y = _holes(_data(150, seed=17))
    for init in ("kmeans", "k-means++", "random", "random_from_data", "hierarchical"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = BayesianGaussianMixture(n_components=2, init_params=init, random_state=0, max_iter=5).fit(Y)
        assert np.all(np.isfinite(est.means_)) and np.isfinite(est.lower_bound_), init
        assert np.all(np.isfinite(est.mean_prior_)) and np.all(np.isfinite(est.covariance_prior_)), init
