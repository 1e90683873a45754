"""Information criteria: one BIC, AIC and ICL for every estimator and the selection tables.

Sign conventions (n = the number of observations, the sum of sample weights where they are
given; p = the model's free parameters; ln L = sum_n w_n ln p(x_n)):

- ``convention='sklearn'`` (default), lower is better, as ``GaussianMixture.bic``:
  BIC = -2 ln L + p ln n,   AIC = -2 ln L + 2 p,   ICL = BIC + 2 EN,
  with EN = -sum_n w_n sum_k r_nk ln r_nk the classification entropy (Biernacki, Celeux and
  Govaert 2000); ICL penalises overlapping components, which BIC does not.
- ``convention='mclust'``: each of them times -1 (2 ln L - p ln n, ...), higher is better, as
  R's mclust reports them.

ln n is numpy's, as scikit-learn's ``bic`` takes it, so that the estimators' values are
scikit-learn's to the last bit on the same fitted parameters.
"""

from __future__ import annotations

import math

import numpy as np

CONVENTIONS = ("sklearn", "mclust")


def n_observations(n_rows: int, sample_weight=None) -> float:
    """n of the criteria: the rows, or the sum of the sample weights where they are given.

    Parameters
    ----------
    n_rows : int
        Rows of the data.
    sample_weight : array-like of shape (n_rows,) or None
        Per-row weights (an integer weight counts as that many repeated rows).

    Returns
    -------
    int or float
    """
    return n_rows if sample_weight is None else float(np.sum(sample_weight, dtype=np.float64))


def bic(log_likelihood: float, n_parameters: int, n: float) -> float:
    """Bayesian information criterion -2 ln L + p ln n (lower is better).

    Parameters
    ----------
    log_likelihood : float
        ln L, the (weighted) total log-likelihood, not the per-sample mean.
    n_parameters : int
        p, the free parameters.
    n : int or float
        The number of observations (``n_observations``).

    Returns
    -------
    float
    """
    return -2 * log_likelihood + n_parameters * np.log(n)


def aic(log_likelihood: float, n_parameters: int) -> float:
    """Akaike information criterion -2 ln L + 2 p (lower is better).

    Parameters
    ----------
    log_likelihood : float
        ln L, the (weighted) total log-likelihood.
    n_parameters : int
        p, the free parameters.

    Returns
    -------
    float
    """
    return -2 * log_likelihood + 2 * n_parameters


def classification_entropy(resp: np.ndarray, sample_weight=None) -> float:
    """EN = -sum_n w_n sum_k r_nk ln r_nk >= 0, with 0 ln 0 = 0.

    Parameters
    ----------
    resp : array-like of shape (n, K)
        Responsibilities (rows sum to one).
    sample_weight : array-like of shape (n,) or None

    Returns
    -------
    float
    """
    resp = np.asarray(resp, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(resp > 0, resp * np.log(resp), 0.0).sum(axis=1)  # (n,)
    return float(-(terms if sample_weight is None else terms * sample_weight).sum())


def icl(log_likelihood: float, n_parameters: int, n: float, entropy: float) -> float:
    """Integrated completed likelihood BIC + 2 EN (lower is better).

    Parameters
    ----------
    log_likelihood, n_parameters, n
        As for ``bic``.
    entropy : float
        EN, the ``classification_entropy`` of the fitted responsibilities.

    Returns
    -------
    float
    """
    return bic(log_likelihood, n_parameters, n) + 2.0 * entropy


def information_criteria(log_likelihood: float, n_parameters: int, n: float, entropy: float,
                         convention: str = "sklearn") -> dict:
    """BIC, AIC and ICL in one sign convention.

    Parameters
    ----------
    log_likelihood, n_parameters, n, entropy
        As for ``icl``.
    convention : {'sklearn', 'mclust'}
        'sklearn': lower is better; 'mclust': each value times -1, higher is better.

    Returns
    -------
    dict
        {'bic': float, 'aic': float, 'icl': float}.
    """
    values = {"bic": float(bic(log_likelihood, n_parameters, n)),
              "aic": float(aic(log_likelihood, n_parameters))}
    values["icl"] = values["bic"] + 2.0 * entropy
    sign = 1.0 if convention == "sklearn" else -1.0
    return {name: sign * value for name, value in values.items()}


def label_switching(n_components: int, n_active: int, exchangeable: bool) -> float:
    """ln of the number of relabellings of a posterior mode that a factorised q misses.

    The ELBO of a K-component mixture bounds ln p(X) from one mode of a posterior that is
    symmetric under relabelling; adding ln M, M the number of distinct images of that mode,
    corrects it for model comparison (PRML section 10.2.4, which takes M = K!). Of the K
    components K_a are occupied; the K - K_a empty ones sit at their prior, and permuting them
    among themselves maps q onto itself, so of the K! relabellings only K!/(K - K_a)! give distinct
    modes (the choice and order of the K_a labels that hold the occupied components). That count
    holds when the weight prior is exchangeable (a symmetric Dirichlet). Under the stick-breaking
    prior (a truncated Dirichlet process) it is not: moving an occupied component to a later, empty
    label costs prior mass of order the concentration per label passed, so only the K_a!
    relabellings among the occupied labels count. docs/selection.md gives the derivation.

    Parameters
    ----------
    n_components : int
        K, the components of the fit.
    n_active : int
        K_a <= K, the occupied components (E[pi_k] above ``ACTIVE_WEIGHT_THRESHOLD``).
    exchangeable : bool
        True for a symmetric Dirichlet weight prior, False for stick-breaking.

    Returns
    -------
    float
        ln(K!/(K - K_a)!) when exchangeable, else ln K_a!.
    """
    if not 0 <= n_active <= n_components:
        raise ValueError(f"n_active={n_active}; expected 0 <= n_active <= n_components = {n_components}")
    if exchangeable:
        return math.lgamma(n_components + 1) - math.lgamma(n_components - n_active + 1)
    return math.lgamma(n_active + 1)
