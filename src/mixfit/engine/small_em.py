"""The small-data fast path of ``loop.run``: a whole fit in one compiled call.

For small data in memory the numpy loop's cost is Python's, per iteration (some hundred calls
to assemble an E-step and an M-step), not arithmetic; a selection sweep of fourteen families
by K = 1..9 runs ~10^4 such iterations. Where the model offers an exact compiled fit
(``models.gaussian_em_compiled``) and nothing in the loop needs Python between iterations (no
verbose report, no progress observer, no collapse repair), ``run`` hands the fit over, inside
``engine.compiled_small_fits()`` only (set by the callers of many small fits, which pay the
compile once) and up to ``SMALL_ROWS_X_COMPONENTS``. The rows must be one chunk of an in-memory array (the numpy loop would spread larger data over
threads). The result is the numpy loop's to rounding; a failed M-step sends the fit back to
the numpy loop from its start, which raises or repairs as it would have.
"""

from __future__ import annotations

import numpy as np

from ..backends.memory import ArraySource
from ..models.gaussian_em import GaussianParams
from ..models.gaussian_em_compiled import compiled_fit

# The policies whose M-step is the model's own as long as it succeeds (engine.loop.PlainStep,
# engine.collapse.RaisePolicy); a repairing policy acts between iterations, so it stays in Python.
_PLAIN_POLICIES = ("plain", "raise")

# Rows x components up to which the compiled fit is used: measured (20 EM iterations, same start,
# best of 3, one run), the compiled loop took 1/4 of numpy's time at 300 rows x 3 components, and
# from 0.86x to 1.1x of it at 5000 x 3 to 1e5 x 5 (the numpy loop's Python overhead is paid
# back by its BLAS products there).
SMALL_ROWS_X_COMPONENTS = 10_000


def try_run(model, source, params, options, policy, initial_bound: float):
    """(params, converged, n_iter, lower_bound, lower_bounds) of the fit, or None where the
    compiled path does not apply or its M-step failed (the caller then runs the numpy loop)."""
    if policy.name not in _PLAIN_POLICIES or policy.events or options.tol_on_total:
        return None
    if type(source) is not ArraySource or type(source.X) is not np.ndarray or type(params) is not GaussianParams:
        return None
    if source.n_samples > source.chunk_size or source.n_samples * params.means.shape[0] > SMALL_ROWS_X_COMPONENTS:
        return None
    fitted = compiled_fit(model, source.X, source.sample_weight, params, options.tol, options.relative_tol,
                          options.max_iter, initial_bound)
    if fitted is None or fitted.failed:
        return None
    return fitted.params, fitted.converged, fitted.n_iter, fitted.lower_bounds[-1], fitted.lower_bounds
