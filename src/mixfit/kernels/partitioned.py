"""The partitioned Gaussian (PRML 2.3.1-2.3.2): blocks of covariance matrices, the Schur
complement, and the grouping of rows by which coordinates they observe.

With the coordinates split into a ("given", observed) and b ("other"),

    Sigma = [[Sigma_aa, Sigma_ab], [Sigma_ba, Sigma_bb]],

the marginal of x_a is N(mu_a, Sigma_aa) (2.98) and the conditional of x_b given x_a is

    N(mu_b + B^T (x_a - mu_a), Sigma_bb - Sigma_ba Sigma_aa^{-1} Sigma_ab)      (2.81), (2.82)

with the regression coefficients B = Sigma_aa^{-1} Sigma_ab (a, b). Everything is taken from one
Cholesky factor L of Sigma_aa (Sigma_aa = L L^T): A = L^{-1} Sigma_ab, B = L^{-T} A and the Schur
complement Sigma_bb - A^T A; no matrix is inverted (see docs/math/conditional.md#eq-2-82).
"""

from __future__ import annotations

import numpy as np


def schur_blocks(cov: np.ndarray, given: np.ndarray, other: np.ndarray):
    """The regression coefficients and the Schur complement of a covariance or a stack of them.

    Parameters
    ----------
    cov : ndarray of shape (D, D) or (K, D, D)
        Positive definite covariance matrices (float64).
    given, other : ndarray of int
        Disjoint coordinate indices a (at least one) and b (at least one).

    Returns
    -------
    coef : ndarray of shape (..., a, b)
        B = Sigma_aa^{-1} Sigma_ab, so that E[x_b | x_a] = mu_b + (x_a - mu_a) B.
    conditional : ndarray of shape (..., b, b)
        Sigma_bb - Sigma_ba Sigma_aa^{-1} Sigma_ab (2.82), symmetrised.
    """
    cov_aa = cov[..., given[:, None], given]  # (..., a, a)
    cov_ab = cov[..., given[:, None], other]  # (..., a, b)
    cov_bb = cov[..., other[:, None], other]  # (..., b, b)
    lower = np.linalg.cholesky(cov_aa)  # Sigma_aa = L L^T; a principal block of a PD matrix is PD
    half = np.linalg.solve(lower, cov_ab)  # A = L^{-1} Sigma_ab
    coef = np.linalg.solve(np.swapaxes(lower, -1, -2), half)  # B = L^{-T} A = Sigma_aa^{-1} Sigma_ab
    # Sigma_ba Sigma_aa^{-1} Sigma_ab = A^T A: a Gram matrix, so the complement loses no symmetry
    conditional = cov_bb - np.swapaxes(half, -1, -2) @ half
    return coef, 0.5 * (conditional + np.swapaxes(conditional, -1, -2))


def block(cov: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Sigma_ff, the principal block of a covariance (D, D) or a stack (K, D, D) on ``features``."""
    return cov[..., features[:, None], features]


def missingness_patterns(missing: np.ndarray):
    """The rows of a boolean mask (n, D) grouped by their pattern of missing entries.

    Parameters
    ----------
    missing : ndarray of shape (n, D), bool
        True where an entry is missing.

    Returns
    -------
    list of (observed, rows)
        For each distinct pattern, the indices of the observed coordinates (int array) and of the
        rows that share it (int array, increasing); the patterns in lexicographic order of the
        mask (the complete pattern, all False, first when present).
    """
    patterns, inverse = np.unique(missing, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")  # rows grouped by pattern, each group in row order
    bounds = np.searchsorted(inverse[order], np.arange(patterns.shape[0] + 1))
    return [(np.flatnonzero(~pattern), order[bounds[p]:bounds[p + 1]]) for p, pattern in enumerate(patterns)]
