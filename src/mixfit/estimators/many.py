"""``fit_many``: one GaussianMixture per data set, many small data sets advanced together.

Each data set gets its own ``GaussianMixture`` with the given hyper-parameters, checked and
started exactly as its own ``fit`` would (the same validation, the same ``n_init`` starts from
the same streams); then the EM iterations of every (problem, start) run stacked
(engine/stacked.py over backends/stacked.py with models/gaussian_em_stacked.py), and each
estimator's fitted attributes are written from its result as its ``fit`` writes them. A problem
the stacked path gives back (a collapsed component, or parameters whose stacked rounding is
outside the single fit's limit), and every problem of a setting the stacked path does not cover,
is fitted by its own ``fit``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..backends.inputs import is_chunked
from ..backends.stacked import StackedSource
from ..engine import FitOptions, FitResult
from ..engine.collapse import ON_COLLAPSE, make_policy
from ..engine.stacked import run_stacked
from ..engine.starts import INIT_METHODS
from ..exceptions import ConvergenceWarning
from ..families.registry import make_covariance
from ..families.stacked import stacked_family
from ..models.gaussian_em_stacked import StackedGaussianEM
from .gaussian_mixture import GaussianMixture
from .priors import check_prior_spec
from .validation import as_generator, check_hyperparameters, check_option

# The hyper-parameters that may be given per data set, as a list or tuple of one value each.
_PER_PROBLEM = ("random_state", "weights_init", "means_init", "precisions_init")


def fit_many(datasets, sample_weight=None, **params):
    """Fit one Gaussian mixture to each of many data sets, their EM iterations stacked.

    The same model (the ``GaussianMixture`` hyper-parameters ``params``) is fitted to each data
    set independently, and the result is the list of fitted estimators that
    ``[GaussianMixture(**params).fit(X) for X in datasets]`` would give, to rounding (within
    1e-10 in the tests). The EM iterations of all the data sets advance together, in stacked
    numpy operations over a leading problem axis, so the per-iteration Python overhead is paid
    once per block of problems rather than once per data set: for 1000 data sets of 400 rows the
    iterations are tens of times faster than a loop of fits (docs/performance.md). Each problem
    stops on its own ``tol`` test or at ``max_iter``, as its own fit would; a stopped problem
    leaves the stack.

    Parameters
    ----------
    datasets : sequence of array-like of shape (n_samples_b, n_features)
        The B data sets: a list or tuple of 2-D arrays (or a 3-D array, one data set per
        leading index), each with its own number of rows (at least ``n_components``) and the
        same number of features.
    sample_weight : sequence of (array-like of shape (n_samples_b,) or None), default=None
        The row weights of each data set, as ``GaussianMixture.fit`` takes them; None weighs
        every row of every set 1.
    **params : GaussianMixture hyper-parameters
        ``n_components``, ``covariance_type``, ``tol``, ``max_iter``, ``n_init``, ``init_params``...
        as ``GaussianMixture`` takes them, the same for every data set, except
        ``random_state``, ``weights_init``, ``means_init`` and ``precisions_init``, which may
        also be given per data set as a list or tuple of B values (for the three ``*_init``: a
        list or tuple of B entries, each None or a numpy array). Seeding: the estimator of data
        set b is ``GaussianMixture(**params)`` with ``random_state`` the b-th entry of such a
        list, or else the given value itself; an int thus seeds every problem alike, and
        ``fit_many(sets, random_state=seeds)[b]`` equals
        ``GaussianMixture(random_state=seeds[b]).fit(sets[b])``. A Generator or RandomState
        object is consumed by the starts in the order of the data sets, as in a loop.

    Returns
    -------
    estimators : list of GaussianMixture
        One fitted estimator per data set, in order, each usable as any fitted
        ``GaussianMixture`` (``predict``, ``score``, ``sample``, ``save``...).

    Raises
    ------
    ValueError
        When ``datasets`` is empty, a data set is invalid (the message names ``datasets[b]``),
        the data sets differ in their number of features, or a per-data-set list has the wrong
        length.
    CollapsedComponentError
        When a component of a data set collapses and ``on_collapse='raise'`` (the message names
        the data set).

    Notes
    -----
    Stacked: the 'full', 'tied', 'diag' and 'spherical' families (and their mclust names
    'VVV', 'EEE', 'VVI', 'VII') fitted by maximum likelihood (``prior=None``) with
    ``on_collapse='raise'``, ``verbose=0`` and float64 data in memory. Any other setting
    (mclust's constrained families, a prior, 'reseed' or 'drop', float32, out-of-core data)
    gives the same list by one ``fit`` per data set. The starts (k-means by default) are
    computed per data set, as each fit computes its own; give ``weights_init``, ``means_init``
    and ``precisions_init`` to start from known parameters without that cost.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import fit_many
    >>> rng = np.random.default_rng(0)
    >>> sets = [np.vstack([rng.normal(0, 1, (n, 2)), rng.normal(5, 1, (n, 2))]) for n in (50, 80, 120)]
    >>> fits = fit_many(sets, n_components=2, random_state=0)
    >>> [fit.means_.shape for fit in fits]
    [(2, 2), (2, 2), (2, 2)]
    >>> fits[1].predict(sets[1][:3]).shape
    (3,)
    """
    datasets = list(datasets)
    n_problems = len(datasets)
    if n_problems == 0:
        raise ValueError("datasets is empty; expected a sequence of at least one data set "
                         "(an array of shape (n_samples, n_features))")
    weights_given = _per_problem_weights(sample_weight, n_problems)
    estimators = [GaussianMixture(**_problem_params(params, b, n_problems)) for b in range(n_problems)]
    first = estimators[0]
    check_hyperparameters(first, GaussianMixture._HYPERPARAMETERS)
    check_option(first.init_params, "init_params", INIT_METHODS)
    check_option(first.on_collapse, "on_collapse", ON_COLLAPSE)
    prior_spec = check_prior_spec(first.prior)
    covariance = make_covariance(first.covariance_type)
    stacked = stacked_family(covariance)
    checked = [_checked(estimators[b], datasets[b], weights_given[b], covariance, b) for b in range(n_problems)]
    n_features = checked[0][0].shape[1]
    for b, (X, _, _) in enumerate(checked):
        if X.shape[1] != n_features:
            raise ValueError(f"datasets[{b}] has {X.shape[1]} features; expected {n_features}, as datasets[0] "
                             "(every data set of fit_many has the same features)")
    plain = all(not is_chunked(X) and X.dtype == np.float64 for X, _, _ in checked)
    if (stacked is None or prior_spec is not None or first.on_collapse != "raise" or first.verbose
            or not plain):
        return [_fit_alone(est, datasets[b], weights_given[b], b) for b, est in enumerate(estimators)]
    return _fit_stacked(estimators, checked, covariance, stacked, datasets, weights_given)


def _fit_stacked(estimators, checked, covariance, stacked, datasets, weights_given):
    first = estimators[0]
    n_init = first.n_init
    starts = []
    for b, (est, (X, w, _)) in enumerate(zip(estimators, checked)):
        parts = est._parts(X, w, covariance, None)
        for child in as_generator(est.random_state).spawn(n_init):  # as engine.fit spawns them
            try:
                starts.append(parts.start(child, make_policy(first.on_collapse)))
            except ValueError as error:
                raise type(error)(f"datasets[{b}]: {error}") from None
    options = FitOptions(first.tol, first.max_iter, n_init)
    runs = [X for X, _, _ in checked for _ in range(n_init)]
    run_weights = [w for _, w, _ in checked for _ in range(n_init)]
    model = StackedGaussianEM(stacked, first.reg_covar)
    if first.max_iter == 0:
        results = [FitResult(start, False, 0, -np.inf, []) for start in starts]
    else:
        n_columns = 2 * (stacked.n_second(runs[0].shape[1]) + runs[0].shape[1] + 1) + 2 * first.n_components
        results = run_stacked(model, StackedSource(runs, run_weights, n_columns), starts, options)
    not_converged = []
    for b, (est, (_, _, record)) in enumerate(zip(estimators, checked)):
        mine = results[b * n_init:(b + 1) * n_init]
        if any(result is None for result in mine):  # given back by the stacked path: fitted alone
            _fit_alone(est, datasets[b], weights_given[b], b)
            continue
        best = mine[0]
        for result in mine[1:]:
            if result.lower_bound > best.lower_bound:  # the first best, as engine.fit keeps it
                best = result
        est._set_fitted(best, record, covariance)
        if not best.converged and first.max_iter > 0:
            not_converged.append(b)
    if not_converged:
        shown = ", ".join(map(str, not_converged[:10])) + (", ..." if len(not_converged) > 10 else "")
        warnings.warn(f"{len(not_converged)} of {len(estimators)} data sets did not converge (datasets[{shown}]): "
                      f"the best initialization of each stopped at max_iter={first.max_iter} (tol={first.tol} per "
                      "sample). Increase max_iter or tol, or check for degenerate data.", ConvergenceWarning,
                      stacklevel=3)
    return estimators


def _checked(est, X, sample_weight, covariance, b):
    try:
        return est._check_fit_input(X, sample_weight, covariance)
    except ValueError as error:
        raise type(error)(f"datasets[{b}]: {error}") from None


def _fit_alone(est, X, sample_weight, b):
    try:
        return est.fit(X, sample_weight=sample_weight)
    except ValueError as error:
        raise type(error)(f"datasets[{b}]: {error}") from None


def _per_problem_weights(sample_weight, n_problems):
    if sample_weight is None:
        return [None] * n_problems
    if not isinstance(sample_weight, (list, tuple)) or len(sample_weight) != n_problems:
        raise ValueError(f"sample_weight must be None or a list of {n_problems} entries (one per data set, "
                         f"each None or an array of its rows' weights); got {type(sample_weight).__name__}"
                         + (f" of length {len(sample_weight)}" if isinstance(sample_weight, (list, tuple)) else ""))
    return list(sample_weight)


def _is_per_problem(name, value, n_problems) -> bool:
    if not isinstance(value, (list, tuple)):
        return False
    if name == "random_state":
        per_problem = True
    else:  # a nested list of numbers is one array for every data set
        per_problem = len(value) > 0 and all(v is None or isinstance(v, np.ndarray) for v in value)
    if per_problem and len(value) != n_problems:
        raise ValueError(f"{name} has {len(value)} entries; expected one per data set ({n_problems}), or one "
                         "value for all")
    return per_problem


def _problem_params(params, b, n_problems):
    """The hyper-parameters of data set b's estimator."""
    return {name: value[b] if name in _PER_PROBLEM and _is_per_problem(name, value, n_problems) else value
            for name, value in params.items()}
