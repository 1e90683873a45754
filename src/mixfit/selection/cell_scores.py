"""A fitted cell's log-likelihood and classification entropy in one pass over the rows.

The table needs ln L = sum_n w_n ln p(x_n) (``score_samples``) and the entropy of the
responsibilities (``predict_proba``, for ICL). Both come from the same per-row log joint
densities ln rho_nk = ln pi_k + ln N(x_n | mu_k, Sigma_k): this computes them once per row
chunk (the estimator's own ``_log_rho_fn`` and chunk map) and derives both columns with the
very functions ``score_samples`` and ``predict_proba`` use, so the values are theirs to the bit,
at half the passes (and, inside ``checked_rows``, without checking X again).
"""

from __future__ import annotations

import numpy as np

from ..engine.criteria import classification_entropy
from ..kernels.linalg import logsumexp_rows, probabilities_from_log


def log_likelihood_and_entropy(estimator, X, sample_weight) -> tuple[float, float]:
    """(sum_n w_n ln p(x_n), -sum_n w_n sum_k r_nk ln r_nk) of a fitted Gaussian (or Student)
    mixture on the rows ``X`` (an in-memory array), weights (n,) or None."""
    log_rho = estimator._log_rho_fn()
    K = estimator.weights_.shape[0]

    def both(chunk):  # (m, 1 + K): ln p(x_n), then r_nk
        joint = log_rho(chunk)
        return np.column_stack([logsumexp_rows(joint), probabilities_from_log(joint)])

    columns = estimator._map_rows(X, both, (1 + K,))
    # contiguous, as score_samples' and predict_proba's outputs: the same sums in the same order
    log_density, resp = np.ascontiguousarray(columns[:, 0]), np.ascontiguousarray(columns[:, 1:])
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    return float(log_density @ weights), classification_entropy(resp, sample_weight)
