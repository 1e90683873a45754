"""select_model's per-cell shortcuts against the estimators' own public methods.

- ``selection/cell_scores.py``: a cell's log-likelihood and classification entropy in one pass
  equal ``score_samples`` (weighted sum) and ``classification_entropy(predict_proba)`` exactly
  (the same functions on the same log densities).
- ``estimators/checked_rows.py``: inside ``checked_rows(X)`` a fit of that X is the fit outside
  it, to the bit, with the same feature bookkeeping; any other array is still checked.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris

from mixfit import GaussianMixture, StudentMixture, select_model
from mixfit.engine.criteria import classification_entropy
from mixfit.estimators.checked_rows import checked_rows
from mixfit.selection.cell_scores import log_likelihood_and_entropy

X = load_iris().data
WEIGHTS = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])


@pytest.mark.parametrize("cls", [GaussianMixture, StudentMixture])
@pytest.mark.parametrize("weights", [None, WEIGHTS], ids=["unweighted", "weighted"])
def test_one_pass_scores_equal_score_samples_and_predict_proba(cls, weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = cls(3, covariance_type="full", max_iter=20, random_state=0).fit(X, sample_weight=weights)
    log_likelihood, entropy = log_likelihood_and_entropy(fitted, X, weights)
    # exact: the same log densities through the same functions, summed in the same order
    assert log_likelihood == float(fitted.score_samples(X) @ (np.ones(X.shape[0]) if weights is None else weights))
    assert entropy == classification_entropy(fitted.predict_proba(X), weights)
    assert entropy > 0


def test_a_fit_of_checked_rows_is_the_fit_without_the_checks():
    estimator = GaussianMixture(3, covariance_type="VEE", init_params="mclust", reg_covar=0.0)
    outside = estimator.fit(X).means_.copy()
    estimator = GaussianMixture(3, covariance_type="VEE", init_params="mclust", reg_covar=0.0)
    estimator.feature_names_in_ = np.array(["a", "b", "c", "d"], dtype=object)  # a previous fit's names
    with checked_rows(X):
        inside = estimator.fit(X)
        proba = inside.predict_proba(X)
    np.testing.assert_array_equal(inside.means_, outside)  # the same fit, to the bit
    np.testing.assert_array_equal(proba, inside.predict_proba(X))
    assert inside.n_features_in_ == 4 and not hasattr(inside, "feature_names_in_")


def test_other_arrays_are_still_checked_inside_the_context():
    bad = X.copy()
    bad[3, 1] = np.inf
    with checked_rows(X):
        with pytest.raises(ValueError, match="infinity"):
            GaussianMixture(2).fit(bad)
        with pytest.raises(ValueError, match="X has 3 features"):  # prediction of other rows
            GaussianMixture(2, random_state=0).fit(X).predict(X[:, :3].copy())
    one_row = X[:1]
    with checked_rows(one_row), pytest.raises(ValueError, match="minimum of 2"):
        GaussianMixture(1).fit(one_row)  # the checked rows, but fewer than a fit's two


def test_sweep_cells_equal_the_public_criteria():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = select_model(X, [1, 2, 3], ["VVV", "EII"], criterion="icl", hierarchical_start=False,
                              init_params="mclust", sample_weight=WEIGHTS)
    for cell in result.cells:
        estimator = cell.estimator
        # the standalone estimator's own public scores, outside any sweep context
        log_likelihood = float(estimator.score_samples(X) @ WEIGHTS)
        # 1e-13 relative: the cell's pass is compiled (selection/compiled_cells.py), its sums in
        # another order than score_samples' (rounding: ~1e-16 a term, over 300 rows)
        np.testing.assert_allclose(cell.log_likelihood, log_likelihood, rtol=1e-13)
        entropy = classification_entropy(estimator.predict_proba(X), WEIGHTS)
        bic = -2 * log_likelihood + estimator._n_parameters() * np.log(WEIGHTS.sum())
        # 1e-12 relative: the criteria module sums the same terms in another association
        np.testing.assert_allclose(cell.values["bic"], bic, rtol=1e-12)
        np.testing.assert_allclose(cell.values["icl"], bic + 2 * entropy, rtol=1e-12)
