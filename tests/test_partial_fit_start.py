"""partial_fit's first call: the 'kmeans' start in bounded memory (docs/streaming.md, "The first
call's start"). A batch larger than the start's row sample starts as a memmap of the same rows
does (k-means++ on a one-pass sample, then chunked Lloyd), never from a copy of the batch; a
smaller batch starts exactly as ``fit`` (scikit-learn's KMeans; test_partial_fit.py)."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans

from mixfit import BayesianGaussianMixture, GaussianMixture
from mixfit.backends import ArraySource
from mixfit.engine import starts_chunked
from mixfit.engine.starts import kmeans_centres

CENTRES = np.array([[0.0, 0.0, 0.0], [8.0, 0.0, 0.0], [0.0, 8.0, 0.0], [0.0, 0.0, 8.0]])


def _rows(n_rows, seed=0):
    """Four well-separated spherical clusters in D = 3, rows in random order."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(c, 1.0, size=(n_rows // 4, 3)) for c in CENTRES])
    return X[rng.permutation(X.shape[0])]


def _memmap(X, tmp_path):
    mm = np.memmap(tmp_path / "rows.dat", dtype=X.dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    return np.memmap(tmp_path / "rows.dat", dtype=X.dtype, mode="r", shape=X.shape)


N_ROWS = 12_000  # above the start's row sample of 10 000 rows (K <= 10): the bounded start


def test_the_batch_is_above_the_row_sample():
    # the premise of the tests below: N_ROWS rows take the bounded start, not scikit-learn's KMeans
    source = ArraySource(_rows(N_ROWS), None, 4096)
    assert not starts_chunked.whole_sample(source, 4)


def test_first_call_above_the_row_sample_starts_as_a_memmap_fit(tmp_path):
    # the first call is the start and one EM step; out of core, fit's 'kmeans' start is the same
    # chunked k-means from the same seed, so fit(memmap, max_iter=1) is the oracle
    X = _rows(N_ROWS)
    online = GaussianMixture(4, random_state=0).partial_fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge
        one_step = GaussianMixture(4, random_state=0, max_iter=1).fit(_memmap(X, tmp_path))
    # the same start and E-step; the M-step sees the statistics scaled by 1/N then by N: rounding
    assert_allclose(online.weights_, one_step.weights_, rtol=1e-12)
    assert_allclose(online.means_, one_step.means_, rtol=1e-12, atol=1e-12)
    assert_allclose(online.precisions_cholesky_, one_step.precisions_cholesky_, rtol=1e-10)
    assert_allclose(online.lower_bound_, one_step.lower_bound_, rtol=1e-12)


def test_a_weighted_first_call_starts_as_a_weighted_memmap_fit(tmp_path):
    # the one-pass sample draws rows by weight (zero-weight rows never), and Lloyd's sums are
    # weighted: the same start as fit's out of core from the same seed
    X = _rows(N_ROWS, seed=3)
    w = np.random.default_rng(3).integers(0, 3, size=X.shape[0]).astype(float)
    online = GaussianMixture(4, random_state=0).partial_fit(X, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge
        one_step = GaussianMixture(4, random_state=0, max_iter=1).fit(_memmap(X, tmp_path), sample_weight=w)
    # the same start and E-step; the M-step sees the statistics scaled by 1/N then by N: rounding
    assert_allclose(online.weights_, one_step.weights_, rtol=1e-12)
    assert_allclose(online.means_, one_step.means_, rtol=1e-12, atol=1e-12)
    assert_allclose(online.precisions_cholesky_, one_step.precisions_cholesky_, rtol=1e-10)


def test_the_bounded_start_is_a_lloyd_fixed_point_as_scikit_learns():
    # scikit-learn's KMeans (best of 10) finds the four clusters; the bounded start's chunked
    # Lloyd passes end at the same partition, so at the same centres (the partition's means)
    X = _rows(N_ROWS)
    ours = kmeans_centres(ArraySource(X, None, 4096), 4, np.random.default_rng(0), bounded=True)
    theirs = KMeans(4, n_init=10, random_state=0).fit(X).cluster_centers_
    ours, theirs = (c[np.argsort(c @ [1.0, 10.0, 100.0])] for c in (ours, theirs))
    # the same rows' means, summed in other orders (chunks about the centres' mean; scikit-learn's
    # about the data's mean): float64 rounding
    assert_allclose(ours, theirs, rtol=0, atol=1e-10)


def test_the_first_call_is_deterministic_under_random_state():
    X = _rows(N_ROWS, seed=1)
    a = GaussianMixture(4, random_state=7).partial_fit(X)
    b = GaussianMixture(4, random_state=7).partial_fit(X)
    assert_array_equal(a.means_, b.means_)
    assert_array_equal(a.precisions_cholesky_, b.precisions_cholesky_)


def test_the_first_call_holds_no_copy_of_the_batch():
    # scikit-learn's KMeans copies the rows (copy_x) and adds temporaries, ~2x the batch; the
    # bounded start holds the 10 000-row sample and a few chunks' workspace per pass
    X = _rows(400_000)
    gm = GaussianMixture(4, random_state=0, chunk_size=4096)  # the step's workspace: a few chunks
    tracemalloc.start()
    try:
        gm.partial_fit(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * X.nbytes, (peak, X.nbytes)


@pytest.mark.parametrize("n_rows", [1200, N_ROWS])
def test_stochastic_vb_first_call_is_the_fit_of_the_same_start(n_rows, tmp_path):
    # BayesianGaussianMixture's first call fits its batch from the bounded start: a memmap fit of
    # the same rows from the same seed (the same start) to convergence, then one iteration
    X = _rows(n_rows, seed=2)
    fitted = BayesianGaussianMixture(n_components=4, random_state=0, warm_start=True).fit(_memmap(X, tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge
        fitted.set_params(max_iter=1).fit(_memmap(X, tmp_path))
    online = BayesianGaussianMixture(n_components=4, random_state=0).partial_fit(X)
    # the same start and iterations, chunk sums in the same order; the step's M-step sees the
    # statistics scaled by 1/N then by N: rounding
    assert_allclose(online.weights_, fitted.weights_, rtol=1e-10, atol=1e-12)
    assert_allclose(online.means_, fitted.means_, rtol=1e-10, atol=1e-10)
    assert_allclose(online.precisions_cholesky_, fitted.precisions_cholesky_, rtol=1e-8)
