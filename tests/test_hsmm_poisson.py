"""PoissonHSMM: its recursions against brute force over every segmentation (scipy's Poisson
pmf), geometric durations against hmmlearn's PoissonHMM, one M-step against the literal
per-frame sums, recovery of known rates and durations, model files and errors."""

import numpy as np
import pytest
from hmmlearn import hmm as hmmlearn_hmm
from oracles.hsmm_brute import brute_force
from scipy.stats import poisson

import mixfit
from mixfit import PoissonHSMM

LAMBDAS = np.array([[1.0, 6.0], [7.0, 0.5], [3.0, 3.0]])


def _model(durations, duration="poisson", max_duration=30, lambdas=LAMBDAS):
    K = lambdas.shape[0]
    model = PoissonHSMM(K, duration=duration, max_duration=max_duration)
    model.startprob_ = np.full(K, 1 / K)
    model.transmat_ = (np.ones((K, K)) - np.eye(K)) / (K - 1)
    model.durations_ = np.asarray(durations, dtype=float)
    model.lambdas_, model.n_features_in_ = lambdas, lambdas.shape[1]
    return model


def _log_emit(X, lambdas):
    """ln p(x_t | k) (T, K) from scipy's Poisson pmf, feature by feature."""
    return np.stack([poisson.logpmf(X, lam).sum(axis=1) for lam in lambdas], axis=1)


def test_scores_and_decodes_as_brute_force_over_segmentations():
    rng = np.random.default_rng(0)
    K, D, T = 3, 4, 7
    model = _model(rng.dirichlet(np.ones(D), size=K), "nonparametric", D)
    A = rng.random((K, K))
    np.fill_diagonal(A, 0.0)
    model.transmat_, model.startprob_ = A / A.sum(axis=1, keepdims=True), rng.dirichlet(np.ones(K))
    X = rng.poisson(3.0, size=(T, 2))
    log_lik, gamma, _, _, (best, path) = brute_force(model.startprob_, model.transmat_, _log_emit(X, LAMBDAS),
                                                     model.duration_pmf_)
    ours, posteriors = model.score_samples(X)
    # sums over every segmentation (a few thousand terms) in another order: rounding only
    assert ours == pytest.approx(log_lik, rel=1e-12)
    np.testing.assert_allclose(posteriors, gamma, atol=1e-12)
    lp, states = model.decode(X)
    assert lp == pytest.approx(best, rel=1e-12)
    np.testing.assert_array_equal(states, path)


def test_geometric_durations_give_back_hmmlearns_poisson_hmm():
    # p_k(d) = (1 - a_kk) a_kk^(d-1), truncated at D = 400: the tail left out is 0.8^400 ~ 1e-39
    rng = np.random.default_rng(7)
    K, D, T = 3, 400, 80
    stay = np.array([0.6, 0.8, 0.7])
    move = rng.dirichlet(np.ones(K - 1), size=K)
    A = np.zeros((K, K))
    for k in range(K):
        A[k, np.arange(K) != k] = move[k]
    pi = rng.dirichlet(np.ones(K))
    reference = hmmlearn_hmm.PoissonHMM(K, init_params="", params="")
    reference.startprob_, reference.transmat_ = pi, A * (1 - stay)[:, None] + np.diag(stay)
    reference.lambdas_ = LAMBDAS
    X, _ = reference.sample(T, random_state=1)
    d = np.arange(1, D + 1)
    model = _model((1 - stay)[:, None] * stay[:, None] ** (d - 1), "nonparametric", D)
    model.durations_ /= model.durations_.sum(axis=1, keepdims=True)
    model.startprob_, model.transmat_ = pi, A
    log_lik, gamma = model.score_samples(X)
    ref_log_lik, ref_gamma = reference.score_samples(X)
    assert log_lik == pytest.approx(ref_log_lik, rel=1e-10)  # two recursions' rounding over 80 frames
    np.testing.assert_allclose(gamma, ref_gamma, atol=1e-9)
    lp, path = model.decode(X)
    ref_lp, ref_path = reference.decode(X, algorithm="viterbi")
    assert lp == pytest.approx(ref_lp, rel=1e-10)
    np.testing.assert_array_equal(path, ref_path)


@pytest.mark.parametrize(("prior", "weight"), [(0.0, 0.0), (2.0, 3.0)], ids=["ml", "gamma-prior"])
def test_one_m_step_is_the_literal_posterior_weighted_rate(prior, weight):
    truth = _model([3.0, 6.0, 9.0])
    X, _ = truth.sample(300, random_state=3)
    start = {"startprob_init": truth.startprob_, "transmat_init": truth.transmat_, "durations_init": truth.durations_,
             "lambdas_init": LAMBDAS, "max_duration": 30, "lambdas_prior": prior, "lambdas_weight": weight}
    one = PoissonHSMM(3, max_iter=1, **start).fit(X)
    gamma = truth.predict_proba(X)  # the start's posteriors
    expected = (prior + gamma.T @ X) / (weight + gamma.sum(axis=0))[:, None]  # Gamma(1 + a, b) posterior mode
    np.testing.assert_allclose(one.lambdas_, expected, rtol=1e-10)  # the same sums, another order


def test_em_is_monotone_and_recovers_rates_and_durations():
    truth = _model([4.0, 9.0, 14.0])
    X, _ = truth.sample(4000, random_state=2)
    fitted = PoissonHSMM(3, max_duration=30, lambdas_init=LAMBDAS * 1.3, random_state=0, tol=1e-7).fit(X)
    bounds = np.array(fitted.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-10 * np.abs(bounds[1:]))  # EM: rounding only
    # ~200 segments per state, each of 5-15 frames: rates within a few standard errors, mean
    # durations (5, 10, 15) within ~10%
    np.testing.assert_allclose(fitted.lambdas_, LAMBDAS, rtol=0.1, atol=0.1)
    np.testing.assert_allclose(fitted.duration_pmf_ @ np.arange(1, 31), [5.0, 10.0, 15.0], rtol=0.1)


def test_fits_samples_and_round_trips_a_model_file(tmp_path):
    truth = _model([3.0, 6.0, 9.0])
    X, _ = truth.sample(300, random_state=3)
    model = PoissonHSMM(3, duration="negative_binomial", max_duration=30, random_state=0, max_iter=5).fit(X, [150, 150])
    assert np.all(np.diag(model.transmat_) == 0)
    sample, _ = model.sample(40, random_state=1)
    assert sample.shape == (40, 2) and np.all(sample == np.round(sample)) and np.all(sample >= 0)
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X, [150, 150]), model.predict_proba(X, [150, 150]))
    assert model.bic(X, [150, 150]) > model.aic(X, [150, 150])  # ln 300 > 2


@pytest.mark.parametrize(("X", "kwargs", "match"), [
    (np.array([[1.0], [2.5], [0.0], [3.0]]), {}, r"X\[1, 0\] = 2.5"),
    (np.array([[1.0], [-1.0], [0.0], [3.0]]), {}, r"X\[1, 0\]"),
    (np.ones((4, 1)), {"lambdas_init": [[1.0], [-1.0]]}, "lambdas_init"),
    (np.ones((4, 1)), {"lambdas_prior": -1.0}, "lambdas_prior"),
    (np.ones((4, 1)), {"fixed": ("means",)}, "fixed"),
], ids=["fraction", "negative", "negative-rate", "negative-prior", "fixed-name"])
def test_bad_arguments_are_named(X, kwargs, match):
    model = PoissonHSMM(2, max_duration=3, **kwargs)
    with pytest.raises(ValueError, match=match):
        model.fit(X)
    assert "startprob_" not in vars(model)  # a failed fit leaves the estimator as it was
