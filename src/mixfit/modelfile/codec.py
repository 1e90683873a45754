"""Values <-> the model file's JSON nodes and ``.npy`` entries: encoding on save, and decoding on
load with every array's header checked before its data is read. The format is described in
``modelfile.io``; which values each estimator class stores is ``schema``'s and ``classes``'.
"""

from __future__ import annotations

import dataclasses
import math
import zipfile
from io import BytesIO

import numpy as np

from ..estimators.priors import ConjugatePrior
from ..exceptions import ModelFileError

MANIFEST = "model.json"
# An .npy entry is its header (a few hundred bytes) and the data its header declares, no more.
_NPY_HEADER_ALLOWANCE = 2**16
_NUMERIC_KINDS = "biuf"


def value_classes() -> dict[str, type]:
    """The hyper-parameter value objects a model file may hold (plain frozen dataclasses)."""
    return {"ConjugatePrior": ConjugatePrior}


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
