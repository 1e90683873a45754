"""Figures of fitted mixtures (matplotlib, imported only when a function is called).

Each function draws into ``ax`` (a new figure when None) and returns the Axes, or the Figure for
the multi-panel ``plot_fit``:

- ``plot_ellipses``: the data and each component's ellipses at 1 and 2 standard deviations, in
  two chosen features, or on the first two principal axes of the data when D > 2;
- ``plot_convergence``: the lower bound per iteration (``lower_bounds_``);
- ``plot_uncertainty``: each row's classification uncertainty 1 - max_k p(k | x);
- ``plot_density``: contours of ``score_samples`` (for a BayesianGaussianMixture, the posterior
  predictive density), D = 2;
- ``plot_selection``: a criterion against K, one line per covariance type;
- ``plot_outliers``: a Student-t fit's outlier scores, E[u_n | x_n] per row and the rows beyond
  the F threshold of their component;
- ``plot_fit``: ellipses (with the density, on request) beside the convergence curve;
- ``plot_entropy``: the entropy plots of merging components into clusters (Baudry et al. 2010).

A ``StudentMixture`` is drawn by the same functions: its ellipses are those of the scale matrices
Sigma_k (``covariances_``) at the given Mahalanobis radii, and its density is the t mixture's.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .estimators import BayesianGaussianMixture, StudentMixture
from .families.registry import make_covariance


def _axes(ax, figsize=(6.0, 4.5)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize, layout="constrained")[1]


def _quietly(method, X):
    """``method(X)`` on a bare array, without scikit-learn's note that a model fitted on a
    DataFrame is now given no column names (the plots build their own grids)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return method(X)


def _colours(n):
    import matplotlib

    cycle = matplotlib.colormaps["tab10"]
    return [cycle(k % 10) for k in range(n)]


def full_covariances(model) -> np.ndarray:
    """Each component's covariance as a (K, D, D) matrix, whatever the covariance type.

    The covariance strategy's Mahalanobis form q_k(v) = v^T Lambda_k v is enough, by polarisation:
    Lambda_k,ij = (q_k(e_i + e_j) - q_k(e_i) - q_k(e_j)) / 2; so no covariance-type string is read
    here. Sigma_k = Lambda_k^{-1} by a Cholesky solve (plotting precision only).
    """
    covariance = make_covariance(model.covariance_type)
    means = np.asarray(model.means_, dtype=np.float64)
    K, D = means.shape
    i, j = np.triu_indices(D)
    eye = np.eye(D)
    probes = np.vstack([eye, eye[i] + eye[j]])  # (D + D(D+1)/2, D)
    q = covariance.mahalanobis(probes, np.zeros_like(means), np.asarray(model.precisions_cholesky_, np.float64))
    single, pairs = q[:D], q[D:]  # (D, K), (D(D+1)/2, K)
    precision = np.empty((K, D, D))
    precision[:, i, j] = ((pairs - single[i] - single[j]) / 2).T
    precision[:, j, i] = precision[:, i, j]
    factor = np.linalg.cholesky(precision)
    inverse = np.linalg.solve(factor, np.broadcast_to(eye, precision.shape))  # L^{-1}
    return np.swapaxes(inverse, 1, 2) @ inverse  # Lambda^{-1} = L^{-T} L^{-1}


def _projection(model, X, features):
    """(A, centre, labels): plotted coordinates are (x - centre) @ A, A of shape (D, 2)."""
    D = model.means_.shape[1]
    if D < 2:
        raise ValueError("a two-dimensional plot needs at least 2 features; the model has 1")
    names = [str(n) for n in getattr(model, "feature_names_in_", [f"x{d + 1}" for d in range(D)])]
    if features is None and D == 2:
        features = (0, 1)
    if features is not None:
        if len(features) != 2:
            raise ValueError(f"features={features!r}; expected two features (indices or names)")
        index = [names.index(f) if isinstance(f, str) and f in names else f for f in features]
        if not all(isinstance(d, (int, np.integer)) and 0 <= d < D for d in index):
            raise ValueError(f"features={features!r}; expected two of the indices 0..{D - 1} or names {names}")
        return np.eye(D)[:, index], np.zeros(D), [names[d] for d in index]
    # The first two principal axes: of the data, or of the fitted mixture when no data is given.
    if X is not None:
        centre = np.asarray(X, dtype=np.float64).mean(axis=0)
        scatter = np.cov(np.asarray(X, dtype=np.float64), rowvar=False)
    else:
        w, mu = np.asarray(model.weights_, np.float64), np.asarray(model.means_, np.float64)
        centre = w @ mu
        d = mu - centre
        scatter = np.einsum("k,kij->ij", w, full_covariances(model)) + (w[:, None] * d).T @ d
    _, vectors = np.linalg.eigh(scatter)
    return vectors[:, ::-1][:, :2], centre, ["principal axis 1", "principal axis 2"]


def _ellipse_patches(mean, cov, levels, colour):
    from matplotlib.patches import Ellipse

    values, vectors = np.linalg.eigh(cov)  # ascending
    angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))  # of the major axis
    for level in levels:
        # The set (x - mu)^T Sigma^{-1} (x - mu) = level^2: semi-axes level * sqrt(eigenvalue).
        yield Ellipse(mean, 2 * level * np.sqrt(values[1]), 2 * level * np.sqrt(values[0]), angle=angle,
                      fill=False, edgecolor=colour, linewidth=1.6 if level == levels[0] else 1.0,
                      linestyle="-" if level == levels[0] else "--")


def plot_ellipses(model, X=None, *, features=None, levels=(1, 2), min_weight=0.0, ax=None):
    """The data (coloured by predicted component) and each component's ellipses at ``levels``
    standard deviations (Mahalanobis radius), with the means marked.

    ``features``: two column indices or names; default the two features when D = 2, else the
    first two principal axes of X. Components with ``weights_ <= min_weight`` are not drawn (for
    a variational fit, the inactive ones). Returns the Axes.
    """
    ax = _axes(ax)
    A, centre, labels = _projection(model, X, features)
    weights = np.asarray(model.weights_, dtype=np.float64)
    colours = _colours(len(weights))
    if X is not None:
        X = np.asarray(X)
        points = (X - centre) @ A
        component = _quietly(model.predict, X)
        ax.scatter(points[:, 0], points[:, 1], s=8, c=[colours[k] for k in component], alpha=0.5,
                   linewidths=0, label="data")
    means = (np.asarray(model.means_, dtype=np.float64) - centre) @ A
    covariances = A.T @ full_covariances(model) @ A  # A^T Sigma_k A, (K, 2, 2)
    shown = np.flatnonzero(weights > min_weight)
    for k in shown:
        for patch in _ellipse_patches(means[k], covariances[k], tuple(levels), colours[k]):
            ax.add_patch(patch)
    ax.scatter(means[shown, 0], means[shown, 1], marker="x", s=50, c=[colours[k] for k in shown],
               linewidths=2, label="means", zorder=3)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    radii = ", ".join(str(v) for v in levels)
    # A t component's Sigma_k is its scale, not its covariance: the ellipses are Mahalanobis radii.
    unit = "Mahalanobis radius of the scale matrices" if isinstance(model, StudentMixture) else "sd"
    ax.set_title(f"{len(shown)} components; ellipses at {radii} {unit}")
    ax.autoscale_view()
    return ax


def _is_variational(model) -> bool:
    return isinstance(model, BayesianGaussianMixture)


def plot_convergence(model, *, ax=None):
    """The lower bound per sample against the iteration (``lower_bounds_``). Returns the Axes."""
    ax = _axes(ax)
    history = np.asarray(model.lower_bounds_, dtype=np.float64)
    ax.plot(np.arange(1, history.size + 1), history, marker="o", markersize=3, linewidth=1.2)
    ax.set_xlabel("iteration")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("ELBO per sample" if _is_variational(model) else "log-likelihood per sample")
    state = "converged" if model.converged_ else "not converged"
    ax.set_title(f"convergence: {model.n_iter_} iterations, {state}")
    ax.grid(alpha=0.3)
    return ax


def plot_uncertainty(model, X, *, features=None, ax=None):
    """Each row at its (projected) position, coloured and sized by its classification
    uncertainty 1 - max_k p(k | x_n) (mclust's uncertainty plot). Returns the Axes."""
    ax = _axes(ax)
    X = np.asarray(X)
    A, centre, labels = _projection(model, X, features)
    uncertainty = 1.0 - _quietly(model.predict_proba, X).max(axis=1)
    points = (X - centre) @ A
    order = np.argsort(uncertainty)  # the uncertain rows on top
    artist = ax.scatter(points[order, 0], points[order, 1], c=uncertainty[order], s=6 + 60 * uncertainty[order],
                        cmap="viridis", vmin=0.0, vmax=1.0 - 1.0 / max(len(model.weights_), 2), linewidths=0)
    ax.figure.colorbar(artist, ax=ax, label="1 - max p(k | x)")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title("classification uncertainty")
    return ax


def plot_density(model, X=None, *, n_grid=150, levels=10, bounds=None, ax=None):
    """Contours of ln p(x) from ``score_samples`` on a grid (two-feature models only); for a
    BayesianGaussianMixture this is the posterior predictive density (a mixture of Student-t).

    ``bounds``: ((x_min, x_max), (y_min, y_max)); default the data's range (or the means
    +- 3 sd) with a margin. Returns the Axes.
    """
    ax = _axes(ax)
    D = model.means_.shape[1]
    if D != 2:
        raise ValueError(f"the density plot needs a model of 2 features; this one has {D}")
    if bounds is None:
        if X is not None:
            low, high = np.min(X, axis=0), np.max(X, axis=0)
        else:
            spread = 3 * np.sqrt(np.diagonal(full_covariances(model), axis1=1, axis2=2))
            low, high = (model.means_ - spread).min(axis=0), (model.means_ + spread).max(axis=0)
        margin = 0.1 * (high - low)
        bounds = tuple(zip(low - margin, high + margin))
    xs, ys = (np.linspace(lo, hi, n_grid) for lo, hi in bounds)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()]).astype(model.means_.dtype)
    log_density = _quietly(model.score_samples, grid).reshape(grid_x.shape).astype(np.float64)
    # Levels spaced in ln p from the peak down to e^-10 of it: the tails and the modes both show.
    top = log_density.max()
    contour_levels = np.linspace(top - 10.0, top, levels)
    ax.contour(grid_x, grid_y, log_density, levels=contour_levels, cmap="Greys", linewidths=0.7, alpha=0.7)
    ax.set_title("predictive density (ln p)" if _is_variational(model) else "density (ln p)")
    ax.set_xlim(bounds[0])
    ax.set_ylim(bounds[1])
    return ax


def _rows(table) -> list[dict]:
    """A list of row mappings, a mapping of columns, or a DataFrame -> a list of dicts."""
    if isinstance(table, Sequence) and not isinstance(table, str):
        return [dict(row) for row in table]
    columns = {name: list(table[name]) for name in table}
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def plot_selection(table, *, criterion="bic", lower_is_better=None, ax=None):
    """A criterion against the number of components, one line per covariance type, the best
    (K, covariance type) starred.

    ``table``: rows (mappings) or columns (a dict or a DataFrame) with ``n_components``,
    ``covariance_type`` and the ``criterion`` column. ``lower_is_better``: default True for
    bic/aic/icl, False otherwise (an ELBO or a log-likelihood). Returns the Axes.
    """
    ax = _axes(ax)
    rows = _rows(table)
    if not rows:
        raise ValueError("the selection table is empty")
    missing = {"n_components", "covariance_type", criterion} - set(rows[0])
    if missing:
        raise ValueError(f"the selection table has no column(s) {sorted(missing)}")
    if lower_is_better is None:
        lower_is_better = criterion.lower() in ("bic", "aic", "icl")
    types = list(dict.fromkeys(row["covariance_type"] for row in rows))
    for colour, name in zip(_colours(len(types)), types):
        line = sorted((row["n_components"], row[criterion]) for row in rows if row["covariance_type"] == name)
        ks, values = zip(*line)
        ax.plot(ks, values, marker="o", color=colour, label=str(name))
    pick = (min if lower_is_better else max)(rows, key=lambda row: row[criterion])
    ax.scatter([pick["n_components"]], [pick[criterion]], marker="*", s=250, color="black", zorder=3,
               label=f"best: K={pick['n_components']}, {pick['covariance_type']}")
    from matplotlib.ticker import MaxNLocator  # optional

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # K is a count: no fractional ticks
    ax.set_xlabel("number of components K")
    ax.set_ylabel(f"{criterion} ({'lower' if lower_is_better else 'higher'} is better)")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_outliers(model, X, *, features=None, alpha=0.01, ax=None):
    """A ``StudentMixture``'s outlier scores: each row at its (projected) position, coloured by
    E[u_n | x_n] (``expected_scale``: about 1 for a typical row, near 0 for an outlier), and the
    rows whose squared Mahalanobis distance exceeds their component's ``mahalanobis_threshold(alpha)``
    circled in red. Returns the Axes.
    """
    if not isinstance(model, StudentMixture):
        raise TypeError(f"model is a {type(model).__name__}; the outlier plot needs a fitted StudentMixture")
    ax = _axes(ax)
    X = np.asarray(X)
    A, centre, labels = _projection(model, X, features)
    points = (X - centre) @ A
    scale = np.asarray(_quietly(model.expected_scale, X), dtype=np.float64)
    # (T.13): delta / D ~ F(D, nu_k) under component k; beyond its (1 - alpha) quantile
    flagged = _quietly(model.mahalanobis, X) > model.mahalanobis_threshold(alpha)[_quietly(model.predict, X)]
    order = np.argsort(-scale)  # the outliers (small E[u]) drawn last, on top
    artist = ax.scatter(points[order, 0], points[order, 1], c=scale[order], s=10, cmap="viridis_r",
                        vmin=0.0, vmax=max(1.0, float(scale.max())), linewidths=0)
    ax.figure.colorbar(artist, ax=ax, label="E[u | x] (small: outlier)")
    ax.scatter(points[flagged, 0], points[flagged, 1], s=60, facecolors="none", edgecolors="red", linewidths=1.2,
               label=f"beyond the F threshold ({int(flagged.sum())} rows, alpha={alpha:g})")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title("outlier scores")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_fit(model, X, *, features=None, density=False, uncertainty=False, outliers=False, min_weight=0.0,
             axes=None, title=None):
    """Ellipses over the data (with the density contours when ``density``), the uncertainty
    panel when ``uncertainty``, the outlier scores of a ``StudentMixture`` when ``outliers``, and
    the convergence curve, side by side. ``axes``: a sequence of as many Axes (default: a new
    figure). Returns the Figure."""
    n_panels = 2 + bool(uncertainty) + bool(outliers)
    if axes is None:
        import matplotlib.pyplot as plt

        axes = plt.subplots(1, n_panels, figsize=(5.2 * n_panels, 4.6), layout="constrained")[1]
    axes = list(np.ravel(axes))
    if len(axes) != n_panels:
        raise ValueError(f"axes has {len(axes)} Axes; this figure needs {n_panels}")
    if density:
        plot_density(model, X, ax=axes[0])
        contours = axes[0].get_title()
    plot_ellipses(model, X, features=features, min_weight=min_weight, ax=axes[0])
    if density:
        axes[0].set_title(f"{axes[0].get_title()}\ncontours: {contours}")
    if uncertainty:
        plot_uncertainty(model, X, features=features, ax=axes[1])
    if outliers:
        plot_outliers(model, X, features=features, ax=axes[-2])
    plot_convergence(model, ax=axes[-1])
    if title:
        axes[0].set_title(f"{title}\n{axes[0].get_title()}")
    return axes[0].figure


def plot_entropy(merging, *, normalized=False, axes=None):
    """The entropy plots of a component merging (``mixfit.merge_components``; mclust's
    ``entPlot``): the entropy of each level of the hierarchy, and the entropy decrease of each
    merge step; an elbow suggests a number of clusters (Baudry et al. 2010).

    ``normalized=False``: the entropy against the number of clusters, and each step's decrease
    against the number of clusters after it. ``normalized=True``: the entropy against the
    cumulated number of rows merged, and each step's decrease divided by the rows it merged.
    ``axes``: two Axes (default: a new figure). Returns the Figure.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        axes = plt.subplots(1, 2, figsize=(10.4, 4.2), layout="constrained")[1]
    axes = list(np.ravel(axes))
    if len(axes) != 2:
        raise ValueError(f"axes has {len(axes)} Axes; the entropy plots need 2")
    levels = np.asarray(merging.n_clusters)
    entropies = np.asarray(merging.entropies)
    if normalized:
        x = np.concatenate([[0], np.cumsum(merging.n_merged)])
        axes[0].plot(x, entropies, marker="o")
        for count, value, m in zip(x, entropies, levels):
            axes[0].annotate(str(m), (count, value), textcoords="offset points", xytext=(4, 4), fontsize=8)
        axes[0].set_xlabel("cumulated number of rows merged (labels: number of clusters)")
    else:
        axes[0].plot(levels, entropies, marker="o")
        axes[0].set_xlabel("number of clusters")
    axes[0].set_ylabel("entropy")
    axes[0].set_title("entropy of the combined solutions")
    axes[1].bar(levels[1:], merging.entropy_changes(normalized=normalized), color="tab:gray")
    axes[1].set_xlabel("number of clusters after the merge")
    axes[1].set_ylabel("entropy decrease per row merged" if normalized else "entropy decrease")
    axes[1].set_title("normalised entropy change" if normalized else "entropy change")
    from matplotlib.ticker import MaxNLocator  # optional

    for ax in axes[int(normalized):]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # numbers of clusters are counts
    for ax in axes:
        ax.grid(alpha=0.3)
    return axes[0].figure
