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
such as ``ConjugatePrior``: only the frozen dataclasses listed in ``codec.value_classes``
are rebuilt, by their constructor). Derived attributes (``covariances_``, ``precisions_``) are properties of
``precisions_cholesky_`` and are not stored; private strategy objects are rebuilt from the
hyper-parameters when the file is read. ``GaussianMixtureIC`` stores its ``best_estimator_`` as a
nested ``{"estimator", "params", "fitted"}`` object (a ``GaussianMixture``, checked as a file of its
own) and its ``selection_`` as the table's rows (``classes``).

Nothing is unpickled: ``.npy`` headers are read first and an object (or any non-numeric) dtype
is refused before the data is touched, the data are read with ``allow_pickle=False``, and an entry
the manifest does not name is refused. Loading checks every declared array's shape and dtype
against the estimator class (shapes from the number of fitted components, ``n_features_in_`` and
the covariance strategy), that the weights (an HMM's start and transition rows) form distributions
and the precision factors have a finite log-determinant, and raises ``ModelFileError`` (a ``ValueError``) naming what is wrong for
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

import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO

import numpy as np

from .._version import __version__
from ..exceptions import ModelFileError, NotFittedError
from .codec import MANIFEST, Reader, Writer
from .registry import build, registry

FORMAT = "mixfit-model"
SCHEMA_VERSION = 1
# Upgrades of an older manifest: _MIGRATIONS[v] turns a version-v manifest into version v + 1.
_MIGRATIONS: dict[int, Callable[[dict], dict]] = {}
# The manifest is small (the arrays live in .npy entries); anything larger is not ours.
_MAX_MANIFEST_BYTES = 16 * 2**20
# A fixed timestamp for every entry, so that saving one model twice gives identical bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# ---- save ---------------------------------------------------------------------------------


def save(estimator, path, *, metadata: dict | None = None) -> None:
    """Write a fitted estimator to ``path`` (conventionally ``*.mixfit``), replacing it atomically.

    ``metadata`` is free JSON stored beside the model (the command line records the data's
    columns there); read it back with ``read_model_file``. A ``random_state`` that is a
    Generator or RandomState object is stored as None, with a warning: prediction does not use it.
    """
    name = type(estimator).__name__
    spec = registry().get(name)
    if spec is None or type(estimator) is not spec.cls:
        raise TypeError(f"cannot save a {name}; model files hold {sorted(registry())}")
    if any(key not in vars(estimator) for key in spec.required):
        raise NotFittedError(f"This {name} instance is not fitted yet; call 'fit' before 'save'.")
    writer = Writer()
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        try:
            params[key] = writer.encode(value, f"params/{key}")
        except TypeError:
            warnings.warn(f"{key}={value!r} cannot be stored in a model file; it is saved as None",
                          UserWarning, stacklevel=2)
            params[key] = None
    fitted = {key: writer.encode(value, f"fitted/{key}") for key, value in spec.stored(estimator).items()}
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
    if not os.path.isdir(directory):  # else mkstemp's error names its temporary file, not path
        raise FileNotFoundError(f"cannot write {os.fspath(path)}: no directory {directory}")
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
    """Read a fitted estimator from a model file written by ``save``.

    Nothing is unpickled: the arrays are checked against the estimator class before they are
    used, and a file of an older schema is upgraded in memory (format and versioning: the
    docstring of ``mixfit.modelfile.io``).

    Parameters
    ----------
    path : str or path-like
        The model file (conventionally ``*.mixfit``).

    Returns
    -------
    estimator : estimator
        The fitted estimator, of the class that was saved; it predicts bit-identically to the
        saved one.

    Raises
    ------
    ModelFileError
        If the file is not a valid mixfit model file of a schema this version reads (not a
        zip, truncated or corrupt, newer, an unknown class, or arrays that do not agree).
    """
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
    spec = registry().get(manifest["estimator"])
    if spec is None:
        raise ModelFileError(f"unknown estimator class {manifest['estimator']!r}; this mixfit reads "
                             f"{sorted(registry())}")
    reader = Reader(archive)
    params = {k: reader.decode(v, f"params.{k}") for k, v in manifest["params"].items()}
    fitted = {k: reader.decode(v, f"fitted.{k}") for k, v in manifest["fitted"].items()}
    # Built before the unnamed entries are refused: where the manifest's structure is wrong (a
    # nested estimator that is not an object), the arrays it would have named are left over, and
    # the error that says what is wrong is the structural one. Nothing is unpickled either way.
    estimator = build(manifest["estimator"], params, fitted)
    unnamed = sorted(set(archive.namelist()) - reader.used)
    if unnamed:
        raise ModelFileError(f"entries not named by {MANIFEST} are refused: {unnamed}")
    metadata = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
    names = manifest.get("feature_names")
    return ModelFile(estimator, original_version, str(manifest.get("mixfit_version", "?")), metadata,
                     names if isinstance(names, list) else None)
