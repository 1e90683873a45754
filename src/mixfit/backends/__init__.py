"""Where rows come from. Each source offers ``chunks()`` and ``map_reduce(accumulate)``."""

from .batches import Batches as Batches
from .batches import batches as batches
from .inputs import is_dask_array
from .memory import ArraySource as ArraySource
from .memory import default_chunk_size as default_chunk_size


def as_source(X, sample_weight, chunk_size: int):
    """The source for X: a ``DaskSource`` for a dask array (dask is imported only then), else an
    ``ArraySource`` (an ndarray, a memmap, or an out-of-core ``RowReader``)."""
    if is_dask_array(X):
        from .dask import DaskSource  # optional: dask

        return DaskSource(X, sample_weight, chunk_size)
    if getattr(X, "sequential", False):  # batches of a stream: read in order (batches.py)
        return ArraySource(X, sample_weight, chunk_size, n_threads=1)
    return ArraySource(X, sample_weight, chunk_size)


__all__ = ["ArraySource", "Batches", "as_source", "batches", "default_chunk_size"]
