"""The compiled mclust kernel's passes and warm starts: ``mclust_cell_compiled.score`` (the
table's log-likelihood and classification entropy, pass by pass with the vectorised exp / log)
against scipy's densities; ``small_dense_compiled.eigh_warm`` / ``eigh_carried`` (the M-steps'
eigendecompositions started from the previous M-step's vectors) against numpy.linalg.eigh
(LAPACK), over a long chain too; ``orientation_compiled.rotate_products`` against the sweep that
recomputes W_k D (``orientation_sweep``, itself checked against the numpy sweep in
test_mclust_orientation); M-steps on one carried workspace against fresh cold ones; and whole EM
fits of the warm-started families against the estimator's (numpy, LAPACK's eigh every M-step)."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from mixfit import select_model
from mixfit.engine import small_em
from mixfit.families import mclust_msteps
from mixfit.selection import compiled_cells, tables

pytest.importorskip("numba")

from mixfit.kernels import mclust_msteps_compiled as msteps
from mixfit.kernels.mclust_cell_compiled import score
from mixfit.kernels.orientation_compiled import orientation_sweep, rotate_products
from mixfit.kernels.small_dense_compiled import eigh_carried, eigh_warm, inverse_into, log_det_into

EPS = np.finfo(np.float64).eps


def _spd(rng, dim, scale=1.0):
    m = rng.normal(size=(dim, dim))
    return scale * (m @ m.T + 0.1 * np.eye(dim))


@pytest.mark.parametrize("dim", [2, 3, 4, 5])
def test_score_is_the_log_likelihood_and_entropy(dim):
    rng = np.random.default_rng(dim)
    n, K = 60, 3
    X = rng.normal(size=(n, dim)) * 2.0
    X[0] = 200.0  # far out: some r_nk underflow to 0 there (0 ln 0 = 0)
    weights_n = rng.uniform(0.5, 2.0, size=n)
    pi = np.array([0.5, 0.3, 0.2])
    means = rng.normal(size=(K, dim))
    covs = np.stack([_spd(rng, dim) for _ in range(K)])
    # P_k upper triangular with P_k P_k^T = Sigma_k^{-1}: the kernel's factors
    factors = np.stack([np.linalg.inv(np.linalg.cholesky(c)).T for c in covs])
    log_rho = np.stack([np.log(pi[k]) + multivariate_normal(means[k], covs[k]).logpdf(X) for k in range(K)], axis=1)
    log_norm = logsumexp(log_rho, axis=1)
    log_r = log_rho - log_norm[:, None]
    assert (np.exp(log_r[0]) == 0.0).any()
    expected_ll = weights_n @ log_norm
    expected_entropy = -weights_n @ (np.exp(log_r) * log_r).sum(axis=1)
    got_ll, got_entropy = score(X, weights_n, pi, means, factors)
    # the same sums in another order, exp / log within 2 ulp (tests/test_vector_exp.py): rounding
    # only, relative to the sums' terms (the log-likelihood's ~ n * 10, the entropy's ~ n)
    assert got_ll == pytest.approx(expected_ll, rel=1e-12)
    assert got_entropy == pytest.approx(expected_entropy, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("dim", [3, 4, 8])
def test_warm_eigh_matches_lapack_from_near_and_far_starts(dim):
    rng = np.random.default_rng(dim)
    for trial in range(40):
        m = _spd(rng, dim, 10.0 ** rng.uniform(-6, 6))
        near = np.linalg.eigh(m + 1e-4 * _spd(rng, dim, np.abs(m).max()))[1]  # a previous M-step's vectors
        far = np.linalg.qr(rng.normal(size=(dim, dim)))[0]  # any orthogonal start
        for start in (near, far, np.eye(dim)):
            values, vectors = np.empty(dim), np.empty((dim, dim))
            rotated, inner = np.empty((dim, dim)), np.empty((dim, dim))
            assert eigh_warm(m, start, values, vectors, rotated, inner)
            expected = np.linalg.eigh(m)[0][::-1]
            scale = np.abs(m).max()
            # backward stable as LAPACK's: each eigenvalue to a small multiple of eps ||A||
            # (the products start^T A start and start Q add D eps ||A|| each)
            np.testing.assert_allclose(values, expected, rtol=0, atol=16 * dim * EPS * scale)
            assert np.all(np.diff(values) <= 0)
            np.testing.assert_allclose(vectors.T @ vectors, np.eye(dim), rtol=0, atol=16 * dim * EPS)
            np.testing.assert_allclose((vectors * values) @ vectors.T, m, rtol=0, atol=16 * dim * EPS * scale)


@pytest.mark.parametrize("K, D", [(1, 3), (3, 4), (6, 5)])
def test_rotated_products_follow_the_recomputed_sweep(K, D):
    from mixfit.families.mclust_msteps import _FLAT

    rng = np.random.default_rng(K + 10 * D)
    scatter = np.stack([_spd(rng, D) for _ in range(K)])
    orientation = np.linalg.qr(rng.normal(size=(D, D)))[0]
    inverse = rng.uniform(0.5, 2.0, size=(K, D))
    products = np.einsum("ai,kab,bj->kij", orientation, scatter, orientation)
    expected = orientation_sweep(orientation, scatter, inverse, _FLAT)
    got = orientation.copy()
    rotate_products(got, products, inverse, _FLAT)
    # the same angles from the same a, b, c up to the sums' rounding (a few ulps of |W_k| ~ 10)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # the kept products are D'^T W_k D' of the rotated D, to rounding, and symmetric
    np.testing.assert_allclose(products, np.einsum("ai,kab,bj->kij", got, scatter, got), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(products, products.transpose(0, 2, 1))


def test_carried_eigenvectors_stay_orthogonal_over_a_long_chain():
    # an EM fit carries each W_k's eigenvectors through thousands of M-steps (each start Q adds
    # rounding): after 3000 slowly moving matrices the vectors are still orthonormal and the
    # eigenvalues LAPACK's, to a small multiple of eps (a drift growing with the steps would
    # show here as ~3000 eps)
    rng = np.random.default_rng(7)
    dim = 4
    base, step = _spd(rng, dim), 1e-4 * _spd(rng, dim)
    carried, values = np.empty((dim, dim)), np.empty(dim)
    scratch = [np.empty((dim, dim)) for _ in range(3)]
    for t in range(3000):
        m = base + np.sin(t / 300.0) * step
        eigh_carried(m, carried, t > 0, values, *scratch)
    np.testing.assert_allclose(carried.T @ carried, np.eye(dim), rtol=0, atol=64 * EPS)
    np.testing.assert_allclose(values, np.linalg.eigh(m)[0][::-1], rtol=0, atol=64 * EPS * np.abs(m).max())
    np.testing.assert_allclose((carried * values) @ carried.T, m, rtol=0, atol=64 * EPS * np.abs(m).max())


def test_a_failed_warm_start_falls_back_to_the_cold_decomposition():
    rng = np.random.default_rng(3)
    m = _spd(rng, 4)
    values, vectors, rotated, inner = np.empty(4), np.empty((4, 4)), np.empty((4, 4)), np.empty((4, 4))
    carried = np.full((4, 4), np.nan)  # e.g. left by a failed M-step
    assert not eigh_warm(m, carried, values, vectors, rotated, inner)  # the rotations meet NaN
    eigh_carried(m, carried, True, values, vectors, rotated, inner)
    expected_values, expected_vectors = np.linalg.eigh(m)
    np.testing.assert_allclose(values, expected_values[::-1], rtol=1e-13)  # well separated here: rounding
    np.testing.assert_allclose(np.abs(carried.T @ expected_vectors[:, ::-1]), np.eye(4), rtol=0, atol=1e-12)


@pytest.mark.parametrize("dim", [1, 3, 4, 7])
def test_lu_on_buffers_gives_numpys_log_det_and_inverse(dim):
    # VEE's |C| and C^{-1} on the workspace's buffers (one pair of buffers for every call)
    rng = np.random.default_rng(dim)
    lu, order = np.empty((dim, dim)), np.empty(dim, dtype=np.int64)
    column, inverse = np.empty(dim), np.empty((dim, dim))
    for matrix in (_spd(rng, dim), rng.normal(size=(dim, dim)), _spd(rng, dim, 1e-30)):  # the middle: pivoting
        # LU with partial pivoting is backward stable: rounding times the condition number (< 1e4 here)
        assert log_det_into(matrix, lu, order) == pytest.approx(np.linalg.slogdet(matrix)[1], rel=1e-12, abs=1e-12)
        inverse_into(matrix, lu, order, column, inverse)
        np.testing.assert_allclose(inverse @ matrix, np.eye(dim), rtol=0, atol=1e-10)
    if dim > 1:
        singular = np.ones((dim, dim))
        assert log_det_into(singular, lu, order) == -np.inf


def _numpy_m_step(family, scatter, mass):
    """families.mclust_msteps (LAPACK's eigh in every call) from the ridge-free S_k = W_k / N_k."""
    covariances = scatter / mass[:, None, None]
    if family == "EEV":
        return mclust_msteps.eev(covariances, mass), 0
    if family in ("EVE", "VVE"):
        result = mclust_msteps.common_orientation(covariances, mass, family == "EVE", tol=1.5e-8, max_iter=1000)
    elif family == "VEE":
        result = mclust_msteps.vee(covariances, mass, tol=1.5e-8, max_iter=1000)
    else:
        result = mclust_msteps.vev(covariances, mass, tol=1.5e-8, max_iter=1000)
    return result.covariances, result.iterations


@pytest.mark.parametrize("family", ["EEV", "VEV", "EVE", "VVE", "VEE", "VVV", "EII"])
@pytest.mark.parametrize("dim", [2, 3, 4, 6])
def test_m_steps_on_a_carried_workspace_equal_fresh_and_lapack_ones(family, dim):
    # successive M-steps of one EM share a workspace (warm eigenvectors, reused buffers):
    # each result equals the M-step computed alone, cold, and (the families with buffers or warm
    # starts) the numpy M-step on LAPACK's eigh / solve, to rounding
    rng = np.random.default_rng(dim)
    K = 3
    code = msteps.FAMILY_CODES.index(family)
    work = msteps.workspace(K, dim)
    base = np.stack([_spd(rng, dim) for _ in range(K)])
    for step in range(6):
        mass = rng.uniform(20.0, 60.0, size=K)
        first = np.zeros((K, dim)) if step % 2 else 0.01 * rng.normal(size=(K, dim))
        scatter = mass[:, None, None] * (base + 1e-3 * step * np.stack([_spd(rng, dim) for _ in range(K)]))
        warm_out, cold_out = np.zeros((K, dim, dim)), np.zeros((K, dim, dim))
        warm = msteps.covariances_in(code, mass, first, scatter, 0.0, 1.5e-8, 1000, warm_out, work)
        cold = msteps.covariances(code, mass, first, scatter, 0.0, 1.5e-8, 1000, cold_out)
        assert not warm[1] and not cold[1]  # no cap hit
        # the inner loops stop at a relative change of 1.5e-8, from starts equal to rounding:
        # the same count here, and the results to far below that tolerance
        assert warm[0] == cold[0]
        np.testing.assert_allclose(warm_out, cold_out, rtol=1e-10, atol=1e-12)
        if family in ("EEV", "VEV", "EVE", "VVE", "VEE") and not first.any():
            expected, iterations = _numpy_m_step(family, scatter, mass)
            assert warm[0] == iterations
            np.testing.assert_allclose(warm_out, expected, rtol=1e-10, atol=1e-12)


def _sweep(X, ks, families, compiled):
    """select_model's mclust table, its cells compiled (one EM call each, the warm M-steps) or
    through the estimator (numpy: LAPACK's eigh in every M-step)."""
    with pytest.MonkeyPatch.context() as patch:
        if not compiled:  # neither the cells' compiled call nor the estimator's compiled EM
            patch.setattr(tables, "compiled_cell", lambda *args: None)
            patch.setattr(tables, "compiled_sweep", lambda tasks, *args: iter([None] * len(tasks)))
            patch.setattr(small_em, "try_run", lambda *args: None)
            patch.setattr(mclust_msteps, "_decreasing_eigh", _counting_eigh(mclust_msteps._decreasing_eigh))
        else:
            patch.setattr(compiled_cells, "mclust_cell_result", _counting(compiled_cells.mclust_cell_result))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return select_model(X, ks, families, init_params="mclust", hierarchical_start=False, convention="mclust")


_COMPILED = []
_LAPACK = []


def _counting_eigh(real):
    def spy(matrices):
        _LAPACK.append(1)
        return real(matrices)
    return spy


def _counting(real):
    def spy(*args):
        fitted = real(*args)
        _COMPILED.append(not fitted.failed)
        return fitted
    return spy


@pytest.mark.parametrize("columns, ks", [(slice(0, 3), [2, 3, 4, 5, 6]), (slice(None), [2, 3, 4, 5, 6, 7, 8, 9])])
def test_warm_started_fits_equal_the_estimators_cold_ones(columns, ks):
    # whole EM fits on iris (D = 3 and 4): every M-step of the compiled cell warm-started from
    # the previous one's eigenvectors, against the estimator's fit of the same cell (LAPACK's
    # eigh at every M-step): the same iteration counts, inner counts and reasons, and values to
    # rounding amplified by a few hundred EM iterations (as test_compiled_cells)
    from sklearn.datasets import load_iris

    X = np.ascontiguousarray(load_iris().data[:, columns])
    families = ["EEV", "VEV", "EVE", "VVE"]
    _COMPILED.clear()
    _LAPACK.clear()
    compiled = _sweep(X, ks, families, True)
    assert _COMPILED and all(_COMPILED) and not _LAPACK  # every cell ran compiled
    reference = _sweep(X, ks, families, False)
    assert len(_LAPACK) > 100  # the reference's M-steps ran numpy's eigh
    assert len(compiled.cells) == len(reference.cells) == len(ks) * len(families)
    for a, b in zip(compiled.cells, reference.cells):
        assert (a.n_components, a.covariance_type, a.reason, a.n_iter, a.converged) == (
            b.n_components, b.covariance_type, b.reason, b.n_iter, b.converged)
        if a.reason:
            continue
        np.testing.assert_allclose(a.estimator.covariances_, b.estimator.covariances_, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(a.estimator.means_, b.estimator.means_, rtol=1e-9, atol=1e-11)
        assert a.estimator.lower_bounds_ == pytest.approx(b.estimator.lower_bounds_, rel=1e-11)
        if a.covariance_type in ("VEV", "EVE", "VVE"):
            assert a.estimator._covariance.inner_iterations == b.estimator._covariance.inner_iterations
