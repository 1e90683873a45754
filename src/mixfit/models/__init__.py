"""One final class per model: accumulate / maximize / objective / log_prob_components."""

from .gaussian_em import GaussianEM as GaussianEM
from .gaussian_em import GaussianParams as GaussianParams
from .gaussian_vb import GaussianVB as GaussianVB
from .gaussian_vb import VBParams as VBParams

__all__ = ["GaussianEM", "GaussianParams", "GaussianVB", "VBParams"]
