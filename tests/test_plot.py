"""Figures: the expected artists, on the Agg backend."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.contour import ContourSet
from matplotlib.patches import Ellipse

import mixfit
from mixfit import plot
from mixfit.datasets import load_faithful

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def X():
    return load_faithful()[0]


@pytest.fixture(scope="module")
def em(X):
    return mixfit.GaussianMixture(2, random_state=0).fit(X)


@pytest.fixture(scope="module")
def vb(X):
    return mixfit.BayesianGaussianMixture(n_components=4, random_state=0).fit(X)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def ellipses(ax):
    return [p for p in ax.patches if isinstance(p, Ellipse)]


@pytest.mark.parametrize("levels", [(1, 2), (1,), (1, 2, 3)], ids=["1-2sd", "1sd", "1-2-3sd"])
def test_one_ellipse_per_component_per_level(em, X, levels):
    ax = plot.plot_ellipses(em, X, levels=levels)
    assert len(ellipses(ax)) == em.n_components * len(levels)
    assert ax.get_xlabel() and ax.get_ylabel()


def test_the_one_sd_ellipse_has_the_covariance_s_axes(em, X):
    ax = plot.plot_ellipses(em, X, levels=(1,))
    for patch, cov in zip(ellipses(ax), em.covariances_):
        values = np.linalg.eigvalsh(cov)  # the ellipse's semi-axes are sqrt(eigenvalues)
        np.testing.assert_allclose(sorted([patch.width, patch.height]), 2 * np.sqrt(values), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_full_covariances_agree_with_covariances_for_every_type(covariance_type, X):
    model = mixfit.GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    C = model.covariances_
    D = X.shape[1]
    expected = {
        "full": lambda: C,
        "tied": lambda: np.broadcast_to(C, (3, D, D)),
        "diag": lambda: np.stack([np.diag(c) for c in C]),
        "spherical": lambda: C[:, None, None] * np.eye(D),
    }[covariance_type]()
    # Polarisation and a Cholesky solve, in float64: rounding only.
    np.testing.assert_allclose(plot.full_covariances(model), expected, rtol=1e-9, atol=1e-12)


def test_more_than_two_features_are_drawn_on_principal_axes(X):
    rng = np.random.default_rng(0)
    X4 = np.column_stack([X, rng.standard_normal((X.shape[0], 2))])
    model = mixfit.GaussianMixture(2, covariance_type="diag", random_state=0).fit(X4)
    ax = plot.plot_ellipses(model, X4)
    assert len(ellipses(ax)) == 4
    assert "principal" in ax.get_xlabel()
    ax = plot.plot_ellipses(model, X4, features=(1, 3))
    assert ax.get_xlabel() == "x2" and ax.get_ylabel() == "x4"


def test_inactive_components_can_be_left_out(vb, X):
    ax = plot.plot_ellipses(vb, X, min_weight=0.01)
    assert len(ellipses(ax)) == 2 * int(np.sum(vb.weights_ > 0.01))


def test_convergence_draws_the_history(em):
    ax = plot.plot_convergence(em)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), em.lower_bounds_)
    assert "log-likelihood" in ax.get_ylabel()


def test_uncertainty_has_a_point_per_row(em, X):
    ax = plot.plot_uncertainty(em, X)
    (points,) = ax.collections
    assert points.get_offsets().shape == X.shape
    uncertainty = np.sort(points.get_array())
    np.testing.assert_allclose(uncertainty, np.sort(1 - em.predict_proba(X).max(axis=1)))


def test_density_contours_of_the_predictive_density(vb, X):
    ax = plot.plot_density(vb, X)
    assert any(isinstance(c, ContourSet) for c in ax.collections)
    assert "predictive" in ax.get_title()


def test_density_needs_two_features(X):
    X3 = np.column_stack([X, X[:, 0]])
    model = mixfit.GaussianMixture(1, random_state=0).fit(X3)
    with pytest.raises(ValueError, match="2 features"):
        plot.plot_density(model, X3)


def test_selection_curves_one_line_per_covariance_type_and_the_best_starred():
    rows = [{"n_components": k, "covariance_type": ct, "bic": (k - 3) ** 2 + i}
            for i, ct in enumerate(["full", "diag"]) for k in range(1, 6)]
    ax = plot.plot_selection(rows)
    assert len(ax.get_lines()) == 2
    (star,) = ax.collections
    np.testing.assert_array_equal(star.get_offsets()[0], [3, 0])  # K = 3, full: the smallest BIC
    columns = {key: [row[key] for row in rows] for key in rows[0]}  # the same table as columns
    ax = plot.plot_selection(columns, criterion="bic", lower_is_better=False)
    np.testing.assert_array_equal(ax.collections[0].get_offsets()[0], [1, 5])


def test_plot_fit_returns_the_figure_with_its_panels(vb, X):
    fig = plot.plot_fit(vb, X, density=True, uncertainty=True, min_weight=0.01)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"]) == 3
