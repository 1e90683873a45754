"""Model selection: tables over (K x covariance family x method) and ``GaussianMixtureIC``;
after selection, merging components into clusters and the bootstrap of the parameters."""

from .bernoulli_tables import select_bernoulli as select_bernoulli
from .bootstrap import BootstrapResult as BootstrapResult
from .bootstrap import bootstrap as bootstrap
from .compare import compare_models as compare_models
from .gaussian_mixture_ic import GaussianMixtureIC as GaussianMixtureIC
from .merging import ComponentMerging as ComponentMerging
from .merging import merge_components as merge_components
from .result import Cell as Cell
from .result import SelectionResult as SelectionResult
from .tables import select_model as select_model

__all__ = ["BootstrapResult", "Cell", "ComponentMerging", "GaussianMixtureIC", "SelectionResult", "bootstrap",
           "compare_models", "merge_components", "select_bernoulli", "select_model"]
