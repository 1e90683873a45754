"""Embedded demo data (Old Faithful) and a generator with known parameters."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from .estimators.validation import as_generator


def load_faithful() -> tuple[np.ndarray, list[str]]:
    """The Old Faithful eruptions (R's ``datasets::faithful``; PRML Figure 9.8's example).

    Returns the (272, 2) float64 array of eruption duration and waiting time (minutes), and
    the two column names.
    """
    text = resources.files("mixfit").joinpath("data/faithful.csv").read_text()
    header, *rows = text.strip().splitlines()
    X = np.array([[float(v) for v in row.split(",")] for row in rows])
    return X, header.split(",")


@dataclass(frozen=True)
class MixtureParameters:
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    covariances: np.ndarray  # (K, D, D)


# The worked example of the tutorial the project grew from: N = 1000 points, D = 2, K = 3.
TUTORIAL = MixtureParameters(
    weights=np.array([0.15, 0.35, 0.5]),
    means=np.array([[-3.0, 2.0], [4.0, 2.0], [3.0, 1.0]]),
    covariances=np.array([[[1.0, 0.2], [0.2, 2.0]], [[0.8, -1.0], [-1.0, 1.3]], [[1.5, 1.4], [1.4, 1.5]]]),
)


def make_mixture(params: MixtureParameters, n_samples: int, random_state=None):
    """Draw ``n_samples`` rows from a full-covariance Gaussian mixture; returns (X, labels)."""
    rng = as_generator(random_state)
    labels = rng.choice(len(params.weights), size=n_samples, p=params.weights)
    factors = np.linalg.cholesky(params.covariances)  # (K, D, D), Sigma_k = L_k L_k^T
    z = rng.standard_normal((n_samples, params.means.shape[1]))
    X = params.means[labels] + np.einsum("nij,nj->ni", factors[labels], z)
    return X, labels


def make_tutorial(n_samples: int = 1000, random_state=None):
    """The tutorial's three-component example; returns (X, labels, TUTORIAL)."""
    X, labels = make_mixture(TUTORIAL, n_samples, random_state)
    return X, labels, TUTORIAL
