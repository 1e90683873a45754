"""StudentMixture with NaN entries missing at random (issue 18 for the t mixture): each
component's t marginal over a row's observed coordinates against scipy's multivariate_t row by
row, the E-step's u-weighted expected moments against a literal per-row oracle, the monotone
observed-data likelihood (ECM), the Gaussian limit against GaussianMixture's missing-value
E-step, the outlier scores, and refusals."""

import warnings

import numpy as np
import pytest
from oracles import student_missing as oracle

from mixfit import GaussianMixture, StudentMixture
from mixfit.families.registry import make_covariance
from mixfit.models import missing
from mixfit.models.student_dof import make_dof_rule
from mixfit.models.student_t import StudentEM, StudentParams

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAMILIES = ["full", "tied", "diag", "spherical", "VEV", "EII"]


def _data(n=300, seed=0):
    """Two heavy-tailed (t, 4 dof) clusters in D = 4."""
    rng = np.random.default_rng(seed)
    X = rng.standard_t(4, size=(n, 4)) @ rng.normal(size=(4, 4))
    X[: n // 2] += [4.0, -3.0, 2.0, 0.0]
    return X


def _holes(X, rate=0.3, seed=1):
    rng = np.random.default_rng(seed)
    holes = rng.random(X.shape) < rate
    holes[holes.all(axis=1), 0] = False  # every row observes something
    return np.where(holes, np.nan, X)


@pytest.fixture(scope="module")
def fitted():
    X = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return X, {ct: StudentMixture(2, covariance_type=ct, random_state=0, max_iter=30).fit(X) for ct in FAMILIES}


@pytest.fixture(params=["compiled", "numpy"])
def row_kernel(request, monkeypatch):
    """Both E-steps of models/missing.py underneath: numba's loop over rows, numpy's pattern groups."""
    if request.param == "compiled":
        pytest.importorskip("numba")
    monkeypatch.setattr(missing, "COMPILED", request.param == "compiled")
    return request.param


def _parameters(sm):
    dense = sm._covariance.dense_covariance(sm.precisions_cholesky_, *sm.means_.shape)
    return sm.weights_, sm.means_, np.asarray(dense), sm.degrees_of_freedom_


@pytest.mark.parametrize("covariance_type", FAMILIES)
def test_observed_log_likelihood_matches_scipy_multivariate_t_row_by_row(fitted, covariance_type, row_kernel):
    X, models = fitted
    sm = models[covariance_type]
    Y = _holes(X)
    w = np.random.default_rng(2).uniform(0.2, 3.0, Y.shape[0])
    rho = oracle.log_rho(Y, *_parameters(sm))  # scipy, one row and one component at a time
    model, params = sm._model(), sm._params()
    # float64 densities of size ~10 and their sums over 300 rows: rounding only
    np.testing.assert_allclose(model.log_prob_components(Y, params), rho, rtol=1e-10)
    np.testing.assert_allclose(sm.score_samples(Y), np.logaddexp.reduce(rho, axis=1), rtol=1e-10)
    stats = model.accumulate(Y, params, w)
    assert stats.log_norm == pytest.approx(np.logaddexp.reduce(rho, axis=1) @ w, rel=1e-10)
    assert stats.weight_sum == pytest.approx(w.sum(), rel=1e-14)


@pytest.mark.parametrize("covariance_type", FAMILIES)
def test_statistics_are_the_u_weighted_expected_moments(fitted, covariance_type, row_kernel):
    """N_k, U_k, T_k, and the moments sum w r E[u (x - mu)], sum w r E[u (x - mu)(x - mu)^T] (with the
    conditional covariance weighted by w r, not w r u), folded into the family's form."""
    X, models = fitted
    sm = models[covariance_type]
    Y = _holes(X[:80], rate=0.4, seed=3)
    w = np.random.default_rng(4).uniform(0.5, 2.0, Y.shape[0])
    log_l, N, U, T, first, scatter = oracle.statistics(Y, w, *_parameters(sm))
    stats = sm._model().accumulate(Y, sm._params(), w)
    # explicit 4 x 4 inverses and 80-term sums: rounding only
    assert stats.log_norm == pytest.approx(log_l, rel=1e-10)
    np.testing.assert_allclose(stats.mass, N, rtol=1e-10)
    np.testing.assert_allclose(stats.moments.mass, U, rtol=1e-10)
    np.testing.assert_allclose(stats.log_scale, T, rtol=1e-10)
    np.testing.assert_array_equal(stats.shift, sm.means_)
    np.testing.assert_allclose(stats.first, first, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(stats.moments.scatter, sm._covariance.fold_scatter(scatter), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_complete_rows_of_a_chunk_with_holes_take_todays_path(fitted, covariance_type):
    """No NaN = today: a chunk's complete rows get the complete-data densities (to 1e-12) and the
    statistics add over the two kinds of rows."""
    X, models = fitted
    sm = models[covariance_type]
    Y = _holes(X, rate=0.05, seed=5)
    complete = ~np.isnan(Y).any(axis=1)
    model, params = sm._model(), sm._params()
    np.testing.assert_allclose(model.log_prob_components(Y, params)[complete],
                               model.log_prob_components(Y[complete], params), rtol=1e-12)
    whole = model.accumulate(Y, params, None)
    parts = model.accumulate(Y[complete], params, None) + model.accumulate(Y[~complete], params, None)
    for a, b in [(whole.mass, parts.mass), (whole.log_scale, parts.log_scale), (whole.first, parts.first),
                 (whole.moments.scatter, parts.moments.scatter)]:
        np.testing.assert_allclose(a, b, rtol=1e-12)  # the same float64 sums in two orders


@pytest.mark.parametrize(("covariance_type", "dof"), [("full", "estimate"), ("diag", "tied"), ("tied", 5.0),
                                                     ("spherical", "estimate")])
def test_ecm_never_decreases_the_observed_data_likelihood(covariance_type, dof):
    Y = _holes(_data(), rate=0.3, seed=6)
    sm = StudentMixture(2, covariance_type=covariance_type, dof=dof, random_state=0, max_iter=25, tol=0,
                        reg_covar=0).fit(Y)
    bounds = np.asarray(sm.lower_bounds_)
    assert len(bounds) == 25
    assert np.all(np.diff(bounds) >= -1e-12)  # every step maximises its part exactly: rounding only


def test_a_very_large_dof_is_the_gaussian_mixture_with_missing_values(fitted):
    """As nu -> inf the t marginal is the Gaussian's: the E-step equals GaussianMixture's
    missing-value E-step from the same parameters (the t's ln-density differs by ~D^2 / nu)."""
    X, models = fitted
    sm = models["full"]
    Y = _holes(X, rate=0.3, seed=7)
    gm = GaussianMixture(2, covariance_type="full")
    gm.weights_, gm.means_, gm.precisions_cholesky_ = sm.weights_, sm.means_, sm.precisions_cholesky_
    gm._covariance = sm._covariance
    sm_inf = StudentMixture(2, covariance_type="full", dof=1e12)
    sm_inf._covariance = sm._covariance
    sm_inf.weights_, sm_inf.means_, sm_inf.precisions_cholesky_ = sm.weights_, sm.means_, sm.precisions_cholesky_
    sm_inf.degrees_of_freedom_ = np.full(2, 1e12)
    g, t = gm._model().accumulate(Y, gm._params(), None), sm_inf._model().accumulate(Y, sm_inf._params(), None)
    assert t.log_norm == pytest.approx(g.log_norm, rel=1e-9)  # D^2 / nu ~ 1e-11 per row
    np.testing.assert_allclose(t.mass, g.mass, rtol=1e-9)
    np.testing.assert_allclose(t.first, g.first, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(t.moments.scatter, g.scatter, rtol=1e-8)


def test_outlier_scores_over_the_observed_coordinates(fitted):
    X, models = fitted
    sm = models["full"]
    Y = _holes(X, rate=0.3, seed=8)
    scale, distance = oracle.scale_and_distance(Y, *_parameters(sm))
    np.testing.assert_allclose(sm.expected_scale(Y), scale, rtol=1e-10)  # explicit inverses: rounding only
    np.testing.assert_allclose(sm.mahalanobis(Y), distance, rtol=1e-9)
    complete = ~np.isnan(Y).any(axis=1)
    np.testing.assert_allclose(sm.expected_scale(Y)[complete], sm.expected_scale(X[complete]), rtol=1e-12)


def test_fit_recovers_the_clusters_with_holes():
    """30 % of the entries removed: the means come back near the complete-data fit's (heavy
    tails and 150 rows per cluster: a few tenths is a few standard errors)."""
    X = _data(600, seed=9)
    complete = StudentMixture(2, random_state=0).fit(X)
    holes = StudentMixture(2, random_state=0).fit(_holes(X, rate=0.3, seed=10))
    order = np.argsort(holes.means_[:, 0]), np.argsort(complete.means_[:, 0])
    np.testing.assert_allclose(holes.means_[order[0]], complete.means_[order[1]], atol=0.3)
    assert np.all(np.isfinite(holes.degrees_of_freedom_))


def test_starts_read_missing_entries_as_column_means():
    Y = _holes(_data(), rate=0.3, seed=11)
    filled = np.where(np.isnan(Y), np.nanmean(Y, axis=0), Y)
    a = StudentMixture(2, random_state=0, max_iter=0).fit(Y)
    b = StudentMixture(2, random_state=0, max_iter=0).fit(filled)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-12)  # max_iter=0: the start itself


def test_empty_rows_and_infinity_are_refused_and_nan_is_declared(fitted):
    X, models = fitted
    Y = _holes(X, rate=0.2, seed=12)
    Y[5] = np.nan
    with pytest.raises(ValueError, match="X row 5 has no observed value"):
        StudentMixture(2).fit(Y)
    with pytest.raises(ValueError, match="X row 5 has no observed value"):
        models["full"].predict(Y)
    Y[5] = 1.0
    Y[7, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        StudentMixture(2).fit(Y)
    assert StudentMixture().__sklearn_tags__().input_tags.allow_nan


def test_a_reseeded_component_takes_the_donors_mean_where_its_row_misses_entries():
    """on_collapse='reseed' restarts a component at a data row; where that row misses an entry,
    the donor component's mean fills it (as GaussianMixture's), so no mean is NaN."""
    em = StudentEM(make_covariance("diag"), 1e-6, make_dof_rule("estimate", 10.0))
    params = StudentParams(np.array([0.6, 0.4]), np.array([[0.0, 1.0], [5.0, 6.0]]), np.ones((2, 2)),
                           np.array([4.0, 8.0]))
    new = em.insert_component(params, 1, np.array([np.nan, 3.0]), donor=1)
    np.testing.assert_array_equal(new.means, [[0.0, 1.0], [5.0, 3.0], [5.0, 6.0]])
    assert new.dof[1] == 8.0


def test_the_command_line_fits_a_t_mixture_to_a_table_with_empty_cells(tmp_path):
    """``mixfit fit --model t`` reads empty / NA cells as missing; the saved model is the library's
    fit of the NaN table."""
    click_testing = pytest.importorskip("click.testing")
    from mixfit import load
    from mixfit.cli import cli

    Y = _holes(_data(120, seed=13), rate=0.2, seed=14)
    path = tmp_path / "holed.csv"
    path.write_text("a,b,c,d\n" + "\n".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row)
                                            for row in Y) + "\n")
    out = tmp_path / "t.mixfit"
    result = click_testing.CliRunner().invoke(cli, ["fit", str(path), "-k", "2", "--model", "t", "--seed", "0",
                                                    "-o", str(out)])
    assert result.exit_code == 0, result.output
    ours = StudentMixture(2, random_state=0).fit(Y)
    np.testing.assert_allclose(load(out).means_, ours.means_, rtol=1e-12)  # the same fit, saved and loaded
