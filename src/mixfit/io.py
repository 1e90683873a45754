"""Model files: one fitted estimator in one zip file that nothing can execute.

``save(estimator, path)`` (also ``estimator.save(path)``) and ``load(path)`` (``mixfit.load``).

Format (schema version 1)
-------------------------
A zip archive holding

- ``model.json``: ``format`` ("mixfit-model"), ``schema_version``, ``mixfit_version`` (of the
  writer; informational), ``estimator`` (the class name), ``params`` (``get_params()``),
  ``fitted`` (every public fitted attribute, the ones ending in ``_``), ``feature_names``
  (``feature_names_in_`` or null; informational) and ``metadata`` (free JSON the caller gave,
  e.g. the command line's column names);
- ``arrays/<section>/<name>.npy``: every array, in NumPy's own ``.npy`` format.

Values are plain JSON where JSON holds them exactly (Python floats round-trip through their
repr); anything else is a one-key object: ``{"$array": entry}`` (a numeric or boolean ndarray),
``{"$scalar": [dtype, value]}`` (a NumPy scalar), ``{"$float": "inf"}`` (JSON has no inf/nan),
``{"$tuple": [...]}``, ``{"$strings": [...]}`` (a 1-D object array of str, scikit-learn's
``feature_names_in_``), ``{"$object": [name, {field: value}]}`` (a hyper-parameter value object
such as ``ConjugatePrior``: only the frozen dataclasses listed in ``_value_classes`` are rebuilt,
by their constructor). Derived attributes (``covariances_``, ``precisions_``) are properties of
``precisions_cholesky_`` and are not stored; private strategy objects are rebuilt from the
hyper-parameters when the file is read.

Nothing is unpickled: ``.npy`` headers are read first and an object (or any non-numeric) dtype
is refused before the data is touched, the data are read with ``allow_pickle=False``, and an entry
the manifest does not name is refused. Loading checks every declared array's shape and dtype
against the estimator class (shapes from the number of fitted components, ``n_features_in_`` and
the covariance strategy), that the weights form a distribution and the precision factors have a
finite log-determinant, and raises ``ModelFileError`` (a ``ValueError``) naming what is wrong for
a file that is not a zip, is truncated or corrupt, is newer, names an unknown class, or does not
agree with itself. A loaded model predicts bit-identically to the saved one.

Versioning policy
-----------------
``schema_version`` is one integer, raised whenever a reader of the old version would misread a
new file (a renamed or re-shaped array, a changed meaning). Adding an optional key does not raise
it: readers ignore keys they do not know. A newer mixfit reads every older schema: the manifest is
upgraded in memory, one version at a time, by the functions in ``_MIGRATIONS`` (each a pure
``dict -> dict`` step, kept forever), and only then checked and turned into an estimator. A
hyper-parameter added later is absent from older files and takes its default, which by the rule
for adding hyper-parameters reproduces the old behaviour. An older mixfit refuses a file whose
schema is newer than it knows, saying which mixfit wrote it; it never guesses.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO

import numpy as np

from .exceptions import ModelFileError

FORMAT = "mixfit-model"
SCHEMA_VERSION = 1
MANIFEST = "model.json"
# Upgrades of an older manifest: _MIGRATIONS[v] turns a version-v manifest into version v + 1.
_MIGRATIONS: dict[int, Callable[[dict], dict]] = {}
# The manifest is small (the arrays live in .npy entries); anything larger is not ours.
_MAX_MANIFEST_BYTES = 16 * 2**20
# A fixed timestamp for every entry, so that saving one model twice gives identical bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# An .npy entry is its header (a few hundred bytes) and the data its header declares, no more.
_NPY_HEADER_ALLOWANCE = 2**16
_NUMERIC_KINDS = "biuf"
_FITTED_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*_")


# ---- what each estimator class stores --------------------------------------------------------


@dataclass(frozen=True)
class _Declared:
    """A fitted array's expected shape and dtype: ``dtype`` is "model" (the dtype of ``means_``,
    float32 or float64), or a NumPy dtype name."""

    shape: tuple
    dtype: str = "model"


@dataclass(frozen=True)
class _EstimatorFile:
    """What ``load`` needs to know about an estimator class."""

    cls: type
    declared: Callable  # (estimator, K, D) -> {name: _Declared | tuple[_Declared, ...]}
    restore: Callable  # (estimator) -> None: rebuild the private state from the fitted attributes
    required: tuple = field(default=("weights_", "means_", "precisions_cholesky_", "n_features_in_"))


def _gaussian_declared(estimator, K, D) -> dict:
    from .covariance import make_covariance

    covariance = make_covariance(estimator.covariance_type)
    return {"weights_": _Declared((K,)), "means_": _Declared((K, D)),
            "precisions_cholesky_": _Declared(covariance.shape(K, D))}


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
    concentration = (tuple(_Declared(np.shape(a)) for a in concentration) if isinstance(concentration, tuple)
                     else _Declared(np.shape(concentration)))
    # nu has one entry per log-determinant: (K,), or () when one precision is shared (tied).
    dof_shape = np.shape(covariance.log_det_half(np.ones(covariance.shape(K, D)), D))
    scale_shape = np.shape(make_precision_prior(covariance).default_scale(np.eye(D)))
    return {
        **_gaussian_declared(estimator, K, D),
        "weight_concentration_": concentration,
        "mean_precision_": _Declared((K,)),
        "degrees_of_freedom_": _Declared(dof_shape),
        "mean_prior_": _Declared((D,), "float64"),
        "covariance_prior_": _Declared(scale_shape, "float64"),
        "active_components_": _Declared((K,), "bool"),
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


def _value_classes() -> dict[str, type]:
    """The hyper-parameter value objects a model file may hold (plain frozen dataclasses)."""
    from .priors import ConjugatePrior

    return {"ConjugatePrior": ConjugatePrior}


def _registry() -> dict[str, _EstimatorFile]:
    from .estimators import BayesianGaussianMixture, GaussianMixture

    return {
        "GaussianMixture": _EstimatorFile(GaussianMixture, _gaussian_declared, _restore_gaussian),
        "BayesianGaussianMixture": _EstimatorFile(BayesianGaussianMixture, _bayesian_declared, _restore_bayesian),
    }


# ---- values <-> JSON and .npy entries ----------------------------------------------------------


class _Writer:
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
        if _value_classes().get(name) is type(value):
            fields = {f.name: self.encode(getattr(value, f.name), f"{entry}.{f.name}")
                      for f in dataclasses.fields(value)}
            return {"$object": [name, fields]}
        if isinstance(value, list):
            return [self.encode(v, f"{entry}.{i}") for i, v in enumerate(value)]
        if isinstance(value, dict) and all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: self.encode(v, f"{entry}.{k}") for k, v in value.items()}
        raise TypeError(f"{entry}: a {type(value).__name__} cannot be stored in a model file")


class _Reader:
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
                cls = _value_classes().get(value[0]) if isinstance(value[0], str) else None
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


# ---- save ---------------------------------------------------------------------------------


def _fitted_attributes(estimator) -> dict:
    return {k: v for k, v in vars(estimator).items() if k.endswith("_") and not k.startswith("_")}


def save(estimator, path, *, metadata: dict | None = None) -> None:
    """Write a fitted estimator to ``path`` (conventionally ``*.mixfit``), replacing it atomically.

    ``metadata`` is free JSON stored beside the model (the command line records the data's
    columns there); read it back with ``read_model_file``. A ``random_state`` that is a
    Generator or RandomState object is stored as None, with a warning: prediction does not use it.
    """
    from . import __version__
    from .exceptions import NotFittedError

    name = type(estimator).__name__
    spec = _registry().get(name)
    if spec is None or type(estimator) is not spec.cls:
        raise TypeError(f"cannot save a {name}; model files hold {sorted(_registry())}")
    if "precisions_cholesky_" not in vars(estimator):
        raise NotFittedError(f"This {name} instance is not fitted yet; call 'fit' before 'save'.")
    writer = _Writer()
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        try:
            params[key] = writer.encode(value, f"params/{key}")
        except TypeError:
            warnings.warn(f"{key}={value!r} cannot be stored in a model file; it is saved as None",
                          UserWarning, stacklevel=2)
            params[key] = None
    fitted = {key: writer.encode(value, f"fitted/{key}") for key, value in _fitted_attributes(estimator).items()}
    names = vars(estimator).get("feature_names_in_")
    manifest = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "mixfit_version": __version__,
        "estimator": name,
        "params": params,
        "fitted": fitted,
        "feature_names": None if names is None else [str(v) for v in names],
        "metadata": {} if metadata is None else metadata,
    }
    text = json.dumps(manifest, indent=1, allow_nan=False)
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    handle, temporary = tempfile.mkstemp(prefix=".mixfit-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream, zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(zipfile.ZipInfo(MANIFEST, _ZIP_DATE), text, zipfile.ZIP_DEFLATED)
            for entry, array in writer.arrays.items():
                buffer = BytesIO()
                np.save(buffer, array, allow_pickle=False)
                archive.writestr(zipfile.ZipInfo(entry, _ZIP_DATE), buffer.getvalue(), zipfile.ZIP_DEFLATED)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


# ---- load ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFile:
    """A model file's estimator and what the manifest says about it."""

    estimator: object
    schema_version: int  # as written (before any upgrade)
    mixfit_version: str
    metadata: dict
    feature_names: list | None


def load(path):
    """The fitted estimator saved at ``path``; ``ModelFileError`` if the file is not a valid
    mixfit model file of a schema this version reads."""
    return read_model_file(path).estimator


def read_model_file(path) -> ModelFile:
    """Read, check and rebuild a model file: the estimator and the manifest's other fields."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _read(archive)
    except zipfile.BadZipFile as error:
        raise ModelFileError(f"{os.fspath(path)} is not a mixfit model file (not a valid zip archive: "
                             f"{error}; is it truncated?)") from None
    except ModelFileError as error:
        raise ModelFileError(f"{os.fspath(path)}: {error}") from None


def _read_manifest(archive: zipfile.ZipFile) -> tuple[dict, int]:
    """The manifest upgraded to SCHEMA_VERSION, and the version it was written with."""
    try:
        info = archive.getinfo(MANIFEST)
    except KeyError:
        raise ModelFileError(f"not a mixfit model file (no {MANIFEST} inside)") from None
    if info.file_size > _MAX_MANIFEST_BYTES:
        raise ModelFileError(f"{MANIFEST} is {info.file_size} bytes; a manifest is under {_MAX_MANIFEST_BYTES}")
    try:
        manifest = json.loads(archive.read(info).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{MANIFEST} is not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"not a mixfit model file ({MANIFEST} does not declare format {FORMAT!r})")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"schema_version {version!r} is not a positive integer")
    if version > SCHEMA_VERSION:
        from . import __version__

        raise ModelFileError(
            f"written by mixfit {manifest.get('mixfit_version', '?')} with schema version {version}; "
            f"this mixfit ({__version__}) reads schema versions up to {SCHEMA_VERSION}: upgrade mixfit"
        )
    upgraded = manifest
    for step in range(version, SCHEMA_VERSION):
        upgraded = _MIGRATIONS[step](upgraded)
    for key, kind in (("estimator", str), ("params", dict), ("fitted", dict)):
        if not isinstance(upgraded.get(key), kind):
            raise ModelFileError(f"{MANIFEST} has no valid {key!r} ({kind.__name__} expected)")
    return upgraded, version


def _read(archive: zipfile.ZipFile) -> ModelFile:
    manifest, original_version = _read_manifest(archive)
    spec = _registry().get(manifest["estimator"])
    if spec is None:
        raise ModelFileError(f"unknown estimator class {manifest['estimator']!r}; this mixfit reads "
                             f"{sorted(_registry())}")
    reader = _Reader(archive)
    params = {k: reader.decode(v, f"params.{k}") for k, v in manifest["params"].items()}
    fitted = {k: reader.decode(v, f"fitted.{k}") for k, v in manifest["fitted"].items()}
    unnamed = sorted(set(archive.namelist()) - reader.used)
    if unnamed:
        raise ModelFileError(f"entries not named by {MANIFEST} are refused: {unnamed}")
    known = spec.cls().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ModelFileError(f"unknown hyper-parameters for {manifest['estimator']}: {unknown}")
    estimator = spec.cls(**params)
    odd = [key for key in fitted if not _FITTED_NAME.fullmatch(key) or hasattr(type(estimator), key)]
    if odd:
        raise ModelFileError(f"{odd} are not fitted attribute names of {manifest['estimator']}")
    _check_fitted(estimator, spec, fitted)
    for key, value in fitted.items():
        setattr(estimator, key, value)
    spec.restore(estimator)
    _check_consistent(estimator)
    metadata = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
    names = manifest.get("feature_names")
    return ModelFile(estimator, original_version, str(manifest.get("mixfit_version", "?")), metadata,
                     names if isinstance(names, list) else None)


def _check_fitted(estimator, spec: _EstimatorFile, fitted: dict) -> None:
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


def _check_array(key: str, value, expected: _Declared, model_dtype: np.dtype) -> None:
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


def _check_consistent(estimator) -> None:
    weights = estimator.weights_.astype(np.float64)
    if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-4:  # float32 sums to ~1e-7; far above
        raise ModelFileError(f"weights_ {weights} are not a probability distribution")
    with np.errstate(all="ignore"):
        log_det = estimator._covariance.log_det_half(estimator.precisions_cholesky_, estimator.n_features_in_)
    if not np.all(np.isfinite(log_det)):
        raise ModelFileError("precisions_cholesky_ is not a valid precision factor (non-positive diagonal)")
