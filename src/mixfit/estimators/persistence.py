"""How an estimator's ``save`` reaches the model-file writer without importing the layer above.

``mixfit.modelfile`` registers its writer here when it is imported (``import mixfit`` does), so
estimators never import modelfile and there is no cycle (DESIGN: "estimators reach modelfile
through a registry").
"""

from __future__ import annotations

from collections.abc import Callable

_WRITER: list[Callable] = []


def register_writer(write: Callable) -> None:
    """Install ``write(estimator, path, *, metadata)`` as the writer of model files."""
    _WRITER[:] = [write]


def save_estimator(estimator, path, metadata=None) -> None:
    """Write ``estimator`` to ``path`` with the registered writer."""
    if not _WRITER:
        raise RuntimeError("no model-file writer is registered; import mixfit (or mixfit.modelfile) first")
    _WRITER[0](estimator, path, metadata=metadata)
