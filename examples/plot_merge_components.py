"""
Merging components into clusters
================================

BIC picks the number of Gaussian *components* that describe the density best; a cluster that is
not Gaussian (here a uniform square and a curved band) then takes several components.
``mixfit.merge_components`` merges them (Baudry et al. 2010, mclust's ``clustCombi``): at each
step the pair of clusters whose union most lowers the entropy of the posterior probabilities.
The entropy plots show an elbow at the number of clusters: after it, each merge removes much
more entropy per row merged.
"""

import matplotlib.pyplot as plt
import numpy as np

from mixfit import GaussianMixture, merge_components
from mixfit.plot import plot_ellipses

rng = np.random.default_rng(20261206)
square = rng.uniform(-1.0, 1.0, (200, 2))
angle = rng.uniform(0.0, np.pi, 200)
radius = 3.0 + rng.normal(0.0, 0.25, 200)
band = np.column_stack([radius * np.cos(angle), radius * np.sin(angle) - 5.5])
X = np.vstack([square, band])

# Six components: BIC spends several on each shape.
model = GaussianMixture(6, covariance_type="EEV", n_init=3, random_state=0).fit(X)
merging = merge_components(model, X)
print("entropy by number of clusters:", dict(zip(merging.n_clusters.tolist(), merging.entropies.round(1).tolist())))
for m in (6, 4, 2):
    print(f"{m} clusters:", merging.clusters(m))

fig, axes = plt.subplots(2, 2, figsize=(10, 8.5), layout="constrained")
plot_ellipses(model, X, ax=axes[0, 0])
labels = merging.predict(2)
axes[0, 1].scatter(X[:, 0], X[:, 1], c=labels, cmap="tab10", vmax=9, s=8)
axes[0, 1].set_title(f"2 clusters: components {merging.clusters(2)}")
merging.plot(normalized=True, axes=axes[1])
print("rows per cluster (square: first 200):", np.bincount(merging.predict(2)[:200], minlength=2), np.bincount(merging.predict(2)[200:], minlength=2))
plt.show()
