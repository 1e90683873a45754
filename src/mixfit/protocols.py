"""The written interfaces: what a model, a statistics value, a data source, a covariance family
and an HMM emission must provide, as ``typing.Protocol`` classes.

The engine, the starts and the collapse policies call only what is written here; a new model, source
or family implements these and nothing else. ``require`` checks an object against one or more of
them where the object is first handed over (a model's constructor, ``engine.fit``), so that a
missing hook fails at once with a message naming it, not in the middle of a fit. The tests check
every implementation in the package against its protocols (``tests/test_protocols.py``).

The protocols are split by who calls them, so that a model implements only what its estimator uses:

- ``Model``: accumulate, maximize, objective; called by the loop (``engine.loop``).
- ``Predictor``: log_prob_components; predict / score and the reseed collapse policy.
- ``Startable``: statistics; the starts (``engine.starts``).
- ``Repairable``: select_stats, select_params, insert_component; the drop / reseed collapse
  policies (``engine.collapse``).
- ``Counted``: n_parameters; the information criteria (``engine.criteria``).
- ``Stats``: ``+``, scale, weight_sum; the backends' map-reduce and the loop.
- ``ShiftedStats``: Stats + shift, reshift; online blending of Gaussian moments.
- ``Start``: a callable ``start(rng[, policy]) -> params``; the loop, one per run.
- ``Source``: map_reduce, chunks, n_samples, n_features, dtype; the loop, the starts.
- ``CovarianceFamily``: the E-step kernel, the M-step from the scatter, the parametrisation.
- ``Emission``: log_density, statistics; forward-backward (``models.hmm``).
- ``PointEmission``: Emission + maximize, log_prior, n_parameters; the EM HMM.
- ``VariationalEmission``: Emission + posterior, kl, mean_params; the VB HMM (``models.hmm_vb``).
- ``PassEmission``: Emission + density_pass, pass_statistics; an E-step that computes what the
  density and the statistics of the same frames share once (``models.hmm``, ``models.hsmm``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

Params = Any  # each model's own frozen parameter value (GaussianParams, HMMParams, ...)


@runtime_checkable
class Stats(Protocol):
    """An additive summary of a pass over rows: values of disjoint blocks add into the value of
    their union (``a + b``), and ``scale(f)`` multiplies every sum by ``f`` (online blending)."""

    weight_sum: float  # sum_n w_n of the rows summarised (the loop's per-sample objective)

    def __add__(self, other: Any) -> Any: ...

    def scale(self, factor: float) -> Any: ...


@runtime_checkable
class ShiftedStats(Stats, Protocol):
    """Moments taken about a shift c_k (``GaussianStats``): ``reshift`` re-expresses them about
    another shift exactly (an algebraic identity, no data), as online EM needs to add values of
    passes taken about different means."""

    shift: np.ndarray  # (K, D)

    def reshift(self, shift: np.ndarray, covariance: CovarianceFamily) -> Any: ...


@runtime_checkable
class Model(Protocol):
    """The seam (DESIGN.md): the E-step on one block of rows, the M-step from the summed value."""

    def accumulate(self, X: Any, params: Params, sample_weight: np.ndarray | None) -> Stats:
        """The statistics of one block of rows (an E-step), additive across blocks."""

    def maximize(self, stats: Any, params: Params) -> Params:
        """The M-step: new parameters from the summed statistics; never sees data."""

    def objective(self, stats: Any, params: Params) -> float:
        """The log-likelihood (EM, plus the log prior for MAP) or the full ELBO (VB) of ``params``
        over the pass that produced ``stats``."""


@runtime_checkable
class Predictor(Protocol):
    """Per-row, per-component log densities: prediction, scoring and the reseed policy."""

    def log_prob_components(self, X: Any, params: Params) -> np.ndarray:
        """(n, K) ln rho_nk: ln pi_k + ln p(x_n | component k), or their VB expectations."""


@runtime_checkable
class Startable(Protocol):
    """What the starts call: statistics of a block for given responsibilities, so that every
    start (k-means, random, hierarchical, user means) ends in one ``maximize``."""

    def statistics(self, X: Any, resp: np.ndarray, sample_weight: np.ndarray | None, *args: Any) -> Stats:
        """The additive statistics of one block for responsibilities ``resp`` (n, K)."""


@runtime_checkable
class Repairable(Protocol):
    """What the drop / reseed collapse policies call to remove or re-seed a component."""

    def select_stats(self, stats: Any, keep: np.ndarray) -> Any:
        """The statistics of the components in ``keep`` only."""

    def select_params(self, params: Params, keep: np.ndarray) -> Params:
        """The parameters of the components in ``keep`` only."""

    def insert_component(self, params: Params, k: int, row: np.ndarray, donor: int) -> Params:
        """``params`` with a component inserted at ``k``, centred on ``row``, shaped as ``donor``."""


@runtime_checkable
class Counted(Protocol):
    """The number of free parameters, for BIC / AIC / ICL."""

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters of a model of ``n_components`` components in ``n_features`` features."""


@runtime_checkable
class Start(Protocol):
    """How one run of a fit begins (``engine.starts``): ``start(rng)`` returns the first
    parameters; with a collapse policy the engine calls ``start(rng, policy)``, so that a start
    ending in an M-step runs it through the policy. ``rng`` is the run's own child stream."""

    def __call__(self, rng: np.random.Generator, *policy: Any) -> Params: ...


@runtime_checkable
class Source(Protocol):
    """Where rows come from: an array or memmap in threaded chunks, a dask array, whole sequences."""

    n_samples: int
    n_features: int
    dtype: np.dtype

    def map_reduce(self, fn: Callable[[Any, np.ndarray | None], Any]) -> Any:
        """The sum over chunks of ``fn(chunk, chunk_weights)``."""

    def chunks(self) -> Iterator[tuple[Any, np.ndarray | None]]:
        """The (rows, weights) chunks in order."""


@runtime_checkable
class CovarianceFamily(Protocol):
    """A covariance family (a strategy object): its E-step kernel, its M-step from the scatter, and
    the algebra of its parametrisation (the Cholesky factor of the precision is stored).

    Optional, where a family can do better than the required members: ``log_kernel_rows(X,
    means_c, prec_chol, centre, constant)``, ``log_kernel`` of ``X - centre`` formed from the rows
    as given in one pass, or None where X has a NaN entry (``GaussianEM.accumulate`` takes it
    where present: families/diag.py); and a kernel's workspace may offer ``mass_of(wresp)``, the
    column sums its ``moments`` formed for that same array, or None
    (``stats.gaussian_statistics`` takes them instead of summing again)."""

    name: str
    chunk_bytes: int  # the working set a chunk's rows are sized to

    def shape(self, n_components: int, n_features: int) -> tuple:
        """The shape of ``covariances_`` (scikit-learn's convention for this family)."""

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free covariance parameters of ``n_components`` components."""

    def workspace_columns(self, n_features: int, n_components: int) -> int:
        """Values per row of the E-step's workspace, for sizing chunks."""

    def log_kernel(self, X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray, *args: Any) -> Any:
        """-1/2 Mahalanobis terms of each row to each component (the E-step kernel)."""

    def e_step(self, *args: Any) -> Any:
        """The kernel and the workspace that ``moments`` reuses."""

    def moments(self, X: np.ndarray, wresp: np.ndarray, shift: np.ndarray, *args: Any) -> tuple:
        """first_k (K, D) and the scatter in this family's form, about ``shift``."""

    def shift_scatter(self, scatter: np.ndarray, mass: np.ndarray, first: np.ndarray,
                      delta: np.ndarray) -> np.ndarray:
        """The scatter about c - delta from the scatter, mass and first moment about c (exact)."""

    def fold_scatter(self, dense: np.ndarray) -> np.ndarray:
        """The scatter in this family's form from per-component (K, D, D) matrices (the
        missing-data E-step's expected scatter): themselves, their sum, diagonals or traces."""

    def from_moments(self, stats: Any, mass: np.ndarray) -> Any:
        """The covariance (this family's shape) from summed moments: the M-step. mclust's
        constrained families return the unconstrained covariances with the masses instead
        (``families.mclust.ScatterCovariances``), which ``add_ridge`` completes."""

    def add_ridge(self, cov: Any, reg_covar: float) -> np.ndarray:
        """``cov`` + reg_covar I, in this family's form (for a constrained family: the
        constrained solution for S_k + reg_covar I)."""

    def precision_chol(self, cov: np.ndarray) -> np.ndarray:
        """The Cholesky factor of the precision, or ``CollapsedComponentError`` naming k."""

    def log_det_half(self, prec_chol: np.ndarray, n_features: int) -> np.ndarray:
        """(K,) ln |P_k| = 1/2 ln |Lambda_k|."""

    def mahalanobis(self, X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray) -> np.ndarray:
        """(n, K) squared Mahalanobis distances."""

    def covariance(self, prec_chol: np.ndarray) -> np.ndarray:
        """``covariances_`` from the stored factor."""

    def precision(self, prec_chol: np.ndarray) -> np.ndarray:
        """``precisions_`` from the stored factor."""

    def select(self, factors: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """The factors of the components in ``keep``."""

    def marginal(self, prec_chol: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The factors of the marginal over ``features``, in this family's form (2.98)."""

    def dense_covariance(self, prec_chol: np.ndarray, n_components: int, n_features: int) -> np.ndarray:
        """Each component's covariance as a (K, D, D) matrix."""

    def conditional(self, prec_chol: np.ndarray, given: np.ndarray, other: np.ndarray) -> tuple:
        """(B = Sigma_aa^{-1} Sigma_ab or None for B = 0, the Schur complement's factors) (2.81, 2.82)."""

    def insert_copy(self, factors: np.ndarray, position: int, source: int) -> np.ndarray:
        """The factors with a copy of component ``source``'s inserted at ``position``."""

    def draw(self, rng: np.random.Generator, means: np.ndarray, prec_chol: np.ndarray, labels: np.ndarray,
             dtype: Any) -> np.ndarray:
        """Samples of the components ``labels``."""

    def check_precisions(self, precisions: Any, n_components: int, n_features: int) -> np.ndarray:
        """A user's ``precisions_init`` checked and turned into the stored factor."""


@runtime_checkable
class Emission(Protocol):
    """What forward-backward needs of an HMM's emission: per-frame log densities and the
    statistics for given state posteriors (``models.hmm.HMM`` composes it with the initial and
    transition parts; the variational HMM runs the same E-step on its expected log densities)."""

    def log_density(self, X: Any, params: Params) -> np.ndarray:
        """(n_frames, K) ln p(x_t | state k), or E_q of it (VB)."""

    def statistics(self, X: Any, gamma: np.ndarray, frame_weight: np.ndarray | None, params: Params) -> Any:
        """Additive emission statistics for the state posteriors ``gamma`` (n_frames, K)."""


@runtime_checkable
class PointEmission(Emission, Protocol):
    """An EM (maximum likelihood or MAP) emission: the M-step, the prior and the parameter count."""

    def maximize(self, stats: Any, params: Params) -> Params:
        """New emission parameters from the summed statistics."""

    def log_prior(self, params: Params) -> float:
        """The log prior density of ``params`` (0 without a prior): MAP's objective term."""

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free emission parameters."""


@runtime_checkable
class VariationalEmission(Emission, Protocol):
    """A variational HMM's emission: its posterior, KL and mean parameters
    (``models.hmm_vb.VariationalHMM``)."""

    def posterior(self, stats: Any) -> Any:
        """q's emission parameters from the summed statistics (the VB M-step)."""

    def kl(self, posterior: Any) -> float:
        """KL(q || prior) of the emission parameters (the ELBO's emission term)."""

    def mean_params(self, posterior: Any) -> Any:
        """Point parameters (posterior means) for the fitted attributes and decoding."""


@runtime_checkable
class PassEmission(Emission, Protocol):
    """An emission whose density pass keeps what its statistics of the same frames reuse (the
    conditional moments of missing entries): the E-step then computes that once, not twice."""

    def density_pass(self, X: Any, params: Params) -> tuple[np.ndarray, Any]:
        """(``log_density(X, params)``, what ``pass_statistics`` of the same X and params reuses)."""

    def pass_statistics(self, kept: Any, X: Any, gamma: np.ndarray, frame_weight: np.ndarray | None,
                        params: Params) -> Any:
        """``statistics(X, gamma, frame_weight, params)``, from what ``density_pass`` kept (None:
        nothing was kept, the statistics compute it again)."""


def missing(obj: object, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``obj`` does not provide (callables must be callable)."""
    return [name for name, must_call in _members(protocol) if not _provides(obj, name, must_call)]


def require(obj: object, *protocols: type, role: str = "model") -> None:
    """Raise ``TypeError`` naming every hook ``obj`` lacks among ``protocols``.

    Called where the object is first handed over, so a model without a hook fails at once
    ("GaussianVB lacks select_stats, ... (mixfit.protocols.Repairable), needed by the drop
    collapse policy"), not in the middle of a fit.
    """
    gaps = [(protocol.__name__, missing(obj, protocol)) for protocol in protocols]
    gaps = [(name, lacking) for name, lacking in gaps if lacking]
    if gaps:
        said = "; ".join(f"{', '.join(lacking)} (mixfit.protocols.{name})" for name, lacking in gaps)
        raise TypeError(f"the {role} {type(obj).__name__} lacks {said}")


@functools.cache
def _members(protocol: type) -> tuple[tuple[str, bool], ...]:
    """(name, whether it must be callable) of each member of ``protocol``; a protocol's members
    never change, so this is found once per protocol (``require`` runs on every fit)."""
    names = set()
    for klass in protocol.__mro__:
        if klass in (Protocol, object) or not getattr(klass, "_is_protocol", False):
            continue
        names.update(name for name in vars(klass) if not name.startswith("_") or name in ("__add__", "__call__"))
        names.update(getattr(klass, "__annotations__", {}))
    return tuple((name, callable(getattr(protocol, name, None))) for name in sorted(names))


def _provides(obj: object, name: str, must_call: bool) -> bool:
    try:
        value = getattr(obj, name)
    except AttributeError:
        return False
    return callable(value) or not must_call
