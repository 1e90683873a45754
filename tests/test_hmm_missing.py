"""GaussianHMM with NaN entries in its frames, missing at random (issues 18 and 21): the emission
density of a frame is its marginal over the observed coordinates (1 for a frame that observes
nothing), against scipy frame by frame, a literal forward pass, every path enumerated and the
conditional moments with explicit inverses; Baum-Welch's monotone observed-data likelihood;
decoding, scoring, weights, out-of-core frames and refusals."""

import itertools
import warnings

import numpy as np
import pytest
from oracles.hmm import brute_force
from oracles.hmm_missing import expected_moments, forward_log_likelihood, observed_log_emission
from oracles.hsmm_brute import brute_force as hsmm_brute_force

from mixfit import GMMHMM, GaussianHMM, GaussianHSMM
from mixfit.backends.sequences import SequenceSource
from mixfit.families.registry import make_covariance
from mixfit.models import missing
from mixfit.models.gaussian_em import GaussianEM
from mixfit.models.hmm_emissions import GaussianEmission
from mixfit.models.hmm_missing import observed_statistics

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
D = 3


def _frames(n=150, seed=0):
    """Three regimes of 50 frames (a two-state chain that returns), D = 3."""
    rng = np.random.default_rng(seed)
    X = np.repeat([[0.0, 0.0, 0.0], [4.0, -2.0, 1.0], [0.0, 0.0, 0.0]], n // 3, axis=0)
    return X + rng.normal(size=(n, D)) @ np.array([[1.0, 0.3, 0.0], [0.0, 0.8, 0.2], [0.0, 0.0, 0.6]])


def _holes(X, rate=0.3, seed=1, empty=(7, 60)):
    """MCAR entries at ``rate``, and the frames ``empty`` missing every entry."""
    rng = np.random.default_rng(seed)
    Y = np.where(rng.random(X.shape) < rate, np.nan, X)
    Y[list(empty)] = np.nan
    return Y


@pytest.fixture(scope="module")
def fitted():
    X = _frames()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return X, {ct: GaussianHMM(3, covariance_type=ct, random_state=0, max_iter=20).fit(X)
                   for ct in COVARIANCE_TYPES}


@pytest.fixture(params=["compiled", "numpy"])
def row_kernel(request, monkeypatch):
    """Each oracle test runs on both E-steps of models/missing.py (numba's loop over rows, and
    numpy's pattern groups)."""
    if request.param == "compiled":
        pytest.importorskip("numba")
    monkeypatch.setattr(missing, "COMPILED", request.param == "compiled")
    return request.param


def _dense(hmm):
    return np.asarray(hmm.covars_, dtype=np.float64)  # (K, D, D), every type


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_matches_a_literal_forward_pass_over_observed_marginals(fitted, covariance_type, row_kernel):
    X, models = fitted
    hmm = models[covariance_type]
    Y = _holes(X)
    lengths = [40, 70, 40]
    log_emit = observed_log_emission(Y, hmm.means_, _dense(hmm))  # scipy, frame by frame
    cuts = np.cumsum([0, *lengths])
    expected = [forward_log_likelihood(hmm.startprob_, hmm.transmat_, log_emit[a:b]) for a, b in itertools.pairwise(cuts)]
    # sums of 150 log densities of size ~3 along one recursion: rounding only
    assert hmm.score(Y, lengths) == pytest.approx(sum(expected), rel=1e-10)
    # the model's E-step with sequence weights: sum_b w_b ln p(X_b)
    w = np.array([0.5, 2.0, 1.5])
    model, params = hmm._model(), hmm._params()
    batch, weights = next(SequenceSource(Y, np.array(lengths), w, 10_000).chunks())
    stats = model.accumulate(batch, params, weights)
    assert stats.log_likelihood == pytest.approx(np.dot(w, expected), rel=1e-10)
    assert stats.weight_sum == pytest.approx(np.dot(w, lengths), rel=1e-14)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_posteriors_and_viterbi_match_every_path_enumerated(fitted, covariance_type, row_kernel):
    X, models = fitted
    hmm = models[covariance_type]
    Y = _holes(X[45:52], rate=0.4, seed=3, empty=(2,))  # 7 frames across a change: 3^7 paths
    log_emit = observed_log_emission(Y, hmm.means_, _dense(hmm))
    log_lik, posteriors, _, best, best_joint = brute_force(hmm.startprob_, hmm.transmat_, log_emit)
    score, gamma = hmm.score_samples(Y)
    assert score == pytest.approx(log_lik, rel=1e-10)  # 3^7 paths summed in one logsumexp: rounding
    np.testing.assert_allclose(gamma, posteriors, atol=1e-10)
    log_prob, path = hmm.decode(Y)
    np.testing.assert_array_equal(path, best)
    assert log_prob == pytest.approx(best_joint, rel=1e-10)
    np.testing.assert_array_equal(hmm.predict(Y), best)
    np.testing.assert_allclose(hmm.predict_proba(Y), posteriors, atol=1e-10)


def test_a_frame_that_observes_nothing_is_carried_by_the_transitions_alone(fitted):
    """Closed forms: an empty last frame leaves ln p(X) as it is (rows of A sum to 1) and its
    posterior is gamma_{T-1} A; an empty frame between two others is a two-step transition A^2."""
    X, models = fitted
    hmm = models["full"]
    x = X[48:52]
    tail = np.vstack([x, np.full((1, D), np.nan)])
    assert hmm.score(tail) == pytest.approx(hmm.score(x), rel=1e-12)
    np.testing.assert_allclose(hmm.predict_proba(tail)[-1], hmm.predict_proba(x)[-1] @ hmm.transmat_, atol=1e-12)
    gap = np.vstack([x[:1], np.full((1, D), np.nan), x[1:2]])  # [x0, -, x1]
    two_steps = GaussianHMM(3, covariance_type="full")
    two_steps.startprob_, two_steps.transmat_ = hmm.startprob_, hmm.transmat_ @ hmm.transmat_
    two_steps.means_, two_steps.covars_ = hmm.means_, hmm.covars_
    # ln p(x0, -, x1) under A = ln p(x0, x1) under A^2 (the sum over the gap's state)
    assert hmm.score(gap) == pytest.approx(two_steps.score(x[:2]), rel=1e-12)
    assert hmm.score(gap) != pytest.approx(hmm.score(x[:2]), rel=1e-6)  # the gap does matter here


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_emission_statistics_are_the_expected_complete_data_moments(fitted, covariance_type, row_kernel):
    """first_k and the scatter about mu_k equal sum_t w_t gamma_tk E[x - mu_k | x_o, k] and
    sum_t w_t gamma_tk E[(x - mu_k)(x - mu_k)^T | x_o, k], folded into the family's form."""
    X, models = fitted
    hmm = models[covariance_type]
    Y = _holes(X[:40], rate=0.4, seed=5, empty=(3, 17))
    rng = np.random.default_rng(6)
    gamma = rng.dirichlet(np.ones(3), size=Y.shape[0])
    w = rng.uniform(0.5, 2.0, Y.shape[0])
    covariance = make_covariance(covariance_type)
    emission = GaussianEmission(GaussianEM(covariance, 1e-6))
    stats = emission.statistics(Y, gamma, w, hmm._emission_params())
    first, scatter = expected_moments(Y, gamma, w, hmm.means_, _dense(hmm))
    # explicit inverses of 3 x 3 blocks and 40-term sums: rounding only
    np.testing.assert_allclose(stats.shift, hmm.means_, rtol=0, atol=0)
    np.testing.assert_allclose(stats.mass, (gamma * w[:, None]).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.first, first, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(stats.scatter, covariance.fold_scatter(scatter), rtol=1e-10, atol=1e-10)
    assert stats.weight_sum == pytest.approx(w.sum(), rel=1e-14)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_complete_frames_in_a_block_with_holes_take_todays_path(fitted, covariance_type):
    """No NaN = today: the complete frames of a block that has holes get the complete-data density
    and statistics (the same numbers to 1e-12), and the statistics add over the two kinds."""
    X, models = fitted
    hmm = models[covariance_type]
    Y = _holes(X[:60], rate=0.1, seed=7, empty=(5,))
    complete = ~np.isnan(Y).any(axis=1)
    emission, params = hmm._emission_model(), hmm._emission_params()
    gamma = np.random.default_rng(8).dirichlet(np.ones(3), size=Y.shape[0])
    np.testing.assert_allclose(emission.log_density(Y, params)[complete], emission.log_density(Y[complete], params),
                               rtol=1e-12)
    whole = emission.statistics(Y, gamma, None, params)
    parts = (emission.statistics(Y[complete], gamma[complete], None, params)
             + emission.statistics(Y[~complete], gamma[~complete], None, params))
    for field in ("mass", "first", "scatter"):  # float64 sums in two orders: rounding only
        np.testing.assert_allclose(getattr(whole, field), getattr(parts, field), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_baum_welch_never_decreases_the_observed_data_likelihood(covariance_type):
    Y = _holes(_frames(), rate=0.3, seed=9)
    hmm = GaussianHMM(2, covariance_type=covariance_type, random_state=0, max_iter=30, tol=0).fit(Y, [75, 75])
    bounds = np.asarray(hmm.lower_bounds_)
    assert len(bounds) == 30
    assert np.all(np.diff(bounds) >= -1e-12)  # EM: monotone up to the rounding of a per-frame mean
    # lower_bound_ is the observed-data log-likelihood per frame of the last E-step's params: at the
    # fitted params (one M-step later) the likelihood is at least that
    assert hmm.score(Y, [75, 75]) / 150 >= bounds[-1] - 1e-12


def test_missing_frames_recover_the_means_of_a_known_chain():
    """1500 frames from a known HMM, 30 % of entries removed: the means come back within a few
    standard errors (sigma / sqrt(visits) ~ 0.04 here)."""
    truth = GaussianHMM(2, covariance_type="diag")
    truth.startprob_ = np.array([0.5, 0.5])
    truth.transmat_ = np.array([[0.95, 0.05], [0.05, 0.95]])
    truth.means_ = np.array([[0.0, 0.0, 0.0], [3.0, -2.0, 1.0]])
    truth.covars_ = np.ones((2, D))
    X, _ = truth.sample(1500, random_state=0)
    Y = _holes(X, rate=0.3, seed=10, empty=(100, 101, 102))
    hmm = GaussianHMM(2, covariance_type="diag", random_state=0, means_init=truth.means_ + 0.5).fit(Y)
    np.testing.assert_allclose(hmm.means_, truth.means_, atol=0.2)  # ~5 standard errors
    np.testing.assert_allclose(hmm.transmat_, truth.transmat_, atol=0.03)


def test_memmap_frames_with_holes_fit_as_in_memory(tmp_path):
    Y = _holes(_frames(), rate=0.2, seed=11)
    path = tmp_path / "frames.npy"
    np.save(path, Y)
    lazy = np.load(path, mmap_mode="r")
    kwargs = {"n_components": 2, "covariance_type": "full", "random_state": 0, "max_iter": 10, "chunk_size": 40}
    a = GaussianHMM(**kwargs).fit(Y, [50, 50, 50])
    b = GaussianHMM(**kwargs).fit(lazy, [50, 50, 50])
    # the same chunks of whole sequences in the same order: the same numbers to rounding
    assert b.lower_bound_ == pytest.approx(a.lower_bound_, rel=1e-12)
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-10)


def test_starts_read_missing_entries_as_column_means():
    """The k-means start sees no NaN: its means are finite, and the same as the start's on the
    frames with each hole filled by its column's mean."""
    Y = _holes(_frames(), rate=0.3, seed=12)
    filled = np.where(np.isnan(Y), np.nanmean(Y, axis=0), Y)
    a = GaussianHMM(2, random_state=0, max_iter=0).fit(Y)
    b = GaussianHMM(2, random_state=0, max_iter=0).fit(filled)
    assert np.all(np.isfinite(a.means_))
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-12)  # max_iter=0: the start itself


def test_infinity_is_refused_and_nan_is_declared():
    Y = _holes(_frames(), rate=0.1, seed=13)
    Y[20, 1] = np.inf
    with pytest.raises(ValueError, match="X contains infinity"):
        GaussianHMM(2).fit(Y)
    assert GaussianHMM().__sklearn_tags__().input_tags.allow_nan
    hmm = GaussianHMM(2, random_state=0, max_iter=5).fit(_frames())
    with pytest.raises(ValueError, match="infinity"):
        hmm.predict(Y)


# ---- GMMHMM: a Gaussian mixture per state ---------------------------------------------------


def _pair_covariances(hmm):
    """(K M, D, D) from hmmlearn's covars_ shapes: full (K, M, D, D), diag (K, M, D), spherical
    (K, M), tied (K, D, D) (one per state)."""
    K, M, _ = hmm.means_.shape
    c = np.asarray(hmm.covars_)
    shaped = {"full": lambda: c.reshape(K * M, D, D),
              "diag": lambda: np.array([np.diag(v) for v in c.reshape(K * M, D)]),
              "spherical": lambda: c.reshape(K * M)[:, None, None] * np.eye(D),
              "tied": lambda: np.repeat(c, M, axis=0)}
    return shaped[hmm.covariance_type]()


def _gmm_log_emission(Y, hmm):
    """(T, K) ln sum_m c_km N(x_t,o | mu_km,o, Sigma_km,oo) by scipy, pair by pair."""
    K, M, _ = hmm.means_.shape
    covars = _pair_covariances(hmm)
    pairs = observed_log_emission(Y, hmm.means_.reshape(K * M, D), covars).reshape(-1, K, M)  # (T, K, M)
    with np.errstate(divide="ignore"):
        return np.logaddexp.reduce(pairs + np.log(hmm.weights_)[None], axis=2)


@pytest.fixture(scope="module")
def fitted_gmm():
    X = _frames()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return X, {ct: GMMHMM(2, n_mix=2, covariance_type=ct, random_state=0, max_iter=10).fit(X)
                   for ct in ["full", "diag", "spherical", "tied"]}


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_gmmhmm_matches_a_forward_pass_and_every_path_over_observed_marginals(fitted_gmm, covariance_type):
    X, models = fitted_gmm
    hmm = models[covariance_type]
    Y = _holes(X, rate=0.3, seed=14)
    log_emit = _gmm_log_emission(Y, hmm)
    # a literal forward pass over 150 frames: rounding only
    assert hmm.score(Y) == pytest.approx(forward_log_likelihood(hmm.startprob_, hmm.transmat_, log_emit), rel=1e-10)
    tiny = np.vstack([Y[45:48], np.full((1, D), np.nan), Y[48:53]])  # 9 frames, one empty: 2^9 paths
    log_lik, posteriors, _, best, _ = brute_force(hmm.startprob_, hmm.transmat_, _gmm_log_emission(tiny, hmm))
    score, gamma = hmm.score_samples(tiny)
    assert score == pytest.approx(log_lik, rel=1e-10)
    np.testing.assert_allclose(gamma, posteriors, atol=1e-10)
    np.testing.assert_array_equal(hmm.decode(tiny)[1], best)


def test_gmmhmm_statistics_are_the_pairs_expected_moments(fitted_gmm):
    X, models = fitted_gmm
    hmm = models["full"]
    Y = _holes(X[:40], rate=0.4, seed=15, empty=(4,))
    K, M = 2, 2
    joint = np.random.default_rng(16).dirichlet(np.ones(K * M), size=Y.shape[0])  # gamma_tkm, any values
    emission, params = hmm._emission_model(), hmm._emission_params()
    flat = emission.flat(params)
    w = np.ones(Y.shape[0])
    first, scatter = expected_moments(Y, joint, w, flat.means, _pair_covariances(hmm))
    stats = observed_statistics(emission.covariance, Y, joint, None, flat)
    np.testing.assert_allclose(stats.first, first, rtol=1e-10, atol=1e-10)  # explicit inverses: rounding
    np.testing.assert_allclose(stats.scatter, scatter, rtol=1e-10, atol=1e-10)
    # and the state's within-mixture responsibilities at an empty frame are its weights c_km
    within = np.exp(emission._log_pairs(Y[4:5], params) - emission.log_density(Y[4:5], params).reshape(-1, 1))
    np.testing.assert_allclose(within, hmm.weights_, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied"])
def test_gmmhmm_baum_welch_never_decreases_the_observed_data_likelihood(covariance_type):
    Y = _holes(_frames(), rate=0.3, seed=17)
    hmm = GMMHMM(2, n_mix=2, covariance_type=covariance_type, random_state=0, max_iter=20, tol=0).fit(Y)
    assert np.all(np.diff(hmm.lower_bounds_) >= -1e-12)  # EM: rounding only
    assert GMMHMM().__sklearn_tags__().input_tags.allow_nan


# ---- GaussianHSMM: explicit durations ---------------------------------------------------------


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_hsmm_matches_every_segmentation_over_observed_marginals(covariance_type):
    Y = _holes(_frames(), rate=0.3, seed=18)
    hsmm = GaussianHSMM(2, duration="poisson", max_duration=6, covariance_type=covariance_type, random_state=0,
                        max_iter=15, tol=0).fit(Y, [75, 75])
    assert np.all(np.diff(hsmm.lower_bounds_) >= -1e-12)  # EM on the observed-data likelihood: rounding only
    tiny = np.vstack([Y[47:50], np.full((1, D), np.nan), Y[50:53]])  # 7 frames, one empty
    cov = hsmm.covariances_  # full (K, D, D) or diag (K, D)
    log_emit = observed_log_emission(tiny, hsmm.means_, cov if cov.ndim == 3 else np.array([np.diag(c) for c in cov]))
    log_lik, gamma, _, _, (_, path) = hsmm_brute_force(hsmm.startprob_, hsmm.transmat_, log_emit, hsmm.duration_pmf_)
    score, posteriors = hsmm.score_samples(tiny)
    assert score == pytest.approx(log_lik, rel=1e-10)  # every segmentation summed literally: rounding only
    np.testing.assert_allclose(posteriors, gamma, atol=1e-10)
    np.testing.assert_array_equal(hsmm.decode(tiny)[1], path)
    assert GaussianHSMM().__sklearn_tags__().input_tags.allow_nan
