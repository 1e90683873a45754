"""Model selection: fit every (K, covariance type) cell and rank them by BIC, AIC, ICL or ELBO.

Sign conventions: ``engine.criteria`` (n = sum of sample weights; ``convention='sklearn'``, lower
is better; ``'mclust'``, each value times -1, higher is better). VB (``method='vb'``): ELBO =
n x ``lower_bound_`` + ``criteria.label_switching``, higher is better: the log of the number of
distinct relabellings of the posterior mode, which the factorised q sees only one of (PRML
section 10.2.4). With K_a of K components occupied it is ln(K!/(K - K_a)!) under a symmetric
Dirichlet weight prior and ln K_a! under stick-breaking (docs/selection.md); ln K! for every K
would reward empty components.

Starts: each cell keeps the better (by the fit's own objective) of a fit started from the
model-based hierarchical partition (``hierarchical.py``; one tree for the whole sweep, cut at
each K) and a fit with ``n_init`` randomly seeded starts of ``init_params`` ('kmeans'); the
latter replaces the former only if better by more than ``tol`` (``_keep_best``).

A cell that cannot be fitted (a collapse under ``on_collapse='raise'``, fewer rows than
components, a failed Cholesky factorisation) is NA with its reason; the sweep never raises for
one cell. With ``convention='mclust'`` (EM and t) the sweep also takes mclust's rules: a fitted
start that is degenerate (a covariance at the ``reg_covar`` floor or singular to sqrt(eps):
``degenerate.py``, mclust's NA cells) is not kept, a cell whose every start is degenerate is NA
with that reason, and the fits stop by mclust's relative rule (``engine.relative_tolerance``:
|L - L_old| <= tol (1 + |L|) on the total log-likelihood L, default ``tol`` ``MCLUST_TOL``). The
default convention keeps the fits equal to standalone ``GaussianMixture`` fits (scikit-learn's
behaviour).
"""

from __future__ import annotations

import numbers
import sys
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, replace

import numpy as np
from sklearn.utils import check_array
from threadpoolctl import ThreadpoolController

from ..backends.memory import available_cores
from ..engine import compiled_small_fits, hierarchical, relative_tolerance
from ..engine.criteria import CONVENTIONS, classification_entropy, information_criteria, label_switching
from ..estimators import BayesianGaussianMixture, GaussianMixture, StudentMixture
from ..estimators.bayesian_gaussian_mixture import ACTIVE_WEIGHT_THRESHOLD
from ..estimators.checked_rows import checked_rows
from ..estimators.validation import as_generator, check_option, check_sample_weight
from ..exceptions import ConvergenceWarning
from ..families.registry import COVARIANCE_TYPES, make_covariance
from ..families.registry import covariance_types as checked_covariance_types
from ..models import GaussianEM
from .cell_scores import log_likelihood_and_entropy
from .compiled_cells import compiled_cell, compiled_sweep
from .degenerate import degenerate_reason
from .progress import CellBar
from .result import CRITERIA, Cell, SelectionResult

# The default tol of the cells under convention='mclust', where they stop by mclust's relative
# rule |L_new - L_old| <= tol (1 + |L_new|) on the total log-likelihood L: emControl()$tol[1].
# (The estimators' own 1e-3 per sample stopped 33 of 144 cells of four data sets below mclust.)
MCLUST_TOL = 1e-5

# Starts that draw nothing: one run of each is every run of it.
DETERMINISTIC_INITS = ("mclust",)

# 't': Student-t components, fitted and ranked as 'em' (BIC / AIC / ICL, started from the same tree).
_ESTIMATORS = {"em": GaussianMixture, "vb": BayesianGaussianMixture, "t": StudentMixture}


# ---- fitting one cell --------------------------------------------------------------------------


def _fit_one(estimator, start, X, sample_weight):
    """The fitted estimator, or the reason it could not be fitted (one line). ``start`` (None or
    a ``_HierarchicalStart``) is computed here, inside the guard: a start that collapses fails
    this start only, not the sweep."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the table's 'converged' column says it
            if start is not None:
                estimator = estimator.set_params(**start.parameters())
            return estimator.fit(X, sample_weight=sample_weight), None
    except (ValueError, np.linalg.LinAlgError) as error:  # CollapsedComponentError is a ValueError
        return None, " ".join(str(error).split())


def _objective(estimator) -> float:
    return float(estimator.lower_bound_)


def _keep_best(fits, margin: float):
    """The (start, fit) with the highest objective, where a later fit replaces the one kept only
    if it improves the objective by more than ``margin`` (the fits' convergence tolerance, per
    unit of weight): fits within that of each other are the same optimum to the precision they
    were converged to, and keeping the earlier (hierarchical) one makes the choice robust to
    rounding, e.g. between a weighted fit and one on repeated rows."""
    kept = fits[0]
    for candidate in fits[1:]:
        if _objective(candidate[1]) > _objective(kept[1]) + margin:
            kept = candidate
    return kept


def _margin(estimator, n: float, method: str, relative: bool = False) -> float:
    """``tol`` in the units of ``lower_bound_`` (per unit of weight): EM fits compare it with the
    per-sample objective; VB fits with the total, so divided by the summed weight ``n``; under
    mclust's relative rule it bounds tol (1 + |L|) on the total L = n ``lower_bound_``."""
    if relative:
        return float(estimator.tol) * (1.0 + abs(float(estimator.lower_bound_)) * n) / n
    return float(estimator.tol) if method != "vb" else float(estimator.tol) / n


def _compiled_task(job: dict, X, sample_weight, method):
    """(start, estimator, X, sample_weight, cell) of a cell of one start that draws nothing (mclust's
    procedure), which ``compiled_sweep`` may fit in one compiled call; else None."""
    if method == "em" and len(job["candidates"]) == 1 and job["candidates"][0][2] is None \
            and X.shape[0] >= job["n_components"]:
        start, estimator, _ = job["candidates"][0]
        return start, estimator, X, sample_weight, Cell(job["n_components"], job["covariance_type"])
    return None


def _fit_cell(job: dict, X, sample_weight, n, criterion, convention, method, mclust_rules=False,
              checked=False, compiled=True) -> Cell:
    """One cell with single-threaded BLAS and OpenMP, as a joblib worker runs it, so that the table
    does not depend on ``n_jobs`` to the last bit (a threaded GEMM, or scikit-learn's OpenMP
    k-means, sums in another order). Chunks are still spread over the source's threads
    (backends.memory), so a large cell keeps its cores. ``checked``: X was validated by the
    sweep, and its fits and predictions do not check it again (``estimators.checked_rows``).
    ``compiled``: False where ``compiled_sweep`` has tried the cell's compiled call already."""
    task = _compiled_task(job, X, sample_weight, method) if compiled else None
    if task is not None:  # mclust's procedure: one compiled call (compiled_cells.py)
        cell = compiled_cell(*task[:4], n, criterion, convention, mclust_rules, task[4])
        if cell is not None:
            return cell
    with _one_thread(), (checked_rows(X) if checked else nullcontext()):
        return _fit_cell_starts(job, X, sample_weight, n, criterion, convention, method, mclust_rules)


_THREADPOOLS = {"controller": None, "modules": -1}


def _one_thread():
    """``threadpool_limits(limits=1)`` with threadpoolctl's scan of the loaded libraries (a read
    of /proc/self/maps, milliseconds: more than a small cell's fit) done again only after a
    module has been imported (as ``backends.memory.single_threaded_blas``)."""
    if _THREADPOOLS["controller"] is None or _THREADPOOLS["modules"] != len(sys.modules):
        _THREADPOOLS["controller"], _THREADPOOLS["modules"] = ThreadpoolController(), len(sys.modules)
    return _THREADPOOLS["controller"].limit(limits=1)


def _fit_cell_starts(job: dict, X, sample_weight, n, criterion, convention, method, mclust_rules=False) -> Cell:
    """Fit one cell from each of its starts; keep the best by the fit's own objective."""
    cell = Cell(job["n_components"], job["covariance_type"])
    if X.shape[0] < cell.n_components:
        return replace(cell, reason=f"n_samples = {X.shape[0]} < n_components = {cell.n_components}")
    fits, reasons = [], []
    for start, estimator, init in job["candidates"]:
        # many small fits: each may run whole compiled (engine.compiled_small_fits); under mclust's
        # rules every fit of the cell stops by mclust's convergence rule
        with compiled_small_fits(), (relative_tolerance() if mclust_rules else nullcontext()):
            fitted, reason = _fit_one(estimator, init, X, sample_weight)
        if fitted is not None and mclust_rules:
            reason = degenerate_reason(fitted)  # a collapsed fit is not ranked (degenerate.py)
        if reason is not None:
            reasons.append(f"{start} start: {reason}")
        else:
            fits.append((start, fitted))
    if not fits:
        return replace(cell, reason="; ".join(reasons))
    start, best = _keep_best(fits, _margin(fits[0][1], n, method, mclust_rules))
    p = best._n_parameters()  # the model's own count, at the fitted K (after a 'drop')
    values, n_active = {}, None
    if method != "vb" and isinstance(X, np.ndarray) and hasattr(best, "precisions_cholesky_"):
        log_likelihood, entropy = log_likelihood_and_entropy(best, X, sample_weight)  # Gaussian, t: one pass
    else:
        log_likelihood = float(best.score_samples(X) @ (np.ones(X.shape[0]) if sample_weight is None
                                                        else sample_weight))
        entropy = None if method == "vb" else classification_entropy(best.predict_proba(X), sample_weight)
    if method != "vb":
        values = information_criteria(log_likelihood, p, n, entropy, convention)
    else:
        # Occupied components as BayesianGaussianMixture.active_components_ counts them.
        n_active = int(np.count_nonzero(best.weights_ > ACTIVE_WEIGHT_THRESHOLD))
        exchangeable = best.weight_concentration_prior_type == "dirichlet_distribution"
        correction = label_switching(best.weights_.shape[0], n_active, exchangeable)
        values = {"elbo": float(best.lower_bound_) * n + correction}
    return replace(cell, criterion=values[criterion], log_likelihood=log_likelihood, n_parameters=int(p),
                   converged=bool(best.converged_), n_iter=int(best.n_iter_), start=start, n_active=n_active,
                   reason="; ".join(reasons) or None, values=values, estimator=best)


@dataclass(frozen=True)
class _HierarchicalStart:
    """The start of a cell from the tree cut at K: ``rows`` (m, D) and ``weights`` (m,) or None are
    the tree's rows; computed in the cell's guard, since the partition's M-step can collapse."""

    tree: hierarchical.Tree
    rows: np.ndarray
    weights: np.ndarray | None
    n_components: int
    covariance_type: str
    reg_covar: float

    def parameters(self) -> dict:
        """weights_init, means_init, precisions_init: the M-step of the partition at K, its
        components in lexicographic order of their means, so that the start does not depend on
        the order of the rows (the tree numbers clusters by first appearance)."""
        covariance = make_covariance(self.covariance_type)
        model = GaussianEM(covariance, self.reg_covar, self.rows.dtype)
        stats = hierarchical.partition_stats(model, self.rows, self.weights, self.tree, self.n_components)
        params = model.maximize(stats, None)
        order = np.lexsort(params.means.T[::-1])  # (K,) sorted by the first feature, then the next
        return {"weights_init": params.weights[order], "means_init": params.means[order],
                "precisions_init": covariance.precision(covariance.select(params.prec_chol, order))}


def _tree(X, weights, rng, max_rows):
    """The sweep's tree, its rows and their weights. Integer weights whose sum is at most
    ``max_rows`` are expanded into repeated rows, so that the tree, and every start cut from it,
    is the very tree of the repeated rows (weight-exact); otherwise at most ``max_rows`` rows of
    positive weight enter it (``hierarchical.build_tree``) with their weights."""
    if weights is not None and np.all(weights == np.round(weights)) and weights.sum() <= max_rows:
        rows = X[np.repeat(np.arange(X.shape[0]), weights.astype(np.int64))]
        return hierarchical.build_tree(rows, rng, max_rows=rows.shape[0]), rows, None  # every row: no draw
    tree = hierarchical.build_tree(X, rng, max_rows=max_rows, sample_weight=weights)
    rows, row_weights = X[tree.rows], None if weights is None else weights[tree.rows]
    tree = hierarchical.Tree(np.arange(tree.rows.shape[0]), tree.merges)  # indexing ``rows``
    return tree, rows, row_weights


# ---- the sweep ---------------------------------------------------------------------------------


def _check_ks(n_components) -> list[int]:
    given = [n_components] if np.isscalar(n_components) else list(n_components)
    if any(isinstance(k, bool) or not isinstance(k, numbers.Integral | float | np.floating)
           or not float(k).is_integer() for k in given):  # a fractional K is refused, not truncated
        raise ValueError(f"n_components={n_components!r}; expected distinct integers >= 1")
    ks = [int(k) for k in given]
    if not ks or any(k < 1 for k in ks) or len(set(ks)) != len(ks):
        raise ValueError(f"n_components={n_components!r}; expected distinct integers >= 1")
    return ks


def _sweep(jobs, args, n_jobs, progress, method, criterion, convention, n) -> SelectionResult:
    """Fit every cell (in joblib processes when ``n_jobs`` asks), in sweep order."""
    bar = CellBar(progress, len(jobs), f"select ({method})")
    try:
        if n_jobs is None or n_jobs == 1:
            # mclust's cells: their compiled calls on the cores' threads (n_jobs=None) or this one
            X, weights, n, criterion, convention, method, *rules = args
            tasks = [_compiled_task(job, X, weights, method) for job in jobs]
            threads = available_cores() if n_jobs is None and sum(t is not None for t in tasks) > 1 else 1
            cells = []
            with _one_thread():  # BLAS on one thread beside the cells' threads (no oversubscription)
                for job, cell in zip(jobs, compiled_sweep(tasks, threads, n, criterion, convention,
                                                          bool(rules and rules[0]))):
                    cells.append(cell if cell is not None else _fit_cell(job, *args, compiled=False))
                    bar.update(f"K={job['n_components']} {job['covariance_type']}")
        else:
            from joblib import Parallel, delayed

            cells = []
            for cell in Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_fit_cell)(job, *args) for job in jobs):
                cells.append(cell)
                bar.update(f"K={cell.n_components} {cell.covariance_type}")
    finally:
        bar.close()
    return SelectionResult(tuple(cells), criterion, convention, method, n)


def select_model(X, n_components=range(1, 10), covariance_types=COVARIANCE_TYPES, *, method="em",
                 criterion=None, convention="sklearn", hierarchical_start=True, n_init=10, init_params="kmeans",
                 random_state=None, n_jobs=None, progress=False, sample_weight=None,
                 max_rows=hierarchical.MAX_ROWS, **params) -> SelectionResult:
    """Fit a Gaussian mixture for every K in ``n_components`` and every covariance type, and rank
    the fits by ``criterion`` (``select_bernoulli`` does the same for Bernoulli mixtures).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data, in memory (float32 kept, other dtypes converted to float64).
    n_components : int or iterable of int, default=range(1, 10)
        The numbers of components tried (distinct integers >= 1).
    covariance_types : str or iterable of str, \
default=('full', 'tied', 'diag', 'spherical')
        The covariance types tried (distinct): any name ``covariance_type`` accepts, or 'all'
        for mclust's fourteen families (EII ... VVV).
    method : {'em', 'vb', 't'}, default='em'
        ``GaussianMixture`` (maximum likelihood, or MAP with ``prior=``),
        ``BayesianGaussianMixture`` (variational Bayes, criterion 'elbo') or ``StudentMixture``
        (Student-t components by EM; its parameter count includes the degrees of freedom).
    criterion : {'bic', 'aic', 'icl', 'elbo'}, default=None
        'bic', 'aic' or 'icl' for EM and t (None: 'bic'); 'elbo' for VB (None: 'elbo').
    convention : {'sklearn', 'mclust'}, default='sklearn'
        The sign of BIC/AIC/ICL: -2 ln L + penalty, lower is better (default), or its negative,
        higher is better (R's mclust). 'mclust' (EM and t) also takes mclust's rules: degenerate
        fits are NA with their reason, and the fits stop by mclust's relative rule (see ``**params``).
    hierarchical_start : bool, default=True
        Also start each cell from the model-based hierarchical partition (one tree of at most
        ``max_rows`` rows for the sweep); the better of that fit and the random starts is kept.
    n_init : int, default=10
        Randomly seeded starts of ``init_params`` per cell (0: the hierarchical start only). With
        an integer ``random_state`` they are the very starts of
        ``GaussianMixture(n_init=n_init, random_state=random_state)``, so every cell is at least
        as good as that fit (the hierarchical start can only add).
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'mclust'}, default='kmeans'
        How the random starts are drawn (see ``GaussianMixture``); 'mclust' (mclust's tree, cut
        at each K) draws nothing, so it is one start whatever ``n_init`` >= 1.
    random_state : int, Generator, RandomState or None, default=None
        Seeds the tree's subset and every cell; the table is the same for any ``n_jobs``.
    n_jobs : int or None, default=None
        Cells fitted in parallel by joblib processes (None: 1; -1: all cores). Pays for large
        data or many cells; on a few hundred rows process start-up costs more than it saves.
        With None, the cells of mclust's procedure (``init_params='mclust'``,
        ``hierarchical_start=False``) run their compiled calls on one thread per core (the same
        table to the bit); 1 keeps everything on the calling thread.
    progress : bool, default=False
        A progress bar over the cells on stderr (tqdm).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the rows, passed to every fit; n in the criteria is their sum.
    max_rows : int, default=2000
        The most rows of the subset the hierarchical tree is built from.
    **params
        Passed to every estimator (``tol``, ``max_iter``, ``reg_covar``, ``prior``,
        ``on_collapse``, ``weight_concentration_prior_type``, ...); an unknown name is a
        ``ValueError``. With ``convention='mclust'`` (EM and t) ``tol`` is mclust's: a fit stops
        when its total log-likelihood L moves by at most ``tol`` (1 + abs(L)) (emControl's
        tol[1]), and its default is ``MCLUST_TOL`` = 1e-5, as mclust's.

    Returns
    -------
    SelectionResult
        Every cell (a cell that could not be fitted, or with ``convention='mclust'`` whose every
        fit is degenerate -- a covariance at the ``reg_covar`` floor or singular, where mclust
        reports NA -- is NA with its reason; the sweep never raises for one cell), the best cell and its fitted
        estimator.

    See Also
    --------
    GaussianMixtureIC : The same selection inside an estimator's ``fit``.
    """
    check_option(method, "method", tuple(CRITERIA))
    criterion = CRITERIA[method][0] if criterion is None else criterion
    check_option(criterion, "criterion", CRITERIA[method])
    check_option(convention, "convention", CONVENTIONS)
    ks = _check_ks(n_components)
    types = checked_covariance_types(covariance_types)
    if not hierarchical_start and n_init < 1:
        raise ValueError("n_init=0 with hierarchical_start=False leaves no start; expected n_init >= 1")
    cls = _ESTIMATORS[method]
    mclust_rules = convention == "mclust" and method != "vb"
    if mclust_rules:
        params = {"tol": MCLUST_TOL, **params}  # mclust's relative rule and tol (MCLUST_TOL)
    try:
        cls(**params)
    except TypeError:
        unknown = sorted(set(params) - set(cls().get_params()))
        raise ValueError(f"unknown estimator parameter(s) {unknown} for {cls.__name__}") from None
    if isinstance(max_rows, bool) or not isinstance(max_rows, numbers.Integral) or max_rows < 2:
        raise ValueError(f"max_rows={max_rows!r}; expected an integer >= 2 (a tree needs two rows)")
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    weights = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    n = float(X.shape[0] if weights is None else weights.sum(dtype=np.float64))

    rng = as_generator(random_state)
    tree, rows, row_weights = _tree(X, weights, rng, max_rows) if hierarchical_start else (None, None, None)
    jobs = []
    for covariance_type in types:
        for K in ks:
            # An integer random_state seeds every cell as GaussianMixture(random_state=...) would be
            # seeded, so each cell's k-means starts are scikit-learn's; otherwise seeds are drawn
            # in sweep order (the same for any n_jobs).
            seed = random_state if isinstance(random_state, numbers.Integral) else int(
                rng.integers(np.iinfo(np.int32).max))
            common = {**params, "covariance_type": covariance_type, "random_state": seed}
            candidates = []
            if tree is not None and K <= tree.rows.shape[0]:
                if method != "vb":  # em, t: the partition's Gaussian M-step as the *_init
                    start = _HierarchicalStart(tree, rows, row_weights, K, covariance_type,
                                               params.get("reg_covar", 1e-6))
                    candidates.append(("hierarchical", cls(n_components=K, **common, n_init=1), start))
                else:
                    candidates.append(("hierarchical", cls(n_components=K, **common, init_params="hierarchical"),
                                       None))
            if n_init > 0:
                # 'mclust' draws nothing: its n_init starts would be one fit repeated
                runs = 1 if init_params in DETERMINISTIC_INITS else n_init
                candidates.append((init_params, cls(n_components=K, **common, n_init=runs, init_params=init_params),
                                   None))
            jobs.append({"n_components": K, "covariance_type": covariance_type, "candidates": candidates})

    return _sweep(jobs, (X, weights, n, criterion, convention, method, mclust_rules, True), n_jobs, progress, method,
                  criterion, convention, n)
