"""GaussianMixture.fit's n_init restarts stacked on small in-memory data (estimators/restarts.py,
engine/stacked.fit_restarts): the same fit as the restarts one after another (engine.fit), which
the same estimator runs when the stacked path is switched off."""

import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from sklearn.exceptions import ConvergenceWarning

from mixfit import GaussianMixture
from mixfit.engine import progress
from mixfit.estimators import restarts


def overlapping(seed, n=240):
    # Three overlapping blobs: restarts from random partitions end at different optima, so which
    # restart is kept matters.
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [2.0, 0.5], [0.5, 2.0]])
    return centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 2))


def fit_both(monkeypatch, X, sample_weight=None, **params):
    """(stacked, one after another): the same estimator, with the stacked path on and off."""
    calls = []
    stacked_fit = restarts.fit_restarts

    def counted(*args, **kwargs):
        calls.append(1)
        return stacked_fit(*args, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        monkeypatch.setattr(restarts, "fit_restarts", counted)
        stacked = GaussianMixture(**params).fit(X, sample_weight=sample_weight)
        assert calls, "the stacked path was not taken"
        monkeypatch.setattr(restarts, "_MAX_STACKED_VALUES", 0)  # every fit: one restart after another
        alone = GaussianMixture(**params).fit(X, sample_weight=sample_weight)
    assert len(calls) == 1
    return stacked, alone


def assert_same_fit(stacked, alone):
    # The same restarts from the same starts: the stacked E-step sums in another order, rounding
    # of float64 sums over a few hundred rows of scale ~3 (fit_many's bar, 1e-10). Two restarts
    # that reach one optimum with their components in another order have lower bounds equal to
    # rounding, and either may be the first best: the components are compared in one order.
    assert stacked.lower_bound_ == pytest.approx(alone.lower_bound_, abs=1e-10)
    order = [np.lexsort(fit.means_.T[::-1]) for fit in (stacked, alone)]
    np.testing.assert_allclose(stacked.weights_[order[0]], alone.weights_[order[1]], rtol=0, atol=1e-10)
    np.testing.assert_allclose(stacked.means_[order[0]], alone.means_[order[1]], rtol=0, atol=1e-10)
    covariances = [fit.covariances_ if fit.covariance_type == "tied" else fit.covariances_[o]
                   for fit, o in zip((stacked, alone), order)]
    np.testing.assert_allclose(covariances[0], covariances[1], rtol=0, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_stacked_restarts_are_the_restarts_one_after_another(covariance_type, monkeypatch):
    X = overlapping(0)
    stacked, alone = fit_both(monkeypatch, X, n_components=3, covariance_type=covariance_type, n_init=6,
                              init_params="random_from_data", random_state=1, tol=1e-6)
    assert_same_fit(stacked, alone)


@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_weighted_restarts_and_the_kmeans_state_shared_by_them(init_params, monkeypatch):
    # 'kmeans' draws every restart's KMeans seed from one legacy RandomState, in restart order
    X = overlapping(1)
    w = np.random.default_rng(11).integers(0, 4, X.shape[0]).astype(float)
    stacked, alone = fit_both(monkeypatch, X, w, n_components=3, n_init=4, init_params=init_params,
                              random_state=5, max_iter=30)
    assert_same_fit(stacked, alone)


def test_the_kept_restart_is_the_first_best(monkeypatch):
    # Lower bounds per restart, seen through the progress callback (the stacked runs report theirs
    # when their results are in): the fit keeps the first of the largest, as engine.fit does.
    X = overlapping(2)
    seen = []
    with progress(lambda n_iter, bound: seen.append((n_iter, bound))):
        stacked, alone = fit_both(monkeypatch, X, n_components=3, n_init=5, init_params="random", random_state=3)
    assert_same_fit(stacked, alone)
    assert stacked.n_iter_ == alone.n_iter_ and stacked.converged_ == alone.converged_
    half = len(seen) // 2
    runs = [[]]
    for n_iter, bound in seen[:half]:  # the stacked fit's callbacks, then the sequential fit's
        if n_iter == 1 and runs[-1]:
            runs.append([])
        runs[-1].append(bound)
    finals = [run[-1] for run in runs]
    assert len(runs) == 5 and len(set(np.round(finals, 6))) > 1  # the restarts differ
    assert stacked.lower_bound_ == finals[int(np.argmax(finals))]
    np.testing.assert_allclose(np.array(seen[:half]), np.array(seen[half:]), rtol=0, atol=1e-10)
