"""hmmlearn's interface on mixfit's HMMs, against hmmlearn 0.3 itself from the same start:
the Dirichlet priors' MAP M-step, models defined by assigning their parameters, positional
constructor calls, ``n_iter``, ``params`` / ``init_params`` letters, ``implementation`` and
``monitor_``."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone

import mixfit

hmm = pytest.importorskip("hmmlearn.hmm")

START = np.array([0.6, 0.3, 0.1])
TRANS = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
EMISSION = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.1, 0.7]])
MEANS = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
COVARS = np.array([[1.0, 0.5], [0.8, 1.2], [0.6, 0.9]])  # diag


def _assign(model, **params):
    for name, value in params.items():
        setattr(model, name, np.array(value))
    return model


def _symbols():
    reference = _assign(hmm.CategoricalHMM(3), startprob_=START, transmat_=TRANS, emissionprob_=EMISSION)
    return reference.sample(400, random_state=np.random.RandomState(0))[0]


@pytest.mark.parametrize("priors", [{"startprob_prior": 3.0, "transmat_prior": 2.0, "emissionprob_prior": 1.5},
                                    {"startprob_prior": np.array([5.0, 1.0, 2.0]), "transmat_prior": 0.5}],
                         ids=["above-one", "per-state-and-below-one"])
def test_categorical_map_fit_equals_hmmlearn_from_the_same_start(priors):
    X = _symbols()
    lengths = [100] * 4
    ours = _assign(mixfit.CategoricalHMM(3, n_iter=6, init_params="", tol=0.0, **priors),
                   startprob_=np.full(3, 1 / 3), transmat_=TRANS, emissionprob_=EMISSION)
    theirs = _assign(hmm.CategoricalHMM(3, n_iter=6, init_params="", tol=0.0, **priors),
                     startprob_=np.full(3, 1 / 3), transmat_=TRANS, emissionprob_=EMISSION)
    ours.fit(X, lengths)
    theirs.fit(X, lengths)
    # the same six MAP steps of the same recursions: only the summation order differs
    assert_allclose(ours.startprob_, theirs.startprob_, atol=1e-10)
    assert_allclose(ours.transmat_, theirs.transmat_, atol=1e-10)
    assert_allclose(ours.emissionprob_, theirs.emissionprob_, atol=1e-10)
    assert ours.monitor_.iter == theirs.monitor_.iter == 6
    # hmmlearn's history holds ln p(X) before each M-step; so does ours (lower_bounds_ x frames)
    assert_allclose(list(ours.monitor_.history), list(theirs.monitor_.history), rtol=1e-10)


def test_gaussian_chain_priors_and_frozen_emissions_equal_hmmlearn():
    reference = _assign(hmm.GaussianHMM(3), startprob_=START, transmat_=TRANS, means_=MEANS, covars_=COVARS)
    X = reference.sample(300, random_state=np.random.RandomState(1))[0]
    kwargs = {"startprob_prior": 2.0, "transmat_prior": 3.0, "n_iter": 5, "params": "st", "init_params": "", "tol": 0.0}
    ours = _assign(mixfit.GaussianHMM(3, "diag", **kwargs), startprob_=np.full(3, 1 / 3),
                   transmat_=np.full((3, 3), 1 / 3), means_=MEANS, covars_=COVARS)
    theirs = _assign(hmm.GaussianHMM(3, "diag", **kwargs), startprob_=np.full(3, 1 / 3),
                     transmat_=np.full((3, 3), 1 / 3), means_=MEANS, covars_=COVARS)
    ours.fit(X, [100] * 3)
    theirs.fit(X, [100] * 3)
    assert_allclose(ours.startprob_, theirs.startprob_, atol=1e-10)  # summation order only
    assert_allclose(ours.transmat_, theirs.transmat_, atol=1e-10)
    assert_allclose(ours.means_, MEANS)  # 'm' and 'c' left out of params: kept
    assert_allclose(ours.covars_, theirs.covars_, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "tied", "full"])
def test_an_assigned_gaussian_model_scores_decodes_and_samples_as_hmmlearn(covariance_type):
    covars = {"spherical": COVARS[:, 0], "diag": COVARS, "tied": np.array([[1.0, 0.3], [0.3, 2.0]]),
              "full": np.array([np.diag(c) + 0.2 for c in COVARS])}[covariance_type]
    params = {"startprob_": START, "transmat_": TRANS, "means_": MEANS, "covars_": covars}
    ours = _assign(mixfit.GaussianHMM(3, covariance_type), **params)
    theirs = _assign(hmm.GaussianHMM(3, covariance_type), **params)
    X = theirs.sample(200, random_state=np.random.RandomState(2))[0]
    assert_allclose(ours.score(X, [50] * 4), theirs.score(X, [50] * 4), rtol=1e-10)  # rounding only
    lp_ours, path_ours = ours.decode(X, [50] * 4, algorithm="viterbi")
    lp_theirs, path_theirs = theirs.decode(X, [50] * 4, algorithm="viterbi")
    assert_allclose(lp_ours, lp_theirs, rtol=1e-10)
    np.testing.assert_array_equal(path_ours, path_theirs)
    # 'map': the same path; hmmlearn's number is the sum of the max posteriors, ours their logs
    # (the log probability its docstring promises; docs/differences.md)
    lp_map, path_map = ours.decode(X, [50] * 4, algorithm="map")
    sum_max, path_theirs = theirs.decode(X, [50] * 4, algorithm="map")
    np.testing.assert_array_equal(path_map, path_theirs)
    gamma = theirs.predict_proba(X, [50] * 4)
    assert_allclose(sum_max, gamma.max(axis=1).sum(), rtol=1e-12)
    assert_allclose(lp_map, np.log(gamma.max(axis=1)).sum(), rtol=1e-8)  # posteriors agree to ~1e-10
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-10)
    assert_allclose(ours.covars_, theirs.covars_, rtol=1e-12)  # hmmlearn's full (K, D, D) form
    frames, states = ours.sample(50, random_state=0, currstate=2)
    assert frames.shape == (50, 2) and states[0] == 2
    assert_allclose(ours.get_stationary_distribution(), theirs.get_stationary_distribution(), atol=1e-12)
    assert_allclose(ours.bic(X), theirs.bic(X), rtol=1e-10)
    assert_allclose(ours.aic(X), theirs.aic(X), rtol=1e-10)


def test_implementations_give_identical_fits_and_n_iter_bounds_the_iterations():
    X = _symbols()
    fits = [mixfit.CategoricalHMM(3, implementation=impl, n_iter=4, tol=0.0, random_state=0).fit(X)
            for impl in ("log", "scaling")]
    np.testing.assert_array_equal(fits[0].emissionprob_, fits[1].emissionprob_)
    assert fits[0].n_iter_ == 4 and fits[0].monitor_.converged  # hmmlearn: reaching n_iter counts
    with pytest.raises(ValueError, match="implementation"):
        mixfit.CategoricalHMM(3, implementation="fast").fit(X)


def test_positional_hmmlearn_call_keeps_every_parameter_for_get_params():
    model = mixfit.GaussianHMM(2, "full", 1e-3, 2.0, 3.0)
    assert (model.covariance_type, model.startprob_prior, model.transmat_prior) == ("full", 2.0, 3.0)
    assert clone(model).get_params() == model.get_params()


def test_bad_assignments_raise_value_errors_naming_the_attribute():
    model = mixfit.GaussianHMM(3, "diag")
    with pytest.raises(ValueError, match="covars_"):
        model.covars_ = -COVARS
    model = _assign(mixfit.GaussianHMM(3, "diag"), startprob_=2 * START, transmat_=TRANS, means_=MEANS,
                    covars_=COVARS)
    with pytest.raises(ValueError, match="startprob_"):
        model.score(MEANS)
    with pytest.raises(ValueError, match="params"):
        mixfit.GaussianHMM(3, params="sx").fit(np.random.default_rng(0).normal(size=(30, 2)))
    with pytest.raises(ValueError, match="covars_prior"):  # diag: broadcastable to (3, 2)
        mixfit.GaussianHMM(3, covars_prior=np.ones(5)).fit(np.random.default_rng(0).normal(size=(30, 2)))
