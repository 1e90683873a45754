"""Hostile input for the newer estimators, which tests/test_bad_input_battery.py (the two
Gaussian mixtures) does not sweep: BernoulliMixture, StudentMixture, GaussianMixtureImputer,
GaussianMixtureRegressor, GMMHMM, PoissonHMM, MultinomialHMM and the HSMMs
(tests/test_hostile_more_tools.py: partial_fit, fit_many, select_model, bootstrap, model files,
the command line; tests/test_hostile_more_sequences.py: lengths, counts, HSMM durations, scales;
both on this file's data and helpers).

The oracle for each error's type is scikit-learn's own ``GaussianMixture`` on the same input
(``ValueError`` for malformed values and shapes, ``TypeError`` for sparse input to a dense
estimator, ``NotFittedError`` before a fit), and for feature names scikit-learn's contract:
a fit on a DataFrame records its columns in ``feature_names_in_`` and predicting on the same
DataFrame warns about nothing. Each case asserts the error names what was wrong.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

import mixfit

N = 40  # rows: small, the whole file runs in seconds
_rng = np.random.default_rng(0)
_GAUSS = np.r_[_rng.normal(size=(N // 2, 2)), _rng.normal(size=(N // 2, 2)) + 5.0]
_BINARY = (_rng.random((N, 4)) < np.r_[[[0.9, 0.9, 0.1, 0.1]] * (N // 2), [[0.1, 0.1, 0.9, 0.9]] * (N // 2)])
_COUNTS = _rng.poisson(np.r_[[2.0] * (N // 2), [9.0] * (N // 2)])[:, None].astype(float)
_SYMBOLS = _rng.integers(0, 3, size=(N, 1))
_MULTI = _rng.multinomial(5, [0.2, 0.3, 0.5], size=N).astype(float)

# name: (estimator factory, X, extra fit arguments)
ESTIMATORS = {
    "BernoulliMixture": (lambda: mixfit.BernoulliMixture(2, random_state=0), _BINARY.astype(float), {}),
    "StudentMixture": (lambda: mixfit.StudentMixture(2, random_state=0), _GAUSS, {}),
    "GaussianMixtureImputer": (lambda: mixfit.GaussianMixtureImputer(2, random_state=0), _GAUSS, {}),
    "GaussianMixtureRegressor": (lambda: mixfit.GaussianMixtureRegressor(2, random_state=0), _GAUSS,
                                 {"y": 2.0 * _GAUSS[:, 0]}),
    "GMMHMM": (lambda: mixfit.GMMHMM(2, n_mix=2, random_state=0, max_iter=3), _GAUSS, {}),
    "PoissonHMM": (lambda: mixfit.PoissonHMM(2, random_state=0, max_iter=3), _COUNTS, {}),
    "MultinomialHMM": (lambda: mixfit.MultinomialHMM(2, random_state=0, max_iter=3), _MULTI, {}),
    "GaussianHSMM": (lambda: mixfit.GaussianHSMM(2, random_state=0, max_iter=3, max_duration=20), _GAUSS, {}),
    "CategoricalHSMM": (lambda: mixfit.CategoricalHSMM(2, random_state=0, max_iter=3, max_duration=20),
                        _SYMBOLS, {}),
    "PoissonHSMM": (lambda: mixfit.PoissonHSMM(2, random_state=0, max_iter=3, max_duration=20), _COUNTS, {}),
}
SEQUENCE_MODELS = ("GMMHMM", "PoissonHMM", "MultinomialHMM", "GaussianHSMM", "CategoricalHSMM", "PoissonHSMM")
COUNT_MODELS = ("PoissonHMM", "MultinomialHMM", "PoissonHSMM")

def fit(name, X=None, **kwargs):
    """A fresh estimator of ``name`` fitted on X (its own data when None), warnings silenced."""
    make, data, extra = ESTIMATORS[name]
    X = data if X is None else X
    args = {**extra, **kwargs}
    y = args.pop("y", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = make()
        return estimator.fit(X, y, **args) if name == "GaussianMixtureRegressor" else estimator.fit(X, **args)


def output(estimator, X):
    """What a fitted estimator gives for X: its posteriors, or for the imputer and the regressor
    what they return."""
    for method in ("predict_proba", "transform", "predict"):
        if hasattr(estimator, method):
            return np.asarray(getattr(estimator, method)(X))
    raise AssertionError(type(estimator).__name__)


def sklearn_error(X):
    """The type of scikit-learn's GaussianMixture error on X (the oracle), or None if it fits."""
    try:
        SklearnGaussianMixture(1).fit(X)
    except Exception as error:  # noqa: BLE001  (the type is what is compared)
        return type(error)
    return None


# (transform of an estimator's X, match): fit must raise what scikit-learn raises, naming X
MALFORMED_X = {
    "empty": (lambda X: X[:0], r"\bX\b"),
    "1d": (lambda X: X[:, 0], r"\bX\b"),
    "3d": (lambda X: X[:, :, None], r"\bX\b"),
    "strings": (lambda X: np.full(X.shape, "a"), r"\bX\b"),
    "complex": (lambda X: X + 1j, r"\bX\b"),
    "inf": (lambda X: np.where(np.arange(X.shape[0])[:, None] == 3, np.inf, X), r"\bX\b"),
}


@pytest.mark.parametrize("case", list(MALFORMED_X))
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_malformed_X_is_refused_as_scikit_learn_refuses_it_naming_X(name, case):
    make_X, match = MALFORMED_X[case]
    X = make_X(ESTIMATORS[name][1].astype(float))
    expected = sklearn_error(make_X(_GAUSS))
    assert expected is ValueError
    with pytest.raises(expected, match=match):
        fit(name, X)


@pytest.mark.parametrize("name", [n for n in ESTIMATORS if n != "BernoulliMixture"])
def test_sparse_X_is_a_type_error_as_in_scikit_learn(name):
    assert sklearn_error(sp.csr_matrix(_GAUSS)) is TypeError
    with pytest.raises(TypeError, match="Sparse data"):
        fit(name, sp.csr_matrix(ESTIMATORS[name][1]))


def test_bernoulli_mixture_reads_sparse_X_as_the_dense_array():
    """BernoulliMixture takes sparse binary X (documented): the same fit as from the dense array,
    to rounding (sums over the same entries in another order)."""
    dense = fit("BernoulliMixture")
    sparse = fit("BernoulliMixture", sp.csr_matrix(_BINARY.astype(float)))
    np.testing.assert_allclose(sparse.predict_proba(_BINARY), dense.predict_proba(_BINARY), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_int_bool_and_float16_X_fit_as_the_float64_array_does(name):
    """Integer, bool and float16 X are cast to float64 as scikit-learn casts them: the same fit as
    from the float64 array of the same values (real-valued data are rounded to quarters first, which
    float16 holds exactly; int where the values are integers, bool where they are 0/1)."""
    X = ESTIMATORS[name][1]
    values = X if np.array_equal(X, np.round(X)) else np.round(4.0 * X) / 4.0
    reference = output(fit(name, values), values)
    casts = [np.float16] + ([np.int64] if np.array_equal(values, np.round(values)) else []) + (
        [bool] if np.isin(values, (0, 1)).all() else [])
    for dtype in casts:
        assert np.array_equal(values.astype(dtype), values)  # the cast keeps every value
        assert_array_equal(output(fit(name, values.astype(dtype)), values), reference)


# ---- methods of a fitted estimator -------------------------------------------------------------


def methods(estimator):
    return [m for m in ("predict", "predict_proba", "score", "score_samples", "transform") if hasattr(estimator, m)]


@pytest.fixture(scope="module")
def fitted():
    return {name: fit(name) for name in ESTIMATORS}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_methods_refuse_wrong_n_features_1d_and_empty_X_and_unfitted_calls(name, fitted):
    estimator = fitted[name]
    X = ESTIMATORS[name][1]
    before = output(estimator, X)
    other = np.c_[X, X]
    for method in methods(estimator):
        call = getattr(estimator, method)
        if method == "score" and name == "GaussianMixtureRegressor":  # R^2 of (X, y)
            call = lambda X, score=call: score(X, np.zeros(X.shape[0] if X.ndim == 2 else 1))
        with pytest.raises(ValueError, match=rf"X has {other.shape[1]} features"):
            call(other)
        with pytest.raises(ValueError, match=r"\bX\b"):
            call(X[0])
        with pytest.raises(ValueError, match=r"\bX\b"):
            call(X[:0])
        with pytest.raises(NotFittedError):
            unfitted = getattr(ESTIMATORS[name][0](), method)
            unfitted(X, np.zeros(X.shape[0])) if method == "score" and name == "GaussianMixtureRegressor" else unfitted(X)
    assert_array_equal(output(estimator, X), before)


@pytest.mark.parametrize("name", [n for n in ESTIMATORS if hasattr(ESTIMATORS[n][0](), "sample")])
def test_sample_refuses_zero_rows_and_an_unfitted_model(name, fitted):
    with pytest.raises(ValueError, match="n_samples"):
        fitted[name].sample(0)
    with pytest.raises(NotFittedError):
        ESTIMATORS[name][0]().sample(2)




@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_dataframe_columns_become_feature_names_in_and_predicting_on_them_is_quiet(name):
    pd = pytest.importorskip("pandas")
    X = ESTIMATORS[name][1].astype(float)
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    estimator = fit(name, frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        from_frame = output(estimator, frame)
    # the same fit as from the array, to rounding: a DataFrame's values come F-ordered, and BLAS
    # sums the products in another order (differences of a few ulps, 1e-15 relative, seen)
    np.testing.assert_allclose(from_frame, output(fit(name, X), X), rtol=1e-9, atol=1e-12)
    assert list(getattr(estimator, "feature_names_in_", [])) == list(frame.columns)
    with pytest.raises(ValueError, match="feature names"):
        output(estimator, frame.rename(columns={"c0": "other"}))


# ---- a fit that fails leaves the previous fit as it was -----------------------------------------


def _another_n_features(X):
    return np.c_[X, X[:, :1]]


# (name, what makes the fit fail): each after a good fit, the error raised on the way
FAILING_FITS = {
    "inf": lambda name, X: {"X": np.where(np.arange(X.shape[0])[:, None] == 2, np.inf, X)},
    "other-D-and-negative-weights": lambda name, X: {
        "X": _another_n_features(X),
        "sample_weight": -np.ones(1 if name in SEQUENCE_MODELS else X.shape[0])},
    "other-D-and-lengths-or-weights-of-other-rows": lambda name, X: {
        "X": _another_n_features(X),
        **({"lengths": [X.shape[0], 1]} if name in SEQUENCE_MODELS else {"sample_weight": np.ones(3)})},
}


@pytest.mark.parametrize("case", list(FAILING_FITS))
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_failed_fit_leaves_the_previous_fit_and_its_feature_bookkeeping(name, case):
    X = ESTIMATORS[name][1]
    estimator = fit(name)
    before = output(estimator, X)
    state = {key: vars(estimator)[key] for key in ("n_features_in_", "feature_names_in_") if key in vars(estimator)}
    arguments = FAILING_FITS[case](name, X)
    bad_X = arguments.pop("X")
    extra = dict(ESTIMATORS[name][2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError):
            if name == "GaussianMixtureRegressor":
                estimator.fit(bad_X, extra["y"][: bad_X.shape[0]], **arguments)
            else:
                estimator.fit(bad_X, **arguments)
    assert {key: vars(estimator)[key] for key in state} == state
    assert_array_equal(output(estimator, X), before)


# ---- the estimator contract: clone, pickle, random_state -----------------------------------------


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_clone_pickle_and_random_state_reproduce_the_fit(name, fitted):
    X = ESTIMATORS[name][1]
    estimator = fitted[name]
    params = estimator.get_params()
    copy = clone(estimator)
    assert copy.get_params().keys() == params.keys()
    assert all(copy.get_params()[key] is params[key] for key in params)  # clone copies params as they are
    assert not hasattr(copy, "n_features_in_")
    restored = pickle.loads(pickle.dumps(estimator))
    assert_array_equal(output(restored, X), output(estimator, X))
    assert_array_equal(output(fit(name), X), output(estimator, X))  # the same seed: the same fit
    with pytest.raises(ValueError, match="Invalid parameter 'no_such_parameter'"):
        clone(estimator).set_params(no_such_parameter=1)



def _other_data(name, X):
    return X + 3 if name == "CategoricalHSMM" else _another_n_features(X)


@pytest.mark.parametrize("name", [name for name in ESTIMATORS
                                  if "warm_start" in ESTIMATORS[name][0]().get_params()])
def test_warm_start_on_other_data_says_so_and_keeps_the_fit(name):
    X = ESTIMATORS[name][1]
    estimator = fit(name)
    before = output(estimator, X)
    estimator.set_params(warm_start=True)
    other = _other_data(name, X)
    extra = {"y": ESTIMATORS[name][2]["y"]} if name == "GaussianMixtureRegressor" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="warm_start=True" if name != "CategoricalHSMM" else "n_symbols"):
            estimator.fit(other, *extra.values())
    assert_array_equal(output(estimator, X), before)
