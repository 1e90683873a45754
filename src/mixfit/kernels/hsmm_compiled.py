"""The HSMM loops of hsmm_loops.py and hsmm_log_loops.py compiled by numba (imported on first use, never by
``import mixfit``), as hmm_compiled.py: cached on disk, GIL released so SequenceSource's threads
run chunks in parallel, numpy's error model (0/0 is NaN and is caught as a bad sequence)."""

from __future__ import annotations

import numba

from . import hsmm_log_loops, hsmm_loops

# The K- and D-term sums may be reassociated (vectorised by LLVM); infinities and NaN are kept, so
# the test for an underflowed c_i still holds. Results differ from the interpreted loops by
# rounding only (tests/test_hsmm_kernels.py).
_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})

forward = _jit(hsmm_loops.forward)
backward = _jit(hsmm_loops.backward)
log_forward = _jit(hsmm_log_loops.log_forward)  # the log-space fallback of the sequences that underflow
log_backward = _jit(hsmm_log_loops.log_backward)
viterbi = numba.njit(cache=True, nogil=True, error_model="numpy")(hsmm_loops.viterbi)
