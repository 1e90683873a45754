"""kernels.small_dense_compiled.eigh_jacobi (the compiled M-steps' eigendecomposition at 2 < D <= 8)
against numpy.linalg.eigh (LAPACK)."""

import numpy as np
import pytest

pytest.importorskip("numba")

from mixfit.kernels.small_dense_compiled import _decreasing_eigh, eigh_jacobi

EPS = np.finfo(np.float64).eps


def _cases(dim, rng):
    cases = []
    for _ in range(150):  # random symmetric, positive definite and indefinite, scales 1e-8..1e8
        m = rng.normal(size=(dim, dim)) * 10.0 ** rng.uniform(-8, 8)
        cases += [m + m.T, m @ m.T]
    v = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    spectrum = np.geomspace(1.0, 1e-3, dim)
    cases += [np.eye(dim), 3.0 * np.eye(dim), np.zeros((dim, dim)), np.ones((dim, dim)),  # equal / singular
              (v * spectrum) @ v.T,
              (v * np.r_[spectrum[:-1], 1e-47]) @ v.T,  # a collapsed direction beside real ones
              np.diag(np.r_[1e-47, spectrum[1:]])]
    return cases


@pytest.mark.parametrize("dim", [3, 4, 6])
def test_values_and_vectors_match_lapack(dim):
    rng = np.random.default_rng(dim)
    for m in _cases(dim, rng):
        values, vectors = np.empty(dim), np.empty((dim, dim))
        assert eigh_jacobi(m, values, vectors)
        expected, expected_vectors = np.linalg.eigh(m)
        expected, expected_vectors = expected[::-1], expected_vectors[:, ::-1]
        scale = max(np.abs(m).max(), np.finfo(np.float64).tiny)
        # both backward stable: each eigenvalue to a small multiple of eps ||A|| (LAPACK's and
        # the rotations' rounding, growing with D; 15 eps seen at D = 8)
        np.testing.assert_allclose(values, expected, rtol=0, atol=8 * dim * EPS * scale)
        assert np.all(np.diff(values) <= 0)
        # orthonormal columns, and V diag(values) V^T reproduces A
        np.testing.assert_allclose(vectors.T @ vectors, np.eye(dim), rtol=0, atol=4 * dim * EPS)
        np.testing.assert_allclose((vectors * values) @ vectors.T, m, rtol=0, atol=8 * dim * EPS * scale)
        gaps = np.abs(np.diff(expected))
        separated = np.minimum(np.r_[np.inf, gaps], np.r_[gaps, np.inf])
        for j in np.flatnonzero(separated > 1e-6 * scale):  # each well-separated vector is LAPACK's up to sign
            overlap = abs(vectors[:, j] @ expected_vectors[:, j])
            assert overlap == pytest.approx(1.0, abs=16 * dim * EPS * scale / separated[j])


def test_a_collapsed_eigenvalue_keeps_its_relative_precision():
    # the relative stopping rule: diag(1, 1e-2, 3e-3, 1e-47) rotated by a permutation-free
    # orthogonal matrix is not exact, but a diagonal one is returned as it is, sorted
    m = np.diag([1e-2, 3e-3, 1e-47, 1.0])
    values, vectors = np.empty(4), np.empty((4, 4))
    assert eigh_jacobi(m, values, vectors)
    assert list(values) == [1.0, 1e-2, 3e-3, 1e-47]
    assert np.array_equal(np.abs(vectors), np.eye(4)[:, [3, 0, 1, 2]])


def test_decreasing_eigh_takes_the_rotations_and_falls_back_to_lapack():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(4, 4))
    m = m @ m.T
    values, _ = _decreasing_eigh(m)
    np.testing.assert_allclose(values, np.linalg.eigvalsh(m)[::-1], rtol=0, atol=32 * EPS * np.abs(m).max())
    assert not eigh_jacobi(np.full((4, 4), np.nan), np.empty(4), np.empty((4, 4)))  # not finite: refused
    big = rng.normal(size=(10, 10))
    big = big + big.T
    values, _ = _decreasing_eigh(big)  # D > 8: LAPACK's
    np.testing.assert_allclose(values, np.linalg.eigvalsh(big)[::-1], rtol=0, atol=1e-13)
