"""
Explicit state durations: a hidden semi-Markov model
=====================================================

Three states emit Gaussian frames; each visit lasts a number of frames drawn from the state's own
duration law (peaked, unlike an HMM's geometric stays). :class:`~mixfit.GaussianHSMM` with
nonparametric durations recovers the duration tables from 3000 frames: the top panel shows the
data and the decoded state sequence, the bottom the fitted duration pmfs over histograms of the
true segment lengths.
"""

import matplotlib.pyplot as plt
import numpy as np

from mixfit import GaussianHSMM

D = 30
truth = GaussianHSMM(3, duration="negative_binomial", max_duration=D)
truth.startprob_ = np.full(3, 1 / 3)
truth.transmat_ = np.array([[0.0, 0.7, 0.3], [0.5, 0.0, 0.5], [0.6, 0.4, 0.0]])
truth.durations_ = np.array([[20.0, 0.8], [8.0, 0.4], [30.0, 0.7]])  # (r, p) of d - 1
truth.means_ = np.array([[0.0], [2.5], [5.0]])
truth.precisions_cholesky_ = np.ones((3, 1))
truth.n_features_in_ = 1
X, states = truth.sample(3000, random_state=0)

model = GaussianHSMM(3, duration="nonparametric", max_duration=D, random_state=0).fit(X)
decoded = model.predict(X)
order = np.argsort(model.means_[:, 0])  # fitted states sorted by mean, as the true ones are

fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6))
shown = slice(0, 600)
top.plot(np.arange(3000)[shown], X[shown, 0], lw=0.6, color="0.5", label="frames")
top.step(np.arange(3000)[shown], model.means_[decoded[shown], 0], where="mid", color="C3", label="decoded state mean")
top.set(xlabel="frame", ylabel="x", title="Data and Viterbi segmentation (first 600 frames)")
top.legend(loc="upper right")
change = np.flatnonzero(np.diff(states)) + 1
bounds = np.concatenate([[0], change, [len(states)]])
lengths, which = np.diff(bounds)[:-1], states[bounds[:-2]]  # the last segment is cut: left out
d = np.arange(1, D + 1)
for k in range(3):
    top_k = order[k]
    bottom.hist(lengths[which == k], bins=np.arange(0.5, D + 1), density=True, alpha=0.3, color=f"C{k}")
    bottom.plot(d, model.duration_pmf_[top_k], color=f"C{k}", label=f"state {k}: fitted p(d)")
bottom.set(xlabel="segment duration d (frames)", ylabel="probability", title="Durations: true histogram, fitted pmf")
bottom.legend()
fig.tight_layout()
plt.show()
