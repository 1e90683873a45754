"""mixfit: mixture models by EM and variational Bayes, on one sufficient-statistics seam."""

from .estimators import GaussianMixture as GaussianMixture
from .exceptions import CollapsedComponentError as CollapsedComponentError

__all__ = ["CollapsedComponentError", "GaussianMixture"]
__version__ = "0.1.0"
