"""Reading DATA in batches of rows for ``mixfit fit --online``: CSV/TSV line by line, ``.npy`` as a
memory map, Parquet by record batches; memory stays that of one batch whatever the file's size.

``read_batches`` yields ``(Data, bytes_done)`` per batch, ``Data`` with the file's column names,
and ``bytes_done`` how far into the file the batch ends (for a progress bar). The checks and their
messages are ``datafile``'s: the file, the line and the column of the first bad value.
"""

from __future__ import annotations

import csv
import os

import numpy as np

from .datafile import Data, DataError, _is_number, _numbers


def read_batches(path: str, batch_size: int, header: bool | None = None):
    """(Data, bytes read so far) for each batch of ``batch_size`` rows of ``path``."""
    if path == "-":
        raise DataError("--online reads a file in batches; stdin ('-') is not supported")
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    lower = path.lower()
    if lower.endswith(".npy"):
        yield from _npy_batches(path, batch_size)
    elif lower.endswith((".parquet", ".pq")):
        yield from _parquet_batches(path, batch_size)
    else:
        yield from _text_batches(path, batch_size, "\t" if lower.endswith((".tsv", ".tab")) else None, header)


def _text_batches(path, batch_size, delimiter, header):
    names, rows, first_line, done = None, [], None, 0
    try:
        with open(path, encoding="utf-8-sig") as stream:
            for number, line in enumerate(stream, start=1):
                done += len(line)
                if not line.strip() or line.startswith("#"):
                    continue
                if names is None:
                    if delimiter is None:
                        delimiter = next((d for d in ("\t", ",", ";") if d in line), " ")
                    fields = _split(line, delimiter)
                    has_header = any(not _is_number(f) for f in fields) if header is None else header
                    names = [f.strip() for f in fields] if has_header else [f"x{j + 1}" for j in range(len(fields))]
                    if len(set(names)) != len(names):
                        raise DataError(f"{path}: the header repeats a column name ({', '.join(names)})")
                    if has_header:
                        continue
                first_line = number if first_line is None else first_line
                rows.append((number, _split(line, delimiter)))
                if len(rows) == batch_size:
                    yield Data(_numbers(rows, names, path, first_line), names, path), done
                    rows = []
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text (CSV/TSV) file; mixfit reads CSV, TSV, .npy and Parquet") from None
    if rows:
        yield Data(_numbers(rows, names, path, first_line), names, path), done
    elif first_line is None:
        raise DataError(f"{path} holds no data rows")


def _split(line: str, delimiter: str) -> list[str]:
    line = line.rstrip("\r\n")
    return line.split() if delimiter == " " else next(csv.reader([line], delimiter=delimiter))


def _npy_batches(path, batch_size):
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path}: not a numeric .npy array ({error})") from None
    if array.dtype.kind not in "biuf" or array.ndim not in (1, 2):
        raise DataError(f"{path}: a {array.ndim}-d array of {array.dtype}; expected a 1-d or 2-d numeric array")
    array = array.reshape(len(array), -1)
    names = [f"x{j + 1}" for j in range(array.shape[1])]
    row_bytes = array.shape[1] * array.dtype.itemsize
    for start in range(0, array.shape[0], batch_size):
        block = np.asarray(array[start : start + batch_size], dtype=np.float64)
        bad = np.argwhere(~np.isfinite(block))
        if bad.size:
            raise DataError(f"{path}: row {start + bad[0][0]}, column {bad[0][1]} is {block[tuple(bad[0])]} "
                            "(NaN and infinity are not supported)")
        yield Data(block, names, path), (start + block.shape[0]) * row_bytes


def _parquet_batches(path, batch_size):
    try:
        from pyarrow import parquet  # optional: pyarrow
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        reader = parquet.ParquetFile(path)
    except Exception as error:  # noqa: BLE001  (pyarrow raises its own types; any of them means unreadable)
        raise DataError(f"{path}: unreadable Parquet file ({error})") from None
    size, rows = os.path.getsize(path), max(1, reader.metadata.num_rows)
    done = 0
    for batch in reader.iter_batches(batch_size=batch_size):
        columns = []
        for name, column in zip(batch.schema.names, batch.columns):
            values = column.to_numpy(zero_copy_only=False)
            if values.dtype.kind not in "biuf":
                raise DataError(f"{path}: column {name!r} is {values.dtype}, not numeric")
            columns.append(values.astype(np.float64))
        block = np.column_stack(columns)
        if not np.all(np.isfinite(block)):
            raise DataError(f"{path}: contains NaN, missing or infinite values (not supported)")
        done += block.shape[0]
        yield Data(block, list(batch.schema.names), path), size * done // rows
