"""The compiled VVV agglomeration (kernels/mclust_hc_compiled.py) against the numpy one
(engine.mclust_hc.merge_tree): the very same merges, step by step, and the compiled tree is
what a sweep's cuts use."""

import numpy as np
import pytest
from sklearn.datasets import load_iris

from mixfit.datasets import load_faithful
from mixfit.engine import compiled_small_fits, mclust_hc
from mixfit.engine.mclust_hc import compiled_merge_tree, merge_tree, scaled_svd

pytest.importorskip("numba")

RNG = np.random.default_rng(3)
DATA = {
    "faithful": load_faithful()[0],
    "iris": load_iris().data,  # duplicated rows: exact ties, broken in np.argmin's order
    "grid": np.repeat(RNG.integers(0, 4, size=(40, 2)).astype(float), 3, axis=0),  # many ties
    "gaussian": RNG.normal(size=(120, 3)),
}


@pytest.mark.parametrize("name", sorted(DATA))
def test_compiled_tree_takes_numpys_merges(name):
    Z = scaled_svd(DATA[name])
    # exact: each cost is computed by the same operations in the same order
    np.testing.assert_array_equal(compiled_merge_tree(Z), merge_tree(Z))


def test_compiled_tree_with_other_alpha_beta():
    Z = scaled_svd(DATA["gaussian"])
    np.testing.assert_array_equal(compiled_merge_tree(Z, 0.1, 10.0), merge_tree(Z, 0.1, 10.0))


def test_a_sweep_builds_the_tree_compiled_and_cuts_it_alike(monkeypatch):
    X = DATA["iris"][:60].copy()
    mclust_hc._tree_of.cache_clear()
    mclust_hc._cut_of.cache_clear()
    calls = []
    real = mclust_hc.compiled_merge_tree
    monkeypatch.setattr(mclust_hc, "compiled_merge_tree", lambda Z: calls.append(1) or real(Z))
    with compiled_small_fits():
        inside = [mclust_hc.mclust_partition(X, k).copy() for k in (1, 3, 5)]
    assert calls == [1]  # one tree for every cut
    mclust_hc._tree_of.cache_clear()
    mclust_hc._cut_of.cache_clear()
    outside = [mclust_hc.mclust_partition(X, k) for k in (1, 3, 5)]  # a lone fit: numpy's tree
    assert calls == [1]
    for a, b in zip(inside, outside):
        np.testing.assert_array_equal(a, b)


def test_the_trees_two_by_two_determinant_is_numpys_to_the_bit():
    # the merge costs' det at D = 2 (kernels.mclust_hc_compiled._det) against np.linalg.det,
    # exactly: a merge is an argmin over the costs, so a last-bit change could change the tree.
    # Random, badly scaled, rank-one, row-swapped (|a10| > |a00|) and singular integer matrices.
    from mixfit.kernels.mclust_hc_compiled import _det

    rng = np.random.default_rng(0)
    matrices = [rng.normal(size=(2, 2)) * 10.0 ** rng.uniform(-8, 8) for _ in range(1000)]
    matrices += [A @ A.T for A in rng.normal(size=(500, 2, 4))]
    matrices += [np.outer(v, v) for v in rng.normal(size=(200, 2))]
    matrices += [rng.integers(-2, 3, size=(2, 2)).astype(float) for _ in range(300)]
    matrices += [np.array([[1e-3, 2.0], [5.0, 1.0]]), np.zeros((2, 2))]
    ours = np.array([_det(np.ascontiguousarray(W)) for W in matrices])
    assert np.array_equal(ours, np.array([np.linalg.det(W) for W in matrices]))
    assert (ours == 0).sum() > 50  # the singular ones are among them
    with pytest.raises(np.linalg.LinAlgError):  # not finite: np.linalg.det's refusal, as before
        _det(np.array([[np.nan, 1.0], [1.0, 1.0]]))


@pytest.mark.parametrize("name", sorted(DATA))
def test_first_table_on_two_threads_gives_the_same_merges(name):
    # inside spare_thread the singletons' costs are computed in two bands at once (one on the
    # executor's thread): the very same merges as the one-thread compiled tree and numpy's
    from concurrent.futures import ThreadPoolExecutor

    from mixfit.engine.mclust_hc import spare_thread

    Z = scaled_svd(DATA[name])
    assert Z.shape[0] >= mclust_hc.SPLIT_ROWS  # the split applies (at D = 2; beyond, a hand-off of nothing)
    with ThreadPoolExecutor(1) as executor, spare_thread(executor.submit):
        split = compiled_merge_tree(Z)
    np.testing.assert_array_equal(split, compiled_merge_tree(Z))
    np.testing.assert_array_equal(split, merge_tree(Z))


@pytest.mark.parametrize("name", sorted(DATA))
def test_the_spare_thread_shares_the_first_table_only_where_no_lapack_call_is_made(name):
    # at D = 2 the spare thread computes the later rows' band of the first table; beyond, each
    # cost calls LAPACK's getrf, which OpenBLAS runs no faster on two threads than on one, and
    # the spare thread is handed nothing (once, before the tree's compiled part begins)
    from concurrent.futures import Future

    from mixfit.engine.mclust_hc import spare_thread
    from mixfit.kernels import mclust_hc_compiled as kernel

    handed = []

    def submit(function, *args):
        handed.append(function)
        future = Future()
        future.set_result(function(*args))
        return future

    Z = scaled_svd(DATA[name])
    with spare_thread(submit):
        tree = compiled_merge_tree(Z)
    assert handed == ([kernel.pair_costs] if Z.shape[1] == 2 else [mclust_hc._nothing])
    np.testing.assert_array_equal(tree, merge_tree(Z))
