"""The hierarchical start: deterministic, a partition into exactly K clusters, Ward's criterion."""

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, ward

from mixfit import GaussianMixture
from mixfit.datasets import load_faithful
from mixfit.engine.hierarchical import build_tree, svd_transform


@pytest.fixture(scope="module")
def faithful():
    return load_faithful()[0]


def test_tree_is_deterministic_for_a_random_state(faithful):
    X = np.vstack([faithful] * 10)  # 2720 rows > MAX_ROWS: a random subset is drawn
    a = build_tree(X, np.random.default_rng(3))
    b = build_tree(X, np.random.default_rng(3))
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.merges, b.merges)
    assert not np.array_equal(a.rows, build_tree(X, np.random.default_rng(4)).rows)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_hierarchical_init_gives_the_same_fit_twice(faithful, covariance_type):
    fits = [GaussianMixture(3, covariance_type=covariance_type, init_params="hierarchical", random_state=0).fit(faithful)
            for _ in range(2)]
    np.testing.assert_array_equal(fits[0].means_, fits[1].means_)
    np.testing.assert_array_equal(fits[0].precisions_cholesky_, fits[1].precisions_cholesky_)


@pytest.mark.parametrize("k", [1, 2, 5, 17])
def test_partition_has_k_clusters_and_matches_scipy_cut(faithful, k):
    tree = build_tree(faithful, np.random.default_rng(0))
    labels = tree.partition(k)
    assert set(labels) == set(range(k))
    # scipy's own cut of the same tree (maxclust) where it yields k clusters (no tied heights)
    theirs = fcluster(tree.merges, k, criterion="maxclust")
    if len(set(theirs)) == k:
        pairs = set(zip(labels, theirs))
        assert len(pairs) == k  # the same partition up to label names


def test_svd_transform_whitens_and_is_affine_invariant(faithful):
    Z = svd_transform(faithful)
    np.testing.assert_allclose(np.cov(Z.T, bias=True), np.eye(2), atol=1e-10)  # unit variance per axis
    A = np.array([[3.0, 1.0], [0.5, 2.0]])
    tree = ward(Z)
    moved = ward(svd_transform(faithful @ A.T + 7.0))
    # an affine map changes the whitened rows only by a rotation, so the merge heights agree;
    # the top of the tree (the cuts at K <= 20) compared, as exact ties among duplicated rows
    # low in the tree may be broken in another order after rounding
    np.testing.assert_allclose(np.sort(tree[:, 2])[-20:], np.sort(moved[:, 2])[-20:], rtol=1e-6)


def test_tree_skips_rows_of_zero_weight(faithful):
    w = np.ones(faithful.shape[0])
    w[::2] = 0
    tree = build_tree(faithful, np.random.default_rng(0), sample_weight=w)
    assert np.all(w[tree.rows] > 0)
