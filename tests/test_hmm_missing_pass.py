"""The observed-data E-step of frames with NaN entries runs once per Baum-Welch iteration (issue
18's remainder): the emission's density pass keeps the conditional moments its statistics reuse
(protocols.PassEmission). Oracles: the emission's plain ``log_density`` and ``statistics`` (which
each run the E-step; themselves checked against scipy and explicit inverses in
test_hmm_missing.py), to the bit, and a count of the E-step's calls."""

import warnings

import numpy as np
import pytest
from test_hmm_missing import row_kernel  # noqa: F401 (a fixture: each case on both E-steps of models/missing.py)

from mixfit import GMMHMM, GaussianHMM, GaussianHSMM, VariationalGaussianHMM, engine
from mixfit.backends.sequences import SequenceSource
from mixfit.models import gaussian_em, hmm_missing, missing, missing_vb
from mixfit.models import hmm as hmm_model
from mixfit.models.hmm import HMM, InitialDistribution, TransitionMatrix
from mixfit.models.hmm_vb import VariationalHMMParams
from mixfit.models.hsmm import HSMM
from mixfit.protocols import PassEmission
from mixfit.protocols import missing as missing_members

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def _frames(n=120, seed=0):
    """Two regimes of D = 3 frames, returning twice."""
    rng = np.random.default_rng(seed)
    X = np.repeat([[0.0, 0.0, 0.0], [4.0, -2.0, 1.0], [0.0, 0.0, 0.0], [4.0, -2.0, 1.0]], n // 4, axis=0)
    return X + rng.normal(size=X.shape)


def _frames_with_holes(n=120, seed=0):
    """``_frames``, 30 % MCAR, frames 4 and 50 missing every entry."""
    X = _frames(n, seed)
    Y = np.where(np.random.default_rng(seed + 1).random(X.shape) < 0.3, np.nan, X)
    Y[[4, 50]] = np.nan
    return Y


class PlainEmission:
    """The emission through its ``Emission`` methods only (the E-step twice: the path before)."""

    def __init__(self, emission):
        self.emission = emission

    def log_density(self, X, params):
        return self.emission.log_density(X, params)

    def statistics(self, X, gamma, frame_weight, params):
        return self.emission.statistics(X, gamma, frame_weight, params)


def _fitted(estimator, Y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(Y)


def _batch(Y, weight=None):
    return next(iter(SequenceSource(Y, np.array([Y.shape[0]]), weight, 2**16).chunks()))


def _assert_same_stats(a, b, fields):
    for field in fields:  # the same operations on the same numbers: equal to the bit
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    for field in ("mass", "first", "scatter", "shift", "weight_sum"):
        np.testing.assert_array_equal(getattr(a.emission, field), getattr(b.emission, field), err_msg=field)


def _count_e_steps(monkeypatch):
    """A list that grows by one at each call of the observed-data E-step (models/missing.py:
    observed_e_step or observed_log_prob), from whichever module calls it."""
    calls = []

    def counting(function):
        def counted(*args):
            calls.append(1)
            return function(*args)

        return counted

    # observed_e_step, or observed_log_prob (the densities alone, by the compiled path where it applies)
    for name in ("observed_e_step", "observed_log_prob"):
        for module in (hmm_missing, gaussian_em, missing_vb):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, counting(getattr(missing, name)))
    return calls


def test_the_gaussian_emission_meets_pass_emission():
    hmm = _fitted(GaussianHMM(2, random_state=0, max_iter=2), _frames_with_holes())
    assert missing_members(hmm._emission_model(), PassEmission) == []


@pytest.mark.usefixtures("row_kernel")
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_density_pass_equals_the_plain_density_and_statistics(covariance_type):
    Y = _frames_with_holes()
    hmm = _fitted(GaussianHMM(2, covariance_type=covariance_type, random_state=0, max_iter=3), Y)
    emission, params = hmm._emission_model(), hmm._emission_params()
    rng = np.random.default_rng(1)
    gamma, w = rng.dirichlet(np.ones(2), size=Y.shape[0]), rng.uniform(0.5, 2.0, Y.shape[0])
    log_density, kept = emission.density_pass(Y, params)
    np.testing.assert_array_equal(log_density, emission.log_density(Y, params))
    stats, plain = emission.pass_statistics(kept, Y, gamma, w, params), emission.statistics(Y, gamma, w, params)
    for field in ("mass", "first", "scatter", "weight_sum"):
        np.testing.assert_array_equal(getattr(stats, field), getattr(plain, field), err_msg=field)
    complete = ~np.isnan(Y).any(axis=1)  # no NaN: nothing kept, today's path
    assert emission.density_pass(Y[complete], params)[1] is None


@pytest.mark.usefixtures("row_kernel")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_an_hmm_iteration_runs_the_observed_e_step_once_with_the_same_result(covariance_type, weighted, monkeypatch):
    Y = _frames_with_holes()
    hmm = _fitted(GaussianHMM(2, covariance_type=covariance_type, random_state=0, max_iter=3), Y)
    model, params = hmm._model(), hmm._params()
    plain = HMM(model.initial, model.transition, PlainEmission(model.emission))
    batch, w = _batch(Y, np.array([1.7]) if weighted else None)
    calls = _count_e_steps(monkeypatch)
    once = model.accumulate(batch, params, w)
    assert len(calls) == 1  # one block (120 frames): the E-step of its partial frames, once
    twice = plain.accumulate(batch, params, w)
    assert len(calls) == 3  # the plain emission: once for the densities, once for the statistics
    _assert_same_stats(once, twice, ("start", "transitions", "log_likelihood", "weight_sum"))


def test_blocks_past_the_kept_bytes_compute_their_e_step_again_with_the_same_result(monkeypatch):
    """Three blocks of 40 frames and room to keep one: the other two blocks' statistics run their
    E-step again (5 calls: 3 densities + 2 statistics; the plain emission 6), equal to the bit."""
    Y = _frames_with_holes()
    hmm = _fitted(GaussianHMM(2, covariance_type="full", random_state=0, max_iter=3), Y)
    model, params = hmm._model(), hmm._params()
    plain = HMM(model.initial, model.transition, PlainEmission(model.emission))
    monkeypatch.setattr(hmm_model, "_BLOCK_BYTES", 0)
    monkeypatch.setattr(hmm_model, "_MIN_BLOCK_FRAMES", 40)
    monkeypatch.setattr(hmm_model, "_KEPT_BYTES", 40 * 8 * 2 * (3 + 2))  # 40 frames of K (D + 2) floats
    batch, w = _batch(Y)
    assert all(np.isnan(Y[i:i + 40]).any(axis=1).sum() > 1 for i in (0, 40, 80))  # every block has holes
    calls = _count_e_steps(monkeypatch)
    once = model.accumulate(batch, params, w)
    assert len(calls) == 5
    twice = plain.accumulate(batch, params, w)
    assert len(calls) == 11
    _assert_same_stats(once, twice, ("start", "transitions", "log_likelihood", "weight_sum"))


def test_an_hsmm_iteration_runs_the_observed_e_step_once_with_the_same_result(monkeypatch):
    Y = _frames_with_holes()
    hsmm = _fitted(GaussianHSMM(2, max_duration=40, covariance_type="full", random_state=0, max_iter=3), Y)
    model, params = hsmm._model(), hsmm._params()
    plain = HSMM(model.initial, model.transition, model.durations, PlainEmission(model.emission))
    batch, w = _batch(Y)
    calls = _count_e_steps(monkeypatch)
    once = model.accumulate(batch, params, w)
    assert len(calls) == 1
    twice = plain.accumulate(batch, params, w)
    assert len(calls) == 3
    _assert_same_stats(once, twice, ("start", "transitions", "durations", "log_likelihood", "weight_sum"))


@pytest.mark.parametrize("holes", [False, True], ids=["complete", "holes"])
def test_a_gmmhmm_iteration_takes_the_within_state_posteriors_once_with_the_same_result(holes, monkeypatch):
    """GMMHMM's density pass keeps r_tkm (and the observed-data E-step): its statistics recompute
    neither, and equal the plain emission's."""
    Y = _frames_with_holes() if holes else _frames()
    hmm = _fitted(GMMHMM(2, n_mix=2, covariance_type="diag", random_state=0, max_iter=3), Y)
    model, params = hmm._model(), hmm._params()
    assert missing_members(model.emission, PassEmission) == []
    plain = HMM(model.initial, model.transition, PlainEmission(model.emission))
    batch, w = _batch(Y)
    calls = _count_e_steps(monkeypatch)
    once = model.accumulate(batch, params, w)
    assert len(calls) == (1 if holes else 0)
    twice = plain.accumulate(batch, params, w)
    assert len(calls) == (3 if holes else 0)
    _assert_same_stats(once, twice, ("start", "transitions", "log_likelihood", "weight_sum"))


@pytest.mark.usefixtures("row_kernel")
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_a_variational_iteration_runs_the_observed_e_step_once_with_the_same_result(covariance_type, monkeypatch):
    """VariationalGaussianHMM: the E-step (V1) of its frames with holes under q, once; q(Z)'s
    statistics equal the plain emission's to the bit."""
    Y = _frames_with_holes()
    models = []
    fit = engine.fit

    def spy(model, *args, **kwargs):  # the VariationalHMM the estimator's fit runs
        models.append(model)
        return fit(model, *args, **kwargs)

    monkeypatch.setattr(engine, "fit", spy)
    hmm = _fitted(VariationalGaussianHMM(2, covariance_type=covariance_type, random_state=0, n_iter=3), Y)
    vb = models[-1]
    q = VariationalHMMParams(hmm.startprob_posterior_, hmm.transmat_posterior_, hmm._emission_posterior())
    assert missing_members(vb.emission, PassEmission) == []
    plain = HMM(InitialDistribution(), TransitionMatrix(), PlainEmission(vb.emission))
    batch, w = _batch(Y)
    calls = _count_e_steps(monkeypatch)
    once = vb.accumulate(batch, q, w)
    assert len(calls) == 1
    twice = plain.accumulate(batch, vb.tilde(q), w)  # forward-backward under the tilde parameters
    assert len(calls) == 3
    _assert_same_stats(once, twice, ("start", "transitions", "log_likelihood", "weight_sum"))
