"""hmmlearn's Gaussian emission priors and loop (``n_iter``, ``tol`` on the total) against
hmmlearn 0.3 itself: the same model assigned to both (``init_params=''``), several EM
iterations, the parameters and ``monitor_.history`` compared."""

import logging
import warnings

import numpy as np
import pytest

import mixfit

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")

K, D = 3, 2
TYPES = ("spherical", "diag", "tied", "full")
PRIORS = {"defaults": {},
          "given": {"means_prior": 1.0, "means_weight": 2.0, "covars_prior": 0.5, "covars_weight": 5.0}}


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(m, 1.0, size=(60, D)) for m in (0.0, 3.0, -3.0, 0.0, 3.0)])
    start = rng.dirichlet(np.ones(K))
    transmat = rng.dirichlet(np.full(K, 3.0), size=K)
    means = rng.normal(0.0, 2.0, size=(K, D))
    covars = {"spherical": np.array([1.0, 2.0, 0.5]), "diag": rng.uniform(0.5, 2.0, (K, D)),
              "tied": np.array([[1.0, 0.3], [0.3, 2.0]]), "full": np.array([[[1.0, 0.3], [0.3, 2.0]]] * K)}
    return X, [100, 100, 100], start, transmat, means, covars


def _fit(module, covariance_type, problem, **kwargs):
    X, lengths, start, transmat, means, covars = problem
    model = module.GaussianHMM(K, covariance_type, init_params="", **kwargs)
    model.startprob_, model.transmat_, model.means_, model.covars_ = start, transmat, means, covars[covariance_type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            return model.fit(X, lengths)
        finally:
            logging.disable(logging.NOTSET)


def _variances(model, covariance_type):
    """Each state's covariance as a (K, D, D) matrix; hmmlearn's spherical ``covars_`` getter
    returns one matrix per (state, feature), so its stored per-feature variances are read."""
    if covariance_type == "spherical" and isinstance(model, hmmlearn_hmm.GaussianHMM):
        return model._covars_.mean(axis=1)[:, None, None] * np.eye(D)
    return np.asarray(model.covars_)


@pytest.mark.parametrize("prior", PRIORS, ids=list(PRIORS))
@pytest.mark.parametrize("covariance_type", TYPES)
def test_hmmlearn_loop_and_priors_give_hmmlearns_fit(covariance_type, prior, problem):
    kwargs = dict(n_iter=6, tol=0.0, **PRIORS[prior])  # six iterations (no gain is 0)
    ours, theirs = _fit(mixfit, covariance_type, problem, **kwargs), _fit(hmmlearn_hmm, covariance_type, problem,
                                                                         **kwargs)
    # 1e-10: both take the same steps; hmmlearn's raw-moment scatter and our shifted one round
    # differently (observed ~1e-13 on parameters of order 1, ~1e-11 on log-likelihoods ~ -1e3)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(_variances(ours, covariance_type), _variances(theirs, covariance_type), atol=1e-10)
    np.testing.assert_allclose(ours.transmat_, theirs.transmat_, atol=1e-10)
    np.testing.assert_allclose(ours.startprob_, theirs.startprob_, atol=1e-10)
    np.testing.assert_allclose(np.array(ours.monitor_.history), np.array(theirs.monitor_.history), rtol=1e-12)
    assert ours.monitor_.iter == theirs.monitor_.iter == 6


def test_means_left_out_of_params_take_the_scatter_about_the_kept_means(problem):
    """'m' left out: the covariance is hmmlearn's formula about the kept means, from the
    literal per-frame sums. (hmmlearn itself then skips the first moment, sum_t gamma_tk x_t,
    and divides sum_t gamma_tk x_t^2 + N_k mu_k^2 instead: not a scatter; docs/differences.md.)"""
    X, lengths, means = problem[0], problem[1], problem[4]
    prior = PRIORS["given"]
    model = _fit(mixfit, "diag", problem, n_iter=1, tol=0.0, params="stc", **prior)
    gamma = _fit(mixfit, "diag", problem, n_iter=0).predict_proba(X, lengths)  # the start's posteriors
    mass = gamma.sum(axis=0)
    scatter = np.stack([gamma[:, k] @ (X - means[k]) ** 2 for k in range(K)])  # (K, D)
    spread = prior["means_weight"] * (means - prior["means_prior"]) ** 2 + scatter
    expected = (prior["covars_prior"] + spread) / (mass + prior["covars_weight"] - 1)[:, None]
    np.testing.assert_array_equal(model.means_, means)
    np.testing.assert_allclose(model.covariances_, expected, rtol=1e-12)  # the same sums: rounding only


def test_hmmlearn_tol_is_on_the_total_and_stops_where_hmmlearn_stops(problem):
    """Under hmmlearn's loop (n_iter given) tol bounds the gain of the total log-likelihood, its
    default 0.01: both stop after the same iteration, with the same history."""
    for tol in ({}, {"tol": 0.5}):
        ours = _fit(mixfit, "diag", problem, n_iter=200, **tol)
        theirs = _fit(hmmlearn_hmm, "diag", problem, n_iter=200, **tol)
        assert ours.monitor_.converged and theirs.monitor_.converged
        assert ours.monitor_.iter == theirs.monitor_.iter < 200
        np.testing.assert_allclose(np.array(ours.monitor_.history), np.array(theirs.monitor_.history), rtol=1e-12)
        assert ours.monitor_.tol == theirs.monitor_.tol


def test_mixfit_loop_keeps_maximum_likelihood_and_its_tol_per_frame(problem):
    """Without n_iter (max_iter, mixfit's loop) the M-step is maximum likelihood plus reg_covar:
    one step from the assigned start gives each state's gamma-weighted mean and variance, as
    hmmlearn's step with a zero prior does."""
    X, lengths = problem[0], problem[1]
    model = _fit(mixfit, "diag", problem, max_iter=1, reg_covar=0.0)
    zero_prior = _fit(mixfit, "diag", problem, n_iter=1, covars_prior=0.0, covars_weight=0.0)
    gamma = _fit(mixfit, "diag", problem, max_iter=0).predict_proba(X, lengths)  # the start's posteriors
    mass = gamma.sum(axis=0)
    mu = gamma.T @ X / mass[:, None]
    var = np.stack([gamma[:, k] @ (X - mu[k]) ** 2 / mass[k] for k in range(K)])
    # the literal per-frame estimates against the model's shifted statistics: rounding only
    np.testing.assert_allclose(model.means_, mu, rtol=1e-12)
    np.testing.assert_allclose(model.covariances_, var, rtol=1e-10)
    np.testing.assert_allclose(zero_prior.covariances_, var, rtol=1e-10)
    assert mixfit.GaussianHMM().get_params()["tol"] is None
    n_frames = X.shape[0]
    assert _fit(mixfit, "diag", problem, max_iter=3, tol=1e-3).monitor_.tol == pytest.approx(1e-3 * n_frames)
    assert _fit(mixfit, "diag", problem, n_iter=3, tol=1e-3).monitor_.tol == 1e-3


@pytest.mark.parametrize("name, value", [("means_prior", np.ones(4)), ("means_weight", -1.0),
                                         ("covars_prior", np.ones((4, 4))), ("covars_weight", "a"),
                                         ("min_covar", -1.0), ("reg_covar", -1.0)])
def test_bad_prior_values_raise_naming_the_argument(name, value, problem):
    with pytest.raises(ValueError, match=name):
        mixfit.GaussianHMM(K, "diag", **{name: value}).fit(problem[0])


def test_hmmlearn_priors_and_a_conjugate_prior_are_exclusive(problem):
    with pytest.raises(ValueError, match="give one of them"):
        mixfit.GaussianHMM(K, covars_prior=1.0, prior="default").fit(problem[0])



def test_mclust_families_take_mixfits_step_under_hmmlearns_loop(problem):
    """hmmlearn has no constrained families: under its loop (n_iter) a GaussianHMM of one of
    mclust's takes mixfit's M-step (the same fit as max_iter with reg_covar=None's 1e-6: the
    same code, so rounding only), and hmmlearn's emission priors are refused for it by name."""
    X = problem[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = mixfit.GaussianHMM(K, "VEI", n_iter=4, tol=0.0, random_state=0).fit(X)
        plain = mixfit.GaussianHMM(K, "VEI", max_iter=4, tol=0.0, reg_covar=1e-6, random_state=0).fit(X)
    np.testing.assert_allclose(ours.covariances_, plain.covariances_, rtol=1e-12)
    with pytest.raises(ValueError, match="covars_prior"):
        mixfit.GaussianHMM(K, "EEV", covars_prior=2.0).fit(X)


def test_variational_monitor_history_is_the_total_elbo(problem):
    """hmmlearn's monitor_ holds totals for the variational HMMs too: lower_bound_ (per frame)
    times the frames, beside their tol, which is on the total."""
    X, lengths = problem[0], problem[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mixfit.VariationalGaussianHMM(K, max_iter=3, tol=0.0, random_state=0).fit(X, lengths)
    np.testing.assert_allclose(np.array(model.monitor_.history), np.array(model.lower_bounds_) * X.shape[0],
                               rtol=1e-15)  # one product each
    assert model.monitor_.tol == 0.0
