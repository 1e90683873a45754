"""numpy's and numba's loops of the full family's E-step write the same numbers bit for bit
(kernels/expanded.py ``write_pairs`` against kernels/pairs_compiled.py; linalg.py's column loops
against normalize_compiled.py), so which one runs changes the time only; and a stream's step
never imports numba (kernels/numba_loading.py): a full-covariance ``partial_fit`` at D = 16 leaves
it out of the process, with the same fitted numbers as where numba is loaded."""

import json
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from mixfit import GaussianMixture
from mixfit.kernels import expanded, linalg

pytest.importorskip("numba")


@pytest.mark.parametrize("D", [1, 2, 3, 7, 8, 16, 17, 33])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pair_products_are_the_literal_products_in_pair_order_for_both_loops(D, dtype, rng):
    """Row p of the features is x_i x_j for (i, j) = pair_order[p], each unordered pair once,
    then the rows x_i; numba's loop writes exactly numpy's numbers (a product of two floats is
    correctly rounded, whoever takes it)."""
    from mixfit.kernels.pairs_compiled import pair_products_into

    X = rng.normal(size=(37, D)).astype(dtype)
    first, second = expanded.pair_order(D)
    M = D * (D + 1) // 2
    assert sorted(zip(np.minimum(first, second).tolist(), np.maximum(first, second).tolist())) == \
        [(i, j) for i in range(D) for j in range(i, D)]
    features = expanded.pair_products(X)
    assert_array_equal(features, np.vstack([(X[:, first] * X[:, second]).T, X.T]))
    block = np.full((M + 2 * D, 37), np.nan, dtype=dtype)
    pair_products_into(X, block)
    assert_array_equal(block[:M + D], features)
    # the packed position of every matrix entry: x x^T rebuilt from one row's products
    assert_array_equal(features[:M, 5][expanded.symmetric_index(D)].reshape(D, D), np.outer(X[5], X[5]))


@pytest.mark.parametrize("K", [2, 8, 32])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normalisation_by_columns_is_the_compiled_one_bit_for_bit(K, dtype, rng):
    """Column-major log weights with rows of -inf (no component) and NaN: numpy's column loops
    give the compiled passes' responsibilities and ln p(x) exactly."""
    from mixfit.kernels.normalize_compiled import scale_columns, shift_columns  # noqa: F401 (loads them)

    log_rho = np.asfortranarray((rng.normal(size=(5000, K)) * 200).astype(dtype))
    log_rho[3] = -np.inf
    log_rho[4, 0] = np.nan
    assert linalg.compiled_loop()  # numba loaded: normalize_log_rows takes the compiled passes
    with np.errstate(over="ignore", invalid="ignore"):  # the NaN row's other entries, not shifted
        resp, log_norm = linalg._normalized(log_rho.copy(order="F"), linalg._sum_in_order)
        resp_c, log_norm_c = linalg.normalize_log_rows(log_rho.copy(order="F"))
    assert_array_equal(resp, resp_c)
    assert_array_equal(log_norm, log_norm_c)
    assert np.isneginf(log_norm[3]) and np.isnan(log_norm[4])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_full_fit_on_numpys_loops_is_the_compiled_fit_bit_for_bit(dtype, monkeypatch, rng):
    """The same fit (D = 16, K = 4, several chunks, dense and sparse moments) with numpy's pair
    products and normalisation, and with numba's: equal to the last bit."""
    means = rng.normal(scale=3.0, size=(4, 16))
    X = (means[rng.integers(4, size=30_000)] + rng.normal(size=(30_000, 16))).astype(dtype)

    def fit():
        return GaussianMixture(4, covariance_type="full", max_iter=6, tol=0, random_state=0,
                               chunk_size=7000).fit(X)

    compiled = fit()
    monkeypatch.setattr(expanded, "_compiled", lambda n_features: False)
    monkeypatch.setattr(linalg, "compiled_loop", lambda: False)
    plain = fit()
    assert plain.lower_bound_ == compiled.lower_bound_
    assert_array_equal(plain.means_, compiled.means_)
    assert_array_equal(plain.precisions_cholesky_, compiled.precisions_cholesky_)


_STREAM = """
import json, sys
import numpy as np
if {load}:
    import numba  # noqa: F401  (as a user who loaded it, or an earlier fit)
from mixfit import GaussianMixture
rng = np.random.default_rng(3)
means = rng.normal(scale=4.0, size=(8, 16))
stream = GaussianMixture(8, covariance_type="full", random_state=0)
for _ in range(3):
    stream.partial_fit(means[rng.integers(8, size=40_000)] + rng.normal(size=(40_000, 16)))
out = {{"numba_after_stream": "numba" in sys.modules, "means": stream.means_.tolist(),
        "bound": stream.lower_bound_}}
X = means[rng.integers(8, size=40_000)] + rng.normal(size=(40_000, 16))
GaussianMixture(8, covariance_type="full", max_iter=2, random_state=0).fit(X)
out["numba_after_fit"] = "numba" in sys.modules
print(json.dumps(out))
"""


def _stream(load):
    done = subprocess.run([sys.executable, "-c", _STREAM.format(load=load)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_stream_leaves_numba_out_with_the_same_numbers():
    """partial_fit (three steps, full covariance at D = 16, past every compiled loop's size)
    imports no numba; where numba is loaded it runs its loops, with the same numbers to the last
    bit. A batch fit (and prediction) still imports it, for its speed."""
    without, loaded = _stream(False), _stream(True)
    assert without["numba_after_stream"] is False
    assert loaded["numba_after_stream"] is True
    assert without["means"] == loaded["means"] and without["bound"] == loaded["bound"]
    assert without["numba_after_fit"] is True
