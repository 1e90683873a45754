"""Bernoulli mixtures (EM and VB): the per-point oracle, the seam's invariances, recovery of known
parameters, binarised digits, monotone objectives, bad input and scikit-learn's contract."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from sklearn.utils.estimator_checks import parametrize_with_checks
from tests.oracles import bernoulli as oracle

from mixfit import BernoulliMixture, load
from mixfit.backends import ArraySource
from mixfit.engine import FitOptions, run
from mixfit.families.weights import make_weight_prior
from mixfit.models import BernoulliEM, BernoulliParams, BernoulliVB, BernoulliVBParams
from mixfit.models.bernoulli import BetaPrior

WEIGHT_TYPES = ["dirichlet_distribution", "dirichlet_process"]


def make_bernoulli(rng, n_samples=2000, weights=(0.2, 0.3, 0.5), n_features=24):
    """Rows from a mixture with well separated success probabilities; returns X (uint8), labels,
    and the true (weights, means)."""
    weights = np.asarray(weights)
    K = weights.shape[0]
    means = rng.uniform(0.05, 0.95, size=(K, n_features))
    means[:, : 3 * K] = 0.1  # each component switches its own three features on
    for k in range(K):
        means[k, 3 * k : 3 * k + 3] = 0.9
    labels = rng.choice(K, size=n_samples, p=weights)
    X = (rng.random((n_samples, n_features)) < means[labels]).astype(np.uint8)
    return X, labels, weights, means


@pytest.fixture
def small(rng):
    X, _, _, _ = make_bernoulli(rng, n_samples=40, n_features=6)
    return X.astype(np.float64)


def em_start(rng, K, D):
    weights = rng.uniform(0.5, 1.5, size=K)
    return BernoulliParams(weights / weights.sum(), rng.uniform(0.2, 0.8, size=(K, D)))


def vb_start(rng, K, D, weight_type):
    a = rng.uniform(1.0, 5.0, size=(K, D))
    b = rng.uniform(1.0, 5.0, size=(K, D))
    concentration = rng.uniform(1.0, 10.0, size=K if weight_type == "dirichlet_distribution" else (2, K))
    return BernoulliVBParams(concentration, a, b)


# ---- the literal oracle ----------------------------------------------------------------------


@pytest.mark.parametrize("prior", [(1.0, 1.0), (2.0, 3.5)], ids=["ml", "map"])
def test_em_step_matches_the_per_point_oracle(small, rng, prior, sample_weight_for):
    K, (N, D) = 3, small.shape
    w = sample_weight_for(N, rng)
    start = em_start(rng, K, D)
    model = BernoulliEM(BetaPrior(*prior))
    stats = model.accumulate(small, start, w)
    new = model.maximize(stats, start)
    weights, means, objective = oracle.em_step(small, w, start.weights, start.means, *prior)
    # the same float64 sums in another order: rounding only
    np.testing.assert_allclose(new.weights, weights, rtol=1e-10)
    np.testing.assert_allclose(new.means, means, rtol=1e-10)
    np.testing.assert_allclose(model.objective(stats, start), objective, rtol=1e-10)


@pytest.mark.parametrize("weight_type", WEIGHT_TYPES)
def test_vb_step_and_elbo_match_the_per_point_oracle(small, rng, weight_type, sample_weight_for):
    K, (N, D) = 3, small.shape
    w = sample_weight_for(N, rng)
    start = vb_start(rng, K, D, weight_type)
    model = BernoulliVB(make_weight_prior(weight_type, 0.7), BetaPrior(1.5, 0.8))
    prior = {"alpha0": 0.7, "a0": 1.5, "b0": 0.8}
    state = {"alpha": start.concentration if weight_type == "dirichlet_distribution"
             else (start.concentration[0], start.concentration[1]), "a": start.a, "b": start.b}
    stats = model.accumulate(small, start, w)
    # the ELBO identity: log_norm - KL equals the bound summed term by term
    np.testing.assert_allclose(model.objective(stats, start), oracle.elbo(small, w, state, prior, weight_type),
                               rtol=1e-10)
    resp, _ = oracle.vb_e_step(small, state, weight_type)
    expected = oracle.vb_m_step(small, w, resp, prior, weight_type)
    new = model.maximize(stats, start)
    np.testing.assert_allclose(new.a, expected["a"], rtol=1e-10)
    np.testing.assert_allclose(new.b, expected["b"], rtol=1e-10)
    np.testing.assert_allclose(new.concentration, np.asarray(expected["alpha"]), rtol=1e-10)


def test_maximum_likelihood_handles_probabilities_of_exactly_zero_and_one(rng):
    X = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=float)
    params = BernoulliParams(np.array([0.5, 0.5]), np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]]))
    model = BernoulliEM(BetaPrior(1.0, 1.0))
    log_rho = model.log_prob_components(X, params)
    weights, means, objective = oracle.em_step(X, np.ones(4), params.weights, params.means, 1.0, 1.0)
    np.testing.assert_allclose(log_rho, [[np.log(0.25), -np.inf]] * 2 + [[-np.inf, np.log(0.25)]] * 2)
    stats = model.accumulate(X, params, None)
    assert model.objective(stats, params) == pytest.approx(objective, rel=1e-12)
    new = model.maximize(stats, params)
    np.testing.assert_allclose(new.weights, weights, rtol=1e-12)
    np.testing.assert_allclose(new.means, means, rtol=1e-12, atol=1e-15)


# ---- seam invariances ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["em", "vb"])
def test_stats_are_additive_and_sparse_equals_dense(rng, method):
    X, _, _, _ = make_bernoulli(rng, n_samples=300)
    K, D = 3, X.shape[1]
    if method == "em":
        model, params = BernoulliEM(BetaPrior(2.0, 2.0)), em_start(rng, K, D)
    else:
        model, params = BernoulliVB(make_weight_prior("dirichlet_process", 0.5), BetaPrior(1.0, 1.0)), vb_start(
            rng, K, D, "dirichlet_process")
    whole = model.accumulate(X, params, None)
    parts = model.accumulate(X[:137], params, None) + model.accumulate(X[137:], params, None)
    sparse = model.accumulate(sp.csr_matrix(X), params, None)
    for other in (parts, sparse):  # float64 sums in other orders: rounding only
        np.testing.assert_allclose(other.mass, whole.mass, rtol=1e-12)
        np.testing.assert_allclose(other.first, whole.first, rtol=1e-12)
        assert other.log_norm == pytest.approx(whole.log_norm, rel=1e-12)
    double = whole.scale(2.0)
    np.testing.assert_allclose(double.first, 2 * whole.first)


@pytest.mark.parametrize("method", ["em", "vb"])
def test_fit_is_the_same_for_every_chunk_size_dtype_and_storage(rng, method):
    X, _, _, _ = make_bernoulli(rng, n_samples=600)
    kwargs = {"n_components": 3, "method": method, "init_params": "random", "random_state": 0, "tol": 1e-8,
              "max_iter": 50}
    reference = BernoulliMixture(**kwargs).fit(X.astype(np.float64))
    for data, chunk in [(X.astype(bool), 97), (X.astype(np.int64), None), (sp.csr_matrix(X), 50),
                        (sp.csc_matrix(X.astype(np.float64)), None)]:
        fitted = BernoulliMixture(**kwargs, chunk_size=chunk).fit(data)
        np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(fitted.lower_bounds_, reference.lower_bounds_, rtol=1e-10)
        np.testing.assert_allclose(fitted.score_samples(data), reference.score_samples(X), rtol=1e-10)


@pytest.mark.parametrize("method", ["em", "vb"])
def test_integer_sample_weights_equal_repeated_rows(rng, method):
    X, _, _, _ = make_bernoulli(rng, n_samples=200)
    counts = rng.integers(0, 4, size=X.shape[0])
    K, D = 3, X.shape[1]
    if method == "em":
        model, start = BernoulliEM(BetaPrior(2.0, 2.0)), em_start(rng, K, D)
    else:
        model, start = BernoulliVB(make_weight_prior("dirichlet_distribution", 1.0), BetaPrior(1.0, 1.0)), vb_start(
            rng, K, D, "dirichlet_distribution")
    options = FitOptions(tol=0.0, max_iter=15)
    weighted = run(model, ArraySource(X, counts.astype(float), 64), start, options)
    repeated = run(model, ArraySource(np.repeat(X, counts, axis=0), None, 64), start, options)
    np.testing.assert_allclose(weighted.lower_bounds, repeated.lower_bounds, rtol=1e-10)
    fitted = weighted.params.means if method == "em" else weighted.params.a
    again = repeated.params.means if method == "em" else repeated.params.a
    np.testing.assert_allclose(fitted, again, rtol=1e-10)


# ---- recovery and real data --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["em", "vb"])
def test_recovers_known_parameters(rng, method):
    X, _, weights, means = make_bernoulli(rng, n_samples=4000)
    fitted = BernoulliMixture(3, method=method, weight_concentration_prior_type="dirichlet_distribution",
                              n_init=2, random_state=0).fit(X)
    cost = np.abs(fitted.means_[:, None, :] - means[None]).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    # 4000 rows: a probability's standard error is at most 0.5 / sqrt(0.2 * 4000) ~ 0.018
    np.testing.assert_allclose(fitted.means_[rows], means[cols], atol=0.08)
    np.testing.assert_allclose(fitted.weights_[rows], weights[cols], atol=0.03)


def test_binarised_digits_held_out_beats_a_single_product_bernoulli():
    from sklearn.datasets import load_digits

    X = load_digits().data > 7
    order = np.random.default_rng(0).permutation(X.shape[0])
    train, test = X[order[:1300]], X[order[1300:]]
    single = BernoulliMixture(1).fit(train).score(test)
    em = BernoulliMixture(10, random_state=0).fit(train).score(test)
    vb = BernoulliMixture(10, method="vb", random_state=0).fit(train).score(test)
    print(f"held-out log-likelihood per row: single product-Bernoulli {single:.3f}, "
          f"10-component EM {em:.3f}, VB {vb:.3f}")
    assert em > single + 3 and vb > single + 3  # about 5.5 nats per row in practice


@pytest.mark.parametrize(("method", "prior", "weight_type"), [
    ("em", (1, 1), None), ("em", (None, None), None), ("vb", (None, None), "dirichlet_distribution"),
    ("vb", (0.5, 2.0), "dirichlet_process")], ids=["em-ml", "em-map", "vb-dirichlet", "vb-dp"])
def test_objective_never_decreases(rng, method, prior, weight_type):
    X, _, _, _ = make_bernoulli(rng, n_samples=800, weights=(0.25, 0.25, 0.5))
    fitted = BernoulliMixture(6, method=method, alpha=prior[0], beta=prior[1], init_params="random",
                              weight_concentration_prior_type=weight_type or "dirichlet_process",
                              tol=0.0, max_iter=60, random_state=1)
    with pytest.warns(UserWarning, match="did not converge"):
        fitted.fit(X)
    steps = np.diff(fitted.lower_bounds_)
    assert steps.min() >= -1e-12 * np.abs(fitted.lower_bounds_).max()  # rounding of a per-row mean


def test_probabilities_stay_inside_zero_and_one_under_the_default_prior(rng):
    X = np.zeros((50, 4), dtype=int)
    X[:, 0] = 1  # a feature always on and three always off
    for method in ("em", "vb"):
        means = BernoulliMixture(2, method=method, random_state=0).fit(X).means_
        assert np.all((means > 0) & (means < 1))


def test_sample_round_trip_and_model_files(rng, tmp_path):
    X, _, _, _ = make_bernoulli(rng, n_samples=3000)
    for method in ("em", "vb"):
        fitted = BernoulliMixture(3, method=method, random_state=0).fit(sp.csr_matrix(X))
        drawn, _ = fitted.sample(20000, random_state=1)
        assert set(np.unique(drawn)) <= {0.0, 1.0}
        np.testing.assert_allclose(drawn.mean(axis=0), fitted.weights_ @ fitted.means_, atol=0.02)
        path = tmp_path / f"{method}.mixfit"
        fitted.save(path)
        loaded = load(path)
        np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
        np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
        assert loaded.bic(X) == fitted.bic(X)


def test_warm_start_continues_from_the_fitted_parameters(rng):
    X, _, _, _ = make_bernoulli(rng, n_samples=500)
    for method in ("em", "vb"):
        cold = BernoulliMixture(3, method=method, random_state=0, tol=0.0, max_iter=20)
        with pytest.warns(UserWarning):
            cold.fit(X)
        warm = BernoulliMixture(3, method=method, random_state=0, tol=0.0, max_iter=10, warm_start=True)
        with pytest.warns(UserWarning):
            warm.fit(X)
        with pytest.warns(UserWarning):
            warm.fit(X)
        np.testing.assert_allclose(warm.means_, cold.means_, rtol=1e-10)


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(("X", "kwargs", "match"), [
    (np.array([[0, 1], [0.5, 1], [1, 0]]), {}, r"X must be binary.*X\[1, 0\] = 0.5"),
    (sp.csr_matrix(np.array([[0, 2], [1, 0], [1, 1]])), {}, r"X must be binary.*X\[0, 1\] = 2"),
    (np.array([[0, np.nan], [1, 0], [1, 1]]), {}, "X"),
    (np.array([0, 1, 1, 0]), {}, "X"),
    (np.array([[0, 1]]), {}, "X"),
    (np.array([[0, 1], [1, 0]]), {"n_components": 3}, "n_samples"),
    (np.array([["a", "b"], ["c", "d"]]), {}, "X"),
    (np.eye(3), {"alpha": 0.5}, "alpha=0.5"),
    (np.eye(3), {"beta": -1.0, "method": "vb"}, "beta=-1.0"),
    (np.eye(3), {"alpha": np.inf}, "alpha=inf"),
    (np.eye(3), {"method": "mcmc"}, "method"),
    (np.eye(3), {"weight_concentration_prior": 0.0, "method": "vb"}, "weight_concentration_prior"),
    (np.eye(3), {"weight_concentration_prior_type": "uniform"}, "weight_concentration_prior_type"),
    (np.eye(3), {"binarize": "yes"}, "binarize"),
    (sp.csr_matrix(np.eye(3)), {"binarize": -0.5}, "binarize"),
    (np.eye(3), {"n_components": 0}, "n_components"),
], ids=["non-binary", "non-binary-sparse", "nan", "1d", "one-row", "too-few-rows", "strings", "alpha-below-1-em",
        "beta-negative-vb", "alpha-inf", "method", "concentration", "weight-type", "binarize-type",
        "binarize-sparse-negative", "n-components"])
def test_bad_input_is_refused_naming_the_argument(X, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        BernoulliMixture(**kwargs).fit(X)


def test_prediction_refuses_non_binary_and_wrong_width(rng):
    X, _, _, _ = make_bernoulli(rng, n_samples=100)
    fitted = BernoulliMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X must be binary"):
        fitted.predict(X * 2)
    with pytest.raises(ValueError, match="features"):
        fitted.score(X[:, :5])
    assert np.isfinite(BernoulliMixture(2, binarize=0.5, random_state=0).fit(X * 3.0).score(X))


# ---- scikit-learn's contract ------------------------------------------------------------------
# scikit-learn's checks feed real-valued (often negative) data; a Bernoulli mixture refuses it by
# design. The checks run with binarize=0.0, the documented option that thresholds X > 0 (as
# BernoulliNB does), so every check exercises the estimator rather than its refusal.


_ONE_COLUMN = (
    "with one component predict_proba has one column; the sparse checks read it as a classifier's and "
    "expect at least two (BernoulliMixture declares classifier_tags, multi_class for more than two "
    "components, so the checks apply to K >= 2). Sparse fits are tested in "
    "test_fit_is_the_same_for_every_chunk_size_dtype_and_storage")


def _expected_failed(estimator):
    if estimator.n_components > 1:
        return {}
    return {name: _ONE_COLUMN for name in ("check_estimator_sparse_array", "check_estimator_sparse_matrix")}


@parametrize_with_checks([BernoulliMixture(binarize=0.0),
                          BernoulliMixture(2, binarize=0.0, random_state=0),
                          BernoulliMixture(2, method="vb", binarize=0.0, random_state=0)],
                         expected_failed_checks=_expected_failed)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)
