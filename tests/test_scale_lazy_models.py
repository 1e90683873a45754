"""Scale for the other models: BernoulliMixture and the HMMs fit the same from numpy, a memmap, an
out-of-core array-like (and dask, for BernoulliMixture) for any chunk size; lazy input is read
chunk by chunk, never whole; a bad value deep inside lazy input is refused naming its row."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from test_scale import CountingArray

from mixfit import (
    BernoulliHMM,
    BernoulliMixture,
    CategoricalHMM,
    GaussianHMM,
    VariationalCategoricalHMM,
    VariationalGaussianHMM,
)

da = pytest.importorskip("dask.array")
import dask

# The backends sum the same per-chunk values in another order (threads in chunk order, dask by a
# tree, other chunk sizes other partial sums); after 10 iterations the fits differ near 1e-14.
RTOL = 1e-10


def _memmap(X, tmp_path, name="X.dat"):
    mapped = np.memmap(tmp_path / name, dtype=X.dtype, mode="w+", shape=X.shape)
    mapped[:] = X
    mapped.flush()
    return np.memmap(tmp_path / name, dtype=X.dtype, mode="r", shape=X.shape)


def _fit(estimator, *args, **kwargs):
    with warnings.catch_warnings(), dask.config.set(scheduler="threads"):
        warnings.simplefilter("ignore")  # tol=0 never converges
        return estimator.fit(*args, **kwargs)


# ---- BernoulliMixture ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(3)
    means = np.array([[0.9] * 4 + [0.1] * 4, [0.1] * 4 + [0.9] * 4, [0.5, 0.9, 0.1, 0.5] * 2])
    labels = rng.integers(3, size=600)
    X = (rng.random((600, 8)) < means[labels]).astype(np.uint8)
    w = rng.uniform(0.2, 3.0, size=600)
    w[::17] = 0.0  # rows that must not count
    return X, w


BERNOULLI = {
    # 'random' responsibilities come from fixed row blocks: one start for every backend.
    "em": lambda chunk: BernoulliMixture(3, init_params="random", tol=0, max_iter=10, random_state=2,
                                         chunk_size=chunk),
    "vb": lambda chunk: BernoulliMixture(3, method="vb", init_params="random", tol=0, max_iter=10,
                                         random_state=2, chunk_size=chunk),
}


def _assert_same_bernoulli(a, b, rtol=RTOL):
    for name in ["weights_", "means_"]:
        assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=rtol, err_msg=name)
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


@pytest.mark.parametrize("method", list(BERNOULLI))
def test_bernoulli_fits_alike_from_numpy_memmap_reader_dask_and_any_chunk_size(method, binary, tmp_path):
    X, w = binary
    reference = _fit(BERNOULLI[method](None), X, sample_weight=w)
    inputs = {
        "memmap-50": (_memmap(X, tmp_path), w, 50),
        "reader-7": (CountingArray(X), w, 7),
        "numpy-599": (X, w, 599),
        "dask-64": (da.from_array(X, chunks=(97, 8)), da.from_array(w, chunks=50), 64),
        "dask-numpy-weights": (da.from_array(X, chunks=(250, 3)), w, None),
    }
    for backend, (Xb, wb, chunk) in inputs.items():
        fitted = _fit(BERNOULLI[method](chunk), Xb, sample_weight=wb)
        _assert_same_bernoulli(fitted, reference)
        assert fitted.n_features_in_ == 8, backend
        for name in ["predict", "predict_proba", "score_samples"]:
            assert_allclose(np.asarray(getattr(fitted, name)(Xb)), getattr(reference, name)(X), rtol=RTOL,
                            err_msg=f"{backend} {name}")
        assert_allclose(fitted.score(Xb), reference.score(X), rtol=RTOL)


def test_bernoulli_predictions_on_dask_are_lazy_dask_arrays(binary):
    X, _ = binary
    fitted = _fit(BernoulliMixture(3, random_state=0), X)
    Xd = da.from_array(X, chunks=(77, 8))
    for name in ["predict", "predict_proba", "score_samples"]:
        lazy = getattr(fitted, name)(Xd)
        assert isinstance(lazy, da.Array) and lazy.chunks[0] == Xd.chunks[0], name
        assert_allclose(lazy.compute(), getattr(fitted, name)(X), rtol=1e-12, err_msg=name)  # same chunks' maths


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data"])
def test_bernoulli_chunked_start_is_the_same_on_every_out_of_core_backend(init_params, binary, tmp_path):
    X, w = binary
    make = lambda chunk: BernoulliMixture(3, init_params=init_params, max_iter=0, random_state=5, chunk_size=chunk)
    memmap = _fit(make(50), _memmap(X, tmp_path), sample_weight=w)
    reader = CountingArray(X)
    for Xb in [reader, da.from_array(X, chunks=(123, 8))]:
        # one row sample (fixed per block of rows, not per chunk), the Lloyd sums reordered
        _assert_same_bernoulli(_fit(make(7), Xb, sample_weight=w), memmap, rtol=1e-12)
    assert reader.largest_read <= 7


def test_bernoulli_reads_each_row_once_per_pass_and_never_more_than_a_chunk(binary):
    X, w = binary
    reader = CountingArray(X)
    bm = _fit(BernoulliMixture(3, init_params="random", tol=0, max_iter=6, random_state=0, chunk_size=50),
              reader, sample_weight=w)
    expected = np.full(X.shape[0], 1 + 1 + bm.n_iter_)  # the validating scan, the start, one per iteration
    expected[0] += 1  # the start's shift: the first row
    assert_array_equal(reader.reads, expected)
    assert reader.largest_read <= 50
    reader.reads[:] = 0
    for method in [bm.predict, bm.predict_proba, bm.score_samples]:
        method(reader)
    assert_array_equal(reader.reads, 3)  # one pass per call, each chunk checked as it is read


def test_bernoulli_binarize_applies_chunk_by_chunk_to_lazy_input(binary, tmp_path):
    X, _ = binary
    values = X * np.linspace(0.5, 3.0, 8)  # real values, thresholded at 1
    make = lambda: BernoulliMixture(3, init_params="random", tol=0, max_iter=5, random_state=1, binarize=1.0,
                                    chunk_size=40)
    reference = _fit(make(), values)
    for Xb in [_memmap(values, tmp_path), CountingArray(values), da.from_array(values, chunks=(90, 8))]:
        fitted = _fit(make(), Xb)
        _assert_same_bernoulli(fitted, reference)
        assert_array_equal(np.asarray(fitted.predict(Xb)), reference.predict(values))


@pytest.mark.parametrize("value, message", [
    (np.nan, r"Input X contains NaN.*first at row 537"),
    (2.0, r"X must be binary \(0/1\) for a Bernoulli mixture; X\[537, 5\] = 2\.0"),
], ids=["nan", "non-binary"])
def test_bernoulli_bad_value_deep_in_lazy_input_names_its_row(value, message, binary, tmp_path):
    X, _ = binary
    bad = X.astype(np.float64)
    bad[537, 5] = value
    fitted = _fit(BernoulliMixture(3, random_state=0, chunk_size=64), X)
    before = np.copy(fitted.means_)
    for Xb in [_memmap(bad, tmp_path), CountingArray(bad), da.from_array(bad, chunks=(64, 8))]:
        with pytest.raises(ValueError, match=message):
            fitted.fit(Xb)
        with pytest.raises(ValueError, match=message):
            np.asarray(fitted.predict(Xb))  # dask: raised when computed
    assert_array_equal(fitted.means_, before)  # a failed fit leaves the model


# ---- HMMs ---------------------------------------------------------------------------------------

LENGTH = 40
LENGTHS = [LENGTH] * 12


def _chain(rng, n_frames=LENGTH * 12):
    transmat = np.array([[0.9, 0.05, 0.05], [0.1, 0.85, 0.05], [0.05, 0.15, 0.8]])
    states = np.empty(n_frames, dtype=int)
    states[0] = 0
    for t in range(1, n_frames):
        states[t] = rng.choice(3, p=transmat[states[t - 1]])
    return states


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(11)
    states = _chain(rng)
    gaussian = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])[states] + rng.normal(size=(states.size, 2))
    means = np.array([[0.9, 0.9, 0.1], [0.1, 0.9, 0.9], [0.5, 0.1, 0.5]])
    binary = (rng.random((states.size, 3)) < means[states]).astype(np.uint8)
    symbols = np.where(rng.random(states.size) < 0.8, states, rng.integers(4, size=states.size))[:, None]
    weights = rng.uniform(0.5, 2.0, size=len(LENGTHS))
    return {"gaussian": gaussian, "bernoulli": binary, "categorical": symbols}, weights


HMMS = {
    "gaussian": lambda chunk: GaussianHMM(3, covariance_type="full", init_params="random", tol=0, max_iter=10,
                                          random_state=4, chunk_size=chunk),
    "gaussian-prior": lambda chunk: GaussianHMM(3, prior="default", init_params="random", tol=0, max_iter=10,
                                                random_state=4, chunk_size=chunk),
    "bernoulli": lambda chunk: BernoulliHMM(3, init_params="random", tol=0, max_iter=10, random_state=4,
                                            chunk_size=chunk),
    "categorical": lambda chunk: CategoricalHMM(3, tol=0, max_iter=10, random_state=4, chunk_size=chunk),
    "gaussian-vb": lambda chunk: VariationalGaussianHMM(3, init_params="random", tol=0, max_iter=10, random_state=4,
                                                        chunk_size=chunk),
    "categorical-vb": lambda chunk: VariationalCategoricalHMM(3, tol=0, max_iter=10, random_state=4,
                                                              chunk_size=chunk),
}
EMISSION = {"gaussian": ["means_", "precisions_cholesky_"], "gaussian-prior": ["means_", "precisions_cholesky_"],
            "bernoulli": ["means_"], "categorical": ["emissionprob_"],
            "gaussian-vb": ["means_", "precisions_cholesky_", "dof_posterior_"],
            "categorical-vb": ["emissionprob_", "emissionprob_posterior_"]}


@pytest.mark.parametrize("name", list(HMMS))
def test_hmms_fit_score_and_decode_alike_from_numpy_memmap_reader_and_any_chunk_size(name, sequences, tmp_path):
    data, weights = sequences
    X = data[name.split("-")[0]]
    reference = _fit(HMMS[name](None), X, LENGTHS, sample_weight=weights)
    log_lik, gamma = reference.score_samples(X, LENGTHS)
    path_lp, path = reference.decode(X, LENGTHS)
    # chunk sizes in whole sequences, so that a chunk's read is at most chunk_size frames
    for backend, Xb, chunk in [("memmap", _memmap(X, tmp_path), 3 * LENGTH), ("reader", CountingArray(X), LENGTH),
                               ("numpy", X, 5 * LENGTH), ("reader-default", CountingArray(X), None)]:
        fitted = _fit(HMMS[name](chunk), Xb, LENGTHS, sample_weight=weights)
        for attribute in ["startprob_", "transmat_", *EMISSION[name]]:
            assert_allclose(getattr(fitted, attribute), getattr(reference, attribute), rtol=RTOL, atol=RTOL,
                            err_msg=f"{backend} {attribute}")
        assert_allclose(fitted.lower_bounds_, reference.lower_bounds_, rtol=RTOL, err_msg=backend)
        lazy_log_lik, lazy_gamma = fitted.score_samples(Xb, LENGTHS)
        assert_allclose(lazy_log_lik, log_lik, rtol=RTOL)
        assert_allclose(lazy_gamma, gamma, rtol=RTOL, atol=RTOL)
        lazy_lp, lazy_path = fitted.decode(Xb, LENGTHS)
        assert_allclose(lazy_lp, path_lp, rtol=RTOL)
        assert_array_equal(lazy_path, path)
        assert fitted.n_features_in_ == X.shape[1]
        if isinstance(Xb, CountingArray) and chunk is not None:
            assert Xb.largest_read <= chunk, backend  # never the whole array, never more than a chunk


def test_hmm_reads_each_frame_once_per_pass_and_never_more_than_a_chunk(sequences):
    data, _ = sequences
    reader = CountingArray(data["gaussian"])
    hmm = _fit(GaussianHMM(3, init_params="random", tol=0, max_iter=4, chunk_size=2 * LENGTH), reader, LENGTHS)
    expected = np.full(reader.shape[0], 1 + 1 + hmm.n_iter_)  # the validating scan, the start, one per iteration
    expected[0] += 1  # the start's shift: the first frame
    assert_array_equal(reader.reads, expected)
    assert reader.largest_read <= 2 * LENGTH
    reader.reads[:] = 0
    hmm.decode(reader, LENGTHS)
    hmm.score_samples(reader, LENGTHS)
    assert_array_equal(reader.reads, 4)  # per call: the validating scan, then the pass itself


def test_hmm_kmeans_start_is_chunked_and_the_same_on_every_out_of_core_input(sequences, tmp_path):
    data, _ = sequences
    X = data["gaussian"]
    make = lambda: GaussianHMM(3, max_iter=0, random_state=5, chunk_size=LENGTH)
    memmap = _fit(make(), _memmap(X, tmp_path), LENGTHS)
    reader = CountingArray(X)
    fitted = _fit(make(), reader, LENGTHS)
    assert_allclose(fitted.means_, memmap.means_, rtol=1e-12)  # one row sample, Lloyd sums reordered
    assert reader.largest_read <= LENGTH


@pytest.mark.parametrize("name", list(HMMS))
def test_hmms_fit_score_and_decode_alike_on_dask_with_blocks_across_sequences(name, sequences):
    """Dask row blocks of 97 frames cut the 40-frame sequences anywhere: the source moves each
    block's end to a sequence end, so the fit, the scores and the path equal numpy's (to 1e-10:
    the blocks' statistics are summed in a tree rather than in chunk order)."""
    data, weights = sequences
    X = data[name.split("-")[0]]
    reference = _fit(HMMS[name](2 * LENGTH), X, LENGTHS, sample_weight=weights)
    for chunks in [(97, -1), (LENGTH * 12, -1), (7, -1)]:
        Xd = da.from_array(X, chunks=chunks)
        fitted = _fit(HMMS[name](2 * LENGTH), Xd, LENGTHS, sample_weight=weights)
        for attribute in ["startprob_", "transmat_", *EMISSION[name]]:
            assert_allclose(getattr(fitted, attribute), getattr(reference, attribute), rtol=RTOL, atol=RTOL,
                            err_msg=f"{chunks} {attribute}")
        assert_allclose(fitted.lower_bounds_, reference.lower_bounds_, rtol=RTOL)
        log_lik, gamma = fitted.score_samples(Xd, LENGTHS)
        want_log_lik, want_gamma = reference.score_samples(X, LENGTHS)
        assert_allclose(log_lik, want_log_lik, rtol=RTOL)
        assert_allclose(gamma, want_gamma, rtol=RTOL, atol=RTOL)
        assert_array_equal(fitted.decode(Xd, LENGTHS)[1], reference.decode(X, LENGTHS)[1])


def test_dask_sequence_blocks_hold_whole_sequences():
    from mixfit.backends.dask import DaskSequenceSource

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, size=40)
    X = da.from_array(rng.normal(size=(int(lengths.sum()), 2)), chunks=(37, -1))
    source = DaskSequenceSource(X, lengths, None, 50)
    ends = set(np.cumsum(lengths).tolist())
    assert set(np.cumsum(source.X.chunks[0]).tolist()) <= ends  # every block ends at a sequence end
    assert sum(source.X.chunks[0]) == lengths.sum()
    batches = [batch for batch, _ in source.chunks()]
    assert_array_equal(np.concatenate([batch.lengths for batch in batches]), lengths)
    assert_array_equal(np.concatenate([batch.X for batch in batches]), X.compute())
    assert source.map_reduce(lambda batch, w: batch.lengths.shape[0]) == lengths.shape[0]


def test_an_hmm_fits_on_a_two_process_local_cluster(sequences):
    """The same graph on a dask.distributed LocalCluster (two worker processes) as on the default
    scheduler: equal to the numpy fit to 1e-10."""
    distributed = pytest.importorskip("distributed")
    data, weights = sequences
    X = data["gaussian"]
    reference = _fit(HMMS["gaussian"](2 * LENGTH), X, LENGTHS, sample_weight=weights)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client, \
            dask.config.set(scheduler=client), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0 never converges
        fitted = HMMS["gaussian"](2 * LENGTH).fit(da.from_array(X, chunks=(97, -1)), LENGTHS, sample_weight=weights)
    assert_allclose(fitted.means_, reference.means_, rtol=RTOL, atol=RTOL)
    assert_allclose(fitted.transmat_, reference.transmat_, rtol=RTOL, atol=RTOL)
    assert_allclose(fitted.lower_bounds_, reference.lower_bounds_, rtol=RTOL)


@pytest.mark.parametrize("name, value, message", [
    ("categorical", np.nan, r"Input X contains NaN.*first at row 437"),  # Gaussian HMMs take NaN as missing
    ("gaussian", np.inf, r"Input X contains infinity.*first at row 437"),
    ("bernoulli", 0.5, r"X must be binary \(0/1\) for a BernoulliHMM; X\[437, 0\] = 0\.5"),
    ("categorical", 1.5, r"X must hold integer symbols >= 0; X\[437, 0\] = 1\.5"),
    ("categorical", -1.0, r"X must hold integer symbols >= 0; X\[437, 0\] = -1\.0"),
], ids=["categorical-nan", "gaussian-inf", "bernoulli-non-binary", "categorical-fraction", "categorical-negative"])
def test_hmm_bad_value_deep_in_lazy_input_names_its_row(name, value, message, sequences, tmp_path):
    data, _ = sequences
    X = data[name]
    bad = X.astype(np.float64)
    bad[437, 0] = value
    fitted = _fit(HMMS[name](LENGTH), X, LENGTHS)
    before = {k: np.copy(v) for k, v in vars(fitted).items() if k.endswith("_") and isinstance(v, np.ndarray)}
    for Xb in [_memmap(bad, tmp_path), CountingArray(bad)]:
        with pytest.raises(ValueError, match=message):
            fitted.fit(Xb, LENGTHS)
        with pytest.raises(ValueError, match=message):
            fitted.score(Xb, LENGTHS)
    for key, value_before in before.items():
        assert_array_equal(getattr(fitted, key), value_before, err_msg=key)
