"""Scale: the same fit from numpy, a memmap, an out-of-core array-like and dask (threaded and a
two-process LocalCluster), for any chunking, with weights; lazy input read once per pass and
never whole; bad values deep inside lazy input rejected like in-memory ones."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import SEPARATED
from numpy.testing import assert_allclose, assert_array_equal

from mixfit import BayesianGaussianMixture, GaussianMixture

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import dask

# Each backend sums the same per-chunk values in another order (threads in chunk order, dask by
# a tree); after 15 iterations of a well-conditioned fit the difference stays near 1e-13.
RTOL = 1e-10


class CountingArray:
    """An out-of-core array-like: shape, dtype and row slicing only; it counts how often each row
    is read and the largest single read."""

    def __init__(self, X):
        self._X = X
        self.shape = X.shape
        self.dtype = X.dtype
        self.reads = np.zeros(X.shape[0], dtype=int)
        self.largest_read = 0

    def __getitem__(self, rows):
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError(f"CountingArray reads row slices only, not {rows!r}")
        start, stop, _ = rows.indices(self.shape[0])
        self.reads[start:stop] += 1
        self.largest_read = max(self.largest_read, stop - start)
        return self._X[start:stop].copy()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X, _ = SEPARATED.sample(600, rng)
    w = rng.uniform(0.2, 3.0, size=600)
    w[::17] = 0.0  # rows that must not count
    return X, w


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c
    cluster.close()


def _memmap(X, tmp_path, name="X.dat"):
    mapped = np.memmap(tmp_path / name, dtype=X.dtype, mode="w+", shape=X.shape)
    mapped[:] = X
    mapped.flush()
    return np.memmap(tmp_path / name, dtype=X.dtype, mode="r", shape=X.shape)


def _fit(estimator, X, w, scheduler=None):
    with warnings.catch_warnings(), dask.config.set(scheduler=scheduler or "threads"):
        warnings.simplefilter("ignore")  # tol=0 never converges
        return estimator.fit(X, sample_weight=w)


def _assert_same_fit(a, b, rtol=RTOL):
    for name in ["weights_", "means_", "precisions_cholesky_"]:
        assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=rtol, err_msg=name)
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


ESTIMATORS = {
    # 'random' responsibilities come from fixed row blocks: one start for every backend.
    "em-full": lambda: GaussianMixture(3, init_params="random", tol=0, max_iter=15, random_state=3),
    "em-diag": lambda: GaussianMixture(3, covariance_type="diag", init_params="random", tol=0,
                                       max_iter=15, random_state=3, chunk_size=41),
    "vb-full-dp": lambda: BayesianGaussianMixture(n_components=4, init_params="random", tol=0,
                                                  max_iter=15, random_state=3, chunk_size=64),
    "vb-tied": lambda: BayesianGaussianMixture(n_components=3, covariance_type="tied", init_params="random",
                                               tol=0, max_iter=15, random_state=3),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_numpy_memmap_reader_dask_and_cluster_fit_alike(name, data, tmp_path, client):
    X, w = data
    reference = _fit(ESTIMATORS[name](), X, w)
    inputs = {
        "memmap": (_memmap(X, tmp_path), w, None),
        "reader": (CountingArray(X), w, None),
        "dask": (da.from_array(X, chunks=(97, 3)), da.from_array(w, chunks=50), None),
        "dask-numpy-weights": (da.from_array(X, chunks=(250, 2)), w, None),
        "cluster": (da.from_array(X, chunks=(70, 3)), da.from_array(w, chunks=70), client),
    }
    for backend, (Xb, wb, scheduler) in inputs.items():
        fitted = _fit(ESTIMATORS[name](), Xb, wb, scheduler)
        _assert_same_fit(fitted, reference)
        assert fitted.n_features_in_ == 3 and not hasattr(fitted, "feature_names_in_"), backend


@pytest.mark.parametrize("chunk_size", [5, 64, 599, None])
def test_any_chunk_size_and_block_size_fit_alike(chunk_size, data):
    X, w = data
    make = lambda: GaussianMixture(3, init_params="random", tol=0, max_iter=10, random_state=1,
                                   chunk_size=chunk_size)
    reference = _fit(make(), X, w)
    _assert_same_fit(_fit(make(), CountingArray(X), w), reference)
    _assert_same_fit(_fit(make(), da.from_array(X, chunks=(33, 3)), w), reference)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data"])
def test_chunked_initialisation_is_the_same_on_every_out_of_core_backend(init_params, data, tmp_path):
    X, w = data
    make = lambda chunk: GaussianMixture(3, init_params=init_params, max_iter=0,
                                         random_state=5, chunk_size=chunk)
    memmap = _fit(make(50), _memmap(X, tmp_path), w)
    for Xb in [CountingArray(X), da.from_array(X, chunks=(123, 3))]:
        _assert_same_fit(_fit(make(7), Xb, w), memmap, rtol=1e-12)  # one start, sums reordered


def test_chunked_kmeans_start_converges_to_the_in_memory_optimum(data, tmp_path):
    X, _ = data
    in_memory = _fit(GaussianMixture(3, random_state=0), X, None)
    chunked = _fit(GaussianMixture(3, random_state=0), _memmap(X, tmp_path), None)
    order = lambda m: np.lexsort(m.means_.T)
    assert_allclose(chunked.means_[order(chunked)], in_memory.means_[order(in_memory)], rtol=1e-4, atol=1e-4)
    assert_allclose(chunked.lower_bound_, in_memory.lower_bound_, rtol=1e-6)


def test_each_pass_reads_each_row_once_and_never_the_whole_array(data):
    X, w = data
    reader = CountingArray(X)
    means = SEPARATED.means + 0.3
    gm = _fit(GaussianMixture(3, means_init=means, tol=0, max_iter=6, chunk_size=50), reader, w)
    passes = 1 + 1 + gm.n_iter_  # the validating scan, the initial partition, one per iteration
    assert_array_equal(reader.reads, passes)
    assert reader.largest_read <= 50
    reader.reads[:] = 0
    for method in [gm.predict, gm.predict_proba, gm.score_samples]:
        method(reader)
    assert_array_equal(reader.reads, 3)  # one pass per call


def test_float32_stays_float32_on_every_backend(data, tmp_path):
    X, w = data
    X32 = X.astype(np.float32)
    make = lambda: GaussianMixture(3, init_params="random", tol=0, max_iter=10, random_state=2)
    reference = _fit(make(), X32, w)
    for Xb in [_memmap(X32, tmp_path), CountingArray(X32), da.from_array(X32, chunks=(101, 3))]:
        fitted = _fit(make(), Xb, w)
        assert fitted.means_.dtype == np.float32 and fitted.precisions_cholesky_.dtype == np.float32
        _assert_same_fit(fitted, reference, rtol=1e-4)  # float32 chunk products, float64 sums
        proba = fitted.predict_proba(Xb)
        assert np.asarray(proba).dtype == np.float32


@pytest.mark.parametrize("make", [
    lambda: GaussianMixture(3, random_state=0),
    lambda: BayesianGaussianMixture(n_components=3, random_state=0),
], ids=["em", "vb"])
def test_predictions_on_dask_are_lazy_dask_arrays_equal_to_numpy(make, data, client):
    X, _ = data
    fitted = _fit(make(), X, None)
    Xd = da.from_array(X, chunks=(77, 3))
    for method in ["predict", "predict_proba", "score_samples"]:
        lazy = getattr(fitted, method)(Xd)
        assert isinstance(lazy, da.Array), method
        assert lazy.chunks[0] == Xd.chunks[0]
        with dask.config.set(scheduler=client):
            assert_allclose(lazy.compute(), getattr(fitted, method)(X), rtol=1e-12, err_msg=method)
    assert_allclose(fitted.score(Xd), fitted.score(X), rtol=1e-12)


def test_integer_lazy_input_is_read_as_float64(data):
    X, _ = data
    Xi = np.round(X * 10).astype(np.int32)
    lazy = _fit(GaussianMixture(3, init_params="random", tol=0, max_iter=5, random_state=0), CountingArray(Xi), None)
    dense = _fit(GaussianMixture(3, init_params="random", tol=0, max_iter=5, random_state=0), Xi, None)
    assert lazy.means_.dtype == np.float64
    _assert_same_fit(lazy, dense)


def _with_bad_last_row(X, value):
    bad = X.copy()
    bad[-1, 1] = value
    return bad


@pytest.mark.parametrize("value, message", [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")],
                         ids=["nan", "inf"])
def test_bad_value_in_the_last_chunk_raises_like_numpy_and_leaves_the_model(value, message, data, tmp_path):
    X, w = data
    bad = _with_bad_last_row(X, value)
    fitted = _fit(GaussianMixture(3, random_state=0, chunk_size=64), X, w)
    before = {k: np.copy(v) for k, v in vars(fitted).items() if k.endswith("_") and isinstance(v, np.ndarray)}
    if not np.isnan(value):  # fit takes NaN as missing (issue 18, tests/test_missing_fit.py)
        with pytest.raises(ValueError, match=message):
            fitted.fit(bad)  # numpy: scikit-learn's message
    for Xb in [_memmap(bad, tmp_path), CountingArray(bad), da.from_array(bad, chunks=(64, 3))]:
        if np.isnan(value):  # prediction takes NaN as missing (issue 18): as in memory, chunk by chunk
            assert_array_equal(np.asarray(fitted.predict(Xb)), fitted.predict(bad))
            continue
        with pytest.raises(ValueError, match=rf"{message}.*first at row {X.shape[0] - 1}"):
            fitted.fit(Xb, sample_weight=w)
        with pytest.raises(ValueError, match=message):
            np.asarray(fitted.predict(Xb))  # dask: raised when computed
    for name, value_before in before.items():
        assert_array_equal(getattr(fitted, name), value_before, err_msg=name)


def test_bad_metadata_and_weights_of_lazy_input_name_the_argument(data):
    X, w = data
    gm = GaussianMixture(3)
    with pytest.raises(ValueError, match="X has shape .*expected a 2-D array"):
        gm.fit(CountingArray(X[:, 0]))
    with pytest.raises(ValueError, match="X has complex dtype"):
        gm.fit(CountingArray(X.astype(complex)))
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        gm.fit(CountingArray(X[:2]))
    bad_w = w.copy()
    bad_w[-1] = -1.0
    with pytest.raises(ValueError, match="sample_weight has 1 entries that are NaN, infinite or negative"):
        gm.fit(da.from_array(X, chunks=100), sample_weight=da.from_array(bad_w, chunks=100))
    with pytest.raises(ValueError, match="sample_weight has negative entries"):
        gm.fit(CountingArray(X), sample_weight=bad_w)
    with pytest.raises(ValueError, match="sample_weight has shape"):
        gm.fit(da.from_array(X, chunks=100), sample_weight=da.from_array(w[:-1], chunks=100))


def test_statistics_tree_reduce_with_the_params_in_the_graph_once(data, monkeypatch):
    from mixfit.backends import as_source
    from mixfit.backends import dask as dask_backend

    X, _ = data
    source = as_source(da.from_array(X, chunks=(10, 3)), None, 4)  # 60 blocks
    graphs = []
    real_compute = dask.compute

    def recording_compute(value):
        graphs.append(dict(value.__dask_graph__()))
        return real_compute(value)

    monkeypatch.setattr(dask_backend.dask, "compute", recording_compute)
    total = source.map_reduce(lambda Xc, w: Xc.sum(axis=0))
    assert_allclose(total, X.sum(axis=0), rtol=1e-12)
    graph = graphs[0]
    assert sum(str(key).startswith("mixfit-fn-") for key in graph) == 1  # the function, once

    def depth(key, memo={}):  # noqa: B006  (memo per call of this test)
        if key not in memo:
            deps = dask.core.get_dependencies(graph, key)
            memo[key] = 1 + max((depth(d) for d in deps), default=0)
        return memo[key]

    root_depth = max(depth(key) for key in graph)
    # leaf data -> block value -> ceil(log_4 60) = 3 levels of sums (a chain would be 60)
    assert root_depth <= 2 + int(np.ceil(np.log(60) / np.log(4))) + 2


def test_importing_mixfit_does_not_import_dask():
    code = "import sys, mixfit; sys.exit('dask' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
