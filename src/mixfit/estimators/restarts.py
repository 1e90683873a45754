"""``GaussianMixture``'s ``n_init`` restarts advanced together on small in-memory data.

Where a fit's restarts are many short runs over few rows, each EM pass is mostly Python
overhead; the stacked path of ``fit_many`` (engine/stacked.py over backends/stacked.py with
models/gaussian_em_stacked.py) runs them as one problem per restart, stacked (all but the first,
which runs alone: engine.stacked.fit_restarts), and gives the same result as the restarts one
after another, to rounding: the same starts from the same streams, the same stopping rule per
run, the first best kept, and a run the stacked path gives back (a collapse, or rounding
outside the single fit's limit) run alone from its start.
"""

from __future__ import annotations

import numpy as np

from ..backends.stacked import StackedSource
from ..engine.stacked import fit_restarts
from ..families.stacked import stacked_family
from ..models.gaussian_em_stacked import StackedGaussianEM

# The restarts are stacked while n_init copies of the rows hold at most this many values
# (n_init * n_samples * n_features float64): above it a pass's arithmetic, not its Python
# overhead, dominates, and the single path's chunked E-step is as fast or faster
# (benchmarks/bench_restarts.py).
_MAX_STACKED_VALUES = 2_000_000


def stacked_restarts(model, source, start, make_policy, X, sample_weight, covariance, reg_covar,
                     n_components, n_init):
    """restarts(options, rng) -> FitResult for ``MixtureParts.restarts``, or None where the
    stacked path does not apply: one run, a family without a stacked form (mclust's constrained
    ones), data that are not a float64 ndarray, or more than ``_MAX_STACKED_VALUES`` stacked
    values. The caller has excluded priors, collapse policies other than 'raise' and missing
    values."""
    stacked = stacked_family(covariance)
    if (n_init < 2 or stacked is None or type(X) is not np.ndarray or X.dtype != np.float64
            or n_init * X.size > _MAX_STACKED_VALUES):
        return None
    n_features = X.shape[1]
    # values per row of the stacked working set, as fit_many sizes its blocks
    row_columns = 2 * (stacked.n_second(n_features) + n_features + 1) + 2 * n_components

    def restarts(options, rng):
        copies = StackedSource([X] * (options.n_init - 1), [sample_weight] * (options.n_init - 1), row_columns)
        return fit_restarts(model, source, start, options, rng, make_policy,
                            StackedGaussianEM(stacked, reg_covar), copies)

    return restarts
