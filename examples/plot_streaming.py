"""
Online EM on a stream of batches
================================

Rows of the tutorial's three-component mixture arrive in batches of 2000 and are never kept:
each batch goes to :meth:`~mixfit.GaussianMixture.partial_fit`, which takes one step of online
EM (the running sufficient statistics blended with the batch's by a decaying step size, then the
M-step). The held-out log-likelihood per row climbs to that of a batch fit on as many rows, and
the fitted components land on the batch fit's (see the streaming page of the documentation).
"""

import matplotlib.pyplot as plt
import numpy as np

from mixfit import GaussianMixture
from mixfit.datasets import make_tutorial

heldout, _, truth = make_tutorial(n_samples=5000, random_state=0)
online = GaussianMixture(n_components=3, random_state=0)
rows, scores, kept = [], [], []
for t in range(60):
    batch, _, _ = make_tutorial(n_samples=2000, random_state=100 + t)  # made, used, dropped
    online.partial_fit(batch)
    rows.append((t + 1) * 2000)
    scores.append(online.score(heldout))
    if t < 3:
        kept.append(batch)

# The batch fit, for comparison, on as many rows as the stream held (drawn again, in memory)
X = np.vstack([make_tutorial(n_samples=2000, random_state=100 + t)[0] for t in range(60)])
batch_fit = GaussianMixture(n_components=3, random_state=0).fit(X)
print(f"held-out log-likelihood per row: online {scores[-1]:.4f}, batch fit {batch_fit.score(heldout):.4f}")
print(f"steps {online.n_steps_}, rows seen {online.n_seen_:.0f}")

fig, (ax_ll, ax_x) = plt.subplots(1, 2, figsize=(10, 4))
ax_ll.plot(rows, scores, label="online EM (partial_fit)")
ax_ll.axhline(batch_fit.score(heldout), color="k", ls="--", lw=0.8, label="batch EM on all rows")
ax_ll.set_xscale("log")
ax_ll.set_xlabel("rows seen")
ax_ll.set_ylabel("held-out log-likelihood per row")
ax_ll.legend(loc="lower right")

sample = np.vstack(kept)
ax_x.scatter(sample[:, 0], sample[:, 1], s=3, alpha=0.3, color="gray")
ax_x.plot(online.means_[:, 0], online.means_[:, 1], "b+", ms=14, mew=2, label="online means")
ax_x.plot(batch_fit.means_[:, 0], batch_fit.means_[:, 1], "kx", ms=10, mew=2, label="batch means")
ax_x.plot(truth.means[:, 0], truth.means[:, 1], "r.", ms=10, label="true means")
ax_x.legend(loc="lower left")
ax_x.set_title("the first three batches, and the fitted means")
plt.tight_layout()
plt.show()
