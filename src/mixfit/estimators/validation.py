"""The boundary: hyper-parameters, sample weights, ``*_init`` arrays and seeds, checked once.

Every error names the argument, the value seen and what was expected. Nothing the user passed
is modified; checked copies are returned.
"""

from __future__ import annotations

import numbers
import re

import numpy as np
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import validate_data

# name -> (type, min, max, include_boundaries)
INTEGER_AT_LEAST_1 = (numbers.Integral, 1, None, "left")
INTEGER_AT_LEAST_0 = (numbers.Integral, 0, None, "left")
REAL_AT_LEAST_0 = (numbers.Real, 0.0, None, "left")
# The hyper-parameters of the fitting loop that every estimator shares.
LOOP_HYPERPARAMETERS = {
    "n_components": INTEGER_AT_LEAST_1,
    "tol": REAL_AT_LEAST_0,
    "max_iter": INTEGER_AT_LEAST_0,
    "n_init": INTEGER_AT_LEAST_1,
    "verbose": INTEGER_AT_LEAST_0,
    "verbose_interval": INTEGER_AT_LEAST_1,
    "chunk_size": INTEGER_AT_LEAST_1,
    "warm_start": (bool, None, None, None),
}


def check_hyperparameters(estimator, table: dict) -> None:
    """Check each scalar hyper-parameter named in ``table`` against its declared range."""
    for name, (kind, low, high, bounds) in table.items():
        value = getattr(estimator, name)
        if value is None and name in OPTIONAL:
            continue
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"{name} must be an instance of {kind.__name__}, not bool")
        if kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name}={value!r} must be True or False")
            continue
        check_scalar(value, name, kind, min_val=low, max_val=high, include_boundaries=bounds)
        if isinstance(value, float) and not np.isfinite(value):
            raise ValueError(f"{name}={value!r} must be finite")


OPTIONAL = {"chunk_size"}


def validate_X(estimator, X, **kwargs):
    """scikit-learn's ``validate_data`` for X, with every error naming X (some of its messages,
    such as "Expected 2D array" or "Complex data not supported", do not)."""
    try:
        return validate_data(estimator, X, **kwargs)
    except ValueError as error:
        if re.search(r"\bX\b", str(error)):
            raise
        raise ValueError(f"X is not a valid data matrix: {error}") from None


def check_option(value, name: str, allowed) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {list(allowed)}")


def check_sample_weight(sample_weight, n_samples: int, dtype, unit: str = "n_samples") -> np.ndarray | None:
    """A float array of shape (n_samples,), finite, non-negative, with a positive sum. ``unit``
    names what each weight belongs to in the shape error (rows, or e.g. sequences)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.ndim == 0:
        w = np.full(n_samples, w)
    if w.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight has dtype {w.dtype}; expected real numbers")
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight has shape {w.shape}; expected ({unit},) = ({n_samples},)")
    w = w.astype(dtype)
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or infinity; expected finite weights")
    if np.any(w < 0):
        raise ValueError(f"sample_weight has negative entries (min {w.min()}); expected weights >= 0")
    if not w.sum(dtype=np.float64) > 0:
        raise ValueError("sample_weight is zero for every row; expected at least one positive weight")
    return w


def check_weights_init(weights, n_components: int) -> np.ndarray | None:
    if weights is None:
        return None
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n_components,):
        # scikit-learn's wording after the argument's name, for code that matches on it
        raise ValueError(f"weights_init: The parameter 'weights' should have the shape of ({n_components},), "
                         f"but got {weights.shape}; expected (n_components,)")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or np.any(weights > 1):
        raise ValueError(f"weights_init: The parameter 'weights' should be in the range [0, 1], but got min "
                         f"value {weights.min():.5f}, max value {weights.max():.5f}")
    if not np.isclose(weights.sum(), 1.0, rtol=0, atol=1e-6):
        raise ValueError(f"weights_init: The parameter 'weights' should be normalized, but got sum(weights) = "
                         f"{weights.sum():.5f}; expected weights summing to 1")
    return weights


def check_means_init(means, n_components: int, n_features: int) -> np.ndarray | None:
    if means is None:
        return None
    means = np.asarray(means, dtype=np.float64)
    if means.shape != (n_components, n_features):
        raise ValueError(
            f"means_init: The parameter 'means' should have the shape of ({n_components}, {n_features}), but "
            f"got {means.shape}; expected (n_components, n_features)"
        )
    if not np.all(np.isfinite(means)):
        raise ValueError("means_init contains NaN or infinity")
    return means


def check_positive_prior(value, name: str, low: float, expected: str) -> float | None:
    """None, or a finite real number > ``low``; the error names the argument and the value."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}={value!r}; expected None or {expected}")
    if value <= low:  # scikit-learn's sentence first, for code that matches on it
        raise ValueError(f"The parameter '{name}' should be greater than {low:g}, but got {value:.3f}. "
                         f"({name}={value!r}; expected None or {expected})")
    return float(value)


def check_mean_prior(mean_prior, n_features: int) -> np.ndarray | None:
    """None, or a finite (n_features,) array (float64)."""
    if mean_prior is None:
        return None
    mean = np.asarray(mean_prior, dtype=np.float64)
    if mean.shape != (n_features,):
        raise ValueError(f"mean_prior has shape {mean.shape}; expected (n_features,) = ({n_features},)")
    if not np.all(np.isfinite(mean)):
        raise ValueError("mean_prior contains NaN or infinity; expected finite values")
    return mean


def check_concentration(value) -> float | None:
    """A weight prior's ``weight_concentration_prior``: None or a finite number > 0."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                              or not np.isfinite(value) or value <= 0):
        raise ValueError(f"weight_concentration_prior={value!r}; expected None or a finite number > 0")
    return value


def check_rows(n_samples: int, n_components: int) -> None:
    """At least n_components rows."""
    if n_samples < n_components:
        raise ValueError(  # scikit-learn's words first: its users' code and tests match on them
            "Expected n_samples >= n_components; "
            f"X has n_samples = {n_samples} rows but n_components = {n_components}"
        )


def check_warm_features(estimator, n_features: int, warm: bool) -> None:
    """With a warm start, X has the fitted number of features."""
    if warm and n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} was fitted with "
            f"{estimator.n_features_in_} and warm_start=True"
        )


def check_positive_weights(weights, n_components: int) -> None:
    """In-memory weights (or None) with at least n_components positive entries."""
    if weights is not None and np.count_nonzero(weights) < n_components:
        raise ValueError(
            f"sample_weight has {np.count_nonzero(weights)} positive entries; expected at least "
            f"n_components = {n_components}"
        )


def kmeans_state(random_state):
    """The legacy RandomState scikit-learn's mixtures give KMeans for this ``random_state`` (None
    when it is a Generator, which scikit-learn does not take)."""
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.RandomState)):
        return check_random_state(random_state)
    return None  # a Generator (scikit-learn takes none) or a bad value, which as_generator reports


def as_generator(random_state) -> np.random.Generator:
    """A numpy Generator from None, an int, a Generator or a legacy RandomState."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if random_state is None or isinstance(random_state, numbers.Integral):
        return np.random.default_rng(random_state)
    raise ValueError(f"random_state={random_state!r} is not None, an int, a Generator or a RandomState")


# The Beta(alpha, beta) prior on every success probability when alpha / beta are None. EM: the
# posterior mode under Beta(2, 2) is (count of ones + 1) / (N_k + 2), Laplace's add-one rule, which
# keeps every mu_ki inside (0, 1) at the cost of one pseudo-row per value. VB: the uniform Beta(1, 1),
# whose posterior mean is the same (count + 1) / (N_k + 2).
DEFAULT_BETA_PRIOR = {"em": 2.0, "vb": 1.0}


def check_beta_prior(value, name: str, method: str) -> float:
    """alpha / beta: None (the method's default) or a finite number > 0 (VB) or >= 1 (EM)."""
    if value is None:
        return DEFAULT_BETA_PRIOR[method]
    em_rule = ">= 1 for method='em' (the posterior mode needs it; 1 with 1 is maximum likelihood)"
    low, expected = (1.0, em_rule) if method == "em" else (0.0, "> 0")
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or (value < low if method == "em" else value <= low):
        raise ValueError(f"{name}={value!r}; expected None or a finite number {expected}")
    return float(value)
