"""
Choosing K with BIC
===================

Fit EM for K = 1..6 and each covariance type on Old Faithful and plot the BIC,
:math:`-2 \\ln \\hat L + p \\ln n`. This is scikit-learn's sign: lower is better (mclust reports
the negative, where higher is better).
"""

import matplotlib.pyplot as plt
import numpy as np

from mixfit import GaussianMixture
from mixfit.datasets import load_faithful

X, _ = load_faithful()
ks = np.arange(1, 7)
fig, ax = plt.subplots(figsize=(6, 4))
for covariance_type in ("full", "tied", "diag", "spherical"):
    bic = [GaussianMixture(k, covariance_type=covariance_type, n_init=3, random_state=0).fit(X).bic(X)
           for k in ks]
    ax.plot(ks, bic, "o-", label=covariance_type)
    print(f"{covariance_type:9s} best K = {ks[int(np.argmin(bic))]}")
ax.set_xlabel("number of components K")
ax.set_ylabel("BIC (lower is better)")
ax.legend()
plt.show()
