"""Rows a caller has already checked, so that many fits of the same X check it once.

``select_model`` checks X (scikit-learn's ``check_array``: a finite float64 / float32 2-D
array) and then fits some hundred small estimators to it; each fit would check X again, and
each ``score_samples`` / ``predict_proba`` of the table's columns once more, at ~1 ms a check
(a clone of the estimator, the data-frame detection, the finiteness pass): more than a small
cell's whole compiled EM. Inside ``checked_rows(X)`` the Gaussian mixtures' fit and prediction
checks take that very array object as checked (``is_checked``) and only record its number of
features; any other array, or a caller outside the context, is checked as always.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

_CHECKED: ContextVar = ContextVar("mixfit_checked_rows", default=None)


@contextmanager
def checked_rows(X: np.ndarray):
    """Within the context, ``X`` (this object, already validated by the caller as a finite
    2-D float array) is not validated again by the estimators' fit and prediction checks."""
    token = _CHECKED.set(X)
    try:
        yield
    finally:
        _CHECKED.reset(token)


def is_checked(X, dtypes, min_samples: int = 1) -> bool:
    """Whether ``X`` is the array of the enclosing ``checked_rows``, a 2-D ndarray of one of
    ``dtypes`` with at least ``min_samples`` rows (what the skipped validation would ask)."""
    return (X is _CHECKED.get() and isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype in dtypes
            and X.shape[0] >= min_samples and X.shape[1] >= 1)


class CheckedRecord:
    """The validation record of checked rows (in place of the estimator's clone that
    scikit-learn's ``validate_data`` writes): their number of features, no feature names."""

    def __init__(self, n_features: int):
        self.n_features_in_ = n_features
        self._has_missing = False
