"""partial_fit: online EM and stochastic VB (issue 19), against a literal recursion, one EM step,
repeated rows, a model file, and known parameters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES, perturbed_start
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import mixfit
from mixfit import BayesianGaussianMixture, BernoulliMixture, GaussianMixture
from mixfit.datasets import make_tutorial


def _full(covariances, covariance_type, K, D):
    """Any covariance type's ``covariances_`` as (K, D, D) matrices."""
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (K, D, D))
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in covariances])
    return covariances[:, None, None] * np.eye(D)


def _literal_stream(batches, weights, means, covariances, covariance_type, reg, offset, decay):
    """Online EM written out: per-row responsibilities from scipy's densities, raw moments (no
    shift) per unit of weight, s <- (1 - rho_t) s + rho_t s(batch) (the first batch taken whole),
    then the closed-form M-step of the covariance type."""
    K, D = means.shape
    covariances = _full(covariances, covariance_type, K, D)
    s = None
    for t, B in enumerate(batches, start=1):
        log_p = np.column_stack([np.log(weights[k]) + multivariate_normal(means[k], covariances[k]).logpdf(B)
                                 for k in range(K)])
        r = np.exp(log_p - logsumexp(log_p, axis=1, keepdims=True))  # (n, K)
        n = B.shape[0]
        batch = (r.sum(axis=0) / n, r.T @ B / n, np.einsum("nk,ni,nj->kij", r, B, B) / n)
        if s is None:
            s = batch
        else:
            rho = (t + offset) ** (-decay)
            s = tuple((1 - rho) * a + rho * b for a, b in zip(s, batch))
        mass, first, second = s
        weights = mass / mass.sum()
        means = first / mass[:, None]
        cov = second / mass[:, None, None] - means[:, :, None] * means[:, None, :]  # (K, D, D)
        eye = np.eye(D)
        if covariance_type == "full":
            covariances = cov + reg * eye
        elif covariance_type == "tied":
            covariances = np.broadcast_to(np.tensordot(mass, cov, axes=1) / mass.sum() + reg * eye, (K, D, D))
        elif covariance_type == "diag":
            covariances = np.stack([np.diag(np.diag(c)) for c in cov]) + reg * eye
        else:
            covariances = (np.trace(cov, axis1=1, axis2=2) / D + reg)[:, None, None] * eye
    return weights, means, covariances


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_partial_fit_is_the_literal_recursion(covariance_type, separated, rng):
    X, _ = separated.sample(1200, rng)
    start = perturbed_start(separated, covariance_type, rng)
    batches = np.array_split(X, 6)
    gm = GaussianMixture(3, covariance_type=covariance_type, learning_offset=2.0, learning_decay=0.8, **start)
    for B in batches:
        gm.partial_fit(B)
    precisions = start["precisions_init"]
    covariances = (np.linalg.inv(precisions) if covariance_type in ("full", "tied") else 1.0 / precisions)
    weights, means, covariances = _literal_stream(batches, start["weights_init"], start["means_init"], covariances,
                                                  covariance_type, gm.reg_covar, 2.0, 0.8)
    # moments about shifts (reshifted exactly) against raw moments: float64 rounding over 6 steps
    # of a well-conditioned problem, far below 1e-8
    assert_allclose(gm.weights_, weights, rtol=1e-8)
    assert_allclose(gm.means_, means, rtol=1e-8, atol=1e-10)
    assert_allclose(_full(gm.covariances_, covariance_type, 3, 3), covariances, rtol=1e-8, atol=1e-10)
    assert gm.n_steps_ == 6 and gm.n_seen_ == 1200.0


@pytest.mark.parametrize("make", [
    pytest.param(lambda **kw: GaussianMixture(3, random_state=0, **kw), id="em"),
    pytest.param(lambda **kw: GaussianMixture(3, random_state=0, prior="default", **kw), id="map"),
    pytest.param(lambda **kw: GaussianMixture(3, covariance_type="diag", random_state=0, **kw), id="em-diag"),
])
def test_first_call_on_all_rows_is_one_em_step(make):
    X, _, _ = make_tutorial(600, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge
        one_step = make(max_iter=1).fit(X)
    online = make().partial_fit(X)
    # the same start and E-step; the M-step sees the statistics scaled by 1/N then by N: rounding
    assert_allclose(online.weights_, one_step.weights_, rtol=1e-12)
    assert_allclose(online.means_, one_step.means_, rtol=1e-12, atol=1e-12)
    assert_allclose(online.precisions_cholesky_, one_step.precisions_cholesky_, rtol=1e-10)
    assert_allclose(online.lower_bound_, one_step.lower_bound_, rtol=1e-12)


@pytest.mark.parametrize("method", ["em", "vb"])
def test_bernoulli_first_call_is_one_em_step(method):
    X = (np.random.default_rng(1).random((400, 6)) < np.where(np.arange(400)[:, None] < 200, 0.8, 0.2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_step = BernoulliMixture(2, method=method, max_iter=1, random_state=0).fit(X)
    online = BernoulliMixture(2, method=method, random_state=0).partial_fit(X)
    assert_allclose(online.means_, one_step.means_, rtol=1e-12)  # scaled by 1/N, then N: rounding
    assert_allclose(online.weights_, one_step.weights_, rtol=1e-12)


@pytest.mark.parametrize("make", [
    pytest.param(lambda start: GaussianMixture(3, **start), id="em"),
    pytest.param(lambda start: BayesianGaussianMixture(n_components=3, random_state=0, total_samples=5000.0),
                 id="vb"),
])
def test_integer_weights_are_repeated_rows(make, separated, rng):
    X, _ = separated.sample(600, rng)
    start = perturbed_start(separated, "full", rng)
    weights = rng.integers(1, 4, size=600)
    weighted, repeated = make(start), make(start)
    for B, w in zip(np.array_split(X, 3), np.array_split(weights, 3)):
        weighted.partial_fit(B, sample_weight=w)
        repeated.partial_fit(np.repeat(B, w, axis=0))
    # the same sums in another order (and k-means on repeated rows is weight-exact): rounding
    assert_allclose(weighted.means_, repeated.means_, rtol=1e-9, atol=1e-10)
    assert_allclose(weighted.precisions_cholesky_, repeated.precisions_cholesky_, rtol=1e-8)
    assert weighted.n_seen_ == repeated.n_seen_ == weights.sum()


def test_a_change_of_n_features_is_refused(separated, rng):
    X, _ = separated.sample(200, rng)
    gm = GaussianMixture(2, random_state=0).partial_fit(X)
    with pytest.raises(ValueError, match="n_features"):
        gm.partial_fit(X[:, :2])


@pytest.mark.parametrize("name, value", [
    ("learning_decay", 0.5), ("learning_decay", 1.2), ("learning_offset", -1.0), ("total_samples", 0.0),
    ("total_samples", float("inf")),
])
def test_step_size_parameters_are_validated(name, value, separated, rng):
    X, _ = separated.sample(100, rng)
    with pytest.raises(ValueError, match=name):
        GaussianMixture(2, **{name: value}).partial_fit(X)


@pytest.mark.parametrize("make", [
    pytest.param(lambda: GaussianMixture(3, random_state=0, prior="default"), id="map"),
    pytest.param(lambda: GaussianMixture(3, covariance_type="tied", random_state=0), id="em-tied"),
    pytest.param(lambda: BayesianGaussianMixture(n_components=4, random_state=0), id="vb"),
    pytest.param(lambda: BernoulliMixture(3, method="vb", random_state=0, binarize=0.0), id="bernoulli-vb"),
])
def test_a_loaded_model_continues_as_if_never_saved(make, tmp_path):
    X, _, _ = make_tutorial(1500, random_state=5)
    batches = np.array_split(X, 5)
    kept, saved = make(), make()
    for B in batches[:3]:
        kept.partial_fit(B)
        saved.partial_fit(B)
    saved.save(tmp_path / "stream.mixfit")
    loaded = mixfit.load(tmp_path / "stream.mixfit")
    for B in batches[3:]:
        kept.partial_fit(B)
        loaded.partial_fit(B)
    # the file holds the very arrays (npy, no rounding) and the step is deterministic: equality
    assert_array_equal(loaded.means_, kept.means_)
    assert_array_equal(loaded.weights_, kept.weights_)
    assert loaded.n_steps_ == kept.n_steps_ == 5 and loaded.n_seen_ == kept.n_seen_


def test_online_em_finds_known_parameters():
    X, _, truth = make_tutorial(60_000, random_state=11)
    gm = GaussianMixture(3, random_state=0, means_init=truth.means + 0.5)
    for B in np.array_split(X, 60):
        gm.partial_fit(B)
    order = np.argsort(gm.means_[:, 0])
    expected = np.argsort(truth.means[:, 0])
    # the last steps average over ~1/rho_60 = 21 batches of 1000 rows: a mean's standard error is
    # ~0.03 for the lightest component; 0.15 is five of them, and far below the spacing of means
    assert_allclose(gm.means_[order], truth.means[expected], atol=0.15)
    assert_allclose(gm.weights_[order], truth.weights[expected], atol=0.03)


def test_fit_after_partial_fit_starts_a_new_stream(separated, rng):
    X, _ = separated.sample(300, rng)
    gm = GaussianMixture(3, random_state=0).partial_fit(X).partial_fit(X)
    gm.fit(X)
    assert "n_steps_" not in vars(gm) and "running_statistics_" not in vars(gm)
    gm.partial_fit(X)  # continues from the fitted params, as a first step on this batch
    assert gm.n_steps_ == 1


def test_a_dropped_component_leaves_the_running_statistics_consistent(separated, rng):
    X, _ = separated.sample(900, rng)
    start = perturbed_start(separated, "full", rng)
    far = np.vstack([start["means_init"], [[80.0, 80.0, 80.0]]])  # a fourth component no row reaches
    gm = GaussianMixture(4, on_collapse="drop", weights_init=np.full(4, 0.25), means_init=far,
                         precisions_init=np.stack([np.eye(3)] * 4))
    with pytest.warns(mixfit.CollapseWarning, match="component 3 was dropped"):
        gm.partial_fit(X[:300])
    assert gm.weights_.shape == (3,) and gm.running_statistics_["mass"].shape == (3,)
    for B in (X[300:600], X[600:]):
        gm.partial_fit(B)
    assert gm.means_.shape == (3, 3) and gm.n_steps_ == 3


@pytest.mark.parametrize("stream", ["epochs", "fresh"])
def test_stochastic_vb_switches_off_the_same_components_as_batch_vb(stream):
    # The tutorial's three clusters, 10 components, every hyper-parameter at its default; the
    # batch fit on 1000 rows is the oracle. The stream is those rows read 20 times in shuffled
    # batches of 50 ("epochs"), or 20000 fresh rows of the same mixture ("fresh").
    X, _, _ = make_tutorial(1000, random_state=1)
    batch = BayesianGaussianMixture(n_components=10, random_state=0).fit(X)
    online = BayesianGaussianMixture(n_components=10, random_state=0)
    rng = np.random.default_rng(0)
    for epoch in range(20):
        rows = X[rng.permutation(1000)] if stream == "epochs" else make_tutorial(1000, random_state=100 + epoch)[0]
        for B in np.array_split(rows, 20):
            online.partial_fit(B)
    assert online.active_components_.sum() == batch.active_components_.sum() == 3
    ours = online.means_[online.active_components_]
    theirs = batch.means_[batch.active_components_]
    ours, theirs = ours[np.argsort(ours[:, 0])], theirs[np.argsort(theirs[:, 0])]
    # the online posterior fluctuates with the last ~1/rho batches of 50 rows (and the fresh
    # stream's rows are other draws of the mixture than the batch fit's): a tenth of the
    # smallest spread of the clusters
    assert_allclose(ours, theirs, atol=0.1)


@pytest.mark.parametrize("n_components", [3, 10])
def test_stochastic_vb_first_call_is_the_fit_of_its_batch_then_one_step(n_components):
    # variational Bayes: the first call fits its batch to convergence, then takes the step (one
    # more VB iteration on the same rows); the oracle is fit, continued by one iteration
    X, _, _ = make_tutorial(200, random_state=3)
    fitted = BayesianGaussianMixture(n_components=n_components, random_state=0, warm_start=True).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge
        fitted.set_params(max_iter=1).fit(X)
    online = BayesianGaussianMixture(n_components=n_components, random_state=0).partial_fit(X)
    assert_array_equal(online.active_components_, fitted.active_components_)
    assert online.active_components_.sum() == 3  # the 10-component start loses its surplus
    # the same start, iterations and E-step; the step's M-step sees the statistics scaled by
    # 1/N then by N: rounding
    assert_allclose(online.weights_, fitted.weights_, rtol=1e-10, atol=1e-12)
    assert_allclose(online.means_, fitted.means_, rtol=1e-10, atol=1e-10)
    assert_allclose(online.precisions_cholesky_, fitted.precisions_cholesky_, rtol=1e-8)


def test_a_reseeded_component_restarts_the_running_statistics(separated, rng):
    X, _ = separated.sample(900, rng)
    start = perturbed_start(separated, "full", rng)
    means = start["means_init"].copy()
    means[2] = [80.0, 80.0, 80.0]  # component 2 starts where no row is: it collapses at the first step
    gm = GaussianMixture(3, on_collapse="reseed", weights_init=np.full(3, 1 / 3), means_init=means,
                         precisions_init=np.stack([np.eye(3)] * 3))
    with pytest.warns(mixfit.CollapseWarning, match="component 2 was reseeded"):
        gm.partial_fit(X[:300])
    # the running statistics are the batch's under the repaired params: all three components hold rows
    assert gm.running_statistics_["mass"].shape == (3,) and np.all(gm.running_statistics_["mass"] > 0.01)
    assert_allclose(gm.running_statistics_["weight_sum"], 1.0)
    for B in (X[300:600], X[600:]):
        gm.partial_fit(B)
    assert gm.weights_.shape == (3,) and np.all(np.isfinite(gm.means_)) and gm.n_steps_ == 3


def test_the_overflow_check_judges_each_feature_not_the_whole_range(rng):
    # the boundary check first bounds every feature's range by X's overall range (one fast pass);
    # where that bound fails it must fall back to each feature's own range: here the overall
    # range (~1e154) squared over 50 rows overflows float64, each feature's (~1e140) does not
    X = np.column_stack([rng.normal(size=50), 1e154 + 1e140 * rng.normal(size=50)])
    gm = GaussianMixture(1).partial_fit(X)
    assert_allclose(gm.means_[0], X.mean(axis=0), rtol=1e-12)  # one EM step of K = 1: the mean
    with pytest.raises(ValueError, match=r"\bX\b.*second moments would exceed"):
        GaussianMixture(1).partial_fit(np.column_stack([X[:, 0], 1e160 * rng.normal(size=50)]))


def _fitted_state(gm):
    return (gm.weights_, gm.means_, gm.precisions_cholesky_, gm.lower_bound_,
            *(np.asarray(v) for v in gm.running_statistics_.values()))


@pytest.mark.parametrize("make", [
    lambda: GaussianMixture(3, random_state=0),
    lambda: BayesianGaussianMixture(n_components=3, random_state=0, max_iter=20),
], ids=["em", "vb"])
def test_a_later_batch_checked_in_one_pass_steps_as_one_checked_in_full(make, separated, rng):
    # A later C-ordered batch of the fitted dtype skips scikit-learn's checks (no clone of the
    # estimator); a Fortran-ordered copy of the same rows takes the full checks. Same rows, same
    # step: the two streams must agree exactly (the same sums in the same order).
    X, _ = separated.sample(900, rng)
    fast, full = make().partial_fit(X[:300]), make().partial_fit(X[:300])
    from mixfit.estimators import _base
    clones = []
    original = _base.clone
    try:
        _base.clone = lambda est, **kw: clones.append(est) or original(est, **kw)
        for B in (X[300:600], X[600:]):
            fast.partial_fit(B)
        assert clones == []  # validated once: the later batches are not checked through a clone
        for B in (X[300:600], X[600:]):
            full.partial_fit(np.asfortranarray(B))
        assert len(clones) == 2  # the Fortran-ordered batches went through the full checks
    finally:
        _base.clone = original
    for a, b in zip(_fitted_state(fast), _fitted_state(full)):
        assert_array_equal(a, b)


@pytest.mark.parametrize("bad, message", [
    (np.inf, r"Input X contains infinity"),
    (-np.inf, r"Input X contains infinity"),
    ("row", r"X row 7 has no observed value"),
], ids=["inf", "-inf", "empty-row"])
def test_a_bad_later_batch_is_refused_as_in_fit_and_leaves_the_model_as_it_was(bad, message, separated, rng):
    X, _ = separated.sample(400, rng)
    gm = GaussianMixture(3, random_state=0).partial_fit(X[:200])
    before = _fitted_state(gm)
    B = X[200:].copy()
    if bad == "row":
        B[7] = np.nan
    else:
        B[11, 1] = bad
    with pytest.raises(ValueError, match=message):
        GaussianMixture(3, random_state=0).fit(B)  # the oracle: fit's own refusal
    with pytest.raises(ValueError, match=message):
        gm.partial_fit(B)
    for a, b in zip(before, _fitted_state(gm)):
        assert_array_equal(a, b)
    assert gm.n_steps_ == 1


def test_a_later_batch_with_missing_entries_takes_the_observed_data_step(separated, rng):
    # a NaN entry is a missing value for GaussianMixture: the one-pass check hands such a batch
    # to the full checks, which accept it, and the step is that of the same batch in C order
    X, _ = separated.sample(600, rng)
    B = X[300:].copy()
    B[5, 0] = np.nan
    a = GaussianMixture(3, random_state=0).partial_fit(X[:300]).partial_fit(B)
    b = GaussianMixture(3, random_state=0).partial_fit(X[:300]).partial_fit(np.asfortranarray(B))
    assert np.all(np.isfinite(a.means_))
    for u, v in zip(_fitted_state(a), _fitted_state(b)):
        assert_array_equal(u, v)


def test_a_later_batch_whose_moments_overflow_is_refused(rng):
    X = rng.normal(size=(50, 2))
    gm = GaussianMixture(1).partial_fit(X)
    with pytest.raises(ValueError, match=r"\bX\b.*second moments would exceed"):
        gm.partial_fit(np.column_stack([X[:, 0], 1e160 * rng.normal(size=50)]))
    assert gm.n_steps_ == 1
