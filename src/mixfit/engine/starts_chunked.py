"""Starts that never hold the data: a one-pass row sample, k-means++ on it, chunked Lloyd.

For a memmap, an out-of-core array or a dask array (``source.in_memory`` False), where
scikit-learn's ``KMeans`` would need the rows in memory (and O(n_samples) labels):

- ``sample_rows``: m rows drawn without replacement in one pass, with probability proportional
  to the sample weight (Efraimidis and Spirakis' A-Res: row n gets the key ln(u_n) / w_n and the
  m largest keys win). u_n comes from a stream fixed per block of ``_BLOCK_ROWS`` rows, and the
  per-chunk winners merge with ``+``, so the sample depends on the seed, never on the chunking
  or the backend: memmap, reader and dask fits from one ``random_state`` start alike.
- 'k-means++': scikit-learn's ``kmeans_plusplus`` (public API) on that sample.
- 'kmeans': those centres, then Lloyd iterations, one chunked pass each, until the centres move
  by less than ``_LLOYD_TOL`` of the sample's mean feature variance (scikit-learn's criterion),
  at most ``_LLOYD_MAX_ITER`` passes.
- 'random_from_data': n_components rows of the same one-pass sample.
- 'kmeans_subsample', in memory or not: scikit-learn's ``KMeans`` (best of a few k-means++
  restarts) on a smaller one-pass sample; the rows are then assigned to its centres in the
  start's one partition pass. It costs about one EM iteration at large N, where 'kmeans' on
  every row costs several.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..kernels.linalg import real_dtype

# Rows per fixed random stream; the same blocks as init's 'random' responsibilities.
_BLOCK_ROWS = 4096
# The k-means++ sample: enough rows for every component to be seeded from its own region, capped
# so that the sample stays a few tens of MB whatever D.
_SAMPLE_ROWS_PER_COMPONENT = 1000
_MIN_SAMPLE_ROWS = 10_000
_SAMPLE_BYTES = 64 * 2**20
# 'kmeans_subsample': Lloyd on max(_MIN_SAMPLE_ROWS, this * K) rows, a few hundred per centre
# (what a centre's mean needs; Lloyd's cost on the sample grows as its rows times K), best of
# _SUBSAMPLE_N_INIT k-means++ restarts: one restart leaves two centres in one cluster and none in
# another on 8 of 20 seeds of well-separated (1e6, 32, 16) data, three on 1 of 20.
_SUBSAMPLE_ROWS_PER_COMPONENT = 256
_SUBSAMPLE_N_INIT = 3
# Below this many row-centre-feature products per Lloyd pass (rows * K * D) the sample's KMeans
# runs on one OpenMP thread: a pass is then tens of milliseconds, less than the threads'
# synchronisation costs once the cores are shared. Measured on 10 000 rows x 32, K = 16, best
# of 3, two cores at load 16: one thread 0.6 to 3 s, two threads 4 to 9 s.
_SUBSAMPLE_ONE_THREAD_WORK = 5e7
# scikit-learn's KMeans defaults: tol relative to the mean feature variance; fewer passes, as
# each one reads all the data.
_LLOYD_TOL = 1e-4
_LLOYD_MAX_ITER = 20


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(np.iinfo(np.int32).max))


def block_uniform(seed: int, start: int, n_rows: int, n_cols: int) -> np.ndarray:
    """U[0, 1) draws (n_rows, n_cols) for rows start..start+n_rows-1, from one stream per block of
    ``_BLOCK_ROWS`` rows: the draws of a row do not depend on how the rows are chunked."""
    out = np.empty((n_rows, n_cols))
    row = start
    while row < start + n_rows:
        block, offset = divmod(row, _BLOCK_ROWS)
        take = min(_BLOCK_ROWS - offset, start + n_rows - row)
        draws = np.random.default_rng([seed, block]).uniform(size=(offset + take, n_cols))
        out[row - start : row - start + take] = draws[offset:]
        row += take
    return out


@dataclass(frozen=True, eq=False)
class RowSample:
    """The m rows with the largest keys seen so far: keys (m,), row indices (m,), rows (m, D),
    or rows None where they are gathered by index at the end (data in memory)."""

    size: int
    keys: np.ndarray
    index: np.ndarray
    rows: np.ndarray | None

    def __add__(self, other: RowSample) -> RowSample:
        rows = None if self.rows is None else _stack(self.rows, other.rows)
        return _top(self.size, np.concatenate([self.keys, other.keys]),
                    np.concatenate([self.index, other.index]), rows)


def _stack(a, b):
    """Rows of a over rows of b: dense or sparse (CSR) alike."""
    return sparse.vstack([a, b], format="csr") if sparse.issparse(a) else np.concatenate([a, b])


def _rows(X):
    return sparse.csr_matrix(X) if sparse.issparse(X) else np.asarray(X)


def _top(size, keys, index, rows) -> RowSample:
    # An O(n) cut, in no order (sample_rows puts the winners in row order at the end); ties at
    # the cut are only ever -inf (weight 0, dropped), so the winners do not depend on the merges.
    if keys.shape[0] > size:
        cut = np.argpartition(-keys, size - 1)[:size]
        keys, index, rows = keys[cut], index[cut], None if rows is None else rows[cut]
    return RowSample(size, keys, index, rows)


def sample_rows(source, size: int, rng: np.random.Generator):
    """Up to ``size`` rows (sorted by row index) drawn in one pass, with probability proportional
    to the sample weight; rows of weight 0 are never drawn. Returns (rows, weights or None):
    the weights only when every row of positive weight was taken (then the sample is the data).
    In memory the pass carries keys and row indices only and the rows are gathered at the end
    (the same rows: carrying them through every merge cost most of the pass)."""
    seed = _seed(rng)
    carry_rows = not source.in_memory

    def accumulate(X, w, start):
        u = block_uniform(seed, start, X.shape[0], 1)[:, 0]
        keys = np.log1p(-u)  # ln(1 - U) in (-inf, 0]: the A-Res key ln(u)/w with w = 1
        if w is not None:
            w = np.asarray(w, dtype=np.float64)
            with np.errstate(divide="ignore"):
                keys = np.where(w > 0, keys / np.where(w > 0, w, 1), -np.inf)
        index = np.arange(start, start + X.shape[0])
        return _top(size, keys, index, _rows(X) if carry_rows else None)

    sample = source.map_reduce(accumulate, offsets=True)
    kept = np.flatnonzero(np.isfinite(sample.keys))
    kept = kept[np.argsort(sample.index[kept])]
    index = sample.index[kept]
    rows = sample.rows[kept] if carry_rows else _rows(source.X[index])
    if source.sample_weight is None:
        return rows, None
    # every positive-weight row is in the sample (room to spare, or the sample is every row):
    # keep their weights
    if kept.shape[0] < size or size >= source.n_samples:
        return rows, np.asarray(source.sample_weight[index], dtype=np.float64)
    return rows, None


@dataclass(frozen=True, eq=False)
class AllRows:
    """Every row read so far, with its first row index: the pieces are put in row order at the end."""

    pieces: tuple

    def __add__(self, other: AllRows) -> AllRows:
        return AllRows(self.pieces + other.pieces)


def all_rows(source):
    """Every row of the source, in row order, as one in-memory array (dense or CSR), in one pass
    that uses no random draws: a small out-of-core source then starts exactly as in memory."""
    pieces = sorted(source.map_reduce(lambda X, w, start: AllRows(((start, _rows(X)),)), offsets=True).pieces,
                    key=lambda piece: piece[0])
    rows = [piece[1] for piece in pieces]
    return sparse.vstack(rows, format="csr") if sparse.issparse(rows[0]) else np.concatenate(rows)


def whole_sample(source, n_components: int) -> bool:
    """True when the start's row sample would hold every row (``sample_size`` = n_samples)."""
    return sample_size(source, n_components) >= source.n_samples


def sample_size(source, n_components: int, per_component: int = _SAMPLE_ROWS_PER_COMPONENT) -> int:
    by_bytes = _SAMPLE_BYTES // (source.n_features * np.dtype(source.dtype).itemsize)
    wanted = max(_MIN_SAMPLE_ROWS, per_component * n_components)
    return int(max(n_components, min(wanted, by_bytes, source.n_samples)))


def kmeans_plusplus_centres(source, n_components, rng):
    rows, weights = sample_rows(source, sample_size(source, n_components), rng)
    from sklearn.cluster import kmeans_plusplus  # lazy: ~20 MB RSS (see starts.kmeans_centres)

    centres, _ = kmeans_plusplus(rows, n_components, random_state=_seed(rng), sample_weight=weights)
    return centres


@dataclass(frozen=True, eq=False)
class CentroidSums:
    """Per centre: the weight (K,) and the weighted sum of x - g (K, D) of its nearest rows."""

    mass: np.ndarray
    first: np.ndarray

    def __add__(self, other: CentroidSums) -> CentroidSums:
        return CentroidSums(self.mass + other.mass, self.first + other.first)


def nearest_centre(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for each row (n,), by |x - c|^2 about the centres' mean."""
    if sparse.issparse(X):
        # A sparse chunk cannot be centred without densifying it; the rows it holds (binary data)
        # are bounded, so |c|^2 - 2 x.c loses nothing to cancellation about the origin.
        dist = (centres * centres).sum(axis=1)[None, :] - 2 * np.asarray(X @ centres.T)
        return dist.argmin(axis=1)
    centre = centres.mean(axis=0)
    Xc, Cc = X - centre, (centres - centre).astype(real_dtype(X.dtype), copy=False)
    dist = (Cc * Cc).sum(axis=1)[None, :] - 2 * (Xc @ Cc.T)  # |x|^2 is the same for every k
    return dist.argmin(axis=1)


def kmeans_centres(source, n_components, rng):
    """Lloyd's algorithm from k-means++ centres; each iteration is one chunked pass."""
    rows, weights = sample_rows(source, sample_size(source, n_components), rng)
    from sklearn.cluster import kmeans_plusplus  # lazy: ~20 MB RSS (see starts.kmeans_centres)

    centres, _ = kmeans_plusplus(rows, n_components, random_state=_seed(rng), sample_weight=weights)
    centres = centres.astype(np.float64)
    tol = _LLOYD_TOL * float(np.mean(np.var(rows.astype(np.float64), axis=0)))
    for _ in range(_LLOYD_MAX_ITER):
        g = centres.mean(axis=0)  # (D,) sums taken about g: nothing cancels far from the origin

        def accumulate(X, w, centres=centres, g=g):
            labels = nearest_centre(X, centres)
            one_hot = np.zeros((X.shape[0], n_components))
            one_hot[np.arange(X.shape[0]), labels] = 1 if w is None else w
            return CentroidSums(one_hot.sum(axis=0), one_hot.T @ (X - g))

        sums = source.map_reduce(accumulate)
        moved = np.where(sums.mass[:, None] > 0, g + sums.first / np.maximum(sums.mass, 1e-300)[:, None],
                         centres)  # an empty cluster keeps its centre
        shift = float(np.sum((moved - centres) ** 2))
        centres = moved
        if shift <= tol:
            break
    return centres


def random_from_data_centres(source, n_components, rng):
    rows, _ = sample_rows(source, n_components, rng)
    return rows


def subsample_kmeans_centres(source, n_components, rng):
    """scikit-learn's KMeans on a one-pass weighted row sample (the rows' own weights when the
    sample is every row): the same centres from any source and any chunking for one seed."""
    rows, weights = sample_rows(source, sample_size(source, n_components, _SUBSAMPLE_ROWS_PER_COMPONENT), rng)
    from sklearn.cluster import KMeans  # lazy: ~20 MB RSS (see starts.kmeans_centres)
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    km = KMeans(n_clusters=n_components, n_init=_SUBSAMPLE_N_INIT, random_state=_seed(rng))
    small = rows.shape[0] * n_components * rows.shape[1] < _SUBSAMPLE_ONE_THREAD_WORK
    with threadpool_limits(limits=1 if small else None, user_api="openmp"):
        return km.fit(rows, sample_weight=weights).cluster_centers_
