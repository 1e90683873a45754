"""
Gaussian vs Student-t mixture on data with gross outliers
=========================================================

Three clusters of 400 rows each, plus 5 % gross outliers drawn uniformly from a box 20 times the
clean data's standard deviation wide. A Gaussian mixture must give every outlier to some
component, whose mean and covariance then stretch to hold it (or spends a component on the
outliers); the Student-t mixture (``StudentMixture``, docs: "EM for mixtures of Student-t
distributions") gives each row a latent scale u_n whose posterior mean is small far from its
component, so the outliers barely move the fit. The right panel colours each row by
``expected_scale`` and circles the rows beyond their component's F-distribution threshold.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

from mixfit import GaussianMixture, StudentMixture

rng = np.random.default_rng(0)
true_means = np.array([[0.0, 0.0], [8.0, 0.0], [4.0, 7.0]])
clean = np.vstack([rng.multivariate_normal(m, [[1.0, 0.3], [0.3, 0.8]], size=400) for m in true_means])
centre, sd = clean.mean(axis=0), clean.std(axis=0)
outliers = centre + (rng.random((63, 2)) - 0.5) * 20 * sd  # 63 / 1263 = 5 %
X = np.vstack([clean, outliers])

# Five starts each, the best likelihood kept: k-means centres are themselves pulled by the
# outliers, and a single start may leave EM (Gaussian or t) in a poor local optimum.
gm = GaussianMixture(3, n_init=5, random_state=0).fit(X)
tm = StudentMixture(3, n_init=5, random_state=0).fit(X)


def error(means):
    """Mean distance of each true mean to the nearest fitted one."""
    return np.linalg.norm(true_means[:, None] - means[None], axis=2).min(axis=1).mean()


print(f"mean error: Gaussian {error(gm.means_):.3f}, Student-t {error(tm.means_):.3f}")
print("degrees of freedom", np.round(tm.degrees_of_freedom_, 2))


def draw(ax, means, covariances, title):
    for mean, cov in zip(means, covariances):
        values, vectors = np.linalg.eigh(cov)
        angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
        width, height = 2 * 2 * np.sqrt(values[::-1])
        ax.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, lw=1.5, color="k"))
        ax.plot(*mean, "k+", ms=12)
    ax.plot(*true_means.T, "rx", ms=8, label="true means")
    ax.set_title(title)
    ax.set_aspect("equal")


fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharex=True, sharey=True)
axes[0].scatter(X[:, 0], X[:, 1], c=gm.predict(X), cmap="viridis", s=6, alpha=0.6)
draw(axes[0], gm.means_, gm.covariances_, f"GaussianMixture (mean error {error(gm.means_):.2f})")
scale = tm.expected_scale(X)
flagged = tm.mahalanobis(X) > tm.mahalanobis_threshold(alpha=0.001)[tm.predict(X)]
points = axes[1].scatter(X[:, 0], X[:, 1], c=scale, cmap="magma", s=6, vmin=0, vmax=1.5)
axes[1].scatter(X[flagged, 0], X[flagged, 1], s=40, facecolors="none", edgecolors="tab:blue", lw=0.8,
                label="beyond the F threshold")
draw(axes[1], tm.means_, tm.covariances_, f"StudentMixture (mean error {error(tm.means_):.2f})")
axes[1].legend(loc="lower left", fontsize=8)
fig.colorbar(points, ax=axes[1], label="E[u_n | x_n]")
plt.show()
