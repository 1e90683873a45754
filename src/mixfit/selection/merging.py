"""Entropy-based merging of mixture components into clusters (Baudry, Raftery, Celeux, Lo and
Gottardo 2010, "Combining mixture components for clustering"; mclust's ``clustCombi``).

A mixture chosen by BIC often spends several Gaussian components on one non-Gaussian cluster.
Starting from the K components' posterior probabilities t_nk = p(k | x_n), the pair of
clusters whose union most lowers the entropy of the posterior probabilities is merged (the
merged cluster's probability is the sum t_nk + t_nk'), and so on down to one cluster:

    Ent(K)    = - sum_n sum_k t_nk ln t_nk                                     (entropy, 0 ln 0 = 0)
    Delta_kk' = sum_n [ (t_nk + t_nk') ln(t_nk + t_nk') - t_nk ln t_nk - t_nk' ln t_nk' ]
              = Ent(before) - Ent(after merging k and k')   >= 0

so the step merges the pair with the largest Delta. Only the merged cluster's Delta against the
others changes after a step, so the whole hierarchy costs O(n K^2), not O(n K^3).
Derivation and the entropy plots: docs/merging.md.

Notation   code                 shape
t_nk       proba                (n, K)    the components' posterior probabilities
Ent(m)     entropies            (K,)      the entropy of the m-cluster solution, m = K, ..., 1
Delta      gain                 (m, m)    the entropy decrease of merging each pair
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from ..plot import plot_entropy


def _pair_gain(proba, columns, j) -> np.ndarray:
    """Delta_{j,c} for every column c of ``columns`` (n, m) against column j: (m,)."""
    t_j = proba[:, j][:, None]
    merged = columns + t_j
    return (xlogy(merged, merged) - xlogy(columns, columns) - xlogy(t_j, t_j)).sum(axis=0)


def _hierarchy(proba):
    """The merge sequence of ``proba`` (n, K): (merges (K-1, 2) in scipy's linkage numbering,
    entropies (K,) for K, ..., 1 clusters, members: the original components of each cluster of
    each level)."""
    K = proba.shape[1]
    columns = proba.copy()  # the current clusters' probabilities, one column per cluster
    ids = list(range(K))  # the linkage id of each current column
    members = [[k] for k in range(K)]
    gain = np.full((K, K), -np.inf)
    for j in range(K):
        gain[j, j + 1:] = _pair_gain(columns, columns[:, j + 1:], j)
    entropies = [-xlogy(columns, columns).sum()]
    levels = [[list(m) for m in members]]
    merges = []
    for step in range(K - 1):
        # The largest Delta_jl over j < l (the first in row-major order on a tie).
        j, l = np.unravel_index(np.argmax(gain), gain.shape)
        merges.append((ids[j], ids[l]))
        columns[:, j] += columns[:, l]  # the merged cluster's probability is the sum (Baudry et al. 2010)
        members[j] = sorted(members[j] + members[l])
        ids[j] = K + step
        keep = np.arange(columns.shape[1]) != l
        columns, gain = columns[:, keep], gain[np.ix_(keep, keep)]
        del ids[l], members[l]
        # Only the merged cluster's row and column of Delta change.
        row = _pair_gain(columns, columns, j)
        gain[j, j + 1:] = row[j + 1:]
        gain[:j, j] = row[:j]
        entropies.append(-xlogy(columns, columns).sum())
        levels.append([list(m) for m in members])
    return np.array(merges, dtype=np.intp).reshape(K - 1, 2), np.array(entropies), levels


class ComponentMerging:
    """The hierarchy of clusters obtained by merging mixture components by entropy.

    Built by ``merge_components`` (from a fitted mixture and data) or ``from_proba`` (from a
    matrix of posterior probabilities). The m-cluster solution, m = K, ..., 1, merges the
    components' posterior probabilities t_nk column by column; clusters are numbered by their
    smallest original component, so the K-cluster solution is the mixture's own.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_components)
        The components' posterior probabilities t_nk (rows summing to 1).
    model : estimator or None, default=None
        The fitted mixture that gave ``proba`` (with ``predict_proba``), used to merge the
        probabilities of new data; None when only ``proba`` is known.

    Attributes
    ----------
    n_components : int
        K, the number of mixture components.
    n_clusters : ndarray of shape (n_components,)
        The numbers of clusters of the hierarchy's levels: K, K - 1, ..., 1.
    entropies : ndarray of shape (n_components,)
        - sum_n sum_k t_nk ln t_nk of each level, in the order of ``n_clusters``.
    merges : ndarray of shape (n_components - 1, 2)
        The two clusters merged at each step, numbered as scipy's linkage matrices: the original
        components are 0, ..., K - 1 and the cluster formed at step s is K + s.
    n_merged : ndarray of shape (n_components - 1,)
        The number of rows involved in each step: those whose most probable cluster, before the
        step, is one of the two merged (the x axis of the normalised entropy plot).
    """

    def __init__(self, proba, model=None):
        proba = np.asarray(proba, dtype=np.float64)
        if proba.ndim != 2 or proba.shape[0] < 1 or proba.shape[1] < 1:
            raise ValueError(f"proba has shape {proba.shape}; expected (n_samples, n_components) with both >= 1")
        if not np.all(np.isfinite(proba)) or np.any(proba < 0):
            raise ValueError("proba has a negative or non-finite entry; expected posterior probabilities")
        # Rows are posterior probabilities; rounding of a predict_proba is far below 1e-6.
        if not np.allclose(proba.sum(axis=1), 1.0, rtol=0.0, atol=1e-6):
            raise ValueError("proba's rows do not sum to 1; expected posterior probabilities")
        self.model = model
        self._proba = proba
        self.n_components = proba.shape[1]
        self.n_clusters = np.arange(self.n_components, 0, -1)
        self.merges, self.entropies, self._levels = _hierarchy(proba)
        self.n_merged = np.array([self._merged_rows(step) for step in range(self.n_components - 1)],
                                 dtype=np.intp)

    @classmethod
    def from_proba(cls, proba):
        """The hierarchy of a matrix of posterior probabilities.

        Parameters
        ----------
        proba : array-like of shape (n_samples, n_components)
            The components' posterior probabilities t_nk.

        Returns
        -------
        ComponentMerging
            The hierarchy (``predict`` and ``predict_proba`` without new data only).
        """
        return cls(proba)

    def _level(self, n_clusters) -> int:
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or not (
                1 <= n_clusters <= self.n_components):
            raise ValueError(f"n_clusters={n_clusters!r}; expected an integer from 1 to {self.n_components}")
        return self.n_components - int(n_clusters)

    def clusters(self, n_clusters):
        """The original components in each cluster of the ``n_clusters`` solution.

        Parameters
        ----------
        n_clusters : int
            The number of clusters, 1 to ``n_components``.

        Returns
        -------
        list of list of int
            Cluster c's components, sorted; clusters ordered by their smallest component.
        """
        return sorted((list(m) for m in self._levels[self._level(n_clusters)]), key=min)

    def _combining(self, n_clusters) -> np.ndarray:
        """(K, m) 0/1 matrix: component k belongs to cluster c."""
        groups = self.clusters(n_clusters)
        matrix = np.zeros((self.n_components, len(groups)))
        for c, group in enumerate(groups):
            matrix[group, c] = 1.0
        return matrix

    def predict_proba(self, n_clusters, X=None):
        """Each row's probability of each cluster of the ``n_clusters`` solution.

        Parameters
        ----------
        n_clusters : int
            The number of clusters, 1 to ``n_components``.
        X : array-like of shape (n_rows, n_features), default=None
            New data, merged with the same hierarchy through the model's ``predict_proba``;
            default the rows the hierarchy was built on.

        Returns
        -------
        ndarray of shape (n_rows, n_clusters)
            sum of t_nk over the components k of each cluster.
        """
        combining = self._combining(n_clusters)
        if X is None:
            return self._proba @ combining
        if self.model is None:
            raise ValueError("X was given but this hierarchy has no model (built from_proba): pass X=None")
        return np.asarray(self.model.predict_proba(X), dtype=np.float64) @ combining

    def predict(self, n_clusters, X=None):
        """Each row's most probable cluster of the ``n_clusters`` solution.

        Parameters
        ----------
        n_clusters : int
            The number of clusters, 1 to ``n_components``.
        X : array-like of shape (n_rows, n_features), default=None
            New data (see ``predict_proba``); default the rows the hierarchy was built on.

        Returns
        -------
        ndarray of shape (n_rows,)
            Cluster labels 0, ..., n_clusters - 1 (clusters ordered as in ``clusters``).
        """
        return self.predict_proba(n_clusters, X).argmax(axis=1)

    def _merged_rows(self, step) -> int:
        before = self.n_components - step
        labels = self.predict(before)
        after = {tuple(group) for group in self.clusters(before - 1)}
        merged = [c for c, group in enumerate(self.clusters(before)) if tuple(group) not in after]
        return int(np.isin(labels, merged).sum())

    def entropy_changes(self, normalized=False):
        """The entropy decrease of each step, Ent(m + 1) - Ent(m), for m = K - 1, ..., 1.

        Parameters
        ----------
        normalized : bool, default=False
            Divide each decrease by the number of rows involved in the step (``n_merged``;
            NaN where none is).

        Returns
        -------
        ndarray of shape (n_components - 1,)
            In the order of ``n_clusters[1:]``.
        """
        change = self.entropies[:-1] - self.entropies[1:]
        if not normalized:
            return change
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n_merged > 0, change / np.maximum(self.n_merged, 1), np.nan)

    def plot(self, *, normalized=False, axes=None):
        """The entropy plots of Baudry et al. (2010): see ``mixfit.plot.plot_entropy``.

        Parameters
        ----------
        normalized : bool, default=False
            Against the cumulated number of rows merged, with the changes per row merged.
        axes : sequence of two Axes, default=None
            Where to draw (default: a new figure).

        Returns
        -------
        matplotlib.figure.Figure
            The figure of the two panels.
        """
        return plot_entropy(self, normalized=normalized, axes=axes)


def merge_components(model, X):
    """Merge a fitted mixture's components into clusters by entropy (Baudry et al. 2010).

    Mclust's ``clustCombi``: from the components' posterior probabilities on ``X``, merge the
    pair of clusters whose union most decreases the entropy of the posterior probabilities,
    down to one cluster (docs/merging.md).

    Parameters
    ----------
    model : fitted estimator
        Any fitted mixture with ``predict_proba`` (``GaussianMixture`` of any covariance family,
        ``BayesianGaussianMixture``, ``StudentMixture``, ``BernoulliMixture``).
    X : array-like of shape (n_samples, n_features)
        The rows whose posterior probabilities define the entropy (usually the training data).

    Returns
    -------
    ComponentMerging
        The merge hierarchy, its entropies, and the merged classification at each number of
        clusters (``predict`` / ``predict_proba``).

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import GaussianMixture, merge_components
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2))])
    >>> merging = merge_components(GaussianMixture(4, random_state=0).fit(X), X)
    >>> np.bincount(merging.predict(2)).tolist()
    [100, 100]
    """
    predict_proba = getattr(model, "predict_proba", None)
    if not callable(predict_proba):
        raise TypeError(f"model is a {type(model).__name__}; expected a fitted mixture with predict_proba")
    return ComponentMerging(predict_proba(X), model=model)
