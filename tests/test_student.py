"""StudentMixture against oracles: a literal per-point E- and M-step, scipy's multivariate_t
density, the Gaussian limit, a monotone log-likelihood, recovery of known parameters, and the
invariances (sample weights, chunks, model files)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import digamma, gammaln
from scipy.stats import multivariate_t

import mixfit
from mixfit import GaussianMixture, StudentMixture

FAMILIES = ["full", "tied", "diag", "spherical"]
DOF_RULES = {"estimate": "estimate", "tied": "tied", "fixed-5": 5.0}


def _rows(seed=0, n=(150, 150, 100)):
    """Three t(nu = 4) clusters in 3-D with different shapes."""
    centres = [np.zeros(3), np.array([6.0, 0.0, 1.0]), np.array([0.0, 7.0, -2.0])]
    shapes = [np.eye(3), np.diag([2.0, 0.5, 1.0]), np.array([[1.0, 0.6, 0.0], [0.6, 1.5, 0.3], [0.0, 0.3, 0.8]])]
    return np.vstack([multivariate_t.rvs(c, s, df=4, size=m, random_state=seed + i)
                      for i, (c, s, m) in enumerate(zip(centres, shapes, n))])


def _fit(estimator, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of deliberately short fits
        return estimator.fit(X, **kwargs)


def _full_scales(model) -> np.ndarray:
    """(K, D, D) scale matrices of any family."""
    cov, (K, D) = model.covariances_, model.means_.shape
    return {"full": lambda: cov, "tied": lambda: np.broadcast_to(cov, (K, D, D)),
            "diag": lambda: np.stack([np.diag(c) for c in cov]),
            "spherical": lambda: np.stack([c * np.eye(D) for c in cov])}[model.covariance_type]()


# ---- the per-point oracle ----------------------------------------------------------------------


def _log_t(x, mean, scale, nu):
    """ln t(x | mean, scale, nu), written from the density's formula."""
    D = x.shape[0]
    diff = x - mean
    delta = diff @ np.linalg.solve(scale, diff)
    return (gammaln((nu + D) / 2) - gammaln(nu / 2) - D / 2 * np.log(nu * np.pi)
            - 0.5 * np.linalg.slogdet(scale)[1] - (nu + D) / 2 * np.log1p(delta / nu)), delta


def _oracle_step(X, w, weights, means, scales, dofs, covariance_type, dof_rule):
    """One EM iteration, one row and one component at a time (Peel and McLachlan 2000; the dof
    equation in McLachlan and Peel's (2000, 7.5) form, with ln u and the old nu's digamma)."""
    n, D = X.shape
    K = weights.shape[0]
    resp, u = np.zeros((n, K)), np.zeros((n, K))
    for i in range(n):
        logs = np.zeros(K)
        for k in range(K):
            log_t, delta = _log_t(X[i], means[k], scales[k], dofs[k])
            logs[k] = np.log(weights[k]) + log_t
            u[i, k] = (dofs[k] + D) / (dofs[k] + delta)
        resp[i] = np.exp(logs - logs.max()) / np.exp(logs - logs.max()).sum()
    N = np.array([sum(w[i] * resp[i, k] for i in range(n)) for k in range(K)])
    new_means = np.array([sum(w[i] * resp[i, k] * u[i, k] * X[i] for i in range(n))
                          / sum(w[i] * resp[i, k] * u[i, k] for i in range(n)) for k in range(K)])
    S = np.array([sum(w[i] * resp[i, k] * u[i, k] * np.outer(X[i] - new_means[k], X[i] - new_means[k])
                      for i in range(n)) for k in range(K)])  # (K, D, D) before dividing
    scales_new = {"full": lambda: S / N[:, None, None], "tied": lambda: S.sum(axis=0) / N.sum(),
                  "diag": lambda: np.stack([np.diag(S[k]) / N[k] for k in range(K)]),
                  "spherical": lambda: np.array([np.trace(S[k]) / (D * N[k]) for k in range(K)])}[covariance_type]()

    def equation_terms(k):
        old = dofs[k]
        return (sum(w[i] * resp[i, k] * (np.log(u[i, k]) - u[i, k]) for i in range(n)),
                N[k] * (digamma((old + D) / 2) - np.log((old + D) / 2)))

    def root(terms, mass):
        g = lambda nu: 1 + np.log(nu / 2) - digamma(nu / 2) + (terms[0] + terms[1]) / mass
        return brentq(g, 1e-2, 1e6, xtol=1e-12)

    if dof_rule == "estimate":
        new_dofs = np.array([root(equation_terms(k), N[k]) for k in range(K)])
    elif dof_rule == "tied":
        parts = [equation_terms(k) for k in range(K)]
        new_dofs = np.full(K, root((sum(p[0] for p in parts), sum(p[1] for p in parts)), N.sum()))
    else:
        new_dofs = np.asarray(dofs)
    return N / N.sum(), new_means, scales_new, new_dofs


@pytest.mark.parametrize("dof", list(DOF_RULES.values()), ids=list(DOF_RULES))
@pytest.mark.parametrize("covariance_type", FAMILIES)
def test_one_iteration_matches_the_per_point_oracle(covariance_type, dof):
    rng = np.random.default_rng(3)
    X = _rows(n=(30, 30, 20))
    w = rng.uniform(0.5, 2.0, X.shape[0])
    start = _fit(StudentMixture(3, covariance_type=covariance_type, max_iter=2, random_state=0), X)
    weights, means, dofs = start.weights_, start.means_, np.array([3.0, 6.0, 12.0])
    scales = _full_scales(start)
    precisions = start.precisions_
    # a fixed dof makes every nu_k that value; the oracle then starts from it too
    dofs = dofs if isinstance(dof, str) else np.full(3, dof)
    model = StudentMixture(3, covariance_type=covariance_type, dof=dof, reg_covar=0.0, max_iter=1,
                           weights_init=weights, means_init=means, precisions_init=precisions)
    if isinstance(dof, str):  # start each component at its own nu: given as the warm start's params
        model.set_params(dof_init=1.0)
    model = _fit(model, X, sample_weight=w) if not isinstance(dof, str) else _warm_one_step(model, X, w, dofs)
    expected = _oracle_step(X, w, weights, means, scales, dofs, covariance_type,
                            dof if isinstance(dof, str) else "fixed")
    # float64 sums of ~80 terms in another order, and brentq's xtol: 1e-9 relative is rounding
    np.testing.assert_allclose(model.weights_, expected[0], rtol=1e-9)
    np.testing.assert_allclose(model.means_, expected[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.covariances_, expected[2], rtol=1e-9)
    np.testing.assert_allclose(model.degrees_of_freedom_, expected[3], rtol=1e-8)


def _warm_one_step(model, X, w, dofs):
    """One EM step from (weights_init, means_init, precisions_init, per-component ``dofs``): the
    public path to a start with unequal nu_k is a warm start from fitted attributes."""
    _fit(model.set_params(max_iter=0), X, sample_weight=w)  # the given start, no iteration
    model.degrees_of_freedom_ = np.asarray(dofs, dtype=np.float64)
    return _fit(model.set_params(max_iter=1, warm_start=True), X, sample_weight=w)


# ---- the density -------------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", FAMILIES)
def test_score_samples_is_the_mixture_of_scipy_multivariate_t(covariance_type):
    X = _rows()
    model = _fit(StudentMixture(3, covariance_type=covariance_type, random_state=0, max_iter=20), X)
    scales = _full_scales(model)
    density = sum(w * multivariate_t.pdf(X, m, s, df=nu)
                  for w, m, s, nu in zip(model.weights_, model.means_, scales, model.degrees_of_freedom_))
    np.testing.assert_allclose(model.score_samples(X), np.log(density), rtol=1e-10)  # two float64 formulas
    np.testing.assert_allclose(model.score(X), np.log(density).mean(), rtol=1e-10)
    labels = np.argmax(np.stack([w * multivariate_t.pdf(X, m, s, df=nu) for w, m, s, nu in zip(
        model.weights_, model.means_, scales, model.degrees_of_freedom_)], axis=1), axis=1)
    np.testing.assert_array_equal(model.predict(X), labels)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)


# ---- the Gaussian limit and the monotone log-likelihood ---------------------------------------


@pytest.mark.parametrize("covariance_type", FAMILIES)
def test_a_huge_fixed_dof_gives_the_gaussian_mixture(covariance_type):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) * 0.7 + 3, rng.normal(size=(150, 3)) + [0, 4, 0]])
    g = _fit(GaussianMixture(3, covariance_type=covariance_type, random_state=0, tol=0, max_iter=30), X)
    t = _fit(StudentMixture(3, covariance_type=covariance_type, dof=1e12, random_state=0, tol=0, max_iter=30), X)
    # At nu = 1e12 each u_n = 1 + O(delta / nu) ~ 1e-11 and ln t - ln N = O(D delta / nu): the
    # paths differ by ~1e-11 after 30 iterations (measured 3e-13 in the means, 2e-12 in the
    # covariances); 1e-9 leaves room for rounding, and would fail at nu = 1e8 (~3e-8).
    np.testing.assert_allclose(t.means_, g.means_, atol=1e-9)
    np.testing.assert_allclose(t.covariances_, g.covariances_, atol=1e-9)
    np.testing.assert_allclose(t.weights_, g.weights_, atol=1e-9)
    np.testing.assert_allclose(t.score_samples(X), g.score_samples(X), atol=1e-9)
    assert t.n_iter_ == g.n_iter_ == 30
    assert abs(t.lower_bound_ - g.lower_bound_) < 1e-9


@pytest.mark.parametrize("dof", list(DOF_RULES.values()), ids=list(DOF_RULES))
@pytest.mark.parametrize("covariance_type", FAMILIES)
def test_the_log_likelihood_never_decreases(covariance_type, dof):
    X = _rows()
    X = np.vstack([X, np.random.default_rng(1).uniform(-40, 40, size=(20, 3))])  # gross outliers
    model = _fit(StudentMixture(3, covariance_type=covariance_type, dof=dof, reg_covar=0.0, tol=0, max_iter=40,
                                random_state=1), X)
    steps = np.diff(model.lower_bounds_)
    # EM: each step maximises the expected complete-data log-likelihood exactly; per-sample
    # bounds of ~-6 round at ~1e-15, so a decrease beyond 1e-12 is a real one.
    assert steps.min() > -1e-12, steps.min()


# ---- recovery, sampling, outlier scores -------------------------------------------------------


def test_recovers_known_parameters_and_dof_from_generated_t_data():
    truth = StudentMixture(2, dof=4.0, covariance_type="full", max_iter=0, weights_init=[0.4, 0.6],
                           means_init=[[0.0, 0.0], [6.0, 2.0]],
                           precisions_init=np.linalg.inv([[[1.0, 0.3], [0.3, 0.5]], [[2.0, -0.4], [-0.4, 1.0]]]))
    truth = _fit(truth, np.zeros((4, 2)) + np.arange(4)[:, None])  # max_iter=0: exactly the given parameters
    X, y = truth.sample(6000, random_state=7)
    np.testing.assert_array_equal(np.bincount(y), np.bincount(truth.sample(6000, random_state=7)[1]))  # seeded
    fitted = _fit(StudentMixture(2, dof="estimate", random_state=0, tol=1e-6, max_iter=300), X)
    order = np.argsort(fitted.means_[:, 0])
    # standard errors at n ~ 3000 per component: means ~0.02, scale entries ~0.03, nu ~0.3
    np.testing.assert_allclose(fitted.means_[order], truth.means_, atol=0.1)
    np.testing.assert_allclose(fitted.covariances_[order], truth.covariances_, atol=0.15)
    np.testing.assert_allclose(fitted.weights_[order], [0.4, 0.6], atol=0.03)
    np.testing.assert_allclose(fitted.degrees_of_freedom_[order], [4.0, 4.0], rtol=0.3)
    tied = _fit(StudentMixture(2, dof="tied", random_state=0, tol=1e-6, max_iter=300), X)
    assert tied.degrees_of_freedom_[0] == tied.degrees_of_freedom_[1]
    assert abs(tied.degrees_of_freedom_[0] - 4.0) < 1.0


def test_outlier_scores_and_the_f_threshold():
    rng = np.random.default_rng(5)
    X = _rows()
    outliers = rng.uniform(-60, 60, size=(15, 3))
    # Started at the clusters, with the generator's nu: free, a start or nu may instead give the
    # scattered outliers a component of their own, or one component tails wide enough to hold them.
    centres = [[0.0, 0.0, 0.0], [6.0, 0.0, 1.0], [0.0, 7.0, -2.0]]
    model = _fit(StudentMixture(3, dof=4.0, means_init=centres), np.vstack([X, outliers]))
    scale = model.expected_scale(np.vstack([X, outliers]))
    assert scale[-15:].max() < np.median(scale[:-15]) / 3
    distance = model.mahalanobis(np.vstack([X, outliers]))
    labels = model.predict(np.vstack([X, outliers]))
    threshold = model.mahalanobis_threshold(alpha=0.001)
    assert (distance[-15:] > threshold[labels[-15:]]).mean() > 0.9
    # delta / D ~ F(D, nu) under a t component: the threshold's exceedance rate is alpha
    one = _fit(StudentMixture(1, dof=3.0, max_iter=0, means_init=[[0.0, 0.0]], weights_init=[1.0],
                              precisions_init=[[[1.0, 0.0], [0.0, 1.0]]]), np.eye(2))
    sample, _ = one.sample(40000, random_state=1)
    rate = (one.mahalanobis(sample) > one.mahalanobis_threshold(alpha=0.05)[0]).mean()
    assert abs(rate - 0.05) < 0.006  # 5 binomial standard errors at n = 40000


# ---- invariances -------------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", FAMILIES)
def test_integer_sample_weight_is_repeated_rows(covariance_type):
    X = _rows(n=(60, 60, 40))
    counts = np.random.default_rng(2).integers(0, 4, X.shape[0])
    means = X[[0, 70, 130]]
    make = lambda: StudentMixture(3, covariance_type=covariance_type, means_init=means, tol=0, max_iter=15)
    weighted = _fit(make(), X, sample_weight=counts)
    repeated = _fit(make(), np.repeat(X, counts, axis=0))
    # the same sums in another order: float64 rounding, amplified a little over 15 iterations
    for name in ("weights_", "means_", "covariances_", "degrees_of_freedom_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-8, atol=1e-10)


def test_the_fit_is_the_same_for_any_chunk_size_and_from_a_memmap(tmp_path):
    X = _rows()
    # means_init: the same start for every source (the chunked k-means differs from KMeans on an array)
    make = lambda chunk: StudentMixture(3, means_init=X[[0, 200, 350]], tol=0, max_iter=10, chunk_size=chunk)
    whole = _fit(make(None), X)
    path = tmp_path / "rows.npy"
    np.save(path, X)
    for fitted in (_fit(make(37), X), _fit(make(64), np.load(path, mmap_mode="r"))):
        # chunked sums add in another order: rounding only
        np.testing.assert_allclose(fitted.means_, whole.means_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(fitted.degrees_of_freedom_, whole.degrees_of_freedom_, rtol=1e-9)
        np.testing.assert_allclose(fitted.score_samples(X), whole.score_samples(X), rtol=1e-10)


def test_a_dask_array_fits_as_numpy():
    da = pytest.importorskip("dask.array")
    X = _rows()
    make = lambda: StudentMixture(3, means_init=X[[0, 200, 350]], tol=0, max_iter=8, chunk_size=50)
    local = _fit(make(), X)
    lazy = _fit(make(), da.from_array(X, chunks=(50, 3)))
    np.testing.assert_allclose(lazy.means_, local.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lazy.degrees_of_freedom_, local.degrees_of_freedom_, rtol=1e-9)


def test_float32_stays_float32():
    X = _rows().astype(np.float32)
    model = _fit(StudentMixture(3, random_state=0, max_iter=20), X)
    assert model.means_.dtype == np.float32 and model.score_samples(X).dtype == np.float32
    assert model.degrees_of_freedom_.dtype == np.float64


def test_model_file_round_trip(tmp_path):
    X = _rows()
    model = _fit(StudentMixture(3, covariance_type="diag", dof="tied", random_state=0), X)
    model.save(tmp_path / "t.mixfit")
    loaded = mixfit.load(tmp_path / "t.mixfit")
    assert isinstance(loaded, StudentMixture)
    np.testing.assert_array_equal(loaded.degrees_of_freedom_, model.degrees_of_freedom_)
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(loaded.expected_scale(X), model.expected_scale(X))


def test_information_criteria_count_the_degrees_of_freedom():
    X = _rows()
    K, D = 3, 3
    base = K - 1 + K * D + K * D * (D + 1) // 2
    for dof, extra in (("estimate", K), ("tied", 1), (7.0, 0)):
        model = _fit(StudentMixture(K, dof=dof, random_state=0, max_iter=5), X)
        log_lik = model.score(X) * X.shape[0]
        assert model.bic(X) == pytest.approx(-2 * log_lik + (base + extra) * np.log(X.shape[0]), rel=1e-12)
        assert model.aic(X) == pytest.approx(-2 * log_lik + 2 * (base + extra), rel=1e-12)


# ---- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, value", [("dof", -1.0), ("dof", 0), ("dof", "gaussian"), ("dof", np.nan),
                                         ("dof", np.inf), ("dof", True), ("dof", None), ("dof_init", 0.0),
                                         ("dof_init", "estimate"), ("dof_init", -3)])
def test_bad_dof_values_are_refused_naming_the_argument(name, value):
    with pytest.raises(ValueError, match=rf"^{name}="):
        StudentMixture(2, **{name: value}).fit(_rows(n=(10, 10, 10)))


def test_bad_alpha_is_refused():
    model = _fit(StudentMixture(2, random_state=0, max_iter=3), _rows(n=(10, 10, 10)))
    with pytest.raises(ValueError, match="alpha"):
        model.mahalanobis_threshold(alpha=1.5)


# ---- the command line --------------------------------------------------------------------------


def test_cli_fits_a_t_mixture_and_refuses_it_with_vb(tmp_path):
    testing = pytest.importorskip("click.testing")
    from mixfit.cli import cli

    data = tmp_path / "rows.csv"
    np.savetxt(data, _rows(n=(40, 40, 40)), delimiter=",")
    runner = testing.CliRunner()
    result = runner.invoke(cli, ["fit", str(data), "-k", "3", "--model", "t", "-o", str(tmp_path / "t.mixfit")])
    assert result.exit_code == 0, result.output
    assert "dof" in result.output
    assert isinstance(mixfit.load(tmp_path / "t.mixfit"), StudentMixture)
    refused = runner.invoke(cli, ["fit", str(data), "-k", "3", "--model", "t", "--method", "vb"])
    assert refused.exit_code != 0 and "--model t" in refused.output


def test_agrees_with_studenttmixture_on_clean_t_data():
    """studenttmixture (PyPI, optional) fits the same model with the same nu equation; from the
    same k-means start both reach the same optimum on well-separated clusters."""
    reference = pytest.importorskip("studenttmixture")
    X = _rows()
    ours = _fit(StudentMixture(3, random_state=0, tol=1e-9, max_iter=500), X)
    theirs = reference.EMStudentMixture(n_components=3, fixed_df=False, tol=1e-9, max_iter=500, random_state=0)
    theirs.fit(X)
    order = [int(np.argmin(np.linalg.norm(ours.means_ - m, axis=1))) for m in theirs.location_]
    assert sorted(order) == [0, 1, 2]
    # both converge to 1e-9; their nu solver (Newton, tol 1e-3) and df >= 1 clip bound the agreement
    np.testing.assert_allclose(ours.means_[order], theirs.location_, atol=1e-3)
    np.testing.assert_allclose(ours.covariances_[order], np.transpose(theirs.scale_, (2, 0, 1)), rtol=1e-2)
    np.testing.assert_allclose(ours.degrees_of_freedom_[order], theirs.df_, rtol=2e-2)
