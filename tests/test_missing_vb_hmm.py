"""The variational Gaussian HMM's emission with NaN frames (issue 18, VB; models/missing_vb.py):
ln p~ of a frame over its observed coordinates, (V2) without E[ln pi]; the E-step and ELBO
against every state path enumerated with the literal per-frame oracle
(tests/oracles/gaussian_vb_missing.py); the emission M-step against that oracle's with gamma; the
bound's monotone climb at the model level (engine.run); the estimator's boundary (frames with
NaN accepted, starts reading column means, the EM HMM's check in estimators/hmm_missing.py)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from oracles import gaussian_vb_missing as missing_oracle
from oracles import hmm_vb as oracle
from test_hmm_vb import (
    COVARIANCE_TYPES,
    START_PRIOR,
    TINY_LENGTHS,
    TINY_WEIGHTS,
    TRANS_PRIOR,
    VariationalHMMParams,
    as_batch,
    check_against_oracle,
    gaussian_model,
    oracle_state,
    random_chain_posterior,
    run_ours,
)

from mixfit.models import missing


@pytest.fixture(params=["compiled", "numpy"])
def row_kernel(request, monkeypatch):
    """Both E-steps of models/missing.py: numba's loop over rows and numpy's pattern groups."""
    if request.param == "compiled":
        pytest.importorskip("numba")
    monkeypatch.setattr(missing, "COMPILED", request.param == "compiled")
    return request.param


def _holed(rng, X):
    """Frames with holes: some partial, one observing nothing, the rest complete."""
    Y = X.copy()
    Y[1, 0] = np.nan
    Y[2, 1:] = np.nan
    Y[4] = np.nan  # a frame that observes nothing: the chain passes through it
    Y[6, 2] = np.nan
    return Y


def _start(model, X, rng, K=3):
    filled = np.where(np.isnan(X), 0.0, X)
    return model.emission.posterior(model.emission.mixture.statistics(
        filled, rng.dirichlet(np.ones(K), size=X.shape[0]), None, np.repeat(filled.mean(axis=0)[None], K, axis=0)))


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_e_step_elbo_and_m_step_match_every_path_enumerated(cov_type, rng, row_kernel):
    D = 3
    X = _holed(rng, rng.normal(size=(sum(TINY_LENGTHS), D)) * 2)
    model, prior = gaussian_model(cov_type, D, START_PRIOR, TRANS_PRIOR)
    emission = _start(model, X, rng)
    q = VariationalHMMParams(*random_chain_posterior(rng), emission)
    state = oracle_state(model, emission)
    sequences = np.split(X, np.cumsum(TINY_LENGTHS)[:-1])
    data, start, trans, gammas = oracle.brute_force(
        sequences, TINY_WEIGHTS, q.startprob, q.transmat,
        lambda Xb: missing_oracle.expected_log_emission(Xb, state, cov_type))
    stats, params = check_against_oracle(model, q, X, start, trans)
    elbo = data + params + oracle.normal_precision_terms(state, prior, cov_type, D)
    # ln Z~ of forward-backward on (V2) against the enumerated sum of E[ln N] + H[q(x_m)] per
    # frame and path, plus the closed-form KLs: rounding only
    assert_allclose(model.objective(stats, q), elbo, rtol=1e-10)
    # the emission M-step: the mixture oracle's expected statistics (V4) with gamma for r
    frame_weight = np.repeat(TINY_WEIGHTS, TINY_LENGTHS)
    expected = missing_oracle.m_step(X, frame_weight, state, {**prior, "alpha0": 1.0}, cov_type,
                                     "dirichlet_distribution", 0.0, resp=np.concatenate(gammas))
    ours = oracle_state(model, model.maximize(stats, q).emission)
    for key in ("beta", "m", "nu", "psi"):
        assert_allclose(ours[key], expected[key], rtol=1e-10, err_msg=key)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_elbo_never_decreases_with_missing_frames(cov_type, rng):
    D, K = 3, 3
    lengths = rng.integers(20, 40, size=5)
    n = int(lengths.sum())
    states = rng.integers(0, K, size=n)
    X = rng.normal(size=(n, D)) + np.array([[-3.0, 0.0, 2.0], [3.0, 1.0, 0.0], [0.0, -3.0, -2.0]])[states]
    holes = rng.random(X.shape) < 0.25
    X = np.where(holes, np.nan, X)  # a few frames observe nothing
    model, _ = gaussian_model(cov_type, D, np.full(K, 0.7), np.full((K, K), 0.9), m0=np.nanmean(X, axis=0))
    q0 = VariationalHMMParams(rng.uniform(1, 5, K), rng.uniform(1, 5, (K, K)), _start(model, X, rng, K))
    bounds = np.array(run_ours(model, X, lengths, q0, 30).lower_bounds)
    # coordinate ascent on the exact bound (reg_covar = 0 in gaussian_model): rounding only
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0]


def test_complete_frames_take_todays_path(rng):
    D = 3
    X = rng.normal(size=(sum(TINY_LENGTHS), D))
    model, _ = gaussian_model("full", D, START_PRIOR, TRANS_PRIOR)
    q = VariationalHMMParams(*random_chain_posterior(rng), _start(model, X, rng))
    emission = model.emission
    today = emission.mixture.expected_log_gauss(X, q.emission, q.emission.means.mean(axis=0))[0]
    np.testing.assert_array_equal(emission.log_density(X, q.emission), today)  # the same code, the same bits
    Y = X.copy()
    Y[::2, 1] = np.nan
    rows = ~np.isnan(Y).any(axis=1)
    # the complete frames of a block with holes: the same kernel on fewer rows (BLAS blocking)
    assert_allclose(emission.log_density(Y, q.emission)[rows], today[rows], rtol=1e-13)
    stats = model.accumulate(as_batch(Y, TINY_LENGTHS), q, TINY_WEIGHTS)
    assert np.isfinite(stats.log_likelihood) and np.all(np.isfinite(stats.emission.scatter))


def test_estimator_fits_frames_with_holes(rng):
    """VariationalGaussianHMM.fit / score / predict take NaN entries; the bound of the fit never
    decreases (reg_covar=0 makes the ELBO exact, so any decrease is a bug, not rounding: the
    1e-9 relative slack is float64 summation over 400 frames); a frame with every entry missing
    is accepted (it carries no observation); inf is still refused, naming X."""
    from mixfit import VariationalGaussianHMM

    X = np.concatenate([rng.normal(0, 1, (200, 3)), rng.normal(4, 1, (200, 3))])
    holes = rng.random(X.shape) < 0.2
    X[holes] = np.nan
    X[7] = np.nan
    model = VariationalGaussianHMM(2, "full", n_iter=30, reg_covar=0.0, random_state=0).fit(X, [250, 150])
    bounds = np.asarray(model.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-9 * np.abs(bounds[1:]))
    assert np.isfinite(model.score(X, [250, 150]))
    states = model.predict(X, [250, 150])
    assert states.shape == (400,)
    means = np.sort(model.means_[:, 0])
    assert_allclose(means, [0.0, 4.0], atol=0.5)  # 200 frames a state, unit variance: SE ~ 0.08
    X[3, 1] = np.inf
    with pytest.raises(ValueError, match="X"):
        VariationalGaussianHMM(2, random_state=0).fit(X)
