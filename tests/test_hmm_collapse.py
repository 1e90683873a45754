"""GaussianHMM's collapse policy and MAP prior (mixfit.engine.collapse_hmm): on constructed hostile
sequences, each policy's documented outcome; forbidden starts and transitions stay forbidden
through a reseed or a drop; the lower bound never decreases between repairs; a failed fit leaves
the model as it was; a model that dropped a state round-trips through a model file."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import mixfit
from mixfit import CollapsedComponentError, CollapseWarning, GaussianHMM
from mixfit.engine.collapse_hmm import drop_state

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")
N_SEQUENCES, SEGMENT = 4, 20


def one_point_sequences(rng):
    """4 sequences, each a unit blob, 15 identical frames at (20, -20), then a blob six away: with
    reg_covar = 0 the state of the identical frames has a singular covariance (PRML 9.2.1)."""
    parts = [np.concatenate([rng.normal(size=(SEGMENT, 2)), np.tile([20.0, -20.0], (15, 1)),
                             rng.normal(size=(SEGMENT, 2)) + 6.0]) for _ in range(N_SEQUENCES)]
    return np.concatenate(parts), [2 * SEGMENT + 15] * N_SEQUENCES


def two_blob_sequences(rng):
    parts = [np.concatenate([rng.normal(size=(SEGMENT, 2)), rng.normal(size=(SEGMENT, 2)) + 6.0,
                             rng.normal(size=(SEGMENT, 2))]) for _ in range(N_SEQUENCES)]
    return np.concatenate(parts), [3 * SEGMENT] * N_SEQUENCES


# State 2 starts at (1e4, -1e4): no frame visits it, its expected visits are 0 at the first E-step.
FAR_MEANS = np.array([[0.0, 0.0], [6.0, 6.0], [1e4, -1e4]])
# Zeros are forbidden moves: 1 -> 2, 2 -> 1 and a start in 2. Every row keeps two allowed moves, so
# a drop of any one state leaves each row something to renormalise.
TRANSMAT = np.array([[0.8, 0.1, 0.1], [0.1, 0.9, 0.0], [0.5, 0.0, 0.5]])
STARTPROB = np.array([0.5, 0.5, 0.0])


def far_state_hmm(on_collapse, covariance_type="diag"):
    precisions = {"full": np.array([np.eye(2)] * 3), "diag": np.ones((3, 2)), "spherical": np.ones(3),
                  "tied": np.eye(2)}[covariance_type]
    return GaussianHMM(3, covariance_type=covariance_type, on_collapse=on_collapse, means_init=FAR_MEANS,
                       precisions_init=precisions, transmat_init=TRANSMAT, startprob_init=STARTPROB,
                       random_state=0)


def fit_recording(hmm, X, lengths):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("error", category=RuntimeWarning)  # an overflow or 0/0 is a defect
        hmm.fit(X, lengths)
    return [w for w in caught if issubclass(w.category, CollapseWarning)]


def assert_finite_fit(hmm, X, lengths):
    for name in ("startprob_", "transmat_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_"):
        assert np.all(np.isfinite(getattr(hmm, name))), name
    log_lik, gamma = hmm.score_samples(X, lengths)
    assert np.isfinite(log_lik) and np.all(np.isfinite(gamma))
    assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-12)  # posteriors of K states, rounding only
    assert_allclose(hmm.transmat_.sum(axis=1), 1.0, rtol=1e-12)


def assert_events(hmm, warned, action):
    assert hmm.collapse_events_, f"expected a {action} event"
    for event in hmm.collapse_events_:
        assert set(event) == {"component", "iteration", "action", "reason"}
        assert event["action"] == action and event["reason"]
    assert len(warned) == len(hmm.collapse_events_)
    done = {"drop": "dropped", "reseed": "reseeded"}[action]
    assert all(re.match(rf"state \d+ was {done} at iteration \d+", str(w.message)) for w in warned)


def assert_monotone_after_repairs(hmm):
    """EM never lowers ln p(X) (PRML 9.4); a repair replaces the params, so the sequence is
    compared from the first iteration after the last repair on. lower_bounds_[i] belongs to
    iteration i + 1; a repair at iteration r changed the params that iteration r + 1 evaluates."""
    last = max((e["iteration"] for e in hmm.collapse_events_), default=0)
    bounds = np.asarray(hmm.lower_bounds_[last:])
    assert bounds.size >= 2
    # per-frame bounds near -3; sums of ~240 terms in another order: rounding near 1e-14
    assert np.all(np.diff(bounds) >= -1e-12), np.diff(bounds).min()


COLLAPSE_MESSAGE = re.compile(
    r"state (?P<k>\d+) \(expected visits [0-9.e+-]+, holding 1 distinct frame\) collapsed .*"
    r"Fixes: increase reg_covar; use the conjugate prior \(prior='default'\).*on_collapse='reseed' or 'drop'",
    re.DOTALL)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_raise_names_the_state_its_visits_its_distinct_frames_and_the_fixes(covariance_type):
    X, lengths = one_point_sequences(np.random.default_rng(0))
    hmm = GaussianHMM(3, covariance_type=covariance_type, reg_covar=0.0, random_state=0)
    with pytest.raises(CollapsedComponentError) as caught:
        hmm.fit(X, lengths)
    match = COLLAPSE_MESSAGE.search(str(caught.value))
    assert match, str(caught.value)
    assert caught.value.component == int(match["k"])
    assert "startprob_" not in vars(hmm)  # a failed fit sets nothing


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_reseed_gives_up_on_a_state_that_only_one_point_can_hold(covariance_type):
    """Every reseed of the one-point state lands on the identical frames again (they are the frames
    the other states explain worst): the bounded reseeds give up and say so."""
    X, lengths = one_point_sequences(np.random.default_rng(0))
    hmm = GaussianHMM(3, covariance_type=covariance_type, reg_covar=0.0, on_collapse="reseed", random_state=0)
    with pytest.raises(CollapsedComponentError, match=r"state \d+ collapsed again .* after \d+ reseeds") as caught:
        hmm.fit(X, lengths)
    for fix in ("reg_covar", "prior='default'", "on_collapse='drop'"):
        assert fix in str(caught.value)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_drop_removes_the_one_point_state_and_fits_the_rest(covariance_type):
    X, lengths = one_point_sequences(np.random.default_rng(0))
    hmm = GaussianHMM(3, covariance_type=covariance_type, reg_covar=0.0, on_collapse="drop", random_state=0)
    warned = fit_recording(hmm, X, lengths)
    assert_events(hmm, warned, "drop")
    K = 3 - len(hmm.collapse_events_)
    assert hmm.startprob_.shape == (K,) and hmm.transmat_.shape == (K, K) and hmm.means_.shape == (K, 2)
    assert_finite_fit(hmm, X, lengths)
    assert hmm.sample(20, random_state=0)[1].max() < K
    assert_monotone_after_repairs(hmm)


@pytest.mark.parametrize("on_collapse", ["raise", "reseed", "drop"])
def test_reg_covar_alone_keeps_the_one_point_state(on_collapse):
    """With the default reg_covar = 1e-6 the one-point state has covariance 1e-6 I: nothing collapses."""
    X, lengths = one_point_sequences(np.random.default_rng(0))
    hmm = GaussianHMM(3, covariance_type="full", on_collapse=on_collapse, random_state=0)
    assert fit_recording(hmm, X, lengths) == []
    assert hmm.collapse_events_ == []
    assert_finite_fit(hmm, X, lengths)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("data", ["one-point-state", "all-frames-identical"])
def test_map_prior_never_gives_nan_without_reg_covar(covariance_type, data):
    """The conjugate prior keeps every covariance positive definite (its scale is added to every
    scatter), even where maximum likelihood has no solution at all."""
    rng = np.random.default_rng(1)
    if data == "one-point-state":
        X, lengths = one_point_sequences(rng)
    else:
        X, lengths = np.tile([3.0, -1.0], (60, 1)), [30, 30]
    hmm = GaussianHMM(3, covariance_type=covariance_type, reg_covar=0.0, prior="default", random_state=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Number of distinct clusters")  # KMeans on one point
        warnings.filterwarnings("error", category=RuntimeWarning)
        hmm.fit(X, lengths)
    assert hmm.collapse_events_ == []
    assert_finite_fit(hmm, X, lengths)
    assert np.all(np.diff(hmm.lower_bounds_) >= -1e-10 * np.abs(hmm.lower_bounds_[1:]))  # MAP-EM: monotone


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_reseed_restarts_an_unvisited_state_reachable_and_keeps_forbidden_moves_zero(covariance_type):
    X, lengths = two_blob_sequences(np.random.default_rng(0))
    hmm = far_state_hmm("reseed", covariance_type)
    warned = fit_recording(hmm, X, lengths)
    assert_events(hmm, warned, "reseed")
    assert hmm.collapse_events_[0]["component"] == 2 and hmm.collapse_events_[0]["iteration"] == 1
    assert "expected visits" in hmm.collapse_events_[0]["reason"]
    assert_array_equal(hmm.transmat_ == 0, TRANSMAT == 0)  # the forbidden moves, and only they
    assert hmm.startprob_[2] == 0
    assert hmm.means_.shape == (3, 2) and np.all(np.abs(hmm.means_) < 20)  # restarted at a frame
    assert hmm.predict_proba(X, lengths)[:, 2].sum() > 1  # the reseeded state is visited again
    assert_finite_fit(hmm, X, lengths)
    assert_monotone_after_repairs(hmm)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_drop_removes_an_unvisited_state_its_start_row_and_column(covariance_type):
    X, lengths = two_blob_sequences(np.random.default_rng(0))
    hmm = far_state_hmm("drop", covariance_type)
    warned = fit_recording(hmm, X, lengths)
    assert_events(hmm, warned, "drop")
    assert [(e["component"], e["iteration"]) for e in hmm.collapse_events_] == [(2, 1)]
    assert hmm.transmat_.shape == (2, 2) and hmm.startprob_.shape == (2,) and hmm.means_.shape == (2, 2)
    assert_array_equal(hmm.transmat_ == 0, TRANSMAT[:2, :2] == 0)
    assert_finite_fit(hmm, X, lengths)
    assert_monotone_after_repairs(hmm)
    # the fit equals one started from the two kept states (the dropped one never held a frame)
    two = GaussianHMM(2, covariance_type=covariance_type, means_init=FAR_MEANS[:2],
                      precisions_init=far_state_hmm("drop", covariance_type).precisions_init[:2]
                      if covariance_type != "tied" else np.eye(2),
                      transmat_init=TRANSMAT[:2, :2] / TRANSMAT[:2, :2].sum(axis=1, keepdims=True),
                      startprob_init=STARTPROB[:2]).fit(X, lengths)
    assert_allclose(hmm.means_, two.means_, rtol=1e-6, atol=1e-8)  # a few iterations apart in tol only


def test_raise_keeps_an_unvisited_state_and_a_failed_fit_leaves_the_model():
    X, lengths = two_blob_sequences(np.random.default_rng(0))
    hmm = far_state_hmm("raise")
    assert fit_recording(hmm, X, lengths) == [] and hmm.collapse_events_ == []
    assert hmm.means_.shape == (3, 2)
    before = {k: np.copy(v) for k, v in vars(hmm).items() if k.endswith("_") and isinstance(v, np.ndarray)}
    bad, bad_lengths = one_point_sequences(np.random.default_rng(0))
    hmm.set_params(reg_covar=0.0, means_init=None, precisions_init=None)
    with pytest.raises(CollapsedComponentError):
        hmm.fit(bad, bad_lengths)
    for name, value in before.items():
        assert_array_equal(getattr(hmm, name), value, err_msg=name)


def test_drop_at_initialisation_is_refused_with_means_init_of_n_components():
    X, lengths = one_point_sequences(np.random.default_rng(0))
    hmm = GaussianHMM(3, reg_covar=0.0, on_collapse="drop",
                      means_init=np.array([[0.0, 0.0], [20.0, -20.0], [6.0, 6.0]]))
    with pytest.raises(CollapsedComponentError, match="dropped a state at initialisation.*means_init"):
        hmm.fit(X, lengths)


def test_a_model_that_dropped_a_state_round_trips_through_a_model_file(tmp_path):
    X, lengths = two_blob_sequences(np.random.default_rng(0))
    hmm = far_state_hmm("drop")
    fit_recording(hmm, X, lengths)
    hmm.save(tmp_path / "dropped.mixfit")
    loaded = mixfit.load(tmp_path / "dropped.mixfit")
    assert loaded.collapse_events_ == hmm.collapse_events_
    for name in ("startprob_", "transmat_", "means_", "precisions_cholesky_"):
        assert_array_equal(getattr(loaded, name), getattr(hmm, name), err_msg=name)
    assert loaded.score(X, lengths) == hmm.score(X, lengths)
    assert loaded.bic(X, lengths) == hmm.bic(X, lengths)


def test_on_collapse_is_checked_by_name():
    X, lengths = two_blob_sequences(np.random.default_rng(0))
    with pytest.raises(ValueError, match="on_collapse"):
        GaussianHMM(2, on_collapse="ignore").fit(X, lengths)


def test_drop_state_renormalises_rows_and_routes_a_row_that_only_entered_the_state():
    transmat = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [0.5, 0.0, 0.5]])  # 0 -> 1 only
    startprob = np.array([0.0, 1.0, 0.0])  # only 1 may start
    start, rows = drop_state(startprob, transmat, 1)
    # row 0 and the start went only into 1: they go on as 1 did, (0.2, 0.5) renormalised
    assert_allclose(start, [0.2 / 0.7, 0.5 / 0.7], rtol=1e-15)
    assert_allclose(rows, [[0.2 / 0.7, 0.5 / 0.7], [0.5, 0.5]], rtol=1e-15)
    with pytest.raises(CollapsedComponentError, match="dropping state 1 would leave state 0 with no allowed move"):
        drop_state(np.array([0.5, 0.0, 0.5]), np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]), 1)
