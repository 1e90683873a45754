"""Marginals, conditionals and missing values of fitted Gaussian mixtures (issue 18): against a
literal per-point oracle (tests/oracles/conditional.py, scipy densities and explicit inverses)
and the ``gmr`` package from the same parameters."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from oracles.conditional import condition as oracle_condition
from oracles.conditional import log_density_observed
from oracles.gaussian_em import full_covariances
from sklearn.exceptions import NotFittedError

import mixfit
from mixfit.models import missing

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
# Oracle comparisons in float64: explicit inverses of well-conditioned 1-3 dimensional blocks
# against Cholesky solves agree to ~1e-14; 1e-10 is the bar.
RTOL = 1e-10
EPS = np.finfo(np.float64).eps


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    A = np.array([[1.0, 0.0, 0.0, 0.0], [0.8, 0.6, 0.0, 0.0], [-0.5, 0.3, 0.7, 0.0], [0.2, 0.1, -0.4, 0.9]])
    first = rng.standard_normal((n // 2, 4)) @ A.T
    second = rng.standard_normal((n - n // 2, 4)) @ (0.5 * A).T + [3.0, -2.0, 1.0, 0.5]
    return np.vstack([first, second])


@pytest.fixture(scope="module")
def fitted():
    X = _data()
    models = {ct: mixfit.GaussianMixture(3, covariance_type=ct, random_state=0).fit(X) for ct in COVARIANCE_TYPES}
    return X, models


def _dense(gm):
    return full_covariances(gm.covariance_type, gm.covariances_, gm.weights_.shape[0], gm.means_.shape[1])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_marginal_is_the_components_marginals(fitted, covariance_type):
    X, models = fitted
    gm = models[covariance_type]
    features = [3, 1]
    marginal = gm.marginal(features)
    assert type(marginal) is mixfit.GaussianMixture and marginal.covariance_type == covariance_type
    assert marginal.n_features_in_ == 2 and marginal.covariances_.shape == _shape(covariance_type, 3, 2)
    np.testing.assert_array_equal(marginal.weights_, gm.weights_)
    np.testing.assert_array_equal(marginal.means_, gm.means_[:, features])
    np.testing.assert_allclose(_dense(marginal), _dense(gm)[:, features][:, :, features], rtol=RTOL, atol=1e-14)
    # its density of the columns = the joint density with the others missing (scipy, row by row)
    rows = X[:20][:, features]
    hidden = np.full((20, 4), np.nan)
    hidden[:, features] = rows
    expected = log_density_observed(gm.weights_, gm.means_, _dense(gm), hidden)
    np.testing.assert_allclose(marginal.score_samples(rows), expected, rtol=RTOL)


def _shape(covariance_type, K, D):
    return {"full": (K, D, D), "tied": (D, D), "diag": (K, D), "spherical": (K,)}[covariance_type]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(("given", "values"), [([0], [0.4]), ([2, 0], [1.5, 2.0])], ids=["one-given", "two-given"])
def test_condition_matches_the_per_point_oracle_and_gmr(fitted, covariance_type, given, values):
    gmr = pytest.importorskip("gmr")
    _, models = fitted
    gm = models[covariance_type]
    conditional = gm.condition(given, values)
    other = [d for d in range(4) if d not in given]
    weights, means, covs = oracle_condition(gm.weights_, gm.means_, _dense(gm), given, other, values)
    assert conditional.covariance_type == covariance_type
    assert conditional.covariances_.shape == _shape(covariance_type, 3, len(other))
    np.testing.assert_allclose(conditional.weights_, weights, rtol=RTOL)
    np.testing.assert_allclose(conditional.means_, means, rtol=RTOL)
    np.testing.assert_allclose(_dense(conditional), covs, rtol=RTOL, atol=1e-14)
    reference = gmr.GMM(3, priors=gm.weights_, means=gm.means_, covariances=_dense(gm)).condition(
        given, np.asarray(values))
    np.testing.assert_allclose(conditional.weights_, reference.priors, rtol=RTOL)
    np.testing.assert_allclose(conditional.means_, reference.means, rtol=RTOL)
    np.testing.assert_allclose(_dense(conditional), reference.covariances, rtol=RTOL, atol=1e-14)


def test_diag_and_spherical_conditionals_only_reweight(fitted):
    _, models = fitted
    for covariance_type in ("diag", "spherical"):
        gm = models[covariance_type]
        conditional = gm.condition([1], [0.0])
        np.testing.assert_array_equal(conditional.means_, gm.means_[:, [0, 2, 3]])
        np.testing.assert_allclose(conditional.covariances_, gm.marginal([0, 2, 3]).covariances_, rtol=1e-15)


def test_conditional_weights_are_stable_far_from_the_data(fitted):
    """Log-space weights: a value 1e3 standard deviations out still gives a distribution."""
    _, models = fitted
    conditional = models["full"].condition([0], [1e3])
    assert np.all(np.isfinite(conditional.weights_)) and conditional.weights_.sum() == pytest.approx(1)
    assert np.all(np.isfinite(conditional.means_))


def test_derived_mixtures_predict_sample_and_save(fitted, tmp_path):
    X, models = fitted
    conditional = models["full"].condition([0, 1], [0.5, -0.2])
    Y, labels = conditional.sample(50, random_state=0)
    assert Y.shape == (50, 2) and labels.shape == (50,)
    assert conditional.predict(X[:5, 2:]).shape == (5,)
    conditional.save(tmp_path / "conditional.mixfit")
    loaded = mixfit.load(tmp_path / "conditional.mixfit")
    np.testing.assert_array_equal(loaded.score_samples(X[:, 2:]), conditional.score_samples(X[:, 2:]))
    assert (conditional.n_iter_, conditional.lower_bound_, conditional.lower_bounds_) == (0, -np.inf, [])


def test_bayesian_mixture_marginalises_its_point_parameters(fitted):
    X, _ = fitted
    bgm = mixfit.BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    marginal = bgm.marginal([0, 2])
    plugin = mixfit.GaussianMixture(3)
    expected = log_density_observed(bgm.weights_, bgm.means_, bgm.covariances_,
                                    np.where(np.isin(np.arange(4), [0, 2]), X[:10], np.nan))
    assert type(marginal) is type(plugin)
    np.testing.assert_allclose(marginal.score_samples(X[:10, [0, 2]]), expected, rtol=RTOL)
    weights, _, _ = oracle_condition(bgm.weights_, bgm.means_, bgm.covariances_, [1], [0, 2, 3], [0.3])
    np.testing.assert_allclose(bgm.condition(1, [0.3]).weights_, weights, rtol=RTOL)


def test_features_by_name():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(_data(), columns=["a", "b", "c", "d"])
    gm = mixfit.GaussianMixture(2, random_state=0).fit(frame)
    conditional = gm.condition(["c"], [1.0])
    np.testing.assert_array_equal(conditional.feature_names_in_, ["a", "b", "d"])
    np.testing.assert_array_equal(conditional.means_, gm.condition([2], [1.0]).means_)
    np.testing.assert_array_equal(gm.marginal(["d", "a"]).means_, gm.means_[:, [3, 0]])


@pytest.mark.parametrize(("features", "values", "error", "match"), [
    ([0, 0], [1.0, 2.0], ValueError, r"features=\[0, 0\] repeats"),
    ([4], [1.0], ValueError, r"features holds 4, out of range"),
    ([-1], [1.0], ValueError, r"features holds -1, out of range"),
    ([], [], ValueError, r"features is empty"),
    ([0, 1, 2, 3], [0, 0, 0, 0], ValueError, r"features names all 4 features"),
    ([1.5], [1.0], TypeError, r"features holds 1.5"),
    (["a"], [1.0], ValueError, r"features names 'a'.*no feature names"),
    ([0, 1], [1.0], ValueError, r"values has shape \(1,\); expected one row \(n_given,\) = \(2,\)"),
    ([0], [[1.0, 2.0]], ValueError, r"values has shape \(1, 2\)"),
    ([0], [np.nan], ValueError, r"values contains NaN"),
], ids=["duplicate", "too-large", "negative", "empty", "all", "float", "unknown-name", "short-values",
        "2d-values", "nan-value"])
def test_bad_arguments_are_refused_by_name(fitted, features, values, error, match):
    _, models = fitted
    with pytest.raises(error, match=match):
        models["full"].condition(features, values)
    if not match.startswith("values"):
        with pytest.raises(error, match=match):
            models["full"].marginal(features)


def test_unfitted_mixture_refuses():
    for call in (lambda gm: gm.marginal([0]), lambda gm: gm.condition([0], [1.0])):
        with pytest.raises(NotFittedError):
            call(mixfit.GaussianMixture(2))


# ---- missing values in prediction ----------------------------------------------------------


@pytest.fixture(params=["compiled", "numpy"])
def row_kernel(request, monkeypatch):
    """Scores with holes on both paths: numba's loop over rows (models/missing.py) and the loop
    over missingness patterns (models/conditional.py, the path without numba)."""
    if request.param == "compiled":
        pytest.importorskip("numba")
    monkeypatch.setattr(missing, "COMPILED", request.param == "compiled")
    return request.param


def _with_holes(X, seed=1):
    """X with ~30 % of entries missing at random, no row left empty, the first 5 rows complete."""
    rng = np.random.default_rng(seed)
    holes = rng.random(X.shape) < 0.3
    holes[holes.all(axis=1), 0] = False
    holes[:5] = False
    return np.where(holes, np.nan, X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_missing_values_score_the_observed_coordinates(fitted, covariance_type, row_kernel):
    X, models = fitted
    gm = models[covariance_type]
    Y = _with_holes(X[:60])
    expected = log_density_observed(gm.weights_, gm.means_, _dense(gm), Y)
    np.testing.assert_allclose(gm.score_samples(Y), expected, rtol=RTOL)
    assert gm.score(Y) == pytest.approx(expected.mean(), rel=RTOL)
    # predict_proba of a pattern's rows = that of the marginal over its observed columns
    rows = np.flatnonzero(np.isnan(Y[:, 1]) & ~np.isnan(Y).any(axis=1, where=np.arange(4) != 1))
    marginal = gm.marginal([0, 2, 3])
    np.testing.assert_allclose(gm.predict_proba(Y[rows]), marginal.predict_proba(Y[rows][:, [0, 2, 3]]),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(gm.predict(Y), gm.predict_proba(Y).argmax(axis=1))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_complete_rows_take_todays_path(fitted, covariance_type):
    """No NaN in a chunk: the model's kernel itself; complete rows of a chunk with holes: the same
    kernel on those rows alone, to the bit. Against the whole chunk's scores they agree to the last
    ulp or so only: a BLAS may block a product of 18 rows otherwise than one of 50 (one ulp seen on
    an AVX-512 host; none with OpenBLAS's Haswell kernels on AVX2)."""
    X, models = fitted
    gm = models[covariance_type]
    model, params = gm._model(), gm._params()
    np.testing.assert_array_equal(gm.score_samples(X[:50]),
                                  mixfit.kernels.linalg.logsumexp_rows(model.log_prob_components(X[:50], params)))
    Y = _with_holes(X[:50])
    complete = ~np.isnan(Y).any(axis=1)
    np.testing.assert_array_equal(gm.score_samples(Y)[complete],
                                  mixfit.kernels.linalg.logsumexp_rows(model.log_prob_components(Y[complete], params)))
    np.testing.assert_allclose(gm.score_samples(Y)[complete], gm.score_samples(X[:50])[complete], rtol=4 * EPS)


def test_missing_values_out_of_core_and_float32(fitted, tmp_path):
    X, models = fitted
    gm = models["diag"]
    Y = _with_holes(X[:80])
    stored = np.lib.format.open_memmap(tmp_path / "Y.npy", mode="w+", dtype=np.float64, shape=Y.shape)
    stored[:] = Y
    small = copy.deepcopy(gm).set_params(chunk_size=16)  # several chunks, several patterns each
    np.testing.assert_allclose(small.score_samples(stored), gm.score_samples(Y), rtol=1e-13)
    stored[70] = np.nan  # an empty row in the fifth chunk is named by its row in the whole array
    with pytest.raises(ValueError, match="X row 70 has no observed value"):
        small.score_samples(stored)
    gm32 = mixfit.GaussianMixture(2, covariance_type="full", random_state=0).fit(X.astype(np.float32))
    out = gm32.score_samples(_with_holes(X[:40]).astype(np.float32))
    assert out.dtype == np.float32 and np.all(np.isfinite(out))


def test_missing_values_refusals(fitted):
    X, models = fitted
    gm = models["full"]
    Y = X[:6].copy()
    Y[4] = np.nan
    with pytest.raises(ValueError, match=r"X row 4 has no observed value"):
        gm.score_samples(Y)
    Y[4] = X[4]
    Y[2, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        gm.predict(Y)
    Y[2, 1] = np.nan
    with pytest.raises(ValueError, match="infinity"):  # fit takes NaN as missing (test_missing_fit.py), not inf
        mixfit.GaussianMixture(2).fit(np.vstack([Y, X, [[np.inf, 0.0, 0.0, 0.0]]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # five VB iterations need not converge
        bgm = mixfit.BayesianGaussianMixture(n_components=2, max_iter=5).fit(X)
    # VB's predictive density is marginalised too (the oracle tests are in test_missing_vb.py)
    assert np.all(np.isfinite(bgm.score_samples(Y)))


@pytest.mark.parametrize("covariance_type", ["EII", "EEI", "VEI", "EVI", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV"])
def test_mclust_families_condition_and_marginalise_in_their_unconstrained_form(covariance_type):
    """A block of an equal-volume (or common-shape) family need not keep the constraint, so the
    derived mixture is the unconstrained family of the same storage ('full', 'diag'; EII stays,
    equal spheres restrict to equal spheres); its parameters are the per-point oracle's."""
    X = _data()
    gm = mixfit.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    dense = gm._covariance.dense_covariance(gm.precisions_cholesky_, 2, 4)
    # the stored form: (K, D, D), (K, D) variances or EII's (K,) variances
    form = {3: "full", 2: "diag", 1: covariance_type}[np.ndim(gm.covariances_)]
    marginal = gm.marginal([2, 0])
    assert marginal.covariance_type == form and marginal.n_features_in_ == 2
    rows = X[:20][:, [2, 0]]
    hidden = np.full((20, 4), np.nan)
    hidden[:, [2, 0]] = rows
    expected = log_density_observed(gm.weights_, gm.means_, dense, hidden)
    np.testing.assert_allclose(marginal.score_samples(rows), expected, rtol=RTOL)
    conditional = gm.condition([1], [0.3])
    weights, means, covs = oracle_condition(gm.weights_, gm.means_, dense, [1], [0, 2, 3], [0.3])
    assert conditional.covariance_type == form
    np.testing.assert_allclose(conditional.weights_, weights, rtol=RTOL)
    np.testing.assert_allclose(conditional.means_, means, rtol=RTOL)
    np.testing.assert_allclose(_dense(conditional), covs, rtol=RTOL, atol=1e-14)
