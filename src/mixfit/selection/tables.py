"""Model selection: fit every (K, covariance type) cell and rank them by BIC, AIC, ICL or ELBO.

Sign conventions: ``engine.criteria`` (n = sum of sample weights; ``convention='sklearn'``, lower
is better; ``'mclust'``, each value times -1, higher is better). VB (``method='vb'``): ELBO =
n x ``lower_bound_`` + ln K!, higher is better in both conventions. ln K! counts the K!
equivalent labellings of a mode of the posterior, which the factorised q sees only one of (PRML
section 10.2.4); without it the ELBO is biased against larger K.

Starts: each cell keeps the better (by the fit's own objective) of a fit started from the
model-based hierarchical partition (``hierarchical.py``; one tree for the whole sweep, cut at
each K) and a fit with ``n_init`` randomly seeded starts of ``init_params`` ('kmeans').

A cell that cannot be fitted (a collapse under ``on_collapse='raise'``, fewer rows than
components, a failed Cholesky factorisation) is NA with its reason; the sweep never raises for
one cell.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.utils import check_array
from threadpoolctl import threadpool_limits

from ..engine import hierarchical
from ..engine.criteria import CONVENTIONS, classification_entropy, information_criteria
from ..estimators import BayesianGaussianMixture, BernoulliMixture, GaussianMixture
from ..estimators.validation import as_generator, check_option, check_sample_weight
from ..exceptions import ConvergenceWarning
from ..families.registry import COVARIANCE_TYPES, make_covariance
from ..families.registry import covariance_types as checked_covariance_types
from ..models import GaussianEM
from ..plot import plot_selection
from .progress import CellBar

CRITERIA = {"em": ("bic", "aic", "icl"), "vb": ("elbo",)}
_ESTIMATORS = {"em": GaussianMixture, "vb": BayesianGaussianMixture}
_COLUMNS = ("n_components", "covariance_type", "criterion", "log_likelihood", "n_parameters", "converged",
            "n_iter", "start", "n_active", "reason")


@dataclass(frozen=True)
class Cell:
    """One (K, covariance type) fit: ``criterion`` is the chosen criterion's value (NaN for an NA
    cell, whose ``reason`` says why; a fitted cell's ``reason`` notes a start that failed);
    ``values`` holds every criterion computed for it. ``log_likelihood`` is sum_n w_n ln p(x_n)
    from the estimator's ``score_samples`` (for VB: the posterior predictive density)."""

    n_components: int
    covariance_type: str
    criterion: float = math.nan
    log_likelihood: float = math.nan
    n_parameters: int | None = None
    converged: bool | None = None
    n_iter: int | None = None
    start: str | None = None  # 'hierarchical' or the init_params of the random starts
    n_active: int | None = None  # VB: components with E[pi_k] above the estimator's threshold
    reason: str | None = None
    values: dict = field(default_factory=dict)
    estimator: object = field(default=None, repr=False, compare=False)

    @property
    def is_na(self) -> bool:
        return self.reason is not None and self.estimator is None

    def row(self) -> dict:
        return {name: getattr(self, name) for name in _COLUMNS} | dict(self.values)


@dataclass(frozen=True)
class SelectionResult:
    """The table of a sweep, the best cell and its fitted estimator.

    ``cells`` are in sweep order (covariance type, then K). ``lower_is_better`` follows the
    criterion and convention. Ties are broken by fewer parameters, then sweep order.
    """

    cells: tuple
    criterion: str
    convention: str
    method: str
    n_samples: float

    @property
    def lower_is_better(self) -> bool:
        return self.criterion != "elbo" and self.convention == "sklearn"

    def ranked(self) -> list[Cell]:
        """The fitted cells, best first."""
        sign = 1.0 if self.lower_is_better else -1.0
        fitted = [(i, c) for i, c in enumerate(self.cells) if not c.is_na and np.isfinite(c.criterion)]
        return [c for _, c in sorted(fitted, key=lambda ic: (sign * ic[1].criterion, ic[1].n_parameters, ic[0]))]

    @property
    def best(self) -> Cell | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    @property
    def best_estimator(self):
        best = self.best
        return None if best is None else best.estimator

    def top(self, n: int = 3) -> list[Cell]:
        return self.ranked()[:n]

    @property
    def active_components(self) -> int | None:
        """VB's second opinion on K: the active components of the fit with the largest K of the
        best covariance type (a Dirichlet-process fit prunes what the data do not need)."""
        best = self.best
        if self.method != "vb" or best is None:
            return None
        same = [c for c in self.cells if c.covariance_type == best.covariance_type and not c.is_na]
        return max(same, key=lambda c: c.n_components).n_active

    def table(self) -> list[dict]:
        """One dict per cell (without the estimators): the columns of ``to_frame``."""
        return [cell.row() for cell in self.cells]

    def to_frame(self):
        """The table as a pandas DataFrame (pandas must be installed)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("SelectionResult.to_frame needs pandas (pip install pandas)") from None
        return pd.DataFrame(self.table())

    def to_dict(self) -> dict:
        """JSON-able: the table, the best cell and the conventions."""
        best = self.best
        return {"criterion": self.criterion, "convention": self.convention, "method": self.method,
                "lower_is_better": self.lower_is_better, "n_samples": self.n_samples,
                "best": None if best is None else best.row(), "active_components": self.active_components,
                "table": self.table()}

    def plot(self, ax=None):
        """The criterion against K, one line per covariance type, the best starred."""
        rows = [{"n_components": c.n_components, "covariance_type": c.covariance_type, self.criterion: c.criterion}
                for c in self.cells if not c.is_na and np.isfinite(c.criterion)]
        return plot_selection(rows, criterion=self.criterion, lower_is_better=self.lower_is_better, ax=ax)

    def __str__(self) -> str:
        name = self.criterion.upper()
        direction = "lower" if self.lower_is_better else "higher"
        types = list(dict.fromkeys(c.covariance_type for c in self.cells))
        ks = sorted({c.n_components for c in self.cells})
        grid = {(c.n_components, c.covariance_type): c for c in self.cells}
        width = max(12, *(len(t) + 2 for t in types))
        title = f"{name} ({self.convention} sign: {direction} is better; {self.method.upper()}, n = {self.n_samples:g})"
        lines = [title, "   K" + "".join(t.rjust(width) for t in types)]
        for k in ks:
            cells = [grid.get((k, t)) for t in types]
            text = ["" if c is None else "NA" if c.is_na else f"{c.criterion:.2f}" for c in cells]
            lines.append(f"{k:4d}" + "".join(v.rjust(width) for v in text))
        best = self.best
        if best is None:
            lines.append("no cell could be fitted")
        else:
            lines.append("")
            lines.append("top: " + ", ".join(f"K={c.n_components} {c.covariance_type} ({c.criterion:.2f})"
                                             for c in self.top(3)))
            lines.append(f"best: K={best.n_components}, covariance_type={best.covariance_type!r} "
                         f"(ln L = {best.log_likelihood:.4f}, p = {best.n_parameters}, start: {best.start})")
            if self.active_components is not None:
                lines.append(f"second opinion (Dirichlet process): {self.active_components} active components")
        for c in self.cells:
            if c.reason is not None:
                label = "NA" if c.is_na else "note"
                lines.append(f"{label} K={c.n_components} {c.covariance_type}: {c.reason}")
        return "\n".join(lines)


# ---- fitting one cell --------------------------------------------------------------------------


def _fit_one(estimator, X, sample_weight):
    """The fitted estimator, or the reason it could not be fitted (one line)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the table's 'converged' column says it
            return estimator.fit(X, sample_weight=sample_weight), None
    except (ValueError, np.linalg.LinAlgError) as error:  # CollapsedComponentError is a ValueError
        return None, " ".join(str(error).split())


def _objective(estimator) -> float:
    return float(estimator.lower_bound_)


def _fit_cell(job: dict, X, sample_weight, n, criterion, convention, method) -> Cell:
    """One cell with single-threaded BLAS and OpenMP, as a joblib worker runs it, so that the table
    does not depend on ``n_jobs`` to the last bit (a threaded GEMM, or scikit-learn's OpenMP
    k-means, sums in another order). Chunks are still spread over the source's threads
    (backends.memory), so a large cell keeps its cores."""
    with threadpool_limits(limits=1):
        return _fit_cell_starts(job, X, sample_weight, n, criterion, convention, method)


def _fit_cell_starts(job: dict, X, sample_weight, n, criterion, convention, method) -> Cell:
    """Fit one cell from each of its starts; keep the best by the fit's own objective."""
    cell = Cell(job["n_components"], job["covariance_type"])
    if X.shape[0] < cell.n_components:
        return replace(cell, reason=f"n_samples = {X.shape[0]} < n_components = {cell.n_components}")
    fits, reasons = [], []
    for start, estimator in job["candidates"]:
        fitted, reason = _fit_one(estimator, X, sample_weight)
        if fitted is None:
            reasons.append(f"{start} start: {reason}")
        else:
            fits.append((start, fitted))
    if not fits:
        return replace(cell, reason="; ".join(reasons))
    start, best = max(fits, key=lambda sf: _objective(sf[1]))  # first of equals: hierarchical
    log_likelihood = float(best.score_samples(X) @ (np.ones(X.shape[0]) if sample_weight is None else sample_weight))
    p = best._n_parameters()  # the model's own count, at the fitted K (after a 'drop')
    values, n_active = {}, None
    if method == "em":
        entropy = classification_entropy(best.predict_proba(X), sample_weight)
        values = information_criteria(log_likelihood, p, n, entropy, convention)
    else:
        K = best.weights_.shape[0]
        values = {"elbo": float(best.lower_bound_) * n + math.lgamma(K + 1)}
        active = getattr(best, "active_components_", None)  # Gaussian VB reports it
        n_active = None if active is None else int(np.count_nonzero(active))
    return replace(cell, criterion=values[criterion], log_likelihood=log_likelihood, n_parameters=int(p),
                   converged=bool(best.converged_), n_iter=int(best.n_iter_), start=start, n_active=n_active,
                   reason="; ".join(reasons) or None, values=values, estimator=best)


def _hierarchical_start(tree, X, sample_weight, K, covariance_type, reg_covar):
    """weights_init, means_init, precisions_init: the M-step of the subset's partition at K."""
    covariance = make_covariance(covariance_type)
    model = GaussianEM(covariance, reg_covar, X.dtype)
    params = model.maximize(hierarchical.partition_stats(model, X, sample_weight, tree, K), None)
    return {"weights_init": params.weights, "means_init": params.means,
            "precisions_init": covariance.precision(params.prec_chol)}


# ---- the sweep ---------------------------------------------------------------------------------


def select_bernoulli(X, n_components=range(1, 10), *, method="em", criterion=None, convention="sklearn",
                     n_init=3, random_state=None, n_jobs=None, progress=False, sample_weight=None,
                     **params) -> SelectionResult:
    """``select_model`` for Bernoulli mixtures: one ``BernoulliMixture`` per K (no covariance axis;
    the table's ``covariance_type`` column reads 'bernoulli'), ranked by BIC / AIC / ICL (EM) or
    the ELBO (VB) with the same conventions. X is binary, dense or scipy sparse."""
    check_option(method, "method", tuple(CRITERIA))
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
    n_rows = X.shape[0]
    weights = check_sample_weight(sample_weight, n_rows, np.float64)
    n = float(n_rows if weights is None else weights.sum(dtype=np.float64))
    jobs = []
    for K in ks:
        seed = int(rng.integers(np.iinfo(np.int32).max))
        estimator = BernoulliMixture(**{**params, "method": method, "n_components": K, "n_init": n_init,
                                        "random_state": seed})
        jobs.append({"n_components": K, "covariance_type": "bernoulli", "candidates": [("kmeans", estimator)]})
    return _sweep(jobs, (X, weights, n, criterion, convention, method), n_jobs, progress, method, criterion,
                  convention, n)


def _check_ks(n_components) -> list[int]:
    ks = [int(k) for k in ([n_components] if np.isscalar(n_components) else n_components)]
    if not ks or any(k < 1 for k in ks) or len(set(ks)) != len(ks):
        raise ValueError(f"n_components={n_components!r}; expected distinct integers >= 1")
    return ks


def _sweep(jobs, args, n_jobs, progress, method, criterion, convention, n) -> SelectionResult:
    """Fit every cell (in joblib processes when ``n_jobs`` asks), in sweep order."""
    bar = CellBar(progress, len(jobs), f"select ({method})")
    try:
        if n_jobs is None or n_jobs == 1:
            cells = []
            for job in jobs:
                cells.append(_fit_cell(job, *args))
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
    X : array-like (n_samples, n_features)
    n_components : iterable of int, default 1..9
    covariance_types : iterable of {'full', 'tied', 'diag', 'spherical'}
    method : {'em', 'vb'}
        ``GaussianMixture`` (maximum likelihood, or MAP with ``prior=``) or
        ``BayesianGaussianMixture`` (variational Bayes, criterion 'elbo').
    criterion : {'bic', 'aic', 'icl'} for EM (default 'bic'), 'elbo' for VB
    convention : {'sklearn', 'mclust'}
        The sign of BIC/AIC/ICL: -2 ln L + penalty, lower is better (default), or its negative,
        higher is better (R's mclust). See the module docstring.
    hierarchical_start : bool, default True
        Also start each cell from the model-based hierarchical partition (one tree of at most
        ``max_rows`` rows for the sweep); the better of that fit and the random starts is kept.
    n_init : int, default 10
        Randomly seeded starts of ``init_params`` per cell (0: the hierarchical start only). With
        an integer ``random_state`` they are the very starts of
        ``GaussianMixture(n_init=n_init, random_state=random_state)``, so every cell is at least
        as good as that fit (the hierarchical start can only add).
    random_state : int, Generator, RandomState or None
        Seeds the tree's subset and every cell; the table is the same for any ``n_jobs``.
    n_jobs : int or None
        Cells fitted in parallel by joblib processes (None: 1; -1: all cores). Pays for large
        data or many cells; on a few hundred rows process start-up costs more than it saves.
    progress : bool
        A progress bar over the cells on stderr (tqdm).
    **params
        Passed to every estimator (``tol``, ``max_iter``, ``reg_covar``, ``prior``,
        ``on_collapse``, ``weight_concentration_prior_type``, ...).

    Returns
    -------
    SelectionResult
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
    try:
        cls(**params)
    except TypeError:
        unknown = sorted(set(params) - set(cls().get_params()))
        raise ValueError(f"unknown estimator parameter(s) {unknown} for {cls.__name__}") from None
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    weights = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    n = float(X.shape[0] if weights is None else weights.sum(dtype=np.float64))

    rng = as_generator(random_state)
    tree = hierarchical.build_tree(X, rng, max_rows=max_rows, sample_weight=weights) if hierarchical_start else None
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
                if method == "em":
                    start = _hierarchical_start(tree, X, weights, K, covariance_type, params.get("reg_covar", 1e-6))
                    candidates.append(("hierarchical", cls(n_components=K, **common, n_init=1, **start)))
                else:
                    candidates.append(("hierarchical", cls(n_components=K, **common, init_params="hierarchical")))
            if n_init > 0:
                candidates.append((init_params, cls(n_components=K, **common, n_init=n_init, init_params=init_params)))
            jobs.append({"n_components": K, "covariance_type": covariance_type, "candidates": candidates})

    return _sweep(jobs, (X, weights, n, criterion, convention, method), n_jobs, progress, method, criterion,
                  convention, n)
