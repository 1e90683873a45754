"""mixfit.batches: the memoized (incremental) mode over a re-iterable stream of batches reaches the
batch fit from the same start (issue 19's bar: lower bound to 1e-8, parameters to 1e-6)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES, perturbed_start
from numpy.testing import assert_allclose, assert_array_equal

import mixfit
from mixfit import BayesianGaussianMixture, BernoulliMixture, GaussianMixture
from mixfit.datasets import make_tutorial


class Counting:
    """factory() over fixed batches, counting the passes."""

    def __init__(self, parts):
        self.parts, self.calls = parts, 0

    def __call__(self):
        self.calls += 1
        return iter(self.parts)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_ten_batches_reach_the_batch_fit_from_the_same_start(covariance_type, separated, rng):
    X, _ = separated.sample(2000, rng)
    start = perturbed_start(separated, covariance_type, rng)
    factory = Counting(np.array_split(X, 10))
    kw = {"covariance_type": covariance_type, "tol": 1e-10, "max_iter": 500, **start}
    whole = GaussianMixture(3, **kw).fit(X)
    streamed = GaussianMixture(3, **kw).fit(mixfit.batches(factory))
    # the bar of the issue; each pass sums the same per-batch statistics as the whole pass
    assert abs(streamed.lower_bound_ - whole.lower_bound_) <= 1e-8
    assert_allclose(streamed.means_, whole.means_, atol=1e-6)
    assert_allclose(streamed.covariances_, whole.covariances_, atol=1e-6)
    assert_allclose(streamed.weights_, whole.weights_, atol=1e-6)
    assert streamed.n_iter_ == whole.n_iter_
    assert factory.calls >= streamed.n_iter_  # one pass (at least) per iteration: nothing held


def test_default_start_is_the_out_of_core_start(tmp_path, tutorial, rng):
    X, _ = tutorial.sample(3000, rng)
    path = tmp_path / "X.npy"
    np.save(path, X)
    kw = {"random_state": 0, "tol": 1e-8, "max_iter": 300}
    from_disk = GaussianMixture(3, **kw).fit(np.load(path, mmap_mode="r"))
    streamed = GaussianMixture(3, **kw).fit(mixfit.batches(lambda: iter(np.array_split(X, 7))))
    # the same chunked k-means start and the same chunks in the same order: rounding only
    assert_allclose(streamed.means_, from_disk.means_, rtol=1e-10)
    assert_allclose(streamed.lower_bound_, from_disk.lower_bound_, rtol=1e-12)


@pytest.mark.parametrize("make", [
    pytest.param(lambda: BayesianGaussianMixture(n_components=4, random_state=0, tol=1e-8, max_iter=400), id="vb"),
    pytest.param(lambda: BernoulliMixture(3, random_state=0, binarize=2.0, tol=1e-10), id="bernoulli"),
])
def test_other_estimators_read_batches(make, tmp_path):
    X, _, _ = make_tutorial(2000, random_state=2)
    path = tmp_path / "X.npy"
    np.save(path, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_disk = make().fit(np.load(path, mmap_mode="r"))
        streamed = make().fit(mixfit.batches(lambda: iter(np.array_split(X, 10))))
    assert_allclose(streamed.means_, from_disk.means_, rtol=1e-9, atol=1e-12)  # rounding only
    assert_allclose(streamed.lower_bound_, from_disk.lower_bound_, rtol=1e-10)


def test_predictions_over_batches_are_those_over_the_rows(tutorial, rng):
    X, _ = tutorial.sample(1000, rng)
    gm = GaussianMixture(3, random_state=0).fit(X)
    stream = mixfit.batches(lambda: (X[i : i + 130] for i in range(0, 1000, 130)))
    assert_array_equal(gm.predict(stream), gm.predict(X))
    assert_allclose(gm.score_samples(stream), gm.score_samples(X), rtol=1e-13)  # same chunks' maths


def test_a_stream_that_changes_between_passes_is_refused(tutorial, rng):
    X, _ = tutorial.sample(600, rng)
    passes = iter([[X[:300], X[300:]], [X[:300], X[300:]], [X[:300]]])
    stream = mixfit.batches(lambda: iter(next(passes)))
    assert stream.shape == (600, 2)
    assert_array_equal(stream[250:350], X[250:350])  # across two batches
    with pytest.raises(ValueError, match="fewer rows"):
        stream[0:600]


def test_batches_of_different_widths_are_refused(tutorial, rng):
    X, _ = tutorial.sample(100, rng)
    with pytest.raises(ValueError, match="n_features"):
        _ = mixfit.batches(lambda: iter([X, X[:, :1]])).shape
