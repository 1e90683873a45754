"""What a mixture estimator's fit is made of, and the one run of ``engine.fit`` on it.

Each mixture estimator (GaussianMixture, BayesianGaussianMixture, BernoulliMixture) checks its
input, names its ``MixtureParts`` (the model, the source of rows, the start of engine/starts.py,
the collapse policy, the warm start) and hands them to ``run_parts``; it then writes its fitted
attributes from the result. The HMM estimators do the same with ``hmm_parts.HMMParts``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import engine
from ..engine.starts import warm_start
from .hmm_parts import Warm
from .validation import as_generator


@dataclass(frozen=True)
class MixtureParts:
    """The parts one mixture estimator names for a fit.

    model : the model ``engine.fit`` runs (models/: GaussianEM, GaussianVB, BernoulliEM, BernoulliVB)
    source : the rows, chunk by chunk (backends/)
    start : the fresh start, ``start(rng)``, or ``start(rng, policy)`` where ``policy`` is given
        (engine/starts.py)
    policy : a factory of one run's collapse policy (engine/collapse.py), or None (the model's
        M-step as it is)
    warm : where ``warm_start`` continues a previous fit, that fit (then one run, from it)
    tol_on_total : ``tol`` bounds the change of the total objective, not of its per-sample mean
        (``engine.FitOptions``): the VB fits, as scikit-learn's BayesianGaussianMixture
    restarts : ``restarts(options, rng)``, the fresh ``n_init`` runs another way than one after
        another with the same result (restarts.py: stacked), or None
    """

    model: object
    source: object
    start: Callable
    policy: Callable | None = None
    warm: Warm | None = None
    tol_on_total: bool = False
    restarts: Callable | None = None


def run_parts(estimator, parts: MixtureParts) -> engine.FitResult:
    """``engine.fit`` on the parts with the estimator's loop hyper-parameters: ``n_init`` runs from
    ``parts.start``, or one run from the warm start, continuing from its objective."""
    warm = parts.warm
    options = engine.FitOptions(estimator.tol, estimator.max_iter, estimator.n_init if warm is None else 1,
                                estimator.verbose, estimator.verbose_interval, parts.tol_on_total)
    if warm is None and parts.restarts is not None and options.n_init > 1 and options.max_iter > 0 \
            and options.verbose == 0:
        return parts.restarts(options, as_generator(estimator.random_state))
    start = parts.start if warm is None else warm_start(warm.params)
    return engine.fit(parts.model, parts.source, start, options, as_generator(estimator.random_state),
                      make_policy=parts.policy, initial_bound=-np.inf if warm is None else warm.bound)
