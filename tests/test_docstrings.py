"""The docstrings are the reference (issue 16): every public class, method and function of
mixfit documents its parameters and returns in numpydoc, and every class documents each
attribute its fit sets.

numpydoc's own validator is the oracle for the sections: PR01 (a parameter is not documented),
PR02 (a documented parameter does not exist), RT01 (no Returns section where the function
returns something) and GL08 (no docstring at all, under which numpydoc checks nothing else).
The attributes are found empirically: a small fitted instance's public attributes ending in
``_`` and the class's properties ending in ``_`` must each be a name of the class docstring's
Attributes section.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import mixfit
from mixfit.selection import Cell, SelectionResult

pytest.importorskip("numpydoc")
from numpydoc.docscrape import ClassDoc
from numpydoc.validate import validate

CHECKED = ("PR01", "PR02", "RT01", "GL08")

# The public classes: those of mixfit.__all__, and the two of the selection tables it returns.
PUBLIC_CLASSES = {name: getattr(mixfit, name) for name in mixfit.__all__ if inspect.isclass(getattr(mixfit, name))}
PUBLIC_CLASSES |= {"selection.SelectionResult": SelectionResult, "selection.Cell": Cell}
PUBLIC_FUNCTIONS = [name for name in mixfit.__all__ if inspect.isfunction(getattr(mixfit, name))]


def _own_methods(cls) -> list[str]:
    """Public methods defined in mixfit (not those of sklearn's BaseEstimator, nor builtins)."""
    names = []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not owner.__module__.startswith("mixfit"):
            continue
        member = inspect.getattr_static(owner, name)
        if isinstance(member, (staticmethod, classmethod)) or inspect.isfunction(member):
            names.append(name)
    return names


def _case(name: str, path: str):
    return pytest.param(f"mixfit.{path}", id=path)


DOCUMENTED = (
    [_case(name, name) for name in PUBLIC_CLASSES]
    + [_case(name, f"{name}.{method}") for name, cls in PUBLIC_CLASSES.items() for method in _own_methods(cls)]
    + [_case(name, name) for name in PUBLIC_FUNCTIONS]
)


@pytest.mark.parametrize("path", DOCUMENTED)
def test_parameters_and_returns_are_documented(path):
    errors = [f"{code}: {message}" for code, message in validate(path)["errors"] if code in CHECKED]
    assert not errors, f"{path}: " + "; ".join(errors)


# ---- fitted attributes -----------------------------------------------------------------------


def _frame(X):
    """X as a data frame with string column names where pandas is there, so that the fit sets
    ``feature_names_in_`` too; else X itself."""
    try:
        import pandas as pd
    except ImportError:
        return X
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])


def _gaussian_rows():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 6.0])


def _binary_rows():
    return (np.random.default_rng(1).random((60, 4)) < 0.5).astype(np.float64)


def _symbols():
    return np.random.default_rng(2).integers(3, size=(60, 1))


def _counts():
    return np.random.default_rng(3).poisson(2.0, size=(60, 3))


LENGTHS = [30, 30]
# Each factory returns a small fitted instance; what it sets is what the docstring must name.
FITTED = {
    "GaussianMixture": lambda: mixfit.GaussianMixture(2, random_state=0).fit(_frame(_gaussian_rows())),
    "BayesianGaussianMixture": lambda: mixfit.BayesianGaussianMixture(n_components=2, random_state=0).fit(
        _frame(_gaussian_rows())),
    "StudentMixture": lambda: mixfit.StudentMixture(2, random_state=0).fit(_frame(_gaussian_rows())),
    "BernoulliMixture-em": lambda: mixfit.BernoulliMixture(2, random_state=0).fit(_frame(_binary_rows())),
    "BernoulliMixture-vb": lambda: mixfit.BernoulliMixture(2, method="vb", random_state=0).fit(
        _frame(_binary_rows())),
    "GaussianMixtureIC": lambda: mixfit.GaussianMixtureIC(n_components=(1, 2), covariance_types="full", n_init=1,
                                                          random_state=0).fit(_frame(_gaussian_rows())),
    "GaussianMixtureImputer": lambda: mixfit.GaussianMixtureImputer(2, random_state=0).fit(_frame(_gaussian_rows())),
    "GaussianMixtureRegressor": lambda: mixfit.GaussianMixtureRegressor(2, random_state=0).fit(
        _frame(_gaussian_rows()[:, :1]), _gaussian_rows()[:, 1]),
    "GaussianHMM": lambda: mixfit.GaussianHMM(n_components=2, random_state=0).fit(_gaussian_rows(), LENGTHS),
    "VariationalGaussianHMM": lambda: mixfit.VariationalGaussianHMM(n_components=2, random_state=0).fit(
        _gaussian_rows(), LENGTHS),
    "CategoricalHMM": lambda: mixfit.CategoricalHMM(n_components=2, random_state=0).fit(_symbols(), LENGTHS),
    "VariationalCategoricalHMM": lambda: mixfit.VariationalCategoricalHMM(n_components=2, random_state=0).fit(
        _symbols(), LENGTHS),
    "BernoulliHMM": lambda: mixfit.BernoulliHMM(n_components=2, random_state=0).fit(_binary_rows(), LENGTHS),
    "PoissonHMM": lambda: mixfit.PoissonHMM(n_components=2, random_state=0).fit(_counts(), LENGTHS),
    "MultinomialHMM": lambda: mixfit.MultinomialHMM(n_components=2, random_state=0).fit(_counts(), LENGTHS),
    "GMMHMM": lambda: mixfit.GMMHMM(n_components=2, n_mix=2, random_state=0).fit(_gaussian_rows(), LENGTHS),
    "GaussianHSMM": lambda: mixfit.GaussianHSMM(n_components=2, max_duration=20, random_state=0).fit(
        _gaussian_rows(), LENGTHS),
    "CategoricalHSMM": lambda: mixfit.CategoricalHSMM(n_components=2, max_duration=20, random_state=0).fit(
        _symbols(), LENGTHS),
    "PoissonHSMM": lambda: mixfit.PoissonHSMM(n_components=2, max_duration=20, random_state=0).fit(
        _counts(), LENGTHS),
}


def _fitted_attributes(estimator) -> set[str]:
    """Public attributes ending in ``_`` that the fit set, and the class's such properties."""
    cls = type(estimator)
    set_by_fit = {k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")}
    properties = {k for k in dir(cls) if k.endswith("_") and not k.startswith("_")
                  and isinstance(inspect.getattr_static(cls, k), property)}
    return set_by_fit | properties


def _documented_attributes(cls) -> set[str]:
    """The names of the Attributes section; an entry may name several, comma-separated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpydoc warns on sections it does not know
        doc = ClassDoc(cls, config={"show_class_members": False})
    return {name.strip() for item in doc["Attributes"] for name in item.name.split(",")}


@pytest.mark.parametrize(
    "case", [pytest.param(case, id=case) for case in FITTED])
def test_every_fitted_attribute_is_documented(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few iterations on tiny data need not converge
        estimator = FITTED[case]()
    missing = _fitted_attributes(estimator) - _documented_attributes(type(estimator))
    assert not missing, f"{type(estimator).__name__} does not document {sorted(missing)} under Attributes"


def test_every_public_estimator_is_fitted_above():
    """The attribute check covers each class of mixfit.__all__ that has a ``fit``."""
    estimators = {name for name, cls in PUBLIC_CLASSES.items() if hasattr(cls, "fit")}
    assert estimators <= {case.split("-")[0] for case in FITTED}
