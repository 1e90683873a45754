"""One final class per model: accumulate / maximize / objective / log_prob_components."""

from .bernoulli import BernoulliEM as BernoulliEM
from .bernoulli import BernoulliParams as BernoulliParams
from .bernoulli import BernoulliVB as BernoulliVB
from .bernoulli import BernoulliVBParams as BernoulliVBParams
from .gaussian_em import GaussianEM as GaussianEM
from .gaussian_em import GaussianParams as GaussianParams
from .gaussian_vb import GaussianVB as GaussianVB
from .gaussian_vb import VBParams as VBParams

__all__ = ["BernoulliEM", "BernoulliParams", "BernoulliVB", "BernoulliVBParams", "GaussianEM", "GaussianParams", "GaussianVB", "VBParams"]
