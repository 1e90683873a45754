"""
Gaussian mixture regression of a noisy curve and of a two-branch relation
=========================================================================

:class:`~mixfit.GaussianMixtureRegressor` fits one Gaussian mixture to the joint rows [x, y] and
predicts E[y | x]: a blend of the components' local linear regressions, each weighted by how well
its component explains x (see the derivation, "Gaussian mixture regression"). On a noisy sine it
follows the curve where a line cannot; ``return_std`` gives the spread of p(y | x).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LinearRegression

from mixfit import GaussianMixtureRegressor

rng = np.random.default_rng(0)
x = rng.uniform(-3, 3, (400, 1))
y = np.sin(2 * x[:, 0]) + 0.15 * rng.standard_normal(400)

gmr = GaussianMixtureRegressor(n_components=8, random_state=0).fit(x, y)
line = LinearRegression().fit(x, y)
grid = np.linspace(-3, 3, 300)[:, None]
mean, std = gmr.predict(grid, return_std=True)
print(f"R^2 on the training rows: mixture {gmr.score(x, y):.3f}, line {line.score(x, y):.3f}")

fig, ax = plt.subplots(figsize=(7, 4))
ax.scatter(x[:, 0], y, s=6, color="0.6", label="data")
ax.plot(grid[:, 0], mean, color="tab:blue", label="GMR: E[y | x]")
ax.fill_between(grid[:, 0], mean - 2 * std, mean + 2 * std, color="tab:blue", alpha=0.2, label="± 2 std of p(y | x)")
ax.plot(grid[:, 0], line.predict(grid), color="tab:red", ls="--", label="linear regression")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="lower left", fontsize=8)
ax.set_title("y = sin(2x) + noise")
plt.tight_layout()
plt.show()

# %%
# A relation with two branches
# ----------------------------
# Where y takes two values for one x (here x = y^2 / 2 + noise, so y = ± sqrt(2x)), no function of
# x fits the data: the conditional mean falls between the branches, as least squares must, and the
# standard deviation reports the gap. The conditional mixture itself keeps both branches:
# ``GaussianMixture.condition`` at one x gives its components, and ``sample_y`` draws from it.

y2 = rng.uniform(-2, 2, 500)
x2 = (y2**2 / 2 + 0.05 * rng.standard_normal(500))[:, None]
branches = GaussianMixtureRegressor(n_components=6, random_state=0).fit(x2, y2)
grid2 = np.linspace(0.05, 2, 200)[:, None]
mean2, std2 = branches.predict(grid2, return_std=True)
draws = branches.sample_y(grid2, 20, random_state=1)  # (200, 20)
at_one = branches.mixture_.condition([0], [1.0])  # p(y | x = 1): a 1-D mixture over y
print("p(y | x = 1): weights", np.round(at_one.weights_, 3), "means", np.round(at_one.means_[:, 0], 2))

fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(10, 4))
ax_a.scatter(x2[:, 0], y2, s=6, color="0.6", label="data")
ax_a.scatter(np.repeat(grid2[:, 0], 20), draws.ravel(), s=2, color="tab:green", alpha=0.3,
             label="draws of p(y | x)")
ax_a.plot(grid2[:, 0], mean2, color="tab:blue", label="E[y | x]")
ax_a.plot(grid2[:, 0], mean2 + 2 * std2, color="tab:blue", ls=":", label="± 2 std")
ax_a.plot(grid2[:, 0], mean2 - 2 * std2, color="tab:blue", ls=":")
ax_a.plot(grid2[:, 0], LinearRegression().fit(x2, y2).predict(grid2), color="tab:red", ls="--",
          label="linear regression")
ax_a.set_xlabel("x")
ax_a.set_ylabel("y")
ax_a.legend(loc="lower left", fontsize=8)
ax_a.set_title("two branches: the mean falls between them")

ys = np.linspace(-2.5, 2.5, 400)[:, None]
ax_b.plot(ys[:, 0], np.exp(at_one.score_samples(ys)), color="tab:green")
ax_b.axvline(np.sqrt(2), color="k", lw=0.8, ls="--")
ax_b.axvline(-np.sqrt(2), color="k", lw=0.8, ls="--")
ax_b.set_xlabel("y")
ax_b.set_ylabel("p(y | x = 1)")
ax_b.set_title("the conditional mixture at x = 1 (dashed: ± sqrt 2)")
plt.tight_layout()
plt.show()
