"""The covariance families by name: the only place a family name is read.

Selection, the command line, the model files and the docs take their list of families from
``FAMILIES``; everything downstream of ``make_covariance`` calls the strategy's methods.
"""

from __future__ import annotations

from dataclasses import dataclass

from .diag import DiagCovariance
from .full import FullCovariance
from .precision_priors import GammaDiag, GammaSpherical, WishartFull, WishartTied
from .spherical import SphericalCovariance
from .tied import TiedCovariance


@dataclass(frozen=True)
class Family:
    """One covariance family: what a name stands for.

    ``aliases`` are mclust's names for the same model, recorded for the mclust families to come;
    ``covariance_type`` does not accept them yet.
    """

    name: str
    aliases: tuple[str, ...]
    strategy: type
    precision_prior: type
    description: str

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """The free parameters of the covariances alone."""
        return self.strategy().n_parameters(n_components, n_features)


FAMILIES = (
    Family("full", ("VVV",), FullCovariance, WishartFull,
           "a free covariance matrix per component"),
    Family("tied", ("EEE",), TiedCovariance, WishartTied,
           "one covariance matrix shared by every component"),
    Family("diag", ("VVI",), DiagCovariance, GammaDiag,
           "a diagonal covariance matrix per component (axis-aligned ellipsoids)"),
    Family("spherical", ("VII",), SphericalCovariance, GammaSpherical,
           "one variance per component (spheres of their own size)"),
)
_BY_NAME = {family.name: family for family in FAMILIES}
COVARIANCE_TYPES = tuple(_BY_NAME)


def family(name: str) -> Family:
    """The family called ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not one of ``COVARIANCE_TYPES``.
    """
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"covariance_type={name!r} is not one of {list(COVARIANCE_TYPES)}") from None


def covariance_types(names) -> list[str]:
    """A sweep's families: one name or an iterable of distinct names, each checked.

    Parameters
    ----------
    names : str or iterable of str

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If the list is empty, repeats a name, or holds an unknown one.
    """
    types = [names] if isinstance(names, str) else list(names)
    if not types or len(set(types)) != len(types):
        raise ValueError(f"covariance_types={names!r}; expected distinct covariance types")
    for name in types:
        family(name)
    return types


def make_covariance(name: str):
    """The covariance strategy for ``name``.

    Parameters
    ----------
    name : str
        One of ``COVARIANCE_TYPES``.

    Returns
    -------
    strategy
        A new strategy object of the family (stateless: one per fit is enough).
    """
    return family(name).strategy()


def make_precision_prior(covariance):
    """The conjugate precision prior matching a covariance strategy.

    Parameters
    ----------
    covariance : strategy
        A strategy made by ``make_covariance``.

    Returns
    -------
    prior
        The family's precision-prior strategy, built on ``covariance``.
    """
    return family(covariance.name).precision_prior(covariance)


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of a Gaussian mixture: K - 1 weights, K D means and the family's own.

    Parameters
    ----------
    n_components, n_features : int
        K and D.
    covariance_type : str
        One of ``COVARIANCE_TYPES``.

    Returns
    -------
    int
        The count the information criteria charge for.
    """
    return mixture_parameters(make_covariance(covariance_type), n_components, n_features)


def mixture_parameters(covariance, n_components: int, n_features: int) -> int:
    """``n_parameters`` for a strategy: the one definition, which the models' counts call.

    Parameters
    ----------
    covariance : strategy
        A strategy made by ``make_covariance``.
    n_components, n_features : int
        K and D.

    Returns
    -------
    int
    """
    return n_components - 1 + n_components * n_features + covariance.n_parameters(n_components, n_features)
