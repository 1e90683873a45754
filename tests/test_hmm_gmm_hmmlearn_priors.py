"""hmmlearn's GMMHMM priors and loop against hmmlearn 0.3 itself: the same model assigned to
both (``init_params=''``), five EM iterations, the parameters and ``monitor_.history`` compared."""

import warnings

import numpy as np
import pytest

import mixfit

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")

D = 2
TYPES = ("spherical", "diag", "tied", "full")

M = 2
MIXTURE_PRIORS = {"defaults": lambda t: {},
                  "given": lambda t: {"weights_prior": 2.0, "means_prior": 1.0, "means_weight": 2.0,
                                      "covars_prior": 0.5 if t in ("diag", "spherical") else 0.5 * np.eye(D),
                                      "covars_weight": 3.0}}


@pytest.fixture(scope="module")
def mixture_problem():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(m, 1.0, size=(50, D)) for m in (0.0, 3.0, -3.0, 0.0, 3.0, 1.0)])
    chain = (rng.dirichlet(np.ones(2)), rng.dirichlet(np.full(2, 3.0), size=2))
    weights, means = rng.dirichlet(np.full(M, 2.0), size=2), rng.normal(0.0, 2.0, size=(2, M, D))
    covars = {"spherical": rng.uniform(0.5, 2.0, (2, M)), "diag": rng.uniform(0.5, 2.0, (2, M, D)),
              "tied": np.array([[[1.0, 0.3], [0.3, 2.0]]] * 2), "full": np.array([[[[1.0, 0.3], [0.3, 2.0]]] * M] * 2)}
    return X, [100, 100, 100], chain, weights, means, covars


@pytest.mark.parametrize("prior", MIXTURE_PRIORS, ids=list(MIXTURE_PRIORS))
@pytest.mark.parametrize("covariance_type", TYPES)
def test_gmmhmm_hmmlearn_loop_and_priors_give_hmmlearns_fit(covariance_type, prior, mixture_problem):
    X, lengths, (start, transmat), weights, means, covars = mixture_problem
    fits = []
    for module in (mixfit, hmmlearn_hmm):
        model = module.GMMHMM(2, M, covariance_type=covariance_type, init_params="", n_iter=5, tol=0.0,
                              **MIXTURE_PRIORS[prior](covariance_type))
        model.startprob_, model.transmat_, model.weights_ = start, transmat, weights
        model.means_, model.covars_ = means, covars[covariance_type]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(model.fit(X, lengths))
    ours, theirs = fits
    # 1e-10: the same steps; the sums round differently (observed <= 1e-12 on parameters of
    # order 1 and ~1e-11 on log-likelihoods ~ -1e3)
    for name in ("weights_", "means_", "covars_", "transmat_", "startprob_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=0, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(np.array(ours.monitor_.history), np.array(theirs.monitor_.history), rtol=1e-12)


def test_gmmhmm_bad_prior_shapes_raise_naming_the_argument(mixture_problem):
    with pytest.raises(ValueError, match="weights_prior"):
        mixfit.GMMHMM(2, M, weights_prior=np.ones(5)).fit(mixture_problem[0])
    with pytest.raises(ValueError, match="covars_prior"):
        mixfit.GMMHMM(2, M, covariance_type="full", covars_prior=np.ones((3, 3))).fit(mixture_problem[0])
