"""Bad input at the boundary (_validation.py and the estimator's checks): every error names the
argument, and a failed fit leaves a fitted model exactly as it was."""

import copy

import numpy as np
import pytest
import scipy.sparse
from numpy.testing import assert_array_equal

from mixfit import GaussianMixture
from mixfit.exceptions import NotFittedError


@pytest.fixture
def X(separated, rng):
    X, _ = separated.sample(60, rng)
    return X


def with_value(X, row, col, value):
    bad = X.copy()
    bad[row, col] = value
    return bad


BAD_X = {
    # a NaN entry is a missing value (tests/test_missing_fit.py); a row with nothing observed is not
    "all-nan-row": lambda X: with_value(X, 3, slice(None), np.nan),
    "inf": lambda X: with_value(X, 3, 1, np.inf),
    "1-d": lambda X: X[:, 0],
    "3-d": lambda X: X[:, :, None],
    "fewer-rows-than-components": lambda X: X[:2],
    "empty": lambda X: X[:0],
    "complex": lambda X: X + 1j,
    "object-with-text": lambda X: with_value(X.astype(object), 3, 1, "a"),
    "strings": lambda X: np.full(X.shape, "a"),
}


@pytest.mark.parametrize("make_bad", BAD_X.values(), ids=BAD_X.keys())
def test_bad_X_is_named(make_bad, X):
    with pytest.raises(ValueError, match=r"\bX\b"):
        GaussianMixture(3).fit(make_bad(X))


def test_sparse_X_is_named(X):
    with pytest.raises(TypeError, match=r"X.*dense|dense.*X"):
        GaussianMixture(3).fit(scipy.sparse.csr_matrix(X))


BAD_OPTIONS = {
    "covariance_type": ({"covariance_type": "banana"}, "covariance_type='banana'"),
    "init_params": ({"init_params": "banana"}, "init_params='banana'"),
    "n_components-0": ({"n_components": 0}, "n_components"),
    "tol-negative": ({"tol": -1.0}, "tol"),
    "reg_covar-negative": ({"reg_covar": -1e-6}, "reg_covar"),
    "max_iter-negative": ({"max_iter": -1}, "max_iter"),
    "n_init-0": ({"n_init": 0}, "n_init"),
    "chunk_size-0": ({"chunk_size": 0}, "chunk_size"),
    "random_state": ({"random_state": "banana"}, "random_state"),
}


@pytest.mark.parametrize(("options", "name"), BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_bad_hyperparameter_is_named(options, name, X):
    options = {"n_components": 3, **options}
    with pytest.raises(ValueError, match=name):
        GaussianMixture(**options).fit(X)


def test_non_integer_n_components_is_named(X):
    with pytest.raises(TypeError, match="n_components"):
        GaussianMixture(2.5).fit(X)


D = 3
SPD = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.5]])
NOT_SYMMETRIC = SPD + np.triu(np.ones((D, D)), 1)
NOT_POSITIVE = np.diag([1.0, -1.0, 1.0])

BAD_INIT = {
    "weights-shape": ({"weights_init": np.full(2, 0.5)}, "weights_init: The parameter 'weights' should have the shape of"),
    "weights-not-normalised": ({"weights_init": np.full(3, 0.5)}, "weights_init: The parameter 'weights' should be normalized"),
    "weights-negative": ({"weights_init": np.array([-0.2, 0.6, 0.6])}, "weights_init"),
    "weights-nan": ({"weights_init": np.array([np.nan, 0.5, 0.5])}, "weights_init"),
    "means-shape": ({"means_init": np.zeros((3, D + 1))}, "means_init: The parameter 'means' should have the shape of"),
    "means-nan": ({"means_init": np.full((3, D), np.nan)}, "means_init"),
    "full-shape": ({"precisions_init": np.array([SPD] * 2)}, "precisions_init: The parameter '(full|tied|diag|spherical) precision' should have the shape of"),
    "full-not-symmetric": ({"precisions_init": np.array([SPD, NOT_SYMMETRIC, SPD])},
                           "precisions_init: 'full precision' should be symmetric, positive-definite; component 1 is not symmetric"),
    "full-not-positive-definite": ({"precisions_init": np.array([SPD, SPD, NOT_POSITIVE])},
                                   "precisions_init: 'full precision' should be symmetric, positive-definite; component 2 is not positive definite"),
    "tied-shape": ({"covariance_type": "tied", "precisions_init": np.array([SPD] * 3)}, "precisions_init: The parameter '(full|tied|diag|spherical) precision' should have the shape of"),
    "tied-not-symmetric": ({"covariance_type": "tied", "precisions_init": NOT_SYMMETRIC},
                           "precisions_init: 'tied precision' should be symmetric, positive-definite; the tied precision is not symmetric"),
    "tied-not-positive-definite": ({"covariance_type": "tied", "precisions_init": NOT_POSITIVE},
                                   "precisions_init: 'tied precision' should be symmetric, positive-definite; the tied precision is not positive definite"),
    "diag-shape": ({"covariance_type": "diag", "precisions_init": np.ones(3)}, "precisions_init: The parameter '(full|tied|diag|spherical) precision' should have the shape of"),
    "diag-not-positive": ({"covariance_type": "diag", "precisions_init": -np.ones((3, D))},
                          "precisions_init: '(diag|spherical) precision' should be positive"),
    "spherical-shape": ({"covariance_type": "spherical", "precisions_init": np.ones((3, D))},
                        "precisions_init: The parameter '(full|tied|diag|spherical) precision' should have the shape of"),
    "spherical-zero": ({"covariance_type": "spherical", "precisions_init": np.array([1.0, 0.0, 1.0])},
                       "precisions_init: '(diag|spherical) precision' should be positive"),
}


@pytest.mark.parametrize(("options", "message"), BAD_INIT.values(), ids=BAD_INIT.keys())
def test_bad_init_array_is_named(options, message, X):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(3, **options).fit(X)


BAD_WEIGHTS = {
    "negative": (lambda n: np.r_[-1.0, np.ones(n - 1)], "sample_weight has negative"),
    "nan": (lambda n: np.r_[np.nan, np.ones(n - 1)], "sample_weight contains NaN"),
    "inf": (lambda n: np.r_[np.inf, np.ones(n - 1)], "sample_weight contains NaN or infinity"),
    "too-short": (lambda n: np.ones(n - 1), "sample_weight has shape"),
    "2-d": (lambda n: np.ones((n, 1)), "sample_weight has shape"),
    "all-zero": (lambda n: np.zeros(n), "sample_weight is zero for every row"),
    "fewer-positive-than-components": (lambda n: np.r_[1.0, 1.0, np.zeros(n - 2)], "sample_weight has 2 positive"),
    "strings": (lambda n: np.array(["a"] * n), "sample_weight has dtype"),
}


@pytest.mark.parametrize(("make_weights", "message"), BAD_WEIGHTS.values(), ids=BAD_WEIGHTS.keys())
def test_bad_sample_weight_is_named(make_weights, message, X):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(3).fit(X, sample_weight=make_weights(X.shape[0]))


@pytest.mark.parametrize("n_samples", [0, -1, 2.5, True], ids=["zero", "negative", "float", "bool"])
def test_sample_needs_a_positive_integer(n_samples, X):
    gm = GaussianMixture(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="n_samples"):
        gm.sample(n_samples)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score", "sample"])
def test_use_before_fit_raises_not_fitted(method, X):
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(GaussianMixture(3), method)(*([] if method == "sample" else [X]))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic"])
def test_predict_with_other_number_of_features_is_named(method, X):
    gm = GaussianMixture(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"X has 2 features.*expecting 3"):
        getattr(gm, method)(X[:, :2])


def test_warm_start_with_other_number_of_features_is_named(X):
    gm = GaussianMixture(3, warm_start=True, random_state=0).fit(X)
    before = copy.deepcopy(vars(gm))
    with pytest.raises(ValueError, match=r"X has 2 features"):
        gm.fit(X[:, :2])
    assert_unchanged(gm, before)


FAILING_FITS = [
    pytest.param(lambda X: with_value(X, 0, slice(None), np.nan), {}, {}, id="nan-row-X"),
    pytest.param(lambda X: X, {"means_init": np.zeros((3, D + 1))}, {}, id="bad-means_init"),
    pytest.param(lambda X: X, {}, {"sample_weight": -np.ones(60)}, id="bad-sample_weight"),
    pytest.param(lambda X: X, {"covariance_type": "banana"}, {}, id="bad-covariance_type"),
    pytest.param(
        lambda X: np.repeat(X[:2], 30, axis=0), {"reg_covar": 0.0}, {}, id="collapse",
        # two distinct points for three k-means clusters: sklearn's KMeans says so, rightly
        marks=pytest.mark.filterwarnings("ignore:Number of distinct clusters"),
    ),
]


def assert_unchanged(gm, before):
    """Every attribute of ``gm`` (hyper-parameters and fitted state) equals ``before``."""
    after = vars(gm)
    assert after.keys() == before.keys()
    for name, value in before.items():
        if isinstance(value, np.ndarray):
            assert_array_equal(after[name], value, err_msg=name)
        elif name == "_covariance":
            assert type(after[name]) is type(value)
        else:
            assert after[name] == value, name
    for name in ["covariances_", "precisions_"]:  # derived: still computed from the same factor
        assert np.all(np.isfinite(getattr(gm, name)))


@pytest.mark.parametrize("warm_start", [False, True], ids=["cold", "warm"])
@pytest.mark.parametrize(("make_X", "options", "fit_kwargs"), FAILING_FITS)
def test_failed_fit_leaves_the_model_as_it_was(make_X, options, fit_kwargs, warm_start, X):
    gm = GaussianMixture(3, warm_start=warm_start, random_state=0).fit(X)
    before = copy.deepcopy(vars(gm))
    gm.set_params(**options)
    with pytest.raises(ValueError):
        gm.fit(make_X(X), **fit_kwargs)
    gm.set_params(**{name: before[name] for name in options})
    assert_unchanged(gm, before)
