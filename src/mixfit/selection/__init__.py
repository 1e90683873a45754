"""Model selection: tables over (K x covariance family x method) and ``GaussianMixtureIC``."""

from .compare import compare_models as compare_models
from .gaussian_mixture_ic import GaussianMixtureIC as GaussianMixtureIC
from .result import Cell as Cell
from .result import SelectionResult as SelectionResult
from .tables import select_bernoulli as select_bernoulli
from .tables import select_model as select_model

__all__ = ["Cell", "GaussianMixtureIC", "SelectionResult", "compare_models", "select_bernoulli", "select_model"]
