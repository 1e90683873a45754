"""mclust's fourteen covariance families against R mclust's frozen fits, literal M-steps, a
numerical optimiser, and the invariances of EM.

The fixtures (``tests/fixtures/mclust/``) are R mclust 6.0.0's ``me()`` from a k-means
partition, run to tol = 1e-15 (outer, relative) and 1e-14 (inner) by ``make_fixtures.py``; mixfit starts
from the M-step of the same partition and runs to tol = 1e-14 per sample, so both sides are
compared at convergence, not where each happened to stop.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.utils.estimator_checks import parametrize_with_checks

from mixfit import GaussianMixture
from mixfit.families import mclust_msteps as msteps
from mixfit.families.registry import MCLUST_MODEL_NAMES, decomposition, family, make_covariance, n_parameters
from mixfit.models.gaussian_em import GaussianEM

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mclust"
DATASETS = ("faithful", "iris", "gen3d")
CONSTRAINED = ("EII", "EEI", "VEI", "EVI", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV")
DIAGONAL = ("EII", "VII", "EEI", "VEI", "EVI", "VVI")


def _load(name):
    X = np.loadtxt(FIXTURES / "inputs" / f"{name}.csv", delimiter=",", skiprows=1)
    labels = np.loadtxt(FIXTURES / "inputs" / f"{name}_labels.csv", delimiter=",", skiprows=1, dtype=int)
    with open(FIXTURES / f"{name}.json") as handle:
        fits = {(fit["model"], fit["G"]): fit for fit in json.load(handle)["fits"]}
    return X, {K: labels[:, j] for j, K in enumerate((2, 3))}, fits


CASES = {name: _load(name) for name in DATASETS}


def _partition_params(X, labels, covariance_type):
    """The family's M-step from a hard partition, as ``*_init``: mclust's me() starts there."""
    K = labels.max() + 1
    model = GaussianEM(make_covariance(covariance_type), 0.0)
    shift = np.repeat(X.mean(axis=0)[None], K, axis=0)
    params = model.maximize(model.statistics(X, np.eye(K)[labels], None, shift), None)
    return params.weights, params.means, model.covariance.precision(params.prec_chol)


def _fit_from_partition(name, K, covariance_type, **kwargs):
    X, labels, _ = CASES[name]
    weights, means, precisions = _partition_params(X, labels[K], covariance_type)
    options = {"reg_covar": 0.0, "tol": 1e-14, "max_iter": 5000, **kwargs}
    return GaussianMixture(K, covariance_type=covariance_type, weights_init=weights, means_init=means,
                           precisions_init=precisions, **options).fit(X)


def _full_covariances(gm):
    """covariances_ as (K, D, D), whatever the family's shape."""
    K, D = gm.means_.shape
    expand = family(gm.covariance_type).per_component
    cov = gm.covariances_ if expand is None else expand(gm.covariances_, K, D)
    return cov if cov.ndim == 3 else np.stack([np.diag(c) for c in cov])


ORACLE_CASES = [pytest.param(name, K, model, id=f"{name}-K{K}-{model}")
                for name in DATASETS for K in (2, 3) for model in MCLUST_MODEL_NAMES]


@pytest.mark.parametrize(("name", "K", "model"), ORACLE_CASES)
def test_fit_equals_mclust_me_from_the_same_partition(name, K, model):
    """Log-likelihood to 1e-9 relative (both converged to ~1e-15: the largest difference seen
    is 1.5e-14), weights, means and covariances to 1e-6 relative to their scale (EM converges
    linearly: at a likelihood change of 1e-15 the parameters are still ~2e-6 relative from
    the fixed point on the slowest case, faithful K=3 VEV, on both sides alike; the largest
    difference seen is 1.9e-7), BIC to 1e-9 (mixfit's sign is mclust's negated) and mclust's parameter
    count exactly. VVE: mclust's fit is not an EM fixed point (see the next test); mixfit's is
    never below it."""
    X, _, fits = CASES[name]
    reference = fits[(model, K)]
    gm = _fit_from_partition(name, K, model)
    log_lik = gm.score(X) * X.shape[0]
    assert n_parameters(K, X.shape[1], model) == reference["n_params"]
    assert family(model).n_covariance_parameters(K, X.shape[1]) == reference["n_var_params"]
    if model == "VVE":
        assert log_lik > reference["loglik"]
        return
    assert log_lik == pytest.approx(reference["loglik"], rel=1e-9)
    assert gm.bic(X) == pytest.approx(-reference["bic"], rel=1e-9)
    sigma = np.array(reference["sigma"])
    np.testing.assert_allclose(gm.weights_, reference["pro"], atol=1e-6)
    np.testing.assert_allclose(gm.means_, reference["mean"], atol=1e-6 * np.abs(gm.means_).max())
    np.testing.assert_allclose(_full_covariances(gm), sigma, atol=1e-6 * np.abs(sigma).max())
    # The decomposition as mclust reports it (an Equal part reported once, repeated here);
    # mclust reports none for EEE and VVV, and no shape for EII and VII.
    volumes, shapes, orientations = gm.volumes_, gm.shapes_, gm.orientations_
    if reference["scale"] is not None:
        np.testing.assert_allclose(volumes, np.broadcast_to(reference["scale"], (K,)), rtol=1e-5)
    if reference["shape"] is None:
        return
    r_shapes = np.broadcast_to(np.array(reference["shape"]), shapes.shape)
    if model not in DIAGONAL:  # EVE / VVE / VEE report A in their common D's column order
        r_shapes = -np.sort(-r_shapes, axis=1)
    np.testing.assert_allclose(shapes, r_shapes, rtol=1e-5, atol=1e-8)
    if reference["orientation"] is not None:
        r_orient = np.broadcast_to(np.array(reference["orientation"]), orientations.shape)
        # Columns equal up to sign and (for a common D) order: |D_k^T R_k| is a permutation.
        overlap = np.abs(np.swapaxes(orientations, 1, 2) @ r_orient)
        np.testing.assert_allclose(np.sort(overlap, axis=2)[:, :, -1], 1, atol=1e-5)


@pytest.mark.parametrize("name", DATASETS)
def test_mclust_vve_fit_is_not_an_em_fixed_point(name):
    """One exact EM step from mclust's converged VVE parameters raises the likelihood, by far
    more than its own convergence tolerance: mclust 6.0.0's VVE M-step stops short of the
    minimiser, which is why mixfit's VVE ends higher (the M-step is checked against scipy in
    ``test_m_step_minimises_the_complete_data_objective``)."""
    X, _, fits = CASES[name]
    for K in (2, 3):
        reference = fits[("VVE", K)]
        gm = GaussianMixture(K, covariance_type="VVE", reg_covar=0.0, max_iter=1, tol=0,
                             weights_init=np.array(reference["pro"]), means_init=np.array(reference["mean"]),
                             precisions_init=np.linalg.inv(np.array(reference["sigma"])))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter=1 does not converge, on purpose
            gm.fit(X)
        assert gm.score(X) * X.shape[0] > reference["loglik"] + 1e-2


# ---- the M-steps ----------------------------------------------------------------------------------

def _soft_case(rng, K=3, D=3, n=120):
    """Rows from three elongated clusters and random soft responsibilities."""
    X = rng.standard_normal((n, D)) * np.array([3.0, 1.0, 0.3])[:D] + rng.integers(0, K, n)[:, None] * 2.0
    resp = rng.dirichlet(np.ones(K), size=n)
    return X, resp


def _literal_scatter(X, resp):
    """W_k = sum_n r_nk (x_n - xbar_k)(x_n - xbar_k)^T row by row, and N_k."""
    K, D = resp.shape[1], X.shape[1]
    mass = resp.sum(axis=0)
    W = np.zeros((K, D, D))
    for k in range(K):
        mean = resp[:, k] @ X / mass[k]
        for x, r in zip(X, resp[:, k]):
            W[k] += r * np.outer(x - mean, x - mean)
    return W, mass


def _family_m_step(covariance_type, X, resp):
    model = GaussianEM(make_covariance(covariance_type), 0.0)
    stats = model.statistics(X, resp, None, np.zeros((resp.shape[1], X.shape[1])))
    # from_moments gives S_k; add_ridge (here with no ridge) finishes the constrained M-step.
    unconstrained = model.covariance.from_moments(stats, stats.mass + 10 * np.finfo(float).eps)
    return model.covariance.add_ridge(unconstrained, 0.0)


def _literal_closed_form(covariance_type, W, mass):
    """The closed forms of Celeux and Govaert (1995), written out per component."""
    K, D, _ = W.shape
    N = mass.sum()
    diag = np.array([np.diag(w) for w in W])
    if covariance_type == "EII":
        return np.full(K, sum(np.trace(w) for w in W) / (N * D))
    if covariance_type == "EEI":
        return np.array([diag.sum(axis=0) / N] * K)
    if covariance_type == "EVI":
        roots = [np.prod(d) ** (1 / D) for d in diag]
        return np.array([sum(roots) / N * d / r for d, r in zip(diag, roots)])
    if covariance_type == "EVV":
        roots = [np.linalg.det(w) ** (1 / D) for w in W]
        return np.array([sum(roots) / N * w / r for w, r in zip(W, roots)])
    assert covariance_type == "EEV"
    eigen = [np.linalg.eigh(w) for w in W]  # ascending; the pairing is by rank
    common = sum(values for values, _ in eigen) / N
    return np.array([vectors @ np.diag(common) @ vectors.T for _, vectors in eigen])


@pytest.mark.parametrize("covariance_type", ["EII", "EEI", "EVI", "EEV", "EVV"])
def test_closed_form_m_step_equals_the_literal_formula(covariance_type):
    X, resp = _soft_case(np.random.default_rng(3))
    W, mass = _literal_scatter(X, resp)
    # rtol: float64 sums in two orders, rounding only
    np.testing.assert_allclose(_family_m_step(covariance_type, X, resp),
                               _literal_closed_form(covariance_type, W, mass), rtol=1e-10)


def _objective(cov, W, mass):
    """F = sum_k N_k ln|Sigma_k| + tr(W_k Sigma_k^{-1}), per component, literally."""
    return sum(n * np.linalg.slogdet(c)[1] + np.trace(np.linalg.solve(c, w)) for c, w, n in zip(cov, W, mass))


def _n_free(letters, K, D):
    """The sizes of the log volumes, log shapes and skew vectors of ``_constrained``."""
    counts = {"E": 1, "V": K, "I": 0}
    return [counts[letters[0]], counts[letters[1]] * (D - 1), counts[letters[2]] * D * (D - 1) // 2]


def _constrained(letters, theta, K, D):
    """Sigma_k = lambda_k R_k diag(a_k) R_k^T from free parameters, each part shared (E),
    free (V) or the identity (I): log volumes, log shapes (D - 1, the last fixing |A| = 1),
    and orientations R = (I - S)^{-1} (I + S) (Cayley's map of a skew S: every rotation
    without the eigenvalue -1, cheaper than expm)."""
    n_skew = D * (D - 1) // 2
    parts = np.split(theta, np.cumsum(_n_free(letters, K, D))[:-1])
    volumes = np.broadcast_to(np.exp(parts[0]), (K,))
    if letters[1] == "I":
        shapes = np.zeros((K, D))
    else:
        log_a = np.broadcast_to(parts[1].reshape(-1, D - 1), (K, D - 1))
        shapes = np.hstack([log_a, -log_a.sum(axis=1, keepdims=True)])
    rotations = np.broadcast_to(np.eye(D), (K, D, D)).copy()
    if letters[2] != "I":
        for k, skew in enumerate(np.broadcast_to(parts[2].reshape(-1, n_skew), (K, n_skew))):
            S = np.zeros((D, D))
            S[np.triu_indices(D, 1)] = skew
            S = S - S.T
            rotations[k] = np.linalg.solve(np.eye(D) - S, np.eye(D) + S)
    return np.einsum("k,kij,kj,klj->kil", volumes, rotations, np.exp(shapes), rotations)


@pytest.mark.parametrize("covariance_type", CONSTRAINED)
def test_m_step_minimises_the_complete_data_objective(covariance_type):
    """The family's M-step attains the minimum of F that BFGS finds over the constrained
    set from several starts (K = 2, D = 3): never above it beyond rounding (1e-9 relative; the
    differences seen are ~1e-15), and BFGS does reach it (1e-6), so the oracle is not vacuous."""
    rng = np.random.default_rng(11)
    X, resp = _soft_case(rng, K=2, D=3, n=80)
    W, mass = _literal_scatter(X, resp)
    ours = _family_m_step(covariance_type, X, resp)
    ours_full = ours if ours.ndim == 3 else np.stack([np.diag(c) for c in np.broadcast_to(
        ours[:, None] if ours.ndim == 1 else ours, (2, 3))])
    size = sum(_n_free(covariance_type, 2, 3))
    best = np.inf
    for start in range(3):
        theta0 = np.random.default_rng(start).normal(scale=0.5, size=size)
        result = minimize(lambda t: _objective(_constrained(covariance_type, t, 2, 3), W, mass), theta0,
                          method="BFGS",
                          options={"gtol": 1e-9})
        best = min(best, result.fun)
    ours_value = _objective(ours_full, W, mass)
    assert ours_value <= best + 1e-9 * abs(best)
    assert best <= ours_value + 1e-6 * abs(best)


@pytest.mark.parametrize("solver", ["vei", "vee", "vev", "eve", "vve"])
def test_inner_loops_never_increase_the_objective_and_report_the_cap(solver):
    """Each inner iteration is an exact block minimisation: F is non-increasing (to rounding);
    a cap of 1 iteration is reported as hit."""
    X, resp = _soft_case(np.random.default_rng(5))
    W, mass = _literal_scatter(X, resp)
    S = W / mass[:, None, None]
    run = {"vei": lambda **kw: msteps.vei(np.array([np.diag(s) for s in S]), mass, **kw),
           "vee": lambda **kw: msteps.vee(S, mass, **kw), "vev": lambda **kw: msteps.vev(S, mass, **kw),
           "eve": lambda **kw: msteps.common_orientation(S, mass, True, **kw),
           "vve": lambda **kw: msteps.common_orientation(S, mass, False, **kw)}[solver]
    result = run()
    assert not result.cap_hit and result.iterations < 200
    trace = np.array(result.objective)
    assert np.all(np.diff(trace) <= 1e-12 * np.abs(trace[1:]))
    assert run(max_iter=1).cap_hit


# ---- invariances of the fits ----------------------------------------------------------------------

def _equal(values):
    return np.allclose(values, values[:1], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("reg_covar", [0.0, 1e-2], ids=["no-ridge", "ridge"])
@pytest.mark.parametrize("covariance_type", CONSTRAINED)
def test_fit_is_monotone_and_keeps_the_constraint(covariance_type, reg_covar):
    """EM never lowers the log-likelihood (to rounding), and the fitted covariances satisfy the
    family's letters: E parts equal across components, I parts the identity (the ridge, added
    to S_k before the constraint, keeps them too). With a ridge the M-step no longer maximises the likelihood
    (for any family, scikit-learn's four too), so monotonicity is asked of reg_covar=0 only."""
    X = CASES["gen3d"][0]
    gm = GaussianMixture(3, covariance_type=covariance_type, reg_covar=reg_covar, tol=0, max_iter=25,
                         random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0: not converged, on purpose
        gm.fit(X)
    bounds = np.array(gm.lower_bounds_)
    if reg_covar == 0:
        assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    volumes, shapes, orientations = decomposition(covariance_type, gm.covariances_, 3, 3)
    if covariance_type[0] == "E":
        assert _equal(volumes)
    if covariance_type[1] == "E":
        assert _equal(shapes)
    if covariance_type[1] == "I":
        np.testing.assert_allclose(shapes, 1)
    if covariance_type[2] == "E":  # one D for all: D^T Sigma_k D diagonal for every k
        common = orientations[0]
        rotated = np.swapaxes(common, 0, 1)[None] @ _full_covariances(gm) @ common[None]
        off = rotated - np.einsum("kii->ki", rotated)[:, :, None] * np.eye(3)
        assert np.abs(off).max() <= 1e-8 * np.abs(rotated).max()
    if covariance_type[2] == "I":
        assert gm.covariances_.ndim < 3


@pytest.mark.parametrize(("alias", "name"),
                         [("VVV", "full"), ("EEE", "tied"), ("VVI", "diag"), ("VII", "spherical")])
def test_alias_gives_the_identical_fit(alias, name):
    X = CASES["iris"][0]
    a = GaussianMixture(3, covariance_type=alias, random_state=1).fit(X)
    b = GaussianMixture(3, covariance_type=name, random_state=1).fit(X)
    np.testing.assert_array_equal(a.precisions_cholesky_, b.precisions_cholesky_)
    np.testing.assert_array_equal(a.means_, b.means_)


@pytest.mark.parametrize("covariance_type", CONSTRAINED)
def test_sample_predict_and_model_file_round_trip(covariance_type, tmp_path):
    """The estimator machinery over a new family: a sample of the fitted mixture, refitted in
    the same family from the fit, gives back its means and volumes (5000 rows: sampling error
    of a few percent); predictions and scores survive a model file."""
    from mixfit.modelfile import load, save

    X = CASES["gen3d"][0]
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    samples, labels = gm.sample(5000, random_state=1)
    assert samples.shape == (5000, 3) and np.bincount(labels, minlength=3).min() > 0
    refit = GaussianMixture(3, covariance_type=covariance_type, weights_init=gm.weights_,
                            means_init=gm.means_,
                            precisions_init=gm.precisions_).fit(samples)
    np.testing.assert_allclose(refit.means_, gm.means_, atol=0.15)
    np.testing.assert_allclose(refit.volumes_, gm.volumes_, rtol=0.1)
    path = tmp_path / "m.mixfit"
    save(gm, path)
    loaded = load(path)
    np.testing.assert_array_equal(loaded.predict(X), gm.predict(X))
    np.testing.assert_allclose(loaded.score_samples(X), gm.score_samples(X), rtol=1e-12)
    assert loaded.covariances_.shape == gm.covariances_.shape
    np.testing.assert_allclose(gm.predict_proba(X).sum(axis=1), 1)


def test_prior_is_refused_for_a_constrained_family():
    """mclust has no prior for VEE, EVE, VVE, EVV (the other six: tests/test_mclust_prior.py)."""
    X = CASES["faithful"][0]
    with pytest.raises(ValueError, match="covariance_type='VEE' has no conjugate prior for MAP"):
        GaussianMixture(2, covariance_type="VEE", prior="default").fit(X)


def test_select_model_sweeps_the_fourteen_families():
    """``select_model`` over mclust's fourteen names (its own starts, not mclust's partition):
    every cell charges mclust's parameter count and its BIC is never worse than mclust's from
    the k-means partition (1e-9 relative: both converged; VVE's is better, see above)."""
    from mixfit.selection import select_model

    X, _, fits = CASES["faithful"]
    result = select_model(X, [2], MCLUST_MODEL_NAMES, tol=1e-10, max_iter=2000)
    cells = result.ranked()
    assert sorted(cell.covariance_type for cell in cells) == sorted(MCLUST_MODEL_NAMES)
    for cell in cells:
        reference = fits[(cell.covariance_type, 2)]
        assert cell.n_parameters == reference["n_params"]
        assert cell.criterion <= -reference["bic"] * (1 + 1e-9)


@pytest.mark.parametrize("covariance_type", CONSTRAINED)
def test_ridge_keeps_a_singular_scatter_positive_definite(covariance_type):
    """A constant column makes every S_k singular; reg_covar, added to S_k before the
    constraint, keeps the fit finite and positive definite, as scikit-learn's ridge does for
    its four families, and the constraint still holds (volumes equal for E?? families)."""
    X = CASES["faithful"][0].copy()
    X = np.column_stack([X, np.full(X.shape[0], 3.0)])
    gm = GaussianMixture(2, covariance_type=covariance_type, reg_covar=1e-4, random_state=0).fit(X)
    assert np.all(np.isfinite(gm.covariances_)) and np.all(gm.volumes_ > 0)
    if covariance_type[0] == "E":
        assert _equal(gm.volumes_)


@parametrize_with_checks([GaussianMixture(covariance_type=ct) for ct in CONSTRAINED])
def test_sklearn_estimator_contract_of_the_new_families(estimator, check):
    """scikit-learn's estimator contract holds for each constrained family (one component,
    the default: the sample-weight check then starts both fits from the same point)."""
    check(estimator)
