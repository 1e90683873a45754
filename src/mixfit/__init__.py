"""mixfit: mixture models by EM and variational Bayes, on one sufficient-statistics seam."""

from .estimators import BayesianGaussianMixture as BayesianGaussianMixture
from .estimators import GaussianMixture as GaussianMixture
from .exceptions import CollapsedComponentError as CollapsedComponentError
from .exceptions import CollapseWarning as CollapseWarning
from .io import load as load
from .priors import ConjugatePrior as ConjugatePrior

__all__ = [
    "BayesianGaussianMixture",
    "CollapseWarning",
    "CollapsedComponentError",
    "ConjugatePrior",
    "GaussianMixture",
    "load",
]
__version__ = "0.1.0"
