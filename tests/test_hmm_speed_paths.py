"""The fast paths of HMM inference: forward-backward and Viterbi on the flat frames (n, K) against
the padded functions and the numpy recursions; the log-space fallback on the flat path; the
statistics and the fit independent of the emission blocks, the chunks and the threads; no
full-length (n, K) array held across chunks; ``import mixfit`` without numba; and a fit without
numba installed (the numpy recursions) equal to one with it."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import mixfit.models.hmm as hmm_model
from mixfit import GaussianHMM
from mixfit.backends.sequences import SequenceSource
from mixfit.kernels.hmm_inference import (
    forward_backward,
    forward_backward_flat,
    pad,
    unpad,
    viterbi,
    viterbi_flat,
)
from mixfit.kernels.hmm_recursions import NUMBA_INSTALLED, RECURSIONS

NUMPY = RECURSIONS["numpy"]
needs_numba = pytest.mark.skipif(not NUMBA_INSTALLED, reason="the compiled recursions need numba (mixfit[fast])")


def random_problem(rng, lengths, n_states, spread=3.0):
    startprob = rng.dirichlet(np.ones(n_states))
    transmat = rng.dirichlet(np.ones(n_states), size=n_states)
    transmat[0, n_states - 1] = 0.0  # one forbidden transition
    transmat /= transmat.sum(axis=1, keepdims=True)
    log_emit = rng.normal(scale=spread, size=(int(np.sum(lengths)), n_states))  # (n, K) flat
    return startprob, transmat, log_emit


def underflowing_problem(rng):
    """Sequence 0 of three: state 0 alone explains frame 1 (others e^-2000 below) but is reachable
    only from state 3, which frame 0 rules out, so c_1 underflows to 0 when scaled."""
    lengths = np.array([40, 25, 31])
    _, transmat, log_emit = random_problem(rng, lengths, 4, spread=5.0)
    log_emit[:2] = [[0.0, 0.0, 0.0, -2000.0], [0.0, -2000.0, -2000.0, -2000.0]]
    cycle = np.array([[0.5, 0.5, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 0.5, 0.5], [0.5, 0, 0, 0.5]])
    transmat = 0.999 * cycle + 0.001 * transmat * (cycle > 0)
    return np.array([0.0, 1.0, 0.0, 0.0]), transmat / transmat.sum(axis=1, keepdims=True), log_emit, lengths


def assert_flat_matches_padded(flat, padded, lengths, rtol):
    np.testing.assert_allclose(flat.log_likelihood, padded.log_likelihood, rtol=rtol)
    np.testing.assert_allclose(flat.gamma, unpad(padded.gamma, lengths), rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(flat.transitions, padded.transitions, rtol=rtol)


RECURSION_IDS = ["numpy"] + (["numba"] if NUMBA_INSTALLED else [])
EACH = pytest.mark.parametrize("recursions", [RECURSIONS[name] for name in RECURSION_IDS], ids=RECURSION_IDS)
CASES = pytest.mark.parametrize(
    ("n_states", "lengths"),
    [(2, [1]), (4, [30, 7, 1, 55, 12]), (10, [200] * 6), (7, list(range(1, 40))), (10, [5000])],
    ids=["one-frame", "ragged", "equal-lengths", "every-length", "one-long"],
)


# ---- forward-backward and Viterbi on the flat frames -------------------------------------------

@EACH
@CASES
def test_flat_forward_backward_matches_the_padded_one_and_the_numpy_steps(recursions, n_states, lengths, rng):
    lengths = np.array(lengths)
    startprob, transmat, log_emit = random_problem(rng, lengths, n_states)
    weights = rng.uniform(0.1, 3.0, size=lengths.size)
    flat = forward_backward_flat(startprob, transmat, log_emit, lengths, weights, recursions=recursions)
    reference = forward_backward(startprob, transmat, pad(log_emit, lengths), lengths, weights, recursions=NUMPY)
    # the same recursion; only the order of each K-term sum differs (a loop, BLAS, or
    # reassociated by the compiler): rounding only, and each scaled step renormalises
    assert_flat_matches_padded(flat, reference, lengths, rtol=1e-12)


@EACH
@CASES
def test_flat_viterbi_matches_the_padded_one(recursions, n_states, lengths, rng):
    lengths = np.array(lengths)
    startprob, transmat, log_emit = random_problem(rng, lengths, n_states, spread=2.0)
    log_prob, states = viterbi_flat(startprob, transmat, log_emit, lengths, recursions=recursions)
    expected_log_prob, expected_states = viterbi(startprob, transmat, pad(log_emit, lengths), lengths, NUMPY)
    np.testing.assert_allclose(log_prob, expected_log_prob, rtol=1e-12)  # the same sums in the same order
    np.testing.assert_array_equal(states, unpad(expected_states, lengths))


@EACH
def test_no_weights_are_unit_weights(recursions, rng):
    lengths = np.array([12, 30, 4])
    startprob, transmat, log_emit = random_problem(rng, lengths, 5)
    plain = forward_backward_flat(startprob, transmat, log_emit, lengths, recursions=recursions)
    unit = forward_backward_flat(startprob, transmat, log_emit, lengths, np.ones(3), recursions=recursions)
    np.testing.assert_array_equal(plain.transitions, unit.transitions)
    np.testing.assert_array_equal(plain.gamma, unit.gamma)


@EACH
def test_flat_pass_falls_back_to_log_space_where_scaling_underflows(recursions, rng):
    startprob, transmat, log_emit, lengths = underflowing_problem(rng)
    weights = np.array([2.0, 0.5, 1.5])
    flat = forward_backward_flat(startprob, transmat, log_emit, lengths, weights, recursions=recursions)
    padded = forward_backward(startprob, transmat, pad(log_emit, lengths), lengths, weights, recursions=NUMPY)
    assert np.all(np.isfinite(flat.log_likelihood))
    # sequence 0 goes through the same log-space code on both paths, the others differ by rounding
    assert_flat_matches_padded(flat, padded, lengths, rtol=1e-11)


@EACH
def test_a_sequence_of_probability_zero_has_log_likelihood_minus_infinity(recursions, rng):
    lengths = np.array([6, 9])
    startprob, transmat, log_emit = random_problem(rng, lengths, 3)
    log_emit[8] = -np.inf  # a frame of sequence 1 that no state can emit
    flat = forward_backward_flat(startprob, transmat, log_emit, lengths, recursions=recursions)
    assert np.isfinite(flat.log_likelihood[0]) and flat.log_likelihood[1] == -np.inf
    np.testing.assert_allclose(flat.gamma[:6].sum(axis=1), 1.0, rtol=1e-12)


# ---- the model's E-step: blocks, chunks, threads ---------------------------------------------

@pytest.fixture
def sequences(rng):
    lengths = np.concatenate([rng.integers(20, 80, size=40), [3000]])  # many short, one long
    states = rng.integers(0, 3, size=int(lengths.sum()))
    X = np.array([[0.0, 0.0], [4.0, 1.0], [-3.0, 5.0]])[states] + rng.normal(size=(states.size, 2))
    return X, lengths


def fitted(X, lengths, covariance_type="full", **kwargs):
    hmm = GaussianHMM(3, covariance_type=covariance_type, tol=0, random_state=0, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hmm.fit(X, lengths)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_statistics_do_not_depend_on_the_emission_blocks(covariance_type, sequences, monkeypatch):
    X, lengths = sequences
    hmm = fitted(X, lengths, covariance_type, max_iter=2)
    model, params = hmm._model(), hmm._params()
    weights = np.linspace(0.5, 2.0, lengths.size)
    source = SequenceSource(X, lengths, weights, chunk_size=10**9, n_threads=1)
    whole = source.map_reduce(lambda batch, w: model.accumulate(batch, params, w))
    monkeypatch.setattr(hmm_model, "_BLOCK_BYTES", 1)  # blocks of _MIN_BLOCK_FRAMES frames
    blocked = source.map_reduce(lambda batch, w: model.accumulate(batch, params, w))
    # the same frames' moments summed in another grouping: rounding only
    for a, b in [(whole.start, blocked.start), (whole.transitions, blocked.transitions),
                 (whole.emission.mass, blocked.emission.mass), (whole.emission.first, blocked.emission.first),
                 (whole.emission.scatter, blocked.emission.scatter)]:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(whole.log_likelihood, blocked.log_likelihood, rtol=1e-13)


def test_the_fit_does_not_depend_on_chunks_or_threads(sequences):
    X, lengths = sequences
    fits = [fitted(X, lengths, max_iter=4, chunk_size=size) for size in (50, 700, 10**7)]
    for hmm in fits[1:]:  # the same sums in other orders
        np.testing.assert_allclose(hmm.lower_bounds_, fits[0].lower_bounds_, rtol=1e-12)
        np.testing.assert_allclose(hmm.means_, fits[0].means_, rtol=1e-10)
        np.testing.assert_allclose(hmm.transmat_, fits[0].transmat_, rtol=1e-10, atol=1e-14)
    hmm = fits[0]
    model, params = hmm._model(), hmm._params()
    one, two = (SequenceSource(X, lengths, None, 300, n_threads=n).map_reduce(
        lambda batch, w: model.accumulate(batch, params, w)) for n in (1, 2))
    # each chunk's value is computed alike and the values are added in chunk order: bit for bit
    np.testing.assert_array_equal(one.transitions, two.transitions)
    np.testing.assert_array_equal(one.emission.scatter, two.emission.scatter)


def test_chunks_are_the_greedy_runs_of_whole_sequences(rng):
    for _ in range(200):
        lengths = rng.integers(1, 50, size=int(rng.integers(1, 40)))
        size = int(rng.integers(1, 300))
        source = SequenceSource(np.zeros((int(lengths.sum()), 1)), lengths, None, size)
        chunks = [batch.lengths for batch, _ in source.chunks()]
        np.testing.assert_array_equal(np.concatenate(chunks), lengths)
        for chunk in chunks[:-1]:  # each ends at the first sequence that brings it to `size` frames
            assert chunk.sum() >= size > chunk[:-1].sum()
        assert chunks[-1][:-1].sum() < size


def test_a_pass_holds_no_array_of_every_frame(rng):
    n_states, lengths = 4, np.full(400, 1000)
    X = rng.normal(size=(int(lengths.sum()), 2))
    hmm = fitted(X[:5000], lengths[:5], max_iter=1)
    model, params = hmm._model(), hmm._params()
    source = SequenceSource(X, lengths, None, chunk_size=4000, n_threads=1)
    source.map_reduce(lambda batch, w: model.accumulate(batch, params, w))  # compiles, if it will
    tracemalloc.start()
    try:
        source.map_reduce(lambda batch, w: model.accumulate(batch, params, w))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # numpy reports its buffers to tracemalloc, so this counts every array the pass allocates;
    # a chunk's arrays are a few (4000 x K) ones, far under one (n, K) array of all 4e5 frames
    assert peak < X.shape[0] * n_states * 8 / 4


# ---- numba: imported only when used; optional ------------------------------------------------

def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_mixfit_does_not_import_numba():
    assert run_python("import sys, mixfit; print('numba' in sys.modules)").strip() == "False"


FIT_IN_A_SUBPROCESS = """
import json, sys, warnings
if {block}:
    sys.modules["numba"] = None  # as if numba were not installed
import numpy as np
from mixfit import GaussianHMM
from mixfit.kernels.hmm_recursions import DEFAULT_RECURSIONS
rng = np.random.default_rng(3)
lengths = np.array([40, 1, 75, 30])
X = rng.normal(size=(int(lengths.sum()), 2)) + 3 * rng.integers(0, 2, size=(int(lengths.sum()), 1))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    hmm = GaussianHMM(2, tol=0, max_iter=5, random_state=0).fit(X, lengths)
print(json.dumps({{"recursions": DEFAULT_RECURSIONS.name, "bounds": hmm.lower_bounds_,
                   "means": hmm.means_.tolist(), "states": hmm.predict(X, lengths).tolist(),
                   "numba_loaded": "numba" in sys.modules and sys.modules["numba"] is not None}}))
"""


def test_without_numba_the_numpy_recursions_fit_the_same_model():
    without = json.loads(run_python(FIT_IN_A_SUBPROCESS.format(block=True)))
    assert without["recursions"] == "numpy" and not without["numba_loaded"]
    if not NUMBA_INSTALLED:
        return
    with_numba = json.loads(run_python(FIT_IN_A_SUBPROCESS.format(block=False)))
    assert with_numba["recursions"] == "numba" and with_numba["numba_loaded"]
    # five EM steps of the same sums in other orders (K-term sums by BLAS or a compiled loop)
    np.testing.assert_allclose(with_numba["bounds"], without["bounds"], rtol=1e-10)
    np.testing.assert_allclose(with_numba["means"], without["means"], rtol=1e-9)
    assert with_numba["states"] == without["states"]
