"""The model file's schema: which arrays each estimator class stores (shapes, dtypes, how its
private state is rebuilt), the checks a loaded file must pass, and how values are encoded as JSON
nodes and ``.npy`` entries. The format itself is described in ``mixfit.io``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO

import numpy as np

from .exceptions import ModelFileError

MANIFEST = "model.json"
# An .npy entry is its header (a few hundred bytes) and the data its header declares, no more.
_NPY_HEADER_ALLOWANCE = 2**16
_NUMERIC_KINDS = "biuf"
FITTED_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*_")


# ---- what each estimator class stores --------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """A fitted array's expected shape and dtype: ``dtype`` is "model" (the dtype of ``means_``,
    float32 or float64), or a NumPy dtype name."""

    shape: tuple
    dtype: str = "model"


def _check_precision_factor(estimator) -> None:
    with np.errstate(all="ignore"):
        log_det = estimator._covariance.log_det_half(estimator.precisions_cholesky_, estimator.n_features_in_)
    if not np.all(np.isfinite(log_det)):
        raise ModelFileError("precisions_cholesky_ is not a valid precision factor (non-positive diagonal)")


@dataclass(frozen=True)
class EstimatorFile:
    """What ``load`` needs to know about an estimator class."""

    cls: type
    declared: Callable  # (estimator, K, D) -> {name: Declared | tuple[Declared, ...]}
    restore: Callable  # (estimator) -> None: rebuild the private state from the fitted attributes
    required: tuple = field(default=("weights_", "means_", "precisions_cholesky_", "n_features_in_"))
    check: Callable = _check_precision_factor  # (estimator) -> None: checks beyond the weights


def _gaussian_declared(estimator, K, D) -> dict:
    from .covariance import make_covariance

    covariance = make_covariance(estimator.covariance_type)
    return {"weights_": Declared((K,)), "means_": Declared((K, D)),
            "precisions_cholesky_": Declared(covariance.shape(K, D))}


def _restore_gaussian(estimator) -> None:
    from .covariance import make_covariance

    estimator._covariance = make_covariance(estimator.covariance_type)


def _bayesian_declared(estimator, K, D) -> dict:
    from .conjugate import make_precision_prior
    from .covariance import make_covariance
    from .weights import make_weight_prior

    covariance = make_covariance(estimator.covariance_type)
    weights = make_weight_prior(estimator.weight_concentration_prior_type, 1.0)
    # weight_concentration_ has the structure of the prior's public form of a posterior: an
    # array (Dirichlet) or a pair of arrays (stick-breaking Betas).
    concentration = weights.attribute(weights.posterior(np.ones(K)))
    concentration = (tuple(Declared(np.shape(a)) for a in concentration) if isinstance(concentration, tuple)
                     else Declared(np.shape(concentration)))
    # nu has one entry per log-determinant: (K,), or () when one precision is shared (tied).
    dof_shape = np.shape(covariance.log_det_half(np.ones(covariance.shape(K, D)), D))
    scale_shape = np.shape(make_precision_prior(covariance).default_scale(np.eye(D)))
    return {
        **_gaussian_declared(estimator, K, D),
        "weight_concentration_": concentration,
        "mean_precision_": Declared((K,)),
        "degrees_of_freedom_": Declared(dof_shape),
        "mean_prior_": Declared((D,), "float64"),
        "covariance_prior_": Declared(scale_shape, "float64"),
        "active_components_": Declared((K,), "bool"),
    }


def _restore_bayesian(estimator) -> None:
    """GaussianVB and q(theta) from the public attributes, as ``_set_fitted`` wrote them."""
    from .conjugate import NormalPrecisionPrior, make_precision_prior
    from .covariance import make_covariance
    from .models import GaussianVB, VBParams
    from .weights import make_weight_prior

    covariance = make_covariance(estimator.covariance_type)
    dtype = estimator.means_.dtype
    prior = NormalPrecisionPrior(
        mean_precision=estimator.mean_precision_prior_,
        mean=estimator.mean_prior_,
        dof=estimator.degrees_of_freedom_prior_,
        scale=np.asarray(estimator.covariance_prior_, dtype=np.float64),
    )
    model = GaussianVB(covariance, make_weight_prior(estimator.weight_concentration_prior_type,
                                                     estimator.weight_concentration_prior_),
                       make_precision_prior(covariance), prior, estimator.reg_covar, dtype)
    concentration = estimator.weight_concentration_
    concentration = np.stack(concentration) if isinstance(concentration, tuple) else concentration
    estimator._fitted_model = model
    estimator._covariance = covariance
    estimator._posterior = VBParams(concentration, estimator.mean_precision_, estimator.means_,
                                    np.asarray(estimator.degrees_of_freedom_, dtype=dtype),
                                    estimator.precisions_cholesky_)


def _bernoulli_declared(estimator, K, D) -> dict:
    from .weights import make_weight_prior

    declared = {"weights_": Declared((K,)), "means_": Declared((K, D))}
    if estimator.method != "vb":
        return declared
    weights = make_weight_prior(estimator.weight_concentration_prior_type, 1.0)
    concentration = weights.attribute(weights.posterior(np.ones(K)))  # an array, or the stick pair
    concentration = (tuple(Declared(np.shape(a), "float64") for a in concentration)
                     if isinstance(concentration, tuple) else Declared(np.shape(concentration), "float64"))
    return {**declared, "weight_concentration_": concentration,
            "beta_posterior_": (Declared((K, D), "float64"), Declared((K, D), "float64"))}


def _restore_bernoulli(estimator) -> None:
    """Nothing private: BernoulliMixture rebuilds its model and params from the public attributes."""


def _check_bernoulli(estimator) -> None:
    means = estimator.means_
    if np.any(means < 0) or np.any(means > 1):
        raise ModelFileError("means_ are success probabilities; some lie outside [0, 1]")
    posterior = vars(estimator).get("beta_posterior_", ())
    if any(np.any(part <= 0) for part in posterior):
        raise ModelFileError("beta_posterior_ holds Beta parameters; some are not positive")


def value_classes() -> dict[str, type]:
    """The hyper-parameter value objects a model file may hold (plain frozen dataclasses)."""
    from .priors import ConjugatePrior

    return {"ConjugatePrior": ConjugatePrior}


def registry() -> dict[str, EstimatorFile]:
    from .estimators import BayesianGaussianMixture, BernoulliMixture, GaussianMixture

    return {
        "GaussianMixture": EstimatorFile(GaussianMixture, _gaussian_declared, _restore_gaussian),
        "BayesianGaussianMixture": EstimatorFile(BayesianGaussianMixture, _bayesian_declared, _restore_bayesian),
        "BernoulliMixture": EstimatorFile(
            BernoulliMixture, _bernoulli_declared, _restore_bernoulli,
            required=("weights_", "means_", "n_features_in_", "alpha_prior_", "beta_prior_"),
            check=_check_bernoulli),
    }


# ---- values <-> JSON and .npy entries ----------------------------------------------------------


class Writer:
    """Encodes values as JSON nodes, collecting the arrays to write as entries."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def encode(self, value, entry: str):
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, np.ndarray):
            if value.dtype == object and value.ndim == 1 and all(isinstance(v, str) for v in value):
                return {"$strings": [str(v) for v in value]}
            if value.dtype.kind not in _NUMERIC_KINDS:
                raise TypeError(f"{entry}: arrays of dtype {value.dtype} cannot be stored in a model file")
            name = f"arrays/{entry}.npy"
            self.arrays[name] = value
            return {"$array": name}
        if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC_KINDS:
            item = value.item()
            return {"$scalar": [value.dtype.name, item if math.isfinite(item) else repr(float(item))]}
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v, f"{entry}.{i}") for i, v in enumerate(value)]}
        name = type(value).__name__
        if value_classes().get(name) is type(value):
            fields = {f.name: self.encode(getattr(value, f.name), f"{entry}.{f.name}")
                      for f in dataclasses.fields(value)}
            return {"$object": [name, fields]}
        if isinstance(value, list):
            return [self.encode(v, f"{entry}.{i}") for i, v in enumerate(value)]
        if isinstance(value, dict) and all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: self.encode(v, f"{entry}.{k}") for k, v in value.items()}
        raise TypeError(f"{entry}: a {type(value).__name__} cannot be stored in a model file")


class Reader:
    """Decodes JSON nodes, reading each named array entry once, with its header checked first."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.used: set[str] = {MANIFEST}

    def decode(self, node, where: str):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if not isinstance(node, dict):
            raise ModelFileError(f"{where}: unexpected JSON value {node!r}")
        if len(node) == 1 and next(iter(node)).startswith("$"):
            (tag, value), = node.items()
            if tag == "$array" and isinstance(value, str):
                return self.array(value)
            if tag == "$scalar" and isinstance(value, list) and len(value) == 2:
                dtype = _numeric_dtype(value[0], where)
                return dtype.type(float(value[1]) if isinstance(value[1], str) else value[1])
            if tag == "$float" and value in ("inf", "-inf", "nan"):
                return float(value)
            if tag == "$tuple" and isinstance(value, list):
                return tuple(self.decode(v, f"{where}[{i}]") for i, v in enumerate(value))
            if tag == "$strings" and isinstance(value, list) and all(isinstance(v, str) for v in value):
                return np.array(value, dtype=object)
            if tag == "$object" and isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict):
                cls = value_classes().get(value[0]) if isinstance(value[0], str) else None
                if cls is None:
                    raise ModelFileError(f"{where}: unknown value class {value[0]!r}")
                fields = {k: self.decode(v, f"{where}.{k}") for k, v in value[1].items()}
                try:
                    return cls(**fields)
                except TypeError as error:
                    raise ModelFileError(f"{where}: {error}") from None
            raise ModelFileError(f"{where}: unknown or malformed tagged value {tag!r}")
        return {k: self.decode(v, f"{where}.{k}") for k, v in node.items()}

    def array(self, name: str) -> np.ndarray:
        if name in self.used:
            raise ModelFileError(f"entry {name!r} is named twice in {MANIFEST}")
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise ModelFileError(f"{MANIFEST} names the array {name!r}, which is not in the file") from None
        self.used.add(name)
        try:
            with self.archive.open(info) as stream:
                version = np.lib.format.read_magic(stream)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise ModelFileError(f"{name}: unsupported .npy format version {version}")
                shape, _, dtype = read_header(stream)
            if dtype.hasobject or dtype.kind not in _NUMERIC_KINDS:
                raise ModelFileError(f"{name}: dtype {dtype} is refused (model files hold numeric arrays only; "
                                     "an object array would need pickle)")
            if info.file_size > _NPY_HEADER_ALLOWANCE + int(np.prod(shape)) * dtype.itemsize:
                raise ModelFileError(f"{name}: entry is larger than its header's shape {shape} needs")
            return np.load(BytesIO(self.archive.read(info)), allow_pickle=False)
        except ModelFileError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise ModelFileError(f"{name}: unreadable array ({error})") from None


def _numeric_dtype(name, where: str) -> np.dtype:
    try:
        dtype = np.dtype(name)
    except TypeError:
        raise ModelFileError(f"{where}: unknown dtype {name!r}") from None
    if dtype.kind not in _NUMERIC_KINDS:
        raise ModelFileError(f"{where}: dtype {name!r} is refused (numeric scalars only)")
    return dtype



# ---- checks of a loaded file -----------------------------------------------------------------


def check_fitted(estimator, spec: EstimatorFile, fitted: dict) -> None:
    name = type(estimator).__name__
    missing = [key for key in spec.required if key not in fitted]
    if missing:
        raise ModelFileError(f"the fitted attributes {missing} of {name} are missing")
    D, weights = fitted["n_features_in_"], fitted["weights_"]
    if not isinstance(D, int) or isinstance(D, bool) or D < 1:
        raise ModelFileError(f"n_features_in_ = {D!r}; expected an integer >= 1")
    n_components = estimator.get_params()["n_components"]
    if not isinstance(weights, np.ndarray) or weights.ndim != 1 or not 1 <= weights.shape[0] <= n_components:
        raise ModelFileError(f"weights_ must be an array of shape (K,) with 1 <= K <= n_components = {n_components}")
    means = fitted["means_"]
    if not isinstance(means, np.ndarray) or means.dtype not in (np.float32, np.float64):
        raise ModelFileError("means_ must be a float32 or float64 array")
    try:
        declared = spec.declared(estimator, weights.shape[0], D)
    except ValueError as error:  # an unknown covariance_type or prior type among the params
        raise ModelFileError(f"inconsistent hyper-parameters: {error}") from None
    for key, expected in declared.items():
        if key not in fitted:
            raise ModelFileError(f"the fitted attribute {key} of {name} is missing")
        value = fitted[key]
        if isinstance(expected, tuple):
            if not isinstance(value, tuple) or len(value) != len(expected):
                raise ModelFileError(f"{key} must be a tuple of {len(expected)} arrays")
            for i, (item, part) in enumerate(zip(value, expected)):
                _check_array(f"{key}[{i}]", item, part, means.dtype)
        else:
            _check_array(key, value, expected, means.dtype)


def _check_array(key: str, value, expected: Declared, model_dtype: np.dtype) -> None:
    dtype = model_dtype if expected.dtype == "model" else np.dtype(expected.dtype)
    if expected.shape == () and isinstance(value, float) and dtype == np.float64:
        value = np.float64(value)  # a Python float stands for a float64 scalar
    if not isinstance(value, (np.ndarray, np.generic)):
        raise ModelFileError(f"{key} must be an array of shape {expected.shape}, not {type(value).__name__}")
    if value.shape != tuple(expected.shape) or value.dtype != dtype:
        raise ModelFileError(f"{key} has shape {value.shape} and dtype {value.dtype}; the estimator's "
                             f"parameters say shape {tuple(expected.shape)} and dtype {dtype}")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ModelFileError(f"{key} contains NaN or infinity")


def check_consistent(estimator) -> None:
    weights = estimator.weights_.astype(np.float64)
    if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-4:  # float32 sums to ~1e-7; far above
        raise ModelFileError(f"weights_ {weights} are not a probability distribution")
    registry()[type(estimator).__name__].check(estimator)
