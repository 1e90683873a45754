"""The fitting loop (engine.py) and its row source (backends/memory.py): monotone objective,
chunk-size invariance, bounded chunks, restarts, max_iter, convergence and warm starts."""

import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose, assert_array_equal

from mixfit import GaussianMixture, engine
from mixfit.backends import ArraySource, default_chunk_size
from mixfit.engine.starts import initial_stats
from mixfit.exceptions import ConvergenceWarning
from mixfit.families.registry import make_covariance
from mixfit.models import GaussianEM

FITTED = ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"]


def assert_fits_close(a, b, rtol):
    for name in FITTED:
        expected = getattr(b, name)
        # atol at the array's own scale: means and off-diagonals have entries near zero.
        assert_allclose(getattr(a, name), expected, rtol=rtol, atol=rtol * np.abs(expected).max(), err_msg=name)


def fit_quietly(estimator, X, **kwargs):
    """fit, ignoring the ConvergenceWarning that a deliberate tol=0 or small max_iter raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, **kwargs)


@pytest.fixture
def X(separated, rng):
    X, _ = separated.sample(700, rng)
    return X


@pytest.mark.parametrize("weighting", ["unweighted", "weighted"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_never_decreases(covariance_type, weighting, tutorial, rng):
    # The tutorial's overlapping components and a random start make EM take many small steps.
    X, _ = tutorial.sample(600, rng)
    w = rng.uniform(0.2, 3.0, size=X.shape[0]) if weighting == "weighted" else None
    # reg_covar=0: then each M-step is the exact maximiser of (9.30) and EM's monotonicity
    # holds; a ridge makes the M-step a slightly different map.
    gm = GaussianMixture(3, covariance_type=covariance_type, init_params="random", reg_covar=0.0,
                         tol=1e-10, max_iter=200, random_state=1)
    bounds = np.array(fit_quietly(gm, X, sample_weight=w).lower_bounds_)
    assert len(bounds) > 10
    # Near convergence successive bounds agree to the rounding of a sum of n logs, |lb| * 1e-13.
    assert np.all(np.diff(bounds) >= -1e-13 * np.abs(bounds).max())


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_is_the_same_for_every_chunk_size(covariance_type, X):
    fits = {
        size: fit_quietly(GaussianMixture(3, covariance_type=covariance_type, chunk_size=size, tol=0,
                                          max_iter=25, random_state=0), X)
        for size in [7, 100, None]
    }
    for size in [7, 100]:
        # Sums over different chunkings differ by rounding (~1e-15); 25 contracting EM
        # iterations on separated data keep that far below 1e-10.
        assert_fits_close(fits[size], fits[None], rtol=1e-10)
        assert_allclose(fits[size].lower_bounds_, fits[None].lower_bounds_, rtol=1e-12)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_initialisation_is_the_same_for_every_chunk_size(init_params, X):
    starts = {
        size: GaussianMixture(3, init_params=init_params, chunk_size=size, max_iter=0, random_state=0).fit(X)
        for size in [7, 100, None]
    }
    for size in [7, 100]:
        assert_fits_close(starts[size], starts[None], rtol=1e-12)  # one pass, summed in other orders


def test_memmap_input_fits_like_an_array(X, tmp_path):
    mapped = np.memmap(tmp_path / "X.dat", dtype=np.float64, mode="w+", shape=X.shape)
    mapped[:] = X
    mapped.flush()
    readonly = np.memmap(tmp_path / "X.dat", dtype=np.float64, mode="r", shape=X.shape)
    # The same start for both: a memmap is initialised without loading it (init_chunked.py), an
    # in-memory array by scikit-learn's KMeans, so their 'kmeans' starts differ.
    start = GaussianMixture(3, max_iter=0, random_state=0).fit(X).means_
    from_file = fit_quietly(GaussianMixture(3, chunk_size=7, tol=0, max_iter=10, means_init=start), readonly)
    in_memory = fit_quietly(GaussianMixture(3, tol=0, max_iter=10, means_init=start), X)
    assert_fits_close(from_file, in_memory, rtol=1e-10)  # chunk sums in another order only
    assert_array_equal(from_file.predict(readonly), in_memory.predict(X))


class _ChunkRecorder:
    """Records the rows of every chunk GaussianEM sees, in fit, predict and score."""

    def __init__(self, monkeypatch):
        self.rows = []
        for name in ["accumulate", "statistics", "log_prob_components"]:
            original = getattr(GaussianEM, name)
            monkeypatch.setattr(GaussianEM, name, self._wrap(original))

    def _wrap(self, original):
        def recorded(model, X, *args, **kwargs):
            self.rows.append(X.shape[0])
            return original(model, X, *args, **kwargs)

        return recorded


@pytest.mark.parametrize("init_params", ["kmeans", "random_from_data"])
def test_model_never_sees_more_than_chunk_size_rows(init_params, X, monkeypatch):
    recorder = _ChunkRecorder(monkeypatch)
    gm = GaussianMixture(3, chunk_size=64, max_iter=3, init_params=init_params, random_state=0)
    fit_quietly(gm, X)
    gm.predict_proba(X)
    gm.score_samples(X)
    assert len(recorder.rows) > 3 * X.shape[0] // 64
    assert max(recorder.rows) <= 64


def test_default_chunk_size_never_holds_n_by_k(monkeypatch, rng):
    """With the default chunk_size, a fit on more rows than one chunk holds never forms an
    (N, K) array: every E-step sees at most default_chunk_size rows."""
    K, D = 3, 2
    full = make_covariance("full")  # GaussianMixture's default type sizes the chunks
    limit = default_chunk_size(D, K, np.dtype(np.float64).itemsize, full.workspace_columns(D, K), full.chunk_bytes)
    n = limit + limit // 2 + 1
    X = rng.normal(size=(n, D))
    recorder = _ChunkRecorder(monkeypatch)
    fit_quietly(GaussianMixture(K, max_iter=2, init_params="random_from_data", random_state=0), X)
    assert n > limit and max(recorder.rows) <= limit


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_max_iter_zero_returns_the_given_start(covariance_type, X, separated, make_start, rng):
    start = make_start(separated, covariance_type, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # no iteration asked, nothing to warn
        gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=0, **start).fit(X)
    assert gm.n_iter_ == 0 and not gm.converged_ and gm.lower_bounds_ == []
    assert_allclose(gm.weights_, start["weights_init"], rtol=1e-15)  # stored as given
    assert_allclose(gm.means_, start["means_init"], rtol=1e-15)
    # One Cholesky factorisation of the given precision and its product back: rounding only.
    assert_allclose(gm.precisions_, start["precisions_init"], rtol=1e-12)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_max_iter_zero_returns_the_start_the_first_iteration_uses(init_params, X):
    """The bound recorded by the first E-step is the log-likelihood of the initialisation."""
    start = GaussianMixture(3, init_params=init_params, max_iter=0, random_state=5).fit(X)
    one = fit_quietly(GaussianMixture(3, init_params=init_params, max_iter=1, tol=0, random_state=5), X)
    assert_allclose(start.score(X), one.lower_bounds_[0], rtol=1e-12)  # the same sum, chunked alike


def test_best_of_n_init_is_kept(X):
    """engine.fit runs every start and keeps the one with the highest final lower bound."""
    model = GaussianEM(make_covariance("full"), reg_covar=1e-6)
    source = ArraySource(X, None, 100)
    starts = []

    def start(child):
        stats = initial_stats(model, source, 3, "random", child)
        starts.append(model.maximize(stats, None))
        return starts[-1]

    options = engine.FitOptions(tol=1e-3, max_iter=4, n_init=5)
    best = engine.fit(model, source, start, options, np.random.default_rng(3), report=lambda _: None)
    runs = [engine.run(model, source, s, options, report=lambda _: None) for s in starts]
    assert len(starts) == 5
    bounds = [r.lower_bound for r in runs]
    assert len(set(bounds)) > 1  # the starts differ, so the choice matters
    assert best.lower_bound == max(bounds)
    assert_array_equal(best.params.means, runs[int(np.argmax(bounds))].params.means)


def test_convergence_warning_only_when_not_converged(X):
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        gm = GaussianMixture(3, max_iter=2, tol=0, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gm = GaussianMixture(3, max_iter=500, tol=1e-6, random_state=0).fit(X)
    assert gm.converged_ and gm.n_iter_ < 500
    assert abs(gm.lower_bounds_[-1] - gm.lower_bounds_[-2]) < 1e-6


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_continues_the_previous_fit(covariance_type, X, separated, make_start, rng):
    start = make_start(separated, covariance_type, rng)
    warm = GaussianMixture(3, covariance_type=covariance_type, warm_start=True, max_iter=4, tol=0, **start)
    fit_quietly(warm, X)
    first_bounds = list(warm.lower_bounds_)
    fit_quietly(warm, X)
    straight = fit_quietly(GaussianMixture(3, covariance_type=covariance_type, max_iter=8, tol=0, **start), X)
    assert_fits_close(warm, straight, rtol=1e-12)  # the same eight iterations; rounding only
    assert_allclose(first_bounds + warm.lower_bounds_, straight.lower_bounds_, rtol=1e-12)


def test_without_warm_start_a_refit_starts_afresh(X):
    gm = GaussianMixture(3, max_iter=3, tol=0, random_state=0)
    first = fit_quietly(gm, X).lower_bounds_
    assert_allclose(fit_quietly(gm, X).lower_bounds_, first, rtol=0)  # same seed, same fit
