"""A StudentMixture in the figures: its scale matrices' ellipses, the outlier-score panel and the
command line's plot, on the Agg backend."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.patches import Ellipse
from scipy.stats import f as f_distribution

import mixfit
from mixfit import GaussianMixture, StudentMixture, plot


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    clean = np.vstack([rng.normal([0.0, 0.0], [1.0, 0.5], (80, 2)), rng.normal([6.0, 2.0], [0.6, 1.2], (80, 2))])
    return np.vstack([clean, [[30.0, -20.0], [-25.0, 25.0]]])  # two gross outliers


@pytest.fixture(scope="module")
def t_fit(data):
    # from the clusters' centres: k-means on 162 rows may seed a component on one outlier
    return StudentMixture(2, means_init=[[0.0, 0.0], [6.0, 2.0]], random_state=0).fit(data)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_ellipses_are_the_scale_matrices(data, covariance_type):
    """Each ellipse's axes are 2 r sqrt(eigenvalues) of Sigma_k from numpy's eigvalsh of the
    scale matrix built from ``covariances_`` (not the t covariance Sigma nu / (nu - 2))."""
    model = StudentMixture(2, covariance_type=covariance_type, random_state=0).fit(data)
    ax = plot.plot_ellipses(model, data, levels=(1, 2))
    cov = np.asarray(model.covariances_)
    full = {"full": lambda: cov, "diag": lambda: np.stack([np.diag(c) for c in cov]),
            "spherical": lambda: np.stack([c * np.eye(2) for c in cov])}[covariance_type]()
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 4
    for k in range(2):
        small, large = np.linalg.eigvalsh(full[k])
        for level, patch in zip((1, 2), ellipses[2 * k:2 * k + 2]):
            # plotting precision: matplotlib stores the floats as given
            np.testing.assert_allclose([patch.width, patch.height],
                                       [2 * level * np.sqrt(large), 2 * level * np.sqrt(small)], rtol=1e-10)
    assert "scale matrices" in ax.get_title()


def test_outlier_panel_colours_by_expected_scale_and_circles_the_f_exceedances(data, t_fit):
    ax = plot.plot_outliers(t_fit, data, alpha=0.01)
    scores, circles = ax.collections[0], ax.collections[1]
    # the colour values are E[u | x], drawn in decreasing order
    np.testing.assert_allclose(np.sort(scores.get_array()), np.sort(t_fit.expected_scale(data)), rtol=1e-12)
    # the circled rows: delta_n / D beyond the F(D, nu_k) quantile of the assigned component,
    # recomputed here from scipy's F distribution and numpy's solve
    labels = t_fit.predict(data)
    cov, means = t_fit.covariances_, t_fit.means_
    delta = np.array([(x - means[k]) @ np.linalg.solve(cov[k], x - means[k]) for x, k in zip(data, labels)])
    limit = 2 * f_distribution.ppf(0.99, 2, t_fit.degrees_of_freedom_[labels])
    expected = data[delta > limit]
    np.testing.assert_allclose(np.sort(circles.get_offsets(), axis=0), np.sort(expected, axis=0), rtol=1e-12)
    assert len(expected) >= 1
    # the two gross outliers have the smallest scores
    assert set(np.argsort(t_fit.expected_scale(data))[:2]) == {160, 161}


def test_outlier_panel_refuses_a_gaussian_mixture(data):
    with pytest.raises(TypeError, match="StudentMixture"):
        plot.plot_outliers(GaussianMixture(2, random_state=0).fit(data), data)


def test_plot_fit_with_the_outlier_panel(data, t_fit):
    fig = plot.plot_fit(t_fit, data, uncertainty=True, outliers=True, density=True)
    titles = [ax.get_title() for ax in fig.axes]
    assert "outlier scores" in titles and "classification uncertainty" in titles
    with pytest.raises(ValueError, match="needs 4"):
        plot.plot_fit(t_fit, data, uncertainty=True, outliers=True, axes=plt.subplots(1, 3)[1])


def test_cli_plot_draws_the_outlier_panel(tmp_path, data, t_fit):
    testing = pytest.importorskip("click.testing")
    from mixfit.cli import cli

    rows = tmp_path / "rows.csv"
    np.savetxt(rows, data, delimiter=",")
    t_fit.save(tmp_path / "t.mixfit")
    out = tmp_path / "t.png"
    result = testing.CliRunner().invoke(cli, ["plot", str(tmp_path / "t.mixfit"), str(rows), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
    assert isinstance(mixfit.load(tmp_path / "t.mixfit"), StudentMixture)
