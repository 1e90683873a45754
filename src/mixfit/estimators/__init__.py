"""scikit-learn estimators: hyper-parameters, validation, params <-> fitted attributes.

The only package that knows scikit-learn's names. It computes nothing itself: fitting is
``engine.fit`` over a ``backends`` source with a ``models`` object; prediction maps the model's
``log_prob_components`` over row chunks.
"""

from .bayesian_gaussian_mixture import BayesianGaussianMixture as BayesianGaussianMixture
from .gaussian_mixture import GaussianMixture as GaussianMixture

__all__ = ["BayesianGaussianMixture", "GaussianMixture"]
