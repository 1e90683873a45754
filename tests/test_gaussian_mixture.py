"""GaussianMixture (estimators/gaussian_mixture.py): invariances of the fit, sample weights,
float32, fit_predict, sampling, and recovery of known parameters."""

import warnings

import numpy as np
import pytest
from conftest import COVARIANCE_TYPES
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import linear_sum_assignment
from scipy.stats import multivariate_normal

from mixfit import GaussianMixture
from mixfit.exceptions import ConvergenceWarning

FITTED = ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"]


def assert_close(actual, expected, rtol, err_msg=""):
    """Relative to the array's own magnitude (near-zero entries get the same absolute bound)."""
    expected = np.asarray(expected, dtype=np.float64)
    assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=rtol,
                    atol=rtol * np.abs(expected).max(), err_msg=err_msg)


def assert_fits_close(a, b, rtol, names=FITTED):
    for name in names:
        assert_close(getattr(a, name), getattr(b, name), rtol, err_msg=name)


def fit_quietly(estimator, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # deliberate tol=0 / small max_iter
        return estimator.fit(X, **kwargs)


@pytest.fixture
def X(separated, rng):
    X, _ = separated.sample(400, rng)
    return X


def given_start_fit(covariance_type, start, **options):
    """A fit from a given start that always runs the same 20 iterations."""
    return GaussianMixture(3, covariance_type=covariance_type, tol=0, max_iter=20, **start, **options)


# ---- invariances ----------------------------------------------------------------------------

@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_translation_moves_only_the_means(covariance_type, X, separated, make_start, rng):
    start = make_start(separated, covariance_type, rng)
    t = np.array([40.0, -25.0, 13.0])
    moved_start = {**start, "means_init": start["means_init"] + t}
    here = fit_quietly(given_start_fit(covariance_type, start), X)
    there = fit_quietly(given_start_fit(covariance_type, moved_start), X + t)
    # x + t rounds each coordinate by |t| eps ~ 1e-14 relative to unit variances; 20 EM
    # iterations on separated data do not amplify it past 1e-10.
    assert_fits_close(there, here, rtol=1e-10, names=["weights_", "covariances_", "precisions_"])
    assert_close(there.means_ - t, here.means_, rtol=1e-10)
    assert_close(there.lower_bounds_, here.lower_bounds_, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_permuting_rows_changes_nothing(covariance_type, X, separated, make_start, rng):
    start = make_start(separated, covariance_type, rng)
    order = rng.permutation(X.shape[0])
    w = rng.uniform(0.2, 3.0, size=X.shape[0])
    here = fit_quietly(given_start_fit(covariance_type, start, chunk_size=50), X, sample_weight=w)
    there = fit_quietly(given_start_fit(covariance_type, start, chunk_size=50), X[order], sample_weight=w[order])
    assert_fits_close(there, here, rtol=1e-10)  # sums in another order: rounding only
    assert_array_equal(there.predict(X[order]), here.predict(X)[order])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type, X, separated, make_start, rng):
    start = make_start(separated, covariance_type, rng)
    counts = rng.integers(1, 4, size=X.shape[0])
    weighted = fit_quietly(given_start_fit(covariance_type, start), X, sample_weight=counts)
    repeated = fit_quietly(given_start_fit(covariance_type, start), np.repeat(X, counts, axis=0))
    assert_fits_close(weighted, repeated, rtol=1e-10)  # w x equals x + ... + x up to rounding
    assert_close(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_zero_weights_equal_removed_rows(covariance_type, X, separated, make_start, rng):
    start = make_start(separated, covariance_type, rng)
    w = rng.uniform(0.2, 3.0, size=X.shape[0])
    w[rng.random(X.shape[0]) < 0.3] = 0.0
    X_far = X.copy()
    X_far[w == 0] += 1e3  # rows of weight zero may hold anything finite
    weighted = fit_quietly(given_start_fit(covariance_type, start), X_far, sample_weight=w)
    kept = w > 0
    removed = fit_quietly(given_start_fit(covariance_type, start), X[kept], sample_weight=w[kept])
    assert_fits_close(weighted, removed, rtol=1e-10)  # sums of the same terms plus exact zeros
    assert_close(weighted.lower_bounds_, removed.lower_bounds_, rtol=1e-10)


def test_sample_weight_none_equals_unit_weights(X):
    none = fit_quietly(GaussianMixture(3, max_iter=10, tol=0, random_state=0), X)
    ones = fit_quietly(GaussianMixture(3, max_iter=10, tol=0, random_state=0), X, sample_weight=np.ones(len(X)))
    assert_fits_close(ones, none, rtol=1e-12)  # multiplying by 1 is exact; summation alike


# ---- float32 --------------------------------------------------------------------------------

@pytest.mark.parametrize("offset", [0.0, 1e4], ids=["near-origin", "offset-1e4"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_stays_float32_and_matches_float64(covariance_type, offset, separated, make_start, rng):
    X, _ = separated.sample(2000, rng)
    X32 = (X + offset).astype(np.float32)
    start = make_start(separated, covariance_type, rng)
    start = {**start, "means_init": start["means_init"] + offset}
    fit32 = fit_quietly(given_start_fit(covariance_type, start), X32)
    fit64 = fit_quietly(given_start_fit(covariance_type, start), X32.astype(np.float64))

    for name in FITTED:
        assert getattr(fit32, name).dtype == np.float32, name
    assert fit32.predict_proba(X32).dtype == np.float32
    assert fit32.score_samples(X32).dtype == np.float32
    assert fit32.sample(5, random_state=0)[0].dtype == np.float32
    for name in ["covariances_", "precisions_"]:
        assert np.all(np.isfinite(getattr(fit32, name))), name
    variances = fit32.covariances_ if covariance_type in ("diag", "spherical") else np.diagonal(
        fit32.covariances_, axis1=-2, axis2=-1)
    assert np.all(variances > 0)

    # float32 eps is 1.2e-7; sums over 2000 rows and 20 EM iterations grow it to ~1e-5 of each
    # array's scale. Raw second moments (E[x^2] - E[x]^2 ~ 1e8 - 1e8 at offset 1e4) would lose
    # every digit of a unit variance, so this bound also proves the shifted scatter works.
    assert_fits_close(fit32, fit64, rtol=1e-4, names=["weights_", "covariances_", "precisions_"])
    # The means sit at ~offset, where a float32 holds them only to one ulp (1e-3 at 1e4):
    # allow that rounding, plus the same 1e-4 of their spread about the offset.
    ulp = np.spacing(np.float32(np.abs(fit64.means_).max()))
    spread = np.abs(fit64.means_ - offset).max()
    assert_allclose(fit32.means_, fit64.means_, rtol=0, atol=ulp + 1e-4 * spread)
    assert_close(fit32.predict_proba(X32), fit64.predict_proba(X32.astype(np.float64)), rtol=1e-3)


# ---- fit_predict, sample --------------------------------------------------------------------

@pytest.mark.parametrize("max_iter", [1, 2, 100], ids=["1-iter", "2-iter", "converged"])
def test_fit_predict_equals_fit_then_predict(max_iter, tutorial, rng):
    X, _ = tutorial.sample(300, rng)
    labels = fit_quietly(GaussianMixture(3, max_iter=max_iter, random_state=0), X).predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert_array_equal(GaussianMixture(3, max_iter=max_iter, random_state=0).fit_predict(X), labels)


def test_sample_is_reproducible_per_call(X):
    gm = GaussianMixture(3, random_state=0).fit(X)
    a, la = gm.sample(50, random_state=7)
    b, lb = gm.sample(50, random_state=7)
    c, _ = gm.sample(50, random_state=8)
    assert_array_equal(a, b)
    assert_array_equal(la, lb)
    assert not np.array_equal(a, c)
    assert a.shape == (50, 3) and la.shape == (50,)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_then_fit_recovers_the_parameters(covariance_type, separated, make_start, rng):
    """A model given exactly (max_iter=0) is sampled and refitted from its own parameters.
    Sampling with the wrong scale (sigma^2, 1/sigma, P instead of P^-1) moves the refitted
    covariances by a factor, far outside the sampling error."""
    truth = make_start(separated, covariance_type, rng)
    # Variances far from 1 (precisions x4 and x1/4) so that sigma, sigma^2 and 1/sigma differ.
    precisions = truth["precisions_init"]
    factors = np.array([4.0, 0.25, 1.0]).reshape((3,) + (1,) * (precisions.ndim - 1))
    truth["precisions_init"] = precisions * (4.0 if covariance_type == "tied" else factors)
    model = GaussianMixture(3, covariance_type=covariance_type, max_iter=0, **truth).fit(
        np.vstack([separated.means] * 2))
    n = 30_000
    sample, labels = model.sample(n, random_state=11)
    assert sample.shape == (n, 3) and labels.shape == (n,)
    for k in range(3):  # each returned label names the component its row was drawn from
        rows = sample[labels == k]
        se = np.sqrt(rows.var(axis=0) / rows.shape[0])
        assert np.all(np.abs(rows.mean(axis=0) - model.means_[k]) < 5 * se)  # 5 standard errors
    refit = GaussianMixture(3, covariance_type=covariance_type, tol=1e-8, max_iter=300, **truth).fit(sample)

    n_k = n * model.weights_
    # Weights: binomial standard error sqrt(w(1-w)/n) < sqrt(w/n); 5 standard errors.
    assert np.all(np.abs(refit.weights_ - model.weights_) < 5 * np.sqrt(model.weights_ / n))
    # Variances: relative standard error sqrt(2/n_k) (smaller for tied and spherical, which
    # pool more rows); 5 of them, ~0.09 here, while a wrong scale is off by a factor >= 2.
    variances = {
        "full": lambda c: np.diagonal(c, axis1=-2, axis2=-1),
        "tied": lambda c: np.diag(c)[None, :],
        "diag": lambda c: c,
        "spherical": lambda c: c[:, None],
    }[covariance_type]
    bound = 5 * np.sqrt(2 / n_k.min())
    assert_allclose(variances(refit.covariances_), variances(model.covariances_), rtol=bound)
    if covariance_type == "full":
        # The off-diagonal entries too: sqrt((S_ij^2 + S_ii S_jj) / n_k) standard error each.
        S, d = model.covariances_, variances(model.covariances_)
        se = np.sqrt((S**2 + d[:, :, None] * d[:, None, :]) / n_k[:, None, None])
        assert np.all(np.abs(refit.covariances_ - S) < 5 * se)
    # Means: standard error sqrt(Sigma_dd / n_k); 5 of them.
    se = np.sqrt(np.broadcast_to(variances(model.covariances_), model.means_.shape) / n_k[:, None])
    assert np.all(np.abs(refit.means_ - model.means_) < 5 * se)


def test_tutorial_example_is_recovered(tutorial, rng):
    """N=1000 rows of the tutorial mixture; the fit matches the truth within sampling error.

    Bounds are 5 complete-data standard errors (binomial for weights, sqrt(Sigma_dd / n_k) for
    means, sqrt((Sigma_ij^2 + Sigma_ii Sigma_jj) / n_k) for covariance entries, with
    n_k = N pi_k). Components 2 and 3 overlap, which inflates the true standard errors of an ML
    fit above the complete-data ones, so 5 (not 3) of them: a p-value near 1e-6 per entry for
    a correct fit, while a wrong M-step is off by whole units.
    """
    N = 1000
    X, _ = tutorial.sample(N, rng)
    gm = GaussianMixture(3, n_init=3, random_state=0).fit(X)

    # Match fitted components to true ones (labels are arbitrary) by the nearest means.
    cost = ((gm.means_[:, None, :] - tutorial.means[None, :, :]) ** 2).sum(axis=2)
    fitted, true = linear_sum_assignment(cost)
    order = fitted[np.argsort(true)]
    w, mu, cov = gm.weights_[order], gm.means_[order], gm.covariances_[order]

    n_k = N * tutorial.weights
    assert np.all(np.abs(w - tutorial.weights) < 5 * np.sqrt(tutorial.weights * (1 - tutorial.weights) / N))
    diag = np.diagonal(tutorial.covariances, axis1=1, axis2=2)
    assert np.all(np.abs(mu - tutorial.means) < 5 * np.sqrt(diag / n_k[:, None]))
    S = tutorial.covariances
    se_cov = np.sqrt((S**2 + diag[:, :, None] * diag[:, None, :]) / n_k[:, None, None])
    assert np.all(np.abs(cov - S) < 5 * se_cov)

    # The maximum likelihood fit is at least as likely as the truth on the data it was fitted to.
    true_log_lik = np.log(sum(
        tutorial.weights[k] * multivariate_normal(tutorial.means[k], tutorial.covariances[k]).pdf(X)
        for k in range(3)
    )).mean()
    assert gm.score(X) >= true_log_lik


# ---- hyper-parameters are the user's ------------------------------------------------------

def test_fit_never_modifies_hyperparameters(X, separated, make_start, rng):
    start = make_start(separated, "full", rng)
    copies = {name: value.copy() for name, value in start.items()}
    gm = GaussianMixture(3, **start)
    before = gm.get_params()
    fit_quietly(gm, X)
    after = gm.get_params()
    assert before.keys() == after.keys()
    for name, value in before.items():
        assert after[name] is value, name  # the same objects
    for name, value in copies.items():
        assert_array_equal(getattr(gm, name), value)  # with the same contents
    assert "n_features" not in vars(gm)
