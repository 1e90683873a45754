"""Starting points for EM and VB: initial parameters from a chunked pass over the data.

Every method picks centres (or, for 'random', random responsibilities), turns them into
responsibilities chunk by chunk, and lets the model's own M-step make parameters of them, so
no (N, K) array is ever held. User-given ``*_init`` arrays override what they name.

Where we differ from scikit-learn: 'k-means++' and 'random_from_data' assign every row to its
nearest chosen centre (a Voronoi start) instead of giving each centre a single row of
responsibility; the covariances then start from the data, not from ``reg_covar`` alone; and they
draw their centres from one weighted row sample (starts_chunked.sample_rows) in memory or not, so
the start does not depend on the source. 'kmeans' is scikit-learn's KMeans whenever the rows fit
that sample, from any source; above it, chunked Lloyd out of core, and in memory where the start
must be ``bounded`` (``partial_fit``'s first call: no copy of the batch).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..exceptions import CollapsedComponentError
from ..kernels.linalg import real_dtype
from ..models import GaussianParams
from ..models.gaussian_vb import data_mean_covariance, data_statistics
from ..protocols import Startable, require
from . import starts_chunked
from .hierarchical import hierarchical_stats
from .mclust_hc import mclust_stats
from .starts_chunked import block_uniform, nearest_centre

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data", "hierarchical", "mclust", "kmeans_subsample")
# 'random' draws responsibilities in fixed blocks of rows (starts_chunked.block_uniform), each from
# its own stream, so the start does not depend on chunk_size or the backend.


def _dense_rows(rows) -> np.ndarray:
    """A few rows as a dense array (a sparse matrix's selected rows only are densified)."""
    return rows.toarray() if sparse.issparse(rows) else np.asarray(rows)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(np.iinfo(np.int32).max))


def kmeans_centres(source, n_components, rng, kmeans_state=None, bounded=False):
    """scikit-learn's KMeans on the rows (as ``sklearn.mixture`` starts), wherever they come from
    when they fit the start's row sample; a larger out-of-core source is never loaded: k-means
    there is chunked Lloyd from k-means++ on a one-pass sample (starts_chunked.py). ``bounded``:
    rows in memory above the sample take the chunked Lloyd too, which holds the sample and a few
    chunks' distances, where KMeans holds a copy of the rows and its temporaries (~2x the rows)."""
    X, weights = source.X, source.sample_weight
    if bounded and not starts_chunked.whole_sample(source, n_components):
        return starts_chunked.kmeans_centres(source, n_components, rng)
    if not source.in_memory:
        if not starts_chunked.whole_sample(source, n_components):
            return starts_chunked.kmeans_centres(source, n_components, rng)
        X = starts_chunked.all_rows(source)  # the same rows and weights as in memory: the same start
        weights = None if weights is None else np.asarray(weights)
    random_state = _seed(rng) if kmeans_state is None else kmeans_state
    from sklearn.cluster import KMeans  # lazy: sklearn.cluster adds ~20 MB RSS to `import mixfit`

    km = KMeans(n_clusters=n_components, n_init=1, random_state=random_state)
    return km.fit(X, sample_weight=weights).cluster_centers_


# 'k-means++' and 'random_from_data' draw from one row sample taken in one pass, in memory or
# not (starts_chunked.sample_rows): the same seed gives the same centres from every source.
kmeans_plusplus_centres = starts_chunked.kmeans_plusplus_centres


def random_from_data_centres(source, n_components, rng):
    rows, _ = starts_chunked.sample_rows(source, n_components, rng)
    return _dense_rows(rows)


_CENTRES = {
    "kmeans": kmeans_centres,
    "k-means++": kmeans_plusplus_centres,
    "random_from_data": random_from_data_centres,
    "kmeans_subsample": starts_chunked.subsample_kmeans_centres,  # k-means on a row sample: large N
}


def _one_hot(labels, n_components, dtype):
    resp = np.zeros((labels.shape[0], n_components), dtype=dtype)
    resp[np.arange(labels.shape[0]), labels] = 1
    return resp


def hard_assignment_stats(model, source, centres):
    """Statistics of the partition of the rows by nearest centre, taken about the centres."""
    dtype = real_dtype(source.dtype)
    centres = np.asarray(centres, dtype=dtype)
    K = centres.shape[0]

    def accumulate(X, w):
        resp = _one_hot(nearest_centre(X, centres), K, dtype)
        return model.statistics(X, resp, w, centres)

    return source.map_reduce(accumulate)


def random_stats(model, source, n_components, rng):
    """Statistics of uniform random responsibilities, normalised per row."""
    seed = _seed(rng)
    shift = np.broadcast_to(_dense_rows(source.X[:1])[0], (n_components, source.n_features))

    def accumulate(X, w, start):
        # One stream per fixed block of rows (not per chunk): the same draws for any chunking,
        # thread order or backend.
        resp = block_uniform(seed, start, X.shape[0], n_components).astype(real_dtype(X.dtype))
        resp /= resp.sum(axis=1, keepdims=True)
        return model.statistics(X, resp, w, shift)

    return source.map_reduce(accumulate, offsets=True)


def initial_stats(model, source, n_components, method, rng, means_init=None, kmeans_state=None, bounded=False):
    """Statistics of a first partition of the data: by nearest given mean when ``means_init``
    is given, else by the centres (or random responsibilities) of ``method``.

    ``kmeans_state``: a legacy ``RandomState`` shared by the restarts of one fit, which 'kmeans'
    hands to scikit-learn's KMeans exactly as ``sklearn.mixture`` does, so that the same integer
    ``random_state`` gives the same k-means start (and so the same fit) as scikit-learn.
    ``bounded``: 'kmeans' in bounded memory (``kmeans_centres``), ``partial_fit``'s first call."""
    require(model, Startable)
    if method == "kmeans" and means_init is None:
        centres = kmeans_centres(source, n_components, rng, kmeans_state, bounded)
        return hard_assignment_stats(model, source, centres)
    if means_init is not None:
        return hard_assignment_stats(model, source, means_init)
    if method == "random":
        return random_stats(model, source, n_components, rng)
    if method == "hierarchical":  # model-based agglomerative clustering of a subset (hierarchical.py)
        return hierarchical_stats(model, source, n_components, rng)
    if method == "mclust":  # mclust's VVV tree on the scaled-SVD rows, cut at K (mclust_hc.py)
        return mclust_stats(model, source, n_components)
    return hard_assignment_stats(model, source, _CENTRES[method](source, n_components, rng))


def data_moments(source) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean (D,) and covariance (D, D) of all rows, in one chunked pass: the defaults of
    ``mean_prior`` and ``covariance_prior`` (``models.gaussian_vb.data_mean_covariance``). The
    scatter is taken about a data row, so nothing cancels far from the origin."""
    shift = np.asarray(source.X[:1], dtype=np.float64)  # (1, D)
    stats = source.map_reduce(lambda X, w: data_statistics(X, w, shift))
    return data_mean_covariance(stats)


# ---- the starts an estimator names: start(rng) or start(rng, policy), as engine.fit calls them ----


def warm_start(params):
    """The start of a warm-started fit: the previous fit's ``params``, whatever the stream and the
    collapse policy (engine.fit then runs once, from them)."""

    def start(rng, policy=None):
        return params

    return start


def partition_start(model, source, n_components, method, kmeans_state=None, bounded=False):
    """start(rng): the model's own M-step of a first partition of the rows by ``method``
    (``initial_stats``, ``bounded`` as there). For a variational model this is the initial
    statistics through the VB M-step, which gives the first q(theta)."""

    def start(rng):
        return model.maximize(initial_stats(model, source, n_components, method, rng,
                                            kmeans_state=kmeans_state, bounded=bounded), None)

    return start


def given_start(model, source, n_components, method, given, dtype, kmeans_state=None, bounded=False):
    """start(rng, policy) of a Gaussian EM mixture with user-given ``given`` = (weights (K,),
    means (K, D), prec_chol), each None or an array: all three given, EM starts from them;
    otherwise the collapse ``policy``'s M-step of a first partition (by nearest given mean when
    means are given, else by ``method``) supplies what is not given. A component dropped there
    cannot be matched with K given entries: CollapsedComponentError. ``bounded`` as in
    ``initial_stats``."""
    weights, means, prec_chol = given
    partial_given = any(a is not None for a in given)

    def start(rng, policy):
        if all(a is not None for a in given):
            return GaussianParams(weights, means, prec_chol).astype(dtype)
        stats = initial_stats(model, source, n_components, method, rng, means, kmeans_state, bounded)
        params = policy.step(model, source, stats, None, 0)
        if params.weights.shape[0] != n_components and partial_given:
            raise CollapsedComponentError(
                f"on_collapse={policy.name!r} dropped a component at initialisation, which "
                "cannot be combined with weights_init, means_init or precisions_init of "
                f"n_components = {n_components} entries; give all three, or none")
        return GaussianParams(
            params.weights if weights is None else weights,
            params.means if means is None else means,
            params.prec_chol if prec_chol is None else prec_chol,
        ).astype(dtype)

    return start
