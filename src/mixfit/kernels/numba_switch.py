"""Whether mixfit's compiled loops run: numba installed, and not switched off by the user.

numba is optional (the ``fast`` / test extras). Where it is installed, the kernels that have a
compiled twin use it past their size thresholds; the twin gives the same results as the numpy
loop to the tolerances stated beside each. Setting the environment variable ``MIXFIT_NUMBA=0``
before mixfit is imported keeps numba out of the process altogether (the numpy loops
everywhere): a process that must stay small, such as a long stream, saves numba's import and
its compiler's start (~100 MB of resident memory, docs/streaming.md) at the cost of the compiled
loops' speed. Found without importing numba (its import costs ~0.2 s).
"""

from __future__ import annotations

import importlib.util
import os

_SWITCH = os.environ.get("MIXFIT_NUMBA", "").strip().lower()
if _SWITCH not in ("", "0", "1", "false", "true", "no", "yes", "off", "on"):
    raise ImportError(f"MIXFIT_NUMBA must be 0 or 1 (or false / true, no / yes, off / on); got {_SWITCH!r}")

# True where numba can be imported and MIXFIT_NUMBA does not switch it off.
NUMBA = _SWITCH not in ("0", "false", "no", "off") and importlib.util.find_spec("numba") is not None
