"""mixfit: mixture models by EM and variational Bayes, on one sufficient-statistics seam."""

from .backends import batches as batches
from .estimators import GMMHMM as GMMHMM
from .estimators import BayesianGaussianMixture as BayesianGaussianMixture
from .estimators import BernoulliHMM as BernoulliHMM
from .estimators import BernoulliMixture as BernoulliMixture
from .estimators import CategoricalHMM as CategoricalHMM
from .estimators import CategoricalHSMM as CategoricalHSMM
from .estimators import GaussianHMM as GaussianHMM
from .estimators import GaussianHSMM as GaussianHSMM
from .estimators import GaussianMixture as GaussianMixture
from .estimators import GaussianMixtureImputer as GaussianMixtureImputer
from .estimators import GaussianMixtureRegressor as GaussianMixtureRegressor
from .estimators import MultinomialHMM as MultinomialHMM
from .estimators import PoissonHMM as PoissonHMM
from .estimators import PoissonHSMM as PoissonHSMM
from .estimators import StudentMixture as StudentMixture
from .estimators import VariationalCategoricalHMM as VariationalCategoricalHMM
from .estimators import VariationalGaussianHMM as VariationalGaussianHMM
from .estimators.many import fit_many as fit_many
from .estimators.priors import ConjugatePrior as ConjugatePrior
from .exceptions import CollapsedComponentError as CollapsedComponentError
from .exceptions import CollapseWarning as CollapseWarning
from .modelfile import load as load
from .selection import BootstrapResult as BootstrapResult
from .selection import ComponentMerging as ComponentMerging
from .selection import GaussianMixtureIC as GaussianMixtureIC
from .selection import bootstrap as bootstrap
from .selection import compare_models as compare_models
from .selection import merge_components as merge_components
from .selection import select_bernoulli as select_bernoulli
from .selection import select_model as select_model

__all__ = [
    "GMMHMM",
    "BayesianGaussianMixture",
    "BernoulliHMM",
    "BernoulliMixture",
    "BootstrapResult",
    "CategoricalHMM",
    "CategoricalHSMM",
    "CollapseWarning",
    "CollapsedComponentError",
    "ComponentMerging",
    "ConjugatePrior",
    "GaussianHMM",
    "GaussianHSMM",
    "GaussianMixture",
    "GaussianMixtureIC",
    "GaussianMixtureImputer",
    "GaussianMixtureRegressor",
    "MultinomialHMM",
    "PoissonHMM",
    "PoissonHSMM",
    "StudentMixture",
    "VariationalCategoricalHMM",
    "VariationalGaussianHMM",
    "batches",
    "bootstrap",
    "compare_models",
    "fit_many",
    "load",
    "merge_components",
    "select_bernoulli",
    "select_model",
]
from ._version import __version__ as __version__
