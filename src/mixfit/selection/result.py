"""The result of a model-selection sweep: one ``Cell`` per (K, covariance type), ranked by a
criterion (``SelectionResult``), as a table, a data frame, a dict (model files) or a figure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..plot import plot_selection

CRITERIA = {"em": ("bic", "aic", "icl"), "vb": ("elbo",), "t": ("bic", "aic", "icl")}
_COLUMNS = ("n_components", "covariance_type", "criterion", "log_likelihood", "n_parameters", "converged",
            "n_iter", "start", "n_active", "reason")


@dataclass(frozen=True)
class Cell:
    """One (K, covariance type) fit of a model-selection sweep, a row of ``SelectionResult``.

    Built by ``select_model`` and ``select_bernoulli``; frozen.

    Parameters
    ----------
    n_components : int
        K, the number of components of the cell.
    covariance_type : str
        The covariance type of the cell ('bernoulli' for ``select_bernoulli``).
    criterion : float, default=nan
        The value of the sweep's criterion (NaN for an NA cell).
    log_likelihood : float, default=nan
        sum_n w_n ln p(x_n) from the estimator's ``score_samples`` (for VB: the posterior
        predictive density).
    n_parameters : int or None, default=None
        Free parameters of the fitted model (at its fitted K, after an ``on_collapse='drop'``).
    converged : bool or None, default=None
        Whether the kept fit converged.
    n_iter : int or None, default=None
        The iterations of the kept fit.
    start : str or None, default=None
        Which start gave the kept fit: 'hierarchical' or the ``init_params`` of the random
        starts.
    n_active : int or None, default=None
        VB: the components with E[pi_k] above ``ACTIVE_WEIGHT_THRESHOLD``, as
        ``BayesianGaussianMixture.active_components_`` counts them (K_a of the ELBO's
        label-switching term).
    reason : str or None, default=None
        Why an NA cell could not be fitted; for a fitted cell, a note of a start that failed.
    values : dict, default={}
        Every criterion computed for the cell, by name ('bic', 'aic', 'icl'; or 'elbo').
    estimator : estimator or None, default=None
        The fitted estimator of the cell (None for an NA cell).

    Attributes
    ----------
    is_na : bool
        True for a cell that could not be fitted (a ``reason`` and no ``estimator``).
    """

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
        """The cell as a row of the selection table.

        Returns
        -------
        dict
            The columns of ``SelectionResult.to_frame`` (every field but ``values`` and
            ``estimator``) and one entry per computed criterion.
        """
        return {name: getattr(self, name) for name in _COLUMNS} | dict(self.values)


@dataclass(frozen=True)
class SelectionResult:
    """The table of a sweep, the best cell and its fitted estimator.

    Returned by ``select_model`` and ``select_bernoulli``; frozen. ``str()`` gives the table as
    text. Cells are ranked by their criterion; ties are broken by fewer parameters, then sweep
    order.

    Parameters
    ----------
    cells : tuple of Cell
        Every cell of the sweep, in sweep order (covariance type, then K).
    criterion : {'bic', 'aic', 'icl', 'elbo'}
        The criterion the cells are ranked by.
    convention : {'sklearn', 'mclust'}
        The sign convention of BIC, AIC and ICL (see the module docstring).
    method : {'em', 'vb', 't'}
        How the cells were fitted.
    n_samples : float
        n of the criteria: the number of rows, or the sum of the sample weights.

    Attributes
    ----------
    lower_is_better : bool
        True when a lower criterion is better (BIC, AIC or ICL in the 'sklearn' convention).
    best : Cell or None
        The best fitted cell (None when no cell could be fitted).
    best_estimator : estimator or None
        The fitted estimator of ``best``.
    active_components : int or None
        VB only: the active components of the fit with the largest K of the best covariance
        type (a Dirichlet-process fit prunes what the data do not need); None for EM.
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
        """The fitted cells, best first.

        Returns
        -------
        list of Cell
            The cells with a finite criterion, ranked by it (ties: fewer parameters, then sweep
            order); NA cells are left out.
        """
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
        """The ``n`` best fitted cells.

        Parameters
        ----------
        n : int, default=3
            How many cells.

        Returns
        -------
        list of Cell
            The first ``n`` cells of ``ranked()``.
        """
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
        """The table as rows, one dict per cell in sweep order.

        Returns
        -------
        list of dict
            ``Cell.row()`` of every cell (without the estimators): the columns of ``to_frame``.
        """
        return [cell.row() for cell in self.cells]

    def to_frame(self):
        """The table as a pandas DataFrame (pandas must be installed).

        Returns
        -------
        pandas.DataFrame
            One row per cell, the columns of ``table()``.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("SelectionResult.to_frame needs pandas (pip install pandas)") from None
        return pd.DataFrame(self.table())

    def to_dict(self) -> dict:
        """The result as JSON-able data: the table, the best cell and the conventions.

        Returns
        -------
        dict
            Keys 'criterion', 'convention', 'method', 'lower_is_better', 'n_samples', 'best' (its
            row, or None), 'active_components' and 'table'.
        """
        best = self.best
        return {"criterion": self.criterion, "convention": self.convention, "method": self.method,
                "lower_is_better": self.lower_is_better, "n_samples": self.n_samples,
                "best": None if best is None else best.row(), "active_components": self.active_components,
                "table": self.table()}

    def plot(self, ax=None):
        """Plot the criterion against K, one line per covariance type, the best starred.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None: a new figure's Axes.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
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
        # The ELBO has one sign (a bound on ln p(X)); only BIC, AIC and ICL have two conventions.
        sign = f"{direction} is better" if self.criterion == "elbo" else f"{self.convention} sign: {direction} is better"
        title = f"{name} ({sign}; {self.method.upper()}, n = {self.n_samples:g})"
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
