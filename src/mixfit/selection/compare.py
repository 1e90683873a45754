"""One selection table over K x covariance type x {Gaussian, Student-t} components."""

from __future__ import annotations

from dataclasses import replace

from ..families.registry import COVARIANCE_TYPES
from .result import SelectionResult
from .tables import select_model

_METHODS = ("em", "t")
_T_ONLY = ("dof", "dof_init")  # StudentMixture's own hyper-parameters


def compare_models(X, n_components=range(1, 10), covariance_types=COVARIANCE_TYPES, *, methods=_METHODS,
                   criterion="bic", convention="sklearn", **params) -> SelectionResult:
    """Fit Gaussian and Student-t mixtures for every K and covariance type, ranked in one table.

    ``select_model`` with ``method='em'`` and with ``method='t'`` on the same arguments (so, with
    an integer ``random_state``, from the same starts), their cells in one ``SelectionResult``.
    A t cell's ``covariance_type`` reads ``'t:'`` and the type (``'t:full'``); a Gaussian
    cell's the type alone. The t mixture's parameter count includes its degrees of freedom, so
    on data without heavy tails BIC prefers the Gaussian cells.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data, as ``select_model`` takes it.
    n_components : int or iterable of int, default=range(1, 10)
        The numbers of components tried.
    covariance_types : str or iterable of str, default=('full', 'tied', 'diag', 'spherical')
        The covariance types tried, for both kinds of components.
    methods : iterable of {'em', 't'}, default=('em', 't')
        The kinds of components: Gaussian (``GaussianMixture``) and Student-t
        (``StudentMixture``).
    criterion : {'bic', 'aic', 'icl'}, default='bic'
        The criterion the cells are ranked by.
    convention : {'sklearn', 'mclust'}, default='sklearn'
        The sign of the criterion, as in ``select_model``.
    **params
        Passed to ``select_model`` (``n_init``, ``random_state``, ``hierarchical_start``,
        ``n_jobs``, ``sample_weight``, ...) and through it to every estimator; ``dof`` and
        ``dof_init`` go to the t cells only.

    Returns
    -------
    SelectionResult
        Every cell of every method (its ``method`` reads e.g. 'em+t'), the best cell and its
        fitted estimator.

    See Also
    --------
    select_model : The table of one method.
    """
    chosen = tuple(methods) if not isinstance(methods, str) else (methods,)
    if not chosen or len(set(chosen)) != len(chosen) or any(m not in _METHODS for m in chosen):
        raise ValueError(f"methods={methods!r}; expected distinct entries of {list(_METHODS)}")
    t_only = {name: params.pop(name) for name in _T_ONLY if name in params}
    cells, n_samples = [], None
    for method in chosen:
        result = select_model(X, n_components, covariance_types, method=method, criterion=criterion,
                              convention=convention, **params, **(t_only if method == "t" else {}))
        prefix = "t:" if method == "t" else ""
        cells.extend(replace(cell, covariance_type=prefix + cell.covariance_type) for cell in result.cells)
        n_samples = result.n_samples
    return SelectionResult(tuple(cells), criterion, convention, "+".join(chosen), n_samples)
