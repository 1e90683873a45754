"""kernels.small_dense_compiled.eigh_2x2 (the compiled M-steps' closed-form 2 x 2 symmetric
eigendecomposition) against numpy.linalg.eigh (LAPACK)."""

import numpy as np
import pytest

pytest.importorskip("numba")

from mixfit.kernels.small_dense_compiled import _decreasing_eigh, eigh_2x2

EPS = np.finfo(np.float64).eps


def _cases():
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(200):  # random symmetric, positive definite and indefinite, scales 1e-8..1e8
        m = rng.normal(size=(2, 2)) * 10.0 ** rng.uniform(-8, 8)
        cases.append(m + m.T)
        cases.append(m @ m.T)
    cases += [np.eye(2), 3.0 * np.eye(2), np.zeros((2, 2)), -np.eye(2),  # equal eigenvalues
              np.array([[1.0, 1e-17], [1e-17, 1.0]]), np.array([[1.0 + 1e-15, 0.0], [0.0, 1.0]]),  # near-equal
              np.array([[2.0, 1e-9], [1e-9, 2.0 + 1e-12]]),
              np.diag([1e-2, 1e-47]), np.diag([1e-47, 1e-2]),  # a collapsed variance beside a real one
              np.array([[1.0, 1.0], [1.0, 1.0]]),  # singular
              np.array([[4.0, -2.0], [-2.0, 1.0 + 1e-13]])]
    return cases


def test_values_and_vectors_match_lapack():
    for m in _cases():
        values, vectors = np.empty(2), np.empty((2, 2))
        eigh_2x2(m[0, 0], m[1, 0], m[1, 1], values, vectors)
        expected, expected_vectors = np.linalg.eigh(m)
        expected, expected_vectors = expected[::-1], expected_vectors[:, ::-1]
        scale = np.abs(m).max()
        # both are backward stable: each eigenvalue to a few eps of ||A|| (4 eps: the hypot, the
        # products and LAPACK's own rounding)
        np.testing.assert_allclose(values, expected, rtol=0, atol=4 * EPS * scale)
        assert values[0] >= values[1]
        # the vectors: orthonormal, and V diag(values) V^T reproduces A to a few eps of ||A||
        np.testing.assert_allclose(vectors.T @ vectors, np.eye(2), rtol=0, atol=4 * EPS)
        np.testing.assert_allclose((vectors * values) @ vectors.T, m, rtol=0, atol=8 * EPS * scale)
        gap = values[0] - values[1]
        if gap > 1e-6 * scale:  # well-separated: each vector is LAPACK's up to its sign
            # the vectors' error is about eps ||A|| / gap
            overlap = np.abs(np.sum(vectors * expected_vectors, axis=0))
            np.testing.assert_allclose(overlap, 1.0, rtol=0, atol=16 * EPS * scale / gap)


def test_a_small_eigenvalue_keeps_its_relative_precision():
    # det / (m + r) rather than m - r: a variance of 1e-47 beside one of 1e-2 stays 1e-47
    values, vectors = np.empty(2), np.empty((2, 2))
    for a, c in ((1e-2, 1e-47), (1e-47, 1e-2)):
        eigh_2x2(a, 0.0, c, values, vectors)
        assert values[0] == max(a, c) and values[1] == pytest.approx(min(a, c), rel=4 * EPS)
    m = np.array([[1e-2, 1e-25], [1e-25, 1e-40]])  # det / large: relative precision of det's terms
    eigh_2x2(m[0, 0], m[1, 0], m[1, 1], values, vectors)
    assert values[1] == pytest.approx(1e-40 - 1e-50 / 1e-2, rel=1e-12)


def test_decreasing_eigh_takes_the_closed_form_at_two_and_lapack_above():
    rng = np.random.default_rng(1)
    for dim in (2, 3):
        m = rng.normal(size=(dim, dim))
        m = m @ m.T
        values, vectors = _decreasing_eigh(m)
        expected = np.linalg.eigvalsh(m)[::-1]
        np.testing.assert_allclose(values, expected, rtol=1e-13)  # rounding of each side
        np.testing.assert_allclose((vectors * values) @ vectors.T, m, atol=1e-13 * np.abs(m).max())
