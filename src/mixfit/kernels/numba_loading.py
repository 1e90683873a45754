"""Whether a kernel may import numba for a compiled loop whose numbers numpy's loop gives bit for
bit: the full family's pair products (``expanded``) and the normalisation of the E-step's log
weights (``linalg.normalize_log_rows``).

For those loops the choice changes the time and the process's memory, never a result. numba's
import and its compiler's start cost ~100 MB of resident memory and ~0.3 s once; its loops save
~8 % of a full-covariance pass at small D (docs/streaming.md). A batch fit takes that trade (its
data are in memory, and it runs many passes); a stream, whose point is a small constant memory,
does not: ``GaussianMixture.partial_fit`` and the other online steps run inside
``no_numba_import()``, where these kernels use numba's loops only if numba is loaded already (by
the user, or by an earlier fit) and numpy's otherwise. Process-wide, as the passes run on
worker threads: a fit running at the same time in another thread may then take numpy's loops too,
with the same numbers.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

from .numba_switch import NUMBA

_LOCK = threading.Lock()
_HOLDERS = [0]  # how many ``no_numba_import`` blocks are open


@contextmanager
def no_numba_import():
    """Within the block, ``compiled_loop()`` is True only where numba is loaded already."""
    with _LOCK:
        _HOLDERS[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _HOLDERS[0] -= 1


def compiled_loop() -> bool:
    """Whether to run the compiled twin of a bit-for-bit loop: numba is used (numba_switch.py),
    and it is loaded already or may be imported here."""
    return NUMBA and (_HOLDERS[0] == 0 or sys.modules.get("numba") is not None)
