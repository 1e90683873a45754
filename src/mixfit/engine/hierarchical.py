"""Model-based agglomerative hierarchical clustering, as a starting partition for EM and VB.

Banfield and Raftery (1993) and Fraley (1998) merge, at each step, the two clusters whose union
least decreases the classification likelihood of a Gaussian model; R's mclust (``hc``) starts
EM from the tree cut at K clusters. We follow that with one documented choice of model:

- **Criterion: EII** (Sigma_k = lambda I). Its classification log-likelihood is, up to constants,
  -(nD/2) ln sum_k tr(W_k), with W_k the scatter of cluster k; the merge of clusters i and j raises
  sum_k tr(W_k) by n_i n_j / (n_i + n_j) |m_i - m_j|^2, which is Ward's criterion (Fraley 1998,
  section 2). scipy's ``ward`` computes this tree exactly (nearest-neighbour chain, O(m^2)).
- **After an SVD transform** (mclust's ``hcUse = "SVD"``): the rows are centred and rotated onto
  the principal axes, each scaled to unit variance. EII on whitened data is invariant to any
  affine map of the data, the property that makes VVV (mclust's default model) attractive,
  without VVV's cost (a determinant per candidate merge) or its degeneracy for clusters of fewer
  than D + 1 rows, which Fraley (1998) patches with data-dependent regularisation constants.
- **On a subset** of at most ``MAX_ROWS`` rows drawn without replacement (mclust's
  ``hcUse``/``subset`` idea), since the tree costs O(m^2) memory and time. The partition of the
  subset gives the starting statistics; EM then runs on every row.

Everything is deterministic for a given ``numpy.random.Generator`` (the subset is its only
random draw; ties in the tree are broken by row order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import ward

# At most this many rows enter the tree: 2000 rows need a 2000 x 1999 / 2 distance vector
# (16 MB) and well under a second; mclust's default subset is of the same order.
MAX_ROWS = 2000
# Principal axes with a singular value below this fraction of the largest carry no spread (a
# constant or collinear feature); they are dropped rather than scaled up from rounding noise.
_RANK_TOLERANCE = 1e-10


@dataclass(frozen=True)
class Tree:
    """The merge tree of a subset of rows: ``rows`` index the data (sorted), ``merges`` is
    scipy's linkage matrix over them ((m - 1, 4): the two clusters merged at each step)."""

    rows: np.ndarray  # (m,)
    merges: np.ndarray  # (m - 1, 4)

    def partition(self, n_clusters: int) -> np.ndarray:
        """Labels (m,) in 0..n_clusters-1 of the tree cut at ``n_clusters`` clusters: the first
        m - n_clusters merges applied. Labels are numbered by first appearance in row order."""
        m = self.rows.shape[0]
        if not 1 <= n_clusters <= m:
            raise ValueError(f"n_clusters={n_clusters}; expected 1 <= n_clusters <= {m} (the rows in the tree)")
        parent = np.arange(2 * m - 1)  # union-find over the m leaves and the m - 1 merged nodes
        for step in range(m - n_clusters):
            a, b = int(self.merges[step, 0]), int(self.merges[step, 1])
            parent[a] = parent[b] = m + step

        def root(node):
            while parent[node] != node:
                node = parent[node]
            return node

        roots = np.array([root(i) for i in range(m)])
        _, first, labels = np.unique(roots, return_index=True, return_inverse=True)
        relabel = np.empty_like(first)
        relabel[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
        return relabel[labels]


def svd_transform(X: np.ndarray) -> np.ndarray:
    """Rows centred, rotated onto the principal axes and scaled to unit variance per axis (m, r),
    r the numerical rank: the data whitened, so that Euclidean distance is Mahalanobis distance
    under the subset's covariance."""
    Xc = np.asarray(X, dtype=np.float64) - X.mean(axis=0, dtype=np.float64)
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    keep = s > _RANK_TOLERANCE * max(s[0] if s.size else 0.0, np.finfo(np.float64).tiny)
    if not np.any(keep):  # every row is the same: any tree will do
        return np.zeros((X.shape[0], 1))
    # Xc V / s_j has unit sum of squares per axis; times sqrt(m) gives unit variance.
    return (Xc @ vt[keep].T) * (np.sqrt(X.shape[0]) / s[keep])


def build_tree(X, rng: np.random.Generator, *, max_rows: int = MAX_ROWS, sample_weight=None) -> Tree:
    """The EII (Ward) merge tree of at most ``max_rows`` rows of X after the SVD transform.
    Rows of zero weight never enter the subset."""
    candidates = np.arange(X.shape[0]) if sample_weight is None else np.flatnonzero(np.asarray(sample_weight) > 0)
    if candidates.shape[0] > max_rows:
        candidates = np.sort(rng.choice(candidates, size=max_rows, replace=False))
    Z = svd_transform(np.asarray(X[candidates]))
    if candidates.shape[0] == 1:
        return Tree(candidates, np.zeros((0, 4)))
    return Tree(candidates, ward(Z))


def partition_stats(model, X, sample_weight, tree: Tree, n_components: int):
    """The model's statistics of the subset's partition at ``n_components`` clusters, taken
    about the clusters' means (so the M-step's shifted moments are exact)."""
    labels = tree.partition(n_components)
    X_sub = np.asarray(X[tree.rows])
    w_sub = None if sample_weight is None else np.asarray(sample_weight)[tree.rows]
    resp = np.zeros((X_sub.shape[0], n_components), dtype=X_sub.dtype)  # (m, K) one-hot
    resp[np.arange(X_sub.shape[0]), labels] = 1
    counts = resp.sum(axis=0)
    shift = (resp.T @ X_sub) / counts[:, None]  # (K, D) the clusters' unweighted means
    return model.statistics(X_sub, resp, w_sub, shift.astype(X_sub.dtype))


def hierarchical_stats(model, source, n_components: int, rng: np.random.Generator, max_rows: int = MAX_ROWS):
    """``init.py``'s 'hierarchical' method: the tree of a subset of the source's rows, cut at
    ``n_components``, as statistics for the model's first M-step."""
    if source.n_samples < n_components:
        raise ValueError(f"init_params='hierarchical' needs n_samples >= n_components = {n_components}")
    tree = build_tree(source.X, rng, max_rows=max(max_rows, n_components), sample_weight=source.sample_weight)
    return partition_stats(model, source.X, source.sample_weight, tree, n_components)
