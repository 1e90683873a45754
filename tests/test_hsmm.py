"""Explicit-duration HSMMs: the segment recursions against brute force over every segmentation,
geometric durations against hmmlearn's HMM, EM's monotone bound, recovery of known durations,
chunk invariance, weights, model files and errors."""

import numpy as np
import pytest
from hmmlearn import hmm as hmmlearn_hmm
from oracles.hsmm_brute import brute_force

import mixfit
from mixfit import CategoricalHSMM, GaussianHSMM
from mixfit.kernels.hsmm_inference import segment_forward_backward, segment_viterbi
from mixfit.models.hsmm import completed_durations


def _chain(rng, K):
    A = rng.random((K, K))
    np.fill_diagonal(A, 0.0)
    return rng.dirichlet(np.ones(K)), A / A.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("compiled", [False, True], ids=["interpreted", "numba"])
@pytest.mark.parametrize(("K", "D", "T"), [(2, 3, 6), (3, 4, 7), (3, 8, 5)], ids=["K2-D3", "K3-D4", "D-beyond-T"])
def test_segment_recursions_equal_brute_force(compiled, K, D, T):
    rng = np.random.default_rng(K * 10 + D)
    pi, A = _chain(rng, K)
    pmf = rng.dirichlet(np.ones(D), size=K)
    log_emit = 2.0 * rng.normal(size=(T, K))
    log_lik, gamma, counts, censored, (best, path) = brute_force(pi, A, log_emit, pmf)
    post = segment_forward_backward(pi, A, log_emit, pmf, [T], compiled=compiled)
    # float64 sums over at most K^T D^T terms in another order: rounding only
    np.testing.assert_allclose(post.log_likelihood, [log_lik], rtol=1e-12)
    np.testing.assert_allclose(post.gamma, gamma, atol=1e-12)
    np.testing.assert_allclose(post.counts, counts, atol=1e-12)
    np.testing.assert_allclose(post.censored, censored, atol=1e-12)
    lp, states = segment_viterbi(pi, A, log_emit, pmf, [T], compiled=compiled)
    np.testing.assert_allclose(lp, [best], rtol=1e-12)
    np.testing.assert_array_equal(states, path)


def test_batches_of_sequences_are_each_sequence_alone():
    rng = np.random.default_rng(3)
    pi, A = _chain(rng, 3)
    pmf = rng.dirichlet(np.ones(5), size=3)
    log_emit = rng.normal(size=(17, 3))
    whole = segment_forward_backward(pi, A, log_emit, pmf, [6, 1, 10], weights=[1.0, 2.0, 0.5])
    parts = [segment_forward_backward(pi, A, log_emit[a:b], pmf, [b - a], weights=[w])
             for a, b, w in [(0, 6, 1.0), (6, 7, 2.0), (7, 17, 0.5)]]
    np.testing.assert_allclose(whole.log_likelihood, np.concatenate([p.log_likelihood for p in parts]), rtol=1e-13)
    np.testing.assert_allclose(whole.gamma, np.concatenate([p.gamma for p in parts]), atol=1e-13)
    for name in ("transitions", "counts", "censored", "first_state"):  # weighted sums of the same terms
        np.testing.assert_allclose(getattr(whole, name), sum(getattr(p, name) for p in parts), atol=1e-13)


def test_censored_segments_complete_to_the_pmf_tail():
    pmf = np.array([[0.1, 0.2, 0.3, 0.4]])
    censored = np.array([[0.0, 1.0, 0.0, 0.0]])  # one segment seen for 2 frames: its duration is 2, 3 or 4
    done = completed_durations(np.zeros_like(pmf), censored, pmf)
    np.testing.assert_allclose(done, [[0.0, 0.2 / 0.9, 0.3 / 0.9, 0.4 / 0.9]], rtol=1e-15)


def test_geometric_durations_give_back_hmmlearns_hmm():
    # An HMM with self-transitions p_kk is an HSMM with p_k(d) = (1 - p_kk) p_kk^(d-1) and the
    # off-diagonal moves scaled by 1 / (1 - p_kk); truncated at D = 400, the geometric tail left out
    # is 0.8^400 ~ 1e-39, far below rounding.
    rng = np.random.default_rng(7)
    K, D, T = 3, 400, 80
    stay = np.array([0.6, 0.8, 0.7])
    move = rng.dirichlet(np.ones(K - 1), size=K)
    A = np.zeros((K, K))
    for k in range(K):
        A[k, np.arange(K) != k] = move[k]
    hmm_A = A * (1 - stay)[:, None] + np.diag(stay)
    pi = rng.dirichlet(np.ones(K))
    means, variances = np.array([[0.0], [2.0], [4.0]]), np.array([[1.0], [0.5], [2.0]])
    reference = hmmlearn_hmm.GaussianHMM(K, covariance_type="diag", init_params="", params="")
    reference.startprob_, reference.transmat_, reference.means_, reference.covars_ = pi, hmm_A, means, variances
    X, _ = reference.sample(T, random_state=1)
    d = np.arange(1, D + 1)
    model = GaussianHSMM(K, duration="nonparametric", max_duration=D)
    model.startprob_, model.transmat_ = pi, A
    model.durations_ = (1 - stay)[:, None] * stay[:, None] ** (d - 1)
    model.durations_ /= model.durations_.sum(axis=1, keepdims=True)
    model.means_, model.precisions_cholesky_, model.n_features_in_ = means, 1 / np.sqrt(variances), 1
    log_lik, gamma = model.score_samples(X)
    ref_log_lik, ref_gamma = reference.score_samples(X)
    assert log_lik == pytest.approx(ref_log_lik, rel=1e-10)  # two recursions' rounding over 80 frames
    np.testing.assert_allclose(gamma, ref_gamma, atol=1e-9)
    lp, path = model.decode(X)
    ref_lp, ref_path = reference.decode(X, algorithm="viterbi")
    assert lp == pytest.approx(ref_lp, rel=1e-10)
    np.testing.assert_array_equal(path, ref_path)


def _true_model(duration, durations, max_duration=40):
    model = GaussianHSMM(3, duration=duration, max_duration=max_duration)
    model.startprob_ = np.full(3, 1 / 3)
    model.transmat_ = (np.ones((3, 3)) - np.eye(3)) / 2
    model.durations_ = np.asarray(durations, dtype=float)
    model.means_, model.precisions_cholesky_ = np.array([[0.0], [4.0], [8.0]]), np.ones((3, 1))
    model.n_features_in_ = 1
    return model


@pytest.mark.parametrize(("duration", "durations", "mean_durations"), [
    ("poisson", [3.0, 8.0, 14.0], [4.0, 9.0, 15.0]),
    ("negative_binomial", [[4.0, 0.5], [6.0, 0.4], [9.0, 0.4]], [5.0, 10.0, 14.5]),
    ("nonparametric", None, None)], ids=["poisson", "negative-binomial", "nonparametric"])
def test_em_is_monotone_and_recovers_known_durations(duration, durations, mean_durations):
    if duration == "nonparametric":
        table = np.zeros((3, 40))
        table[0, [2, 5]], table[1, [7, 9]], table[2, [14, 19]] = 0.5, 0.5, 0.5  # bimodal: no family fits
        durations, mean_durations = table, table @ np.arange(1, 41)
    truth = _true_model(duration, durations)
    X, _ = truth.sample(12000, random_state=2)
    fitted = GaussianHSMM(3, duration=duration, max_duration=40, means_init=truth.means_, random_state=0,
                          tol=1e-7).fit(X)
    bounds = np.array(fitted.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-10 * np.abs(bounds[1:]))  # EM (GEM for NB): rounding only
    recovered = fitted.duration_pmf_ @ np.arange(1, 41)
    # ~1000 segments per state: the mean duration's standard error is below 2% of it
    np.testing.assert_allclose(recovered, mean_durations, rtol=0.06)
    if duration == "nonparametric":
        np.testing.assert_allclose(fitted.duration_pmf_, durations, atol=0.05)  # ~400 segments a mode


def test_the_fit_does_not_depend_on_the_chunk_size():
    truth = _true_model("poisson", [3.0, 6.0, 9.0], 25)
    X = np.concatenate([truth.sample(n, random_state=n)[0] for n in (200, 150, 300, 90)])
    lengths = [200, 150, 300, 90]
    fits = [GaussianHSMM(3, max_duration=25, random_state=0, max_iter=15, chunk_size=size).fit(X, lengths)
            for size in (100, 10**6)]
    for name in ("startprob_", "transmat_", "durations_", "means_", "precisions_cholesky_"):
        # the same terms summed by chunk in another order: rounding only
        np.testing.assert_allclose(getattr(fits[0], name), getattr(fits[1], name), rtol=1e-9, atol=1e-12)


def test_integer_sequence_weights_equal_repeated_sequences():
    truth = _true_model("poisson", [3.0, 4.0, 5.0], 20)
    A, B = truth.sample(120, random_state=1)[0], truth.sample(90, random_state=2)[0]
    start = {"means_init": truth.means_, "precisions_init": np.ones((3, 1)), "max_iter": 5, "max_duration": 20}
    weighted = GaussianHSMM(3, **start).fit(np.concatenate([A, B]), [120, 90], sample_weight=[2, 1])
    repeated = GaussianHSMM(3, **start).fit(np.concatenate([A, A, B]), [120, 120, 90])
    # the same sums with a weight 2 in place of two terms: rounding, through 5 iterations
    np.testing.assert_allclose(weighted.durations_, repeated.durations_, rtol=1e-9)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-9)


def test_categorical_hsmm_fits_samples_decodes_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.choice(3, size=(8, 1), p=p) for p in [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]] * 15])
    model = CategoricalHSMM(2, duration="nonparametric", max_duration=15, random_state=0).fit(X, [120, 120])
    assert model.transmat_[0, 0] == model.transmat_[1, 1] == 0.0
    lp, path = model.decode(X, [120, 120])
    assert np.isfinite(lp) and path.shape == (240,)
    sample, states = model.sample(50, random_state=1)
    assert sample.shape == (50, 1) and set(np.unique(states)) <= {0, 1}
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert loaded.score(X, [120, 120]) == model.score(X, [120, 120])  # the same arrays, the same code
    assert model.bic(X, [120, 120]) > model.aic(X, [120, 120])  # ln 240 > 2


def test_gaussian_hsmm_round_trips_a_model_file(tmp_path):
    truth = _true_model("poisson", [3.0, 6.0, 9.0], 25)
    X, _ = truth.sample(300, random_state=3)
    model = GaussianHSMM(3, duration="negative_binomial", max_duration=25, random_state=0, max_iter=5).fit(X)
    model.save(tmp_path / "m.mixfit")
    loaded = mixfit.load(tmp_path / "m.mixfit")
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_components": 1}, "n_components"),
    ({"duration": "geometric"}, "duration"),
    ({"max_duration": 0}, "max_duration"),
    ({"transmat_init": np.full((2, 2), 0.5)}, "transmat_init has a non-zero diagonal"),
    ({"durations_init": [1.0]}, "durations_init has shape"),
    ({"fixed": ("lambdas",)}, "fixed"),
], ids=["one-state", "family", "max-duration", "diagonal", "durations-shape", "fixed-name"])
def test_bad_arguments_are_named(kwargs, match):
    X = np.random.default_rng(0).normal(size=(40, 1))
    model = GaussianHSMM(**{"n_components": 2, **kwargs})
    with pytest.raises(ValueError, match=match):
        model.fit(X)
    assert "startprob_" not in vars(model)  # a failed fit leaves the estimator as it was
