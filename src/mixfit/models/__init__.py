"""One final class per model: accumulate / maximize / objective / log_prob_components."""

from .gaussian_em import GaussianEM as GaussianEM
from .gaussian_em import GaussianParams as GaussianParams

__all__ = ["GaussianEM", "GaussianParams"]
