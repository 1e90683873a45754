"""Reading a numeric table for the command line: CSV/TSV, .npy, Parquet or stdin, and column choice.

Every failure is a ``DataError`` whose message names the file, and the line and column if any.
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass

import numpy as np


class DataError(Exception):
    """The data cannot be used: the message names the file, and the line and column if any."""


@dataclass(frozen=True)
class Data:
    values: np.ndarray  # (n, m) float64
    names: list[str]
    source: str


# Fields read as a missing value where missing values are allowed (case-insensitive).
MISSING_MARKERS = frozenset({"", "na", "nan", "n/a", "null"})
_NOT_HERE = "missing values are read by mixfit fit, predict, score and impute of a Gaussian mixture"


def _numbers(rows, names, source, first_line, missing=False):
    """Rows of strings -> float64, naming the line and column of the first bad value; with
    ``missing``, an empty field or NA / NaN / N/A / null is NaN (a missing value)."""
    values = np.empty((len(rows), len(names)))
    for r, (line, row) in enumerate(rows):
        if len(row) != len(names):
            raise DataError(f"{source}, line {line}: {len(row)} fields; expected {len(names)} like line {first_line}")
        for c, field in enumerate(row):
            text = field.strip()
            if missing and text.lower() in MISSING_MARKERS:
                values[r, c] = np.nan
                continue
            if not text:
                raise DataError(f"{source}, line {line}, column {names[c]!r}: empty value ({_NOT_HERE})")
            try:
                values[r, c] = float(text)
            except ValueError:
                raise DataError(f"{source}, line {line}, column {names[c]!r}: {text!r} is not a number") from None
            if not np.isfinite(values[r, c]):
                raise DataError(f"{source}, line {line}, column {names[c]!r}: {text} "
                                "(NaN and infinity are not supported)")
    return values


def _parse_text(text: str, source: str, delimiter: str | None, header: bool | None, missing=False) -> Data:
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip() and not line.startswith("#")]
    if not lines:
        raise DataError(f"{source} holds no data")
    if delimiter is None:
        first = lines[0][1]
        delimiter = next((d for d in ("\t", ",", ";") if d in first), " ")
    if delimiter == " ":
        rows = [(i, line.split()) for i, line in lines]
    else:
        rows = [(i, row) for (i, _), row in zip(lines, csv.reader([line for _, line in lines], delimiter=delimiter))]
    first_row = rows[0][1]
    if header is None:  # a header row is one with a field that is not a number
        header = any(not _is_number(field) for field in first_row)
    names = [f.strip() for f in first_row] if header else [f"x{j + 1}" for j in range(len(first_row))]
    body = rows[1:] if header else rows
    if not body:
        raise DataError(f"{source} has a header but no data rows")
    if len(set(names)) != len(names):
        raise DataError(f"{source}: the header repeats a column name ({', '.join(names)})")
    return Data(_numbers(body, names, source, body[0][0], missing), names, source)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_data(path: str, *, header: bool | None = None, missing: bool = False) -> Data:
    """A numeric table from CSV/TSV, ``.npy``, Parquet, or ``-`` (stdin). With ``missing``, empty
    cells, NA and NaN (CSV), NaN (.npy) and nulls (Parquet) are NaN; infinity is always refused."""
    if path == "-":
        return _parse_text(sys.stdin.read(), "stdin", None, header, missing)
    lower = path.lower()
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if lower.endswith(".npy"):
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise DataError(f"{path}: not a numeric .npy array ({error})") from None
        if array.dtype.kind not in "biuf" or array.ndim not in (1, 2):
            raise DataError(f"{path}: a {array.ndim}-d array of {array.dtype}; expected a 1-d or 2-d numeric array")
        array = array.reshape(len(array), -1).astype(np.float64)
        bad = np.argwhere(np.isinf(array) if missing else ~np.isfinite(array))
        if bad.size:
            raise DataError(f"{path}: row {bad[0][0]}, column {bad[0][1]} is {array[tuple(bad[0])]} "
                            f"({'infinity is' if missing else 'NaN and infinity are'} not supported)")
        return Data(array, [f"x{j + 1}" for j in range(array.shape[1])], path)
    if lower.endswith((".parquet", ".pq")):
        return _read_parquet(path, missing)
    try:
        with open(path, encoding="utf-8-sig") as stream:
            text = stream.read()
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text (CSV/TSV) file; mixfit reads CSV, TSV, .npy and Parquet") from None
    return _parse_text(text, path, "\t" if lower.endswith((".tsv", ".tab")) else None, header, missing)


def _read_parquet(path: str, missing: bool = False) -> Data:
    try:
        from pyarrow import parquet
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        table = parquet.read_table(path)
    except Exception as error:  # noqa: BLE001  (pyarrow raises its own types; any of them means unreadable)
        raise DataError(f"{path}: unreadable Parquet file ({error})") from None
    columns = []
    for name in table.column_names:
        column = table.column(name).to_numpy(zero_copy_only=False)
        if column.dtype.kind not in "biuf":
            raise DataError(f"{path}: column {name!r} is {column.dtype}, not numeric")
        columns.append(column.astype(np.float64))
    values = np.column_stack(columns)
    if missing and np.any(np.isinf(values)):
        raise DataError(f"{path}: contains infinite values (not supported)")
    if not missing and not np.all(np.isfinite(values)):
        raise DataError(f"{path}: contains NaN, missing or infinite values ({_NOT_HERE})")
    return Data(values, list(table.column_names), path)


def split_names(text: str | None) -> list[str] | None:
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]


def select_columns(data: Data, columns: list[str] | None, exclude=()) -> tuple[np.ndarray, list[str]]:
    names = [n for n in data.names if n not in exclude] if columns is None else columns
    weights = [n for n in names if n in exclude]  # only the --sample-weight column is excluded
    if weights:
        raise DataError(f"--columns names {weights[0]!r}, the --sample-weight column; a row's weight cannot "
                        "also be one of its features")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"--columns names {repeated[0]!r} more than once; expected distinct columns")
    missing = [n for n in names if n not in data.names]
    if missing:
        raise DataError(f"{data.source} has no column {missing[0]!r}; its columns are {', '.join(data.names)}")
    index = [data.names.index(n) for n in names]
    if not index:
        raise DataError(f"{data.source}: no feature columns are left")
    return data.values[:, index], names


def features_for(model, data: Data, columns: list[str] | None, fitted_columns: list[str] | None):
    """The columns a fitted model needs: given, else the ones it was fitted on when the data has
    them, else all columns when their number is right."""
    D = model.n_features_in_
    if columns is None and fitted_columns and all(n in data.names for n in fitted_columns):
        columns = fitted_columns
    if columns and fitted_columns and sorted(columns) == sorted(fitted_columns) and columns != fitted_columns:
        # the model's own columns in another order would be read as the wrong features (scikit-learn
        # refuses a DataFrame whose columns are reordered, for the same reason)
        raise DataError(f"--columns {','.join(columns)} names the model's columns in another order; it was "
                        f"fitted on {', '.join(fitted_columns)} in that order")
    X, names = select_columns(data, columns)
    if X.shape[1] != D:
        fitted = f" ({', '.join(fitted_columns)})" if fitted_columns else ""
        raise DataError(f"{data.source} gives {X.shape[1]} columns ({', '.join(names)}); the model was fitted on "
                        f"{D}{fitted}; choose them with --columns")
    return X, names
