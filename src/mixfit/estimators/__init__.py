"""scikit-learn estimators: hyper-parameters, validation, params <-> fitted attributes.

The only package that knows scikit-learn's names. It computes nothing itself: fitting is
``engine.fit`` over a ``backends`` source with a ``models`` object; prediction maps the model's
``log_prob_components`` over row chunks.
"""

from .bayesian_gaussian_mixture import BayesianGaussianMixture as BayesianGaussianMixture
from .bernoulli_mixture import BernoulliMixture as BernoulliMixture
from .gaussian_mixture import GaussianMixture as GaussianMixture
from .hmm import GaussianHMM as GaussianHMM
from .hmm_bernoulli import BernoulliHMM as BernoulliHMM
from .hmm_categorical import CategoricalHMM as CategoricalHMM
from .hmm_gmm import GMMHMM as GMMHMM
from .hmm_multinomial import MultinomialHMM as MultinomialHMM
from .hmm_poisson import PoissonHMM as PoissonHMM
from .hmm_vb import VariationalGaussianHMM as VariationalGaussianHMM
from .hmm_vb_categorical import VariationalCategoricalHMM as VariationalCategoricalHMM
from .hsmm import CategoricalHSMM as CategoricalHSMM
from .hsmm import GaussianHSMM as GaussianHSMM
from .hsmm_poisson import PoissonHSMM as PoissonHSMM
from .imputer import GaussianMixtureImputer as GaussianMixtureImputer
from .many import fit_many as fit_many
from .regressor import GaussianMixtureRegressor as GaussianMixtureRegressor
from .student_mixture import StudentMixture as StudentMixture

__all__ = ["GMMHMM", "BayesianGaussianMixture", "BernoulliHMM", "BernoulliMixture", "CategoricalHMM", "CategoricalHSMM",
           "GaussianHMM", "GaussianHSMM", "GaussianMixture", "GaussianMixtureImputer", "GaussianMixtureRegressor",
           "MultinomialHMM", "PoissonHMM", "PoissonHSMM", "StudentMixture", "VariationalCategoricalHMM", "VariationalGaussianHMM",
           "fit_many"]
