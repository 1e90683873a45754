"""engine.criteria: one BIC / AIC / ICL for every estimator and the selection tables."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from mixfit import BernoulliMixture, GaussianMixture
from mixfit.engine import criteria
from mixfit.families.registry import n_parameters


def test_closed_forms_by_hand():
    """ln L = -100, p = 7, n = 50: the textbook formulas written out here; exact to a few ulps
    (the same few float operations in another order)."""
    ll, p, n = -100.0, 7, 50
    assert criteria.bic(ll, p, n) == pytest.approx(200.0 + 7 * np.log(50), rel=1e-15)
    assert criteria.aic(ll, p) == 214.0
    resp = np.array([[1.0, 0.0], [0.5, 0.5], [0.25, 0.75]])
    entropy = -(0.5 * np.log(0.5) * 2 + 0.25 * np.log(0.25) + 0.75 * np.log(0.75))  # 0 ln 0 = 0
    assert criteria.classification_entropy(resp) == pytest.approx(entropy, rel=1e-15)
    assert criteria.icl(ll, p, n, entropy) == pytest.approx(200.0 + 7 * np.log(50) + 2 * entropy, rel=1e-15)
    sklearn_signs = criteria.information_criteria(ll, p, n, entropy, "sklearn")
    mclust_signs = criteria.information_criteria(ll, p, n, entropy, "mclust")
    assert {k: -v for k, v in mclust_signs.items()} == sklearn_signs  # mclust: each times -1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # its max_iter=1 placeholder fit
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_bic_aic_are_sklearns_on_the_same_parameters(covariance_type, rng):
    """scikit-learn's GaussianMixture given our fitted parameters (max_iter=0 is not allowed, so
    its fitted attributes are set) scores X with its own bic / aic: ours agree to rounding of
    the log-likelihood sum (1e-10 relative: the two sum n log-densities formed differently)."""
    X = np.vstack([rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) + 4])
    ours = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    sk = SkGaussianMixture(2, covariance_type=covariance_type, max_iter=1, random_state=0).fit(X)
    sk.weights_, sk.means_ = ours.weights_, ours.means_
    sk.covariances_, sk.precisions_cholesky_ = ours.covariances_, ours.precisions_cholesky_
    assert ours._n_parameters() == sk._n_parameters() == n_parameters(2, 3, covariance_type)
    assert_allclose(ours.bic(X), sk.bic(X), rtol=1e-10)
    assert_allclose(ours.aic(X), sk.aic(X), rtol=1e-10)
    loglik = ours.score(X) * X.shape[0]
    assert ours.bic(X) == criteria.bic(loglik, ours._n_parameters(), X.shape[0])  # the one formula


def test_integer_weights_are_repeated_rows(rng):
    """n = sum of weights and ln L, EN weighted: integer sample_weight w_n gives what w_n copies
    of each row give (1e-12 relative: sums of the same terms in another order)."""
    ll_rows = rng.normal(size=20) - 3
    resp = rng.dirichlet(np.ones(3), size=20)
    weights = rng.integers(1, 4, size=20)
    repeated = np.repeat(np.arange(20), weights)
    n = criteria.n_observations(20, weights)
    assert n == criteria.n_observations(repeated.shape[0]) == weights.sum()
    weighted = criteria.information_criteria(float(ll_rows @ weights), 5, n,
                                             criteria.classification_entropy(resp, weights))
    copies = criteria.information_criteria(float(ll_rows[repeated].sum()), 5, repeated.shape[0],
                                           criteria.classification_entropy(resp[repeated]))
    for name in ("bic", "aic", "icl"):
        assert weighted[name] == pytest.approx(copies[name], rel=1e-12)


def test_bernoulli_bic_aic_closed_form(rng):
    """BernoulliMixture.bic = -2 sum_n ln p(x_n) + p ln n, p = K - 1 + K D, written out here."""
    X = (rng.random((200, 6)) < 0.3).astype(float)
    bm = BernoulliMixture(2, random_state=0).fit(X)
    ll = float(bm.score_samples(X).sum())
    p = 2 - 1 + 2 * 6
    assert bm.bic(X) == pytest.approx(-2 * ll + p * np.log(200), rel=1e-14)
    assert bm.aic(X) == pytest.approx(-2 * ll + 2 * p, rel=1e-14)
