"""Bootstrap of a Gaussian mixture's parameters: closed forms of the one-component case, the
literal replicate weights, the families' constraints in every replicate, label matching, and
R mclust's MclustBootstrap summaries (frozen by tests/fixtures/mclust_bootstrap/make_fixtures.R).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from mixfit import BayesianGaussianMixture, GaussianMixture, bootstrap
from mixfit.families.registry import MCLUST_MODEL_NAMES
from mixfit.selection.bootstrap import replicate_weights

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(3)
    return rng.multivariate_normal([1.0, -2.0], [[2.0, 0.6], [0.6, 0.5]], size=300)


@pytest.fixture(scope="module")
def three_blobs():
    rng = np.random.default_rng(4)
    return np.vstack([rng.normal(centre, 0.6, (60, 2)) for centre in ([0, 0], [6, 0], [0, 6])])


def test_same_seed_same_result_and_another_seed_another(three_blobs):
    model = GaussianMixture(3, random_state=0).fit(three_blobs)
    first = bootstrap(model, three_blobs, n_boot=8, random_state=11)
    again = bootstrap(model, three_blobs, n_boot=8, random_state=11)
    other = bootstrap(model, three_blobs, n_boot=8, random_state=12)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(first.replicates[name], again.replicates[name])
        assert not np.allclose(first.replicates[name], other.replicates[name])


@pytest.mark.parametrize("kind", ["nonparametric", "weighted"])
def test_one_component_replicates_are_the_weighted_moments_of_the_drawn_weights(gaussian, kind):
    """With one component EM's M-step is the weighted mean and covariance (+ reg_covar), so each
    replicate is a literal function of its weights, redrawn here from the same stream."""
    model = GaussianMixture(1, reg_covar=1e-6).fit(gaussian)
    result = bootstrap(model, gaussian, n_boot=5, kind=kind, random_state=7)
    rng = np.random.default_rng(7)
    for b in range(5):
        w = replicate_weights(kind, gaussian.shape[0], rng)
        mean = w @ gaussian / w.sum()
        centred = gaussian - mean
        cov = (w[:, None] * centred).T @ centred / w.sum() + 1e-6 * np.eye(2)
        # One EM step from the original parameters lands on these exactly, to rounding.
        np.testing.assert_allclose(result.replicates["means"][b, 0], mean, rtol=1e-10)
        np.testing.assert_allclose(result.replicates["covariances"][b, 0], cov, rtol=1e-9)
    np.testing.assert_array_equal(result.replicates["weights"], 1.0)
    np.testing.assert_array_equal(result.standard_errors()["weights"], 0.0)


def test_replicate_weights_are_as_documented():
    rng = np.random.default_rng(0)
    n = 50
    counts = np.array([replicate_weights("nonparametric", n, rng) for _ in range(400)])
    assert np.all(counts == np.round(counts)) and np.all(counts >= 0)
    np.testing.assert_array_equal(counts.sum(axis=1), n)  # n draws with replacement
    weights = np.array([replicate_weights("weighted", n, rng) for _ in range(400)])
    assert np.all(weights > 0)
    np.testing.assert_allclose(weights.sum(axis=1), n, rtol=1e-12)  # n times a Dirichlet draw
    # n g_i with g ~ Dirichlet(1, ..., 1): mean 1, variance (n - 1) / (n + 1); over 20000
    # draws the sample variance's relative Monte-Carlo sd is about sqrt(8 / 20000) = 2% (the
    # marginal is nearly exponential: kurtosis 9), so 10% is 5 sd.
    assert weights.var() == pytest.approx((n - 1) / (n + 1), rel=0.10)


@pytest.mark.parametrize(("kind", "n_extra"), [("nonparametric", 0), ("weighted", 1), ("parametric", 0)])
def test_one_component_standard_error_of_the_mean_is_the_closed_form(gaussian, kind, n_extra):
    """Var*(mean*) = S / n for resampled rows and for rows sampled from N(mean, S) (S the ML
    covariance, ddof = 0); for n Dirichlet(1) weights sum_ij Cov(g_i, g_j) x_i x_j = S / (n + 1).
    400 replicates estimate an SD to a relative Monte-Carlo sd of 1/sqrt(2 x 399) = 3.5%:
    14% is 4 sd."""
    model = GaussianMixture(1).fit(gaussian)
    n = gaussian.shape[0]
    result = bootstrap(model, gaussian, n_boot=400, kind=kind, random_state=1)
    expected = gaussian.std(axis=0) / np.sqrt(n + n_extra)
    np.testing.assert_allclose(result.standard_errors()["means"][0], expected, rtol=0.14)
    # The 95% interval of the mean: mean +- 1.96 SE under normality (the mean of 300 rows is
    # normal to a good approximation); each end's Monte-Carlo sd is about 0.12 SE at 400
    # replicates (a 2.5% quantile), so 0.5 SE is 4 sd.
    lower, upper = result.intervals(0.95)["means"]
    centre = model.means_[0]
    np.testing.assert_allclose(lower[0], centre - 1.96 * expected, atol=0.5 * expected.max())
    np.testing.assert_allclose(upper[0], centre + 1.96 * expected, atol=0.5 * expected.max())


@pytest.mark.parametrize("covariance_type", MCLUST_MODEL_NAMES)
def test_every_family_bootstraps_and_keeps_its_constraint(three_blobs, covariance_type):
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(three_blobs)
    result = bootstrap(model, three_blobs, n_boot=3, kind="weighted", random_state=0)
    assert result.replicates["weights"].shape == (3, 3)
    assert result.replicates["means"].shape == (3, 3, 2)
    covariances = result.replicates["covariances"]
    assert covariances.shape == (3, 3, 2, 2) and not result.failed.any()
    np.testing.assert_allclose(covariances, np.swapaxes(covariances, -1, -2))
    # The family's letters hold in every replicate: volume, shape, orientation.
    volume = np.sqrt(np.linalg.det(covariances))  # lambda_k = |Sigma_k|^(1/D), D = 2
    if covariance_type[0] == "E":
        np.testing.assert_allclose(volume, np.broadcast_to(volume[:, :1], volume.shape), rtol=1e-6)
    if covariance_type[2] == "I":
        np.testing.assert_allclose(covariances[..., 0, 1], 0.0, atol=1e-12)
    if covariance_type in ("EEE", "EII", "EEI"):
        np.testing.assert_allclose(covariances, np.broadcast_to(covariances[:, :1], covariances.shape), rtol=1e-6)
    for name, se in result.standard_errors().items():
        assert np.all(np.isfinite(se)), name


def test_labels_stay_matched_to_the_original_components(three_blobs):
    model = GaussianMixture(3, random_state=0).fit(three_blobs)
    result = bootstrap(model, three_blobs, n_boot=40, random_state=0)
    distances = np.linalg.norm(result.replicates["means"][:, :, None] - model.means_[None, None], axis=-1)
    np.testing.assert_array_equal(distances.argmin(axis=2), np.broadcast_to(np.arange(3), (40, 3)))


def test_the_model_is_not_modified(three_blobs):
    model = GaussianMixture(3, random_state=0).fit(three_blobs)
    before = {name: np.copy(getattr(model, name)) for name in ("weights_", "means_", "precisions_cholesky_")}
    params = model.get_params()
    bootstrap(model, three_blobs, n_boot=3, random_state=0)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(model, name), value)
    assert model.get_params() == params


def test_failed_replicates_are_nan_and_left_out():
    """A component on three rows (reg_covar=0): a resample that keeps two of them makes its
    covariance singular; that replicate is NaN and the summaries use the others."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (60, 2)), [[20.0, 20.0], [21.0, 20.5], [20.2, 21.3]]])
    model = GaussianMixture(2, reg_covar=0.0, random_state=0).fit(X)
    result = bootstrap(model, X, n_boot=30, random_state=0)
    assert 0 < result.failed.sum() < 30
    assert np.all(np.isnan(result.replicates["means"][result.failed]))
    kept = result.replicates["means"][~result.failed]
    np.testing.assert_allclose(result.standard_errors()["means"], kept.std(axis=0, ddof=1))
    np.testing.assert_allclose(result.intervals(0.5)["means"][0], np.quantile(kept, 0.25, axis=0))


def test_bad_input_is_named(three_blobs):
    model = GaussianMixture(2, random_state=0).fit(three_blobs)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_boot"):
            bootstrap(model, three_blobs, n_boot=bad)
    with pytest.raises(ValueError, match="kind"):
        bootstrap(model, three_blobs, n_boot=2, kind="jackknife")
    with pytest.raises(ValueError, match="X has shape"):
        bootstrap(model, three_blobs[:, :1], n_boot=2)
    with pytest.raises(ValueError, match="random_state"):
        bootstrap(model, three_blobs, n_boot=2, random_state="seed")
    with pytest.raises(TypeError, match="GaussianMixture"):
        bootstrap(BayesianGaussianMixture(n_components=2).fit(three_blobs), three_blobs, n_boot=2)
    with pytest.raises(NotFittedError):
        bootstrap(GaussianMixture(2), three_blobs, n_boot=2)
    result = bootstrap(model, three_blobs, n_boot=2, random_state=0)
    for bad in (0, 1, 1.5, True):
        with pytest.raises(ValueError, match="level"):
            result.intervals(bad)


def _mclust_case(name):
    with open(FIXTURES / "mclust_bootstrap" / f"{name}.json") as handle:
        reference = json.load(handle)
    X = np.loadtxt(FIXTURES / "mclust" / "inputs" / f"{name}.csv", delimiter=",", skiprows=1)
    precisions = np.linalg.inv(np.array(reference["sigma"]))
    if reference["model"] == "EEE":
        precisions = precisions[0]  # one shared matrix
    # mclust's EM stopping rule, |l' - l| / (1 + |l|) < 1e-5, as a change per row.
    tol = 1e-5 * (1 + abs(reference["loglik"])) / X.shape[0]
    model = GaussianMixture(reference["G"], covariance_type=reference["model"], reg_covar=0.0, tol=tol,
                            max_iter=1000, weights_init=np.array(reference["pro"]),
                            means_init=np.array(reference["mean"]), precisions_init=precisions).fit(X)
    return X, model, reference


@pytest.mark.parametrize(("name", "n_boot", "rtol"), [
    # iris (VEV, 2 separated components): R's SEs from 999 replicates and ours from 500 each
    # carry a Monte-Carlo sd of about 1/sqrt(2B) (2.2% and 3.2%), 3.9% for their ratio: 15% is
    # almost 4 sd.
    pytest.param("iris", 500, 0.15, id="iris"),
    # faithful (EEE, 3 components, two of them overlapping): the likelihood is flat along their
    # split, so SEs also depend on where each replicate's EM stops (with our tol at 1e-8 the
    # weights' SE grows by 20%; at mclust's own rule they agree within 9% on two seeds);
    # 30% covers that and the Monte-Carlo error of 300 replicates (4%).
    pytest.param("faithful", 300, 0.30, id="faithful"),
])
@pytest.mark.parametrize(("kind", "r_kind"), [("nonparametric", "bs"), ("weighted", "wlbs")])
def test_standard_errors_agree_with_mclust_bootstrap(name, n_boot, rtol, kind, r_kind):
    X, model, reference = _mclust_case(name)
    result = bootstrap(model, X, n_boot=n_boot, kind=kind, random_state=0)
    r = reference["bootstrap"][r_kind]
    assert not result.failed.any() and r["n_failed"] == 0
    se = result.standard_errors()
    np.testing.assert_allclose(se["weights"], r["se_pro"], rtol=rtol)
    np.testing.assert_allclose(se["means"], r["se_mean"], rtol=rtol)
    np.testing.assert_allclose(se["covariances"], r["se_variance"], rtol=rtol)
    lower, upper = result.intervals(0.95)["weights"]
    r_lower, r_upper = np.array(r["ci_pro"])
    # Percentile ends: each has a Monte-Carlo sd of about 0.15 SE at these B (normal case);
    # the flat faithful split adds as above: one SE.
    np.testing.assert_allclose(lower, r_lower, atol=np.max(se["weights"]))
    np.testing.assert_allclose(upper, r_upper, atol=np.max(se["weights"]))


def test_a_fit_that_dropped_components_is_bootstrapped_as_fitted():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(100, 2)), [[50.0, 50.0]]])
    with pytest.warns(Warning):  # the drops are announced
        model = GaussianMixture(8, on_collapse="drop", reg_covar=0.0, init_params="random", random_state=0).fit(X)
    K = model.means_.shape[0]
    assert K < 8
    result = bootstrap(model, X, n_boot=4, random_state=0)
    assert result.replicates["means"].shape == (4, K, 2) and not result.failed.all()
