"""Checks of a user's ``precisions_init``, shared by the families' ``check_precisions``: each family
knows the shape of its precisions, these say what is wrong in scikit-learn's words."""

from __future__ import annotations

import numpy as np


def check_positive_precisions(values, name, expected_shape):
    values = np.asarray(values, dtype=np.float64)
    if values.shape != expected_shape:
        raise ValueError(f"precisions_init: The parameter '{name} precision' should have the shape of "
                         f"{expected_shape}, but got {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"precisions_init: '{name} precision' should be positive (and finite)")
    return values


def upper_factor_of(matrices: np.ndarray, label: str, name: str) -> np.ndarray:
    """Upper P with P P^T = A, for symmetric positive definite A (one or a stack).

    With J the order-reversing permutation, J A J = L L^T gives A = (J L J)(J L J)^T and J L J is
    upper triangular: a Cholesky factorisation, no inverse.
    """
    if not np.allclose(matrices, np.swapaxes(matrices, -1, -2), rtol=1e-10, atol=1e-12):
        raise ValueError(f"precisions_init: '{name} precision' should be symmetric, positive-definite; "
                         f"{label} is not symmetric")
    flipped = matrices[..., ::-1, ::-1]
    try:
        lower = np.linalg.cholesky(flipped)
    except np.linalg.LinAlgError:
        raise ValueError(f"precisions_init: '{name} precision' should be symmetric, positive-definite; "
                         f"{label} is not positive definite") from None
    return np.ascontiguousarray(lower[..., ::-1, ::-1])
