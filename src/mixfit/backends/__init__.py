"""Where rows come from. Each source offers ``chunks()`` and ``map_reduce(accumulate)``."""

from .memory import ArraySource as ArraySource
from .memory import default_chunk_size as default_chunk_size

__all__ = ["ArraySource", "default_chunk_size"]
