"""Shared fixtures: a seeded generator, mixtures with known parameters, and starts in
scikit-learn's ``*_init`` format for every covariance type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


@dataclass(frozen=True)
class KnownMixture:
    """A Gaussian mixture given by its parameters (full covariances, (K, D, D))."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    @property
    def n_components(self) -> int:
        return self.weights.shape[0]

    def sample(self, n_samples: int, rng: np.random.Generator):
        """n_samples rows and their component labels, rows in random order."""
        counts = rng.multinomial(n_samples, self.weights)
        labels = np.repeat(np.arange(self.n_components), counts)
        rng.shuffle(labels)
        X = np.empty((n_samples, self.means.shape[1]))
        for k in range(self.n_components):
            rows = labels == k
            X[rows] = rng.multivariate_normal(self.means[k], self.covariances[k], size=rows.sum())
        return X, labels


# The tutorial example of the issue: N=1000, D=2, K=3.
TUTORIAL = KnownMixture(
    weights=np.array([0.15, 0.35, 0.5]),
    means=np.array([[-3.0, 2.0], [4.0, 2.0], [3.0, 1.0]]),
    covariances=np.array([
        [[1.0, 0.2], [0.2, 2.0]],
        [[0.8, -1.0], [-1.0, 1.3]],
        [[1.5, 1.4], [1.4, 1.5]],
    ]),
)

# Three well separated components in D=3, with unequal weights and anisotropic covariances:
# EM from a nearby start converges in a few dozen iterations to a well-conditioned optimum.
SEPARATED = KnownMixture(
    weights=np.array([0.2, 0.3, 0.5]),
    means=np.array([[0.0, 0.0, 0.0], [6.0, 1.0, -2.0], [-3.0, 7.0, 3.0]]),
    covariances=np.array([
        [[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 0.8]],
        [[2.0, -0.4, 0.2], [-0.4, 1.0, 0.0], [0.2, 0.0, 0.4]],
        [[0.6, 0.0, 0.0], [0.0, 1.5, 0.5], [0.0, 0.5, 1.2]],
    ]),
)


@pytest.fixture
def rng():
    """A fresh, seeded generator per test: every test is reproducible on its own."""
    return np.random.default_rng(20240617)


@pytest.fixture
def tutorial():
    return TUTORIAL


@pytest.fixture
def separated():
    return SEPARATED


def perturbed_start(mixture: KnownMixture, covariance_type: str, rng: np.random.Generator):
    """``weights_init``, ``means_init``, ``precisions_init`` (scikit-learn's format for
    ``covariance_type``) near, but not at, the mixture's parameters."""
    K, D = mixture.means.shape
    weights = mixture.weights + rng.uniform(0.0, 0.1, size=K)
    weights /= weights.sum()
    means = mixture.means + rng.normal(scale=0.3, size=(K, D))
    scale = rng.uniform(0.7, 1.4, size=K)
    covariances = mixture.covariances * scale[:, None, None]
    if covariance_type == "full":
        precisions = np.linalg.inv(covariances)
    elif covariance_type == "tied":
        precisions = np.linalg.inv(covariances.mean(axis=0))
    elif covariance_type == "diag":
        precisions = 1.0 / np.diagonal(covariances, axis1=1, axis2=2)
    else:
        precisions = 1.0 / np.diagonal(covariances, axis1=1, axis2=2).mean(axis=1)
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


@pytest.fixture
def make_start():
    """perturbed_start(mixture, covariance_type, rng) as a fixture."""
    return perturbed_start


@pytest.fixture
def sample_weight_for():
    """Positive, non-integer weights for n rows (a nontrivial weighting, none zero)."""

    def make(n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(0.2, 3.0, size=n)

    return make
