"""The compiled E product of the diag and spherical families (``diag_fused_compiled.
log_kernel_into``, taken by ``row_features.log_kernel_product``) against a literal per-entry
implementation of what it claims (each entry's terms in order, each one fused multiply-add,
emulated exactly with fractions) and against numpy's product, with the edges: K not a multiple
of the group, rows not a multiple of the block, inf and NaN features."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from mixfit.kernels import row_features

numba = pytest.importorskip("numba")
from mixfit.kernels import diag_fused_compiled  # after the skip: it imports numba


def _fused_in_order(features, coefficients):
    """(K, n): each entry sum_j features[i, j] * coefficients[j, k] from 0, j in order, each
    step one fused multiply-add: the exact a + x w (fractions) rounded once to float64."""
    n, L = features.shape
    K = coefficients.shape[1]
    out = np.empty((K, n))
    for i in range(n):
        x = [Fraction(float(v)) for v in features[i]]
        for k in range(K):
            acc = 0.0
            for j in range(L):
                acc = float(Fraction(acc) + x[j] * Fraction(float(coefficients[j, k])))
            out[k, i] = acc
    return out


@pytest.mark.parametrize(("n", "L", "K"), [(37, 5, 16), (9, 17, 8), (23, 13, 20), (6, 65, 33), (3, 9, 16)])
def test_log_kernel_into_is_fused_in_order(n, L, K, rng):
    """Bit for bit the literal loop it describes, for any K (the last group partly used) and
    any n (a block of 4 rows and the rows left over)."""
    features = rng.normal(scale=4.0, size=(n, L))
    coefficients = rng.normal(size=(L, K))
    out = np.full((K, n), np.nan)
    diag_fused_compiled.log_kernel_into(features, row_features._grouped(coefficients), out)
    assert_array_equal(out, _fused_in_order(features, coefficients))


def _fused_in_order32(features, coefficients):
    """``_fused_in_order`` in float32: each fused multiply-add exact, then rounded once to
    float32 (float64 holds a float32 product exactly, and float32(Fraction) rounds once)."""
    n, L = features.shape
    K = coefficients.shape[1]
    out = np.empty((K, n), dtype=np.float32)
    for i in range(n):
        for k in range(K):
            acc = np.float32(0.0)
            for j in range(L):
                exact = Fraction(float(acc)) + Fraction(float(features[i, j])) * Fraction(float(coefficients[j, k]))
                acc = np.float32(_round_to_float32(exact))
            out[k, i] = acc
    return out


def _round_to_float32(exact):
    """The float32 nearest the fraction, ties to the even significand: the float32 near its
    float64 rounding and that float32's two neighbours, the closest taken (rounding to float64
    first and then to float32 could round twice)."""
    guess = np.float32(float(exact))
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    return min(candidates, key=lambda c: (abs(Fraction(float(c)) - exact), int(c.view(np.int32)) & 1))


@pytest.mark.parametrize(("n", "L", "K"), [(37, 5, 32), (9, 17, 16), (23, 13, 40), (6, 65, 33)])
def test_log_kernel_into_float32_is_fused_in_order(n, L, K, rng):
    """float32 arrays: 32 lanes a group, each fused multiply-add rounded to float32, bit for bit
    the literal loop (the rounding emulated exactly from fractions)."""
    features = rng.normal(scale=4.0, size=(n, L)).astype(np.float32)
    coefficients = rng.normal(size=(L, K)).astype(np.float32)
    grouped = row_features._grouped(coefficients)
    assert grouped.dtype == np.float32 and grouped.shape[2] == diag_fused_compiled.FLOAT32_PRODUCT_LANES
    out = np.full((K, n), np.nan, dtype=np.float32)
    diag_fused_compiled.log_kernel_into(features, grouped, out)
    assert_array_equal(out, _fused_in_order32(features, coefficients))


@pytest.mark.parametrize(("n", "K"), [(2051, 16), (611, 512)])
def test_float32_product_equals_numpys_to_float32_rounding(n, K, rng, monkeypatch):
    """A float32 chunk above the thresholds: the compiled product, in float32, within L float32
    eps of the sum of its terms' magnitudes of numpy's sgemm (which splits the inner dimension
    otherwise, so not the same bits)."""
    D = 12
    rows = rng.normal(scale=3.0, size=(n, D)).astype(np.float32)
    features = np.hstack([rows**2, rows, np.ones((n, 1), dtype=np.float32)])
    coefficients = rng.normal(size=(2 * D + 1, K)).astype(np.float32)
    assert row_features.compiled_product(n, K, np.float32) == diag_fused_compiled.NATIVE_FMA
    compiled = row_features.log_kernel_product(features, coefficients)
    monkeypatch.setattr(row_features, "COMPILED", False)
    reference = row_features.log_kernel_product(features, coefficients)
    assert compiled.dtype == np.float32 and compiled.shape == (n, K) and compiled.flags.f_contiguous
    magnitude = np.abs(features).astype(np.float64) @ np.abs(coefficients).astype(np.float64)
    bound = 2 * (2 * D + 1) * np.finfo(np.float32).eps * magnitude  # each side L eps from the exact sum
    assert np.all(np.abs(compiled.astype(np.float64) - reference) <= bound)


@pytest.mark.parametrize(("n", "K"), [(2051, 8), (2051, 16), (2051, 21), (301, 70)])
def test_log_kernel_product_equals_numpys(n, K, rng, monkeypatch):
    """A chunk above the compiled path's thresholds (n K >= 2^14 entries; n not a multiple of
    the block) gives numpy's product (n, K), column-major, to the rounding of an L-term dot
    product: each entry within L eps of the sum of its terms' magnitudes (the two sum in orders
    that may differ; on OpenBLAS's AVX2 kernels at most K they are the same bits)."""
    D = 12
    assert n * K >= row_features._COMPILED_MIN_PRODUCT  # the compiled path is taken
    rows = rng.normal(scale=3.0, size=(n, D))
    features = np.hstack([rows**2, rows, np.ones((n, 1))])
    coefficients = rng.normal(size=(2 * D + 1, K))
    compiled = row_features.log_kernel_product(features, coefficients)
    monkeypatch.setattr(row_features, "COMPILED", False)
    reference = row_features.log_kernel_product(features, coefficients)
    assert compiled.shape == (n, K) and compiled.flags.f_contiguous
    bound = (2 * D + 1) * np.finfo(np.float64).eps * (np.abs(features) @ np.abs(coefficients))
    assert np.all(np.abs(compiled - reference) <= bound)
    assert_allclose(compiled, features @ coefficients, rtol=0, atol=bound.max())


def test_log_kernel_into_propagates_inf_and_nan(rng):
    """A row with an infinite feature gives +-inf or NaN (inf - inf, inf x 0) where numpy's
    product does, and a NaN feature gives NaN across its row; the other rows are untouched."""
    n, L, K = 11, 7, 16
    features = rng.normal(size=(n, L))
    coefficients = rng.normal(size=(L, K))
    coefficients[2, 3] = 0.0  # inf x 0 in component 3
    features[1, 2] = np.inf
    features[4, 5] = np.nan
    features[6, 0], features[6, 1] = np.inf, -np.inf
    out = np.empty((K, n))
    diag_fused_compiled.log_kernel_into(features, row_features._grouped(coefficients), out)
    with np.errstate(invalid="ignore"):
        expected = (features @ coefficients).T
    assert_array_equal(np.isnan(out), np.isnan(expected))
    assert_array_equal(np.isposinf(out), np.isposinf(expected))
    assert_array_equal(np.isneginf(out), np.isneginf(expected))
    assert np.isnan(out[:, 4]).all() and np.isnan(out[3, 1])
    finite = np.isfinite(expected)
    assert_allclose(out[finite], expected[finite], rtol=1e-13)


@pytest.mark.parametrize(("n", "D", "K"), [(37, 5, 16), (9, 3, 8), (45, 7, 40), (5, 32, 16)])
def test_centred_log_kernel_into_equals_the_two_passes(n, D, K, rng):
    """The one pass from the rows gives the features of ``centred_features_into`` and the sums
    of ``log_kernel_into`` on them, bit for bit (and so the literal loop's), for one group and
    several (K = 40: the later groups from the features just written), and counts the NaN
    entries as ``centred_features_into`` does (its numbers, rows with NaN included, as far as
    the caller uses them: none where any is found)."""
    X = rng.normal(loc=2.0, scale=3.0, size=(n, D))
    centre = rng.normal(size=D)
    coefficients = rng.normal(size=(2 * D + 1, K))
    grouped = row_features._grouped(coefficients)
    features, out = np.full((n, 2 * D + 1), np.nan), np.full((K, n), np.nan)
    assert diag_fused_compiled.centred_log_kernel_into(X, centre, features, grouped, out) == 0
    expected_features, expected = np.empty_like(features), np.empty_like(out)
    assert diag_fused_compiled.centred_features_into(X, centre, expected_features) == 0
    diag_fused_compiled.log_kernel_into(expected_features, grouped, expected)
    assert_array_equal(features, expected_features)
    assert_array_equal(out, expected)
    assert_array_equal(out, _fused_in_order(expected_features, coefficients))
    X[n - 1, 0] = X[0, D - 1] = np.nan  # a NaN in a block's row and in a row left over
    assert diag_fused_compiled.centred_log_kernel_into(X, centre, features, grouped, out) == 2


def test_centred_log_kernel_of_a_chunk(rng):
    """``row_features.centred_log_kernel`` on a chunk above the thresholds: numpy's product of
    numpy's features to an L-term dot product's rounding, and None where a row has a NaN."""
    n, D, K = 2053, 6, 16
    X = rng.normal(scale=2.0, size=(n, D))
    centre = X.mean(axis=0)
    coefficients = rng.normal(size=(2 * D + 1, K))
    assert row_features.compiled_product(n, K, X.dtype)
    log_rho, features = row_features.centred_log_kernel(X, centre, coefficients)
    Xc = X - centre
    expected_features = np.hstack([Xc * Xc, Xc, np.ones((n, 1))])
    assert_array_equal(features, expected_features)
    bound = (2 * D + 1) * np.finfo(np.float64).eps * (np.abs(expected_features) @ np.abs(coefficients))
    assert np.all(np.abs(log_rho - expected_features @ coefficients) <= bound)
    X[1000, 3] = np.nan
    assert row_features.centred_log_kernel(X, centre, coefficients) is None


@pytest.mark.parametrize("rows", [2, 4, 8])
def test_blocks_of_any_row_count(rows, rng):
    """The blocks as another host compiles them (4 rows without AVX-512, 8 with): the same
    literal loop's bits, the features from the rows as ``centred_features_into`` writes them."""
    plain, centred = diag_fused_compiled._vector_block(rows), diag_fused_compiled._centred_block(rows)

    @numba.njit
    def both(X, centre, features, weights, out, again):
        missing = 0
        for i in range(0, X.shape[0] - rows + 1, rows):
            missing += centred(X, centre, weights, out, features, i)
            plain(features, weights, again, i, 0)
        return missing

    n, D, K = 3 * rows, 5, 13
    X = rng.normal(scale=2.0, size=(n, D))
    centre = rng.normal(size=D)
    coefficients = rng.normal(size=(2 * D + 1, K))
    features, out, again = np.empty((n, 2 * D + 1)), np.empty((K, n)), np.empty((K, n))
    assert both(X, centre, features, row_features._grouped(coefficients)[0], out, again) == 0
    expected_features = np.empty_like(features)
    diag_fused_compiled.centred_features_into(X, centre, expected_features)
    assert_array_equal(features, expected_features)
    assert_array_equal(out, _fused_in_order(expected_features, coefficients))
    assert_array_equal(again, out)


def test_blas_where_the_host_has_no_vector_fma():
    """Code compiled for another CPU (``NUMBA_CPU_NAME``, as for a shared numba cache) may lack
    the fused multiply-add instruction, where LLVM calls the C library's fma lane by lane: the
    E product then stays BLAS's. Asked in a fresh process, as numba reads the setting once."""
    script = ("import numpy as np\nfrom mixfit.kernels import row_features\n"
              "print(row_features.compiled_product(7281, 16, np.float64))")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "NUMBA_CPU_NAME": "generic", "MIXFIT_NUMBA": "1"})
    assert ran.stdout.strip() == "False"
    assert row_features.compiled_product(7281, 16, np.float64) == diag_fused_compiled.NATIVE_FMA
