"""Model selection for Bernoulli mixtures: one ``BernoulliMixture`` per K, ranked as
``select_model`` ranks its cells (tables.py: the sweep, the criteria and their conventions)."""

from __future__ import annotations

import numpy as np

from ..engine.criteria import CONVENTIONS
from ..estimators import BernoulliMixture
from ..estimators.validation import as_generator, check_option, check_sample_weight
from ..estimators.validation_binary import check_binary_fit_input
from .result import CRITERIA, SelectionResult
from .tables import _check_ks, _sweep


def select_bernoulli(X, n_components=range(1, 10), *, method="em", criterion=None, convention="sklearn",
                     n_init=3, random_state=None, n_jobs=None, progress=False, sample_weight=None,
                     **params) -> SelectionResult:
    """``select_model`` for Bernoulli mixtures: fit one ``BernoulliMixture`` per K and rank them.

    There is no covariance axis (the table's ``covariance_type`` column reads 'bernoulli') and
    no hierarchical start; the fits are ranked by BIC / AIC / ICL (EM) or the ELBO (VB) with the
    conventions of ``select_model``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Binary data, dense or scipy sparse (as ``BernoulliMixture.fit`` takes it).
    n_components : int or iterable of int, default=range(1, 10)
        The numbers of components tried (distinct integers >= 1).
    method : {'em', 'vb'}, default='em'
        ``BernoulliMixture``'s ``method``: MAP by EM, or variational Bayes (criterion 'elbo').
    criterion : {'bic', 'aic', 'icl', 'elbo'}, default=None
        'bic', 'aic' or 'icl' for EM (None: 'bic'); 'elbo' for VB (None: 'elbo').
    convention : {'sklearn', 'mclust'}, default='sklearn'
        The sign of BIC/AIC/ICL, as in ``select_model``.
    n_init : int, default=3
        Random starts per K (``BernoulliMixture``'s ``n_init``).
    random_state : int, Generator, RandomState or None, default=None
        Seeds every K's fit; the table is the same for any ``n_jobs``.
    n_jobs : int or None, default=None
        Fits run in parallel by joblib processes (None: 1; -1: all cores).
    progress : bool, default=False
        A progress bar over the fits on stderr (tqdm).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the rows, passed to every fit; n in the criteria is their sum.
    **params
        Passed to every ``BernoulliMixture`` (``alpha``, ``beta``, ``binarize``, ``max_iter``,
        ...); an unknown name is a ``ValueError``.

    Returns
    -------
    SelectionResult
        One cell per K, the best cell and its fitted estimator.
    """
    check_option(method, "method", ("em", "vb"))
    criterion = CRITERIA[method][0] if criterion is None else criterion
    check_option(criterion, "criterion", CRITERIA[method])
    check_option(convention, "convention", CONVENTIONS)
    ks = _check_ks(n_components)
    rng = as_generator(random_state)
    try:
        BernoulliMixture(method=method, **params)
    except TypeError:
        unknown = sorted(set(params) - set(BernoulliMixture().get_params()))
        raise ValueError(f"unknown estimator parameter(s) {unknown} for BernoulliMixture") from None
    # malformed X is refused once, here, as a Bernoulli fit refuses it (not in every cell)
    check_binary_fit_input(BernoulliMixture(**{**params, "method": method, "n_components": 1}), X, None,
                           "Bernoulli mixture")
    n_rows = X.shape[0]
    weights = check_sample_weight(sample_weight, n_rows, np.float64)
    n = float(n_rows if weights is None else weights.sum(dtype=np.float64))
    jobs = []
    for K in ks:
        seed = int(rng.integers(np.iinfo(np.int32).max))
        estimator = BernoulliMixture(**{**params, "method": method, "n_components": K, "n_init": n_init,
                                        "random_state": seed})
        jobs.append({"n_components": K, "covariance_type": "bernoulli", "candidates": [("kmeans", estimator, None)]})
    return _sweep(jobs, (X, weights, n, criterion, convention, method), n_jobs, progress, method, criterion,
                  convention, n)
