"""Variational Bayes HMMs: the E-step, M-step and ELBO against every state path enumerated,
a monotone bound, hmmlearn's VariationalGaussianHMM / VariationalCategoricalHMM from the same
q(theta), recovery of known parameters, weights = repeats, chunk invariance, the vanishing-prior
limit (EM), forbidden transitions, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from oracles import gaussian_vb as mixture_oracle
from oracles import hmm_vb as oracle

from mixfit import CategoricalHMM, GaussianHMM, VariationalCategoricalHMM, VariationalGaussianHMM, engine
from mixfit.backends.sequences import SequenceSource
from mixfit.exceptions import ConvergenceWarning
from mixfit.families.precision_priors import NormalPrecisionPrior
from mixfit.families.registry import make_covariance, make_precision_prior
from mixfit.kernels.hmm_inference import SequenceBatch
from mixfit.models.gaussian_vb import GaussianVB
from mixfit.models.hmm_vb import (
    CategoricalVBEmission,
    DirichletRows,
    GaussianVBEmission,
    VariationalHMM,
    VariationalHMMParams,
)

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
MEANS = np.array([[0.0, 0.0], [5.0, 1.0], [-4.0, 6.0]])
TRANSMAT = np.array([[0.85, 0.1, 0.05], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7]])
STARTPROB = np.array([0.5, 0.3, 0.2])
EMISSIONPROB = np.array([[0.7, 0.2, 0.1, 0.0], [0.05, 0.15, 0.4, 0.4], [0.25, 0.25, 0.25, 0.25]])


def generate_states(rng, lengths, transmat=TRANSMAT, startprob=STARTPROB):
    states = []
    for length in lengths:
        z = [rng.choice(len(startprob), p=startprob)]
        for _ in range(length - 1):
            z.append(rng.choice(len(startprob), p=transmat[z[-1]]))
        states.extend(z)
    return np.array(states)


def gaussian_frames(rng, states, means=MEANS, scale=1.0):
    return means[states] + scale * rng.normal(size=(states.size, means.shape[1]))


def symbol_frames(rng, states, emissionprob=EMISSIONPROB):
    return np.array([rng.choice(emissionprob.shape[1], p=emissionprob[s]) for s in states])[:, None]


def prior_scale(cov_type, D):
    return {"full": np.eye(D) * 1.3 + 0.2, "tied": np.eye(D) * 1.3 + 0.2, "diag": np.linspace(0.8, 1.6, D),
            "spherical": np.asarray(1.3)}[cov_type]


def gaussian_model(cov_type, D, start_prior, trans_prior, *, beta0=0.7, nu0=None, m0=None):
    covariance = make_covariance(cov_type)
    m0 = np.linspace(-0.5, 0.5, D) if m0 is None else m0
    nu0 = D + 0.5 if nu0 is None else nu0
    prior = NormalPrecisionPrior(beta0, m0, nu0, np.asarray(prior_scale(cov_type, D), dtype=float))
    mixture = GaussianVB(covariance, None, make_precision_prior(covariance), prior, 0.0)
    model = VariationalHMM(DirichletRows(start_prior), DirichletRows(trans_prior), GaussianVBEmission(mixture))
    return model, {"beta0": beta0, "m0": m0, "nu0": nu0, "psi0": prior.scale}


def oracle_state(model, q):
    """q(mu, Lambda) in the oracle's parametrisation (psi = W^{-1} = covariance * nu)."""
    cov = model.emission.covariance.covariance(q.prec_chol)
    dof = np.asarray(q.dof)
    psi = cov * (dof if dof.ndim == 0 else dof.reshape((-1,) + (1,) * (cov.ndim - 1)))
    return {"beta": q.mean_precision, "m": q.means, "nu": dof if dof.ndim else float(dof), "psi": psi}


def as_batch(X, lengths):
    return SequenceBatch(X, np.asarray(lengths))


# ---- (a) brute force: every path enumerated -------------------------------------------------

# A tiny problem: K = 3 states, two sequences of 4 and 3 frames with weights, one forbidden
# transition (0 -> 2) and one forbidden start (state 1); 3^4 + 3^3 paths.
TINY_LENGTHS = [4, 3]
TINY_WEIGHTS = np.array([1.3, 0.6])
START_PRIOR = np.array([0.8, 0.0, 1.7])
TRANS_PRIOR = np.array([[0.9, 1.4, 0.0], [0.5, 1.1, 2.0], [1.2, 0.7, 0.4]])


def random_chain_posterior(rng):
    support_s, support_t = START_PRIOR > 0, TRANS_PRIOR > 0
    return (np.where(support_s, rng.uniform(0.5, 4.0, 3), 0.0),
            np.where(support_t, rng.uniform(0.5, 4.0, (3, 3)), 0.0))


def check_against_oracle(model, q, X, start, trans):
    """Our E-step statistics and ELBO against the enumeration's."""
    stats = model.accumulate(as_batch(X, TINY_LENGTHS), q, TINY_WEIGHTS)
    params = (oracle.dirichlet_terms(q.startprob, model.initial.prior)
              + oracle.dirichlet_terms(q.transmat, model.transition.prior))
    # Sums over at most 81 paths against a scaled recursion: rounding only, 1e-10 relative.
    assert_allclose(stats.start, start, rtol=1e-10, atol=1e-14)
    assert_allclose(stats.transitions, trans, rtol=1e-10, atol=1e-14)
    assert stats.transitions[0, 2] == 0 and stats.start[1] == 0  # forbidden: never counted
    return stats, params


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_gaussian_e_step_and_elbo_match_every_path_enumerated(cov_type, rng):
    D = 2
    X = rng.normal(size=(sum(TINY_LENGTHS), D)) * 2
    model, prior = gaussian_model(cov_type, D, START_PRIOR, TRANS_PRIOR)
    # a nontrivial q(mu, Lambda): the VB update of random state posteriors
    emission = model.emission.posterior(model.emission.mixture.statistics(
        X, rng.dirichlet(np.ones(3), size=X.shape[0]), None, X.mean(axis=0)[None].repeat(3, axis=0)))
    q = VariationalHMMParams(*random_chain_posterior(rng), emission)
    state = oracle_state(model, emission)
    sequences = np.split(X, np.cumsum(TINY_LENGTHS)[:-1])
    data, start, trans, gammas = oracle.brute_force(
        sequences, TINY_WEIGHTS, q.startprob, q.transmat,
        lambda Xb: oracle.gaussian_expected_log_emission(Xb, state, cov_type))
    stats, params = check_against_oracle(model, q, X, start, trans)
    elbo = data + params + oracle.normal_precision_terms(state, prior, cov_type, D)
    # The ELBO: ln Z~ and closed-form KLs against the enumerated sum of its terms, 1e-10.
    assert_allclose(model.objective(stats, q), elbo, rtol=1e-10)
    # The emission M-step is the mixture's with gamma for r (the literal mixture oracle).
    frame_weight = np.repeat(TINY_WEIGHTS, TINY_LENGTHS)
    mixture_prior = {**prior, "alpha0": 1.0}
    expected = mixture_oracle.m_step(X, frame_weight, np.concatenate(gammas), mixture_prior, cov_type,
                                     "dirichlet_distribution", 0.0)
    ours = oracle_state(model, model.maximize(stats, q).emission)
    for key in ("beta", "m", "nu", "psi"):
        assert_allclose(ours[key], expected[key], rtol=1e-10, err_msg=key)


def test_categorical_e_step_and_elbo_match_every_path_enumerated(rng):
    M = 4
    X = rng.integers(0, M, size=(sum(TINY_LENGTHS), 1))
    emission_prior = np.array([[0.5, 0.5, 0.0, 1.0], [0.3, 0.9, 1.1, 0.2], [1.0, 1.0, 1.0, 1.0]])
    X[X[:, 0] == 2] = 1  # symbol 2 is forbidden in state 0; keep every sequence possible anyway
    model = VariationalHMM(DirichletRows(START_PRIOR), DirichletRows(TRANS_PRIOR), CategoricalVBEmission(emission_prior))
    alpha_b = np.where(emission_prior > 0, rng.uniform(0.5, 4.0, (3, M)), 0.0)
    q = VariationalHMMParams(*random_chain_posterior(rng), alpha_b)
    sequences = np.split(X, np.cumsum(TINY_LENGTHS)[:-1])
    data, start, trans, gammas = oracle.brute_force(
        sequences, TINY_WEIGHTS, q.startprob, q.transmat,
        lambda Xb: oracle.categorical_expected_log_emission(Xb, alpha_b))
    stats, params = check_against_oracle(model, q, X, start, trans)
    elbo = data + params + oracle.dirichlet_terms(alpha_b, emission_prior)
    assert_allclose(model.objective(stats, q), elbo, rtol=1e-10)
    counts = sum(w * g.T @ np.eye(M)[Xb[:, 0]] for w, g, Xb in zip(TINY_WEIGHTS, gammas, sequences))
    assert_allclose(model.maximize(stats, q).emission, np.where(emission_prior > 0, emission_prior + counts, 0),
                    rtol=1e-10)


# ---- (b) the bound never decreases ----------------------------------------------------------

@pytest.fixture
def gaussian_data(rng):
    lengths = rng.integers(20, 50, size=8)
    states = generate_states(rng, lengths)
    return gaussian_frames(rng, states, scale=1.5), lengths, states


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_elbo_never_decreases(cov_type, gaussian_data):
    X, lengths, _ = gaussian_data
    transmat = np.full((3, 3), 1 / 3)
    transmat[0] = [0.5, 0.5, 0.0]  # a forbidden transition throughout
    hmm = VariationalGaussianHMM(3, covariance_type=cov_type, reg_covar=0, tol=0, max_iter=40, random_state=0,
                                 transmat_init=transmat, init_params="random_from_data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bounds = np.array(hmm.fit(X, lengths).lower_bounds_)
    # coordinate ascent on the exact ELBO: rounding only
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0]
    assert hmm.transmat_posterior_[0, 2] == 0 and hmm.transmat_[0, 2] == 0  # stays forbidden


def test_categorical_elbo_never_decreases(rng):
    lengths = rng.integers(20, 60, size=10)
    X = symbol_frames(rng, generate_states(rng, lengths))
    hmm = VariationalCategoricalHMM(3, tol=0, max_iter=40, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bounds = np.array(hmm.fit(X, lengths).lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0]


# ---- (c) hmmlearn from the same q(theta) ----------------------------------------------------

def run_ours(model, X, lengths, q, n_iter):
    source = SequenceSource(X, np.asarray(lengths), None, 10**6)
    return engine.run(model, source, q, engine.FitOptions(tol=0.0, max_iter=n_iter))


def run_hmmlearn(ref, X, lengths, n_iter):
    # hmmlearn's monitor keeps two entries, so run it one iteration at a time.
    history = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n_iter):
            history.append(ref.fit(X, lengths).monitor_.history[-1])
    return np.array(history)


@pytest.mark.parametrize(("cov_type", "D"), [("full", 2), ("tied", 2), ("diag", 1), ("spherical", 1),
                                             ("full", 1)],
                         ids=["full", "tied", "diag-1d", "spherical-1d", "full-1d"])
def test_gaussian_bound_and_posterior_match_hmmlearn(cov_type, D, rng):
    vhmm = pytest.importorskip("hmmlearn.vhmm")
    K, n_iter = 3, 6
    lengths = rng.integers(15, 40, size=6)
    X = gaussian_frames(rng, generate_states(rng, lengths), means=MEANS[:, :D], scale=1.5)
    start_prior, trans_prior = np.full(K, 0.7), np.full((K, K), 0.9)
    model, prior = gaussian_model(cov_type, D, start_prior, trans_prior, m0=X.mean(axis=0))
    emission = model.emission.posterior(model.emission.mixture.statistics(
        X, rng.dirichlet(np.ones(K), size=X.shape[0]), None, np.repeat(X.mean(axis=0)[None], K, axis=0)))
    q0 = VariationalHMMParams(rng.uniform(1, 5, K), rng.uniform(1, 5, (K, K)), emission)
    ours = run_ours(model, X, lengths, q0, n_iter)

    ref = vhmm.VariationalGaussianHMM(K, covariance_type=cov_type, n_iter=1, tol=-np.inf, init_params="",
                                      implementation="scaling", random_state=0)
    state = oracle_state(model, emission)
    ref.startprob_prior_, ref.transmat_prior_ = start_prior, trans_prior
    ref.startprob_posterior_, ref.transmat_posterior_ = q0.startprob.copy(), q0.transmat.copy()
    ref.means_prior_, ref.beta_prior_ = np.tile(prior["m0"], (K, 1)), np.full(K, prior["beta0"])
    ref.means_posterior_, ref.beta_posterior_ = emission.means.copy(), emission.mean_precision.copy()
    tied = cov_type == "tied"
    ref.dof_prior_ = prior["nu0"] if tied else np.full(K, prior["nu0"])
    ref.dof_posterior_ = float(state["nu"]) if tied else state["nu"].copy()
    ref.scale_prior_ = prior["psi0"] if tied else np.array([prior["psi0"]] * K)
    ref.scale_posterior_ = state["psi"].copy()
    history = run_hmmlearn(ref, X, lengths, n_iter)
    # hmmlearn's bound drops -D/2 ln 2 pi per frame (its "term2 = 0"); with it added back the two
    # bounds are the same sums in other orders (hmmlearn's raw-moment scatter loses a few more
    # digits): 1e-9 relative.
    constant = -X.shape[0] * D / 2 * np.log(2 * np.pi)
    assert_allclose(np.array(ours.lower_bounds) * X.shape[0], history + constant, rtol=1e-9)
    q = ours.params
    assert_allclose(q.transmat, ref.transmat_posterior_, rtol=1e-8)
    assert_allclose(q.startprob, ref.startprob_posterior_, rtol=1e-8)
    assert_allclose(q.emission.means, ref.means_posterior_, rtol=1e-8, atol=1e-10)
    assert_allclose(oracle_state(model, q.emission)["psi"], ref.scale_posterior_, rtol=1e-8)


@pytest.mark.parametrize("cov_type", ["diag", "spherical"])
def test_diag_and_spherical_differ_from_hmmlearn_only_in_the_expected_log_determinant(cov_type, rng):
    """For D > 1 hmmlearn's diag/spherical E[ln|Lambda_k|] is the D-dimensional Wishart digamma
    sum (B.81) over a diagonal scale, not the expectation under the Gamma posteriors it updates
    (B.30): its ln p~(x | k) is ours plus a constant per state, and nothing else differs."""
    vhmm = pytest.importorskip("hmmlearn.vhmm")
    from scipy.special import digamma

    K, D = 3, 3
    X = rng.normal(size=(40, D)) * 2
    model, _ = gaussian_model(cov_type, D, np.ones(K), np.ones((K, K)))
    emission = model.emission.posterior(model.emission.mixture.statistics(
        X, rng.dirichlet(np.ones(K), size=X.shape[0]), None, np.repeat(X.mean(axis=0)[None], K, axis=0)))
    state = oracle_state(model, emission)
    ref = vhmm.VariationalGaussianHMM(K, covariance_type=cov_type)
    ref.n_features = D
    ref.means_posterior_, ref.beta_posterior_ = emission.means, emission.mean_precision
    ref.dof_posterior_, ref.scale_posterior_ = state["nu"], state["psi"]
    offset = ref._compute_subnorm_log_likelihood(X) - model.emission.log_density(X, emission)
    nu = state["nu"]
    wishart_sum = sum(digamma((nu + 1 - i) / 2) for i in range(1, D + 1))  # (B.81) less D ln 2 + ln|W|
    # ours less the same D ln 2 - sum_d ln psi_d: sum_d [psi(nu/2) - ln(psi_d/2)] (diag), or
    # D [psi(D nu/2) - ln(D psi/2)] (spherical), (B.30)
    ours = D * digamma(nu / 2) if cov_type == "diag" else D * digamma(D * nu / 2) - D * np.log(D)
    expected = 0.5 * (wishart_sum - ours) + D / 2 * np.log(2 * np.pi)  # and hmmlearn drops -D/2 ln 2pi
    # the data-dependent parts agree to rounding; the difference is this constant per state
    assert_allclose(offset, np.broadcast_to(expected, offset.shape), rtol=1e-10)
    assert np.all(np.abs(expected - D / 2 * np.log(2 * np.pi)) > 1e-3)  # a real difference for D = 3


def test_categorical_bound_and_posterior_match_hmmlearn(rng):
    vhmm = pytest.importorskip("hmmlearn.vhmm")
    K, M, n_iter = 3, 4, 6
    lengths = rng.integers(10, 40, size=8)
    X = symbol_frames(rng, generate_states(rng, lengths))
    start_prior, trans_prior, emission_prior = np.full(K, 0.6), np.full((K, K), 1.1), np.full((K, M), 0.4)
    model = VariationalHMM(DirichletRows(start_prior), DirichletRows(trans_prior), CategoricalVBEmission(emission_prior))
    q0 = VariationalHMMParams(rng.uniform(1, 5, K), rng.uniform(1, 5, (K, K)), rng.uniform(1, 5, (K, M)))
    ours = run_ours(model, X, lengths, q0, n_iter)
    ref = vhmm.VariationalCategoricalHMM(K, n_features=M, n_iter=1, tol=-np.inf, init_params="",
                                         implementation="scaling")
    ref.startprob_prior_, ref.transmat_prior_, ref.emissionprob_prior_ = start_prior, trans_prior, emission_prior
    ref.startprob_posterior_, ref.transmat_posterior_ = q0.startprob.copy(), q0.transmat.copy()
    ref.emissionprob_posterior_ = q0.emission.copy()
    history = run_hmmlearn(ref, X, lengths, n_iter)
    # The same bound term for term (no constant differs): rounding only.
    assert_allclose(np.array(ours.lower_bounds) * X.shape[0], history, rtol=1e-10)
    assert_allclose(ours.params.emission, ref.emissionprob_posterior_, rtol=1e-9)
    assert_allclose(ours.params.transmat, ref.transmat_posterior_, rtol=1e-9)


# ---- (d) recovery ---------------------------------------------------------------------------

def test_gaussian_recovers_known_parameters():
    rng = np.random.default_rng(3)
    lengths = np.full(20, 150)
    states = generate_states(rng, lengths)
    X = gaussian_frames(rng, states)
    hmm = VariationalGaussianHMM(3, covariance_type="diag", random_state=0, max_iter=200).fit(X, lengths)
    order = [int(np.argmin(((hmm.means_ - mu) ** 2).sum(axis=1))) for mu in MEANS]
    assert sorted(order) == [0, 1, 2]
    counts = np.bincount(states[:-1], minlength=3)[:, None]  # transitions out of each state (about)
    # four standard errors of a proportion estimated from the row's transitions
    sd = np.sqrt(TRANSMAT * (1 - TRANSMAT) / counts)
    assert np.all(np.abs(hmm.transmat_[np.ix_(order, order)] - TRANSMAT) < 4 * sd + 1e-3)
    # unit variances from ~1000 frames per state: 4 standard errors of a variance is ~0.2
    assert_allclose(hmm.covariances_[order], 1.0, atol=0.2)
    assert_allclose(hmm.means_[order], MEANS, atol=0.15)  # 4 standard errors of a mean of ~1000 frames
    # means 5 sd apart: a frame is misdecoded with probability about 1e-3
    assert np.mean(hmm.predict(X, lengths) == np.array(order)[states]) > 0.99


def test_categorical_recovers_known_parameters():
    rng = np.random.default_rng(4)
    emissionprob = np.array([[0.8, 0.1, 0.05, 0.05], [0.05, 0.8, 0.1, 0.05], [0.05, 0.05, 0.1, 0.8]])
    lengths = np.full(30, 200)
    states = generate_states(rng, lengths)
    X = symbol_frames(rng, states, emissionprob)
    hmm = VariationalCategoricalHMM(3, random_state=0, n_init=3, max_iter=300, tol=1e-6).fit(X, lengths)
    order = [int(np.argmax(hmm.emissionprob_[:, np.argmax(row)])) for row in emissionprob]
    assert sorted(order) == [0, 1, 2]
    visits = np.bincount(states, minlength=3)[:, None]
    # five standard errors of a proportion from each state's ~2000 frames (the states are only
    # inferred, which adds a little)
    sd = np.sqrt(emissionprob * (1 - emissionprob) / visits)
    assert np.all(np.abs(hmm.emissionprob_[order] - emissionprob) < 5 * sd)
    sd_t = np.sqrt(TRANSMAT * (1 - TRANSMAT) / visits)
    assert np.all(np.abs(hmm.transmat_[np.ix_(order, order)] - TRANSMAT) < 5 * sd_t)


# ---- (e) weights = repeats; chunk size --------------------------------------------------------

def gaussian_start(covariance_type="full"):
    precisions = {"full": np.array([np.eye(2)] * 3), "tied": np.eye(2), "diag": np.ones((3, 2)),
                  "spherical": np.ones(3)}[covariance_type]
    return {"means_init": MEANS + 0.5, "precisions_init": precisions}


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_sequence_weights_equal_repeated_sequences(cov_type, gaussian_data):
    X, lengths, _ = gaussian_data
    counts = np.array([1, 0, 3, 2, 1, 1, 2, 1])
    sequences = np.split(X, np.cumsum(lengths)[:-1])
    X_rep = np.concatenate([s for s, c in zip(sequences, counts) for _ in range(c)])
    lengths_rep = np.repeat(lengths, counts)
    kw = {"covariance_type": cov_type, "tol": 0, "max_iter": 8, **gaussian_start(cov_type)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = VariationalGaussianHMM(3, **kw).fit(X, lengths, sample_weight=counts)
        repeated = VariationalGaussianHMM(3, **kw).fit(X_rep, lengths_rep)
    # the same sums with sequences repeated or weighted: rounding
    for name in ("lower_bounds_", "startprob_posterior_", "transmat_posterior_", "means_", "covariances_",
                 "beta_posterior_", "dof_posterior_", "means_prior_", "scale_prior_"):
        assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-9, err_msg=name)


def test_categorical_sequence_weights_equal_repeated_sequences(rng):
    lengths = rng.integers(5, 30, size=6)
    X = symbol_frames(rng, generate_states(rng, lengths))
    counts = np.array([2, 1, 0, 3, 1, 1])
    sequences = np.split(X, np.cumsum(lengths)[:-1])
    X_rep = np.concatenate([s for s, c in zip(sequences, counts) for _ in range(c)])
    kw = {"tol": 0, "max_iter": 8, "emissionprob_init": EMISSIONPROB * 0.9 + 0.025}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = VariationalCategoricalHMM(3, **kw).fit(X, lengths, sample_weight=counts)
        repeated = VariationalCategoricalHMM(3, **kw).fit(X_rep, np.repeat(lengths, counts))
    for name in ("lower_bounds_", "startprob_posterior_", "transmat_posterior_", "emissionprob_posterior_"):
        assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-10, err_msg=name)


def test_fit_does_not_depend_on_chunk_size(gaussian_data):
    X, lengths, _ = gaussian_data
    fits = [VariationalGaussianHMM(3, tol=0, max_iter=6, random_state=0, chunk_size=size) for size in (1, 70, 10**6)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for hmm in fits:
            hmm.fit(X, lengths)
    for hmm in fits[1:]:  # the same sums in other orders
        assert_allclose(hmm.lower_bounds_, fits[0].lower_bounds_, rtol=1e-12)
        assert_allclose(hmm.means_, fits[0].means_, rtol=1e-10)
        assert_allclose(hmm.transmat_posterior_, fits[0].transmat_posterior_, rtol=1e-10)


# ---- (f) a vanishing prior gives the EM fit ---------------------------------------------------

@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_vanishing_prior_gives_the_em_fit(cov_type):
    rng = np.random.default_rng(5)
    lengths = np.full(10, 200)
    states = generate_states(rng, lengths)
    X = gaussian_frames(rng, states, means=MEANS * 6)  # states ~30 sd apart: gamma is 0/1 to e^-100
    tiny = 1e-10
    scale = {"full": np.eye(2), "tied": np.eye(2), "diag": np.ones(2), "spherical": 1.0}[cov_type]
    start = {**gaussian_start(cov_type), "means_init": MEANS * 6 + 0.5}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vb = VariationalGaussianHMM(3, covariance_type=cov_type, startprob_prior=tiny, transmat_prior=tiny,
                                    beta_prior=tiny, dof_prior=(1 + tiny) if cov_type in ("full", "tied") else tiny,
                                    scale_prior=np.multiply(scale, tiny), reg_covar=0, tol=1e-12, max_iter=50,
                                    **start).fit(X, lengths)
        em = GaussianHMM(3, covariance_type=cov_type, reg_covar=0, tol=1e-12, max_iter=50, **start).fit(X, lengths)
    # With 0/1 state posteriors the E-step does not depend on the parameters, so both fits end at
    # the same counts; the remaining differences are the 1e-10 priors (and nu_0 ~ 1 against the
    # N_k ~ 700 frames of each state, which the dof-corrected covariance below undoes).
    assert_allclose(vb.transmat_, em.transmat_, rtol=1e-7, atol=1e-9)
    assert_allclose(vb.startprob_, em.startprob_, rtol=1e-7, atol=1e-9)
    assert_allclose(vb.means_, em.means_, rtol=1e-8)
    mass = vb.beta_posterior_ - tiny  # N_k
    total = mass.sum() if cov_type == "tied" else mass
    dof = np.asarray(vb.dof_posterior_)
    factor = dof / total  # W_k^{-1} / N_k = covariances_ nu_k / N_k -> S_k
    cov = vb.covariances_ * (factor if np.ndim(factor) == 0 else factor.reshape((-1,) + (1,) * (vb.covariances_.ndim - 1)))
    assert_allclose(cov, em.covariances_, rtol=1e-7)


def test_categorical_vanishing_prior_gives_the_em_fit(rng):
    # each state emits its own two symbols: the state path is read off the symbols, gamma is 0/1
    emissionprob = np.array([[0.7, 0.3, 0, 0, 0, 0], [0, 0, 0.4, 0.6, 0, 0], [0, 0, 0, 0, 0.5, 0.5]])
    lengths = np.full(10, 100)
    X = symbol_frames(rng, generate_states(rng, lengths), emissionprob)
    # A start with the same zeros (forbidden symbols for VB, zeros that stay for EM): gamma is 0/1
    # from the first E-step on, in both fits.
    start = (emissionprob > 0) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vb = VariationalCategoricalHMM(3, startprob_prior=1e-10, transmat_prior=1e-10, emissionprob_prior=1e-10,
                                       emissionprob_init=start, tol=1e-12, max_iter=30).fit(X, lengths)
        em = CategoricalHMM(3, emissionprob_init=start, tol=1e-12, max_iter=30).fit(X, lengths)
    for name in ("startprob_", "transmat_", "emissionprob_"):
        assert_allclose(getattr(vb, name), getattr(em, name), rtol=1e-7, atol=1e-9, err_msg=name)


# ---- forbidden transitions, decoding, warm start ----------------------------------------------

def test_forbidden_transitions_and_starts_stay_forbidden(gaussian_data):
    X, lengths, _ = gaussian_data
    transmat = np.array([[0.6, 0.4, 0.0], [0.0, 0.6, 0.4], [0.3, 0.0, 0.7]])
    startprob = np.array([0.5, 0.5, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        hmm = VariationalGaussianHMM(3, transmat_init=transmat, startprob_init=startprob, random_state=0,
                                     max_iter=20).fit(X, lengths)
    assert np.array_equal(hmm.transmat_posterior_ == 0, transmat == 0)
    assert np.array_equal(hmm.transmat_ == 0, transmat == 0)
    assert hmm.startprob_[2] == 0 and hmm.startprob_prior_[2] == 0
    states = hmm.predict(X, lengths)
    starts = np.cumsum(lengths) - lengths
    assert not np.any(states[starts] == 2)
    inside = np.ones(len(states), bool)
    inside[starts] = False
    pairs = set(zip(states[:-1][inside[1:]], states[1:][inside[1:]]))
    assert not pairs & {(0, 2), (1, 0), (2, 1)}


def test_decoding_uses_the_posterior_mean_parameters(gaussian_data):
    X, lengths, _ = gaussian_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vb = VariationalGaussianHMM(3, covariance_type="diag", random_state=0, max_iter=10).fit(X, lengths)
    em = GaussianHMM(3, covariance_type="diag", max_iter=0, startprob_init=vb.startprob_,
                     transmat_init=vb.transmat_, means_init=vb.means_, precisions_init=vb.precisions_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        em.fit(X, lengths)  # max_iter=0: the given parameters as they are
    assert vb.score(X, lengths) == pytest.approx(em.score(X, lengths), rel=1e-12)
    assert_allclose(vb.predict_proba(X, lengths), em.predict_proba(X, lengths), rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(vb.predict(X, lengths), em.predict(X, lengths))
    # E[pi], E[A] and E[Lambda]^{-1} = W^{-1} / nu from the posteriors
    assert_allclose(vb.transmat_, vb.transmat_posterior_ / vb.transmat_posterior_.sum(axis=1, keepdims=True))
    assert_allclose(vb.scale_posterior_, vb.covariances_ * vb.dof_posterior_[:, None])


def test_warm_start_continues_the_fit(gaussian_data):
    X, lengths, _ = gaussian_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole = VariationalGaussianHMM(3, random_state=0, tol=0, max_iter=10).fit(X, lengths)
        part = VariationalGaussianHMM(3, random_state=0, tol=0, max_iter=4).fit(X, lengths)
        part.set_params(warm_start=True, max_iter=6).fit(X, lengths)
    assert_allclose(part.lower_bounds_, whole.lower_bounds_[4:], rtol=1e-12)
    assert_allclose(part.means_, whole.means_, rtol=1e-12)


# ---- (g) bad input ----------------------------------------------------------------------------

BAD_GAUSSIAN = [
    pytest.param({"startprob_prior": -1.0}, "startprob_prior=-1.0", id="startprob-prior-negative"),
    pytest.param({"startprob_prior": [1.0, 1.0]}, r"startprob_prior has shape \(2,\)", id="startprob-prior-shape"),
    pytest.param({"transmat_prior": np.ones((3, 2))}, r"transmat_prior has shape \(3, 2\)", id="transmat-prior-shape"),
    pytest.param({"transmat_prior": [[1, 1, 1], [0, 0, 0], [1, 1, 1]]}, r"transmat_prior leaves no allowed entry \(row 1\)",
                 id="transmat-prior-empty-row"),
    pytest.param({"transmat_prior": [[1, 1, 1], [1, np.nan, 1], [1, 1, 1]]}, "transmat_prior must hold finite",
                 id="transmat-prior-nan"),
    pytest.param({"beta_prior": 0.0}, "beta_prior=0.0", id="beta-prior-zero"),
    pytest.param({"dof_prior": 1.0}, "dof_prior=1.0", id="dof-prior-at-d-minus-1"),
    pytest.param({"scale_prior": np.eye(3)}, r"scale_prior has shape \(3, 3\)", id="scale-prior-shape"),
    pytest.param({"scale_prior": [[1, 2], [2, 1]]}, "scale_prior is not positive definite", id="scale-prior-indefinite"),
    pytest.param({"means_prior": [0.0, 0.0, 0.0]}, r"means_prior has shape \(3,\)", id="means-prior-shape"),
    pytest.param({"covariance_type": "banded"}, "covariance_type='banded'", id="covariance-type"),
    pytest.param({"init_params": "magic"}, "init_params='magic'", id="init-params"),
    pytest.param({"transmat_init": np.full((3, 3), 0.5)}, "transmat_init must sum to 1", id="transmat-init-sum"),
    pytest.param({"means_init": np.zeros((2, 2))}, "means_init", id="means-init-shape"),
]


@pytest.mark.parametrize(("params", "message"), BAD_GAUSSIAN)
def test_bad_input_names_the_argument_and_leaves_a_fitted_model_unchanged(params, message, gaussian_data):
    X, lengths, _ = gaussian_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        hmm = VariationalGaussianHMM(3, random_state=0, max_iter=3).fit(X, lengths)
    before = {name: np.copy(getattr(hmm, name)) for name in
              ("means_", "covariances_", "transmat_posterior_", "startprob_posterior_", "lower_bounds_")}
    with pytest.raises(ValueError, match=message):
        hmm.set_params(**params).fit(X, lengths)
    for name, value in before.items():
        assert_allclose(getattr(hmm, name), value, rtol=0, err_msg=name)


BAD_CATEGORICAL = [
    pytest.param({"emissionprob_prior": -0.5}, "emissionprob_prior=-0.5", id="emission-prior-negative"),
    pytest.param({"emissionprob_prior": np.ones((3, 3))}, r"emissionprob_prior has shape \(3, 3\)",
                 id="emission-prior-shape"),
    pytest.param({"emissionprob_prior": [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]]},
                 r"emissionprob_prior leaves no allowed entry \(row 2\)", id="emission-prior-empty-row"),
    # symbol 3 is forbidden in every state: the data are impossible
    pytest.param({"emissionprob_prior": [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0]]}, "probability 0",
                 id="impossible-data"),
    pytest.param({"n_symbols": 2}, "n_symbols = 2", id="too-few-symbols"),
]


@pytest.mark.parametrize(("params", "message"), BAD_CATEGORICAL)
def test_bad_categorical_input_names_the_argument(params, message, rng):
    lengths = rng.integers(10, 30, size=4)
    X = symbol_frames(rng, generate_states(rng, lengths))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        hmm = VariationalCategoricalHMM(3, random_state=0, max_iter=3).fit(X, lengths)
    before = np.copy(hmm.emissionprob_posterior_)
    with pytest.raises(ValueError, match=message):
        hmm.set_params(**params).fit(X, lengths)
    assert_allclose(hmm.emissionprob_posterior_, before, rtol=0)


def test_sample_weight_per_sequence_is_checked(gaussian_data):
    X, lengths, _ = gaussian_data
    with pytest.raises(ValueError, match="sample_weight"):
        VariationalGaussianHMM(3).fit(X, lengths, sample_weight=np.ones(len(lengths) + 1))
