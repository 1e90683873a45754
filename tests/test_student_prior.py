"""StudentMixture(prior=...): MAP EM of a t mixture under GaussianMixture's conjugate prior,
against a literal per-point complete-data log posterior maximised by scipy.optimize, scipy's
densities for the objective, the Gaussian limit (GaussianMixture(prior=...)), and the properties
the prior promises (a log posterior that never decreases, no singular scale matrix)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose
from oracles import map_em, student_map
from oracles.gaussian_em import covariances_from_precisions
from scipy.stats import multivariate_t

import mixfit
from mixfit import ConjugatePrior, GaussianMixture, StudentMixture
from mixfit.exceptions import CollapsedComponentError

K, D = 2, 2
DOF_RULES = {"estimate": "estimate", "tied": "tied", "fixed-4": 4.0}


def _fit(estimator, X, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of fits with tol=0 / max_iter
        return estimator.fit(X, sample_weight=sample_weight)


def _rows(n=(60, 60), seed=0):
    """Two t(nu = 3) clusters in 2-D and one gross outlier."""
    parts = [multivariate_t.rvs([0.0, 0.0], [[1.0, 0.4], [0.4, 0.8]], df=3, size=n[0], random_state=seed),
             multivariate_t.rvs([5.0, 1.0], [[0.6, 0.0], [0.0, 1.5]], df=3, size=n[1], random_state=seed + 1)]
    return np.vstack(parts + [[[30.0, -25.0]]])


def _prior(covariance_type):
    """A prior that matters on a small case (kappa 0.5, not mclust's 0.01), in the type's shape;
    mixfit's user-facing hyper-parameters are the oracle's (mclust's) for every type."""
    scale = {"full": np.array([[0.8, 0.2], [0.2, 0.5]]), "tied": np.array([[0.8, 0.2], [0.2, 0.5]]),
             "diag": np.array([0.8, 0.5]), "spherical": 0.6}[covariance_type]
    mean = np.array([1.0, 0.5])
    return (ConjugatePrior(mean_shrinkage=0.5, degrees_of_freedom=D + 3.0, scale=scale, mean=mean),
            map_em.Prior(kappa=0.5, nu=D + 3.0, mean=mean, scale=np.asarray(scale)))


def _start(covariance_type):
    """weights_init, means_init, precisions_init (scikit-learn's shapes) away from the optimum."""
    precisions = {"full": np.array([[[1.5, 0.3], [0.3, 1.0]], [[0.8, 0.0], [0.0, 0.6]]]),
                  "tied": np.array([[1.2, 0.2], [0.2, 0.9]]),
                  "diag": np.array([[1.5, 1.0], [0.8, 0.6]]),
                  "spherical": np.array([1.2, 0.7])}[covariance_type]
    return {"weights_init": np.array([0.45, 0.55]), "means_init": np.array([[0.5, -0.5], [4.0, 2.0]]),
            "precisions_init": precisions}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_map_m_step_maximises_the_complete_data_log_posterior(covariance_type):
    """One MAP iteration from a given start equals scipy's maximiser of the literal expected
    complete-data log posterior (weights, means, scale matrices and the dof, with sample weights)."""
    X = _rows(n=(7, 7))  # 15 rows: the oracle's per-point loops inside BFGS stay fast
    w = np.linspace(0.5, 2.0, X.shape[0])
    spec, prior = _prior(covariance_type)
    start = _start(covariance_type)
    model = _fit(StudentMixture(K, covariance_type=covariance_type, dof="estimate", dof_init=6.0, prior=spec,
                                reg_covar=0.0, max_iter=1, tol=0, **start), X, w)

    covariances = covariances_from_precisions(covariance_type, start["precisions_init"])
    dofs = np.full(K, 6.0)
    resp, u, log_u = student_map.e_step(X, start["weights_init"], start["means_init"],
                                        map_em.as_full(covariance_type, covariances, K, D), dofs)
    expected, best = student_map.maximise(X, w, resp, u, log_u,
                                          (start["weights_init"], start["means_init"], covariances, dofs),
                                          covariance_type, prior, fit_dof=True)
    ours = (model.weights_, model.means_, model.covariances_, model.degrees_of_freedom_)
    value = student_map.complete_data_log_posterior(X, w, resp, u, log_u, *ours, covariance_type, prior)
    # mixfit's closed form is the maximum: scipy's numerical optimum may not exceed it beyond the
    # rounding of a sum of ~30 terms of size ~10 (1e-9 absolute, far above 1e-13 rounding)
    assert value >= best - 1e-9
    # and is where scipy's optimum is: BFGS with finite-difference gradients (step ~1e-8) stops
    # within ~1e-7 of the maximiser on this well-conditioned problem; 1e-6 relative leaves room
    for actual, oracle in zip(ours, expected):
        assert_allclose(actual, oracle, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_lower_bound_is_the_log_posterior_of_scipys_densities(covariance_type):
    """lower_bounds_[0] is [sum_n w_n ln sum_k pi_k t(x_n) + ln p(mu, Sigma)] / sum_n w_n at the
    start (T.17), from scipy's multivariate_t and inverse Wishart / inverse gamma densities."""
    X = _rows()
    w = np.linspace(0.5, 2.0, X.shape[0])
    spec, prior = _prior(covariance_type)
    start = _start(covariance_type)
    model = _fit(StudentMixture(K, covariance_type=covariance_type, dof=5.0, prior=spec, max_iter=1, tol=0,
                                **start), X, w)
    covariances = covariances_from_precisions(covariance_type, start["precisions_init"])
    full = map_em.as_full(covariance_type, covariances, K, D)
    density = sum(start["weights_init"][k] * multivariate_t(start["means_init"][k], full[k], df=5.0).pdf(X)
                  for k in range(K))
    expected = (w @ np.log(density) + map_em.log_prior(covariance_type, start["means_init"], covariances, prior)
                ) / w.sum()
    assert_allclose(model.lower_bounds_[0], expected, rtol=1e-12)  # float64 sums in other orders


@pytest.mark.parametrize("dof", DOF_RULES.values(), ids=DOF_RULES.keys())
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_log_posterior_never_decreases(covariance_type, dof):
    """ECM for the posterior: each conditional step maximises the expected complete-data log
    posterior exactly (reg_covar = 0), so the log posterior is monotone to rounding."""
    X = _rows()
    model = _fit(StudentMixture(3, covariance_type=covariance_type, dof=dof, prior="default", reg_covar=0.0,
                                max_iter=40, tol=0, random_state=0), X)
    bounds = np.asarray(model.lower_bounds_)
    assert bounds.shape == (40,)
    # per-sample values of size ~5: rounding of the sums is ~1e-15; 1e-12 allows for it only
    assert np.all(np.diff(bounds) >= -1e-12), np.diff(bounds).min()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_huge_fixed_dof_gives_the_gaussian_map_fit(covariance_type):
    """dof = 1e10: u_nk = (nu + D) / (nu + delta_nk) = 1 + O(delta / nu), so N_k = U_k and the
    t density is the Gaussian's to ~1e-9 relative (log_t_constant keeps the constant exact); the
    MAP step is then (M.1), (M.2) and the fit GaussianMixture(prior=...)'s from the same start.
    Twenty iterations may amplify the 1e-9 per step by a little: 1e-7 relative."""
    X = _rows()
    spec, _ = _prior(covariance_type)
    kwargs = {"covariance_type": covariance_type, "prior": spec, "max_iter": 20, "tol": 0, "random_state": 0}
    t = _fit(StudentMixture(K, dof=1e10, **kwargs), X)
    gauss = _fit(GaussianMixture(K, **kwargs), X)
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        expected = np.asarray(getattr(gauss, name))
        assert_allclose(getattr(t, name), expected, rtol=1e-7, atol=1e-7 * np.abs(expected).max())


def test_the_prior_keeps_a_collapsing_component_finite():
    """Three identical rows form a component: maximum likelihood (reg_covar = 0) collapses on them,
    the posterior mode keeps its scale matrix positive definite."""
    X = np.vstack([_rows(), np.repeat([[12.0, 12.0]], 3, axis=0)])
    start = {"means_init": np.array([[0.0, 0.0], [5.0, 1.0], [12.0, 12.0]])}
    with pytest.raises(CollapsedComponentError):
        _fit(StudentMixture(3, dof=4.0, reg_covar=0.0, max_iter=5, **start), X)
    model = _fit(StudentMixture(3, dof=4.0, reg_covar=0.0, max_iter=5, prior="default", **start), X)
    assert np.all(np.linalg.eigvalsh(model.covariances_) > 0)
    assert np.all(np.isfinite(model.lower_bounds_))


@pytest.mark.parametrize("covariance_type", ["EII", "VEV"])
def test_a_family_without_a_conjugate_prior_is_refused(covariance_type):
    with pytest.raises(ValueError, match="covariance_type=.*no conjugate precision prior"):
        StudentMixture(2, covariance_type=covariance_type, prior="default").fit(_rows())


def test_a_bad_prior_is_refused_naming_it():
    with pytest.raises(ValueError, match="prior="):
        StudentMixture(2, prior="flat").fit(_rows())
    with pytest.raises(ValueError, match=r"prior\.degrees_of_freedom"):
        StudentMixture(2, prior=ConjugatePrior(degrees_of_freedom=0.5)).fit(_rows())


def test_model_file_keeps_the_prior(tmp_path):
    spec, _ = _prior("full")
    model = _fit(StudentMixture(K, prior=spec, random_state=0), _rows())
    model.save(tmp_path / "t.mixfit")
    loaded = mixfit.load(tmp_path / "t.mixfit")
    assert isinstance(loaded.prior, ConjugatePrior)
    assert_allclose(loaded.prior.scale, spec.scale, rtol=0)
    np.testing.assert_array_equal(loaded.score_samples(_rows()), model.score_samples(_rows()))
    # warm start from the loaded file continues the MAP fit: its objective does not fall
    loaded.set_params(warm_start=True, max_iter=5, tol=0)
    before = loaded.lower_bound_
    _fit(loaded, _rows())
    assert loaded.lower_bounds_[0] >= before - 1e-12  # the same log posterior, re-evaluated


def test_cli_fit_t_with_prior(tmp_path):
    testing = pytest.importorskip("click.testing")
    from mixfit.cli import cli

    data = tmp_path / "rows.csv"
    np.savetxt(data, _rows(), delimiter=",")
    out = tmp_path / "t.mixfit"
    result = testing.CliRunner().invoke(cli, ["fit", str(data), "-k", "2", "--model", "t", "--prior", "-o", str(out)])
    assert result.exit_code == 0, result.output
    loaded = mixfit.load(out)
    assert isinstance(loaded, StudentMixture) and loaded.prior == "default"
