"""Variational Bayes Gaussian mixtures: oracle, closed forms, invariances, references."""

import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from oracles import gaussian_vb as oracle
from scipy import integrate, stats
from scipy.special import gammaln, multigammaln
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBGM

from mixfit import BayesianGaussianMixture, GaussianMixture
from mixfit.families.precision_priors import NormalPrecisionPrior
from mixfit.families.registry import make_covariance, make_precision_prior
from mixfit.families.weights import make_weight_prior
from mixfit.models import GaussianVB

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
WEIGHT_TYPES = ["dirichlet_process", "dirichlet_distribution"]
ALL_CASES = [pytest.param(c, w, id=f"{c}-{w.split('_')[1]}") for c in COVARIANCE_TYPES for w in WEIGHT_TYPES]

TRUE_WEIGHTS = np.array([0.15, 0.35, 0.5])
TRUE_MEANS = np.array([[-3.0, 2.0], [4.0, 2.0], [3.0, 1.0]])
TRUE_COVARIANCES = np.array([[[1, 0.2], [0.2, 2]], [[0.8, -1], [-1, 1.3]], [[1.5, 1.4], [1.4, 1.5]]])


def sample_mixture(n, seed, weights=TRUE_WEIGHTS, means=TRUE_MEANS, covariances=TRUE_COVARIANCES):
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(weights), size=n, p=weights)
    X = np.empty((n, means.shape[1]))
    for k in range(len(weights)):
        rows = labels == k
        X[rows] = rng.multivariate_normal(means[k], covariances[k], size=rows.sum())
    return X, labels


def prior_scale(cov_type, D):
    return {"full": np.eye(D) * 1.3, "tied": np.eye(D) * 1.3, "diag": np.full(D, 1.3), "spherical": 1.3}[cov_type]


def make_model(cov_type, weight_type, D, *, alpha0=0.4, beta0=0.7, m0=None, nu0=None, reg_covar=1e-6):
    covariance = make_covariance(cov_type)
    m0 = np.linspace(-0.5, 0.5, D) if m0 is None else m0
    nu0 = D + 0.5 if nu0 is None else nu0
    prior = NormalPrecisionPrior(beta0, m0, nu0, np.asarray(prior_scale(cov_type, D), dtype=float))
    model = GaussianVB(covariance, make_weight_prior(weight_type, alpha0), make_precision_prior(covariance),
                       prior, reg_covar)
    oracle_prior = {"alpha0": alpha0, "beta0": beta0, "m0": m0, "nu0": nu0, "psi0": prior.scale}
    return model, oracle_prior


def as_oracle_state(model, params):
    """mixfit's q(theta) in the oracle's parametrisation (psi = W^{-1} = covariance * nu)."""
    cov = model.covariance.covariance(params.prec_chol)
    dof = params.dof
    psi = cov * (dof if np.ndim(dof) == 0 else dof.reshape((-1,) + (1,) * (cov.ndim - 1)))
    alpha = params.concentration if params.concentration.ndim == 1 else tuple(params.concentration)
    return {"alpha": alpha, "beta": params.mean_precision, "m": params.means, "nu": dof, "psi": psi}


def assert_states_close(ours, theirs, rtol):
    for key in ("beta", "m", "nu", "psi"):
        assert_allclose(ours[key], theirs[key], rtol=rtol, err_msg=key)
    assert_allclose(np.asarray(ours["alpha"]), np.asarray(theirs["alpha"]), rtol=rtol, err_msg="alpha")


# ---- the literal oracle -----------------------------------------------------------------------


@pytest.mark.parametrize("cov_type, weight_type", ALL_CASES)
def test_updates_and_elbo_match_the_literal_oracle(cov_type, weight_type):
    X, _ = sample_mixture(40, seed=1)
    rng = np.random.default_rng(2)
    w = rng.uniform(0.2, 2.0, size=X.shape[0])
    resp0 = rng.dirichlet(np.ones(3), size=X.shape[0])
    model, prior = make_model(cov_type, weight_type, X.shape[1])

    params = model.maximize(model.statistics(X, resp0, w, np.zeros((3, 2))), None)
    for _ in range(3):
        params = model.maximize(model.accumulate(X, params, w), params)
    expected = oracle.run(X, w, resp0, prior, cov_type, weight_type, reg_covar=1e-6, n_iter=3)
    # Same maths in a different order (sums over n by BLAS vs Python loops, Cholesky vs inv): a
    # few hundred ulps after four M-steps.
    assert_states_close(as_oracle_state(model, params), expected, rtol=1e-10)

    ours = model.objective(model.accumulate(X, params, w), params)
    theirs = oracle.elbo(X, w, expected, prior, cov_type, weight_type)
    # log_norm - KL against PRML's term-by-term (10.71)-(10.77): the identity holds exactly, the
    # two sums differ by rounding of terms of size ~1e2.
    assert_allclose(ours, theirs, rtol=1e-10)


# ---- closed forms ----------------------------------------------------------------------------


def _normal_wishart_log_evidence(X, beta0, m0, nu0, psi0):
    """ln p(X) under x ~ N(mu, Lambda^{-1}), (mu, Lambda) ~ NW(m0, beta0, psi0^{-1}, nu0)."""
    N, D = X.shape
    xbar = X.mean(axis=0)
    scatter = (X - xbar).T @ (X - xbar)
    beta_n, nu_n = beta0 + N, nu0 + N
    psi_n = psi0 + scatter + beta0 * N / beta_n * np.outer(xbar - m0, xbar - m0)
    return (-N * D / 2 * np.log(np.pi) + multigammaln(nu_n / 2, D) - multigammaln(nu0 / 2, D)
            + nu0 / 2 * np.linalg.slogdet(psi0)[1] - nu_n / 2 * np.linalg.slogdet(psi_n)[1]
            + D / 2 * np.log(beta0 / beta_n))


def _normal_gamma_log_evidence(z, beta0, m0, a0, b0, dim):
    """ln p(z) for rows z (N, dim) ~ N(mu, lambda^{-1} I), mu | lambda ~ N(m0, (beta0 lambda)^{-1} I),
    lambda ~ Gam(a0, b0)."""
    N = z.shape[0]
    zbar = z.mean(axis=0)
    beta_n, a_n = beta0 + N, a0 + N * dim / 2
    b_n = b0 + 0.5 * ((z - zbar) ** 2).sum() + beta0 * N * ((zbar - m0) ** 2).sum() / (2 * beta_n)
    return (gammaln(a_n) - gammaln(a0) + a0 * np.log(b0) - a_n * np.log(b_n)
            + dim / 2 * np.log(beta0 / beta_n) - N * dim / 2 * np.log(2 * np.pi))


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_single_component_elbo_is_the_exact_log_evidence(cov_type):
    # K = 1: q(Z) is trivial and q(mu, Lambda) is the exact conjugate posterior, so ELBO = ln p(X).
    X, _ = sample_mixture(200, seed=3)
    D = X.shape[1]
    m0, beta0, nu0 = np.array([0.5, -0.2]), 0.8, 3.5
    scale = prior_scale(cov_type, D)
    est = BayesianGaussianMixture(
        n_components=1, covariance_type=cov_type, weight_concentration_prior_type="dirichlet_distribution",
        mean_prior=m0, mean_precision_prior=beta0, degrees_of_freedom_prior=nu0, covariance_prior=scale,
        reg_covar=0.0, max_iter=3, tol=1e-12).fit(X)
    if cov_type in ("full", "tied"):
        expected = _normal_wishart_log_evidence(X, beta0, m0, nu0, scale)
    elif cov_type == "diag":
        expected = sum(_normal_gamma_log_evidence(X[:, [d]], beta0, m0[d], nu0 / 2, scale[d] / 2, 1)
                       for d in range(D))
    else:
        expected = _normal_gamma_log_evidence(X, beta0, m0, D * nu0 / 2, D * scale / 2, D)
    # Two independent formulas for a number of size ~1e3: agreement to rounding.
    assert_allclose(np.array(est.lower_bounds_) * X.shape[0], expected, rtol=1e-9)


# ---- the bound never decreases ---------------------------------------------------------------


@pytest.mark.parametrize("reg_covar", [0.0, 1e-6], ids=["no-ridge", "default-ridge"])
@pytest.mark.parametrize("cov_type, weight_type", ALL_CASES)
def test_elbo_never_decreases(cov_type, weight_type, reg_covar):
    X, _ = sample_mixture(300, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = BayesianGaussianMixture(n_components=5, covariance_type=cov_type, init_params="random",
                                      weight_concentration_prior_type=weight_type, reg_covar=reg_covar,
                                      tol=0.0, max_iter=80, random_state=0).fit(X)
    bounds = np.array(est.lower_bounds_)
    # Coordinate ascent; near the fixed point the steps reach rounding of a per-sample bound ~4.
    assert np.diff(bounds).min() >= -1e-12 * np.abs(bounds).max()


# ---- the posterior predictive ----------------------------------------------------------------


def _scipy_predictive(est, X):
    """ln sum_k weights_k St_k(x) from scipy.stats, per row, from the fitted attributes."""
    D = X.shape[1]
    beta, nu, cov = est.mean_precision_, np.broadcast_to(est.degrees_of_freedom_, (est.n_components,)), \
        est.covariances_
    dens = np.zeros(X.shape[0])
    for k in range(est.n_components):
        factor = (1 + beta[k]) / beta[k]
        if est.covariance_type in ("full", "tied"):
            psi = (cov[k] if est.covariance_type == "full" else cov) * nu[k]  # W_k^{-1}
            df = nu[k] + 1 - D  # (10.81)
            comp = stats.multivariate_t(est.means_[k], psi * factor / df, df=df).pdf(X)
        elif est.covariance_type == "diag":
            comp = np.prod(stats.t.pdf(X, df=nu[k], loc=est.means_[k], scale=np.sqrt(cov[k] * factor)), axis=1)
        else:
            comp = stats.multivariate_t(est.means_[k], np.eye(D) * cov[k] * factor, df=D * nu[k]).pdf(X)
        dens += est.weights_[k] * comp
    return np.log(dens)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_predictive_is_the_student_t_mixture_of_scipy(cov_type):
    X, _ = sample_mixture(60, seed=5)
    est = BayesianGaussianMixture(n_components=3, covariance_type=cov_type, random_state=0).fit(X)
    grid, _ = sample_mixture(200, seed=6)
    # Two implementations of the same densities in log vs linear space: rounding only.
    assert_allclose(est.score_samples(grid), _scipy_predictive(est, grid), rtol=1e-10)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_predictive_integrates_to_one(cov_type):
    X, _ = sample_mixture(40, seed=7)
    one_d = BayesianGaussianMixture(n_components=3, covariance_type=cov_type, random_state=0).fit(X[:, :1])
    mass, _ = integrate.quad(lambda x: np.exp(one_d.score_samples(np.array([[x]]))[0]), -np.inf, np.inf,
                             epsabs=1e-12, limit=200)
    # Adaptive quadrature of a smooth density: its error estimate is far below this.
    assert_allclose(mass, 1.0, rtol=1e-8)

    two_d = BayesianGaussianMixture(n_components=3, covariance_type=cov_type, random_state=0).fit(X)
    # A 0.1 grid on [-60, 60], then geometric steps out to 1e4: a nearly empty component keeps
    # dof close to D, a Student-t with ~1 degree of freedom, whose tail outside [-60, 60]^2 holds
    # ~1e-5 of the mass.
    tail = np.geomspace(60, 1e4, 301)[1:]
    axis = np.concatenate([-tail[::-1], np.linspace(-60, 60, 1201), tail])
    xx, yy = np.meshgrid(axis, axis)
    dens = np.exp(two_d.score_samples(np.column_stack([xx.ravel(), yy.ravel()]))).reshape(xx.shape)
    mass_2d = integrate.trapezoid(integrate.trapezoid(dens, axis, axis=1), axis)
    # Trapezoid of a smooth density on that grid, plus the tail mass beyond 1e4 (~1e-8).
    assert_allclose(mass_2d, 1.0, rtol=1e-5)


def test_predictive_beats_scikit_learn_on_held_out_data():
    test, _ = sample_mixture(20000, seed=100)
    ours, plugin, theirs = [], [], []
    for seed in range(5):
        train, _ = sample_mixture(30, seed=seed)
        kw = {"n_components": 3, "random_state": 0, "max_iter": 500}
        est = BayesianGaussianMixture(**kw).fit(train)
        ours.append(est.score(test))
        plugin.append(est.score_samples_plugin(test).mean())
        theirs.append(SkBGM(**kw).fit(train).score(test))
    print(f"\nheld-out mean log-likelihood, N_train=30: predictive {np.mean(ours):.4f}, "
          f"plug-in {np.mean(plugin):.4f}, scikit-learn score {np.mean(theirs):.4f}")
    assert np.mean(ours) > np.mean(theirs)


# ---- scikit-learn as a reference --------------------------------------------------------------


@pytest.mark.parametrize("weight_type", WEIGHT_TYPES, ids=["process", "distribution"])
def test_full_fit_matches_scikit_learn_from_the_same_start(weight_type):
    X, _ = sample_mixture(500, seed=8)
    kw = {"n_components": 3, "weight_concentration_prior_type": weight_type, "covariance_prior": np.eye(2),
              "mean_prior": np.zeros(2), "tol": 0.0}
    ours = BayesianGaussianMixture(max_iter=0, random_state=0, **kw).fit(X)
    theirs = SkBGM(max_iter=1, random_state=0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X)  # sets its priors; its state is then replaced by ours
        theirs.weight_concentration_ = copy.deepcopy(ours.weight_concentration_)
        for name in ("mean_precision_", "means_", "degrees_of_freedom_", "covariances_", "precisions_cholesky_"):
            setattr(theirs, name, np.copy(getattr(ours, name)))
        theirs.set_params(warm_start=True, max_iter=30).fit(X)
        ours.set_params(warm_start=True, max_iter=30).fit(X)
    # The same updates from the same state (scikit-learn's full-covariance E-step is ours): 30
    # iterations of rounding differences.
    for name in ("mean_precision_", "degrees_of_freedom_", "means_", "covariances_", "weights_"):
        assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-6, err_msg=name)
    assert_allclose(np.asarray(ours.weight_concentration_), np.asarray(theirs.weight_concentration_), rtol=1e-6)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_m_step_matches_scikit_learn_on_the_same_responsibilities(cov_type):
    # diag/spherical/tied E-steps differ by design (module docstring of mixfit.families.precision_priors), so the
    # posterior update is compared from one set of responsibilities.
    X, _ = sample_mixture(300, seed=9)
    resp = np.random.default_rng(10).dirichlet(np.ones(3), size=X.shape[0])
    sk = SkBGM(n_components=3, covariance_type=cov_type, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X)
    sk._m_step(X, np.log(resp))  # private: the only way to run scikit-learn's M-step alone
    covariance = make_covariance(cov_type)
    prior = NormalPrecisionPrior(sk.mean_precision_prior_, sk.mean_prior_, sk.degrees_of_freedom_prior_,
                                 np.asarray(sk.covariance_prior_))
    model = GaussianVB(covariance, make_weight_prior("dirichlet_process", sk.weight_concentration_prior_),
                       make_precision_prior(covariance), prior, 1e-6)
    params = model.maximize(model.statistics(X, resp, None, np.zeros((3, 2))), None)
    # Identical formulas in a different order: rounding.
    assert_allclose(params.mean_precision, sk.mean_precision_, rtol=1e-10)
    assert_allclose(params.means, sk.means_, rtol=1e-10)
    assert_allclose(params.concentration, np.array(sk.weight_concentration_), rtol=1e-10)
    if cov_type != "tied":  # tied: one Wishart with nu_0 + N, not scikit-learn's nu_0 + N/K
        assert_allclose(params.dof, sk.degrees_of_freedom_, rtol=1e-10)
        assert_allclose(covariance.covariance(params.prec_chol), sk.covariances_, rtol=1e-10)


# ---- limits and recovery ---------------------------------------------------------------------


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_vanishing_prior_gives_the_em_fit(cov_type):
    centres = np.array([[-20.0, 0.0], [0.0, 20.0], [20.0, 0.0]])
    X, _ = sample_mixture(6000, seed=11, weights=np.array([0.2, 0.3, 0.5]), means=centres,
                          covariances=TRUE_COVARIANCES)
    scale = prior_scale(cov_type, 2)
    vb = BayesianGaussianMixture(
        n_components=3, covariance_type=cov_type, weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=1e-10, mean_precision_prior=1e-10, covariance_prior=np.multiply(scale, 1e-10),
        random_state=0, tol=1e-10).fit(X)
    em = GaussianMixture(n_components=3, covariance_type=cov_type, random_state=0, tol=1e-10).fit(X)
    order = np.argsort(vb.means_[:, 0])
    em_order = np.argsort(em.means_[:, 0])
    n_k = vb.mean_precision_ - 1e-10
    dof = np.broadcast_to(vb.degrees_of_freedom_, (3,))
    # W_k^{-1} / N_k = S_k + reg_covar as the prior vanishes: the EM covariance.
    cov = vb.covariances_ * (dof / n_k).reshape((-1,) + (1,) * (vb.covariances_.ndim - 1)) \
        if cov_type != "tied" else vb.covariances_ * dof[0] / n_k.sum()
    # Clusters 20 sd apart: responsibilities are 0/1 to e^-100 in both fits, so the remaining
    # differences are the 1e-10 prior and the iterations' rounding.
    assert_allclose(vb.means_[order], em.means_[em_order], rtol=1e-8)
    assert_allclose(vb.weights_[order], em.weights_[em_order], rtol=1e-8)
    assert_allclose(cov[order] if cov_type != "tied" else cov,
                    em.covariances_[em_order] if cov_type != "tied" else em.covariances_, rtol=1e-7)


def test_recovers_the_tutorial_mixture():
    X, _ = sample_mixture(1000, seed=12)
    est = BayesianGaussianMixture(
        n_components=3, weight_concentration_prior_type="dirichlet_distribution", weight_concentration_prior=1.5,
        mean_precision_prior=1.5, degrees_of_freedom_prior=2, mean_prior=[1, 1], covariance_prior=np.eye(2),
        random_state=0, max_iter=500).fit(X)
    match = [int(np.argmin(((est.means_ - mu) ** 2).sum(axis=1))) for mu in TRUE_MEANS]
    assert sorted(match) == [0, 1, 2]
    # Three standard errors of a proportion estimated from N = 1000 rows.
    sampling_error = 3 * np.sqrt(TRUE_WEIGHTS * (1 - TRUE_WEIGHTS) / X.shape[0])
    assert np.all(np.abs(est.weights_[match] - TRUE_WEIGHTS) < sampling_error)
    assert np.all(est.active_components_)


def test_dirichlet_process_switches_off_unused_components():
    X, _ = sample_mixture(600, seed=13, weights=np.array([0.5, 0.5]), means=np.array([[-6.0, 0], [6.0, 0]]),
                          covariances=np.array([np.eye(2), np.eye(2)]))
    # The claim is about the converged posterior, so a tight tol (on the total bound, as
    # scikit-learn's) lets the spare sticks empty.
    est = BayesianGaussianMixture(n_components=6, random_state=0, max_iter=500, weight_concentration_prior=1e-3,
                                  tol=1e-6).fit(X)
    assert est.active_components_.sum() == 2


# ---- invariances -----------------------------------------------------------------------------


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_fit_does_not_depend_on_chunk_size(cov_type):
    X, _ = sample_mixture(500, seed=14)
    kw = {"n_components": 3, "covariance_type": cov_type, "random_state": 0, "tol": 1e-8}
    whole = BayesianGaussianMixture(**kw).fit(X)
    chunked = BayesianGaussianMixture(chunk_size=37, **kw).fit(X)
    # Sums over chunks in another order: rounding, amplified a little by the iterations.
    for name in ("means_", "covariances_", "mean_precision_", "degrees_of_freedom_", "weights_"):
        assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=1e-9, err_msg=name)
    assert whole.n_iter_ == chunked.n_iter_


@pytest.mark.parametrize("cov_type, weight_type", ALL_CASES)
def test_sample_weight_equals_repeated_rows(cov_type, weight_type):
    X, _ = sample_mixture(200, seed=15)
    counts = np.random.default_rng(16).integers(0, 4, size=X.shape[0])
    kw = {"n_components": 3, "covariance_type": cov_type, "weight_concentration_prior_type": weight_type}
    start = BayesianGaussianMixture(max_iter=0, random_state=0, **kw).fit(np.repeat(X, counts, axis=0))
    repeated, weighted = copy.deepcopy(start), copy.deepcopy(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        repeated.set_params(warm_start=True, max_iter=15).fit(np.repeat(X, counts, axis=0))
        weighted.set_params(warm_start=True, max_iter=15).fit(X, sample_weight=counts)
    # The same sums with rows repeated or weighted: rounding.
    for name in ("means_", "covariances_", "mean_precision_", "degrees_of_freedom_", "weights_",
                 "mean_prior_", "covariance_prior_", "lower_bound_"):
        assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-9, err_msg=name)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_float32_stays_float32(cov_type):
    X, _ = sample_mixture(400, seed=17)
    est = BayesianGaussianMixture(n_components=3, covariance_type=cov_type, random_state=0).fit(
        X.astype(np.float32))
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_", "mean_precision_",
                 "degrees_of_freedom_"):
        assert np.asarray(getattr(est, name)).dtype == np.float32, name
    X32 = X.astype(np.float32)
    assert est.predict_proba(X32).dtype == np.float32
    assert est.score_samples(X32).dtype == np.float32
    ref = BayesianGaussianMixture(n_components=3, covariance_type=cov_type, random_state=0).fit(X)
    # The same fit in single precision: float32 rounding (~1e-7) amplified over the iterations.
    assert_allclose(est.means_, ref.means_, rtol=1e-3, atol=1e-3)


# ---- bad input -------------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param({"weight_concentration_prior": 0.0}, "weight_concentration_prior=0.0", id="concentration-zero"),
    pytest.param({"weight_concentration_prior": -1}, "weight_concentration_prior=-1", id="concentration-negative"),
    pytest.param({"mean_precision_prior": 0}, "mean_precision_prior=0", id="mean-precision-zero"),
    pytest.param({"mean_precision_prior": np.inf}, "mean_precision_prior=inf", id="mean-precision-inf"),
    pytest.param({"degrees_of_freedom_prior": 1.0}, r"degrees_of_freedom_prior=1.0.*> n_features - 1 = 1",
                 id="dof-at-d-minus-1"),
    pytest.param({"covariance_prior": np.eye(3)}, r"covariance_prior has shape \(3, 3\); expected \(2, 2\)",
                 id="covariance-prior-shape"),
    pytest.param({"covariance_prior": [[1, 2], [2, 1]]}, "covariance_prior is not positive definite",
                 id="covariance-prior-indefinite"),
    pytest.param({"covariance_prior": [[1, 0.5], [0, 1]]}, "covariance_prior is not symmetric",
                 id="covariance-prior-asymmetric"),
    pytest.param({"covariance_type": "diag", "covariance_prior": [1.0, -1.0]}, "covariance_prior has entries <= 0",
                 id="diag-prior-negative"),
    pytest.param({"covariance_type": "spherical", "covariance_prior": [1.0, 1.0]},
                 r"covariance_prior has shape \(2,\); expected \(\)", id="spherical-prior-shape"),
    pytest.param({"mean_prior": [0.0, 0.0, 0.0]}, r"mean_prior has shape \(3,\); expected \(n_features,\)",
                 id="mean-prior-shape"),
    pytest.param({"weight_concentration_prior_type": "dirichlet"}, "weight_concentration_prior_type='dirichlet'",
                 id="unknown-prior-type"),
    pytest.param({"covariance_type": "banded"}, "covariance_type='banded'", id="unknown-covariance-type"),
    pytest.param({"init_params": "magic"}, "init_params='magic'", id="unknown-init"),
]


@pytest.mark.parametrize("params, message", BAD_INPUT)
def test_bad_input_names_the_argument_and_leaves_a_fitted_model_unchanged(params, message):
    X, _ = sample_mixture(100, seed=18)
    est = BayesianGaussianMixture(n_components=2, random_state=0).fit(X)
    before = {name: np.copy(getattr(est, name)) for name in ("means_", "covariances_", "weights_")}
    with pytest.raises(ValueError, match=message):
        est.set_params(**params).fit(X)
    for name, value in before.items():
        assert_allclose(getattr(est, name), value, rtol=0, err_msg=name)


def test_bad_sample_weight_is_rejected():
    X, _ = sample_mixture(50, seed=19)
    with pytest.raises(ValueError, match="sample_weight has shape"):
        BayesianGaussianMixture(n_components=2).fit(X, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight has negative entries"):
        BayesianGaussianMixture(n_components=2).fit(X, sample_weight=-np.ones(50))
