"""mixfit: mixture models by EM and variational Bayes, on one sufficient-statistics seam."""

from .estimators import BayesianGaussianMixture as BayesianGaussianMixture
from .estimators import BernoulliHMM as BernoulliHMM
from .estimators import BernoulliMixture as BernoulliMixture
from .estimators import CategoricalHMM as CategoricalHMM
from .estimators import GaussianHMM as GaussianHMM
from .estimators import GaussianMixture as GaussianMixture
from .estimators import GaussianMixtureIC as GaussianMixtureIC
from .estimators import VariationalCategoricalHMM as VariationalCategoricalHMM
from .estimators import VariationalGaussianHMM as VariationalGaussianHMM
from .exceptions import CollapsedComponentError as CollapsedComponentError
from .exceptions import CollapseWarning as CollapseWarning
from .io import load as load
from .priors import ConjugatePrior as ConjugatePrior
from .selection import select_bernoulli as select_bernoulli
from .selection import select_model as select_model

__all__ = [
    "BayesianGaussianMixture",
    "BernoulliHMM",
    "BernoulliMixture",
    "CategoricalHMM",
    "CollapseWarning",
    "CollapsedComponentError",
    "ConjugatePrior",
    "GaussianHMM",
    "GaussianMixture",
    "GaussianMixtureIC",
    "VariationalCategoricalHMM",
    "VariationalGaussianHMM",
    "load",
    "select_bernoulli",
    "select_model",
]
__version__ = "0.1.0"
