"""
Fitting with missing values and imputing them
=============================================

:class:`~mixfit.GaussianMixture` fits rows with missing entries (NaN) by EM over each row's
observed coordinates, and :class:`~mixfit.GaussianMixtureImputer` fills the holes with their
conditional means under the fitted mixture (see the derivation, "EM with missing values" and
"Imputation"). On two branches with opposite slopes, a single regression (scikit-learn's
``IterativeImputer``) fills every hole along the average slope; the mixture fills each along
its own branch.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

from mixfit import GaussianMixtureImputer

rng = np.random.default_rng(0)
first = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], 300)
second = rng.multivariate_normal([4, 4], [[1, -0.9], [-0.9, 1]], 300)
X = np.vstack([first, second])
holes = rng.random(X.shape[0]) < 0.25  # a quarter of the rows lose their second coordinate
holed = X.copy()
holed[holes, 1] = np.nan

ours = GaussianMixtureImputer(n_components=2, random_state=0).fit_transform(holed)
theirs = IterativeImputer(random_state=0).fit_transform(holed)
for name, filled in (("mixture", ours), ("IterativeImputer", theirs)):
    rmse = np.sqrt(np.mean((filled[holes, 1] - X[holes, 1]) ** 2))
    print(f"{name:>18}: RMSE of the filled values {rmse:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharex=True, sharey=True)
for ax, filled, title in ((axes[0], ours, "GaussianMixtureImputer (2 components)"),
                          (axes[1], theirs, "IterativeImputer (one regression)")):
    ax.scatter(*X[~holes].T, s=5, color="0.7", label="complete rows")
    ax.scatter(*X[holes].T, s=8, facecolors="none", edgecolors="tab:green", label="true values of the holes")
    ax.scatter(filled[holes, 0], filled[holes, 1], s=8, color="tab:red", label="filled")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("x0")
axes[0].set_ylabel("x1")
axes[0].legend(fontsize=8, loc="upper left")
fig.tight_layout()
plt.show()
