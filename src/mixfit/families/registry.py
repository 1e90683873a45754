"""The covariance families by name: the only place a family name is read.

Selection, the command line, the model files and the docs take their list of families from
``FAMILIES``; everything downstream of ``make_covariance`` calls the strategy's methods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .diag import DiagCovariance
from .full import FullCovariance
from .mclust import (
    EEICovariance,
    EEVCovariance,
    EIICovariance,
    EVECovariance,
    EVICovariance,
    EVVCovariance,
    NoPrecisionPrior,
    VEECovariance,
    VEICovariance,
    VEVCovariance,
    VVECovariance,
    shared_per_component,
    spherical_per_component,
)
from .mclust_msteps import decompose
from .mclust_priors import MclustPrior, NoMclustPrior
from .precision_priors import GammaDiag, GammaSpherical, WishartFull, WishartTied
from .spherical import SphericalCovariance
from .tied import TiedCovariance


@dataclass(frozen=True)
class Family:
    """One covariance family: what a name stands for.

    ``aliases`` are mclust's names for scikit-learn's four families; ``covariance_type`` accepts
    them and gives the same family (scikit-learn's attribute shapes). ``per_component`` maps
    ``covariances_`` to per-component arrays, (K, D, D) or diagonals (K, D), for the
    decomposition; None: it already is one. ``map_prior``: the prior of MAP EM
    (``prior=...``), where it is not ``precision_prior`` (which variational Bayes also uses).
    """

    name: str
    aliases: tuple[str, ...]
    strategy: type
    precision_prior: type
    description: str
    per_component: Callable | None = None
    map_prior: type | None = None

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """The free parameters of the covariances alone."""
        return self.strategy().n_parameters(n_components, n_features)


FAMILIES = (
    Family("full", ("VVV",), FullCovariance, WishartFull,
           "a free covariance matrix per component"),
    Family("tied", ("EEE",), TiedCovariance, WishartTied,
           "one covariance matrix shared by every component",
           lambda cov, K, D: shared_per_component(cov, K)),
    Family("diag", ("VVI",), DiagCovariance, GammaDiag,
           "a diagonal covariance matrix per component (axis-aligned ellipsoids)"),
    Family("spherical", ("VII",), SphericalCovariance, GammaSpherical,
           "one variance per component (spheres of their own size)",
           lambda cov, K, D: spherical_per_component(cov, D)),
    Family("EII", (), EIICovariance, NoPrecisionPrior,
           "one variance shared by every component (equal spheres)",
           lambda cov, K, D: spherical_per_component(cov, D), map_prior=MclustPrior),
    Family("EEI", (), EEICovariance, NoPrecisionPrior,
           "one diagonal covariance shared by every component", map_prior=MclustPrior),
    Family("VEI", (), VEICovariance, NoPrecisionPrior,
           "diagonal, a common shape, free volumes (iterative)", map_prior=MclustPrior),
    Family("EVI", (), EVICovariance, NoPrecisionPrior,
           "diagonal, a common volume, free shapes", map_prior=MclustPrior),
    Family("VEE", (), VEECovariance, NoPrecisionPrior,
           "a common shape and orientation, free volumes (iterative)", map_prior=NoMclustPrior),
    Family("EVE", (), EVECovariance, NoPrecisionPrior,
           "a common volume and orientation, free shapes (iterative)", map_prior=NoMclustPrior),
    Family("VVE", (), VVECovariance, NoPrecisionPrior,
           "a common orientation, free volumes and shapes (iterative)", map_prior=NoMclustPrior),
    Family("EEV", (), EEVCovariance, NoPrecisionPrior,
           "a common volume and shape, free orientations", map_prior=MclustPrior),
    Family("VEV", (), VEVCovariance, NoPrecisionPrior,
           "a common shape, free volumes and orientations (iterative)", map_prior=MclustPrior),
    Family("EVV", (), EVVCovariance, NoPrecisionPrior,
           "a common volume, free shapes and orientations", map_prior=NoMclustPrior),
)
_BY_NAME = {name: family for family in FAMILIES for name in (family.name, *family.aliases)}
# The default sweep of select_model, GaussianMixtureIC and the command line: scikit-learn's four.
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
# mclust's fourteen model names, in mclust's order; each is a family's name or alias.
MCLUST_MODEL_NAMES = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV",
                      "EVV", "VVV")
# Every name covariance_type accepts.
ACCEPTED_NAMES = tuple(_BY_NAME)


def family(name: str) -> Family:
    """The family called ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not one of ``ACCEPTED_NAMES`` (the families' names and mclust's aliases).
    """
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"covariance_type={name!r} is not one of {list(ACCEPTED_NAMES)}") from None


def covariance_types(names) -> list[str]:
    """A sweep's families: one name or an iterable of distinct names, each checked.

    Parameters
    ----------
    names : str or iterable of str
        Names ``covariance_type`` accepts, or ``'all'``: mclust's fourteen model names, in
        mclust's order (EII, VII, ..., VVV).

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If the list is empty, repeats a name, or holds an unknown one.
    """
    types = [names] if isinstance(names, str) else list(names)
    if types == ["all"]:
        return list(MCLUST_MODEL_NAMES)
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
        One of ``ACCEPTED_NAMES``.

    Returns
    -------
    strategy
        A new strategy object of the family (stateless: one per fit is enough).
    """
    return family(name).strategy()


def decomposition(covariance_type: str, covariances, n_components: int, n_features: int):
    """mclust's decomposition Sigma_k = lambda_k D_k A_k D_k^T of a fit's ``covariances_``.

    Parameters
    ----------
    covariance_type : str
        One of ``ACCEPTED_NAMES``.
    covariances : ndarray
        ``covariances_`` in the family's shape.
    n_components, n_features : int
        K and D.

    Returns
    -------
    volumes : ndarray of shape (K,)
        lambda_k = |Sigma_k|^(1/D).
    shapes : ndarray of shape (K, D)
        The diagonal of A_k (product 1): decreasing where the orientation is free or common,
        in coordinate order for the diagonal families.
    orientations : ndarray of shape (K, D, D)
        D_k, its columns in the order of the shapes (the identity for the diagonal families).
    """
    expand = family(covariance_type).per_component
    per_component = covariances if expand is None else expand(covariances, n_components, n_features)
    return decompose(per_component)


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


def make_map_prior(covariance):
    """The prior of MAP EM (``prior=...``) matching a covariance strategy.

    Parameters
    ----------
    covariance : strategy
        A strategy made by ``make_covariance``.

    Returns
    -------
    prior
        The conjugate prior of scikit-learn's four families (``make_precision_prior``'s), or
        mclust's prior of a constrained family (``mclust_priors.MclustPrior``).

    Raises
    ------
    ValueError
        For VEE, EVE, VVE and EVV, which have no prior in mclust.
    """
    found = family(covariance.name)
    return (found.precision_prior if found.map_prior is None else found.map_prior)(covariance)


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of a Gaussian mixture: K - 1 weights, K D means and the family's own.

    Parameters
    ----------
    n_components, n_features : int
        K and D.
    covariance_type : str
        One of ``ACCEPTED_NAMES``.

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
