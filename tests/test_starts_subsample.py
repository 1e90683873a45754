"""init_params='kmeans_subsample' (engine/starts_chunked.py): scikit-learn's KMeans on a one-pass
weighted row sample, then every row assigned to its centres. Invariances, closed forms and
scikit-learn's own fit as oracles; sources (memmap, list, dask) are in test_starts.py."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from mixfit import GaussianMixture

# More rows than the start's sample (max(10 000, 256 K) rows): the sample is a true subsample.
N_ROWS = 12_000


def blobs(n_rows, centres, seed):
    rng = np.random.default_rng(seed)
    centres = np.asarray(centres, dtype=float)
    X = centres[rng.integers(0, centres.shape[0], n_rows)] + rng.normal(size=(n_rows, centres.shape[1]))
    return X


FAR_APART = [[0.0, 0.0, 0.0], [12.0, 0.0, 0.0], [0.0, 12.0, 0.0], [0.0, 0.0, 12.0], [12.0, 12.0, 12.0]]


def start(X, n_components, sample_weight=None, **kwargs):
    """The start itself as parameters (max_iter=0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=0 never converges
        return GaussianMixture(n_components, init_params="kmeans_subsample", max_iter=0,
                               **kwargs).fit(X, sample_weight=sample_weight)


def test_the_start_depends_on_the_seed_only_not_on_the_chunk_size():
    X = blobs(N_ROWS, FAR_APART, 0)
    ref = start(X, 5, random_state=3, chunk_size=4096)
    again = start(X, 5, random_state=3, chunk_size=4096)
    np.testing.assert_array_equal(again.means_, ref.means_)  # same seed, same chunks: bit for bit
    np.testing.assert_array_equal(again.covariances_, ref.covariances_)
    for chunk_size in (333, 5000, N_ROWS):
        other = start(X, 5, random_state=3, chunk_size=chunk_size)
        # the same sample and centres; the partition's sums in other chunk orders: rounding of
        # float64 sums over 12 000 rows of scale ~10
        np.testing.assert_allclose(other.means_, ref.means_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(other.covariances_, ref.covariances_, rtol=0, atol=1e-10)


def test_another_seed_draws_another_sample():
    # Overlapping blobs: where k-means has more than one local optimum, the start must depend on
    # the seed (a start that ignored random_state would give the same means every time).
    X = blobs(2000, [[0.0, 0.0], [1.5, 0.0], [0.0, 1.5], [1.5, 1.5]], 1)
    means = {start(X, 6, random_state=seed).means_.round(12).tobytes() for seed in range(4)}
    assert len(means) > 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_on_well_separated_data_the_fit_is_that_of_the_kmeans_start(seed):
    X = blobs(N_ROWS, FAR_APART, 10 + seed)
    fits = [GaussianMixture(5, init_params=init, random_state=seed, tol=1e-8).fit(X)
            for init in ("kmeans", "kmeans_subsample")]
    reference = SkGaussianMixture(5, random_state=seed, tol=1e-8).fit(X)  # scikit-learn's own
    # One optimum (blobs 12 standard deviations apart): the fits meet to EM's tol of 1e-8 per row.
    assert fits[1].lower_bound_ == pytest.approx(fits[0].lower_bound_, abs=1e-7)
    assert fits[1].lower_bound_ == pytest.approx(reference.lower_bound_, abs=1e-7)
    order = [np.argsort(fit.means_[:, 0] + 100 * fit.means_[:, 1] + 10_000 * fit.means_[:, 2]) for fit in fits]
    np.testing.assert_allclose(fits[1].means_[order[1]], fits[0].means_[order[0]], rtol=0, atol=1e-5)


def test_one_component_starts_at_the_weighted_moments_of_the_data():
    X = blobs(N_ROWS, FAR_APART, 2)
    w = np.random.default_rng(102).integers(0, 4, N_ROWS).astype(float)
    gm = start(X, 1, w, random_state=0, reg_covar=0.0)
    # closed form: one part, the weighted mean and the weighted (biased) covariance
    np.testing.assert_allclose(gm.means_[0], np.average(X, axis=0, weights=w), rtol=1e-12)
    np.testing.assert_allclose(gm.covariances_[0], np.cov(X.T, aweights=w, bias=True), rtol=1e-10)
    np.testing.assert_allclose(gm.weights_, [1.0])


def test_as_many_components_as_rows_puts_one_centre_on_each_row():
    X = np.random.default_rng(3).normal(size=(7, 2))
    gm = start(X, 7, random_state=0)
    # every part is one row: its mean is the row, its weight 1/7, its covariance reg_covar alone
    np.testing.assert_allclose(np.sort(gm.means_, axis=0), np.sort(X, axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(gm.weights_, np.full(7, 1 / 7), rtol=1e-12)
    np.testing.assert_allclose(gm.covariances_, np.broadcast_to(1e-6 * np.eye(2), (7, 2, 2)), rtol=1e-9)


def test_duplicate_rows_start_where_the_kmeans_start_does():
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 1.0], [5.0, 1.0]]), 40, axis=0)
    gm = start(X, 2, random_state=0)
    np.testing.assert_array_equal(np.sort(gm.means_, axis=0), [[0.0, 0.0], [5.0, 1.0]])
    np.testing.assert_allclose(np.sort(gm.weights_), [1 / 3, 2 / 3], rtol=1e-12)
    # more components than distinct rows: an empty part, as from 'kmeans' (the collapse policy's
    # business; on_collapse='raise' keeps it with reg_covar)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = start(X, 3, random_state=0)
        theirs = GaussianMixture(3, init_params="kmeans", random_state=0, max_iter=0).fit(X)
    assert np.sort(ours.weights_).tolist() == pytest.approx(np.sort(theirs.weights_).tolist(), abs=1e-12)


def test_zero_weights_are_rows_left_out_when_the_sample_holds_every_row():
    X = blobs(3000, FAR_APART, 4)
    w = np.random.default_rng(104).integers(0, 3, X.shape[0]).astype(float)
    kept = w > 0
    weighted = start(X, 5, w, random_state=1)
    without = start(X[kept], 5, w[kept], random_state=1)
    # The same rows in the same order with the same weights: the same KMeans; sums in another
    # chunking of the rows (rounding, data of scale ~10)
    np.testing.assert_allclose(weighted.means_, without.means_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(weighted.covariances_, without.covariances_, rtol=0, atol=1e-10)


def test_a_sample_never_draws_a_row_of_zero_weight():
    # A far blob of zero weight, among more rows than the sample holds: were one of its rows drawn,
    # k-means on the sample would give it a centre (it is 1000 standard deviations away), and the
    # partition a component of zero weight.
    X = blobs(N_ROWS, [[0.0, 0.0], [8.0, 0.0], [1000.0, 1000.0]], 5)
    w = (np.abs(X[:, 0]) < 100).astype(float)
    gm = start(X, 2, w, random_state=0)
    assert np.all(gm.means_ < 100) and np.all(gm.weights_ > 0.3)


@pytest.mark.parametrize("init_params", ["k-means++", "kmeans_subsample"])
def test_positive_integer_weights_are_repeated_rows_when_the_sample_holds_every_row(init_params):
    # Every weight positive and every row in the sample: the sample is the data, its weights
    # must go with it (they were once dropped when the sample size equalled n_samples).
    rng = np.random.default_rng(6)
    X = blobs(400, [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]], 6)  # overlapping: a start that is not exact shows
    w = rng.integers(1, 4, X.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        starts = [GaussianMixture(3, init_params=init_params, random_state=0, max_iter=0).fit(data, sample_weight=weights)
                  for data, weights in ((X, w), (np.repeat(X, w, axis=0), None))]
    # the same partition: means differ by summation order only (rounding at the data's scale of ~2)
    np.testing.assert_allclose(starts[0].means_, starts[1].means_, rtol=0, atol=1e-12)
