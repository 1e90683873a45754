"""What the EM loop does when maximum likelihood runs into its singularity.

When a component sits on a single point (or on points that share a value, or a subspace), its
covariance goes singular and the likelihood to infinity (PRML 9.2.1). The M-step notices it one
of two ways: the Cholesky factor of a covariance fails, or (for the repairing policies) the
component's mass N_k falls below ``_MIN_MASS_ROWS`` rows' worth of weight. Then the policy:

raise   (default, as scikit-learn) a CollapsedComponentError naming the component, its mass,
        how many distinct rows it holds, and the fixes;
reseed  restart the component at the row worst explained by the others, with the covariance
        of the heaviest other component, at most ``_MAX_RESEEDS`` times per run, then raise;
drop    remove the component, renormalise the weights and go on with K - 1.

Every reseed or drop is returned as an event (component, iteration, action, reason) for the
estimator to record and announce. The policy is a driver: it may read chunks, it owns no
formula beyond "which row is worst explained".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._linalg import logsumexp_rows
from .exceptions import CollapsedComponentError

ON_COLLAPSE = ("raise", "reseed", "drop")
# A component holding less than a thousandth of a row's weight explains no data point: its
# mean and covariance are set by the mass floor and reg_covar, not by data, and no later E-step
# can revive it. Measured in mean row weights so that sample weights do not move the threshold.
_MIN_MASS_ROWS = 1e-3
# Reseeding can cycle when the data cannot support K components; after this many reseeds in one
# run the policy gives up and raises.
_MAX_RESEEDS = 10
# Enough distinct rows to tell "one point" from "a subspace" from "plenty" in a message.
_DISTINCT_ROWS_CAP = 64


@dataclass(frozen=True)
class CollapseEvent:
    component: int
    iteration: int
    action: str
    reason: str

    def as_dict(self) -> dict:
        return {"component": self.component, "iteration": self.iteration, "action": self.action,
                "reason": self.reason}


def _distinct_rows(model, source, params, component) -> tuple[int, bool]:
    """Distinct rows whose most probable component is ``component`` (count, capped)."""
    seen = set()
    for X, _ in source.chunks():
        rows = X[model.log_prob_components(X, params).argmax(axis=1) == component]
        seen.update(map(bytes, np.ascontiguousarray(rows)))
        if len(seen) > _DISTINCT_ROWS_CAP:
            return _DISTINCT_ROWS_CAP, True
    return len(seen), False


def _explain(model, source, stats, params, error: CollapsedComponentError, iteration: int) -> str:
    k = error.component
    where = f"component {k}" if k is not None else "a component"
    mass = "" if k is None else f" with mass {stats.mass[k]:.4g}"
    rows = ""
    if k is not None:
        count, capped = _distinct_rows(model, source, params, k)
        rows = f", holding {'more than ' if capped else ''}{count} distinct row{'s' if count != 1 else ''}"
    return (f"EM iteration {iteration}: {where}{mass}{rows} has collapsed ({error}). Fixes: increase "
            "reg_covar; use the conjugate prior (prior='default'), which keeps every covariance "
            "positive definite; or choose on_collapse='reseed' or 'drop'.")


def _collapsed_component(stats, n_samples) -> int | None:
    row_weight = stats.weight_sum / n_samples
    light = np.flatnonzero(stats.mass < _MIN_MASS_ROWS * row_weight)
    return int(light[0]) if light.size else None


class RaisePolicy:
    name = "raise"

    def step(self, model, source, stats, params, iteration):
        try:
            return model.maximize(stats, params), []
        except CollapsedComponentError as error:
            raise CollapsedComponentError(
                _explain(model, source, stats, params, error, iteration), component=error.component
            ) from None


class _RepairingPolicy:
    """Abstract: find the collapsed component, repair, and retry the M-step."""

    def step(self, model, source, stats, params, iteration):
        events = []
        while True:
            k = _collapsed_component(stats, source.n_samples)
            reason = f"mass {stats.mass[k]:.3g} below {_MIN_MASS_ROWS} rows" if k is not None else ""
            if k is None:
                try:
                    return model.maximize(stats, params), events
                except CollapsedComponentError as error:
                    if error.component is None or stats.mass.shape[0] == 1:
                        raise CollapsedComponentError(
                            _explain(model, source, stats, params, error, iteration),
                            component=error.component,
                        ) from None
                    k, reason = error.component, "covariance not positive definite"
            stats, params, event = self.repair(model, source, stats, params, k, iteration, reason)
            events.append(event)


class DropPolicy(_RepairingPolicy):
    name = "drop"

    def repair(self, model, source, stats, params, k, iteration, reason):
        if stats.mass.shape[0] == 1:
            raise CollapsedComponentError(
                f"EM iteration {iteration}: the only component has collapsed ({reason}); "
                "increase reg_covar or use prior='default'", component=k)
        keep = np.delete(np.arange(stats.mass.shape[0]), k)
        return (model.select_stats(stats, keep), model.select_params(params, keep),
                CollapseEvent(k, iteration, "drop", reason))


class ReseedPolicy(_RepairingPolicy):
    name = "reseed"

    def __init__(self):
        self.reseeds = 0

    def repair(self, model, source, stats, params, k, iteration, reason):
        if self.reseeds >= _MAX_RESEEDS:
            raise CollapsedComponentError(
                f"EM iteration {iteration}: component {k} collapsed again ({reason}) after "
                f"{_MAX_RESEEDS} reseeds; the data may not support this many components. Fixes: "
                "fewer components, a larger reg_covar, prior='default' or on_collapse='drop'",
                component=k)
        self.reseeds += 1
        seed_row = self._worst_explained_row(model, source, params, k)
        others = np.delete(np.arange(stats.mass.shape[0]), k)
        params = model.reseed(params, k, seed_row, donor=int(others[np.argmax(stats.mass[others])]))
        # Re-take this iteration's statistics under the repaired params so the M-step sees a
        # consistent E-step (one extra pass, only on the iteration of a repair).
        stats = source.map_reduce(lambda X, w: model.accumulate(X, params, w))
        return stats, params, CollapseEvent(k, iteration, "reseed", reason)

    @staticmethod
    def _worst_explained_row(model, source, params, k):
        others = np.delete(np.arange(params.weights.shape[0]), k)
        worst_value, worst_row = np.inf, None
        for X, w in source.chunks():
            # ln sum_{j != k} pi_j N(x | mu_j, Sigma_j): how well the other components explain x
            log_others = logsumexp_rows(model.log_prob_components(X, params)[:, others])
            if w is not None:
                log_others = np.where(w > 0, log_others, np.inf)
            i = int(np.argmin(log_others))
            if log_others[i] < worst_value:
                worst_value, worst_row = log_others[i], np.array(X[i])
        return worst_row


def make_policy(name: str):
    """A fresh policy object for one run ('raise', 'reseed' or 'drop')."""
    return {"raise": RaisePolicy, "reseed": ReseedPolicy, "drop": DropPolicy}[name]()
