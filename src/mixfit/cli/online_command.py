"""``mixfit fit DATA --online``: ``partial_fit`` over the batches of DATA, in constant memory."""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from .datafile import Data, select_columns, split_names
from .stream_file import read_batches


def _batches_of_at_least(batches, n_rows: int):
    """The batches, a last one shorter than ``n_rows`` joined to the one before (each online step
    needs at least n_components rows)."""
    pending = None
    for table, done in batches:
        if pending is not None and table.values.shape[0] < n_rows:
            merged = Data(np.vstack([pending[0].values, table.values]), table.names, table.source)
            pending = (merged, done)
            continue
        if pending is not None:
            yield pending
        pending = (table, done)
    if pending is not None:
        yield pending


def fit_online(model, data: str, batch_size: int, header, columns, sample_weight, show: bool, click):
    """One ``partial_fit`` per batch of ``batch_size`` rows; returns (feature names, rows read).
    With ``show``, a progress bar over the file's bytes on stderr."""
    names, n_rows = None, 0
    length = os.path.getsize(data) if os.path.exists(data) else 0
    bar = (click.progressbar(length=length, label="online fit", file=sys.stderr) if show
           else contextlib.nullcontext())
    with bar:
        batches = _batches_of_at_least(read_batches(data, batch_size, header), model.n_components)
        for table, done in batches:
            X, names = select_columns(table, split_names(columns), exclude=(sample_weight,))
            weights = None if sample_weight is None else select_columns(table, [sample_weight])[0][:, 0]
            model.partial_fit(X, sample_weight=weights)
            n_rows += X.shape[0]
            if show:
                bar.update(done - bar.pos)
    return names, n_rows
