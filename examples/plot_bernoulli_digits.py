"""
Bernoulli mixture of binarised digits
=====================================

Binarise scikit-learn's 8 x 8 digits (pixel > 7), fit a :class:`~mixfit.BernoulliMixture` with
ten components by EM (the posterior mode under the default Beta(2, 2) prior) and by variational
Bayes, and draw each component's success probabilities as an image: the mixture finds the digit
shapes without labels. Held-out, both beat a single product of Bernoullis by several nats per row,
because a mixture captures the correlations between pixels that one product cannot.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from mixfit import BernoulliMixture

X = load_digits().data > 7
order = np.random.default_rng(0).permutation(X.shape[0])
train, test = X[order[:1300]], X[order[1300:]]

em = BernoulliMixture(n_components=10, n_init=3, random_state=0).fit(train)
vb = BernoulliMixture(n_components=10, method="vb", n_init=3, random_state=0).fit(train)
single = BernoulliMixture(n_components=1).fit(train)
print(f"held-out log-likelihood per row: single {single.score(test):.2f}, "
      f"EM {em.score(test):.2f}, VB {vb.score(test):.2f}")

fig, axes = plt.subplots(2, 10, figsize=(12, 3))
for row, (name, model) in enumerate([("EM", em), ("VB", vb)]):
    for ax, k in zip(axes[row], np.argsort(model.weights_)[::-1]):
        ax.imshow(model.means_[k].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{model.weights_[k]:.2f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[row, 0].set_ylabel(name)
fig.suptitle("success probabilities of each component (title: its weight)")
plt.tight_layout()
