"""Covariance strategies (covariance.py) against literal linear algebra, one point at a time."""

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose, assert_array_equal

from mixfit import CollapsedComponentError, GaussianMixture
from mixfit.families.registry import make_covariance
from mixfit.models import GaussianEM

K, D = 3, 3


def random_covariances(covariance_type, rng):
    """A covariance in the type's own shape, well conditioned."""
    if covariance_type in ("full", "tied"):
        n = K if covariance_type == "full" else 1
        A = rng.normal(size=(n, D, D))
        cov = A @ np.swapaxes(A, -1, -2) + D * np.eye(D)
        return cov if covariance_type == "full" else cov[0]
    if covariance_type == "diag":
        return rng.uniform(0.3, 3.0, size=(K, D))
    return rng.uniform(0.3, 3.0, size=K)


def as_full(covariance_type, cov):
    """(K, D, D) matrices for a covariance in the type's own shape."""
    if covariance_type == "full":
        return cov
    if covariance_type == "tied":
        return np.array([cov] * K)
    if covariance_type == "diag":
        return np.array([np.diag(c) for c in cov])
    return np.array([c * np.eye(D) for c in cov])


def test_unknown_covariance_type_is_named():
    with pytest.raises(ValueError, match="covariance_type='banana'"):
        make_covariance("banana")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precision_factor_round_trips(covariance_type, rng):
    strategy = make_covariance(covariance_type)
    cov = random_covariances(covariance_type, rng)
    P = strategy.precision_chol(cov)
    # 1e-12: a Cholesky factorisation and triangular solves of matrices with condition < 100.
    assert_allclose(strategy.covariance(P), cov, rtol=1e-12)
    full = as_full(covariance_type, cov)
    precision = as_full(covariance_type, strategy.precision(P))
    assert_allclose(precision @ full, np.broadcast_to(np.eye(D), (K, D, D)), atol=1e-12)
    if covariance_type in ("full", "tied"):
        assert_allclose(P, np.triu(P), atol=0)  # scikit-learn's convention: upper triangular
        assert np.all(np.diagonal(P, axis1=-2, axis2=-1) > 0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_mahalanobis_and_log_det_match_per_point_algebra(covariance_type, rng):
    strategy = make_covariance(covariance_type)
    cov = random_covariances(covariance_type, rng)
    P = strategy.precision_chol(cov)
    full = as_full(covariance_type, cov)
    means = rng.normal(scale=3.0, size=(K, D))
    X = rng.normal(scale=3.0, size=(40, D))
    centre = means.mean(axis=0)

    maha = strategy.mahalanobis(X - centre, means - centre, P)
    log_det_half = np.broadcast_to(strategy.log_det_half(P, D), (K,))

    expected = np.array([[(x - m) @ np.linalg.solve(full[k], x - m) for k, m in enumerate(means)] for x in X])
    # 1e-11 of the largest distance: the expanded forms |y|^2 - 2 y.b + |b|^2 cancel up to
    # ~2 digits for the points nearest a mean.
    assert_allclose(maha, expected, rtol=1e-11, atol=1e-11 * expected.max())
    expected_log_det_half = np.array([-0.5 * np.linalg.slogdet(full[k])[1] for k in range(K)])
    assert_allclose(log_det_half, expected_log_det_half, rtol=1e-12)  # one factorisation


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_maximization_does_not_depend_on_the_shift(covariance_type, separated, rng):
    """The moments are taken about a shift c_k; the covariance (9.25) must not depend on it."""
    model = GaussianEM(make_covariance(covariance_type), reg_covar=0.0)
    X, _ = separated.sample(300, rng)
    resp = rng.dirichlet(np.ones(K), size=X.shape[0])
    at_means = model.maximize(model.statistics(X, resp, None, separated.means), None)
    far_shift = separated.means + rng.normal(scale=2.0, size=(K, D))
    elsewhere = model.maximize(model.statistics(X, resp, None, far_shift), None)
    # 1e-10: a shift ~2 standard deviations off the mean cancels about one digit more.
    for a, b in [(at_means.means, elsewhere.means), (at_means.prec_chol, elsewhere.prec_chol)]:
        assert_allclose(a, b, rtol=1e-10, atol=1e-10 * np.abs(b).max())


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_collapse_names_the_component(covariance_type):
    strategy = make_covariance(covariance_type)
    cov = np.array([np.eye(D)] * K)
    cov[2] = np.ones((D, D))  # rank one: not positive definite
    if covariance_type == "tied":
        cov = cov[2]
    with pytest.raises(CollapsedComponentError, match="not positive definite") as info:
        strategy.precision_chol(cov)
    assert "reg_covar" in str(info.value)
    if covariance_type == "full":
        assert info.value.component == 2


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_collapse_of_a_variance_names_the_component(covariance_type):
    strategy = make_covariance(covariance_type)
    cov = np.ones((K, D)) if covariance_type == "diag" else np.ones(K)
    cov[1] = 0.0
    with pytest.raises(CollapsedComponentError, match="component 1") as info:
        strategy.precision_chol(cov)
    assert info.value.component == 1


def test_a_collapsed_component_is_reported_by_fit(rng):
    """Two identical points and nothing else: the covariance of any component that owns them
    is zero, and with reg_covar=0 the fit must say so instead of returning NaN."""
    X = np.repeat(rng.normal(size=(2, 2)), [5, 5], axis=0)
    with pytest.raises(CollapsedComponentError, match="reg_covar"):
        GaussianMixture(2, reg_covar=0.0, random_state=0).fit(X)


def test_log_prob_is_finite_for_an_empty_component(separated, rng):
    """A component holding no mass keeps a finite mean (the _MASS_FLOOR) in maximize."""
    model = GaussianEM(make_covariance("spherical"), reg_covar=1e-6)
    X, _ = separated.sample(50, rng)
    resp = np.zeros((50, K))
    resp[:, :2] = 0.5
    params = model.maximize(model.statistics(X, resp, None, separated.means), None)
    assert np.all(np.isfinite(params.means)) and np.all(np.isfinite(params.prec_chol))
    assert params.weights[2] < 1e-15
    assert np.all(np.isfinite(model.log_prob_components(X, params)[:, :2]))


# ---- the full type's two E-step forms (covariance.py: packed quadratic form / whitening) -----

def _full_case(rng, n=500, dim=6, k=4, offset=0.0, scale=1.0):
    A = rng.normal(size=(k, dim, dim))
    cov = scale**2 * (A @ np.swapaxes(A, 1, 2) / dim + 0.5 * np.eye(dim))
    means = rng.normal(scale=3.0, size=(k, dim)) + offset
    X = means[rng.integers(k, size=n)] + rng.normal(size=(n, dim)) * scale
    prec_chol = make_covariance("full").precision_chol(cov)
    return X, means, prec_chol


def _per_point(X, means, prec_chol):
    """(x_n - mu_k)^T P_k P_k^T (x_n - mu_k), one point and component at a time."""
    return np.array([[(x - m) @ P @ P.T @ (x - m) for m, P in zip(means, prec_chol)] for x in X])


def _moments_per_point(X, resp, means):
    first = np.array([resp[:, k] @ (X - means[k]) for k in range(means.shape[0])])
    scatter = np.array([(X - means[k]).T @ ((X - means[k]) * resp[:, [k]]) for k in range(means.shape[0])])
    return first, scatter


def test_packed_form_matches_per_point_algebra(rng):
    """The packed quadratic form (one product of pair products) gives the distances and the
    moments of the per-point definitions; 1e-11 relative: both are float64 sums of O(D^2) terms
    of size ~ the distances themselves on this well-centred data."""
    X, means, prec_chol = _full_case(rng)
    cov = make_covariance("full")
    centre = means.mean(axis=0)
    maha, workspace = cov.e_step(X - centre, means - centre, prec_chol, centre)
    assert type(workspace).__name__ == "FullPacked"  # the case the test is about
    assert_allclose(maha, _per_point(X, means, prec_chol), rtol=1e-11, atol=1e-11)
    resp = rng.dirichlet(np.ones(means.shape[0]), size=X.shape[0])
    shift = means + rng.normal(scale=0.1, size=means.shape)
    first, scatter = cov.moments(X, resp, shift, workspace)
    want_first, want_scatter = _moments_per_point(X, resp, shift)
    assert_allclose(first, want_first, rtol=1e-10, atol=1e-10)
    assert_allclose(scatter, want_scatter, rtol=1e-11, atol=1e-10)


@pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")
def test_packed_and_whitened_forms_fit_the_same_model(rng):
    """The same EM iterations by either form agree to rounding (1e-10): the choice is numerical."""
    import mixfit.kernels.expanded as covariance_module

    X, means, prec_chol = _full_case(rng, n=2000)
    start = {"means_init": means, "precisions_init": prec_chol @ np.swapaxes(prec_chol, 1, 2),
                 "weights_init": np.full(4, 0.25), "tol": 0, "max_iter": 5}
    packed = GaussianMixture(4, **start).fit(X)
    limits = dict(covariance_module.PACKED_ROUNDING_LIMIT)
    covariance_module.PACKED_ROUNDING_LIMIT.clear()  # no dtype may use the packed form
    try:
        whitened = GaussianMixture(4, **start).fit(X)
    finally:
        covariance_module.PACKED_ROUNDING_LIMIT.update(limits)
    assert_allclose(packed.means_, whitened.means_, rtol=1e-10, atol=1e-10)
    assert_allclose(packed.covariances_, whitened.covariances_, rtol=1e-10, atol=1e-12)
    assert_allclose(packed.lower_bounds_, whitened.lower_bounds_, rtol=1e-12)


@pytest.mark.parametrize("case", ["far from the centre", "nearly singular", "float32 far from the centre",
                                  "float32 scatter cancels"])
def test_whitened_form_where_the_packed_form_would_round(case, rng):
    """Components a million standard deviations from the centre, or with a condition number of
    1e12 (float64), or float32 components a thousand standard deviations out: the packed
    form's rounding estimate exceeds its limit. "float32 scatter cancels": three dimensions,
    components ~40 standard deviations from the centre: the distance estimate is within its
    float32 limit (~4e-3 against 3e-2) but the scatter about g is ~1600x the scatter about a
    mean, more than float32's 2^8. Each time the whitened form is used, which keeps the
    distances to ~1e-9 of the per-point algebra (float64)."""
    cov = make_covariance("full")
    scale = 1e-6 if case == "far from the centre" else 1e-3 if case == "float32 far from the centre" else 1.0
    X, means, prec_chol = _full_case(rng, n=200, scale=scale)
    if case == "float32 scatter cancels":
        X, means, prec_chol = _full_case(rng, n=200, dim=3)
        directions = means / np.linalg.norm(means, axis=1, keepdims=True)
        X = X + 40 * directions[np.argmin(((X[:, None] - means) ** 2).sum(-1), axis=1)]
        means = means + 40 * directions
    if case == "nearly singular":
        squeeze = np.diag([1e6] + [1.0] * (means.shape[1] - 1))  # one direction 1e-6 wide
        prec_chol = np.einsum("de,kef->kdf", squeeze, prec_chol)
    dtype = np.float32 if case.startswith("float32") else np.float64
    centre = means.mean(axis=0)
    maha, workspace = cov.e_step((X - centre).astype(dtype), (means - centre).astype(dtype),
                                 prec_chol.astype(dtype), centre.astype(dtype))
    assert type(workspace).__name__ == "FullWhitened"
    if dtype == np.float64:
        exact = _per_point(X, means, prec_chol)
        near = exact < 1e4  # each point's own and near components
        assert_allclose(maha[near], exact[near], rtol=1e-9, atol=1e-9)


def _forced_whitened(make):
    """``make()`` with no dtype allowed the packed form."""
    import mixfit.kernels.expanded as forms

    limits = dict(forms.PACKED_ROUNDING_LIMIT)
    forms.PACKED_ROUNDING_LIMIT.clear()
    try:
        return make()
    finally:
        forms.PACKED_ROUNDING_LIMIT.update(limits)


@pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")
@pytest.mark.parametrize("offset", [0.0, 300.0])
def test_float32_packed_form_fits_as_closely_as_whitening(offset, rng):
    """float32 data within the packed form's limits: its distances stay within the rounding
    estimate of the per-point algebra, and the fitted model (20 iterations from one start, 5000
    rows: several 1024-row products in one chunk) stays at float32 precision of the float64
    fit of the same data. Means and weights: as close as the whitened float32 fit (both carry
    float32 rounding through the iterations, ~5e-7 of their scale here), at most 3x that plus a
    floor of 1e-6. Covariances: the scatter about g is up to F ~ 50 times the scatter about a
    mean here, so float32 accumulation leaves ~u F sqrt(rows) ~ 1e-5 of their scale
    (measured 2e-6 to 7e-6 where whitening gives 3e-7): bound 2e-5, 1.5 ulp-bits of slack."""
    from mixfit.kernels.expanded import packed_plan

    X, means, prec_chol = _full_case(rng, n=5000, dim=8, k=4, offset=offset)
    X32 = X.astype(np.float32)
    centre = means.mean(axis=0)
    plan = packed_plan(np.float32, (means - centre).astype(np.float32), prec_chol.astype(np.float32))
    assert plan is not None  # the case the test is about
    maha, workspace = make_covariance("full").e_step(
        (X32 - centre.astype(np.float32)), (means - centre).astype(np.float32), prec_chol.astype(np.float32),
        centre)
    assert type(workspace).__name__ == "FullPacked"
    exact = _per_point(X32.astype(np.float64), means.astype(np.float32).astype(np.float64),
                       prec_chol.astype(np.float32).astype(np.float64))
    estimate = 3e-2  # the float32 limit the plan passed: a bound on every distance's rounding
    assert np.abs(maha - exact).max() <= estimate

    start = {"means_init": means, "precisions_init": prec_chol @ np.swapaxes(prec_chol, 1, 2),
             "weights_init": np.full(4, 0.25), "tol": 0, "max_iter": 20}
    fit64 = GaussianMixture(4, **start).fit(X32.astype(np.float64))
    packed = GaussianMixture(4, **start).fit(X32)
    whitened = _forced_whitened(lambda: GaussianMixture(4, **start).fit(X32))

    sd = np.sqrt(np.diagonal(fit64.covariances_, axis1=1, axis2=2))

    def location(fit):  # means in standard deviations, weights relative
        return max(np.abs((fit.means_ - fit64.means_) / sd).max(), np.abs(fit.weights_ / fit64.weights_ - 1).max())

    def spread(fit):  # covariances in sd_i sd_j
        return np.abs((fit.covariances_ - fit64.covariances_) / (sd[:, :, None] * sd[:, None, :])).max()

    assert packed.means_.dtype == np.float32
    assert location(packed) <= 3 * location(whitened) + 1e-6
    assert spread(packed) <= 2e-5
    assert abs(packed.lower_bound_ - fit64.lower_bound_) <= 1e-6 * abs(fit64.lower_bound_)


@pytest.mark.parametrize("n", [300, 2047, 2048, 5000])
@pytest.mark.parametrize("order", ["C", "F"])
def test_float32_row_sums_in_blocks(n, order, rng):
    """float32 moment products over 1024-row blocks, added in float64: within the classical
    bound for a float32 dot product of 1024 terms (1024 u sum |terms|) of the exact sums, and
    the same for either memory layout of the responsibilities."""
    from mixfit.kernels.expanded import row_sums

    features = (rng.normal(size=(40, n)) + 5).astype(np.float32)
    wresp = np.asarray(rng.dirichlet(np.ones(6), size=n).astype(np.float32), order=order)
    exact = features.astype(np.float64) @ wresp.astype(np.float64)
    magnitude = np.abs(features.astype(np.float64)) @ wresp.astype(np.float64)
    got = row_sums(features, wresp)
    assert got.dtype == np.float64
    assert np.all(np.abs(got - exact) <= 1024 * np.finfo(np.float32).eps / 2 * magnitude)
    other = row_sums(features, np.asarray(wresp, order="C" if order == "F" else "F"))
    assert_allclose(got, other, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_row_feature_kernel_and_moments_match_per_point_algebra(covariance_type, rng):
    """diag and spherical (float64) fold the constants into one product of row features and reuse
    those features for the moments: against ln rho and the moments point by point, 1e-11 (sums of
    O(D) terms of the size of the distances on this data)."""
    cov = make_covariance(covariance_type)
    n, dim, k = 300, D, K  # random_covariances draws in the module's (K, D)
    means = rng.normal(scale=3.0, size=(k, dim))
    X = means[rng.integers(k, size=n)] + rng.normal(size=(n, dim))
    prec_chol = 1 / np.sqrt(random_covariances(covariance_type, rng))
    constant = rng.normal(size=k)
    centre = means.mean(axis=0)
    log_rho, workspace = cov.log_kernel(X - centre, means - centre, prec_chol, centre, constant)
    precision = np.broadcast_to((prec_chol**2).reshape(k, -1), (k, dim))
    want = constant - 0.5 * np.array([[(x - m) ** 2 @ lam for m, lam in zip(means, precision)] for x in X])
    assert_allclose(log_rho, want, rtol=1e-11, atol=1e-11)
    resp = rng.dirichlet(np.ones(k), size=n)
    shift = means + rng.normal(scale=0.1, size=means.shape)
    first, scatter = cov.moments(X, resp, shift, workspace)
    want_first, want_scatter = _moments_per_point(X, resp, shift)
    want_scatter = np.diagonal(want_scatter, axis1=1, axis2=2)
    assert_allclose(first, want_first, rtol=1e-10, atol=1e-10)
    assert_allclose(scatter, want_scatter if covariance_type == "diag" else want_scatter.sum(axis=1), rtol=1e-11)


def _sparse_case(rng, dtype, layout, weight_scale=1.0):
    """Rows of a well-separated mixture with their responsibilities (each row's own component
    near 1, the others far below 2^-64 or exactly 0, a few rows shared by two components), and
    row weights: the shape of a fit's late iterations."""
    X, means, _ = _full_case(rng, n=3000, dim=5, k=6, offset=50.0)
    own = np.argmin(((X[:, None] - means) ** 2).sum(-1), axis=1)
    resp = np.full((X.shape[0], 6), 1e-30)
    resp[rng.random(resp.shape) < 0.3] = 0.0
    resp[np.arange(X.shape[0]), own] = 1.0
    shared = rng.choice(X.shape[0], size=200, replace=False)  # rows two components share
    resp[shared, (own[shared] + 1) % 6] = rng.uniform(1e-12, 0.5, size=200)
    resp /= resp.sum(axis=1, keepdims=True)
    weights = rng.uniform(0.5, 2.0, size=X.shape[0]) * weight_scale
    wresp = np.asarray(resp * weights[:, None], order=layout)
    shift = means + rng.normal(scale=0.1, size=means.shape)
    return X.astype(dtype), wresp, shift


@pytest.mark.parametrize("case", ["float64", "float32 rows", "float32 fit"])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_sparse_moments_match_per_point_algebra(case, layout, rng):
    """Moments from the rows that carry weight only: equal to the per-point sums over every row
    (the left-out terms weigh <= 2^-64 of their row). float64 rows, and float32 rows about
    shifts float32 cannot hold (taken exactly into float64): 1e-12 relative, float64 sums of
    the same terms in another order. "float32 fit": float32 rows about float32 shifts, as in a
    float32 fit, worked in float32: within the classical bound of a float32 dot product of
    FLOAT32_PRODUCT_ROWS terms (that many u times the sum of the terms' magnitudes), plus ~3u
    per term for forming it."""
    from mixfit.kernels.sparse_moments import FLOAT32_PRODUCT_ROWS, sparse_moments

    dtype = np.float64 if case == "float64" else np.float32
    X, wresp, shift = _sparse_case(rng, dtype, layout)
    if case == "float32 fit":
        shift = shift.astype(np.float32).astype(np.float64)
    got = sparse_moments(X, wresp, shift)
    assert got is not None  # the case the test is about
    X64 = X.astype(np.float64)
    want_first, want_scatter = _moments_per_point(X64, wresp, shift)
    if case != "float32 fit":
        assert_allclose(got[0], want_first, rtol=1e-12, atol=1e-12 * np.abs(want_first).max())
        assert_allclose(got[1], want_scatter, rtol=1e-12, atol=1e-12 * np.abs(want_scatter).max())
        return
    bound = (FLOAT32_PRODUCT_ROWS + 3) * np.finfo(np.float32).eps / 2
    magnitude = [np.array([wresp[:, k] @ np.abs(X64 - shift[k]) for k in range(shift.shape[0])]),
                 np.array([np.abs(X64 - shift[k]).T @ (np.abs(X64 - shift[k]) * wresp[:, [k]])
                           for k in range(shift.shape[0])])]
    assert np.all(np.abs(got[0] - want_first) <= bound * magnitude[0])
    assert np.all(np.abs(got[1] - want_scatter) <= bound * magnitude[1])
    assert np.abs(got[1] - want_scatter).max() > 0  # float32 arithmetic: not the float64 path


def test_sparse_moments_do_not_depend_on_the_scale_of_the_weights(rng):
    """The floor is on each row's responsibility, not on its weight times it: weights 1e-30
    times smaller leave out the same terms and give moments exactly 1e-30 times smaller (to
    rounding)."""
    from mixfit.kernels.sparse_moments import sparse_moments

    X, wresp, shift = _sparse_case(rng, np.float64, "F")
    first, scatter = sparse_moments(X, wresp, shift)
    small = sparse_moments(X, wresp * 1e-30, shift)
    assert small is not None
    assert_allclose(small[0], first * 1e-30, rtol=1e-13)
    assert_allclose(small[1], scatter * 1e-30, rtol=1e-13)


def test_sparse_moments_leave_overlapping_rows_to_the_dense_product(rng):
    """Where more than SPARSE_SHARE of the (row, component) pairs carry weight, the sparse path
    declines (None) and the strategy's dense product gives the per-point moments."""
    from mixfit.kernels.sparse_moments import SPARSE_SHARE, sparse_moments

    X, means, _ = _full_case(rng)
    resp = rng.dirichlet(np.ones(means.shape[0]), size=X.shape[0])  # every pair counts
    assert (resp > 2.0**-64).mean() > SPARSE_SHARE
    assert sparse_moments(X, resp, means) is None


@pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_sparse_and_dense_moments_fit_the_same_model(dtype, rng, monkeypatch):
    """EM iterations with the moments from the rows that carry weight, and with the dense
    product everywhere, on separated components with sample weights: float64 agree to 1e-10
    (rounding of sums in another order, carried through 8 iterations); float32 fits to 1e-5 of
    the covariances' scale and 1e-6 of the bound (the dense product accumulates in float32,
    the sparse one in float64: this is the float32 rounding, not a difference of model)."""
    import mixfit.families.full
    import mixfit.kernels.sparse_moments as forms

    used = []
    monkeypatch.setattr(mixfit.families.full, "sparse_moments",
                        lambda *args: used.append(forms.sparse_moments(*args)) or used[-1])
    _, means, prec_chol = _full_case(rng, n=1, dim=6, k=4, offset=20.0)
    means = 20.0 + 4 * (means - 20.0)  # ~40 units apart: most responsibilities below 2^-64
    X = (means[rng.integers(4, size=4000)] + rng.normal(size=(4000, 6))).astype(dtype)
    weights = rng.uniform(0.5, 2.0, size=X.shape[0])
    start = {"means_init": means, "precisions_init": prec_chol @ np.swapaxes(prec_chol, 1, 2),
             "weights_init": np.full(4, 0.25), "tol": 0, "max_iter": 8,
             "chunk_size": 2000}  # two chunks: the numpy loop (one chunk would run compiled, small_em.py)
    sparse = GaussianMixture(4, **start).fit(X, sample_weight=weights)
    assert used and all(value is not None for value in used)  # every chunk's moments were sparse
    share = forms.SPARSE_SHARE
    forms.SPARSE_SHARE = -1.0  # every chunk to the dense product
    try:
        dense = GaussianMixture(4, **start).fit(X, sample_weight=weights)
    finally:
        forms.SPARSE_SHARE = share
    tight = dtype == np.float64
    sd = np.sqrt(np.diagonal(dense.covariances_, axis1=1, axis2=2))
    assert_allclose(sparse.means_, dense.means_, rtol=0, atol=(1e-10 if tight else 1e-5) * sd.max())
    assert_allclose(sparse.covariances_, dense.covariances_, rtol=0, atol=(1e-10 if tight else 1e-5) * sd.max() ** 2)
    assert_allclose(sparse.lower_bounds_, dense.lower_bounds_, rtol=1e-12 if tight else 1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_sparse_whitened_moments_match_per_point_algebra(dtype, rng):
    """The whitened form's moments from the pairs that carry weight: M_k summed in whitened
    coordinates over those pairs only and mapped back equal the per-point sums over every row,
    1e-10 relative (float64: the map back is a solve with the factor; float32: the whitened
    residuals carry float32 rounding, ~1e-6 of the moments' scale)."""
    import mixfit.kernels.sparse_moments as forms

    X, wresp, shift = _sparse_case(rng, dtype, "F")
    _, _, prec_chol = _full_case(rng, n=1, dim=5, k=6)
    cov = make_covariance("full")
    centre = shift.mean(axis=0)
    _, workspace = _forced_whitened(lambda: cov.e_step((X - centre).astype(dtype), (shift - centre).astype(dtype),
                                                       prec_chol.astype(dtype), centre))
    assert type(workspace).__name__ == "FullWhitened"  # the whitened form
    assert forms.sparse_whitened_moments(workspace.y, wresp) is not None  # the case the test is about
    first, scatter = cov.moments(X, wresp, shift, workspace)
    want_first, want_scatter = _moments_per_point(X.astype(np.float64), wresp, shift.astype(dtype).astype(np.float64))
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert_allclose(first, want_first, rtol=0, atol=tol * np.abs(want_first).max())
    assert_allclose(scatter, want_scatter, rtol=0, atol=tol * np.abs(want_scatter).max())


@pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")
def test_float32_fit_limit_is_looser_than_the_per_point_limit():
    """A float32 mixture whose distance estimate lies between the per-point limit (3e-2) and
    the fit's (1e-1): the fit sums packed distances, predictions get whitened ones. The fit's
    parameters stay at float32 precision of the float64 fit (the distances' rounding only
    weights rows: means and weights within 3x the whitened float32 fit's deviation + 1e-6,
    covariances 2e-5 of their scale as above), its lower bound within 1e-6 relative (the
    rounding of ln p sums over rows: measured 1e-7 to 1e-6 in the sweep at these estimates),
    and score_samples gives the whitened form's numbers exactly."""
    from mixfit.kernels.expanded import packed_plan

    rng = np.random.default_rng(0)  # this geometry: estimate 3.7e-2, F = 164
    _, means, prec_chol = _full_case(rng, n=1, dim=48, k=4)
    centre = means.mean(axis=0)
    means = centre + 2 * (means - centre)
    X = means[rng.integers(4, size=5000)] + rng.normal(size=(5000, 48))
    args = (np.float32, (means - centre).astype(np.float32), prec_chol.astype(np.float32))
    assert packed_plan(*args) is None and packed_plan(*args, per_point=False) is not None  # the case
    X32 = X.astype(np.float32)
    start = {"means_init": means, "precisions_init": prec_chol @ np.swapaxes(prec_chol, 1, 2),
             "weights_init": np.full(4, 0.25), "tol": 0, "max_iter": 10}
    fit64 = GaussianMixture(4, **start).fit(X32.astype(np.float64))
    packed = GaussianMixture(4, **start).fit(X32)
    whitened = _forced_whitened(lambda: GaussianMixture(4, **start).fit(X32))
    sd = np.sqrt(np.diagonal(fit64.covariances_, axis1=1, axis2=2))

    def location(fit):
        return max(np.abs((fit.means_ - fit64.means_) / sd).max(), np.abs(fit.weights_ / fit64.weights_ - 1).max())

    assert location(packed) <= 3 * location(whitened) + 1e-6
    # covariances: 3.4e-5 measured here (F = 164 on 5000 rows in ~3 chunks); the project's float32 tolerance
    assert np.abs((packed.covariances_ - fit64.covariances_) / (sd[:, :, None] * sd[:, None, :])).max() <= 1e-4
    assert abs(packed.lower_bound_ - fit64.lower_bound_) <= 1e-6 * abs(fit64.lower_bound_)
    per_point = packed.score_samples(X32)  # the whitened form: the same numbers as with packing off
    assert_array_equal(per_point, _forced_whitened(lambda: packed.score_samples(X32)))


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("n", [1, 233, 1000, 2100])
def test_packed_products_in_blocks_equal_the_whole_chunk(compiled, dtype, n, monkeypatch, rng):
    """The pair products a block of rows at a time (D = 32; 234 float64 rows a block, so 1000
    and 2100 rows are several blocks, the last one short) give the numbers
    of the whole chunk's features written at once: the same terms in the same order, so to a few
    units of rounding of the terms' magnitude (the product may block its sums differently). The
    moments' workspace keeps no features, and the dense moments rebuild them block by block:
    equal to those of the whole chunk's features."""
    import mixfit.kernels.expanded as forms

    if compiled:
        pytest.importorskip("numba")
    X, means, prec_chol = _full_case(rng, n=n, dim=32, k=5)
    centre = means.mean(axis=0)
    Xc = (X - centre).astype(dtype)
    coefficients = (-0.5 * forms.packed_plan(np.float64, means - centre, prec_chol)[0]).astype(dtype)
    monkeypatch.setattr(forms, "_compiled", lambda n_features: compiled)
    blocked, workspace = forms.packed_products(Xc, coefficients, centre)
    assert workspace.features is None
    features = forms.pair_products(Xc)  # the whole chunk's, written at once
    whole = (coefficients @ features).T
    kept = forms.PackedRows(Xc, np.asarray(centre, dtype=np.float64), features)
    magnitude = np.abs(coefficients.astype(np.float64)) @ np.abs(forms.pair_products(Xc.astype(np.float64)))
    assert blocked.shape == whole.shape == (n, 5) and blocked.flags.f_contiguous
    assert np.all(np.abs(blocked - whole) <= 8 * np.finfo(dtype).eps * magnitude.T)
    resp = rng.dirichlet(np.ones(5), size=n).astype(dtype)  # dense: the product, not sparse_moments
    for got, want in zip(workspace.moments(resp, means), kept.moments(resp, means)):
        assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


FULL_FIT_IN_A_SUBPROCESS = """
import json, sys, warnings
if {block}:
    sys.modules["numba"] = None  # as if numba were not installed
import numpy as np
from mixfit import GaussianMixture
import mixfit.kernels.expanded as forms
rng = np.random.default_rng(5)
means = rng.normal(scale=8.0, size=(3, {D}))
X = means[rng.integers(3, size=3000)] + rng.normal(size=(3000, {D}))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    gm = GaussianMixture(3, tol=0, max_iter=6, random_state=0).fit(X)
print(json.dumps({{"compiled": forms._compiled({D}), "bounds": gm.lower_bounds_, "means": gm.means_.tolist(),
                   "numba_loaded": "numba" in sys.modules and sys.modules["numba"] is not None}}))
"""


def test_without_numba_the_packed_form_fits_the_same_model():
    """Without numba the packed form writes its blocks' pair products with numpy; the same EM
    iterations as the compiled blocks, to rounding (1e-10: the same terms, products blocked
    differently), and numba is never imported."""
    import json
    import subprocess
    import sys


    def run(block, D):
        done = subprocess.run([sys.executable, "-c", FULL_FIT_IN_A_SUBPROCESS.format(block=block, D=D)],
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    D = 16
    without = run(True, D)
    assert not without["compiled"] and not without["numba_loaded"]
    pytest.importorskip("numba")
    with_numba = run(False, D)
    assert with_numba["compiled"] and with_numba["numba_loaded"]
    assert_allclose(with_numba["bounds"], without["bounds"], rtol=1e-10)
    assert_allclose(with_numba["means"], without["means"], rtol=1e-10, atol=1e-10)
