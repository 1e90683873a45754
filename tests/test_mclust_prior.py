"""MAP with mclust's conjugate prior on the constrained families (families/mclust_priors.py),
against R mclust's frozen MAP fits, a numerical maximiser of a literal per-point log posterior,
and the monotonicity of EM.

The fixtures (``tests/fixtures/mclust/<name>_prior.json``, by ``make_prior_fixtures.R``) are
mclust 6.0.0's ``me(..., prior = priorControl())`` from the k-means partitions of
``test_mclust_families`` (tolerances 1e-15 / 1e-14), one ``mstep`` with a prior from a seeded
soft z (the default prior and a custom one: shrinkage 2, nu = D + 7, an explicit scale), and
``defaultPrior`` for each model.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import multivariate_normal

from mixfit import ConjugatePrior, GaussianMixture
from mixfit.estimators.priors import resolve_prior
from mixfit.families.registry import make_covariance, make_map_prior, n_parameters
from mixfit.models.gaussian_em import GaussianEM

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mclust"
DATASETS = ("faithful", "iris", "gen3d")
WITH_PRIOR = ("EII", "EEI", "VEI", "EVI", "EEV", "VEV")  # the six constrained families mclust gives a prior
WITHOUT_PRIOR = ("VEE", "EVE", "VVE", "EVV")


def _load(name):
    X = np.loadtxt(FIXTURES / "inputs" / f"{name}.csv", delimiter=",", skiprows=1)
    labels = np.loadtxt(FIXTURES / "inputs" / f"{name}_labels.csv", delimiter=",", skiprows=1, dtype=int)
    with open(FIXTURES / f"{name}_prior.json") as handle:
        data = json.load(handle)
    return X, {K: labels[:, j] for j, K in enumerate((2, 3))}, data


CASES = {name: _load(name) for name in DATASETS}


def _model(X, K, covariance_type, spec=None, reg_covar=0.0):
    """GaussianEM with the family's MAP prior resolved from X as GaussianMixture resolves it
    (mean, ddof=1 covariance)."""
    covariance = make_covariance(covariance_type)
    precision = make_map_prior(covariance)
    prior = resolve_prior(spec or ConjugatePrior(), precision, X.mean(axis=0), np.cov(X.T), K, X.shape[1],
                          reg_covar)
    return GaussianEM(covariance, reg_covar, np.float64, prior, precision)


def _map_step(model, X, resp):
    shift = np.repeat(X.mean(axis=0)[None], resp.shape[1], axis=0)
    return model.maximize(model.statistics(X, resp, None, shift), None)


def _dense(model, params):
    K, D = params.means.shape
    return model.covariance.dense_covariance(params.prec_chol, K, D)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("covariance_type", WITH_PRIOR)
def test_default_prior_is_mclusts_default_prior(name, covariance_type):
    """prior='default' resolves to mclust's defaultPrior(X, G, model): shrinkage, mean, dof and
    scale (to 1e-9 of its mean variance: the documented ridge of 1e-10 of the mean variance
    on its diagonal)."""
    X, _, data = CASES[name]
    reference = next(p for p in data["default_prior"] if p["model"] == covariance_type)
    prior = _model(X, 3, covariance_type).prior  # defaultPrior(X, 3, model)
    assert prior.mean_precision == reference["shrinkage"]
    assert prior.dof == reference["dof"]
    np.testing.assert_allclose(prior.mean, reference["mean"], rtol=1e-12)
    reference_scale = np.array(reference["scale"])
    size = np.mean(np.diag(reference_scale)) if reference_scale.ndim == 2 else reference_scale
    np.testing.assert_allclose(prior.scale, reference_scale, rtol=0, atol=1e-9 * size)


# mclust's mstep() and me() take different M-steps for EEI, EVI and EEV (their counts of the
# prior's degrees of freedom differ, and mstep's EEV has no mean prior); Mclust() fits by me(),
# which is what mixfit follows, so mstep() is an oracle for EII, VEI and VEV only.
MSTEP_MODELS = ("EII", "VEI", "VEV")
MSTEP_CASES = [pytest.param(name, K, model, kind, id=f"{name}-K{K}-{model}-{kind}")
               for name in DATASETS for K in (2, 3) for model in MSTEP_MODELS for kind in ("default", "custom")]


@pytest.mark.parametrize(("name", "K", "covariance_type", "kind"), MSTEP_CASES)
def test_map_m_step_equals_mclust_mstep(name, K, covariance_type, kind):
    """One MAP M-step from a soft z equals mclust's mstep(..., prior=) on the weights, the means
    and the covariances, to 1e-8 relative to their scale (the closed form agrees to ~1e-11; VEI's
    and VEV's inner loops stop at a relative change of sqrt(eps) on our side, 1e-14 on
    mclust's). mclust's EII reads the mean prior's term slightly differently from c_k |d_k|^2:
    invisible at the default shrinkage 0.01, ~2e-6 relative at shrinkage 2, hence 1e-5 there."""
    X, _, data = CASES[name]
    steps = next(step for step in data["msteps"] if step["G"] == K)
    z = np.array(steps["z"])
    reference = next(f for f in steps["fits"] if f["model"] == covariance_type and f["prior"] == kind)
    spec = None
    if kind == "custom":
        custom = data["custom_prior"]
        spec = ConjugatePrior(mean_shrinkage=custom["shrinkage"], degrees_of_freedom=custom["dof"],
                              scale=np.array(custom["scale"]) if covariance_type == "VEV" else custom["scale_diagonal"])
    model = _model(X, K, covariance_type, spec)
    params = _map_step(model, X, z)
    sigma = np.array(reference["sigma"])
    rtol = 1e-5 if covariance_type == "EII" and kind == "custom" else 1e-8
    np.testing.assert_allclose(_dense(model, params), sigma, atol=rtol * np.abs(sigma).max())
    np.testing.assert_allclose(params.weights, reference["pro"], rtol=1e-12)
    np.testing.assert_allclose(params.means, reference["mean"], rtol=1e-10)


def _fit_from_partition(name, K, covariance_type):
    """GaussianMixture(prior='default') from the MAP M-step of the partition: where mclust's
    me(z = unmap(labels), prior = priorControl()) starts."""
    X, labels, _ = CASES[name]
    model = _model(X, K, covariance_type)
    start = _map_step(model, X, np.eye(K)[labels[K]])
    gm = GaussianMixture(K, covariance_type=covariance_type, prior="default", reg_covar=0.0, tol=1e-14,
                         max_iter=20000, weights_init=start.weights, means_init=start.means,
                         precisions_init=model.covariance.precision(start.prec_chol))
    return gm.fit(X)


ME_CASES = [pytest.param(name, K, model, id=f"{name}-K{K}-{model}")
            for name in DATASETS for K in (2, 3) for model in WITH_PRIOR]


@pytest.mark.parametrize(("name", "K", "model"), ME_CASES)
def test_map_fit_equals_mclust_me_from_the_same_partition(name, K, model):
    """The converged MAP fit equals mclust's me(): log-likelihood to 1e-7 relative, weights,
    means and covariances to 1e-5 of their scale (mclust runs to a relative change of 1e-15,
    mixfit to 1e-14 per row; EM converges linearly, so the parameters are still ~1e-6 from the
    fixed point on the slowest cases, VEI and VEV at K = 3; the largest differences seen are
    3.6e-8 and 8.6e-7), and BIC as mclust reports it under a prior: 2 ln L at the MAP estimate
    minus its parameter count times ln n (mixfit's sign is its negative).

    EEI: mclust's me() keeps xbar_k as the mean while its covariance carries the mean prior's
    term c_k d_k^2; mixfit takes the joint mode (the shrunk mean). That moves the fit by up to
    1.1e-5 relative in log-likelihood and 6.4e-4 of the scale in the covariances on these data
    (hence 2e-5 and 1e-3), and the next test shows it is the whole difference. Where mclust
    fails (faithful K = 3, VEI and EVI: NA, code -3), mixfit's fit is finite."""
    X, _, data = CASES[name]
    reference = next(f for f in data["fits"] if f["model"] == model and f["G"] == K)
    gm = _fit_from_partition(name, K, model)
    log_lik = gm.score(X) * X.shape[0]
    assert n_parameters(K, X.shape[1], model) == reference["n_params"]
    if reference["loglik"] is None:
        assert reference["return_code"] == -3 and np.isfinite(log_lik)
        return
    rel, scale = (2e-5, 1e-3) if model == "EEI" else (1e-7, 1e-5)
    assert log_lik == pytest.approx(reference["loglik"], rel=rel)
    assert gm.bic(X) == pytest.approx(-reference["bic"], rel=rel)
    sigma = np.array(reference["sigma"])
    ours = make_covariance(model).dense_covariance(gm.precisions_cholesky_, K, X.shape[1])
    np.testing.assert_allclose(gm.weights_, reference["pro"], atol=scale)
    np.testing.assert_allclose(gm.means_, reference["mean"], atol=scale * np.abs(gm.means_).max())
    np.testing.assert_allclose(ours, sigma, atol=scale * np.abs(sigma).max())


@pytest.mark.parametrize("name", DATASETS)
def test_mclust_eei_is_the_unshrunk_mean_with_the_mean_priors_term(name):
    """The EEI difference above, pinned down: EM whose M-step keeps xbar_k as the mean and
    takes Sigma = (sum_k diag(W_k) + c_k d_k^2 + lambda_P) / (N + nu + 2), written out here,
    reproduces mclust's me() log-likelihood to 1e-10 relative (both stop at a change of 1e-15 relative
    per iteration; the fits differ by ~4e-12 relative, left by linear convergence)."""
    X, labels, data = CASES[name]
    n = X.shape[0]
    for K in (2, 3):
        reference = next(f for f in data["fits"] if f["model"] == "EEI" and f["G"] == K)
        prior = _model(X, K, "EEI").prior
        resp, previous = np.eye(K)[labels[K]], np.nan  # NaN: the first comparison is False
        for _ in range(5000):
            mass = resp.sum(axis=0)
            xbar = resp.T @ X / mass[:, None]
            shrink = prior.mean_precision * mass / (prior.mean_precision + mass)
            scatter = sum(resp[:, k] @ (X - xbar[k]) ** 2 + shrink[k] * (xbar[k] - prior.mean) ** 2 for k in range(K))
            variances = (scatter + prior.scale) / (n + prior.dof + 2)
            log_rho = np.column_stack([np.log(mass[k] / n) + multivariate_normal(xbar[k], np.diag(variances)).logpdf(X)
                                       for k in range(K)])
            top = log_rho.max(axis=1, keepdims=True)
            log_norm = top[:, 0] + np.log(np.exp(log_rho - top).sum(axis=1))
            resp = np.exp(log_rho - log_norm[:, None])
            if abs(log_norm.sum() - previous) <= 1e-15 * abs(previous):
                break
            previous = log_norm.sum()
        assert log_norm.sum() == pytest.approx(reference["loglik"], rel=1e-10)


@pytest.mark.parametrize("name", DATASETS)
def test_mclust_has_no_prior_for_four_families_and_neither_do_we(name):
    """mclust's me() with a prior returns NA (code -1) for VEE, EVE, VVE, EVV; MAP refuses them
    with a ValueError naming the family, before any work."""
    X, _, data = CASES[name]
    for fit in data["fits"]:
        if fit["model"] in WITHOUT_PRIOR:
            assert fit["loglik"] is None and fit["return_code"] == -1
    for model in WITHOUT_PRIOR:
        with pytest.raises(ValueError, match=f"covariance_type='{model}' has no conjugate prior for MAP"):
            GaussianMixture(2, covariance_type=model, prior="default").fit(X)


# ---- the M-step maximises the complete-data log posterior -----------------------------------------

# mclust's prior, written per family from the table of families/mclust_priors.py as the exponents
# of an unnormalised density (K >= 2): extra ln|Sigma_k| weight a_k, share s of the scale.
_TABLE = {"EII": (lambda nu, K, D: 1 + (nu + 2) / (K * D), lambda K: 0.0),
          "EEI": (lambda nu, K, D: (nu + 2) / K, lambda K: 1 / K),
          "VEI": (lambda nu, K, D: (nu + 3) / D, lambda K: 1.0),
          "EVI": (lambda nu, K, D: (nu + 2) / K, lambda K: 1.0),
          "EEV": (lambda nu, K, D: (nu + D + 2) / K, lambda K: 1.0),
          "VEV": (lambda nu, K, D: 0.0, lambda K: 1.0)}


def _literal_log_posterior(covariance_type, X, resp, means, covs, prior):
    """sum_n sum_k r_nk ln N(x_n | mu_k, Sigma_k) (scipy's density of each row) plus the log
    prior -1/2 sum_k [a_k ln|Sigma_k| + s tr(Lambda Sigma_k^{-1}) + kappa (mu_k - mu_P)^T
    Sigma_k^{-1} (mu_k - mu_P)]."""
    K, D = means.shape
    extra, share = _TABLE[covariance_type]
    scale = prior.scale if np.ndim(prior.scale) == 2 else float(prior.scale) * np.eye(D)
    total = 0.0
    for k in range(K):
        total += resp[:, k] @ multivariate_normal(means[k], covs[k]).logpdf(X)  # ln N(x_n | .) for each row n
        inverse = np.linalg.inv(covs[k])
        gap = means[k] - prior.mean
        total -= 0.5 * (extra(prior.dof, K, D) * np.linalg.slogdet(covs[k])[1] + share(K) * np.trace(scale @ inverse)
                        + prior.mean_precision * gap @ inverse @ gap)
    return total


def _constrained(letters, theta, K, D):
    """Sigma_k = lambda_k R_k diag(a_k) R_k^T from free parameters: log volumes (E: one, V: K),
    log shapes (D - 1 each, the last fixing |A| = 1) and rotations by Cayley's map of a skew
    matrix (I: the identity)."""
    counts = {"E": 1, "V": K, "I": 0}
    sizes = [counts[letters[0]], counts[letters[1]] * (D - 1), counts[letters[2]] * D * (D - 1) // 2]
    assert theta.size == sum(sizes)
    parts = np.split(theta, np.cumsum(sizes)[:-1])
    volumes = np.broadcast_to(np.exp(parts[0]), (K,))
    shapes = np.ones((K, D))
    if letters[1] != "I":
        log_a = np.broadcast_to(parts[1].reshape(-1, D - 1), (K, D - 1))
        shapes = np.exp(np.hstack([log_a, -log_a.sum(axis=1, keepdims=True)]))
    rotations = np.broadcast_to(np.eye(D), (K, D, D)).copy()
    if letters[2] != "I":
        n_skew = D * (D - 1) // 2
        for k, skew in enumerate(np.broadcast_to(parts[2].reshape(-1, n_skew), (K, n_skew))):
            S = np.zeros((D, D))
            S[np.triu_indices(D, 1)] = skew
            S = S - S.T
            rotations[k] = np.linalg.solve(np.eye(D) - S, np.eye(D) + S)
    return np.einsum("k,kij,kj,klj->kil", volumes, rotations, shapes, rotations)


def _n_free(letters, K, D):
    counts = {"E": 1, "V": K, "I": 0}
    return counts[letters[0]] + counts[letters[1]] * (D - 1) + counts[letters[2]] * D * (D - 1) // 2


@pytest.mark.parametrize("covariance_type", WITH_PRIOR)
def test_map_m_step_maximises_the_literal_log_posterior(covariance_type):
    """Over the means and the constrained covariances, BFGS from two starts finds no higher
    complete-data log posterior than the MAP M-step's (1e-9 relative: rounding), and reaches
    it (1e-6), so the oracle is not vacuous. K = 2, D = 2, 30 rows, a strong prior (shrinkage
    3, nu = 9, an explicit scale) so that every term of it matters."""
    rng = np.random.default_rng(7)
    K, D = 2, 2
    X = rng.standard_normal((30, D)) * np.array([2.0, 0.5]) + rng.integers(0, K, 30)[:, None] * 1.5
    resp = rng.dirichlet(np.ones(K), size=30)
    matrix = covariance_type in ("EEV", "VEV")
    spec = ConjugatePrior(mean_shrinkage=3.0, degrees_of_freedom=9.0,
                          scale=np.array([[1.5, 0.4], [0.4, 0.8]]) if matrix else 1.2)
    model = _model(X, K, covariance_type, spec)
    params = _map_step(model, X, resp)
    ours = _literal_log_posterior(covariance_type, X, resp, params.means, _dense(model, params), model.prior)

    def negative(theta):
        covs = _constrained(covariance_type, theta[K * D:], K, D)
        return -_literal_log_posterior(covariance_type, X, resp, theta[:K * D].reshape(K, D), covs, model.prior)

    size = _n_free(covariance_type, K, D)
    best = -np.inf
    for start in range(2):
        theta0 = np.concatenate([(resp.T @ X / resp.sum(axis=0)[:, None]).ravel(),
                                 np.random.default_rng(start).normal(scale=0.5, size=size)])
        best = max(best, -minimize(negative, theta0, method="BFGS", options={"gtol": 1e-8}).fun)
    assert ours >= best - 1e-9 * abs(best)
    assert best >= ours - 1e-6 * abs(ours)


@pytest.mark.parametrize("covariance_type", WITH_PRIOR)
def test_log_posterior_never_decreases(covariance_type):
    """EM under the prior: the objective (log-likelihood + log prior) never decreases (to
    rounding, 1e-12 relative), and with the prior the fit's lower bound is the literal log
    posterior of its final parameters up to the last step's change."""
    X = CASES["gen3d"][0]
    gm = GaussianMixture(3, covariance_type=covariance_type, prior="default", reg_covar=0.0, tol=0, max_iter=30,
                         random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0: not converged, on purpose
        gm.fit(X)
    bounds = np.array(gm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0]


@pytest.mark.parametrize("covariance_type", ["EEI", "VEV"])
def test_prior_rescues_a_collapsing_component(covariance_type):
    """Three coincident rows make a component collapse under maximum likelihood (its volume
    goes to 0); under the prior every covariance stays positive definite."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.standard_normal((60, 2)), np.repeat([[6.0, 6.0]], 3, axis=0)])
    start = {"means_init": np.array([[0.0, 0.0], [6.0, 6.0]])}
    gm = GaussianMixture(2, covariance_type=covariance_type, prior="default", reg_covar=0.0, **start).fit(X)
    K, D = gm.means_.shape
    covs = make_covariance(covariance_type).dense_covariance(gm.precisions_cholesky_, K, D)
    assert np.all(np.linalg.eigvalsh(covs) > 1e-3)


def test_select_model_with_the_default_prior_over_every_family():
    """select_model(prior='default', covariance_types='all'): the ten families mclust gives a
    prior are fitted (their BIC mclust's form: the likelihood at the MAP estimate), the four
    others are NA cells whose reason names the missing prior."""
    from mixfit.selection import select_model

    X = CASES["faithful"][0]
    result = select_model(X, [1, 2], "all", prior="default", n_init=1, random_state=0)
    for cell in result.cells:
        if cell.covariance_type in WITHOUT_PRIOR:
            assert cell.is_na and "no conjugate prior" in cell.reason
        else:
            assert not cell.is_na and np.isfinite(cell.criterion)
            gm = cell.estimator
            assert cell.criterion == pytest.approx(gm.bic(X), rel=1e-12)
    assert result.best.covariance_type not in WITHOUT_PRIOR


@pytest.mark.parametrize("covariance_type", ["EII", "EEI", "VEV"])
def test_partial_fit_reshifts_the_statistics_of_a_constrained_family(covariance_type):
    """Streaming (partial_fit, MAP and ML) re-refers the running statistics to a new shift with
    the family's storage form: the same scatter as scikit-learn's family of that form gives
    (an exact identity, so 1e-12), and a stream of three batches fits."""
    from mixfit.families.registry import family

    rng = np.random.default_rng(4)
    X = np.vstack([rng.standard_normal((60, 2)), rng.standard_normal((60, 2)) + 4])
    form = {"EII": "spherical", "EEI": "diag", "VEV": "full"}[covariance_type]
    model = GaussianEM(make_covariance(covariance_type), 0.0)
    resp = rng.dirichlet(np.ones(2), size=X.shape[0])
    stats = model.statistics(X, resp, None, np.zeros((2, 2)))
    new_shift = rng.standard_normal((2, 2))
    ours = stats.reshift(new_shift, make_covariance(covariance_type))
    reference = stats.reshift(new_shift, family(form).strategy())
    np.testing.assert_allclose(ours.scatter, reference.scatter, rtol=1e-12)
    for prior in (None, "default"):
        gm = GaussianMixture(2, covariance_type=covariance_type, prior=prior, random_state=0)
        for batch in (X[:60], X[60:], X[::2]):
            gm.partial_fit(batch)
        assert np.all(np.isfinite(gm.means_))


@pytest.mark.parametrize(("covariance_type", "scale", "match"), [
    ("VEI", [1.0, 2.0], r"prior\.scale.*a finite variance > 0 .*'VEI'"),
    ("EII", -1.0, r"prior\.scale.*a finite variance > 0 .*'EII'"),
    ("EEV", np.eye(3), r"prior\.scale.*shape \(3, 3\); expected .*\(2, 2\) for covariance_type='EEV'"),
    ("VEV", -np.eye(2), r"prior\.scale.*not symmetric positive definite.*'VEV'"),
], ids=["VEI-vector", "EII-negative", "EEV-shape", "VEV-indefinite"])
def test_a_bad_scale_is_named(covariance_type, scale, match):
    """A scale of the wrong form is a ValueError naming prior.scale and the family (mclust's
    forms: a number for the diagonal families, a (D, D) matrix for EEV and VEV)."""
    X = np.random.default_rng(0).standard_normal((40, 2))
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, covariance_type=covariance_type, prior=ConjugatePrior(scale=scale)).fit(X)


def test_select_model_from_mclusts_start_gives_mclusts_map_bic_table():
    """Mclust(X, G = 1:9, prior = priorControl())'s BIC table (iris, K = 1..3; mclust's sign)
    against select_model(prior='default', convention='mclust') from mclust's start (the same
    partitions on iris) run to 1e-8: K = 1 to 1e-9 relative (one closed-form M-step on both
    sides); K = 2, 3 to 1e-4 relative, both ways: R stops at a relative change of 1e-5, and
    under a prior EM raises the log posterior, not the likelihood, so an early stop can leave
    the likelihood on either side (the largest difference seen is 8.3e-5, VEI at K = 3). VVI
    is left out (mixfit's diag default scale is per feature, docs/differences.md). The four
    families without a prior are NA, and the best model is mclust's."""
    from mixfit.selection import select_model

    X, _, data = CASES["iris"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = select_model(X, [1, 2, 3], "all", convention="mclust", hierarchical_start=False, n_init=1,
                              init_params="mclust", tol=1e-8, max_iter=2000, reg_covar=0.0, random_state=0,
                              prior="default")
    models = data["bic_models"]
    best_r = max((data["bic"][k - 1][j], k, model) for j, model in enumerate(models) for k in (1, 2, 3)
                 if data["bic"][k - 1][j] is not None)
    for cell in result.cells:
        if cell.covariance_type in WITHOUT_PRIOR:
            assert cell.is_na
            continue
        expected = data["bic"][cell.n_components - 1][models.index(cell.covariance_type)]
        if expected is None or cell.covariance_type == "VVI":
            continue
        rel = 1e-9 if cell.n_components == 1 else 1e-4
        assert cell.criterion == pytest.approx(expected, rel=rel), (cell.covariance_type, cell.n_components)
    assert (result.best.n_components, result.best.covariance_type) == (best_r[1], best_r[2])


def test_one_component_fits_of_a_form_coincide():
    """With K = 1, EII is VII, the diagonal families are one model, and EEV, VEV are VVV: their
    MAP fits coincide (as mclust fits them once): covariances to 1e-10 relative (VEI's inner
    loop), means to 1e-12."""
    X = CASES["gen3d"][0]
    for group in (("EII", "spherical"), ("EEI", "VEI", "EVI"), ("EEV", "VEV", "full")):
        fits = [GaussianMixture(1, covariance_type=name, prior="default", reg_covar=0.0).fit(X) for name in group]
        covariances = [make_covariance(gm.covariance_type).dense_covariance(gm.precisions_cholesky_, 1, 3)
                       for gm in fits]
        np.testing.assert_allclose(covariances, np.broadcast_to(covariances[0], np.shape(covariances)), rtol=1e-10)
        np.testing.assert_allclose([gm.means_ for gm in fits], np.broadcast_to(fits[0].means_, (len(fits), 1, 3)),
                                   rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["VEI", "EEV"])
def test_gaussian_hmm_map_with_a_constrained_family(covariance_type):
    """GaussianHMM(prior='default') takes the same prior (its emissions are GaussianEM): the
    log posterior never decreases (1e-12 relative, rounding), the constraint holds (an equal
    volume for EEV, one shape for VEI, to 1e-8), and VEE is refused as for the mixture."""
    from mixfit import GaussianHMM
    from mixfit.families.registry import decomposition

    X = CASES["gen3d"][0]
    hmm = GaussianHMM(3, covariance_type=covariance_type, prior="default", tol=0, n_iter=15, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0: not converged, on purpose
        hmm.fit(X)
    bounds = np.array(hmm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    volumes, shapes, _ = decomposition(covariance_type, hmm.covariances_, 3, 3)
    if covariance_type == "EEV":
        np.testing.assert_allclose(volumes, volumes[0], rtol=1e-8)
    else:
        np.testing.assert_allclose(shapes, shapes[:1].repeat(3, axis=0), rtol=1e-8)
    with pytest.raises(ValueError, match="'VEE' has no conjugate prior for MAP"):
        GaussianHMM(2, covariance_type="VEE", prior="default").fit(X)
