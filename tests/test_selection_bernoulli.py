"""select_bernoulli: the selection API over K for Bernoulli mixtures (issue 10 through issue 6's API)."""

import numpy as np
import pytest
from scipy import sparse

from mixfit import BernoulliMixture, select_bernoulli


def binary_mixture(rng, n=1500, d=30):
    """Three well-separated product-Bernoulli components (weights 0.5, 0.3, 0.2)."""
    means = np.full((3, d), 0.1)
    means[0, :10] = 0.9
    means[1, 10:20] = 0.9
    means[2, 20:] = 0.9
    labels = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    return (rng.random((n, d)) < means[labels]).astype(np.uint8)


@pytest.mark.parametrize("criterion", ["bic", "icl"])
def test_bic_and_icl_recover_the_number_of_components(criterion):
    X = binary_mixture(np.random.default_rng(0))
    result = select_bernoulli(X, range(1, 6), criterion=criterion, random_state=0)
    assert result.best.n_components == 3
    assert isinstance(result.best_estimator, BernoulliMixture)


def test_vb_elbo_recovers_the_number_of_components():
    X = binary_mixture(np.random.default_rng(1))
    result = select_bernoulli(X, range(1, 6), method="vb", random_state=0)
    assert result.criterion == "elbo"
    assert result.best.n_components == 3


def test_criteria_follow_their_formulas_from_score_and_the_parameter_count():
    X = binary_mixture(np.random.default_rng(2), n=400)
    result = select_bernoulli(X, [2, 3], random_state=0)
    for cell in result.cells:
        fitted = cell.estimator
        n = X.shape[0]
        log_likelihood = fitted.score(X) * n
        p = cell.n_components - 1 + cell.n_components * X.shape[1]  # weights and one mu per feature
        # the table's numbers against -2 ln L + p ln n recomputed from the public API (float sums)
        assert cell.n_parameters == p
        assert cell.values["bic"] == pytest.approx(-2 * log_likelihood + p * np.log(n), rel=1e-10)
        assert cell.values["bic"] == pytest.approx(fitted.bic(X), rel=1e-10)


def test_sparse_input_gives_the_dense_table():
    X = binary_mixture(np.random.default_rng(3), n=300)
    dense = select_bernoulli(X, [1, 2, 3], random_state=0)
    sparse_result = select_bernoulli(sparse.csr_matrix(X), [1, 2, 3], random_state=0)
    # same starts, same arithmetic up to summation order of sparse products: 1e-9 relative
    for a, b in zip(dense.cells, sparse_result.cells):
        assert a.criterion == pytest.approx(b.criterion, rel=1e-9)


def test_unknown_parameter_names_the_argument():
    with pytest.raises(ValueError, match="covariance_type"):
        select_bernoulli(binary_mixture(np.random.default_rng(4), n=50), [1, 2], covariance_type="full")
